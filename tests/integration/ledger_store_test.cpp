// The ledger's stores against real databases: the same checks on a SQLite file and on a
// PostgreSQL server of the test's own, then what only a server can do (go away and come back),
// and the batched writer on both, with and without a spool.
#include <gtest/gtest.h>

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "harness.hpp"
#include "ledger/ledger.hpp"
#include "ledger/schema.hpp"
#include "ledger/store.hpp"

namespace switchyard::testing {
namespace {

using ledger::Row;
using ledger::StoredKey;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// One server for the whole test program, started on first use and stopped at exit.
Postgres& postgres() {
    static Postgres server;
    server.start();  // again, if a failed test left it stopped
    return server;
}

enum class Backend { sqlite, postgres };
void PrintTo(Backend backend, std::ostream* out) { *out << (backend == Backend::sqlite ? "sqlite" : "postgres"); }

int databases = 0;

// A fresh, empty ledger database: a new SQLite file or a new PostgreSQL database.
std::string fresh_ledger_url(Backend backend) {
    const std::string name = "ledger_" + std::to_string(::getpid()) + "_" + std::to_string(++databases);
    if (backend == Backend::sqlite) return "sqlite:" + temp_dir() + "/" + name + ".db";
    postgres().create_database(name);
    return postgres().url(name);
}

std::vector<Row> read_all(ledger::Store& store, std::int64_t from = 0, std::int64_t to = INT64_MAX) {
    std::vector<Row> out;
    store.each_row(from, to, [&](const Row& row) { out.push_back(row); });
    return out;
}

// A row with every field set, different for every `i`, with text that SQL must not mangle.
Row sample_row(int i, std::int64_t ts_ms) {
    static const char* const texts[] = {
        "plain", "it's \"quoted\"; DROP TABLE requests; --", "héllo wörld 🚂 日本語 \u00e9\u0301", "",
        "back\\slash\nnew line\ttab", "$1 ? %s {{ID}}", "\xe2\x82\xac"};
    const auto text = [&](int k) { return std::string(texts[(i + k) % 7]) + (k % 2 ? "" : std::to_string(i)); };
    Row row;
    row.ts_ms = ts_ms;
    row.request_id = "req-" + std::to_string(i);
    row.key = text(1);
    row.labels = R"({"team":"research","user":"o'brien \"ü\""})";
    row.model = text(2);
    row.served_model = text(3);
    row.deployment = text(4);
    row.upstream = text(5);
    row.tier = i % 4;
    row.local = i % 2 == 0;
    row.status = i % 5 == 0 ? 499 : 200;
    row.stream = i % 3 == 0;
    row.prompt_tokens = 1'000'000'000'000LL + i;
    row.cached_tokens = i * 7;
    row.completion_tokens = i * 13;
    row.usage_estimated = i % 3 == 1;
    row.cost_usd = 0.1 + 0.2 + i * 1e-9;  // not exactly representable: must round-trip exactly
    row.ttft_ms = i % 4 == 0 ? -1 : 123.456789 + i;
    row.total_ms = 1.0 / 3.0 + i;
    row.retries = i % 3;
    row.fallback = i % 2 == 1;
    row.error = text(6);
    return row;
}

void expect_same(const Row& got, const Row& want) {
    SCOPED_TRACE(want.request_id);
    EXPECT_EQ(got.ts_ms, want.ts_ms);
    EXPECT_EQ(got.request_id, want.request_id);
    EXPECT_EQ(got.key, want.key);
    EXPECT_EQ(got.labels, want.labels);
    EXPECT_EQ(got.model, want.model);
    EXPECT_EQ(got.served_model, want.served_model);
    EXPECT_EQ(got.deployment, want.deployment);
    EXPECT_EQ(got.upstream, want.upstream);
    EXPECT_EQ(got.tier, want.tier);
    EXPECT_EQ(got.local, want.local);
    EXPECT_EQ(got.status, want.status);
    EXPECT_EQ(got.stream, want.stream);
    EXPECT_EQ(got.prompt_tokens, want.prompt_tokens);
    EXPECT_EQ(got.cached_tokens, want.cached_tokens);
    EXPECT_EQ(got.completion_tokens, want.completion_tokens);
    EXPECT_EQ(got.usage_estimated, want.usage_estimated);
    EXPECT_EQ(got.cost_usd, want.cost_usd);
    EXPECT_EQ(got.ttft_ms, want.ttft_ms);
    EXPECT_EQ(got.total_ms, want.total_ms);
    EXPECT_EQ(got.retries, want.retries);
    EXPECT_EQ(got.fallback, want.fallback);
    EXPECT_EQ(got.error, want.error);
}

class LedgerStore : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override {
        url_ = fresh_ledger_url(GetParam());
        store_ = ledger::open_store(url_);
        store_->migrate();
    }
    std::string url_;
    std::unique_ptr<ledger::Store> store_;
};

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
    return info.param == Backend::sqlite ? "sqlite" : "postgres";
}

