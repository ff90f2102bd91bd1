// The web console's HTTP side (src/console) against the real gateway: the embedded assets with
// their ETags and security headers, sign-in and the session cookie, CSRF, same-origin and role
// checks, the session bound, and the JSON endpoints its pages read, after real traffic.
#include <gtest/gtest.h>

#include <simdjson.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "harness.hpp"
#include "ledger/store.hpp"

using namespace std::chrono_literals;

namespace switchyard::testing {
namespace {

constexpr const char* kMaster = "master-secret-0001";

// A gateway with the master key, a viewer key, an admin key, a key without a role, an upstream
// api_key written in the file, a SQLite ledger, and `console` as given.
std::string config(const Sim& sim, const std::string& console = "{sample_interval: 1s}") {
    return R"(
listeners: [{address: 127.0.0.1, port: 0}]
auth: {master_key: "${MASTER_KEY}"}
console: )" + console + R"(
keys:
  - {name: viewer, key: sk-viewer-000000000001, role: viewer}
  - {name: boss, key: sk-boss-0000000000001, role: admin}
  - {name: caller, key: sk-caller-000000000001}
ledger: {url: )" + temp_dir() + "/console-" + std::to_string(::getpid()) + "-" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + R"(.db, flush_interval: 100ms}
upstreams:
  - {name: cloud, type: openai, base_url: )" + sim.url() + R"(/v1, api_key: sk-upstream-literal-secret-123}
models:
  - name: m
    deployments: [{upstream: cloud, model: sim-m}]
)";
}

const std::map<std::string, std::string> kEnv{{"MASTER_KEY", kMaster}};

struct Signed {
    std::string cookie;  // "switchyard_session=..."
    std::string csrf;
    Response response;
};

std::string json_string(const std::string& body, const std::string& field) {
    std::smatch m;
    const std::regex re("\"" + field + "\":\"([^\"]*)\"");
    return std::regex_search(body, m, re) ? m[1].str() : "";
}

Signed sign_in(int port, const std::string& key, const std::string& path = "/ui/") {
    Signed out;
    out.response = post(port, path + "api/session", R"({"key":")" + key + R"("})",
                        {{"content-type", "application/json"},
                         {"host", "127.0.0.1:" + std::to_string(port)},
                         {"origin", "http://127.0.0.1:" + std::to_string(port)}});
    const std::string set = out.response.header("set-cookie");
    out.cookie = set.substr(0, set.find(';'));
    out.csrf = json_string(out.response.body, "csrf");
    return out;
}

std::map<std::string, std::string> as(const Signed& s, bool with_csrf = true) {
    std::map<std::string, std::string> headers{{"cookie", s.cookie}, {"content-type", "application/json"}};
    if (with_csrf) headers["x-csrf-token"] = s.csrf;
    return headers;
}

void expect_secured(const Response& r) {
    const std::string policy = r.header("content-security-policy");
    EXPECT_NE(policy.find("default-src 'self'"), std::string::npos) << policy;
    EXPECT_NE(policy.find("script-src 'self'"), std::string::npos) << policy;
    EXPECT_NE(policy.find("frame-ancestors 'none'"), std::string::npos) << policy;
    EXPECT_EQ(policy.find("unsafe-inline"), std::string::npos) << policy;
    EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
}

std::size_t occurrences(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
    return n;
}

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout = 10s) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        if (predicate()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return predicate();
}

TEST(ConsoleAssets, EmbeddedFilesWithEtagsAndAStrictPolicy) {
    Sim sim = start_sim();
    auto gateway = start_gateway(config(sim), kEnv);

    const Response index = get(gateway.port, "/ui/");
    ASSERT_EQ(index.status, 200) << index.body;
    EXPECT_EQ(index.header("content-type"), "text/html; charset=utf-8");
    expect_secured(index);
    EXPECT_EQ(index.header("cache-control"), "no-cache");
    EXPECT_NE(index.body.find(R"(<script type="module" src="app.js"></script>)"), std::string::npos);
    // No inline script or style: every <script> has a src, no style attribute or element.
    EXPECT_EQ(std::regex_search(index.body, std::regex("<script(?![^>]*src=)")), false);
    EXPECT_EQ(index.body.find("<style"), std::string::npos);
    EXPECT_EQ(index.body.find("style="), std::string::npos);

    const Response app = get(gateway.port, "/ui/app.js");
    ASSERT_EQ(app.status, 200);
    EXPECT_EQ(app.header("content-type"), "text/javascript; charset=utf-8");
    expect_secured(app);
    const std::string etag = app.header("etag");
    ASSERT_TRUE(std::regex_match(etag, std::regex("\"[0-9a-f]{32}\""))) << etag;
    EXPECT_EQ(get(gateway.port, "/ui/style.css").header("content-type"), "text/css; charset=utf-8");
    EXPECT_NE(get(gateway.port, "/ui/style.css").header("etag"), etag);  // a digest of each file

    const Response same = get(gateway.port, "/ui/app.js", {{"if-none-match", etag}});
    EXPECT_EQ(same.status, 304);
    EXPECT_TRUE(same.body.empty());
    EXPECT_EQ(same.header("etag"), etag);
    EXPECT_EQ(get(gateway.port, "/ui/app.js", {{"if-none-match", "W/" + etag + ", \"other\""}}).status, 304);
    EXPECT_EQ(get(gateway.port, "/ui/app.js", {{"if-none-match", "\"0123\""}}).status, 200);

    const Response bare = get(gateway.port, "/ui");
    EXPECT_EQ(bare.status, 308);
    EXPECT_EQ(bare.header("location"), "/ui/");
    const Response missing = get(gateway.port, "/ui/nothing.js");
    EXPECT_EQ(missing.status, 404);
    expect_secured(missing);
    EXPECT_EQ(post(gateway.port, "/ui/app.js", "").status, 405);
    // The model API is untouched beside it.
    EXPECT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("m"),
                   {{"authorization", "Bearer sk-caller-000000000001"}})
                  .status,
              200);
}

