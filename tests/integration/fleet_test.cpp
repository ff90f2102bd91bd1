// A fleet: three gateway instances sharing one redis-server (`state:`) and one PostgreSQL ledger,
// in front of one simulator, all real processes on loopback. The combined admitted rate stays
// within a key's limit under ten times the allowed load; a budget spent across instances stops
// all of them within the documented delay; Redis killed, hung and restarted mid-run neither hangs
// nor breaks the gateways, /metrics says which mode is in force and recovery needs nobody; an
// instance killed with SIGKILL loses no ledger row beyond its flush interval.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <mutex>
#include <thread>

#include "harness.hpp"
#include "ledger/store.hpp"

namespace switchyard::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr double kInputPrice = 1000.0;  // dollars per million tokens: large, so costs are visible
constexpr double kOutputPrice = 2000.0;

const std::map<std::string, std::string> kEnv{{"ALICE_KEY", "sk-alice-0000000001"},
                                              {"BOB_KEY", "sk-bob-00000000001"}};
const std::map<std::string, std::string> kAlice{{"authorization", "Bearer sk-alice-0000000001"}};
const std::map<std::string, std::string> kBob{{"authorization", "Bearer sk-bob-00000000001"}};

struct Options {
    std::string state;            // the state: mapping's body
    std::string alice = "{}";     // alice's extra keys (limits, budgets)
    std::string ledger;           // a ledger URL, or none
    std::string ledger_flush = "200ms";
};

std::string config(const Sim& sim, const Options& options) {
    std::string yaml = R"(
listeners: [{address: 127.0.0.1, port: 0}]
server: {io_threads: 1, shutdown_grace: 5s}
state: )" + options.state + R"(
keys:
  - name: alice
    key: ${ALICE_KEY}
)";
    // alice's policy keys, one per line, indented under her entry
    std::string extra = options.alice;
    if (extra != "{}") yaml += "    " + extra + "\n";
    yaml += R"(  - name: bob
    key: ${BOB_KEY}
prices:
  models:
    cloud-model: {input: )" + std::to_string(kInputPrice) + ", output: " + std::to_string(kOutputPrice) + R"(}
upstreams:
  - name: cloud
    type: openai
    base_url: )" + sim.url() + R"(/v1
    health: {enabled: false}
models:
  - name: m
    deployments: [{upstream: cloud, model: cloud-model}]
)";
    if (!options.ledger.empty()) {
        // One spool directory for the instances, as on one host (each has a file of its own there).
        yaml += "ledger:\n  url: " + options.ledger + "\n  flush_interval: " + options.ledger_flush +
                "\n  spool_dir: " + temp_dir() + "/spool\n";
    }
    return yaml;
}

// Gives config()'s cloud deployment a max_concurrency.
void limit_concurrency(std::string& yaml, int limit) {
    const std::string plain = "deployments: [{upstream: cloud, model: cloud-model}]";
    yaml.replace(yaml.find(plain), plain.size(),
                 "deployments: [{upstream: cloud, model: cloud-model, max_concurrency: " + std::to_string(limit) + "}]");
}

double metric(int port, const std::string& series) {
    const std::string text = get(port, "/metrics").body;
    const auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + series.size() + 2));
}

std::string mode_of(int port) {
    for (const char* mode : {"redis", "fail_open", "fail_closed"}) {
        if (metric(port, std::string("switchyard_state_mode{mode=\"") + mode + "\"}") == 1) return mode;
    }
    return "?";
}

