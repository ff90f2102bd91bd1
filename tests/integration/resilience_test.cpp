// Routing and resilience over real sockets: the gateway in front of several simulators, some of
// which are killed, made to fail, saturated and brought back. Each test asserts where requests
// went (the simulators' counters), that every request got a success or a clear error, and how the
// gateway recovered.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "harness.hpp"

namespace switchyard::testing {
namespace {

using namespace std::chrono_literals;

long requests(const Sim& sim) { return stat_number(sim_stats(sim), "requests_total"); }

void sim_config(const Sim& sim, const std::string& json) {
    const auto r = post(sim.port, "/sim/config", json);
    ASSERT_EQ(r.status, 200) << r.body;
}

std::string upstream_yaml(const std::string& name, const Sim& sim, const std::string& extra = "") {
    return "  - name: " + name + "\n    type: llama-server\n    base_url: " + sim.url() +
           "\n    health: {interval: 100ms, timeout: 500ms, unhealthy_threshold: 1}\n"
           "    breaker: {consecutive_failures: 3, cooldown: 500ms}\n" +
           extra;
}

std::string gateway_yaml(const std::string& upstreams, const std::string& models, const std::string& top = "") {
    return "listeners: [{address: 127.0.0.1, port: 0}]\nserver: {io_threads: 2}\n" + top + "upstreams:\n" +
           upstreams + "models:\n" + models;
}

// Sends `n` requests from `threads` threads at once; returns the status of each.
std::vector<int> burst(int port, const std::string& body, int n, int threads,
                       const std::map<std::string, std::string>& headers = {}) {
    std::vector<int> statuses(static_cast<std::size_t>(n));
    std::atomic<int> next{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&] {
            for (int i; (i = next++) < n;) {
                statuses[static_cast<std::size_t>(i)] = post(port, "/v1/chat/completions", body, headers).status;
            }
        });
    }
    for (auto& worker : workers) worker.join();
    return statuses;
}

int count(const std::vector<int>& statuses, int status) {
    return static_cast<int>(std::count(statuses.begin(), statuses.end(), status));
}