TEST(ConsoleAssets, OffOrElsewhere) {
    Sim sim = start_sim();
    auto off = start_gateway(config(sim, "false"), kEnv);
    EXPECT_EQ(get(off.port, "/ui/").status, 404);
    EXPECT_EQ(post(off.port, "/ui/api/session", R"({"key":"master-secret-0001"})").status, 404);

    auto moved = start_gateway(config(sim, "{path: /console/}"), kEnv);
    EXPECT_EQ(get(moved.port, "/ui/").status, 404);
    EXPECT_EQ(get(moved.port, "/console/").status, 200);
    const Signed s = sign_in(moved.port, kMaster, "/console/");
    ASSERT_EQ(s.response.status, 201) << s.response.body;
    EXPECT_NE(s.response.header("set-cookie").find("Path=/console/;"), std::string::npos);
}

TEST(ConsoleAuth, SignInGivesAStrictCookieAndNoSecret) {
    Sim sim = start_sim();
    auto gateway = start_gateway(config(sim, "{session_ttl: 2h}"), kEnv);
    const int port = gateway.port;

    const Signed master = sign_in(port, kMaster);
    ASSERT_EQ(master.response.status, 201) << master.response.body;
    expect_secured(master.response);
    EXPECT_EQ(master.response.header("cache-control"), "no-store");
    const std::string cookie = master.response.header("set-cookie");
    EXPECT_TRUE(std::regex_match(master.cookie, std::regex("switchyard_session=[0-9a-f]{64}"))) << cookie;
    EXPECT_NE(cookie.find("; Path=/ui/;"), std::string::npos) << cookie;
    EXPECT_NE(cookie.find("; Max-Age=7200;"), std::string::npos) << cookie;
    EXPECT_NE(cookie.find("; HttpOnly"), std::string::npos) << cookie;
    EXPECT_NE(cookie.find("; SameSite=Strict"), std::string::npos) << cookie;
    EXPECT_EQ(cookie.find("Secure"), std::string::npos) << cookie;  // a plain listener
    EXPECT_NE(master.response.body.find(R"("role":"admin")"), std::string::npos);
    EXPECT_EQ(master.response.body.find(kMaster), std::string::npos);
    EXPECT_EQ(master.csrf.size(), 64u);

    // Wrong keys, a key without a role, a sign-in from another site.
    EXPECT_EQ(sign_in(port, "sk-not-a-key-00000001").response.status, 401);
    const Signed caller = sign_in(port, "sk-caller-000000000001");
    EXPECT_EQ(caller.response.status, 403);
    EXPECT_NE(caller.response.body.find("no_console_role"), std::string::npos);
    EXPECT_TRUE(caller.cookie.empty());
    EXPECT_EQ(post(port, "/ui/api/session", R"({"key":"master-secret-0001"})", {{"origin", "http://evil.example"}}).status,
              403);
    EXPECT_EQ(post(port, "/ui/api/session", "not json").status, 400);

    // The session reads; without it nothing does.
    EXPECT_EQ(get(port, "/ui/api/keys").status, 401);
    EXPECT_EQ(get(port, "/ui/api/keys", {{"cookie", "switchyard_session=" + std::string(64, 'a')}}).status, 401);
    const Response keys = get(port, "/ui/api/keys", as(master));
    ASSERT_EQ(keys.status, 200) << keys.body;
    expect_secured(keys);
    EXPECT_NE(keys.body.find(R"("role":"viewer")"), std::string::npos);
    EXPECT_EQ(keys.body.find("sk-viewer-000000000001"), std::string::npos);
    const Response session = get(port, "/ui/api/session", as(master, false));
    EXPECT_EQ(json_string(session.body, "csrf"), master.csrf);
    EXPECT_EQ(get(port, "/ui/api/session").body, R"({"role":null})");

    // Signing out needs the CSRF token, then ends the session and clears the cookie.
    EXPECT_EQ(request(port, "DELETE", "/ui/api/session", "", as(master, false)).status, 403);
    const Response out = request(port, "DELETE", "/ui/api/session", "", as(master));
    EXPECT_EQ(out.status, 200);
    EXPECT_NE(out.header("set-cookie").find("Max-Age=0"), std::string::npos);
    EXPECT_EQ(get(port, "/ui/api/keys", as(master)).status, 401);
}