TEST_P(LedgerStore, MigratesOnceAndAgainIsANoOp) {
    EXPECT_EQ(store_->schema_version(), ledger::kSchemaVersion);
    store_->migrate();
    EXPECT_EQ(store_->schema_version(), ledger::kSchemaVersion);
    store_->insert(std::vector<Row>{sample_row(1, 1000)});
    // Another gateway opening the same ledger: nothing to do, nothing lost.
    auto other = ledger::open_store(url_);
    other->migrate();
    other->migrate();
    EXPECT_EQ(other->schema_version(), ledger::kSchemaVersion);
    EXPECT_EQ(read_all(*other).size(), 1u);
}

TEST_P(LedgerStore, RowsComeBackIdenticalInOrder) {
    std::vector<Row> rows;
    // Several rows share a timestamp: they come back in insertion order. More rows than one
    // PostgreSQL statement holds, so the batch spans statements (still one transaction).
    for (int i = 0; i < 1203; ++i) rows.push_back(sample_row(i, 1'700'000'000'000LL + i / 3));
    store_->insert(rows);
    std::vector<Row> second{sample_row(5000, 1'700'000'001'000LL), sample_row(5001, 1'700'000'001'000LL)};
    store_->insert(second);
    store_->insert(std::vector<Row>{});  // nothing to do
    rows.insert(rows.end(), second.begin(), second.end());

    const auto got = read_all(*store_);
    ASSERT_EQ(got.size(), rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) expect_same(got[i], rows[i]);

    // [from, to): the window's end is left out.
    const auto window = read_all(*store_, 1'700'000'000'003LL, 1'700'000'000'005LL);
    ASSERT_EQ(window.size(), 6u);
    EXPECT_EQ(window.front().request_id, "req-9");
    EXPECT_EQ(window.back().request_id, "req-14");
    EXPECT_TRUE(read_all(*store_, 0, 1'700'000'000'000LL).empty());
}

TEST_P(LedgerStore, EachRowStopsWhenTheVisitorThrowsAndTheStoreGoesOn) {
    std::vector<Row> rows;
    for (int i = 0; i < 50; ++i) rows.push_back(sample_row(i, 1000 + i));
    store_->insert(rows);
    int seen = 0;
    EXPECT_THROW(store_->each_row(0, INT64_MAX,
                                 [&](const Row&) {
                                     if (++seen == 3) throw std::runtime_error("enough");
                                 }),
                 std::runtime_error);
    EXPECT_EQ(seen, 3);
    store_->insert(std::vector<Row>{sample_row(99, 2000)});
    EXPECT_EQ(read_all(*store_).size(), 51u);
}