// Three local simulators in tier 1 and a cloud one in tier 2, as in the field report.
class TieredTest : public ::testing::Test {
protected:
    void SetUp() override {
        for (auto& sim : local) sim = start_sim({"--tokens", "4"});
        cloud = start_sim({"--tokens", "4"});
        std::string upstreams;
        for (int i = 0; i < 3; ++i) upstreams += upstream_yaml("local-" + std::to_string(i + 1), local[i]);
        upstreams += upstream_yaml("cloud", cloud);
        gateway = start_gateway(gateway_yaml(upstreams, R"(
  - name: llama4:maverick
    strategy: least-outstanding
    deployments:
      - {upstream: local-1, model: maverick-q4}
      - {upstream: local-2, model: maverick-q4}
      - {upstream: local-3, model: maverick-q4}
      - {upstream: cloud, model: deepseek-v3.2, tier: 2}
)"));
    }

    long local_requests() const { return requests(local[0]) + requests(local[1]) + requests(local[2]); }

    Sim local[3];
    Sim cloud;
    Gateway gateway;
};

TEST_F(TieredTest, TrafficStaysLocalUntilTheLocalTierIsDownThenReturnsWhenItRecovers) {
    const std::string body = chat_body("llama4:maverick");
    auto statuses = burst(gateway.port, body, 60, 4);
    EXPECT_EQ(count(statuses, 200), 60);
    EXPECT_EQ(local_requests(), 60);
    EXPECT_EQ(requests(cloud), 0);
    for (const auto& sim : local) EXPECT_GT(requests(sim), 5);  // shared within the tier

    // Kill one local engine mid-run: nothing is lost, the other two take its share.
    const int port1 = local[0].port;
    local[0].process->stop(SIGKILL);
    statuses = burst(gateway.port, body, 60, 4);
    EXPECT_EQ(count(statuses, 200), 60);
    EXPECT_EQ(requests(cloud), 0);

    // Kill the other two: the cloud tier takes everything, still with no failed request.
    local[1].process->stop(SIGKILL);
    local[2].process->stop(SIGKILL);
    statuses = burst(gateway.port, body, 40, 4);
    EXPECT_EQ(count(statuses, 200), 40);
    EXPECT_GE(requests(cloud), 40);

    // Bring one local engine back on its port: within a health interval plus the breaker's
    // cooldown, traffic is local again.
    local[0] = start_sim({"--port", std::to_string(port1), "--tokens", "4"});
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    int tier = 2;
    while (tier != 1 && std::chrono::steady_clock::now() < deadline) {
        const auto r = post(gateway.port, "/v1/chat/completions", body);
        ASSERT_EQ(r.status, 200) << r.body;
        tier = std::stoi(r.header("x-switchyard-tier"));
        if (tier != 1) std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(tier, 1);
    const long cloud_before = requests(cloud);
    statuses = burst(gateway.port, body, 20, 2);
    EXPECT_EQ(count(statuses, 200), 20);
    EXPECT_EQ(requests(cloud), cloud_before);  // all back on local-1
}

TEST_F(TieredTest, ServerErrorsAreRetriedElsewhereAndTheBreakerTakesTheFailingEngineOut) {
    sim_config(local[0], R"({"fault":"500"})");
    const std::string body = chat_body("llama4:maverick");
    auto statuses = burst(gateway.port, body, 60, 2);
    EXPECT_EQ(count(statuses, 200), 60) << "every request is retried onto a healthy engine";
    // Three consecutive failures open its breaker; while it is open only half-open probes reach it.
    EXPECT_GE(requests(local[0]), 3);
    EXPECT_LE(requests(local[0]), 12);
    EXPECT_EQ(requests(cloud), 0);

    // Repaired: after the cooldown a probe succeeds and it takes its share again.
    sim_config(local[0], R"({"fault":"none"})");
    std::this_thread::sleep_for(600ms);
    const long before = requests(local[0]);
    statuses = burst(gateway.port, body, 60, 2);
    EXPECT_EQ(count(statuses, 200), 60);
    EXPECT_GE(requests(local[0]) - before, 10);
}

TEST_F(TieredTest, A429CoolsTheEngineDownForItsRetryAfter) {
    const std::string body = chat_body("llama4:maverick");
    sim_config(local[0], R"({"fault":"429"})");  // Retry-After: 1
    auto statuses = burst(gateway.port, body, 30, 1);
    EXPECT_EQ(count(statuses, 200), 30);
    EXPECT_EQ(requests(local[0]), 1) << "one 429, then no traffic for a second";
    sim_config(local[0], R"({"fault":"none"})");
    std::this_thread::sleep_for(1100ms);
    statuses = burst(gateway.port, body, 30, 1);
    EXPECT_EQ(count(statuses, 200), 30);
    EXPECT_GE(requests(local[0]), 6);
}

TEST_F(TieredTest, AHangingEngineTimesOutAndTheRequestMovesOn) {
    // Not in the fixture's config: a short first-byte timeout.
    Sim hanging = start_sim({"--fault", "hang"});
    Sim healthy = start_sim({"--tokens", "4"});
    auto gw = start_gateway(gateway_yaml(upstream_yaml("hanging", hanging, "    timeouts: {first_byte: 300ms}\n") +
                                             upstream_yaml("healthy", healthy),
                                         R"(
  - name: m
    deployments: [{upstream: hanging}, {upstream: healthy}]
)"));
    const auto start = std::chrono::steady_clock::now();
    auto statuses = burst(gw.port, chat_body("m"), 8, 1);
    EXPECT_EQ(count(statuses, 200), 8);
    EXPECT_LE(requests(hanging), 3);  // then its breaker is open
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_F(TieredTest, AStreamBrokenAfterItBeganEndsWithAnErrorEventAndIsNotRetried) {
    for (auto& sim : local) sim_config(sim, R"({"fault":"drop:2"})");
    const auto r = post_streaming(gateway.port, "/v1/chat/completions", chat_body("llama4:maverick", true),
                                  {{"x-sim-tokens", "10"}});
    ASSERT_EQ(r.status, 200);
    const std::string body = r.body();
    EXPECT_EQ(body.find("[DONE]"), std::string::npos);
    EXPECT_NE(body.rfind(R"(data: {"error":{"message":"upstream 'local-)"), std::string::npos) << body;
    // One generation only: the role chunk and two tokens, nothing spliced from another engine.
    std::size_t chunks = 0;
    for (std::size_t at = 0; (at = body.find("chat.completion.chunk", at)) != std::string::npos; ++at) ++chunks;
    EXPECT_EQ(chunks, 3u) << body;
    EXPECT_EQ(local_requests(), 1);
    EXPECT_EQ(requests(cloud), 0);
}

TEST(Resilience, ASaturatedLocalTierSpillsQueuesOrRejectsAsConfigured) {
    Sim local = start_sim({"--tokens", "2", "--ttft-ms", "300"});
    Sim cloud = start_sim({"--tokens", "2"});
    const std::string upstreams = upstream_yaml("local", local) + upstream_yaml("cloud", cloud);
    auto gw = start_gateway(gateway_yaml(upstreams, R"(
  - name: spill
    deployments: [{upstream: local, max_concurrency: 2}, {upstream: cloud, tier: 2}]
  - name: reject
    overflow: reject
    deployments: [{upstream: local, max_concurrency: 2}, {upstream: cloud, tier: 2}]
  - name: queue
    overflow: queue
    queue: {size: 10, timeout: 5s}
    deployments: [{upstream: local, max_concurrency: 2}, {upstream: cloud, tier: 2}]
)"));
    // spill: two at a time locally, the rest in the cloud.
    auto statuses = burst(gw.port, chat_body("spill"), 6, 6);
    EXPECT_EQ(count(statuses, 200), 6);
    EXPECT_EQ(requests(local), 2);
    EXPECT_EQ(requests(cloud), 4);

    // reject: the two that fit are served, the others get 429 at once.
    statuses = burst(gw.port, chat_body("reject"), 6, 6);
    EXPECT_EQ(count(statuses, 200), 2);
    EXPECT_EQ(count(statuses, 429), 4);
    EXPECT_EQ(requests(local), 4);
    EXPECT_EQ(requests(cloud), 4);

    // queue: everything waits its turn for the local engine.
    const auto start = std::chrono::steady_clock::now();
    statuses = burst(gw.port, chat_body("queue"), 6, 6);
    EXPECT_EQ(count(statuses, 200), 6);
    EXPECT_EQ(requests(local), 10);
    EXPECT_EQ(requests(cloud), 4);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 850ms);  // three rounds of 300 ms

    const auto refused = post(gw.port, "/v1/chat/completions", chat_body("reject"), {});
    EXPECT_EQ(refused.status, 200);  // nothing in flight any more
}

TEST(Resilience, RetriesStayWithinTheBudget) {
    Sim a = start_sim({"--fault", "500"});
    Sim b = start_sim({"--fault", "500"});
    Sim c = start_sim({"--fault", "500"});
    std::string upstreams;
    for (auto [name, sim] : {std::pair{"a", &a}, {"b", &b}, {"c", &c}}) {
        upstreams += "  - {name: " + std::string(name) + ", base_url: \"" + sim->url() +
                     "\", health: {enabled: false}, breaker: {enabled: false}}\n";
    }
    auto gw = start_gateway(gateway_yaml(upstreams, R"(
  - name: m
    deployments: [{upstream: a}, {upstream: b}, {upstream: c}]
)",
                                         "retries: {attempts: 3, backoff_base: 1ms, budget_ratio: 0.1, "
                                         "budget_min_per_second: 0.5, budget_window: 10s}\n"));
    auto statuses = burst(gw.port, chat_body("m"), 200, 4);
    EXPECT_EQ(count(statuses, 500) + count(statuses, 502), 200);  // a clear error each
    const long sent = requests(a) + requests(b) + requests(c);
    // Without a budget: 600. With it: 200 + 10% of 200 + 0.5/s x 10 s = 225.
    EXPECT_GE(sent, 200);
    EXPECT_LE(sent, 226);
}

TEST(Resilience, ACallerThatHangsUpFreesTheEngineSlotAtOnce) {
    Sim local = start_sim({"--tokens", "200", "--itl-ms", "50"});
    auto gw = start_gateway(gateway_yaml(upstream_yaml("local", local), R"(
  - name: m
    overflow: reject
    deployments: [{upstream: local, max_concurrency: 1}]
)"));
    const std::string body = chat_body("m", true);
    const std::string raw = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    raw_exchange(gw.port, raw, 300ms);  // reads for 300 ms of a 10 s stream, then hangs up
    // The slot is free again (reject would answer 429 otherwise) and the engine saw the cancel.
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    Response r;
    do {
        r = post(gw.port, "/v1/chat/completions", chat_body("m", false), {{"x-sim-tokens", "2"}, {"x-sim-itl-ms", "0"}});
    } while (r.status == 429 && std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(stat_number(sim_stats(local), "cancelled"), 1);
}

TEST(Resilience, ACallerMayAskForLessTimeThanConfigured) {
    Sim slow = start_sim({"--ttft-ms", "3000"});
    auto gw = start_gateway(gateway_yaml(upstream_yaml("slow", slow), "  - name: m\n    deployments: [{upstream: slow}]\n"));
    const auto start = std::chrono::steady_clock::now();
    auto r = post(gw.port, "/v1/chat/completions", chat_body("m"), {{"x-switchyard-timeout", "300ms"}});
    EXPECT_EQ(r.status, 504) << r.body;
    EXPECT_NE(r.body.find("the timeout the caller asked for"), std::string::npos) << r.body;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    r = post(gw.port, "/v1/chat/completions", chat_body("m"), {{"x-switchyard-timeout", "soon"}});
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("x-switchyard-timeout"), std::string::npos);
}

TEST(Resilience, AModelFallsBackToAnotherModelAndSaysSo) {
    Sim local = start_sim({"--tokens", "2"});
    Sim cloud = start_sim({"--tokens", "2"});
    auto gw = start_gateway(gateway_yaml(upstream_yaml("local", local) + upstream_yaml("cloud", cloud), R"(
  - name: llama4:maverick
    fallbacks: [deepseek-v3.2]
    deployments: [{upstream: local, model: maverick-q4}]
  - name: deepseek-v3.2
    deployments: [{upstream: cloud}]
)"));
    auto r = post(gw.port, "/v1/chat/completions", chat_body("llama4:maverick"));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.header("x-switchyard-model"), "");
    EXPECT_NE(r.body.find(R"("model":"maverick-q4")"), std::string::npos);

    sim_config(local, R"({"healthy":false})");
    std::this_thread::sleep_for(300ms);  // a failed health check
    r = post(gw.port, "/v1/chat/completions", chat_body("llama4:maverick"));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-upstream"), "cloud");
    EXPECT_EQ(r.header("x-switchyard-tier"), "1");
    EXPECT_EQ(r.header("x-switchyard-model"), "deepseek-v3.2");
    EXPECT_NE(r.body.find(R"("model":"deepseek-v3.2")"), std::string::npos) << r.body;
}

TEST(Resilience, NothingUsableIsA503ThatSaysWhy) {
    Sim local = start_sim();
    auto gw = start_gateway(gateway_yaml(upstream_yaml("local", local), "  - name: m\n    deployments: [{upstream: local}]\n"));
    sim_config(local, R"({"healthy":false})");
    std::this_thread::sleep_for(300ms);
    const auto r = post(gw.port, "/v1/chat/completions", chat_body("m"));
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.header("retry-after"), "1");
    EXPECT_NE(r.body.find("local: failing health checks"), std::string::npos) << r.body;
    EXPECT_EQ(requests(local), 0);
}

}  // namespace
}  // namespace switchyard::testing
