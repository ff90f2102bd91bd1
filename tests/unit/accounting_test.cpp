// Units of the authenticate, admit and account stages: token buckets, rate limiters, budgets,
// key policies, the usage of responses and the body edit that asks a stream for its usage.
#include <gtest/gtest.h>

#include <simdjson.h>

#include <ctime>
#include <map>

#include "auth/keys.hpp"
#include "core/digest.hpp"
#include "limit/limiter.hpp"
#include "metrics/metrics.hpp"
#include "parse/request.hpp"
#include "usage/usage.hpp"

namespace switchyard {
namespace {

using namespace std::chrono_literals;

TEST(Bucket, AdmitsTheBurstThenTheRate) {
    ManualClock clock;
    limit::Bucket bucket(2.0, 4.0, clock.now());  // 2 a second, 4 at once
    for (int i = 0; i < 4; ++i) EXPECT_FALSE(bucket.take(1, clock.now())) << i;
    auto wait = bucket.take(1, clock.now());
    ASSERT_TRUE(wait);
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(*wait).count(), 500);
    clock.advance(499ms);
    EXPECT_TRUE(bucket.take(1, clock.now()));
    clock.advance(1ms);
    EXPECT_FALSE(bucket.take(1, clock.now()));
}

TEST(Bucket, NeverAdmitsMoreThanBurstPlusRateTimesTime) {
    ManualClock clock;
    limit::Bucket bucket(10.0, 5.0, clock.now());
    int admitted = 0;
    for (int step = 0; step < 10'000; ++step) {  // ten seconds, offered 1000 a second
        if (!bucket.take(1, clock.now())) ++admitted;
        clock.advance(1ms);
    }
    EXPECT_LE(admitted, 5 + 10 * 10);
    EXPECT_GE(admitted, 5 + 10 * 10 - 1);
}

TEST(Bucket, CorrectionsCanTakeItBelowZero) {
    ManualClock clock;
    limit::Bucket bucket(100.0, 1000.0, clock.now());
    EXPECT_FALSE(bucket.take(300, clock.now()));  // estimated 300
    bucket.adjust(1200, clock.now());             // used 1500
    EXPECT_DOUBLE_EQ(bucket.level(clock.now()), -500);
    auto wait = bucket.take(100, clock.now());
    ASSERT_TRUE(wait);
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(*wait).count(), 6000);
}