TEST_P(LedgerStore, SpendSumsPerKeyForTodayAndThisMonth) {
    const std::int64_t month_start = 1'701'388'800'000LL;  // 2023-12-01 UTC
    const std::int64_t day_start = month_start + 14 * 86'400'000LL;
    const auto row = [](std::string key, std::int64_t ts, double cost) {
        Row r = sample_row(0, ts);
        r.key = std::move(key);
        r.cost_usd = cost;
        return r;
    };
    store_->insert(std::vector<Row>{
        row("alice", month_start - 1, 100.0),  // last month: not counted
        row("alice", month_start, 1.25),        // this month
        row("alice", day_start - 1, 2.5),       // this month, yesterday
        row("alice", day_start, 0.125),         // today
        row("alice", day_start + 3'600'000, 0.0625),
        row("bob", day_start + 1, 3.0),
        row("carol", month_start + 1, 4.0),    // this month only
        row("", day_start + 5, 50.0),          // no key: not a key's spend
    });
    auto spend = store_->spend_since(day_start, month_start);
    std::sort(spend.begin(), spend.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    ASSERT_EQ(spend.size(), 3u);
    EXPECT_EQ(spend[0].key, "alice");
    EXPECT_DOUBLE_EQ(spend[0].today_usd, 0.1875);
    EXPECT_DOUBLE_EQ(spend[0].month_usd, 3.9375);
    EXPECT_EQ(spend[1].key, "bob");
    EXPECT_DOUBLE_EQ(spend[1].today_usd, 3.0);
    EXPECT_DOUBLE_EQ(spend[1].month_usd, 3.0);
    EXPECT_EQ(spend[2].key, "carol");
    EXPECT_DOUBLE_EQ(spend[2].today_usd, 0.0);
    EXPECT_DOUBLE_EQ(spend[2].month_usd, 4.0);
    EXPECT_TRUE(store_->spend_since(day_start + 86'400'000LL, day_start + 86'400'000LL).empty());
}

TEST_P(LedgerStore, KeysAreSavedLoadedChangedAndRevoked) {
    EXPECT_TRUE(store_->load_keys().empty());
    const StoredKey ci{"ci-bot", std::string(64, 'a'), R"({"models":["gpt-4o"],"labels":{"team":"o'neil"}})", 1000};
    const StoredKey alice{"alice 🚂", std::string(64, 'b'), "{}", 2000};
    store_->save_key(ci);
    store_->save_key(alice);
    auto keys = store_->load_keys();
    ASSERT_EQ(keys.size(), 2u);
    std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    EXPECT_EQ(keys[0].name, alice.name);
    EXPECT_EQ(keys[0].sha256, alice.sha256);
    EXPECT_EQ(keys[0].policy_json, alice.policy_json);
    EXPECT_EQ(keys[0].created_ms, alice.created_ms);
    EXPECT_EQ(keys[1].name, ci.name);
    EXPECT_EQ(keys[1].policy_json, ci.policy_json);

    EXPECT_THROW(store_->save_key(StoredKey{"ci-bot", std::string(64, 'c'), "{}", 3000}), std::exception);
    EXPECT_THROW(store_->save_key(StoredKey{"other", std::string(64, 'a'), "{}", 3000}), std::exception);

    // A changed policy (PATCH /admin/keys) replaces the stored one; name, digest and age stay.
    const std::string changed = R"({"models":[],"limits":{"rpm":1},"labels":{"team":"o'neil"}})";
    EXPECT_TRUE(store_->update_key("ci-bot", changed));
    EXPECT_FALSE(store_->update_key("nobody", changed));
    keys = store_->load_keys();
    std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    ASSERT_EQ(keys.size(), 2u);
    EXPECT_EQ(keys[1].policy_json, changed);
    EXPECT_EQ(keys[1].sha256, ci.sha256);
    EXPECT_EQ(keys[1].created_ms, ci.created_ms);
    EXPECT_EQ(keys[0].policy_json, alice.policy_json);

    EXPECT_TRUE(store_->revoke_key("ci-bot", 5000));
    EXPECT_FALSE(store_->update_key("ci-bot", "{}"));  // a revoked key is not changed
    EXPECT_FALSE(store_->revoke_key("ci-bot", 6000));  // already revoked
    EXPECT_FALSE(store_->revoke_key("nobody", 6000));
    keys = store_->load_keys();
    ASSERT_EQ(keys.size(), 1u);
    EXPECT_EQ(keys[0].name, alice.name);
    // A revoked key's name and digest stay taken.
    EXPECT_THROW(store_->save_key(ci), std::exception);
    // The store still works after the refused inserts.
    store_->save_key(StoredKey{"dave", std::string(64, 'd'), "{}", 7000});
    EXPECT_EQ(store_->load_keys().size(), 2u);
}

TEST_P(LedgerStore, ARowIsKeptOnceByItsUidButRequestIdsMayRepeat) {
    std::vector<Row> rows;
    for (int i = 0; i < 6; ++i) {
        rows.push_back(sample_row(i, 1000 + i));
        rows.back().uid = "uid-" + std::to_string(i);
    }
    store_->insert(rows);
    // Written again (a replay), with a new row among them: only the new one is added.
    Row fresh = sample_row(6, 2000);
    fresh.uid = "uid-6";
    rows.push_back(fresh);
    store_->insert(rows);
    // A caller that sent the same x-request-id twice: two requests, two rows.
    Row again = sample_row(6, 3000);
    again.uid = "uid-7";
    store_->insert(std::vector<Row>{again});
    // Rows without a uid (written by older gateways) are never taken for one another.
    store_->insert(std::vector<Row>{sample_row(8, 4000), sample_row(8, 4000)});
    const auto got = read_all(*store_);
    ASSERT_EQ(got.size(), 10u);
    for (int i = 0; i < 7; ++i) {
        expect_same(got[static_cast<std::size_t>(i)], rows[static_cast<std::size_t>(i)]);
        EXPECT_EQ(got[static_cast<std::size_t>(i)].uid, "uid-" + std::to_string(i));
    }
    EXPECT_EQ(got[7].request_id, "req-6");
    EXPECT_EQ(got[7].uid, "uid-7");
    EXPECT_EQ(got[8].uid, "");
}

TEST_P(LedgerStore, AVersion2LedgerMigratesAndKeepsItsRows) {
    // A ledger as a gateway before row uids left it: the first two migrations, and two rows.
    const std::string url = fresh_ledger_url(GetParam());
    std::string sql;
    for (int version = 0; version < 2; ++version) sql += std::string(ledger::kMigrations[version]);
    sql.replace(sql.find("{{ID}}"), 6,
                GetParam() == Backend::sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY");
    sql += "CREATE TABLE switchyard_schema (version INTEGER NOT NULL); INSERT INTO switchyard_schema VALUES (2);"
           "INSERT INTO requests (ts_ms, request_id, model, status) VALUES (1, 'old', 'm', 200), (2, 'old', 'm', 200);";
    if (GetParam() == Backend::sqlite) {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(url.substr(7).c_str(), &db), SQLITE_OK);
        EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
        sqlite3_close(db);
    } else {
        postgres().exec(url.substr(url.rfind('/') + 1), sql);
    }
    auto store = ledger::open_store(url);
    EXPECT_EQ(store->schema_version(), 2);
    store->migrate();
    EXPECT_EQ(store->schema_version(), ledger::kSchemaVersion);
    Row row = sample_row(3, 3);
    row.uid = "uid-3";
    store->insert(std::vector<Row>{row});
    store->insert(std::vector<Row>{row});
    const auto rows = read_all(*store);
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].request_id, "old");
    EXPECT_EQ(rows[0].uid, "");
    EXPECT_EQ(rows[1].uid, "");
    EXPECT_EQ(rows[2].uid, "uid-3");
}

