// The fleet's pure parts: the `state:` and `ledger:` configuration (the spool's defaults too),
// Redis URLs and their redaction, a limit's share per instance, the GCRA script's arguments and
// the parsing of its reply.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "limit/limiter.hpp"
#include "state/fleet.hpp"
#include "state/scripts.hpp"

namespace switchyard {
namespace {

config::EnvLookup env() {
    return [](std::string_view name) -> std::optional<std::string> {
        if (name == "REDIS_PASSWORD") return "s3cret-pw";
        return std::nullopt;
    };
}

const std::string kBase = R"(upstreams:
  - name: a
    base_url: http://127.0.0.1:8081
models:
  - name: m
    deployments: [{upstream: a}]
)";

TEST(StateConfig, DefaultsToInProcess) {
    auto result = config::load_string(kBase, env());
    ASSERT_TRUE(result.gateway);
    EXPECT_TRUE(result.gateway->state.url.empty());
}

TEST(StateConfig, ShortFormIsAUrl) {
    auto result = config::load_string(kBase + "state: redis://:${REDIS_PASSWORD}@redis.internal:6380/2\n"
                                              "ledger: postgres://switchyard@db/ledger\n",
                                      env());
    ASSERT_TRUE(result.gateway) << (result.errors.empty() ? "" : config::to_string(result.errors[0]));
    const auto& state = result.gateway->state;
    EXPECT_EQ(state.url, "redis://:s3cret-pw@redis.internal:6380/2");
    EXPECT_EQ(state.timeout, std::chrono::milliseconds(50));
    EXPECT_TRUE(state.fail_open);
    EXPECT_EQ(state.instances, 1u);
    EXPECT_EQ(state.sync_interval, std::chrono::seconds(1));
    EXPECT_EQ(result.gateway->ledger.url, "postgres://switchyard@db/ledger");
}

TEST(StateConfig, MappingForm) {
    auto result = config::load_string(kBase + R"(state:
  url: redis://127.0.0.1:6379
  timeout: 20ms
  on_failure: closed
  instances: 4
  sync_interval: 250ms
  prefix: prod
  max_lease: 1
)",
                                      env());
    ASSERT_TRUE(result.gateway);
    const auto& state = result.gateway->state;
    EXPECT_EQ(state.timeout, std::chrono::milliseconds(20));
    EXPECT_FALSE(state.fail_open);
    EXPECT_EQ(state.instances, 4u);
    EXPECT_EQ(state.sync_interval, std::chrono::milliseconds(250));
    EXPECT_EQ(state.prefix, "prod");
    EXPECT_EQ(state.max_lease, 1u);
}

TEST(LedgerConfig, TheSpoolDefaultsBesideTheSqliteFileOrInTheStateDirectory) {
    auto result = config::load_string(kBase + "ledger: postgres://switchyard@db/ledger\n", env());
    ASSERT_TRUE(result.gateway);
    EXPECT_EQ(result.gateway->ledger.spool_dir, "/var/lib/switchyard");
    EXPECT_EQ(result.gateway->ledger.spool_max_bytes, std::size_t{1} << 30);
    result = config::load_string(kBase + "ledger: /srv/data/ledger.db\n", env());
    ASSERT_TRUE(result.gateway);
    EXPECT_EQ(result.gateway->ledger.spool_dir, "/srv/data");
    result = config::load_string(kBase + "ledger: sqlite:ledger.db\n", env());
    ASSERT_TRUE(result.gateway);
    EXPECT_EQ(result.gateway->ledger.spool_dir, ".");
    result = config::load_string(kBase + "ledger: {url: /a/b.db, spool_dir: /fast/spool, spool_max_bytes: 64MiB}\n",
                                 env());
    ASSERT_TRUE(result.gateway);
    EXPECT_EQ(result.gateway->ledger.spool_dir, "/fast/spool");
    EXPECT_EQ(result.gateway->ledger.spool_max_bytes, std::size_t{64} << 20);
    result = config::load_string(kBase + "ledger: {url: /a/b.db, spool_max_bytes: 1000}\n", env());
    ASSERT_FALSE(result.gateway);
    ASSERT_EQ(result.errors.size(), 1u);
    EXPECT_NE(config::to_string(result.errors[0]).find("'spool_max_bytes' must be at least 1MiB"), std::string::npos);
    result = config::load_string(kBase, env());  // no ledger: no spool
    ASSERT_TRUE(result.gateway);
    EXPECT_TRUE(result.gateway->ledger.spool_dir.empty());
}