TEST(RateLimiter, RefusesOnTokensWithoutSpendingARequest) {
    ManualClock clock;
    config::RateLimit limits;
    limits.rpm = 60;
    limits.tpm = 600;
    limit::RateLimiter limiter(limits, clock.now());
    EXPECT_FALSE(limiter.admit(500, clock.now()));
    auto refusal = limiter.admit(500, clock.now());
    ASSERT_TRUE(refusal);
    EXPECT_EQ(refusal->which, "tokens");
    const auto snapshot = limiter.snapshot(clock.now());
    EXPECT_EQ(snapshot.limit_requests, 60u);
    EXPECT_EQ(snapshot.remaining_requests, 59u);  // the refused one took nothing
    EXPECT_EQ(snapshot.limit_tokens, 600u);
    EXPECT_EQ(snapshot.remaining_tokens, 100u);
    std::string head;
    limit::append_headers(head, snapshot);
    EXPECT_NE(head.find("x-ratelimit-remaining-requests: 59\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("x-ratelimit-reset-tokens: 50s\r\n"), std::string::npos) << head;
}

TEST(RateLimiter, ResetText) {
    EXPECT_EQ(limit::reset_text(250ms), "250ms");
    EXPECT_EQ(limit::reset_text(1500ms), "1.5s");
    EXPECT_EQ(limit::reset_text(6min), "6m0s");
}

TEST(Budget, RefusesOnceSpentAndResetsWithTheDayAndMonth) {
    limit::Budget budget(1.0, 10.0);
    const std::time_t day = 1'764'028'800;  // 2025-11-25 00:00 UTC
    budget.spend(0.6, day + 10);
    EXPECT_FALSE(budget.check(day + 20));
    budget.spend(0.5, day + 30);
    auto refusal = budget.check(day + 40);
    ASSERT_TRUE(refusal);
    EXPECT_EQ(refusal->status, 429);
    EXPECT_EQ(refusal->code, "budget_exceeded");
    EXPECT_NE(refusal->message.find("daily budget of $1.00 is spent ($1.10 so far); it resets at 2025-11-26 00:00 UTC"),
              std::string::npos)
        << refusal->message;
    EXPECT_EQ(refusal->retry_after, 86400 - 40);
    EXPECT_FALSE(budget.check(day + 86400));  // a new day
    budget.load(0, 10.5, day + 86400);
    refusal = budget.check(day + 86400);
    ASSERT_TRUE(refusal);
    EXPECT_NE(refusal->message.find("monthly budget of $10.00"), std::string::npos);
    EXPECT_NE(refusal->message.find("resets at 2025-12-01 00:00 UTC"), std::string::npos) << refusal->message;
}

TEST(Keys, PolicyRoundTripsThroughJson) {
    config::Key key;
    key.name = "team-a";
    key.models = {"m1", "m2"};
    key.limits.rpm = 600;
    key.limits.tpm = 100000;
    key.max_concurrent = 8;
    key.budget_daily = 5;
    key.budget_monthly = 100.25;
    key.labels = {{"team", "research"}, {"user", "alice \"al\""}};
    std::string why;
    auto back = auth::policy_from_json(auth::policy_to_json(key), &why);
    ASSERT_TRUE(back) << why;
    EXPECT_EQ(back->name, "team-a");
    EXPECT_EQ(back->models, key.models);
    EXPECT_EQ(back->limits.rpm, 600u);
    EXPECT_EQ(back->limits.tpm, 100000u);
    EXPECT_EQ(back->max_concurrent, 8u);
    EXPECT_DOUBLE_EQ(back->budget_monthly, 100.25);
    EXPECT_EQ(back->labels, key.labels);
    EXPECT_FALSE(auth::policy_from_json(R"({"name":"x","colour":"red"})", &why));
    EXPECT_NE(why.find("unknown field 'colour'"), std::string::npos);
    EXPECT_FALSE(auth::policy_from_json(R"({"models":[]})", &why));
}

TEST(Keys, PatchedPolicyChangesOnlyTheFieldsGiven) {
    config::Key base;
    base.name = "team-a";
    base.sha256 = "digest";
    base.models = {"m1"};
    base.limits.rpm = 600;
    base.limits.tpm = 100000;
    base.max_concurrent = 8;
    base.budget_daily = 5;
    base.budget_monthly = 100;
    base.labels = {{"team", "research"}};
    base.role = "viewer";
    std::string why;
    auto patched = auth::policy_patched(base, R"({"limits":{"rpm":1},"budget":{"monthly":50},"models":[]})", &why);
    ASSERT_TRUE(patched) << why;
    EXPECT_EQ(patched->name, "team-a");
    EXPECT_EQ(patched->sha256, "digest");
    EXPECT_EQ(patched->limits.rpm, 1u);
    EXPECT_EQ(patched->limits.tpm, 100000u);  // a sub-field not given stays
    EXPECT_DOUBLE_EQ(patched->budget_daily, 5);
    EXPECT_DOUBLE_EQ(patched->budget_monthly, 50);
    EXPECT_TRUE(patched->models.empty());  // all models now
    EXPECT_EQ(patched->max_concurrent, 8u);
    EXPECT_EQ(patched->labels, base.labels);
    EXPECT_EQ(patched->role, "viewer");

    patched = auth::policy_patched(base, R"({"labels":{"team":"ops"},"role":"","name":"team-a"})", &why);
    ASSERT_TRUE(patched) << why;
    EXPECT_EQ(patched->labels, (std::map<std::string, std::string>{{"team", "ops"}}));  // replaced whole
    EXPECT_EQ(patched->role, "");
    EXPECT_EQ(patched->models, base.models);

    EXPECT_FALSE(auth::policy_patched(base, R"({"name":"team-b"})", &why));
    EXPECT_NE(why.find("cannot be changed"), std::string::npos) << why;
    EXPECT_FALSE(auth::policy_patched(base, R"({"limits":{"rpm":-1}})", &why));
    EXPECT_NE(why.find("whole numbers"), std::string::npos) << why;
    EXPECT_FALSE(auth::policy_patched(base, R"({"role":"root"})", &why));
    EXPECT_FALSE(auth::policy_patched(base, "[1]", &why));
    EXPECT_FALSE(auth::policy_patched(base, R"({"colour":"red"})", &why));
    EXPECT_NE(why.find("unknown field 'colour'"), std::string::npos) << why;
}

TEST(Keys, UpdateReplacesAnApiKeysPolicyAndKeepsWhatItSpent) {
    config::Gateway config;
    config::Key file_key;
    file_key.name = "from-file";
    file_key.sha256 = sha256_hex("sk-file-secret-1");
    config.keys.push_back(file_key);
    ManualClock clock;
    auth::KeyStore keys(config, clock);
    config::Key api;
    api.name = "api";
    api.sha256 = sha256_hex("sk-api-secret-1");
    api.limits.rpm = 100;
    api.budget_daily = 10;
    ASSERT_TRUE(keys.add(api, 1234));
    const std::time_t now = std::time(nullptr);
    keys.by_name("api")->budget.spend(2.5, now);
    const auto old = keys.find("sk-api-secret-1");
    ASSERT_TRUE(old);
    EXPECT_FALSE(old->limiter.admit(1, clock.now()));
    EXPECT_FALSE(old->limiter.admit(1, clock.now()));

    config::Key lower = api;
    lower.limits.rpm = 1;
    lower.sha256 = "ignored: the digest stays";
    EXPECT_EQ(keys.update(lower), auth::KeyStore::Update::updated);
    const auto entry = keys.find("sk-api-secret-1");  // found by the same secret
    ASSERT_TRUE(entry);
    EXPECT_NE(entry.get(), old.get());
    EXPECT_EQ(entry->policy.limits.rpm, 1u);
    EXPECT_EQ(entry->policy.sha256, api.sha256);
    EXPECT_EQ(entry->created_ms, 1234);
    EXPECT_FALSE(entry->from_config);
    EXPECT_DOUBLE_EQ(entry->budget.spent_today(now), 2.5);
    // A fresh limiter at the new rate: one now, then refused.
    EXPECT_FALSE(entry->limiter.admit(1, clock.now()));
    EXPECT_TRUE(entry->limiter.admit(1, clock.now()));
    EXPECT_EQ(keys.by_name("api").get(), entry.get());

    config::Key other = file_key;
    other.limits.rpm = 1;
    EXPECT_EQ(keys.update(other), auth::KeyStore::Update::configured);
    EXPECT_EQ(keys.by_name("from-file")->policy.limits.rpm, 0u);
    config::Key nobody;
    nobody.name = "nobody";
    EXPECT_EQ(keys.update(nobody), auth::KeyStore::Update::unknown);
}

// What another instance left in the shared database: new keys added, changed ones updated (spend
// kept), missing API keys revoked, the file's keys untouched; nothing when the keys changed here
// after the database was read.
TEST(Keys, SyncAppliesTheDatabasesKeysUnlessChangedHereMeanwhile) {
    config::Gateway config;
    config::Key file_key;
    file_key.name = "from-file";
    file_key.sha256 = sha256_hex("sk-file-secret-1");
    config.keys.push_back(file_key);
    ManualClock clock;
    auth::KeyStore keys(config, clock);
    const auto api = [](std::string name, std::uint32_t rpm) {
        config::Key key;
        key.name = name;
        key.sha256 = sha256_hex("sk-" + name + "-secret");
        key.limits.rpm = rpm;
        return key;
    };
    ASSERT_TRUE(keys.add(api("kept", 5), 1));
    ASSERT_TRUE(keys.add(api("changed", 5), 2));
    ASSERT_TRUE(keys.add(api("gone", 5), 3));
    const std::time_t now = std::time(nullptr);
    keys.by_name("changed")->budget.spend(1.5, now);
    const auto kept_entry = keys.by_name("kept");
    const auto gone_entry = keys.by_name("gone");

    std::uint64_t version = keys.version();
    std::vector<auth::KeyStore::Stored> stored{{api("kept", 5), 1}, {api("changed", 9), 2}, {api("new", 7), 4}};
    ASSERT_TRUE(keys.add(api("late", 1), 5));  // made here after the database was read
    EXPECT_FALSE(keys.sync(stored, version));
    EXPECT_TRUE(keys.by_name("gone"));

    stored.push_back({api("late", 1), 5});
    version = keys.version();
    const auto synced = keys.sync(stored, version);
    ASSERT_TRUE(synced);
    EXPECT_EQ(synced->added, std::vector<std::string>{"new"});
    EXPECT_EQ(synced->updated, std::vector<std::string>{"changed"});
    EXPECT_EQ(synced->revoked, std::vector<std::string>{"gone"});
    EXPECT_EQ(keys.by_name("kept").get(), kept_entry.get());  // unchanged: the same entry, limiter and all
    EXPECT_EQ(keys.by_name("changed")->policy.limits.rpm, 9u);
    EXPECT_DOUBLE_EQ(keys.by_name("changed")->budget.spent_today(now), 1.5);
    EXPECT_TRUE(keys.find("sk-new-secret"));
    EXPECT_FALSE(keys.find("sk-gone-secret"));
    EXPECT_TRUE(gone_entry->revoked.load());
    EXPECT_TRUE(keys.by_name("from-file"));  // the file's keys are not the database's to remove
    EXPECT_NE(keys.version(), version);
    // Again with the same: nothing to do.
    const auto again = keys.sync(stored, keys.version());
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->added.empty() && again->updated.empty() && again->revoked.empty());
}

TEST(Keys, FoundByTheirSecretOnly) {
    config::Gateway config;
    config::Key key;
    key.name = "k";
    key.sha256 = sha256_hex("sk-test-secret-1");
    config.keys.push_back(key);
    config.auth.required = true;
    config.auth.master_key_sha256 = sha256_hex("master-secret-1");
    ManualClock clock;
    auth::KeyStore keys(config, clock);
    EXPECT_EQ(keys.find("sk-test-secret-1")->policy.name, "k");
    EXPECT_EQ(keys.find("sk-test-secret-2"), nullptr);
    EXPECT_TRUE(keys.is_master("master-secret-1"));
    EXPECT_FALSE(keys.is_master("sk-test-secret-1"));
    EXPECT_EQ(keys.revoke("k"), auth::KeyStore::Revoke::configured);
    config::Key added;
    added.name = "api";
    added.sha256 = sha256_hex("sk-api");
    EXPECT_TRUE(keys.add(added, 0));
    EXPECT_FALSE(keys.add(added, 0));
    EXPECT_EQ(keys.revoke("api"), auth::KeyStore::Revoke::revoked);
    EXPECT_EQ(keys.find("sk-api"), nullptr);
    EXPECT_EQ(auth::presented_key("Bearer  abc ", "zzz"), "abc");
    EXPECT_EQ(auth::presented_key("", "zzz"), "zzz");
}

TEST(MetricsShard, ARevokedKeysSeriesGoAndOthersStay) {
    metrics::Shard shard;
    for (const char* key : {"alice", "temp", "", "alice", "temp"}) {
        metrics::Observation o;
        o.model = "m";
        o.key = key;
        o.status = 200;
        shard.record(o);
    }
    auto keys = [&] {
        std::map<std::string, std::uint64_t> out;
        shard.each([&](const metrics::Labels& labels, const metrics::Series& s) { out[labels.key] += s.requests.get(); });
        return out;
    };
    EXPECT_EQ(keys(), (std::map<std::string, std::uint64_t>{{"", 1}, {"alice", 2}, {"temp", 2}}));
    shard.forget_key("temp");
    EXPECT_EQ(keys(), (std::map<std::string, std::uint64_t>{{"", 1}, {"alice", 2}}));
    // The last series used was dropped too: a request of the key made again starts a new one.
    metrics::Observation again;
    again.model = "m";
    again.key = "temp";
    again.status = 200;
    shard.record(again);
    EXPECT_EQ(keys(), (std::map<std::string, std::uint64_t>{{"", 1}, {"alice", 2}, {"temp", 1}}));
}

TEST(Usage, ParsesTheUsageObject) {
    auto u = usage::parse_usage(
        R"({"id":"x","usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19,"prompt_tokens_details":{"cached_tokens":4}}})");
    EXPECT_TRUE(u.found);
    EXPECT_EQ(u.prompt, 12);
    EXPECT_EQ(u.completion, 7);
    EXPECT_EQ(u.cached, 4);
    EXPECT_FALSE(usage::parse_usage(R"({"usage":null})").found);
    EXPECT_FALSE(usage::parse_usage(R"({"choices":[]})").found);
}