TEST_P(LedgerStore, GatewaysStartingTogetherMigrateOnce) {
    // Many rounds: a race between readers of the version shows in some rounds only (a new
    // PostgreSQL database costs more than a new SQLite file).
    const int rounds = GetParam() == Backend::sqlite ? 30 : 4;
    for (int round = 0; round < rounds; ++round) {
        const std::string url = fresh_ledger_url(GetParam());
        std::vector<std::unique_ptr<ledger::Store>> stores;
        for (int i = 0; i < 6; ++i) stores.push_back(ledger::open_store(url));
        std::vector<std::thread> threads;
        for (auto& store : stores) {
            threads.emplace_back([s = store.get()] {
                try {
                    s->migrate();
                } catch (const std::exception& e) {
                    ADD_FAILURE() << e.what();
                }
            });
        }
        for (auto& t : threads) t.join();
        for (auto& store : stores) EXPECT_EQ(store->schema_version(), ledger::kSchemaVersion);
    }
}

// Console sign-ins: kept by digest (a second save replaces), ended one by one, and read back live
// (those expired at the instant asked are deleted on the way).
TEST_P(LedgerStore, ConsoleSessionsAreKeptEndedAndExpire) {
    store_->save_session({"d1", "1 admin c1 5000 ", 5000});
    store_->save_session({"d2", "1 viewer c2 9000 viewer", 9000});
    store_->save_session({"d3", "1 viewer c3 3000 viewer", 3000});
    store_->save_session({"d1", "1 admin c1 7000 ", 7000});  // replaced
    auto live = store_->load_sessions(4000);
    ASSERT_EQ(live.size(), 2u);
    EXPECT_EQ(live[0].digest, "d1");
    EXPECT_EQ(live[0].fields, "1 admin c1 7000 ");
    EXPECT_EQ(live[0].expires_ms, 7000);
    EXPECT_EQ(live[1].digest, "d2");
    store_->delete_session("d2");
    live = store_->load_sessions(0);  // d3 was deleted at 4000
    ASSERT_EQ(live.size(), 1u);
    EXPECT_EQ(live[0].digest, "d1");
}

