// The ledger's spool end to end: the real gateway under steady load while its database goes away
// (a PostgreSQL server stopped, a SQLite file locked by another writer) and comes back. Every
// answered request must have exactly one row afterwards, counted by request id; a gateway killed
// with SIGKILL while rows wait in its spool leaves them to the next start, which replays them
// once, even when a replayed file holds rows the database already has.
//
//   SWITCHYARD_OUTAGE_SECONDS  how long PostgreSQL stays down under load in the outage test
//                              (default 2; bench/outage.sh runs it for 600)
#include <gtest/gtest.h>

#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "ledger/store.hpp"

namespace switchyard::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string config(const Sim& sim, const std::string& ledger_url, const std::string& spool_dir) {
    return R"(
listeners: [{address: 127.0.0.1, port: 0}]
server: {io_threads: 2, shutdown_grace: 5s}
ledger:
  url: )" + ledger_url + R"(
  flush_interval: 100ms
  batch_size: 50
  spool_dir: )" + spool_dir + R"(
upstreams:
  - name: cloud
    type: openai
    base_url: )" + sim.url() + R"(/v1
    health: {enabled: false}
models:
  - name: m
    deployments: [{upstream: cloud}]
)";
}

// Rows per request id in the ledger.
std::map<std::string, int> rows_by_request(const std::string& url) {
    auto store = ledger::open_store(url);
    std::map<std::string, int> out;
    store->each_row(0, INT64_MAX, [&](const ledger::Row& row) { ++out[row.request_id]; });
    return out;
}

// Each id in `answered` has one row, and no other row is there.
void expect_exactly_once(const std::string& url, const std::set<std::string>& answered) {
    const auto rows = rows_by_request(url);
    int doubled = 0, missing = 0, unknown = 0;
    for (const auto& [id, count] : rows) {
        if (count > 1) ++doubled;
        if (!answered.contains(id)) ++unknown;
    }
    for (const auto& id : answered) missing += rows.contains(id) ? 0 : 1;
    EXPECT_EQ(doubled, 0);
    EXPECT_EQ(missing, 0);
    EXPECT_EQ(unknown, 0);
    EXPECT_EQ(rows.size(), answered.size());
}

// A ledger sample of the gateway's /metrics: "spooled_rows_total" for switchyard_ledger_spooled_rows_total.
double ledger_metric(int port, const std::string& name) {
    return find_metric(get(port, "/metrics").body, "switchyard_ledger_" + name + " ").value_or(-1);
}

template <typename Predicate>
bool eventually(Predicate done, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!done()) {
        if (Clock::now() > deadline) return false;
        std::this_thread::sleep_for(50ms);
    }
    return true;
}

// Callers sending requests with ids of their own until stopped; the ids answered are kept.
class Load {
public:
    Load(int port, std::string prefix, int threads) {
        for (int t = 0; t < threads; ++t) {
            threads_.emplace_back([this, port, prefix, t] {
                for (int i = 0; !stop_; ++i) {
                    const std::string id = prefix + "-" + std::to_string(t) + "-" + std::to_string(i);
                    Response r;
                    try {
                        r = post(port, "/v1/chat/completions", chat_body("m"), {{"x-request-id", id}});
                    } catch (const std::exception&) {
                        continue;  // not answered: no row is owed
                    }
                    if (r.status == 0) continue;
                    std::lock_guard lock(mutex_);
                    if (r.status == 200) answered_.insert(id);
                    if (r.status != 200) ++failed_;
                }
            });
        }
    }
    ~Load() { stop(); }
    void stop() {
        stop_ = true;
        for (auto& thread : threads_) {
            if (thread.joinable()) thread.join();
        }
    }
    std::size_t count() {
        std::lock_guard lock(mutex_);
        return answered_.size();
    }
    const std::set<std::string>& answered() const { return answered_; }  // after stop()
    int failed() const { return failed_; }

private:
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::set<std::string> answered_;
    int failed_ = 0;
    std::vector<std::thread> threads_;
};

// Sends `n` requests one after the other; returns their ids.
std::set<std::string> send(int port, const std::string& prefix, int n) {
    std::set<std::string> ids;
    for (int i = 0; i < n; ++i) {
        const std::string id = prefix + "-" + std::to_string(i);
        const auto r = post(port, "/v1/chat/completions", chat_body("m"), {{"x-request-id", id}});
        EXPECT_EQ(r.status, 200) << r.body;
        ids.insert(id);
    }
    return ids;
}