TEST(ConsoleAuth, SecureCookieWhenAsked) {
    Sim sim = start_sim();
    auto gateway = start_gateway(config(sim, "{secure_cookie: true}"), kEnv);
    const Signed s = sign_in(gateway.port, kMaster);
    ASSERT_EQ(s.response.status, 201);
    EXPECT_NE(s.response.header("set-cookie").find("; Secure"), std::string::npos);
}

TEST(ConsoleAuth, ViewerReadsOnlyAndChangesNeedCsrfAndTheSameOrigin) {
    Sim sim = start_sim();
    auto gateway = start_gateway(config(sim), kEnv);
    const int port = gateway.port;
    const std::string create = R"({"name":"<img src=x onerror=alert(1)>","role":"viewer"})";

    const Signed viewer = sign_in(port, "sk-viewer-000000000001");
    ASSERT_EQ(viewer.response.status, 201);
    EXPECT_NE(viewer.response.body.find(R"("role":"viewer","key":"viewer")"), std::string::npos);
    EXPECT_EQ(get(port, "/ui/api/models", as(viewer)).status, 200);
    EXPECT_EQ(get(port, "/ui/api/engines", as(viewer)).status, 200);
    const Response refused = post(port, "/ui/api/keys", create, as(viewer));
    EXPECT_EQ(refused.status, 403);
    EXPECT_NE(refused.body.find("console_read_only"), std::string::npos);
    EXPECT_EQ(post(port, "/ui/api/reload", "", as(viewer)).status, 403);

    const Signed boss = sign_in(port, "sk-boss-0000000000001");
    ASSERT_EQ(boss.response.status, 201);
    const Response no_token = post(port, "/ui/api/keys", create, as(boss, false));
    EXPECT_EQ(no_token.status, 403);
    EXPECT_NE(no_token.body.find("csrf_token_invalid"), std::string::npos);
    auto wrong = as(boss);
    wrong["x-csrf-token"] = viewer.csrf;  // another session's token
    EXPECT_EQ(post(port, "/ui/api/keys", create, wrong).status, 403);
    auto cross = as(boss);
    cross["origin"] = "http://evil.example";
    EXPECT_EQ(post(port, "/ui/api/keys", create, cross).status, 403);
    auto site = as(boss);
    site["sec-fetch-site"] = "cross-site";
    EXPECT_EQ(post(port, "/ui/api/keys", create, site).status, 403);

    auto good = as(boss);
    good["host"] = "127.0.0.1:" + std::to_string(port);
    good["origin"] = "http://127.0.0.1:" + std::to_string(port);
    const Response made = post(port, "/ui/api/keys", create, good);
    ASSERT_EQ(made.status, 201) << made.body;
    const std::string secret = json_string(made.body, "key");
    EXPECT_EQ(secret.rfind("sk-sy-", 0), 0u);
    // The secret is shown that once; the list holds the name, escaped as JSON, and no secret.
    const Response listed = get(port, "/ui/api/keys", as(boss));
    EXPECT_NE(listed.body.find(R"("name":"<img src=x onerror=alert(1)>")"), std::string::npos);
    EXPECT_EQ(listed.body.find(secret), std::string::npos);
    // The new key signs in as a viewer; revoking it ends that session at once.
    const Signed created = sign_in(port, secret);
    ASSERT_EQ(created.response.status, 201);
    EXPECT_EQ(get(port, "/ui/api/keys", as(created)).status, 200);
    EXPECT_EQ(request(port, "DELETE", "/ui/api/keys/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", "", as(viewer)).status,
              403);
    const Response gone = request(port, "DELETE", "/ui/api/keys/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", "", good);
    EXPECT_EQ(gone.status, 200) << gone.body;
    EXPECT_NE(gone.body.find(R"("revoked":true)"), std::string::npos);
    EXPECT_EQ(get(port, "/ui/api/keys", as(created)).status, 401);
}

TEST(ConsoleAuth, SessionsAreBounded) {
    Sim sim = start_sim();
    auto gateway = start_gateway(config(sim, "{max_sessions: 2}"), kEnv);
    const Signed first = sign_in(gateway.port, kMaster);
    std::this_thread::sleep_for(5ms);
    const Signed second = sign_in(gateway.port, "sk-viewer-000000000001");
    std::this_thread::sleep_for(5ms);
    const Signed third = sign_in(gateway.port, "sk-boss-0000000000001");
    EXPECT_EQ(get(gateway.port, "/ui/api/models", as(first)).status, 401);  // the oldest went
    EXPECT_EQ(get(gateway.port, "/ui/api/models", as(second)).status, 200);
    EXPECT_EQ(get(gateway.port, "/ui/api/models", as(third)).status, 200);
}