bool wait_for_mode(const std::vector<Gateway>& gateways, const std::string& mode, std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        bool all = true;
        for (const auto& g : gateways) all = all && mode_of(g.port) == mode;
        if (all) return true;
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

class Fleet : public ::testing::Test {
public:
    static void SetUpTestSuite() {
        if (!redis_available()) return;
        redis_ = std::make_unique<RedisServer>();
    }
    static void TearDownTestSuite() {
        redis_.reset();
        postgres_.reset();
    }
    void SetUp() override {
        if (!redis_) GTEST_SKIP() << "redis-server not found (install redis-server or set SWITCHYARD_REDIS_SERVER)";
        redis_->start();
        redis_->command("FLUSHALL");
    }
    static std::string postgres_url(const std::string& name) {
        if (!postgres_) postgres_ = std::make_unique<Postgres>();
        postgres_->create_database(name);
        return postgres_->url(name);
    }
    std::vector<Gateway> start_fleet(const std::string& yaml, int n = 3) {
        std::vector<Gateway> out;
        for (int i = 0; i < n; ++i) out.push_back(start_gateway(yaml, kEnv));
        return out;
    }

    static inline std::unique_ptr<RedisServer> redis_;
    static inline std::unique_ptr<Postgres> postgres_;
};

// alice's limit, 600 requests a minute (10/s), shared by three instances, driven at about 100
// requests a second spread over all three: together they admit at most burst + rate x time.
void check_combined_rate(Fleet& fixture, RedisServer& redis, int burst, double min_load) {
    Sim sim = start_sim({"--tokens", "2"});
    Options options;
    options.state = "{url: " + redis.url() + ", timeout: 2s, instances: 3, sync_interval: 200ms}";
    options.alice = "limits: {rpm: 600, rpm_burst: " + std::to_string(burst) + "}";
    auto fleet = fixture.start_fleet(config(sim, options));

    constexpr int kThreads = 6;  // two per instance
    constexpr auto kRun = 5s;
    constexpr auto kPace = 60ms;  // per thread: about 100 requests a second in all
    std::atomic<int> admitted{0}, refused{0}, other{0};
    std::array<std::atomic<int>, 3> admitted_by{};
    std::array<std::atomic<int>, 3> refused_by{};
    const auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            const int instance = t % 3;
            auto next = start;
            while (Clock::now() - start < kRun) {
                const auto r = post(fleet[instance].port, "/v1/chat/completions", chat_body("m"), kAlice);
                if (r.status == 200) {
                    ++admitted;
                    ++admitted_by[instance];
                } else if (r.status == 429) {
                    ++refused;
                    ++refused_by[instance];
                    EXPECT_NE(r.body.find("rate_limit_exceeded"), std::string::npos) << r.body;
                    EXPECT_FALSE(r.header("x-ratelimit-limit-requests").empty());
                } else {
                    ++other;
                }
                next += kPace;
                std::this_thread::sleep_until(next);
            }
        });
    }
    for (auto& thread : threads) thread.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const double allowed = burst + 10 * elapsed;  // burst + rate x time
    const int offered = admitted + refused + other;
    std::printf("offered %d in %.2f s, admitted %d (%d/%d/%d), refused %d, allowed at most %.1f\n", offered, elapsed,
                admitted.load(), admitted_by[0].load(), admitted_by[1].load(), admitted_by[2].load(), refused.load(),
                allowed);
    EXPECT_EQ(other, 0);
    EXPECT_GT(offered, min_load * allowed) << "the load was not several times the limit";
    EXPECT_LE(admitted, allowed + 1);
    EXPECT_GE(admitted, 0.7 * allowed) << "the shared limit admits far less than it allows";
    for (int i = 0; i < 3; ++i) EXPECT_GT(refused_by[i], 0) << "instance " << i << " never refused";
    EXPECT_EQ(stat_number(sim_stats(sim), "requests_total"), admitted.load());
    for (auto& g : fleet) EXPECT_EQ(mode_of(g.port), "redis");
}

// A tight limit (burst 10): k = 1, one Redis call per request; the load is ten times the rate.
TEST_F(Fleet, CombinedAdmittedRateStaysWithinTheKeysLimit) { check_combined_rate(*this, *redis_, 10, 5); }

// A burst of 72: each thread leases k = 72 / (8 x 3) = 3 requests at a time from Redis, and the
// leases together still admit no more than the limit.
TEST_F(Fleet, LeasedRequestsStayWithinTheKeysLimit) { check_combined_rate(*this, *redis_, 72, 3); }