// A path in the test's temp dir not used before (tests may be repeated in one process).
std::string fresh_path(const std::string& name) {
    static int made = 0;
    return temp_dir() + "/" + name + "-" + std::to_string(++made);
}

std::vector<fs::path> spool_files(const std::string& dir) {
    std::vector<fs::path> out;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() == ".spool") out.push_back(entry.path());
    }
    return out;
}

class LedgerSpool : public ::testing::Test {
protected:
    static Postgres& postgres() {
        if (!postgres_) postgres_ = std::make_unique<Postgres>();
        postgres_->start();  // again, if a failed test left it stopped
        return *postgres_;
    }
    static void TearDownTestSuite() { postgres_.reset(); }

private:
    static inline std::unique_ptr<Postgres> postgres_;
};

std::chrono::seconds outage_seconds() {
    const char* text = std::getenv("SWITCHYARD_OUTAGE_SECONDS");
    const int seconds = text != nullptr ? std::atoi(text) : 0;
    return std::chrono::seconds(seconds > 0 ? seconds : 2);
}

TEST_F(LedgerSpool, APostgresOutageUnderLoadLosesAndDoublesNoRow) {
    const auto outage = outage_seconds();
    Postgres& pg = postgres();
    pg.create_database("spool_outage");
    const std::string url = pg.url("spool_outage");
    const std::string spool = fresh_path("spool-outage");
    Sim sim = start_sim({"--tokens", "3"});
    auto gateway = start_gateway(config(sim, url, spool));

    Load load(gateway.port, "outage", 4);
    ASSERT_TRUE(eventually([&] { return ledger_metric(gateway.port, "written_rows_total") > 20; }, 10s));
    pg.stop(SIGINT);  // clients are cut off; the server is away under load
    const auto down = Clock::now();
    const std::size_t before = load.count();
    ASSERT_TRUE(eventually([&] { return ledger_metric(gateway.port, "spooled_rows_total") > 20; }, 10s));
    std::this_thread::sleep_until(down + outage);
    const std::size_t during = load.count() - before;
    EXPECT_GT(during, 50u) << "the gateway kept serving";
    const double spool_bytes = ledger_metric(gateway.port, "spool_bytes");
    EXPECT_GT(spool_bytes, 0);
    EXPECT_FALSE(spool_files(spool).empty());
    pg.start();
    const auto up = Clock::now();
    std::this_thread::sleep_for(1s);  // load goes on while the spool is replayed
    load.stop();
    EXPECT_EQ(load.failed(), 0);

    ASSERT_TRUE(eventually([&] { return ledger_metric(gateway.port, "spool_rows") == 0; }, 20s + outage));
    const double replay_s = std::chrono::duration<double>(Clock::now() - up).count();
    const std::string page = get(gateway.port, "/metrics").body;
    const double spooled = metric(page, "switchyard_ledger_spooled_rows_total ");
    EXPECT_GT(spooled, 0);
    EXPECT_EQ(metric(page, "switchyard_ledger_replayed_rows_total "), spooled);
    EXPECT_EQ(metric(page, "switchyard_ledger_lost_rows_total "), 0);
    EXPECT_EQ(metric(page, "switchyard_ledger_spool_bytes "), 0);
    ASSERT_EQ(gateway.process->stop(SIGTERM), 0);
    expect_exactly_once(url, load.answered());
    EXPECT_TRUE(spool_files(spool).empty()) << "an empty spool file is removed at stop";
    std::printf("outage: PostgreSQL down %llds under load; %zu requests answered (%zu while it was down), %.0f rows "
                "spooled (spool %.1f MiB at the end of the outage), all replayed within %.1f s of its return; "
                "%.0f lost\n",
                static_cast<long long>(outage.count()), load.answered().size(), during, spooled,
                spool_bytes / (1024.0 * 1024.0), replay_s, metric(page, "switchyard_ledger_lost_rows_total "));
}