// A fleet (`state:` Redis) shares its console sessions: signed in on one instance, the same cookie
// works on another and after the first restarts; signed out on one, it is out on all. Redis holds
// the session with its TTL, under its id's digest.
TEST(ConsoleAuth, AFleetSharesSessionsThroughRedisAndARestartKeepsThem) {
    if (!redis_available()) GTEST_SKIP() << "redis-server not found";
    RedisServer redis;
    Sim sim = start_sim();
    std::string yaml = config(sim, "{session_ttl: 1h}");
    yaml += "state: {url: \"" + redis.url() + "\", sync_interval: 100ms}\n";
    auto a = std::make_unique<Gateway>(start_gateway(yaml, kEnv));
    auto b = start_gateway(yaml, kEnv);

    const Signed admin = sign_in(a->port, kMaster);
    ASSERT_EQ(admin.response.status, 201) << admin.response.body;
    const Response on_b = get(b.port, "/ui/api/session", as(admin, false));
    ASSERT_EQ(on_b.status, 200) << on_b.body;
    EXPECT_EQ(json_string(on_b.body, "role"), "admin");
    EXPECT_EQ(json_string(on_b.body, "csrf"), admin.csrf);  // one session, one token, whichever instance
    EXPECT_EQ(get(b.port, "/ui/api/models", as(admin)).status, 200);
    // In Redis with its TTL, under the id's digest (the cookie's value is not a key there).
    const std::string id = admin.cookie.substr(admin.cookie.find('=') + 1);
    EXPECT_EQ(redis.command("EXISTS switchyard:console:session:" + id), ":0");
    const std::string ttl = redis.command("EVAL \"local k = redis.call('KEYS', 'switchyard:console:session:*') "
                                          "return redis.call('PTTL', k[1])\" 0");
    ASSERT_EQ(ttl.substr(0, 1), ":") << ttl;
    EXPECT_GT(std::stoll(ttl.substr(1)), 3'500'000);
    EXPECT_LE(std::stoll(ttl.substr(1)), 3'600'000);

    // The instance that signed it in restarts: the session is still good there.
    a.reset();
    a = std::make_unique<Gateway>(start_gateway(yaml, kEnv));
    EXPECT_EQ(get(a->port, "/ui/api/models", as(admin)).status, 200);

    // Signed out on b: out on a too, at once.
    EXPECT_EQ(request(b.port, "DELETE", "/ui/api/session", "", as(admin)).status, 200);
    EXPECT_EQ(get(a->port, "/ui/api/models", as(admin)).status, 401);
    EXPECT_EQ(get(a->port, "/ui/api/session", as(admin, false)).body, R"({"role":null})");

    // A session the other instance has taken in (b, here) ends there too when signed out on a.
    const Signed viewer = sign_in(a->port, "sk-viewer-000000000001");
    ASSERT_EQ(viewer.response.status, 201);
    EXPECT_EQ(get(b.port, "/ui/api/models", as(viewer)).status, 200);
    EXPECT_EQ(request(a->port, "DELETE", "/ui/api/session", "", as(viewer)).status, 200);
    EXPECT_EQ(get(b.port, "/ui/api/models", as(viewer)).status, 401);
}

// Without a fleet, the ledger's database keeps the sign-ins: a restarted gateway knows the cookie
// (its role and CSRF token too); signing out, or the key's revocation, ends a sign-in for the next
// start as well. The database holds the id's digest, never the id.
TEST(ConsoleAuth, ARestartKeepsSignInsInTheLedgersDatabase) {
    Sim sim = start_sim();
    const std::string yaml = config(sim, "{session_ttl: 1h}");
    const auto at = yaml.find("ledger: {url: ") + 14;
    const std::string db = yaml.substr(at, yaml.find(',', at) - at);
    const auto kept = [&db] {
        auto store = ledger::open_store(db);
        return store->load_sessions(0);
    };
    const std::map<std::string, std::string> master{{"authorization", std::string("Bearer ") + kMaster},
                                                    {"content-type", "application/json"}};
    auto gateway = std::make_unique<Gateway>(start_gateway(yaml, kEnv));
    const int port = gateway->port;
    const Signed admin = sign_in(port, kMaster);
    const Signed viewer = sign_in(port, "sk-viewer-000000000001");
    const Response made = post(port, "/admin/keys", R"({"name":"temp-viewer","role":"viewer"})", master);
    ASSERT_EQ(made.status, 201) << made.body;
    const Signed temp = sign_in(port, json_string(made.body, "key"));
    for (const Signed* s : {&admin, &viewer, &temp}) ASSERT_EQ(s->response.status, 201) << s->response.body;
    EXPECT_TRUE(eventually([&] { return kept().size() == 3; }));
    const std::string admin_id = admin.cookie.substr(admin.cookie.find('=') + 1);
    for (const auto& session : kept()) {
        EXPECT_EQ(session.digest.size(), 64u);
        EXPECT_EQ(session.fields.find(admin_id), std::string::npos);
        EXPECT_NE(session.digest, admin_id);
    }
    // The viewer signs out, the temporary key is revoked: only the admin's sign-in is left.
    EXPECT_EQ(request(port, "DELETE", "/ui/api/session", "", as(viewer)).status, 200);
    EXPECT_EQ(request(port, "DELETE", "/admin/keys/temp-viewer", "", master).status, 200);
    EXPECT_TRUE(eventually([&] { return kept().size() == 1; }));

    gateway.reset();
    gateway = std::make_unique<Gateway>(start_gateway(yaml, kEnv));
    const Response again = get(gateway->port, "/ui/api/session", as(admin, false));
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(json_string(again.body, "role"), "admin");
    EXPECT_EQ(json_string(again.body, "csrf"), admin.csrf);
    EXPECT_EQ(get(gateway->port, "/ui/api/models", as(admin)).status, 200);
    EXPECT_EQ(post(gateway->port, "/ui/api/keys", R"({"name":"made-after-restart"})", as(admin)).status, 201);
    EXPECT_EQ(get(gateway->port, "/ui/api/session", as(viewer, false)).body, R"({"role":null})");
    EXPECT_EQ(get(gateway->port, "/ui/api/models", as(temp)).status, 401);
}