TEST(Lease, SizeFollowsTheTightestLimit) {
    const config::RateLimit tight{.rpm = 600, .tpm = 0, .rpm_burst = 10, .tpm_burst = 0};
    const config::RateLimit loose{.rpm = 1'000'000, .tpm = 10'000'000, .rpm_burst = 0, .tpm_burst = 0};
    const config::RateLimit tokens{.rpm = 0, .tpm = 100'000, .rpm_burst = 0, .tpm_burst = 0};
    const std::array<state::Limit, 2> both{state::Limit{"key", "k", &loose}, state::Limit{"model", "m", &tight}};
    EXPECT_EQ(state::Fleet::lease_size(both, 100, 3, 64), 1u);          // 10 / 24 rounds down to nothing: 1
    EXPECT_EQ(state::Fleet::lease_size({both.data(), 1}, 100, 3, 64), 64u);  // capped
    EXPECT_EQ(state::Fleet::lease_size({both.data(), 1}, 100, 3, 8), 8u);
    const std::array<state::Limit, 1> by_tokens{state::Limit{"key", "k", &tokens}};
    EXPECT_EQ(state::Fleet::lease_size(by_tokens, 500, 2, 64), 12u);  // 100000 / 16 / 500
}

TEST(StateConfig, ErrorsCarryTheirLines) {
    auto result = config::load_string(kBase + R"(state:
  url: http://127.0.0.1:6379
  on_failure: maybe
  instances: 0
  timout: 1s
)",
                                      env());
    EXPECT_FALSE(result.gateway);
    std::string all;
    for (const auto& error : result.errors) all += config::to_string(error) + "\n";
    EXPECT_NE(all.find("line 8, column 8: state url must be redis://"), std::string::npos) << all;
    EXPECT_NE(all.find("line 9, column 15: 'on_failure' must be one of open, closed"), std::string::npos) << all;
    EXPECT_NE(all.find("line 10, column 14: 'instances' must be a whole number from 1"), std::string::npos) << all;
    EXPECT_NE(all.find("unknown key 'timout' in 'state'; did you mean 'timeout'?"), std::string::npos) << all;
    // The short form is checked as well, for both URLs.
    result = config::load_string(kBase + "state: redis://host:99999\nledger: mysql://db\n", env());
    EXPECT_FALSE(result.gateway);
    ASSERT_EQ(result.errors.size(), 2u);
    EXPECT_EQ(result.errors[0].line, 7);
    EXPECT_EQ(result.errors[1].line, 8);
}

TEST(RedisUrl, Parses) {
    auto a = config::parse_redis_url("redis://127.0.0.1");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "127.0.0.1");
    EXPECT_EQ(a->port, 6379);
    EXPECT_EQ(a->db, 0u);
    EXPECT_TRUE(a->password.empty());
    auto b = config::parse_redis_url("redis://app:pa:ss@[::1]:7000/3");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->host, "::1");
    EXPECT_EQ(b->port, 7000);
    EXPECT_EQ(b->user, "app");
    EXPECT_EQ(b->password, "pa:ss");
    EXPECT_EQ(b->db, 3u);
    auto c = config::parse_redis_url("redis://only-password@redis");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->password, "only-password");
    EXPECT_TRUE(c->user.empty());
    EXPECT_FALSE(config::parse_redis_url("redis://"));
    EXPECT_FALSE(config::parse_redis_url("redis://h:0"));
    EXPECT_FALSE(config::parse_redis_url("redis://h/x"));
    EXPECT_FALSE(config::parse_redis_url("rediss://h"));
}

TEST(RedisUrl, RedactsThePassword) {
    EXPECT_EQ(config::redact_url("redis://:s3cret@h:1/0"), "redis://:****@h:1/0");
    EXPECT_EQ(config::redact_url("redis://app:s3cret@h"), "redis://app:****@h");
    EXPECT_EQ(config::redact_url("redis://s3cret@h"), "redis://****@h");
    EXPECT_EQ(config::redact_url("redis://h:6379"), "redis://h:6379");
}