// The key's and the model's limits are taken in one script call, both or neither: a request the
// model's token limit refuses takes nothing from the key's request limit. The headers come from
// the shared state, whichever instance answers.
TEST_F(Fleet, KeyAndModelLimitsAreTakenBothOrNeither) {
    Sim sim = start_sim({"--tokens", "300"});
    Options options;
    options.state = "{url: " + redis_->url() + ", timeout: 2s, instances: 2}";
    options.alice = "limits: {rpm: 10}";
    std::string yaml = config(sim, options);
    yaml += "    limits: {tpm: 1000}\n";  // the model's (the last line above is its deployments)
    auto fleet = start_fleet(yaml, 2);
    const std::string body = chat_body("m", false, R"("max_tokens":300)");
    int admitted = 0;
    Response refused;
    for (int i = 0; i < 6; ++i) {
        auto r = post(fleet[i % 2].port, "/v1/chat/completions", body, kAlice);
        if (r.status == 200) {
            ++admitted;
            EXPECT_EQ(r.header("x-ratelimit-remaining-requests"), std::to_string(10 - admitted)) << i;
        } else {
            ASSERT_EQ(r.status, 429) << r.body;
            EXPECT_NE(r.body.find("rate limit reached for model 'm': tokens per minute"), std::string::npos) << r.body;
            refused = r;
        }
    }
    // About 300 tokens each (estimated, and used): three fit in 1000, the fourth does not.
    EXPECT_EQ(admitted, 3);
    EXPECT_EQ(refused.header("x-ratelimit-remaining-requests"), "7") << "a refused request took a key request";
    EXPECT_EQ(stat_number(sim_stats(sim), "requests_total"), 3);
}

// A deployment's max_concurrency counts the requests in flight on every instance, and a breaker
// that opens on one instance keeps the deployment out on the others, both within a sync interval.
TEST_F(Fleet, ConcurrencyAndBreakerOpeningsAreShared) {
    Sim sim = start_sim({"--tokens", "2"});
    Options options;
    options.state = "{url: " + redis_->url() + ", timeout: 2s, instances: 2, sync_interval: 100ms}";
    std::string yaml = config(sim, options);
    limit_concurrency(yaml, 2);
    yaml.replace(yaml.find("    health: {enabled: false}"), 28,
                 "    health: {enabled: false}\n    breaker: {consecutive_failures: 3, cooldown: 3s}");
    auto fleet = start_fleet(yaml, 2);

    // Two slow requests on instance 0 fill the deployment for the whole fleet.
    const std::map<std::string, std::string> slow{{"authorization", "Bearer sk-bob-00000000001"},
                                                  {"x-sim-ttft-ms", "2500"}};
    std::vector<std::thread> holders;
    std::atomic<int> held_ok{0};
    for (int i = 0; i < 2; ++i) {
        holders.emplace_back([&] {
            if (post(fleet[0].port, "/v1/chat/completions", chat_body("m"), slow).status == 200) ++held_ok;
        });
    }
    std::this_thread::sleep_for(800ms);  // several sync intervals
    auto r = post(fleet[1].port, "/v1/chat/completions", chat_body("m"), kBob);
    EXPECT_EQ(r.status, 429) << "instance 1 did not count instance 0's requests in flight: " << r.body;
    EXPECT_NE(r.body.find("at capacity"), std::string::npos) << r.body;
    for (auto& t : holders) t.join();
    EXPECT_EQ(held_ok, 2);
    std::this_thread::sleep_for(500ms);
    r = post(fleet[1].port, "/v1/chat/completions", chat_body("m"), kBob);
    EXPECT_EQ(r.status, 200) << "the slots were not freed fleet-wide: " << r.body;

    // Instance 0's breaker opens on upstream faults; instance 1 saw none, and still keeps out.
    const std::map<std::string, std::string> failing{{"authorization", "Bearer sk-bob-00000000001"},
                                                     {"x-sim-fault", "500"}};
    for (int i = 0; i < 3; ++i) post(fleet[0].port, "/v1/chat/completions", chat_body("m"), failing);
    EXPECT_EQ(post(fleet[0].port, "/v1/chat/completions", chat_body("m"), kBob).status, 503);
    std::this_thread::sleep_for(800ms);
    r = post(fleet[1].port, "/v1/chat/completions", chat_body("m"), kBob);
    EXPECT_EQ(r.status, 503) << "instance 1 did not hold the deployment out: " << r.body;
    EXPECT_NE(r.body.find("circuit opened by another instance"), std::string::npos) << r.body;
    EXPECT_NE(redis_->command("EXISTS switchyard:breaker:m/cloud"), ":0");
}