TEST(ConsoleData, PagesReadTheTrafficTheLedgerAndAMaskedConfig) {
    Sim sim = start_sim({"--ttft-ms", "5", "--tokens", "4"});
    auto gateway = start_gateway(config(sim), kEnv);
    const int port = gateway.port;
    const std::map<std::string, std::string> caller{{"authorization", "Bearer sk-caller-000000000001"},
                                                    {"x-request-id", "console-req-1"}};
    for (int i = 0; i < 5; ++i) ASSERT_EQ(post(port, "/v1/chat/completions", chat_body("m"), caller).status, 200);
    EXPECT_EQ(post(port, "/v1/chat/completions", chat_body("nope"), caller).status, 404);
    const Signed viewer = sign_in(port, "sk-viewer-000000000001");
    const std::map<std::string, std::string> master{{"authorization", std::string("Bearer ") + kMaster}};

    // The samples (one a second here) count the six requests; the admin API serves the same.
    std::string overview;
    EXPECT_TRUE(eventually([&] {
        overview = get(port, "/ui/api/overview", as(viewer)).body;
        return overview.find(R"("totals":{"requests":6,)") != std::string::npos;
    })) << overview;
    EXPECT_NE(overview.find(R"("interval_s":1)"), std::string::npos);
    EXPECT_NE(overview.find(R"("cloud":5)"), std::string::npos) << overview;
    EXPECT_EQ(get(port, "/admin/overview", master).status, 200);
    EXPECT_EQ(get(port, "/admin/overview").status, 401);

    std::string rows;
    EXPECT_TRUE(eventually([&] {
        rows = get(port, "/ui/api/requests?key=caller&status=2xx", as(viewer)).body;
        return occurrences(rows, "\"request_id\"") == 5;
    })) << rows;
    EXPECT_NE(rows.find(R"("request_id":"console-req-1")"), std::string::npos);
    EXPECT_EQ(rows.find(R"("status":404)"), std::string::npos);
    const std::string errors = get(port, "/ui/api/requests?status=4xx", as(viewer)).body;
    EXPECT_NE(errors.find(R"("status":404)"), std::string::npos) << errors;
    EXPECT_NE(get(port, "/ui/api/requests?model=nope", as(viewer)).body.find(R"("model":"nope")"), std::string::npos);
    EXPECT_EQ(get(port, "/ui/api/requests?model=other", as(viewer)).body, R"({"object":"list","ledger":true,"data":[]})");
    const Response one = get(port, "/ui/api/requests/console-req-1", as(viewer));
    EXPECT_EQ(one.status, 200);
    EXPECT_NE(one.body.find(R"("deployment":)"), std::string::npos);
    EXPECT_EQ(get(port, "/ui/api/requests/unknown-id", as(viewer)).status, 404);

    const std::string spend = get(port, "/ui/api/spend?hours=1", as(viewer)).body;
    EXPECT_NE(spend.find(R"("by_key":[{"name":"caller","requests":6,)"), std::string::npos) << spend;
    EXPECT_NE(spend.find(R"("by_locality":[{"name":"cloud","requests":5,)"), std::string::npos) << spend;

    // The config as written, secrets masked, variables named.
    const std::string shown = get(port, "/ui/api/config", as(viewer)).body;
    EXPECT_NE(shown.find(R"("generation":1)"), std::string::npos) << shown;
    EXPECT_EQ(shown.find("sk-upstream-literal-secret-123"), std::string::npos) << shown;
    EXPECT_EQ(shown.find("sk-viewer-000000000001"), std::string::npos) << shown;
    EXPECT_NE(shown.find(R"("api_key":"********")"), std::string::npos) << shown;
    EXPECT_NE(shown.find(R"("master_key":"${MASTER_KEY}")"), std::string::npos) << shown;
}


// A gateway whose model `m` goes to a cloud upstream and `lm` to a local one with a cost model (both
// the simulator), so that `switchyard cost` has an all-local option with a break-even.
std::string hybrid_config(const Sim& sim, const std::string& ledger_path) {
    return R"(
listeners: [{address: 127.0.0.1, port: 0}]
auth: {master_key: "${MASTER_KEY}"}
console: {sample_interval: 1s}
keys:
  - {name: viewer, key: sk-viewer-000000000001, role: viewer}
  - {name: boss, key: sk-boss-0000000000001, role: admin}
  - {name: caller, key: sk-caller-000000000001}
ledger: {url: )" + ledger_path + R"(, flush_interval: 100ms}
upstreams:
  - {name: cloud, type: openai, base_url: )" + sim.url() + R"(/v1}
  - name: box
    type: openai
    base_url: )" + sim.url() + R"(/v1
    local: true
    cost: {hardware_usd: 300, lifetime_months: 36, power_watts: 0, ops_usd_per_month: 0}
models:
  - name: m
    deployments: [{upstream: cloud, model: sim-m}]
  - name: lm
    deployments: [{upstream: box, model: sim-local}]
)";
}