std::string chunk(const std::string& json) { return "data: " + json + "\n\n"; }

TEST(StreamScanner, StripsTheUsageChunkAcrossAnySplit) {
    const std::string stream = chunk(R"({"choices":[{"delta":{"role":"assistant","content":""}}],"usage":null})") +
                               chunk(R"({"choices":[{"delta":{"content":" a"}}],"usage":null})") +
                               chunk(R"({"choices":[{"delta":{"content":" b"}}],"usage":null})") +
                               chunk(R"({"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2}})") +
                               "data: [DONE]\n\n";
    const std::string usage_event = chunk(R"({"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2}})");
    std::string expected = stream;
    expected.erase(expected.find(usage_event), usage_event.size());
    for (std::size_t split = 1; split < stream.size(); split += 7) {
        usage::StreamScanner scanner(true);
        std::string buffer(4096, '\0');
        std::string out;
        std::size_t length = 0;
        for (std::size_t at = 0; at < stream.size();) {
            const std::size_t n = std::min(split, stream.size() - at);
            std::memcpy(buffer.data() + length, stream.data() + at, n);
            length += n;
            at += n;
            const std::size_t ready = scanner.feed(buffer.data(), length);
            out.append(buffer.data(), ready);
            std::memmove(buffer.data(), buffer.data() + ready, length - ready);
            length -= ready;
        }
        out.append(buffer.data(), length);
        EXPECT_EQ(out, expected) << "split " << split;
        EXPECT_TRUE(scanner.usage().found);
        EXPECT_EQ(scanner.usage().prompt, 9);
        EXPECT_EQ(scanner.usage().completion, 2);
        EXPECT_EQ(scanner.content_events(), 2);
    }
}