// A config reload on one instance moves the fleet's sync to the new routes: the other instance's
// requests in flight still count against the deployment's limit there. Changing `state:` itself
// needs a restart.
TEST_F(Fleet, AReloadedInstanceKeepsSharingConcurrency) {
    Sim sim = start_sim({"--tokens", "2"});
    Options options;
    options.state = "{url: " + redis_->url() + ", timeout: 2s, instances: 2, sync_interval: 100ms}";
    std::string yaml = config(sim, options);
    limit_concurrency(yaml, 2);
    auto fleet = start_fleet(yaml, 2);

    // Instance 1 reloads a config with one more model and another breaker setting for the upstream
    // (so its deployment starts afresh in the new router, which the sync must now feed).
    std::string more = yaml + "  - name: m2\n    deployments: [{upstream: cloud, model: cloud-model}]\n";
    more.replace(more.find("    health: {enabled: false}"), 28,
                 "    health: {enabled: false}\n    breaker: {consecutive_failures: 7}");
    std::ofstream(fleet[1].config_path) << more;
    ASSERT_EQ(::kill(fleet[1].process->pid(), SIGHUP), 0);
    const auto until = Clock::now() + 10s;
    while (fleet[1].process->log().find("config reloaded") == std::string::npos && Clock::now() < until) {
        std::this_thread::sleep_for(20ms);
    }
    ASSERT_NE(fleet[1].process->log().find("config reloaded"), std::string::npos) << fleet[1].process->log();
    EXPECT_EQ(post(fleet[1].port, "/v1/chat/completions", chat_body("m2"), kBob).status, 200);

    const std::map<std::string, std::string> slow{{"authorization", "Bearer sk-bob-00000000001"},
                                                  {"x-sim-ttft-ms", "2500"}};
    std::vector<std::thread> holders;
    for (int i = 0; i < 2; ++i) {
        holders.emplace_back([&] { post(fleet[0].port, "/v1/chat/completions", chat_body("m"), slow); });
    }
    std::this_thread::sleep_for(800ms);  // several sync intervals
    const auto r = post(fleet[1].port, "/v1/chat/completions", chat_body("m"), kBob);
    EXPECT_EQ(r.status, 429) << "the reloaded instance lost the fleet's counts: " << r.body;
    for (auto& t : holders) t.join();

    // A different `state:` is refused; the instance goes on with the one it has.
    std::string moved = more;
    moved.replace(moved.find("instances: 2"), 12, "instances: 3");
    std::ofstream(fleet[1].config_path) << moved;
    ASSERT_EQ(::kill(fleet[1].process->pid(), SIGHUP), 0);
    const auto until_refused = Clock::now() + 10s;
    while (fleet[1].process->log().find("state changed") == std::string::npos && Clock::now() < until_refused) {
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_NE(fleet[1].process->log().find("state changed (applied only by a restart"), std::string::npos)
        << fleet[1].process->log();
}

// alice's daily budget, spent a request at a time on the three instances in turn: once spent, all
// three refuse within two sync intervals, and the overshoot is bounded by what was admitted in
// that window.
TEST_F(Fleet, BudgetSpentAcrossInstancesStopsAllOfThem) {
    Sim sim = start_sim({"--tokens", "5"});
    constexpr double kBudget = 0.40;
    Options options;
    options.state = "{url: " + redis_->url() + ", timeout: 2s, instances: 3, sync_interval: 200ms}";
    options.alice = "budget: {daily: " + std::to_string(kBudget) + "}";
    auto fleet = start_fleet(config(sim, options));

    constexpr auto kPace = 100ms;
    double cost = 0;  // of one request, from the simulator's counts
    int admitted = 0;
    int first_refusal = -1;
    for (int i = 0; i < 200 && first_refusal < 0; ++i) {
        const auto r = post(fleet[i % 3].port, "/v1/chat/completions", chat_body("m"), kAlice);
        if (r.status == 200) {
            ++admitted;
        } else {
            ASSERT_EQ(r.status, 429) << r.body;
            EXPECT_NE(r.body.find("budget_exceeded"), std::string::npos) << r.body;
            first_refusal = i;
        }
        std::this_thread::sleep_for(kPace);
    }
    ASSERT_GE(first_refusal, 0) << "the budget never stopped anything";
    const std::string stats = sim_stats(sim);
    const long prompt = stat_number(stats, "prompt_tokens_total");
    const long completion = stat_number(stats, "completion_tokens_total");
    const double spent = (static_cast<double>(prompt) * kInputPrice + static_cast<double>(completion) * kOutputPrice) / 1e6;
    cost = spent / admitted;
    std::printf("admitted %d requests of $%.4f: $%.4f against a budget of $%.2f\n", admitted, cost, spent, kBudget);
    // Spend is seen everywhere within 2 sync intervals (400 ms): at most 4 more requests at this
    // pace, plus one in flight and one for rounding. Unshared, three instances would spend 3x.
    EXPECT_GE(spent, kBudget);
    EXPECT_LE(spent, kBudget + 6 * cost);

    // After the bound every instance refuses.
    std::this_thread::sleep_for(600ms);
    for (auto& g : fleet) {
        const auto r = post(g.port, "/v1/chat/completions", chat_body("m"), kAlice);
        EXPECT_EQ(r.status, 429) << r.body;
        EXPECT_NE(r.body.find("insufficient_quota"), std::string::npos) << r.body;
    }
    // bob has no budget: still served.
    EXPECT_EQ(post(fleet[1].port, "/v1/chat/completions", chat_body("m"), kBob).status, 200);
}

// Requests keep flowing to all three instances while Redis is killed, restarted, then hung
// (SIGSTOP) and resumed: every request is answered (200 or 429, never an error, never slower than
// a few timeouts), /metrics shows fail_open while Redis is away and redis once it is back, with
// no restart of any gateway.
TEST_F(Fleet, RedisKilledRestartedAndHungMidRun) {
    Sim sim = start_sim({"--tokens", "2"});
    Options options;
    options.state = "{url: " + redis_->url() + ", timeout: 100ms, instances: 3, sync_interval: 200ms}";
    options.alice = "limits: {rpm: 6000, rpm_burst: 100}";
    auto fleet = start_fleet(config(sim, options));
    ASSERT_TRUE(wait_for_mode(fleet, "redis", 10s));

    std::atomic<bool> done{false};
    std::atomic<int> ok{0}, limited{0}, failed{0};
    std::atomic<long> slowest_ms{0};
    std::mutex mutex;
    std::string failure;
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([&, t] {
            while (!done) {
                const auto begin = Clock::now();
                const auto r = post(fleet[t].port, "/v1/chat/completions", chat_body("m"), kAlice);
                const long ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin).count();
                long seen = slowest_ms.load();
                while (ms > seen && !slowest_ms.compare_exchange_weak(seen, ms)) {
                }
                if (r.status == 200) {
                    ++ok;
                } else if (r.status == 429) {
                    ++limited;
                } else {
                    ++failed;
                    std::lock_guard lock(mutex);
                    failure = std::to_string(r.status) + " " + r.body;
                }
                std::this_thread::sleep_for(20ms);
            }
        });
    }
    std::this_thread::sleep_for(1s);
    const int before = ok;
    EXPECT_GT(before, 0);

    redis_->stop(SIGKILL);
    EXPECT_TRUE(wait_for_mode(fleet, "fail_open", 10s)) << "mode of instance 0: " << mode_of(fleet[0].port);
    EXPECT_EQ(metric(fleet[0].port, "switchyard_state_redis_up"), 0);
    const int during_kill = ok;
    std::this_thread::sleep_for(1s);
    EXPECT_GT(ok.load(), during_kill) << "no request was served while Redis was down";

    redis_->start();  // empty: it had no persistence
    EXPECT_TRUE(wait_for_mode(fleet, "redis", 15s)) << "mode of instance 0: " << mode_of(fleet[0].port);
    std::this_thread::sleep_for(500ms);
    EXPECT_NE(redis_->command("EXISTS switchyard:rl:key:alice"), ":0") << "limits are not taken in Redis again";

    // A hung Redis: connections stay open, nothing answers. Calls time out (100 ms), connections
    // are dropped and made again; requests go on in fail-open.
    redis_->pause();
    EXPECT_TRUE(wait_for_mode(fleet, "fail_open", 10s));
    const int during_pause = ok;
    std::this_thread::sleep_for(1s);
    EXPECT_GT(ok.load(), during_pause) << "no request was served while Redis hung";
    redis_->resume();
    EXPECT_TRUE(wait_for_mode(fleet, "redis", 15s));

    done = true;
    for (auto& thread : threads) thread.join();
    std::printf("served %d, limited %d, failed %d; slowest answer %ld ms\n", ok.load(), limited.load(), failed.load(),
                slowest_ms.load());
    EXPECT_EQ(failed, 0) << failure;
    EXPECT_LT(slowest_ms, 3000) << "a request waited on Redis far past its timeout";
    for (auto& g : fleet) {
        EXPECT_TRUE(g.process->running());
        EXPECT_GT(metric(g.port, "switchyard_state_mode_changes_total"), 2);
        EXPECT_GT(metric(g.port, "switchyard_state_fallback_requests_total"), 0);
    }
    const std::string log = fleet[0].process->log();
    EXPECT_NE(log.find("mode fail_open"), std::string::npos) << log;
    EXPECT_NE(log.find("answers; mode redis"), std::string::npos) << log;
}