std::string ledger_file(const std::string& name) {
    return temp_dir() + "/" + name + "-" + std::to_string(::getpid()) + "-" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + ".db";
}

std::map<std::string, std::string> same_origin(const Signed& s, int port) {
    auto headers = as(s);
    headers["host"] = "127.0.0.1:" + std::to_string(port);
    headers["origin"] = "http://127.0.0.1:" + std::to_string(port);
    return headers;
}

// "2026-12-07T14:03:05Z" for Unix ms, rounded down (or up) to the second.
std::string utc_text(std::int64_t ms, bool up) {
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000 + (up && ms % 1000 ? 1 : 0));
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

struct CliRun {
    int exit_code = -1;
    std::string output;
    std::string log;
};

CliRun run_cli(const std::vector<std::string>& args) {
    static int counter = 0;
    const std::string out_path = temp_dir() + "/console-cost-" + std::to_string(++counter) + ".json";
    std::vector<std::string> argv{"cost", "-o", out_path};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandRun run = run_command("cost", argv, out_path, kEnv, 30s);
    return {run.exit_code, std::move(run.file), std::move(run.log)};
}

// The options of a "monthly" object by kind: {kind -> (monthly_usd or NaN, machine_monthly_usd or NaN)}.
std::map<std::string, std::pair<double, double>> options_by_kind(simdjson::dom::element monthly) {
    std::map<std::string, std::pair<double, double>> out;
    simdjson::dom::array list;
    if (monthly["options"].get_array().get(list)) return out;
    for (simdjson::dom::element option : list) {
        const std::string kind(option["kind"].get_string().value());
        double usd = NAN;
        double machine = NAN;
        if (option["monthly_usd"].value().is_number()) usd = option["monthly_usd"].get_double().value();
        if (option["machine_monthly_usd"].value().is_number()) machine = option["machine_monthly_usd"].get_double().value();
        out[kind] = {usd, machine};
    }
    return out;
}