TEST_F(LedgerSpool, ASpoolLeftBySigkillIsReplayedOnceByTheNextStart) {
    Postgres& pg = postgres();
    pg.create_database("spool_kill");
    const std::string url = pg.url("spool_kill");
    const std::string spool = fresh_path("spool-kill");
    Sim sim = start_sim({"--tokens", "3"});
    const std::string yaml = config(sim, url, spool);
    auto first = start_gateway(yaml);
    std::set<std::string> answered = send(first.port, "before", 20);
    ASSERT_TRUE(eventually([&] { return ledger_metric(first.port, "written_rows_total") == 20; }, 10s));

    pg.stop(SIGINT);
    const auto during = send(first.port, "during", 120);
    answered.insert(during.begin(), during.end());
    ASSERT_TRUE(eventually([&] { return ledger_metric(first.port, "spool_rows") == 120; }, 10s));
    auto files = spool_files(spool);
    ASSERT_EQ(files.size(), 1u);
    // A copy, as if a gateway had replayed the file and crashed before emptying it: its rows come
    // again, and the database must keep each once.
    fs::copy_file(files[0], fs::path(spool) / "ledger-0000000000000001-1-0.spool");
    ASSERT_EQ(first.process->stop(SIGKILL), 128 + SIGKILL);

    pg.start();
    auto second = start_gateway(yaml);
    ASSERT_TRUE(eventually([&] { return ledger_metric(second.port, "replayed_rows_total") == 240; }, 20s))
        << ledger_metric(second.port, "replayed_rows_total");
    EXPECT_EQ(ledger_metric(second.port, "spool_rows"), 0);
    EXPECT_EQ(ledger_metric(second.port, "lost_rows_total"), 0);
    EXPECT_TRUE(spool_files(spool).empty()) << "replayed files are removed";
    const auto after = send(second.port, "after", 10);
    answered.insert(after.begin(), after.end());
    ASSERT_EQ(second.process->stop(SIGTERM), 0);
    expect_exactly_once(url, answered);
}

// A database that hangs (the server and its backends stopped: connections stay open, queries are
// taken and never answered) is given up on after `write_timeout`, and the rows go to the spool
// meanwhile; once it answers again they are replayed, each once.
TEST_F(LedgerSpool, AHungDatabaseIsGivenUpOnAfterTheWriteTimeout) {
    Postgres& pg = postgres();
    pg.create_database("spool_hung");
    const std::string url = pg.url("spool_hung");
    const std::string spool = fresh_path("spool-hung");
    Sim sim = start_sim({"--tokens", "3"});
    std::string yaml = config(sim, url, spool);
    const std::string batch = "  batch_size: 50\n";
    yaml.insert(yaml.find(batch) + batch.size(), "  write_timeout: 1s\n");
    auto gateway = start_gateway(yaml);

    Load load(gateway.port, "hung", 2);
    ASSERT_TRUE(eventually([&] { return ledger_metric(gateway.port, "written_rows_total") > 20; }, 10s));
    pg.pause();
    const auto paused = Clock::now();
    const bool spooled = eventually([&] { return ledger_metric(gateway.port, "spooled_rows_total") > 0; }, 10s);
    const auto waited = Clock::now() - paused;
    std::this_thread::sleep_for(1s);
    pg.resume();
    ASSERT_TRUE(spooled) << "rows were not spooled while the database hung";
    EXPECT_LT(waited, 5s) << "the writer waited on the hung database for longer than its write_timeout";
    std::this_thread::sleep_for(500ms);
    load.stop();
    EXPECT_EQ(load.failed(), 0);
    ASSERT_TRUE(eventually([&] { return ledger_metric(gateway.port, "spool_rows") == 0; }, 20s));
    EXPECT_EQ(ledger_metric(gateway.port, "lost_rows_total"), 0);
    ASSERT_EQ(gateway.process->stop(SIGTERM), 0);
    expect_exactly_once(url, load.answered());
}

