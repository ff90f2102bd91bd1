// Keys, limits, budgets and the ledger over real sockets: the gateway with a SQLite ledger in front
// of a simulator whose counters say what really happened. Rows are read back from the ledger (a
// SQLite file, or a PostgreSQL server the harness starts) after the gateway stopped (SIGTERM
// writes everything queued).
#include <gtest/gtest.h>

#include <algorithm>
#include <signal.h>

#include <atomic>
#include <cmath>
#include <thread>

#include "harness.hpp"
#include "ledger/store.hpp"

namespace switchyard::testing {
namespace {

using namespace std::chrono_literals;

constexpr double kInputPrice = 1000.0;   // dollars per million: large, so costs are visible
constexpr double kOutputPrice = 2000.0;

std::vector<ledger::Row> read_ledger(const std::string& path) {
    auto store = ledger::open_store(path);
    std::vector<ledger::Row> rows;
    store->each_row(0, INT64_MAX, [&](const ledger::Row& row) { rows.push_back(row); });
    return rows;
}

std::string config(const Sim& sim, const std::string& ledger_path, const std::string& keys) {
    return R"(
listeners: [{address: 127.0.0.1, port: 0}]
server: {io_threads: 2, shutdown_grace: 5s}
auth:
  master_key: ${MASTER_KEY}
)" + keys + R"(
ledger:
  url: )" + ledger_path + R"(
  flush_interval: 200ms
  spool_dir: )" + temp_dir() + R"(/spool
prices:
  models:
    cloud-model: {input: )" + std::to_string(kInputPrice) + ", output: " + std::to_string(kOutputPrice) + R"(}
upstreams:
  - name: cloud
    type: openai
    base_url: )" + sim.url() + R"(/v1
models:
  - name: m
    deployments: [{upstream: cloud, model: cloud-model}]
  - name: other
    deployments: [{upstream: cloud, model: cloud-model}]
)";
}

const std::map<std::string, std::string> kEnv{{"MASTER_KEY", "master-secret-0001"},
                                              {"ALICE_KEY", "sk-alice-0000000001"},
                                              {"BOB_KEY", "sk-bob-00000000001"}};
const std::map<std::string, std::string> kAlice{{"authorization", "Bearer sk-alice-0000000001"}};
const std::map<std::string, std::string> kBob{{"authorization", "Bearer sk-bob-00000000001"}};

std::string keys_yaml(const std::string& bob_extra = "") {
    return R"(keys:
  - name: alice
    key: ${ALICE_KEY}
    labels: {team: research, user: alice}
  - name: bob
    key: ${BOB_KEY}
    models: [m]
)" + bob_extra;
}

enum class Backend { sqlite, postgres };

// Every test runs with a SQLite ledger and with a PostgreSQL one (a real server, started once).
class Accounting : public ::testing::TestWithParam<Backend> {
protected:
    std::string ledger_url(const std::string& name) {
        if (GetParam() == Backend::sqlite) return temp_dir() + "/" + name + ".db";
        if (!postgres_) postgres_ = std::make_unique<Postgres>();
        postgres_->create_database(name);
        return postgres_->url(name);
    }
    static void TearDownTestSuite() { postgres_.reset(); }

private:
    static inline std::unique_ptr<Postgres> postgres_;
};

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
    return info.param == Backend::sqlite ? "SQLite" : "PostgreSQL";
}

double cost_of(long prompt, long completion) {
    return (static_cast<double>(prompt) * kInputPrice + static_cast<double>(completion) * kOutputPrice) / 1e6;
}