TEST(ConsoleData, CostComparesTheOptionsAsSwitchyardCostDoes) {
    Sim sim = start_sim({"--ttft-ms", "2", "--tokens", "8"});
    auto gateway = start_gateway(hybrid_config(sim, ledger_file("console-cost")), kEnv);
    const int port = gateway.port;
    const std::map<std::string, std::string> caller{{"authorization", "Bearer sk-caller-000000000001"}};
    for (int i = 0; i < 6; ++i) ASSERT_EQ(post(port, "/v1/chat/completions", chat_body("m"), caller).status, 200);
    for (int i = 0; i < 4; ++i) ASSERT_EQ(post(port, "/v1/chat/completions", chat_body("lm"), caller).status, 200);
    const Signed viewer = sign_in(port, "sk-viewer-000000000001");
    ASSERT_EQ(viewer.response.status, 201);

    std::string body;
    ASSERT_TRUE(eventually([&] {
        const Response r = get(port, "/ui/api/cost?hours=1", as(viewer));
        body = r.body;
        return r.status == 200 && body.find(R"("totals":{"requests":10,)") != std::string::npos;
    })) << body;
    simdjson::dom::parser parser;
    simdjson::dom::element cost = parser.parse(body).value();
    EXPECT_TRUE(cost["ledger"].get_bool().value());
    EXPECT_EQ(cost["hours"].get_int64().value(), 1);
    EXPECT_EQ(cost["local"]["requests"].get_uint64().value(), 4u);
    EXPECT_EQ(cost["cloud"]["requests"].get_uint64().value(), 6u);
    const auto options = options_by_kind(cost["monthly"]);
    ASSERT_TRUE(options.contains("cloud")) << body;
    ASSERT_TRUE(options.contains("owned")) << body;
    ASSERT_TRUE(options.contains("hybrid")) << body;
    EXPECT_GT(options.at("cloud").first, 0);
    // $300 over 36 months, nothing else: one machine costs $8.33 a month.
    EXPECT_NEAR(options.at("owned").second, 300.0 / 36, 1e-6);
    // The curves: one line per costed option, from 0 tokens; the owned one breaks even.
    std::map<std::string, simdjson::dom::element> lines;
    simdjson::dom::array drawn;
    ASSERT_EQ(cost["curves"]["lines"].get_array().get(drawn), simdjson::SUCCESS) << body;
    for (simdjson::dom::element line : drawn) {
        lines[std::string(line["kind"].get_string().value())] = line;
    }
    ASSERT_TRUE(lines.contains("cloud") && lines.contains("owned")) << body;
    EXPECT_GT(lines["owned"]["points"].get_array().value().size(), 100u);
    EXPECT_EQ(lines["cloud"]["points"].at(0).at(0).get_double().value(), 0);
    ASSERT_TRUE(lines["owned"]["break_even_tokens_per_month"].value().is_number()) << body;
    const double break_even = lines["owned"]["break_even_tokens_per_month"].get_double().value();
    EXPECT_GT(break_even, 0);
    EXPECT_GT(cost["curves"]["limit_tokens_per_month"].get_double().value(), break_even);
    EXPECT_TRUE(lines["cloud"]["break_even_tokens_per_month"].value().is_null());

    // `switchyard cost` on the same ledger and period says the same (the period rounded out to
    // whole seconds: within a part in a thousand).
    const std::int64_t from_ms = cost["from_ms"].get_int64().value();
    const std::int64_t to_ms = cost["to_ms"].get_int64().value();
    const CliRun cli = run_cli({"--config", gateway.config_path, "--from", utc_text(from_ms, false), "--to",
                                utc_text(to_ms, true), "--format", "json"});
    ASSERT_EQ(cli.exit_code, 0) << cli.log;
    simdjson::dom::parser cli_parser;
    simdjson::dom::element report = cli_parser.parse(cli.output).value();
    const auto cli_options = options_by_kind(report["monthly"]);
    for (const char* kind : {"cloud", "owned", "hybrid"}) {
        ASSERT_TRUE(cli_options.contains(kind)) << cli.output;
        EXPECT_NEAR(cli_options.at(kind).first, options.at(kind).first, 1e-3 * options.at(kind).first) << kind;
    }
    EXPECT_EQ(report["monthly"]["reference"].get_string().value(), cost["monthly"]["reference"].get_string().value());

    // The admin API serves it to scripts with the master key; bad input is refused with the reason.
    const std::map<std::string, std::string> master{{"authorization", std::string("Bearer ") + kMaster}};
    EXPECT_EQ(get(port, "/admin/cost?hours=2", master).status, 200);
    EXPECT_EQ(get(port, "/admin/cost").status, 401);
    const Response bad_hours = get(port, "/admin/cost?hours=abc", master);
    EXPECT_EQ(bad_hours.status, 400);
    EXPECT_NE(bad_hours.body.find(R"("param":"hours")"), std::string::npos) << bad_hours.body;
    EXPECT_NE(bad_hours.body.find(R"("code":"invalid_hours")"), std::string::npos) << bad_hours.body;
    EXPECT_EQ(get(port, "/admin/cost?hours=0", master).status, 400);
    EXPECT_EQ(get(port, "/admin/cost?hours=100000", master).status, 400);
    const Response bad_utilization = get(port, "/admin/cost?utilization=1.5", master);
    EXPECT_EQ(bad_utilization.status, 400);
    EXPECT_NE(bad_utilization.body.find(R"("param":"utilization")"), std::string::npos) << bad_utilization.body;
    const Response unknown_model = get(port, "/ui/api/cost?cloud_model=no-such-model", as(viewer));
    EXPECT_EQ(unknown_model.status, 400);
    EXPECT_NE(unknown_model.body.find(R"("code":"model_not_found")"), std::string::npos) << unknown_model.body;
    // The utilization asked for is the one the comparison uses.
    simdjson::dom::parser low_parser;
    const std::string low = get(port, "/admin/cost?hours=1&utilization=0.1", master).body;
    simdjson::dom::element low_cost = low_parser.parse(low).value();
    EXPECT_EQ(low_cost["monthly"]["utilization"].get_double().value(), 0.1);
}

TEST(ConsoleData, CostWithoutALedgerSaysSo) {
    Sim sim = start_sim();
    auto gateway = start_gateway(R"(
listeners: [{address: 127.0.0.1, port: 0}]
auth: {master_key: "${MASTER_KEY}"}
upstreams:
  - {name: cloud, type: openai, base_url: )" + sim.url() + R"(/v1}
models:
  - name: m
    deployments: [{upstream: cloud, model: sim-m}]
)", kEnv);
    const Response r = get(gateway.port, "/admin/cost", {{"authorization", std::string("Bearer ") + kMaster}});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"ledger":false})");
}