// Two instances on one PostgreSQL ledger (a fleet): a Responses conversation one of them answered
// is continued by the other. While the database is down, an id neither holds in memory is a 503
// (retryable), not a 404; one held in memory still works.
TEST_F(LedgerSpool, InstancesOnOneDatabaseContinueEachOthersConversations) {
    Postgres& pg = postgres();
    pg.create_database("spool_conversations");
    const std::string url = pg.url("spool_conversations");
    Sim sim = start_sim({"--tokens", "3"});
    auto a = start_gateway(config(sim, url, fresh_path("spool-conv-a")));
    auto b = start_gateway(config(sim, url, fresh_path("spool-conv-b")));
    const auto id_of = [](const Response& response) {
        const auto at = response.body.find("\"id\":\"resp_");
        return at == std::string::npos ? std::string() : response.body.substr(at + 6, response.body.find('"', at + 6) - at - 6);
    };
    const auto turn = [](int port, const std::string& previous) {
        return post(port, "/v1/responses",
                    R"({"model":"m","input":"more",)" +
                        (previous.empty() ? std::string() : R"("previous_response_id":")" + previous + "\",") +
                        R"("max_output_tokens":16})");
    };
    const Response first = turn(a.port, "");
    ASSERT_EQ(first.status, 200) << first.body;
    const std::string id = id_of(first);
    ASSERT_FALSE(id.empty()) << first.body;
    ASSERT_TRUE(eventually([&] { return ledger_metric(a.port, "conversations_saved_total") >= 1; }, 5s));
    const Response on_b = turn(b.port, id);
    EXPECT_EQ(on_b.status, 200) << on_b.body;
    const std::string second = id_of(on_b);
    ASSERT_TRUE(eventually([&] { return ledger_metric(b.port, "conversations_saved_total") >= 1; }, 5s));

    pg.stop(SIGINT);
    const Response unknown_while_down = turn(a.port, second);  // b answered it: a must ask the database
    EXPECT_EQ(unknown_while_down.status, 503) << unknown_while_down.body;
    EXPECT_NE(unknown_while_down.body.find("store_unavailable"), std::string::npos) << unknown_while_down.body;
    const Response held = turn(b.port, second);  // b holds its own answer in memory
    EXPECT_EQ(held.status, 200) << held.body;
    pg.start();
    const Response back = turn(a.port, second);
    EXPECT_EQ(back.status, 200) << back.body;
    EXPECT_EQ(turn(a.port, "resp_nobody").status, 404);
    a.process->stop(SIGTERM);
    b.process->stop(SIGTERM);
}

// Instances on one database learn each other's API keys within ledger.key_sync: a key made through
// one authenticates on the other, a change of its policy applies there, and a revocation ends it
// there too (a revocation the database cannot take is refused, not made here alone).
TEST_F(LedgerSpool, InstancesOnOneDatabaseShareTheKeysMadeRevokedAndChangedThroughEither) {
    Postgres& pg = postgres();
    pg.create_database("spool_keys");
    const std::string url = pg.url("spool_keys");
    Sim sim = start_sim({"--tokens", "3"});
    std::string yaml = config(sim, url, fresh_path("spool-keys"));
    yaml += R"(  - name: other
    deployments: [{upstream: cloud}]
auth:
  master_key: ${MASTER_KEY}
)";
    const std::string ledger_block = "  spool_dir: ";
    yaml.insert(yaml.find(ledger_block), "  key_sync: 200ms\n");
    const std::map<std::string, std::string> env{{"MASTER_KEY", "master-secret-0001"}};
    const std::map<std::string, std::string> master{{"authorization", "Bearer master-secret-0001"}};
    auto a = start_gateway(yaml, env);
    auto b = start_gateway(yaml, env);

    const Response made = post(a.port, "/admin/keys", R"({"name":"ci-bot"})", master);
    ASSERT_EQ(made.status, 201) << made.body;
    const auto at = made.body.find("\"key\":\"");
    ASSERT_NE(at, std::string::npos) << made.body;
    const std::string secret = made.body.substr(at + 7, made.body.find('"', at + 7) - at - 7);
    const std::map<std::string, std::string> bot{{"authorization", "Bearer " + secret}};
    const auto status_on = [&](const Gateway& gateway, const std::string& model) {
        return post(gateway.port, "/v1/chat/completions", chat_body(model), bot).status;
    };
    EXPECT_EQ(status_on(a, "other"), 200);
    ASSERT_TRUE(eventually([&] { return status_on(b, "other") == 200; }, 5s)) << "b never learned the new key";

    // Changed through b (only model m now): a applies it.
    ASSERT_EQ(request(b.port, "PATCH", "/admin/keys/ci-bot", R"({"models":["m"]})", master).status, 200);
    EXPECT_EQ(status_on(b, "other"), 403);
    ASSERT_TRUE(eventually([&] { return status_on(a, "other") == 403; }, 5s)) << "a never applied the change";
    EXPECT_EQ(status_on(a, "m"), 200);

    // Revoked through a: b refuses it too.
    ASSERT_EQ(request(a.port, "DELETE", "/admin/keys/ci-bot", "", master).status, 200);
    EXPECT_EQ(status_on(a, "m"), 401);
    ASSERT_TRUE(eventually([&] { return status_on(b, "m") == 401; }, 5s)) << "b still takes a revoked key";
    EXPECT_EQ(request(b.port, "GET", "/admin/keys", "", master).body.find("ci-bot"), std::string::npos);

    // With the database away, a revocation is refused (503) rather than made on one instance only.
    const Response second = post(b.port, "/admin/keys", R"({"name":"ci-bot-2"})", master);
    ASSERT_EQ(second.status, 201) << second.body;
    ASSERT_TRUE(eventually([&] { return request(a.port, "GET", "/admin/keys", "", master).body.find("ci-bot-2") != std::string::npos; }, 5s));
    pg.stop(SIGINT);
    const Response refused = request(a.port, "DELETE", "/admin/keys/ci-bot-2", "", master);
    EXPECT_EQ(refused.status, 503) << refused.body;
    EXPECT_NE(refused.body.find("ledger_unavailable"), std::string::npos) << refused.body;
    EXPECT_NE(request(a.port, "GET", "/admin/keys", "", master).body.find("ci-bot-2"), std::string::npos);
    pg.start();
    a.process->stop(SIGTERM);
    b.process->stop(SIGTERM);
}