TEST_P(LedgerStore, ConversationsAreKeptReplacedAndExpire) {
    const std::string items = R"([{"type":"message","role":"user","content":[{"type":"input_text","text":"caf\u00e9 \u2603"}]}])";
    const std::vector<ledger::StoredConversation> first{{"resp_a", items, 2000}, {"resp_b", "[]", 5000}};
    store_->save_conversations(first);
    EXPECT_EQ(store_->load_conversation("resp_a", 1000), items);
    EXPECT_EQ(store_->load_conversation("resp_a", 2000), std::nullopt);  // expired at its instant
    EXPECT_EQ(store_->load_conversation("resp_c", 1000), std::nullopt);
    // Stored again (the same answer id): the new items and expiry win.
    store_->save_conversations(std::vector<ledger::StoredConversation>{{"resp_a", "[1]", 9000}});
    EXPECT_EQ(store_->load_conversation("resp_a", 3000), "[1]");
    EXPECT_EQ(store_->prune_conversations(6000), 1);  // resp_b
    EXPECT_EQ(store_->load_conversation("resp_b", 0), std::nullopt);
    EXPECT_EQ(store_->load_conversation("resp_a", 6000), "[1]");
    EXPECT_EQ(store_->prune_conversations(6000), 0);
    // Another gateway on the same database reads them.
    auto other = ledger::open_store(url_);
    EXPECT_EQ(other->load_conversation("resp_a", 6000), "[1]");
}

INSTANTIATE_TEST_SUITE_P(Backends, LedgerStore, ::testing::Values(Backend::sqlite, Backend::postgres), backend_name);

// What only a server does: a password, bytes it refuses, going away and coming back.
class LedgerStorePostgres : public ::testing::Test {};

TEST_F(LedgerStorePostgres, DescribesWithoutThePassword) {
    const std::string url = fresh_ledger_url(Backend::postgres);
    // Trust authentication ignores the password; it must still never show.
    const std::string secret = "s3cr%21t-pw";
    const std::string where = "127.0.0.1:" + std::to_string(postgres().port()) + url.substr(url.rfind('/'));
    auto store = ledger::open_store("postgres://postgres:" + secret + "@" + where);
    store->migrate();
    EXPECT_EQ(store->describe(), "postgres " + where);
    // A server that is not there: the reason, without the password (as written or decoded).
    const std::string nowhere = "postgres://postgres:" + secret + "@127.0.0.1:" + std::to_string(free_port()) + "/x";
    try {
        ledger::open_store(nowhere);
        ADD_FAILURE() << "no server, yet the store opened";
    } catch (const std::exception& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("cannot connect"), std::string::npos) << what;
        EXPECT_EQ(what.find("s3cr"), std::string::npos) << what;
    }
    try {
        ledger::open_store("postgres://postgres:" + secret + "@127.0.0.1:notaport/x");
        ADD_FAILURE() << "a bad URL was accepted";
    } catch (const std::exception& e) {
        EXPECT_EQ(std::string(e.what()).find("s3cr"), std::string::npos) << e.what();
    }
}