TEST(ConsoleKeys, AnAdminChangesAnApiKeysLimitsAndTheChangeHoldsAcrossARestart) {
    Sim sim = start_sim();
    const std::string yaml = hybrid_config(sim, ledger_file("console-keys"));
    const std::map<std::string, std::string> master{{"authorization", std::string("Bearer ") + kMaster},
                                                    {"content-type", "application/json"}};
    std::string secret;
    {
        auto gateway = start_gateway(yaml, kEnv);
        const int port = gateway.port;
        const Response made = post(port, "/admin/keys",
                                   R"({"name":"team-a","limits":{"rpm":100,"tpm":100000},"labels":{"team":"a"}})", master);
        ASSERT_EQ(made.status, 201) << made.body;
        secret = json_string(made.body, "key");
        const std::map<std::string, std::string> team{{"authorization", "Bearer " + secret}};
        for (int i = 0; i < 3; ++i) ASSERT_EQ(post(port, "/v1/chat/completions", chat_body("m"), team).status, 200);

        const Signed viewer = sign_in(port, "sk-viewer-000000000001");
        const Signed boss = sign_in(port, "sk-boss-0000000000001");
        const std::string lower = R"({"limits":{"rpm":1}})";
        // A viewer may not; an admin needs the CSRF token.
        const Response by_viewer = request(port, "PATCH", "/ui/api/keys/team-a", lower, as(viewer));
        EXPECT_EQ(by_viewer.status, 403);
        EXPECT_NE(by_viewer.body.find("console_read_only"), std::string::npos);
        EXPECT_EQ(request(port, "PATCH", "/ui/api/keys/team-a", lower, as(boss, false)).status, 403);
        // Bad changes: each refused with its reason, the key unchanged.
        const auto admin = same_origin(boss, port);
        const Response bad_limit = request(port, "PATCH", "/ui/api/keys/team-a", R"({"limits":{"rpm":"one"}})", admin);
        EXPECT_EQ(bad_limit.status, 400);
        EXPECT_NE(bad_limit.body.find("limits must be whole numbers"), std::string::npos) << bad_limit.body;
        const Response renamed = request(port, "PATCH", "/ui/api/keys/team-a", R"({"name":"team-b"})", admin);
        EXPECT_EQ(renamed.status, 400);
        EXPECT_NE(renamed.body.find("cannot be changed"), std::string::npos) << renamed.body;
        const Response unknown_field = request(port, "PATCH", "/ui/api/keys/team-a", R"({"rate":5})", admin);
        EXPECT_EQ(unknown_field.status, 400);
        EXPECT_NE(unknown_field.body.find("unknown field 'rate'"), std::string::npos) << unknown_field.body;
        const Response bad_model = request(port, "PATCH", "/ui/api/keys/team-a", R"({"models":["nope"]})", admin);
        EXPECT_EQ(bad_model.status, 400);
        EXPECT_NE(bad_model.body.find(R"("code":"model_not_found")"), std::string::npos) << bad_model.body;
        EXPECT_EQ(request(port, "PATCH", "/ui/api/keys/team-a", "not json", admin).status, 400);
        // Keys of the config file are changed in the file; unknown keys are not found.
        const Response configured = request(port, "PATCH", "/ui/api/keys/caller", lower, admin);
        EXPECT_EQ(configured.status, 409);
        EXPECT_NE(configured.body.find(R"("code":"key_in_config")"), std::string::npos) << configured.body;
        EXPECT_NE(configured.body.find(R"("type":"invalid_request_error")"), std::string::npos) << configured.body;
        EXPECT_EQ(request(port, "PATCH", "/ui/api/keys/nobody", lower, admin).status, 404);
        EXPECT_EQ(post(port, "/v1/chat/completions", chat_body("m"), team).status, 200);  // still 100 a minute

        // The admin lowers it to 1 a minute: the next request passes, the one after is refused.
        const Response changed = request(port, "PATCH", "/ui/api/keys/team-a", lower, admin);
        ASSERT_EQ(changed.status, 200) << changed.body;
        EXPECT_NE(changed.body.find(R"("limits":{"rpm":1,"tpm":100000,)"), std::string::npos) << changed.body;
        EXPECT_NE(changed.body.find(R"("labels":{"team":"a"})"), std::string::npos) << changed.body;
        EXPECT_NE(changed.body.find(R"("source":"api")"), std::string::npos) << changed.body;
        EXPECT_EQ(post(port, "/v1/chat/completions", chat_body("m"), team).status, 200);
        EXPECT_EQ(post(port, "/v1/chat/completions", chat_body("m"), team).status, 429);
        // The admin API takes the same change from a script.
        const Response by_script = request(port, "PATCH", "/admin/keys/team-a", R"({"max_concurrent":3})", master);
        ASSERT_EQ(by_script.status, 200) << by_script.body;
        EXPECT_NE(by_script.body.find(R"("max_concurrent":3)"), std::string::npos) << by_script.body;
        EXPECT_NE(by_script.body.find(R"("rpm":1,)"), std::string::npos) << by_script.body;
        // Its spend shows under its label on the Spend page.
        std::string spend;
        EXPECT_TRUE(eventually([&] {
            spend = get(port, "/ui/api/spend?hours=1", as(viewer)).body;
            return spend.find(R"("by_label":[{"name":"team=a","requests":)") != std::string::npos;
        })) << spend;
    }
    // Stored in the ledger's database like the key itself: a restarted gateway has the change.
    auto again = start_gateway(yaml, kEnv);
    const Response listed = get(again.port, "/admin/keys", master);
    EXPECT_NE(listed.body.find(R"("name":"team-a","models":[],"limits":{"rpm":1,"tpm":100000,)"), std::string::npos)
        << listed.body;
    EXPECT_NE(listed.body.find(R"("max_concurrent":3)"), std::string::npos) << listed.body;
    const std::map<std::string, std::string> team{{"authorization", "Bearer " + secret}};
    EXPECT_EQ(post(again.port, "/v1/chat/completions", chat_body("m"), team).status, 200);
    EXPECT_EQ(post(again.port, "/v1/chat/completions", chat_body("m"), team).status, 429);
}

}  // namespace
}  // namespace switchyard::testing
