// The web console's pure parts: sessions (expiry, the bound, ending a key's sessions) on a
// ManualClock, the samples' quantiles and ring, the masked config text, the config section.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "console/console.hpp"
#include "console/data.hpp"
#include "console/samples.hpp"
#include "console/sessions.hpp"
#include "core/digest.hpp"
#include "metrics/metrics.hpp"

namespace switchyard::console {
namespace {

using namespace std::chrono_literals;

TEST(ConsoleSessions, ExpireAfterTheirTtl) {
    ManualClock clock;
    Sessions sessions(10, 1h, clock);
    const auto opened = sessions.open(Role::viewer, "alice");
    EXPECT_EQ(opened.id.size(), 64u);
    EXPECT_EQ(opened.session.csrf.size(), 64u);
    EXPECT_NE(opened.id, opened.session.csrf);
    ASSERT_TRUE(sessions.find(opened.id));
    EXPECT_EQ(sessions.find(opened.id)->key, "alice");
    clock.advance(59min);
    EXPECT_TRUE(sessions.find(opened.id));
    clock.advance(1min);
    EXPECT_FALSE(sessions.find(opened.id));
    EXPECT_EQ(sessions.size(), 0u);  // ended when found expired
    EXPECT_FALSE(sessions.find("short"));
    EXPECT_FALSE(sessions.find(std::string(64, '0')));
}

TEST(ConsoleSessions, AreBoundedAndEndWithTheirKey) {
    ManualClock clock;
    Sessions sessions(3, 1h, clock);
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) {
        ids.push_back(sessions.open(i % 2 ? Role::admin : Role::viewer, "k" + std::to_string(i % 2)).id);
        clock.advance(1s);
    }
    EXPECT_EQ(sessions.size(), 3u);
    EXPECT_FALSE(sessions.find(ids[0]));  // the ones that would end first went
    EXPECT_FALSE(sessions.find(ids[1]));
    EXPECT_TRUE(sessions.find(ids[2]));
    sessions.close_key("k0");  // ids 2 and 4
    EXPECT_EQ(sessions.size(), 1u);
    EXPECT_TRUE(sessions.find(ids[3]));
    EXPECT_TRUE(sessions.close(ids[3]));
    EXPECT_FALSE(sessions.close(ids[3]));
}

// A fleet's sessions as Redis keeps them (sessions.hpp): the fields as text and back, a key name
// with spaces kept whole, anything else refused; one found there is kept for what is left of it.
TEST(ConsoleSessions, RoundTripThroughTheirRedisFormAndAreAdoptedForWhatIsLeft) {
    ManualClock clock;
    Sessions sessions(2, 1h, clock);
    const auto opened = sessions.open(Role::viewer, "team a key");
    const std::string text = encode(opened.session);
    const auto back = decode(text);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->role, Role::viewer);
    EXPECT_EQ(back->key, "team a key");
    EXPECT_EQ(back->csrf, opened.session.csrf);
    EXPECT_EQ(back->expires_unix_ms, opened.session.expires_unix_ms);
    Session master;
    master.role = Role::admin;
    master.csrf = std::string(64, 'a');
    master.expires_unix_ms = 1767225600000;
    EXPECT_EQ(decode(encode(master))->key, "");  // the master key's session: no key name
    const std::string csrf(64, 'a');
    for (const std::string& bad : std::vector<std::string>{"", "1 admin", "2 admin " + csrf + " 1 k", "1 root " + csrf + " 1 k",
                                                           "1 admin short 1 k", "1 admin " + csrf + " soon k"}) {
        EXPECT_FALSE(decode(bad)) << bad;
    }
    EXPECT_EQ(session_key("switchyard", opened.id), "switchyard:console:session:" + sha256_hex(opened.id));

    Sessions other(2, 1h, clock);
    const std::string id = std::string(64, '7');
    other.adopt(id, *back, 10min);
    ASSERT_TRUE(other.find(id));
    EXPECT_EQ(other.find(id)->key, "team a key");
    clock.advance(10min);
    EXPECT_FALSE(other.find(id));  // what was left of it, not a new TTL
    // Within the bound, as sign-ins are.
    other.adopt(std::string(64, '1'), master, 30min);
    other.adopt(std::string(64, '2'), master, 20min);
    other.adopt(std::string(64, '3'), master, 40min);
    EXPECT_EQ(other.size(), 2u);
    EXPECT_FALSE(other.find(std::string(64, '2')));
}