TEST(StreamScanner, KeepsTheUsageChunkTheCallerAskedFor) {
    std::string stream = chunk(R"({"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}})");
    usage::StreamScanner scanner(false);
    std::size_t length = stream.size();
    EXPECT_EQ(scanner.feed(stream.data(), length), stream.size());
    EXPECT_EQ(length, stream.size());
    EXPECT_TRUE(scanner.usage().found);
}

std::string forwarded(const std::string& body, const std::string& model, bool add_usage) {
    simdjson::ondemand::parser parser;
    std::string copy = body;
    auto parsed = parse::parse_request(parse::Endpoint::chat_completions, copy, parser);
    const auto& facts = std::get<parse::RequestFacts>(parsed);
    parse::ForwardBody out;
    parse::forward_body(out, copy, facts, model, add_usage);
    std::string joined;
    for (std::size_t i = 0; i < out.count; ++i) joined += out.parts[i];
    EXPECT_EQ(joined.size(), out.size());
    return joined;
}

TEST(ForwardBody, AsksAStreamForItsUsageByEditingBytesOnly) {
    const std::string messages = R"("messages":[{"role":"user","content":"hi"}])";
    EXPECT_EQ(forwarded(R"({"model":"a","stream":true,)" + messages + "}", "b", true),
              R"({"stream_options":{"include_usage":true},"model":"b","stream":true,)" + messages + "}");
    EXPECT_EQ(forwarded(R"({"model":"a","stream_options":{"include_usage":false},)" + messages + R"(,"stream":true})", "a", true),
              R"({"model":"a","stream_options":{"include_usage":true},)" + messages + R"(,"stream":true})");
    EXPECT_EQ(forwarded(R"({"model":"a","stream_options":{ },"stream":true,)" + messages + "}", "a", true),
              R"({"model":"a","stream_options":{"include_usage":true },"stream":true,)" + messages + "}");
    EXPECT_EQ(forwarded(R"({"model":"a","stream_options":{"x":1},"stream":true,)" + messages + "}", "a", true),
              R"({"model":"a","stream_options":{"include_usage":true,"x":1},"stream":true,)" + messages + "}");
    EXPECT_EQ(forwarded(R"({"model":"a","stream_options":null,"stream":true,)" + messages + "}", "a", true),
              R"({"model":"a","stream_options":{"include_usage":true},"stream":true,)" + messages + "}");
    // Asked already, or not accounting: untouched but for the model.
    const std::string asked = R"({"model":"a","stream":true,"stream_options":{"include_usage":true},)" + messages + "}";
    EXPECT_EQ(forwarded(asked, "a", true), asked);
    EXPECT_EQ(forwarded(R"({"model":"a","stream":true,)" + messages + "}", "a", false),
              R"({"model":"a","stream":true,)" + messages + "}");
}

}  // namespace
}  // namespace switchyard