// A key created through the admin API and used while Redis is away gets a fail-open limiter;
// revoking the key drops it (it used to stay until a restart).
TEST_F(Fleet, ARevokedKeysFailOpenLimiterIsDropped) {
    Sim sim = start_sim({"--tokens", "2"});
    Options options;
    options.state = "{url: " + redis_->url() + ", timeout: 100ms, instances: 1, sync_interval: 200ms}";
    std::string yaml = config(sim, options);
    yaml.insert(yaml.find("keys:"), "auth: {master_key: \"${MASTER_KEY}\"}\n");
    auto env = kEnv;
    env["MASTER_KEY"] = "master-secret-0001";
    Gateway gateway = start_gateway(yaml, env);
    const std::map<std::string, std::string> master{{"authorization", "Bearer master-secret-0001"}};
    const auto created =
        request(gateway.port, "POST", "/admin/keys", R"({"name":"carol","limits":{"rpm":6000}})", master);
    ASSERT_EQ(created.status, 201) << created.body;
    const auto at = created.body.find(R"("key":"sk-sy-)");
    ASSERT_NE(at, std::string::npos) << created.body;
    const std::map<std::string, std::string> carol{{"authorization", "Bearer " + created.body.substr(at + 7, 46)}};

    redis_->stop(SIGKILL);
    EXPECT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("m"), carol).status, 200);
    EXPECT_EQ(metric(gateway.port, "switchyard_state_fallback_limiters"), 1);
    EXPECT_EQ(request(gateway.port, "DELETE", "/admin/keys/carol", "", master).status, 200);
    EXPECT_EQ(metric(gateway.port, "switchyard_state_fallback_limiters"), 0);
    EXPECT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("m"), carol).status, 401);
    redis_->start();
}