TEST_P(Accounting, LedgerRowsMatchWhatTheSimulatorSaw) {
    Sim sim = start_sim({"--tokens", "5"});
    const std::string path = ledger_url("ledger_match");
    auto gateway = start_gateway(config(sim, path, keys_yaml()), kEnv);
    const int port = gateway.port;

    // Non-streaming: usage passes through, and is what the simulator counted.
    // Each request is numbered by its x-request-id, so that rows can be put in request order
    // (two requests may arrive within one millisecond, the ledger's time resolution).
    int n = 0;
    const auto numbered = [&n](std::map<std::string, std::string> headers) {
        headers["x-request-id"] = "req-" + std::to_string(++n);
        return headers;
    };
    auto r = post(port, "/v1/chat/completions", chat_body("m"), numbered(kAlice));
    ASSERT_EQ(r.status, 200) << r.body;
    const long prompt = stat_number(sim_stats(sim), "prompt_tokens_total");
    ASSERT_GT(prompt, 0);

    // Streaming without include_usage: the gateway asks for it and strips it again.
    auto s = post_streaming(port, "/v1/chat/completions", chat_body("m", true), numbered(kAlice));
    ASSERT_EQ(s.status, 200);
    EXPECT_EQ(s.body().find(R"("usage":{)"), std::string::npos) << s.body();
    EXPECT_NE(s.body().find("data: [DONE]"), std::string::npos);

    // Streaming with include_usage: the caller gets its usage chunk.
    s = post_streaming(port, "/v1/chat/completions",
                       chat_body("m", true, R"("stream_options":{"include_usage":true})"), numbered(kAlice));
    ASSERT_EQ(s.status, 200);
    EXPECT_NE(s.body().find(R"("usage":{"prompt_tokens":)"), std::string::npos) << s.body();

    // A failure (no tokens), and a stream cut after 2 tokens (completion counted from the relay).
    r = post(port, "/v1/chat/completions", chat_body("m"),
             numbered({{"authorization", "Bearer sk-alice-0000000001"}, {"x-sim-fault", "500"}}));
    EXPECT_EQ(r.status, 500);
    s = post_streaming(port, "/v1/chat/completions", chat_body("m", true),
                       numbered({{"authorization", "Bearer sk-bob-00000000001"}, {"x-sim-fault", "drop:2"}}));
    EXPECT_EQ(s.status, 200);

    // Refused before any upstream: no key, a model bob may not use.
    EXPECT_EQ(post(port, "/v1/chat/completions", chat_body("m"), numbered({})).status, 401);
    EXPECT_EQ(post(port, "/v1/chat/completions", chat_body("other"), numbered(kBob)).status, 403);

    const std::string stats = sim_stats(sim);
    ASSERT_EQ(gateway.process->stop(SIGTERM), 0);
    auto rows = read_ledger(path);
    ASSERT_EQ(rows.size(), 7u);
    std::sort(rows.begin(), rows.end(),
              [](const ledger::Row& a, const ledger::Row& b) { return a.request_id < b.request_id; });

    long completion_sum = 0;
    long prompt_reported = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& row = rows[i];
        completion_sum += row.completion_tokens;
        if (!row.usage_estimated) prompt_reported += row.prompt_tokens;
        EXPECT_FALSE(row.request_id.empty());
        if (i < 5) {
            EXPECT_EQ(row.model, "m") << row.request_id;
        }
    }
    // Every completion token the simulator sent is in the ledger, and every reported prompt token.
    EXPECT_EQ(completion_sum, stat_number(stats, "completion_tokens_total"));
    EXPECT_EQ(prompt_reported + prompt, stat_number(stats, "prompt_tokens_total"));  // the cut stream's is estimated

    const auto& first = rows[0];
    EXPECT_EQ(first.key, "alice");
    EXPECT_EQ(first.labels, R"({"team":"research","user":"alice"})");
    EXPECT_EQ(first.deployment, "cloud");
    EXPECT_EQ(first.served_model, "m");
    EXPECT_EQ(first.tier, 1);
    EXPECT_FALSE(first.local);
    EXPECT_EQ(first.status, 200);
    EXPECT_FALSE(first.stream);
    EXPECT_EQ(first.prompt_tokens, prompt);
    EXPECT_EQ(first.completion_tokens, 5);
    EXPECT_FALSE(first.usage_estimated);
    EXPECT_NEAR(first.cost_usd, cost_of(prompt, 5), 1e-9);
    EXPECT_GT(first.ttft_ms, 0);
    EXPECT_GE(first.total_ms, first.ttft_ms);
    EXPECT_EQ(first.retries, 0);

    for (int i : {1, 2}) {
        EXPECT_TRUE(rows[i].stream);
        EXPECT_EQ(rows[i].prompt_tokens, prompt);
        EXPECT_EQ(rows[i].completion_tokens, 5);
        EXPECT_FALSE(rows[i].usage_estimated);
    }
    EXPECT_EQ(rows[3].status, 500);
    EXPECT_EQ(rows[3].completion_tokens, 0);
    EXPECT_EQ(rows[3].cost_usd, 0);
    EXPECT_EQ(rows[4].key, "bob");
    EXPECT_EQ(rows[4].completion_tokens, 2);
    EXPECT_TRUE(rows[4].usage_estimated);
    EXPECT_FALSE(rows[4].error.empty());
    EXPECT_EQ(rows[5].status, 401);
    EXPECT_EQ(rows[5].key, "");
    EXPECT_EQ(rows[5].model, "");  // refused before the body was read
    EXPECT_EQ(rows[6].status, 403);
    EXPECT_EQ(rows[6].model, "other");
    EXPECT_EQ(rows[6].deployment, "");
}