// A key's spend that a killed gateway left in the spool (its database was down) counts against the
// key's budget at the next start, before the spool is replayed: the restart is no way round it.
TEST_F(LedgerSpool, SpendLeftInTheSpoolCountsAgainstTheBudgetAfterARestart) {
    Postgres& pg = postgres();
    pg.create_database("spool_budget");
    const std::string url = pg.url("spool_budget");
    const std::string spool = fresh_path("spool-budget");
    Sim sim = start_sim({"--tokens", "5"});
    std::string yaml = config(sim, url, spool);
    yaml += R"(prices:
  models:
    m: {input: 1000, output: 2000}
keys:
  - {name: bob, key: sk-bob-00000000001, budget: {daily: 0.2}}
)";
    const std::map<std::string, std::string> bob{{"authorization", "Bearer sk-bob-00000000001"}};
    auto first = start_gateway(yaml);
    pg.stop(SIGINT);
    int served = 0;
    Response r;
    while (served < 100) {
        r = post(first.port, "/v1/chat/completions", chat_body("m"), bob);
        if (r.status != 200) break;
        ++served;
    }
    ASSERT_EQ(r.status, 429) << r.body;
    ASSERT_GT(served, 1);
    ASSERT_TRUE(eventually([&] { return ledger_metric(first.port, "spool_rows") == served + 1; }, 10s));
    ASSERT_EQ(first.process->stop(SIGKILL), 128 + SIGKILL);

    pg.start();
    auto second = start_gateway(yaml);
    r = post(second.port, "/v1/chat/completions", chat_body("m"), bob);
    EXPECT_EQ(r.status, 429) << r.body;
    EXPECT_NE(r.body.find("daily budget of $0.20 is spent"), std::string::npos) << r.body;
    ASSERT_TRUE(eventually([&] { return ledger_metric(second.port, "spool_rows") == 0; }, 20s));
    ASSERT_EQ(second.process->stop(SIGTERM), 0);
    EXPECT_EQ(rows_by_request(url).size(), static_cast<std::size_t>(served + 2));
}

TEST_F(LedgerSpool, ALockedSqliteFileIsWaitedOutThroughTheSpool) {
    const std::string path = fresh_path("spool-locked") + ".db";
    const std::string spool = fresh_path("spool-sqlite");
    Sim sim = start_sim({"--tokens", "3"});
    auto gateway = start_gateway(config(sim, path, spool));
    std::set<std::string> answered = send(gateway.port, "before", 10);
    ASSERT_TRUE(eventually([&] { return ledger_metric(gateway.port, "written_rows_total") == 10; }, 10s));

    // Another writer holds the database: the gateway's writes wait out SQLite's busy timeout, fail,
    // and the rows go to the spool.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
    {
        Load load(gateway.port, "locked", 2);
        ASSERT_TRUE(eventually([&] { return ledger_metric(gateway.port, "spooled_rows_total") > 0; }, 15s));
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        sqlite3_close(db);
        std::this_thread::sleep_for(500ms);
        load.stop();
        answered.insert(load.answered().begin(), load.answered().end());
    }
    ASSERT_TRUE(eventually([&] { return ledger_metric(gateway.port, "spool_rows") == 0; }, 20s));
    const std::string page = get(gateway.port, "/metrics").body;
    EXPECT_EQ(metric(page, "switchyard_ledger_replayed_rows_total "),
              metric(page, "switchyard_ledger_spooled_rows_total "));
    EXPECT_EQ(metric(page, "switchyard_ledger_lost_rows_total "), 0);
    ASSERT_EQ(gateway.process->stop(SIGTERM), 0);
    expect_exactly_once(path, answered);
}

}  // namespace
}  // namespace switchyard::testing