// A Redis with a password: the gateway authenticates (the password from ${ENV}), never shows the
// password in its log or /metrics, and survives Redis losing its scripts (SCRIPT FLUSH): the
// next call sends the script's text instead of its digest.
TEST_F(Fleet, PasswordIsUsedNeverShownAndLostScriptsAreSentAgain) {
    RedisServer secured({"--requirepass", "redis-pass-0123456789"});
    Sim sim = start_sim({"--tokens", "2"});
    Options options;
    options.state = "{url: \"redis://:${REDIS_PASSWORD}@127.0.0.1:" + std::to_string(secured.port()) +
                    "\", timeout: 2s, max_lease: 1}";
    options.alice = "limits: {rpm: 6000}";
    auto env = kEnv;
    env["REDIS_PASSWORD"] = "redis-pass-0123456789";
    std::vector<Gateway> one;
    one.push_back(start_gateway(config(sim, options), env));
    Gateway& gateway = one.front();
    ASSERT_TRUE(wait_for_mode(one, "redis", 10s)) << gateway.process->log();
    for (int i = 0; i < 3; ++i) EXPECT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("m"), kAlice).status, 200);
    EXPECT_EQ(metric(gateway.port, "switchyard_state_fallback_requests_total"), 0);

    // Scripts gone: the gateway notices NOSCRIPT and sends the text.
    const auto flush = [&] {  // one connection: AUTH, then SCRIPT FLUSH
        return raw_exchange(secured.port(), "AUTH redis-pass-0123456789\r\nSCRIPT FLUSH\r\nQUIT\r\n", 2s);
    };
    EXPECT_NE(flush().find("+OK\r\n+OK"), std::string::npos);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("m"), kAlice).status, 200);
    EXPECT_EQ(metric(gateway.port, "switchyard_state_fallback_requests_total"), 0);
    EXPECT_EQ(mode_of(gateway.port), "redis");

    const std::string log = gateway.process->log();
    EXPECT_EQ(log.find("redis-pass-0123456789"), std::string::npos) << log;
    EXPECT_NE(log.find("redis://:****@127.0.0.1"), std::string::npos) << log;
    EXPECT_EQ(get(gateway.port, "/metrics").body.find("redis-pass"), std::string::npos);
}