// With keys, as OpenAI's API: listing or retrieving models needs a key, and shows what it may use.
TEST_P(Accounting, TheModelsListedAreThoseTheKeyMayUse) {
    Sim sim = start_sim({"--tokens", "5"});
    auto gateway = start_gateway(config(sim, ledger_url("models_by_key"), keys_yaml()), kEnv);
    auto r = get(gateway.port, "/v1/models");
    EXPECT_EQ(r.status, 401);
    EXPECT_NE(r.body.find(R"("code":"missing_api_key")"), std::string::npos) << r.body;
    r = get(gateway.port, "/v1/models/m", {{"authorization", "Bearer sk-nobody-000000001"}});
    EXPECT_EQ(r.status, 401);
    EXPECT_NE(r.body.find(R"("code":"invalid_api_key")"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("sk-nobody"), std::string::npos) << "the key is never echoed";

    r = get(gateway.port, "/v1/models", kAlice);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find(R"("id":"m")"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"("id":"other")"), std::string::npos) << r.body;
    r = get(gateway.port, "/v1/models", kBob);  // bob: models [m]
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find(R"("id":"m")"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find(R"("id":"other")"), std::string::npos) << r.body;
    EXPECT_EQ(get(gateway.port, "/v1/models/m", kBob).status, 200);
    r = get(gateway.port, "/v1/models/other", kBob);
    EXPECT_EQ(r.status, 403);
    EXPECT_NE(r.body.find(R"("code":"model_not_allowed")"), std::string::npos) << r.body;
    EXPECT_EQ(get(gateway.port, "/v1/models/other", kAlice).status, 200);
}

TEST_P(Accounting, ACancelledStreamIsRecordedWithTheTokensItGot) {
    Sim sim = start_sim({"--tokens", "50", "--itl-ms", "100"});
    const std::string path = ledger_url("ledger_cancel");
    auto gateway = start_gateway(config(sim, path, keys_yaml()), kEnv);
    const std::string body = chat_body("m", true);
    const std::string raw = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-alice-0000000001\r\n"
                            "Content-Type: application/json\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body;
    raw_exchange(gateway.port, raw, 450ms);  // about four tokens, then the caller hangs up
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    while (stat_number(sim_stats(sim), "cancelled") == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
    }
    const std::string stats = sim_stats(sim);
    ASSERT_EQ(stat_number(stats, "cancelled"), 1);
    ASSERT_EQ(gateway.process->stop(SIGTERM), 0);
    const auto rows = read_ledger(path);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].status, 499);
    EXPECT_TRUE(rows[0].usage_estimated);
    EXPECT_GE(rows[0].completion_tokens, 3);
    // What the gateway had received when it closed the upstream: the engine may have sent one more
    // token into the closing connection.
    const long sent = stat_number(stats, "completion_tokens_total");
    EXPECT_GE(rows[0].completion_tokens, sent - 1);
    EXPECT_LE(rows[0].completion_tokens, sent);
}