TEST(LimitShare, DividesRoundingUp) {
    const config::RateLimit limits{.rpm = 600, .tpm = 100'000, .rpm_burst = 10, .tpm_burst = 0};
    const auto third = limit::share(limits, 3);
    EXPECT_EQ(third.rpm, 200u);
    EXPECT_EQ(third.tpm, 33'334u);
    EXPECT_EQ(third.rpm_burst, 4u);
    EXPECT_EQ(third.tpm_burst, 0u);  // still "a minute's worth"
    EXPECT_EQ(limit::share(config::RateLimit{.rpm = 2, .tpm = 0, .rpm_burst = 0, .tpm_burst = 0}, 5).rpm, 1u);
    EXPECT_EQ(limit::share(limits, 1).rpm, 600u);
}

TEST(GcraScript, Arguments) {
    const auto args = state::limit_arguments(config::RateLimit{.rpm = 600, .tpm = 0, .rpm_burst = 10, .tpm_burst = 0});
    EXPECT_EQ(std::stod(args[0]), 100'000.0);  // 100 ms between requests, in microseconds
    EXPECT_EQ(args[1], "10");
    EXPECT_EQ(args[2], "0");  // no token limit
    EXPECT_EQ(args[3], "0");
    EXPECT_EQ(state::sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

state::Reply integers(std::initializer_list<std::int64_t> values) {
    state::Reply reply;
    reply.type = state::Reply::Type::array;
    for (auto v : values) {
        state::Reply element;
        element.type = state::Reply::Type::integer;
        element.integer = v;
        reply.elements.push_back(element);
    }
    return reply;
}

TEST(GcraScript, ParsesAnAdmission) {
    const config::RateLimit key{.rpm = 60, .tpm = 1000, .rpm_burst = 0, .tpm_burst = 0};
    const config::RateLimit model{.rpm = 0, .tpm = 5000, .rpm_burst = 0, .tpm_burst = 0};
    state::AdmitReply out;
    ASSERT_TRUE(state::parse_admit_reply(integers({1, 0, 0, 0, 59, 1000, 900, 6000, 0, 0, 4900, 1200}),
                                         {&key, &model}, out));
    EXPECT_TRUE(out.allowed);
    ASSERT_EQ(out.snapshots.size(), 2u);
    EXPECT_EQ(out.snapshots[0].limit_requests, 60u);
    EXPECT_EQ(out.snapshots[0].remaining_requests, 59u);
    EXPECT_EQ(out.snapshots[0].reset_requests, std::chrono::seconds(1));
    EXPECT_EQ(out.snapshots[0].remaining_tokens, 900u);
    EXPECT_EQ(out.snapshots[1].limit_requests, 0u);  // the model has no request limit: no headers
    EXPECT_EQ(out.snapshots[1].remaining_tokens, 4900u);
}

TEST(GcraScript, ParsesARefusal) {
    const config::RateLimit key{.rpm = 60, .tpm = 0, .rpm_burst = 0, .tpm_burst = 0};
    const config::RateLimit model{.rpm = 0, .tpm = 5000, .rpm_burst = 0, .tpm_burst = 0};
    state::AdmitReply out;
    ASSERT_TRUE(state::parse_admit_reply(integers({0, 2, 2, 1500, 58, 2000, 0, 0, 0, 0, 10, 59000}), {&key, &model}, out));
    EXPECT_FALSE(out.allowed);
    EXPECT_EQ(out.refused, 1u);
    EXPECT_EQ(out.refusal.which, "tokens");
    EXPECT_EQ(out.refusal.retry_after, std::chrono::milliseconds(1500));
}

TEST(GcraScript, RejectsMalformedReplies) {
    const config::RateLimit key{.rpm = 60, .tpm = 0, .rpm_burst = 0, .tpm_burst = 0};
    state::AdmitReply out;
    EXPECT_FALSE(state::parse_admit_reply(integers({1, 0, 0}), {&key}, out));             // too short
    EXPECT_FALSE(state::parse_admit_reply(integers({0, 3, 1, 5, 0, 0, 0, 0}), {&key}, out));  // no limit 3
    EXPECT_FALSE(state::parse_admit_reply(integers({0, 1, 7, 5, 0, 0, 0, 0}), {&key}, out));  // neither dimension
    state::Reply error;
    error.type = state::Reply::Type::error;
    error.text = "NOSCRIPT No matching script";
    EXPECT_FALSE(state::parse_admit_reply(error, {&key}, out));
}

TEST(GcraScript, KeyNamesUseUtcDates) {
    EXPECT_EQ(state::day_text(0), "1970-01-01");
    EXPECT_EQ(state::month_text(1'764'028'800), "2025-11");  // 2025-11-25 00:00 UTC
}

}  // namespace
}  // namespace switchyard