TEST_F(LedgerStorePostgres, BytesThatAreNotUtf8AreStoredReplacedNotRefused) {
    auto store = ledger::open_store(fresh_ledger_url(Backend::postgres));
    store->migrate();
    Row odd = sample_row(1, 1000);
    odd.error = std::string("upstream said \xff\xfe and a NUL \0 here, cut \xe2\x82", 41);
    odd.model = "\xc0\xafmodel";        // an overlong '/'
    odd.upstream = "\xed\xa0\x80x";     // a UTF-16 surrogate
    odd.key = "ok \xf0\x9f\x9a\x82";  // valid: kept as is
    store->insert(std::vector<Row>{odd});  // refused, it would block every row queued behind it
    const auto rows = read_all(*store);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].error, "upstream said \uFFFD\uFFFD and a NUL  here, cut \uFFFD\uFFFD");
    EXPECT_EQ(rows[0].model, "\uFFFD\uFFFDmodel");
    EXPECT_EQ(rows[0].upstream, "\uFFFD\uFFFD\uFFFDx");
    EXPECT_EQ(rows[0].key, odd.key);
}

TEST_F(LedgerStorePostgres, RefusesASchemaNewerThanItKnows) {
    const std::string url = fresh_ledger_url(Backend::postgres);
    auto store = ledger::open_store(url);
    store->migrate();
    postgres().exec(url.substr(url.rfind('/') + 1), "UPDATE switchyard_schema SET version = 99");
    EXPECT_EQ(store->schema_version(), 99);
    try {
        store->migrate();
        ADD_FAILURE() << "migrated a schema from the future";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("newer than this switchyard's"), std::string::npos) << e.what();
    }
    EXPECT_EQ(store->schema_version(), 99);  // rolled back, lock released: the store goes on
    EXPECT_TRUE(store->load_keys().empty());
}

TEST_F(LedgerStorePostgres, ReconnectsAfterTheServerRestarts) {
    const std::string url = fresh_ledger_url(Backend::postgres);
    const std::string secret = "an0ther-secret";
    auto store = ledger::open_store("postgres://postgres:" + secret + "@" + url.substr(url.find('@') + 1));
    store->migrate();
    store->insert(std::vector<Row>{sample_row(1, 1000)});

    postgres().stop(SIGKILL);
    try {
        store->insert(std::vector<Row>{sample_row(2, 2000)});
        ADD_FAILURE() << "insert succeeded with the server killed";
    } catch (const std::exception& e) {
        const std::string what = e.what();
        EXPECT_EQ(what.find(secret), std::string::npos) << what;
        EXPECT_TRUE(what.starts_with(store->describe() + ": ")) << what;
    }
    EXPECT_THROW(store->insert(std::vector<Row>{sample_row(3, 3000)}), std::exception);
    EXPECT_THROW(store->load_keys(), std::exception);

    postgres().start();  // same port, same data dir: recovers from the crash
    store->insert(std::vector<Row>{sample_row(4, 4000)});
    const auto rows = read_all(*store);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].request_id, "req-1");
    EXPECT_EQ(rows[1].request_id, "req-4");

    // A clean restart while the connection is idle: the next call finds it dead and reconnects.
    postgres().stop(SIGINT);
    postgres().start();
    store->insert(std::vector<Row>{sample_row(5, 5000)});
    EXPECT_EQ(read_all(*store).size(), 3u);
}

// The batched writer (ledger::Ledger) on both stores.
class LedgerWriter : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override {
        config_.url = fresh_ledger_url(GetParam());
        config_.flush_interval = 50ms;
        config_.batch_size = 100;
        config_.queue_size = 100'000;
    }
    config::Ledger config_;
};