TEST_P(Accounting, ABudgetStopsTrafficWithinOneRequestAndSurvivesARestart) {
    Sim sim = start_sim({"--tokens", "5"});
    const std::string path = ledger_url("ledger_budget");
    const std::string keys = keys_yaml("    budget: {daily: 0.2}\n");
    auto gateway = start_gateway(config(sim, path, keys), kEnv);
    auto r = post(gateway.port, "/v1/chat/completions", chat_body("m"), kBob);
    ASSERT_EQ(r.status, 200);
    const long prompt = stat_number(sim_stats(sim), "prompt_tokens_total");
    const double each = cost_of(prompt, 5);
    const int affordable = static_cast<int>(std::ceil(0.2 / each));  // the one that crosses is served
    int served = 1;
    while (served < affordable + 5) {
        r = post(gateway.port, "/v1/chat/completions", chat_body("m"), kBob);
        if (r.status != 200) break;
        ++served;
    }
    EXPECT_EQ(served, affordable);
    EXPECT_EQ(r.status, 429);
    EXPECT_NE(r.body.find("insufficient_quota"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("daily budget of $0.20 is spent"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("resets at"), std::string::npos);
    EXPECT_FALSE(r.header("retry-after").empty());
    EXPECT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("m"), kAlice).status, 200);  // others go on

    // The spend is in the ledger: a restarted gateway still refuses bob.
    ASSERT_EQ(gateway.process->stop(SIGTERM), 0);
    auto again = start_gateway(config(sim, path, keys), kEnv);
    EXPECT_EQ(post(again.port, "/v1/chat/completions", chat_body("m"), kBob).status, 429);
}

TEST_P(Accounting, ARateLimitAdmitsNoMoreThanItsLimitUnderTenTimesTheLoad) {
    Sim sim = start_sim({"--tokens", "1"});
    const std::string path = ledger_url("ledger_rate");
    // 120 a minute (2 a second), bursts of 4.
    auto gateway = start_gateway(config(sim, path, keys_yaml("    limits: {rpm: 120, rpm_burst: 4}\n")), kEnv);
    std::atomic<int> ok{0};
    std::atomic<int> limited{0};
    std::atomic<bool> headers_ok{true};
    const auto start = std::chrono::steady_clock::now();
    const auto end = start + 3s;
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t) {
        callers.emplace_back([&] {
            while (std::chrono::steady_clock::now() < end) {  // 4 x 5 a second: 10x the limit
                const auto r = post(gateway.port, "/v1/chat/completions", chat_body("m"), kBob);
                if (r.status == 200) {
                    ++ok;
                } else if (r.status == 429) {
                    ++limited;
                    if (r.header("retry-after").empty() || r.header("x-ratelimit-limit-requests") != "120" ||
                        r.body.find("rate_limit_exceeded") == std::string::npos) {
                        headers_ok = false;
                    }
                }
                std::this_thread::sleep_for(200ms);
            }
        });
    }
    for (auto& caller : callers) caller.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LE(ok.load(), 4 + static_cast<int>(2 * seconds) + 1);
    EXPECT_GE(ok.load(), 4 + static_cast<int>(2 * 3) - 2);
    EXPECT_GT(limited.load(), 20);
    EXPECT_TRUE(headers_ok.load());
    EXPECT_EQ(stat_number(sim_stats(sim), "requests_total"), ok.load());
    // Successful answers say where the caller stands.
    std::this_thread::sleep_for(600ms);
    const auto r = post(gateway.port, "/v1/chat/completions", chat_body("m"), kBob);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.header("x-ratelimit-limit-requests"), "120");
    EXPECT_FALSE(r.header("x-ratelimit-remaining-requests").empty());
    EXPECT_FALSE(r.header("x-ratelimit-reset-requests").empty());
}