// on_failure: closed: with Redis gone, requests that need a shared limit get a quick 503 in
// OpenAI's shape; keys without limits are still served; recovery is automatic.
TEST_F(Fleet, FailClosedRefusesWhileRedisIsDown) {
    Sim sim = start_sim({"--tokens", "2"});
    Options options;
    options.state = "{url: " + redis_->url() + ", timeout: 100ms, on_failure: closed, instances: 2}";
    options.alice = "limits: {rpm: 6000}";
    auto fleet = start_fleet(config(sim, options), 1);
    ASSERT_TRUE(wait_for_mode(fleet, "redis", 10s));
    EXPECT_EQ(post(fleet[0].port, "/v1/chat/completions", chat_body("m"), kAlice).status, 200);

    redis_->stop(SIGKILL);
    const auto begin = Clock::now();
    const auto r = post(fleet[0].port, "/v1/chat/completions", chat_body("m"), kAlice);
    EXPECT_LT(Clock::now() - begin, 2s);
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_NE(r.body.find(R"("code":"state_unavailable")"), std::string::npos) << r.body;
    EXPECT_EQ(r.header("retry-after"), "1");
    EXPECT_TRUE(wait_for_mode(fleet, "fail_closed", 10s));
    EXPECT_EQ(post(fleet[0].port, "/v1/chat/completions", chat_body("m"), kBob).status, 200);

    redis_->start();
    EXPECT_TRUE(wait_for_mode(fleet, "redis", 15s));
    EXPECT_EQ(post(fleet[0].port, "/v1/chat/completions", chat_body("m"), kAlice).status, 200);
}

// One PostgreSQL ledger for the three instances; one is killed with SIGKILL mid-run. The rows in
// PostgreSQL are the simulator's requests, less at most those the killed instance answered in its
// last flush interval (200 ms).
TEST_F(Fleet, InstanceKilledMidRunLosesNoRowBeyondItsFlushInterval) {
    if (postgres_bindir().empty()) GTEST_SKIP() << "no PostgreSQL server binaries";
    Sim sim = start_sim({"--tokens", "2"});
    Options options;
    options.state = "{url: " + redis_->url() + ", timeout: 2s, instances: 3, sync_interval: 200ms}";
    options.ledger = postgres_url("fleet_ledger");
    auto fleet = start_fleet(config(sim, options));

    std::atomic<bool> killed{false};
    std::atomic<bool> done{false};
    std::mutex mutex;
    std::vector<Clock::time_point> answered_by_victim;  // when instance 2 answered each 200
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([&, t] {
            while (!done) {
                if (t == 2 && killed) break;
                Response r;
                try {
                    r = post(fleet[t].port, "/v1/chat/completions", chat_body("m"), kAlice);
                } catch (const std::exception&) {
                    continue;  // the killed instance's connection
                }
                if (r.status == 200) {
                    ++ok;
                    if (t == 2) {
                        std::lock_guard lock(mutex);
                        answered_by_victim.push_back(Clock::now());
                    }
                }
                std::this_thread::sleep_for(10ms);
            }
        });
    }
    std::this_thread::sleep_for(1500ms);
    const auto kill_time = Clock::now();
    fleet[2].process->stop(SIGKILL);
    killed = true;
    std::this_thread::sleep_for(1s);
    done = true;
    for (auto& thread : threads) thread.join();
    for (int i = 0; i < 2; ++i) ASSERT_EQ(fleet[i].process->stop(SIGTERM), 0);

    const long served = stat_number(sim_stats(sim), "requests_total");
    auto store = ledger::open_store(options.ledger);
    long rows = 0;
    store->each_row(0, INT64_MAX, [&](const ledger::Row& row) {
        if (row.status == 200) ++rows;
    });
    long recent = 0;  // answered by the victim within its last flush interval (plus slack)
    for (const auto& at : answered_by_victim) {
        if (kill_time - at < 200ms + 300ms) ++recent;
    }
    std::printf("simulator served %ld, ledger has %ld rows; the killed instance answered %zu, %ld in its last 500 ms\n",
                served, rows, answered_by_victim.size(), recent);
    EXPECT_LE(rows, served);
    EXPECT_GE(rows, served - recent - 1) << "rows older than the flush interval were lost";
    EXPECT_GT(answered_by_victim.size(), 10u);
}

}  // namespace
}  // namespace switchyard::testing