template <typename Predicate>
bool eventually(Predicate done, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!done()) {
        if (Clock::now() > deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

TEST_P(LedgerWriter, RowsFromManyThreadsAreAllWritten) {
    constexpr int kThreads = 4;
    constexpr int kPerThread = 750;
    {
        ledger::Ledger writer(config_, ledger::open_store(config_.url));
        writer.store().migrate();
        writer.start();
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&writer, t] {
                for (int i = 0; i < kPerThread; ++i) writer.record(sample_row(t * kPerThread + i, 1000 + i));
            });
        }
        for (auto& t : threads) t.join();
        writer.stop();
        const auto stats = writer.stats();
        EXPECT_EQ(stats.written, static_cast<std::uint64_t>(kThreads * kPerThread));
        EXPECT_EQ(stats.lost, 0u);
        EXPECT_EQ(stats.queued, 0u);
    }
    auto store = ledger::open_store(config_.url);
    std::set<std::string> ids;
    for (const Row& row : read_all(*store)) ids.insert(row.request_id);
    EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

// Conversations go through the writer best effort: written within a round; while the database is
// down, dropped and counted (the answering instance holds them in memory), never retried.
TEST_P(LedgerWriter, ConversationsAreWrittenByTheWriter) {
    ledger::Ledger writer(config_, ledger::open_store(config_.url));
    writer.store().migrate();
    writer.start();
    const std::int64_t later = unix_ms() + 60'000;
    for (int i = 0; i < 20; ++i) writer.keep_conversation({"resp_" + std::to_string(i), "[" + std::to_string(i) + "]", later});
    writer.record(sample_row(1, 1000));
    ASSERT_TRUE(eventually([&] { return writer.stats().conversations_saved == 20; }, 5s));
    writer.stop();
    EXPECT_EQ(writer.stats().conversations_dropped, 0u);
    auto store = ledger::open_store(config_.url);
    EXPECT_EQ(store->load_conversation("resp_7", unix_ms()), "[7]");
    EXPECT_EQ(read_all(*store).size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, LedgerWriter, ::testing::Values(Backend::sqlite, Backend::postgres), backend_name);

class LedgerWriterPostgres : public LedgerWriter {};

TEST_P(LedgerWriterPostgres, RowsWaitForTheServerAndAreWrittenWhenItIsBack) {
    ledger::Ledger writer(config_, ledger::open_store(config_.url));
    writer.store().migrate();
    writer.start();
    for (int i = 0; i < 10; ++i) writer.record(sample_row(i, 1000 + i));
    ASSERT_TRUE(eventually([&] { return writer.stats().written == 10; }, 5s));

    postgres().stop(SIGKILL);
    for (int i = 10; i < 60; ++i) writer.record(sample_row(i, 1000 + i));
    ASSERT_TRUE(eventually([&] { return writer.stats().failed_batches >= 2; }, 5s));
    EXPECT_EQ(writer.stats().written, 10u);

    postgres().start();
    // Written within a few flush intervals of the server's return.
    const auto back = Clock::now();
    ASSERT_TRUE(eventually([&] { return writer.stats().written == 60; }, 5s)) << writer.stats().written;
    EXPECT_LT(Clock::now() - back, 10 * config_.flush_interval + 500ms);
    writer.stop();
    EXPECT_EQ(writer.stats().lost, 0u);

    auto store = ledger::open_store(config_.url);
    const auto rows = read_all(*store);
    ASSERT_EQ(rows.size(), 60u);
    for (int i = 0; i < 60; ++i) EXPECT_EQ(rows[static_cast<std::size_t>(i)].request_id, "req-" + std::to_string(i));
}

TEST_P(LedgerWriterPostgres, WithASpoolRowsGoToDiskAndComeBackInOrderOnce) {
    config_.spool_dir = temp_dir() + "/spool-writer-" + std::to_string(++databases);
    ledger::Ledger writer(config_, ledger::open_store(config_.url));
    writer.store().migrate();
    writer.start();
    for (int i = 0; i < 10; ++i) writer.record(sample_row(i, 1000 + i));
    ASSERT_TRUE(eventually([&] { return writer.stats().written == 10; }, 5s));

    postgres().stop(SIGKILL);
    for (int i = 10; i < 260; ++i) writer.record(sample_row(i, 1000 + i));
    ASSERT_TRUE(eventually([&] { return writer.stats().spool_rows == 250; }, 5s)) << writer.stats().spool_rows;
    EXPECT_EQ(writer.stats().spooled, 250u);
    EXPECT_GT(writer.stats().spool_bytes, 250u * 100);
    EXPECT_EQ(writer.stats().queued, 0u);

    postgres().start();
    ASSERT_TRUE(eventually([&] { return writer.stats().replayed == 250; }, 10s)) << writer.stats().replayed;
    writer.stop();
    const auto stats = writer.stats();
    EXPECT_EQ(stats.written, 260u);
    EXPECT_EQ(stats.lost, 0u);
    EXPECT_EQ(stats.spool_rows, 0u);
    EXPECT_EQ(stats.spool_bytes, 0u);

    auto store = ledger::open_store(config_.url);
    const auto rows = read_all(*store);
    ASSERT_EQ(rows.size(), 260u);
    std::set<std::string> uids;
    for (int i = 0; i < 260; ++i) {
        EXPECT_EQ(rows[static_cast<std::size_t>(i)].request_id, "req-" + std::to_string(i));
        uids.insert(rows[static_cast<std::size_t>(i)].uid);
    }
    EXPECT_EQ(uids.size(), 260u);
    EXPECT_FALSE(uids.contains(""));
}

TEST_P(LedgerWriterPostgres, AFullSpoolKeepsRowsInMemoryAndCountsWhatIsLost) {
    config_.spool_dir = temp_dir() + "/spool-full-" + std::to_string(++databases);
    config_.spool_max_bytes = 8 * 1024;  // some 25 rows
    config_.queue_size = 40;
    config_.batch_size = 10;
    ledger::Ledger writer(config_, ledger::open_store(config_.url));
    writer.store().migrate();
    writer.start();
    postgres().stop(SIGKILL);
    for (int i = 0; i < 200; ++i) {
        writer.record(sample_row(i, 1000 + i));
        if (i % 10 == 9) std::this_thread::sleep_for(20ms);  // the writer takes each batch
    }
    ASSERT_TRUE(eventually([&] { return writer.stats().lost > 0 && writer.stats().queued == 40; }, 5s));
    const auto down = writer.stats();
    EXPECT_GT(down.spooled, 10u);
    EXPECT_LE(down.spool_bytes, 8u * 1024);
    EXPECT_EQ(down.spooled + down.queued + down.lost, 200u);

    postgres().start();
    ASSERT_TRUE(eventually([&] { return writer.stats().queued == 0 && writer.stats().spool_rows == 0; }, 10s));
    writer.stop();
    const auto stats = writer.stats();
    EXPECT_EQ(stats.written + stats.lost, 200u);
    EXPECT_EQ(stats.replayed, stats.spooled);
    auto store = ledger::open_store(config_.url);
    EXPECT_EQ(read_all(*store).size(), stats.written);
}

TEST_P(LedgerWriterPostgres, ConversationsTheDatabaseCannotTakeAreDroppedAndCounted) {
    ledger::Ledger writer(config_, ledger::open_store(config_.url));
    writer.store().migrate();
    writer.start();
    postgres().stop(SIGKILL);
    writer.record(sample_row(1, 1000));
    ASSERT_TRUE(eventually([&] { return writer.stats().failed_batches >= 1; }, 5s));
    writer.keep_conversation({"resp_down", "[]", unix_ms() + 60'000});
    ASSERT_TRUE(eventually([&] { return writer.stats().conversations_dropped == 1; }, 5s));
    postgres().start();
    ASSERT_TRUE(eventually([&] { return writer.stats().written == 1; }, 5s));
    writer.keep_conversation({"resp_up", "[]", unix_ms() + 60'000});
    ASSERT_TRUE(eventually([&] { return writer.stats().conversations_saved == 1; }, 5s));
    writer.stop();
    EXPECT_EQ(writer.stats().conversations_dropped, 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, LedgerWriterPostgres, ::testing::Values(Backend::postgres), backend_name);

}  // namespace
}  // namespace switchyard::testing