TEST(ConsoleSamples, QuantilesInterpolateWithinBuckets) {
    std::array<std::uint64_t, 17> counts{};
    EXPECT_EQ(quantile_ms(counts, metrics::kBuckets, 0.5), -1);
    counts[3] = 10;  // all in (25 ms, 50 ms]
    EXPECT_DOUBLE_EQ(quantile_ms(counts, metrics::kBuckets, 0.5), 37.5);
    EXPECT_DOUBLE_EQ(quantile_ms(counts, metrics::kBuckets, 1.0), 50);
    counts[16] = 90;  // beyond the last bound: the last bound, as Prometheus says
    EXPECT_DOUBLE_EQ(quantile_ms(counts, metrics::kBuckets, 0.99), 600'000);
}

TEST(ConsoleSamples, KeepDifferencesInABoundedRing) {
    Samples samples(60);
    Totals totals;
    samples.add(totals, 1'000, 0, 0);  // the first reading only starts
    EXPECT_NE(samples.json(1, 0).find("\"samples\":[]"), std::string::npos);
    for (int i = 1; i <= 100; ++i) {
        totals.requests += 2;
        totals.local += 1;
        totals.cloud += 1;
        totals.duration[4] += 2;
        samples.add(totals, 1'000 + i * 1'000, 3, 4);
    }
    const std::string json = samples.json(1, 0);
    std::size_t n = 0;
    for (auto at = json.find("\"t\":"); at != std::string::npos; at = json.find("\"t\":", at + 1)) ++n;
    EXPECT_EQ(n, 60u);  // the capacity
    EXPECT_NE(json.find("{\"t\":42000,"), std::string::npos);  // the oldest kept: sample 41 went first
    EXPECT_EQ(json.find("{\"t\":41000,"), std::string::npos);
    EXPECT_NE(json.find("\"requests\":2,"), std::string::npos);
    EXPECT_NE(json.find("\"totals\":{\"requests\":200,"), std::string::npos);
    EXPECT_NE(json.find("\"p50_ms\":75,"), std::string::npos) << json.substr(0, 400);
    const std::string newer = samples.json(1, 100'000);
    EXPECT_NE(newer.find("{\"t\":101000,"), std::string::npos);
    EXPECT_EQ(newer.find("{\"t\":100000,"), std::string::npos);
}

// Spend and cost answers read the whole period from the ledger: kept per query, re-read when old
// (10 s) or when the ledger wrote rows since (after a second), one read at a time while one is kept.
TEST(ConsoleReportCache, KeepsAnAnswerWhileFreshAndReadsItAgainOnceAtATime) {
    using namespace std::chrono_literals;
    ReportCache cache;
    const ReportCache::Clock::time_point t0{};
    const auto at = [&](auto d) { return t0 + 100s + d; };
    EXPECT_FALSE(cache.get_or_begin("spend?hours=24", at(0ms), 5));  // read it
    cache.put("spend?hours=24", "A", at(20ms), 5);
    EXPECT_EQ(cache.get_or_begin("spend?hours=24", at(5s), 5), "A");     // no row written since
    EXPECT_EQ(cache.get_or_begin("spend?hours=24", at(500ms), 6), "A");  // rows written, under a second old
    EXPECT_FALSE(cache.get_or_begin("spend?hours=24", at(2s), 6));       // rows written, older: read again
    EXPECT_EQ(cache.get_or_begin("spend?hours=24", at(2100ms), 7), "A");  // meanwhile the kept one
    cache.put("spend?hours=24", "B", at(2200ms), 6);
    EXPECT_EQ(cache.get_or_begin("spend?hours=24", at(2300ms), 6), "B");
    EXPECT_FALSE(cache.get_or_begin("spend?hours=24", at(13s), 6));  // older than 10 s
    cache.abandon("spend?hours=24");                                  // that read failed
    EXPECT_FALSE(cache.get_or_begin("spend?hours=24", at(13100ms), 6));
    EXPECT_EQ(cache.get_or_begin("spend?hours=24", at(14s), 6), "B");
    EXPECT_FALSE(cache.get_or_begin("spend?hours=24", at(75s), 6));  // a read stuck for a minute: again
    EXPECT_FALSE(cache.get_or_begin("cost?hours=24", at(75s), 6));   // another query, its own answer

    // Bounded: the query asked least recently goes first.
    for (int i = 0; i < static_cast<int>(ReportCache::kEntries); ++i) {
        const std::string key = "q" + std::to_string(i);
        cache.get_or_begin(key, at(80s + std::chrono::milliseconds(i)), 6);
        cache.put(key, key, at(80s + std::chrono::milliseconds(i)), 6);
    }
    EXPECT_EQ(cache.get_or_begin("q31", at(81s), 6), "q31");
    EXPECT_FALSE(cache.get_or_begin("spend?hours=24", at(81s), 6));  // evicted: nothing kept
}

TEST(ConsoleConfig, SecretsAreMaskedAndVariablesNamed) {
    const std::string json = masked_config_json(R"(
auth: {master_key: "${MASTER}"}
upstreams:
  - {name: a, api_key: sk-literal-000000000001, headers: {x-team: secret-header}, base_url: "https://u:pw@h/v1"}
keys:
  - {name: alice, key: sk-alice-0000000001, key_sha256: abc}
state: {url: "redis://:hunter2@localhost:6379"}
)");
    EXPECT_NE(json.find(R"("master_key":"${MASTER}")"), std::string::npos) << json;
    EXPECT_EQ(json.find("sk-literal"), std::string::npos) << json;
    EXPECT_EQ(json.find("secret-header"), std::string::npos) << json;
    EXPECT_EQ(json.find("sk-alice"), std::string::npos) << json;
    EXPECT_EQ(json.find("hunter2"), std::string::npos) << json;
    EXPECT_EQ(json.find(":pw@"), std::string::npos) << json;
    EXPECT_NE(json.find(R"("key_sha256":"abc")"), std::string::npos) << json;
    EXPECT_NE(json.find(R"("name":"alice")"), std::string::npos) << json;
    EXPECT_EQ(masked_config_json("a: [unclosed"), "null");
    // Numbers and booleans written plainly stay numbers and booleans; anything quoted or not a
    // JSON literal is a string.
    EXPECT_EQ(masked_config_json(R"(a: {port: 8080, u: 0.5, on: true, q: "8080", t: 1s, h: 0x10, y: yes, z: 012, e: -1e3})"),
              R"({"a":{"port":8080,"u":0.5,"on":true,"q":"8080","t":"1s","h":"0x10","y":"yes","z":"012","e":-1e3}})");
}

TEST(ConsoleConfig, Section) {
    const auto load = [](const std::string& console) {
        return config::load_string("console: " + console + "\nupstreams: [{name: a, type: openai, base_url: http://h}]\n"
                                   "models: [{name: m, deployments: [{upstream: a}]}]\n");
    };
    auto off = load("false");
    ASSERT_TRUE(off.gateway) << (off.errors.empty() ? "" : config::to_string(off.errors[0]));
    EXPECT_FALSE(off.gateway->console.enabled);
    auto custom = load("{path: /console/, session_ttl: 30m, max_sessions: 5, secure_cookie: true, sample_interval: 2s}");
    ASSERT_TRUE(custom.gateway) << (custom.errors.empty() ? "" : custom.errors[0].message);
    EXPECT_EQ(custom.gateway->console.path, "/console/");
    EXPECT_EQ(custom.gateway->console.session_ttl, 30min);
    EXPECT_EQ(custom.gateway->console.max_sessions, 5u);
    EXPECT_TRUE(custom.gateway->console.secure_cookie);
    EXPECT_FALSE(load("{path: ui}").gateway);
    EXPECT_FALSE(load("{path: /v1/}").gateway);
    EXPECT_FALSE(load("{path: \"/a b/\"}").gateway);
    EXPECT_FALSE(load("{sample_interval: 100ms}").gateway);
    EXPECT_FALSE(load("maybe").gateway);
}

TEST(ConsoleConfig, KeyRoles) {
    const std::string base =
        "upstreams: [{name: a, type: openai, base_url: http://h}]\nmodels: [{name: m, deployments: [{upstream: a}]}]\n";
    auto good = config::load_string(base + "keys: [{name: v, key: sk-aaaaaaaaaaaa, role: viewer}]\n");
    ASSERT_TRUE(good.gateway) << (good.errors.empty() ? "" : config::to_string(good.errors[0]));
    EXPECT_EQ(good.gateway->keys[0].role, "viewer");
    auto bad = config::load_string(base + "keys: [{name: v, key: sk-aaaaaaaaaaaa, role: root}]\n");
    ASSERT_FALSE(bad.gateway);
    EXPECT_NE(bad.errors[0].message.find("'viewer' (read only) or 'admin'"), std::string::npos);
}

TEST(ConsoleCookies, ValueOfOneCookie) {
    EXPECT_EQ(cookie_value("a=1; switchyard_session=abc; b=2", kSessionCookie), "abc");
    EXPECT_EQ(cookie_value("switchyard_session=x", kSessionCookie), "x");
    EXPECT_EQ(cookie_value("xswitchyard_session=x", kSessionCookie), "");
    EXPECT_EQ(cookie_value("", kSessionCookie), "");
}

}  // namespace
}  // namespace switchyard::console
