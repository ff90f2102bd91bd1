#include <gtest/gtest.h>

#include <map>
#include <set>

#include "core/text.hpp"
#include "route/router.hpp"

namespace switchyard::route {
namespace {

using namespace std::chrono_literals;

class FakeHealth : public HealthView {
public:
    bool usable(std::size_t upstream) const override { return !down.contains(upstream); }
    std::set<std::size_t> down;
};

config::Gateway load(std::string_view yaml) {
    auto result = config::load_string(yaml, [](std::string_view) { return std::nullopt; });
    if (!result.errors.empty()) ADD_FAILURE() << config::to_string(result.errors.front());
    return std::move(*result.gateway);
}

// Two local engines in tier 1 with two slots each, a cloud provider in tier 2.
constexpr std::string_view kTiered = R"(
upstreams:
  - {name: gpu-1, base_url: "http://127.0.0.1:1", breaker: {consecutive_failures: 3, cooldown: 10s}}
  - {name: gpu-2, base_url: "http://127.0.0.1:2", breaker: {consecutive_failures: 3, cooldown: 10s}}
  - {name: cloud, base_url: "http://127.0.0.1:3", rate_limit_cooldown: 7s}
models:
  - name: llama4:maverick
    OVERFLOW
    deployments:
      - {upstream: cloud, model: deepseek-v3.2, tier: 2}
      - {upstream: gpu-1, model: maverick-q4, max_concurrency: 2}
      - {upstream: gpu-2, model: maverick-q4, max_concurrency: 2}
  - name: deepseek-v3.2
    deployments: [{upstream: cloud}]
)";

config::Gateway tiered(std::string_view overflow = "overflow: spill") {
    std::string yaml(kTiered);
    yaml.replace(yaml.find("OVERFLOW"), 8, overflow);
    return load(yaml);
}

Lease take(Router& router, const config::Model& model, std::span<const std::size_t> tried = {}) {
    auto result = router.try_acquire(model, tried);
    if (auto* error = std::get_if<ApiError>(&result)) {
        ADD_FAILURE() << error->message;
        return {};
    }
    return std::move(std::get<Lease>(result));
}

const config::Model& model_named(const config::Gateway& config, std::string_view name) {
    return *config.find_model(name);
}

TEST(Router, TiersAreSortedAndTrafficStaysInTheLowestTier) {
    const auto config = tiered();
    const auto& model = model_named(config, "llama4:maverick");
    ASSERT_EQ(model.deployments.front().name, "gpu-1");  // config order within a tier, tier 1 first
    ASSERT_EQ(model.deployments.back().name, "cloud");
    FakeHealth health;
    ManualClock clock;
    Router router(config, health, clock);
    std::map<std::string, int> served;
    for (int i = 0; i < 10; ++i) {
        Lease lease = take(router, model);
        ++served[lease.deployment().name];
        router.report(lease, Verdict::success, 5ms);
    }
    EXPECT_EQ(served["gpu-1"], 5);
    EXPECT_EQ(served["gpu-2"], 5);
    EXPECT_EQ(served["cloud"], 0);
}

TEST(Router, ASaturatedTierSpillsToTheNextAndComesBackWhenASlotFrees) {
    const auto config = tiered();
    const auto& model = model_named(config, "llama4:maverick");
    FakeHealth health;
    ManualClock clock;
    Router router(config, health, clock);
    std::vector<Lease> held;
    for (int i = 0; i < 4; ++i) held.push_back(take(router, model));
    for (const auto& lease : held) EXPECT_EQ(lease.deployment().tier, 1u);
    Lease spilled = take(router, model);
    EXPECT_EQ(spilled.deployment().name, "cloud");
    EXPECT_EQ(router.counters().spills.load(), 1u);
    EXPECT_EQ(router.status(held[0].deployment().id).outstanding, 2u);
    held.pop_back();  // a local slot frees
    EXPECT_EQ(take(router, model).deployment().tier, 1u);
}

TEST(Router, RejectRefusesWith429WhenTheTierIsFull) {
    const auto config = tiered("overflow: reject");
    const auto& model = model_named(config, "llama4:maverick");
    FakeHealth health;
    ManualClock clock;
    Router router(config, health, clock);
    std::vector<Lease> held;
    for (int i = 0; i < 4; ++i) held.push_back(take(router, model));
    auto result = router.try_acquire(model, {});
    ASSERT_TRUE(std::holds_alternative<ApiError>(result));
    const auto& error = std::get<ApiError>(result);
    EXPECT_EQ(error.status, 429);
    EXPECT_EQ(error.code, "deployments_saturated");
    EXPECT_EQ(error.retry_after, 1);
    EXPECT_EQ(router.counters().rejected.load(), 1u);
}

TEST(Router, ADownTierIsSkippedWhateverTheOverflowPolicy) {
    const auto config = tiered("overflow: reject");
    const auto& model = model_named(config, "llama4:maverick");
    FakeHealth health;
    health.down = {0, 1};
    ManualClock clock;
    Router router(config, health, clock);
    EXPECT_EQ(take(router, model).deployment().name, "cloud");
    health.down.clear();  // back by itself
    EXPECT_EQ(take(router, model).deployment().tier, 1u);
}

TEST(Router, BreakerTakesAFailingDeploymentOutAndAProbeBringsItBack) {
    const auto config = tiered();
    const auto& model = model_named(config, "llama4:maverick");
    FakeHealth health;
    ManualClock clock;
    Router router(config, health, clock);
    const std::size_t gpu1 = model.deployments[0].id;
    int failures = 0;
    while (failures < 3) {
        Lease lease = take(router, model);
        if (lease.deployment().id == gpu1) {
            router.report(lease, Verdict::failure);
            ++failures;
        } else {
            router.report(lease, Verdict::success, 5ms);
        }
    }
    EXPECT_EQ(router.status(gpu1).breaker, Breaker::State::open);
    for (int i = 0; i < 10; ++i) EXPECT_NE(take(router, model).deployment().id, gpu1);

    clock.advance(10s);  // cooldown over: half-open, one probe
    bool probed = false;
    for (int i = 0; i < 4 && !probed; ++i) {
        Lease lease = take(router, model);
        if (lease.deployment().id != gpu1) continue;
        probed = true;
        EXPECT_TRUE(lease.probe());
        router.report(lease, Verdict::success, 5ms);
    }
    ASSERT_TRUE(probed);
    EXPECT_EQ(router.status(gpu1).breaker, Breaker::State::closed);
    EXPECT_EQ(router.status(gpu1).breaker_opened, 1u);
}

TEST(Router, A4xxVerdictIsNotAFailure) {
    const auto config = tiered();
    const auto& model = model_named(config, "llama4:maverick");
    FakeHealth health;
    ManualClock clock;
    Router router(config, health, clock);
    for (int i = 0; i < 20; ++i) {
        Lease lease = take(router, model);
        router.report(lease, Verdict::success);  // what the forwarder reports for a 400
    }
    EXPECT_EQ(router.status(model.deployments[0].id).breaker, Breaker::State::closed);
}

TEST(Router, RateLimitedDeploymentCoolsDownForRetryAfter) {
    const auto config = load(R"(
upstreams:
  - {name: a, base_url: "http://127.0.0.1:1"}
  - {name: b, base_url: "http://127.0.0.1:2", rate_limit_cooldown: 7s}
models:
  - name: m
    deployments: [{upstream: a}, {upstream: b}]
)");
    const auto& model = model_named(config, "m");
    FakeHealth health;
    ManualClock clock;
    Router router(config, health, clock);
    {
        Lease a = take(router, model);
        ASSERT_EQ(a.deployment().name, "a");
        router.report(a, Verdict::rate_limited, {}, std::chrono::seconds(3));
        Lease b = take(router, model);
        ASSERT_EQ(b.deployment().name, "b");
        router.report(b, Verdict::rate_limited);  // no Retry-After: the upstream's default, 7 s
    }
    auto result = router.try_acquire(model, {});
    ASSERT_TRUE(std::holds_alternative<ApiError>(result));
    EXPECT_EQ(std::get<ApiError>(result).status, 429);  // all of them asked to slow down
    EXPECT_EQ(std::get<ApiError>(result).retry_after, 3);  // the soonest
    EXPECT_NE(std::get<ApiError>(result).message.find("a: rate-limited by the upstream for 3 s more"),
              std::string::npos)
        << std::get<ApiError>(result).message;
    clock.advance(3s);
    EXPECT_EQ(take(router, model).deployment().name, "a");
    EXPECT_EQ(take(router, model).deployment().name, "a");
    clock.advance(4s);
    std::set<std::string> names;
    for (int i = 0; i < 4; ++i) names.insert(take(router, model).deployment().name);
    EXPECT_EQ(names.size(), 2u);
}

TEST(Router, FallsBackToAnotherModelWhenNoDeploymentIsUsable) {
    const auto config = load(R"(
upstreams:
  - {name: gpu, base_url: "http://127.0.0.1:1"}
  - {name: cloud, base_url: "http://127.0.0.1:2"}
models:
  - name: llama4:maverick
    fallbacks: [deepseek-v3.2]
    deployments: [{upstream: gpu}]
  - name: deepseek-v3.2
    deployments: [{upstream: cloud}]
)");
    const auto& model = model_named(config, "llama4:maverick");
    FakeHealth health;
    ManualClock clock;
    Router router(config, health, clock);
    EXPECT_EQ(&take(router, model).model(), &model);
    health.down = {0};
    Lease lease = take(router, model);
    EXPECT_EQ(lease.model().name, "deepseek-v3.2");
    EXPECT_EQ(lease.deployment().name, "cloud");
    EXPECT_EQ(router.counters().fallbacks.load(), 1u);
}

TEST(Router, TriedDeploymentsAreSkippedAndTheErrorSaysWhy) {
    const auto config = tiered();
    const auto& model = model_named(config, "llama4:maverick");
    FakeHealth health;
    health.down = {2};
    ManualClock clock;
    Router router(config, health, clock);
    const std::vector<std::size_t> tried{model.deployments[0].id};
    EXPECT_EQ(take(router, model, tried).deployment().name, "gpu-2");
    const std::vector<std::size_t> both{model.deployments[0].id, model.deployments[1].id};
    auto result = router.try_acquire(model, both);
    ASSERT_TRUE(std::holds_alternative<ApiError>(result));
    const auto& error = std::get<ApiError>(result);
    EXPECT_EQ(error.status, 503);
    EXPECT_EQ(error.code, "no_usable_deployment");
    EXPECT_NE(error.message.find("gpu-1: failed in this request; gpu-2: failed in this request; cloud: failing health checks"),
              std::string::npos)
        << error.message;
}

TEST(Router, LatencyStrategyAvoidsTheSlowDeployment) {
    const auto config = load(R"(
upstreams:
  - {name: fast, base_url: "http://127.0.0.1:1"}
  - {name: slow, base_url: "http://127.0.0.1:2"}
models:
  - name: m
    strategy: latency
    deployments: [{upstream: fast}, {upstream: slow}]
)");
    const auto& model = model_named(config, "m");
    FakeHealth health;
    ManualClock clock;
    Router router(config, health, clock);
    std::map<std::string, int> served;
    for (int i = 0; i < 200; ++i) {
        Lease lease = take(router, model);
        const bool fast = lease.deployment().name == "fast";
        ++served[lease.deployment().name];
        router.report(lease, Verdict::success, fast ? 20ms : 400ms);
        clock.advance(10ms);
    }
    EXPECT_GT(served["fast"], 190) << served["slow"];
}

// Runs `coroutine` to completion on a fresh io_context.
template <typename T>
T run(asio::io_context& io, asio::awaitable<T> coroutine) {
    std::optional<T> result;
    asio::co_spawn(io, std::move(coroutine), [&](std::exception_ptr e, T value) {
        if (e) std::rethrow_exception(e);
        result = std::move(value);
    });
    io.run();
    io.restart();
    return std::move(*result);
}

TEST(Router, QueueWaitsForAFreedSlotAndTimesOut) {
    const auto config = load(R"(
upstreams:
  - {name: gpu, base_url: "http://127.0.0.1:1"}
models:
  - name: m
    overflow: queue
    queue: {size: 1, timeout: 200ms}
    deployments: [{upstream: gpu, max_concurrency: 1}]
)");
    const auto& model = model_named(config, "m");
    FakeHealth health;
    Router router(config, health);
    asio::io_context io;
    auto held = std::make_unique<Lease>(take(router, model));

    // The slot is handed to the waiter when the lease is released.
    const auto start = std::chrono::steady_clock::now();  // before the release timer starts
    asio::steady_timer release_later(io, 50ms);
    release_later.async_wait([&](auto) { held.reset(); });
    std::optional<std::variant<Lease, ApiError>> second;
    std::optional<std::variant<Lease, ApiError>> third;
    asio::co_spawn(io, router.acquire(model, {}, SteadyTime::max()), [&](std::exception_ptr, auto r) { second = std::move(r); });
    asio::co_spawn(io, router.acquire(model, {}, SteadyTime::max()), [&](std::exception_ptr, auto r) { third = std::move(r); });
    io.run();
    io.restart();
    ASSERT_TRUE(second && third);
    ASSERT_TRUE(std::holds_alternative<Lease>(*second)) << std::get<ApiError>(*second).message;
    EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
    ASSERT_TRUE(std::holds_alternative<ApiError>(*third));
    EXPECT_EQ(std::get<ApiError>(*third).code, "queue_full");  // one place in the queue

    // With the slot still held, a waiter times out.
    auto timed_out = run(io, router.acquire(model, {}, SteadyTime::max()));
    ASSERT_TRUE(std::holds_alternative<ApiError>(timed_out));
    EXPECT_EQ(std::get<ApiError>(timed_out).status, 429);
    EXPECT_EQ(std::get<ApiError>(timed_out).code, "queue_timeout");
    EXPECT_EQ(router.counters().queue_timeouts.load(), 1u);
    EXPECT_EQ(router.status(model.deployments[0].id).outstanding, 1u);
}

TEST(Router, AQueuedRequestTakesADeploymentThatRecoversWithoutASlotBeingFreed) {
    // One request a minute and no burst: the deployment is "full" until its rate limit refills,
    // which frees no slot; the waiter must notice by looking again.
    const auto config = load(R"(
upstreams:
  - {name: gpu, base_url: "http://127.0.0.1:1"}
models:
  - name: m
    overflow: queue
    queue: {size: 4, timeout: 3s}
    deployments: [{upstream: gpu, limits: {rpm: 60, rpm_burst: 1}}]
)");
    const auto& model = model_named(config, "m");
    FakeHealth health;
    ManualClock clock;
    Router router(config, health, clock);
    take(router, model);  // the one request of this second; its lease ends at once
    asio::io_context io;
    asio::steady_timer refill(io, 150ms);
    refill.async_wait([&](auto) { clock.advance(1s); });  // the limit refills one request
    const auto start = std::chrono::steady_clock::now();
    auto result = run(io, router.acquire(model, {}, SteadyTime::max()));
    ASSERT_TRUE(std::holds_alternative<Lease>(result)) << std::get<ApiError>(result).message;
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_GE(waited, 150ms);
    EXPECT_LT(waited, 1s);  // well before the queue timeout
    EXPECT_EQ(router.counters().queued.load(), 1u);
    EXPECT_EQ(router.queued(model), 0u);
}

TEST(Router, AReloadKeepsTheStateOfDeploymentsThatStayTheSame) {
    const auto before = tiered();
    FakeHealth health;
    ManualClock clock;
    Router first(before, health, clock);
    const auto& model = model_named(before, "llama4:maverick");
    // gpu-1's breaker opens; gpu-2 has both its slots taken by requests still in flight.
    for (int i = 0; i < 3; ++i) {
        health.down = {1};  // gpu-2 out while gpu-1 fails
        Lease lease = take(first, model);
        ASSERT_EQ(lease.deployment().name, "gpu-1");
        first.report(lease, Verdict::failure);
    }
    health.down.clear();
    Lease a = take(first, model);
    Lease b = take(first, model);
    ASSERT_EQ(a.deployment().name, "gpu-2");
    ASSERT_EQ(b.deployment().name, "gpu-2");
    first.counters().spills.fetch_add(7);

    // The new config keeps gpu-1 and gpu-2 as they were and changes the cloud's breaker.
    std::string yaml(kTiered);
    yaml.replace(yaml.find("OVERFLOW"), 8, "overflow: spill");
    yaml.replace(yaml.find("rate_limit_cooldown: 7s"), 23, "rate_limit_cooldown: 7s, breaker: {cooldown: 1s}");
    const auto after = load(yaml);
    Router second(after, health, clock, &first);
    const auto& same = model_named(after, "llama4:maverick");
    // gpu-1 still open, gpu-2 still full: the next request spills to the cloud.
    Lease c = take(second, same);
    EXPECT_EQ(c.deployment().name, "cloud");
    EXPECT_EQ(second.status(same.deployments[0].id).breaker, Breaker::State::open);
    EXPECT_EQ(second.status(same.deployments[1].id).outstanding, 2u);
    EXPECT_EQ(second.counters().spills.load(), 8u);  // counters go on (7 + this spill)
    // A slot released through the old router frees it for the new one.
    a = Lease();
    Lease d = take(second, same);
    EXPECT_EQ(d.deployment().name, "gpu-2");
    // After the cooldown gpu-1 probes again.
    clock.advance(11s);
    Lease e = take(second, same);
    EXPECT_EQ(e.deployment().name, "gpu-1");
    EXPECT_TRUE(e.probe());
}

TEST(Router, UnknownModelListsModelsAndTheClosest) {
    const auto config = tiered();
    FakeHealth health;
    Router router(config, health);
    auto result = router.find("llama4:maverik");
    ASSERT_TRUE(std::holds_alternative<ApiError>(result));
    const auto& error = std::get<ApiError>(result);
    EXPECT_EQ(error.status, 404);
    EXPECT_EQ(error.code, "model_not_found");
    EXPECT_NE(error.message.find("Did you mean 'llama4:maverick'?"), std::string::npos) << error.message;
    EXPECT_NE(error.message.find("Available models: llama4:maverick, deepseek-v3.2."), std::string::npos);
    EXPECT_EQ(std::get<ApiError>(router.find("gpt-5")).message.find("Did you mean"), std::string::npos);
}

TEST(Router, ModelsBodyIsAnOpenAIList) {
    const auto config = tiered();
    FakeHealth health;
    Router router(config, health);
    const auto& body = router.models_body();
    EXPECT_TRUE(body.starts_with(R"({"object":"list","data":[{"id":"llama4:maverick","object":"model")")) << body;
    EXPECT_NE(body.find(R"("id":"deepseek-v3.2")"), std::string::npos);
}

TEST(Text, EditDistance) {
    EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
    EXPECT_EQ(edit_distance("GPT", "gpt"), 0u);
    const std::vector<std::string> names{"alpha", "beta"};
    EXPECT_EQ(closest("alpah", names), "alpha");
    EXPECT_FALSE(closest("zzzzzz", names));
}

}  // namespace
}  // namespace switchyard::route