TEST_P(Accounting, SigtermInTheMiddleOfLoadLosesNoRow) {
    Sim sim = start_sim({"--tokens", "3", "--ttft-ms", "20"});
    const std::string path = ledger_url("ledger_sigterm");
    auto gateway = start_gateway(config(sim, path, keys_yaml()), kEnv);
    std::atomic<int> answered{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> callers;
    for (int t = 0; t < 6; ++t) {
        callers.emplace_back([&] {
            while (!stop) {
                try {
                    const auto r = post(gateway.port, "/v1/chat/completions", chat_body("m"), kAlice);
                    if (r.status == 0) break;
                    ++answered;
                } catch (const std::exception&) {
                    break;  // the gateway has closed its listener
                }
            }
        });
    }
    std::this_thread::sleep_for(1500ms);
    ASSERT_EQ(gateway.process->stop(SIGTERM), 0);
    stop = true;
    for (auto& caller : callers) caller.join();
    ASSERT_GT(answered.load(), 50);
    EXPECT_EQ(static_cast<int>(read_ledger(path).size()), answered.load());
}

TEST_P(Accounting, KeysCreatedThroughTheAdminApiAreStoredAsDigestsAndSurviveARestart) {
    Sim sim = start_sim({"--tokens", "2"});
    const std::string path = ledger_url("ledger_admin");
    auto gateway = start_gateway(config(sim, path, keys_yaml()), kEnv);
    const std::map<std::string, std::string> master{{"authorization", "Bearer master-secret-0001"}};
    EXPECT_EQ(request(gateway.port, "GET", "/admin/keys", "", kAlice).status, 401);
    auto created = request(gateway.port, "POST", "/admin/keys",
                           R"({"name":"carol","models":["m"],"labels":{"team":"ops"},"budget":{"daily":5}})", master);
    ASSERT_EQ(created.status, 201) << created.body;
    const auto at = created.body.find(R"("key":"sk-sy-)");
    ASSERT_NE(at, std::string::npos) << created.body;
    const std::string secret = created.body.substr(at + 7, 46);
    const std::map<std::string, std::string> carol{{"authorization", "Bearer " + secret}};
    EXPECT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("m"), carol).status, 200);
    EXPECT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("other"), carol).status, 403);
    EXPECT_EQ(request(gateway.port, "POST", "/admin/keys", R"({"name":"carol"})", master).status, 409);
    const auto list = request(gateway.port, "GET", "/admin/keys", "", master);
    EXPECT_EQ(list.status, 200);
    EXPECT_NE(list.body.find(R"("name":"carol")"), std::string::npos);
    EXPECT_EQ(list.body.find(secret), std::string::npos);  // never shown again
    EXPECT_EQ(request(gateway.port, "DELETE", "/admin/keys/alice", "", master).status, 409);  // from the file

    // The ledger holds the digest, never the key.
    ASSERT_EQ(gateway.process->stop(SIGTERM), 0);
    {
        auto store = ledger::open_store(path);
        const auto keys = store->load_keys();
        ASSERT_EQ(keys.size(), 1u);
        EXPECT_EQ(keys[0].name, "carol");
        EXPECT_EQ(keys[0].sha256.size(), 64u);
        EXPECT_EQ(keys[0].policy_json.find(secret), std::string::npos);
    }
    auto again = start_gateway(config(sim, path, keys_yaml()), kEnv);
    EXPECT_EQ(post(again.port, "/v1/chat/completions", chat_body("m"), carol).status, 200);
    EXPECT_EQ(request(again.port, "DELETE", "/admin/keys/carol", "", master).status, 200);
    const auto revoked = post(again.port, "/v1/chat/completions", chat_body("m"), carol);
    EXPECT_EQ(revoked.status, 401);
    EXPECT_EQ(revoked.body.find(secret.substr(6)), std::string::npos);  // the key is never echoed
}

INSTANTIATE_TEST_SUITE_P(Ledgers, Accounting, ::testing::Values(Backend::sqlite, Backend::postgres), backend_name);

}  // namespace
}  // namespace switchyard::testing
