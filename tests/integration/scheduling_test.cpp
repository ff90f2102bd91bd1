// Scheduling for local engines, end to end: prefix affinity over two real llama-server replicas
// (a session's turns stay on one, which reuses its cache), load overriding affinity, an engine
// going down forgetting what it held, the fair order of a tier's queue across keys and teams, batch keys
// waiting while interactive ones spill, and local_only keys never reaching the cloud tier.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "harness.hpp"

namespace switchyard::testing {
namespace {

using namespace std::chrono_literals;

const std::map<std::string, std::string> kKeys{{"HEAVY_KEY", "sk-heavy"},
                                               {"LIGHT_KEY", "sk-light"},
                                               {"BATCH_KEY", "sk-batch"},
                                               {"LOCAL_KEY", "sk-local"}};
std::map<std::string, std::string> bearer(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }

constexpr const char* kKeysYaml = R"(
auth: {required: true}
keys:
  - {name: heavy, key: "${HEAVY_KEY}"}
  - {name: light, key: "${LIGHT_KEY}"}
  - {name: batch, key: "${BATCH_KEY}", priority: batch}
  - {name: local, key: "${LOCAL_KEY}", local_only: true}
)";

// A conversation of `turns` user messages (with the assistant's answers between), as a chat body.
std::string session_body(const std::string& session, int turns, const std::string& extra = "") {
    std::string messages = R"({"role":"system","content":"You answer questions about the railway timetable of )" +
                           session + R"( in great detail, citing every station, platform and connection."})";
    for (int t = 0; t < turns; ++t) {
        messages += R"(,{"role":"user","content":"Question )" + std::to_string(t) + " of session " + session +
                    R"(: which trains leave after nine in the evening and where do they stop on the way?"})";
        if (t + 1 < turns) {
            messages += R"(,{"role":"assistant","content":"Answer )" + std::to_string(t) + R"( about the trains."})";
        }
    }
    return R"({"model":"m","max_tokens":4,)" + extra + R"("messages":[)" + messages + "]}";
}

long cached_tokens(const std::string& body) {
    const auto at = body.find(R"("cached_tokens":)");
    if (at == std::string::npos) return -1;
    return std::stol(body.substr(at + 16));
}

TEST(SchedulingAffinity, ASessionsTurnsStayOnOneReplicaWhichReusesItsCache) {
    auto a = start_llama_server(tiny_model(), 2);
    auto b = start_llama_server(tiny_model(), 2);
    auto gateway = start_gateway(R"(
listeners: [{address: 127.0.0.1, port: 0}]
upstreams:
  - {name: gpu-a, type: llama-server, base_url: "http://127.0.0.1:)" + std::to_string(a.port) + R"(",
     health: {interval: 200ms, unhealthy_threshold: 1}}
  - {name: gpu-b, type: llama-server, base_url: "http://127.0.0.1:)" + std::to_string(b.port) + R"(",
     health: {interval: 200ms, unhealthy_threshold: 1}}
models:
  - name: m
    strategy: prefix-affinity
    limits: {tpm: 1000000000}  # token limits: the gateway reads every answer's usage (for /metrics)
    deployments:
      - {upstream: gpu-a, model: tiny, max_concurrency: 2}
      - {upstream: gpu-b, model: tiny, max_concurrency: 2}
)");
    std::map<std::string, std::set<std::string>> replicas;  // session -> where its turns went
    std::map<std::string, std::string> first;
    long reused = 0;
    for (int turn = 1; turn <= 3; ++turn) {
        for (const std::string session : {"s1", "s2", "s3", "s4"}) {
            const auto r = post(gateway.port, "/v1/chat/completions", session_body(session, turn));
            ASSERT_EQ(r.status, 200) << r.body;
            replicas[session].insert(r.header("x-switchyard-upstream"));
            if (turn == 1) first[session] = r.header("x-switchyard-upstream");
            // Later turns find the conversation so far in the replica's cache.
            if (turn > 1) {
                EXPECT_GT(cached_tokens(r.body), 20) << session << " turn " << turn << ": " << r.body;
            }
            reused += std::max(0L, cached_tokens(r.body));  // (first turns share the system prompt's start)
        }
    }
    std::set<std::string> used;
    for (const auto& [session, where] : replicas) {
        EXPECT_EQ(where.size(), 1u) << session << " moved between replicas";
        used.insert(*where.begin());
    }
    EXPECT_EQ(used.size(), 2u) << "four sessions' first turns all hashed to one replica";
    auto page = get(gateway.port, "/metrics").body;
    EXPECT_EQ(metric(page, "switchyard_affinity_matched_total "), 8);
    EXPECT_EQ(metric(page, "switchyard_affinity_hashed_total "), 4);
    double cached = 0;
    for (const std::string d : {"gpu-a", "gpu-b"}) {
        cached += find_metric(page, R"(switchyard_cached_prompt_tokens_total{model="m",deployment=")" + d).value_or(0);
    }
    EXPECT_EQ(cached, static_cast<double>(reused));

    // The replica of session s1 goes down: its sessions move, and what it held is forgotten.
    const std::string gone = first["s1"];
    (gone == "gpu-a" ? a : b).process->stop(SIGKILL);
    std::this_thread::sleep_for(600ms);  // a health check or two
    const auto r = post(gateway.port, "/v1/chat/completions", session_body("s1", 4));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.header("x-switchyard-upstream"), gone);
    page = get(gateway.port, "/metrics").body;
    EXPECT_GE(metric(page, "switchyard_affinity_forgotten_total "), 1);
}

// Two simulated replicas whose answers take a while: concurrent turns of one session pile onto its
// replica only up to the margin, then go to the less loaded one.
TEST(SchedulingAffinity, LoadBeyondTheMarginOverridesAffinity) {
    Sim a = start_sim({"--ttft-ms", "400", "--tokens", "2"});
    Sim b = start_sim({"--ttft-ms", "400", "--tokens", "2"});
    auto gateway = start_gateway(R"(
listeners: [{address: 127.0.0.1, port: 0}]
upstreams:
  - {name: a, base_url: ")" + a.url() + R"(/v1"}
  - {name: b, base_url: ")" + b.url() + R"(/v1"}
models:
  - name: m
    strategy: prefix-affinity
    affinity: {margin: 1}
    deployments: [{upstream: a}, {upstream: b}]
)");
    // Sequential turns: one replica.
    const auto first = post(gateway.port, "/v1/chat/completions", session_body("x", 1));
    ASSERT_EQ(first.status, 200);
    const std::string home = first.header("x-switchyard-upstream");
    for (int i = 0; i < 2; ++i) {
        EXPECT_EQ(post(gateway.port, "/v1/chat/completions", session_body("x", 2)).header("x-switchyard-upstream"), home);
    }
    // Four at once: the home replica takes two (0, then 1 in flight against 0), the rest go elsewhere.
    std::vector<std::future<Response>> calls;
    for (int i = 0; i < 4; ++i) {
        calls.push_back(std::async(std::launch::async,
                                   [&] { return post(gateway.port, "/v1/chat/completions", session_body("x", 2)); }));
        std::this_thread::sleep_for(50ms);
    }
    int at_home = 0;
    for (auto& call : calls) {
        const auto r = call.get();
        ASSERT_EQ(r.status, 200);
        at_home += r.header("x-switchyard-upstream") == home ? 1 : 0;
    }
    EXPECT_GE(at_home, 2);
    EXPECT_LE(at_home, 3);
    EXPECT_GE(metric(get(gateway.port, "/metrics").body, "switchyard_affinity_overridden_total "), 1);
}

std::string tiered_config(const Sim& local, const Sim& cloud, const std::string& local_extra = "") {
    return std::string(R"(
listeners: [{address: 127.0.0.1, port: 0}]
)") + kKeysYaml + R"(
upstreams:
  - {name: local, base_url: ")" + local.url() + R"(/v1", health: {interval: 200ms, unhealthy_threshold: 1}}
  - {name: cloud, base_url: ")" + cloud.url() + R"(/v1"}
models:
  - name: m
    queue: {size: 20, timeout: 10s}
    deployments:
      - {upstream: local, max_concurrency: 1)" + local_extra + R"(}
      - {upstream: cloud, tier: 2}
)";
}

// Requests sent one after another (each `after` the one before it, from its own thread) for model
// m, each named; the names in the order the answers came back ("name!STATUS" for one not 200).
struct Arrival {
    std::string key;
    std::string name;
    std::chrono::milliseconds after{10};
};
std::vector<std::string> order_served(int port, const std::vector<Arrival>& arrivals) {
    std::mutex mutex;
    std::vector<std::string> order;
    const auto call = [&](const std::string& key, const std::string& name) {
        const auto r = post(port, "/v1/chat/completions", chat_body("m", false, R"("max_tokens":2)"), bearer(key));
        std::lock_guard lock(mutex);
        order.push_back(r.status == 200 ? name : name + "!" + std::to_string(r.status));
    };
    std::vector<std::thread> threads;
    for (const Arrival& a : arrivals) {
        std::this_thread::sleep_for(a.after);
        threads.emplace_back(call, a.key, a.name);
    }
    for (auto& t : threads) t.join();
    return order;
}

std::ptrdiff_t place(const std::vector<std::string>& order, const std::string& name) {
    return std::find(order.begin(), order.end(), name) - order.begin();
}

// One local slot, busy: a heavy key queues six requests, then a light key two. Served in fair
// order the light key's come second and fourth, not seventh and eighth.
TEST(SchedulingFairShare, AQueueServesKeysInFairOrder) {
    Sim local = start_sim({"--ttft-ms", "250", "--tokens", "2"});
    Sim cloud = start_sim({"--tokens", "2"});
    std::string yaml = tiered_config(local, cloud);
    yaml = yaml.substr(0, yaml.find("      - {upstream: cloud, tier: 2}"));  // local only: requests queue
    yaml.replace(yaml.find("    queue:"), 0, "    overflow: queue\n");
    auto gateway = start_gateway(yaml, kKeys);
    std::vector<Arrival> arrivals{{"sk-heavy", "h0", 0ms}};  // takes the slot
    for (int i = 1; i <= 5; ++i) arrivals.push_back({"sk-heavy", "h" + std::to_string(i), i == 1 ? 50ms : 10ms});
    arrivals.push_back({"sk-light", "l1", 40ms});
    arrivals.push_back({"sk-light", "l2", 10ms});
    const std::vector<std::string> order = order_served(gateway.port, arrivals);
    ASSERT_EQ(order.size(), 8u);
    // FIFO would serve l1 and l2 last (places 6 and 7).
    EXPECT_LE(place(order, "l1"), 3) << ::testing::PrintToString(order);
    EXPECT_LE(place(order, "l2"), 5) << ::testing::PrintToString(order);
}

// The share between teams (queue.fair_by: label:team): two keys of team "big" queue three requests
// each, then the one key of team "small" two. The big team's keys share one counter, so the small
// team's requests come second and fourth; shared by key (three counters) they would come third and
// sixth.
TEST(SchedulingFairShare, ATeamOfManyKeysGetsOneShare) {
    Sim local = start_sim({"--ttft-ms", "250", "--tokens", "2"});
    const std::string yaml = R"(
listeners: [{address: 127.0.0.1, port: 0}]
auth: {required: true}
keys:
  - {name: big-1, key: "${HEAVY_KEY}", labels: {team: big}}
  - {name: big-2, key: "${BATCH_KEY}", labels: {team: big}}
  - {name: small, key: "${LIGHT_KEY}", labels: {team: small}}
upstreams:
  - {name: local, base_url: ")" + local.url() + R"(/v1"}
models:
  - name: m
    overflow: queue
    queue: {size: 20, timeout: 10s, fair_by: "label:team"}
    deployments:
      - {upstream: local, max_concurrency: 1}
)";
    auto gateway = start_gateway(yaml, kKeys);
    std::vector<Arrival> arrivals{{"sk-heavy", "a0", 0ms}};  // takes the slot
    for (int i = 1; i <= 3; ++i) {
        arrivals.push_back({"sk-heavy", "a" + std::to_string(i), i == 1 ? 50ms : 10ms});
        arrivals.push_back({"sk-batch", "b" + std::to_string(i), 10ms});
    }
    arrivals.push_back({"sk-light", "s1", 40ms});
    arrivals.push_back({"sk-light", "s2", 10ms});
    const std::vector<std::string> order = order_served(gateway.port, arrivals);
    ASSERT_EQ(order.size(), 9u);
    EXPECT_EQ(place(order, "s1"), 2) << ::testing::PrintToString(order);
    EXPECT_EQ(place(order, "s2"), 4) << ::testing::PrintToString(order);
}

// Local full: an interactive key spills to the cloud at once; a batch key waits for local; a
// local_only key waits too, and with local down is refused in its own API's shape, never sent on.
TEST(SchedulingPriority, BatchWaitsInteractiveSpillsLocalOnlyNeverLeaves) {
    Sim local = start_sim({"--ttft-ms", "500", "--tokens", "2"});
    Sim cloud = start_sim({"--tokens", "2"});
    auto gateway = start_gateway(tiered_config(local, cloud), kKeys);
    const auto body = chat_body("m", false, R"("max_tokens":2)");
    auto hold = std::async(std::launch::async,
                           [&] { return post(gateway.port, "/v1/chat/completions", body, bearer("sk-heavy")); });
    std::this_thread::sleep_for(100ms);
    const auto interactive = post(gateway.port, "/v1/chat/completions", body, bearer("sk-light"));
    EXPECT_EQ(interactive.header("x-switchyard-upstream"), "cloud");
    const auto started = std::chrono::steady_clock::now();
    const auto batch = post(gateway.port, "/v1/chat/completions", body, bearer("sk-batch"));
    ASSERT_EQ(batch.status, 200) << batch.body;
    EXPECT_EQ(batch.header("x-switchyard-upstream"), "local");
    EXPECT_GE(std::chrono::steady_clock::now() - started, 250ms);  // it waited for the slot
    EXPECT_EQ(hold.get().header("x-switchyard-upstream"), "local");
    const auto local_only = post(gateway.port, "/v1/chat/completions", body, bearer("sk-local"));
    EXPECT_EQ(local_only.header("x-switchyard-upstream"), "local");
    const long cloud_requests = stat_number(sim_stats(cloud), "requests_total");

    local.process->stop(SIGKILL);
    std::this_thread::sleep_for(600ms);
    const auto refused = post(gateway.port, "/v1/chat/completions", body, bearer("sk-local"));
    EXPECT_EQ(refused.status, 503) << refused.body;
    EXPECT_NE(refused.body.find("local_only_unavailable"), std::string::npos) << refused.body;
    const auto anthropic = post(gateway.port, "/v1/messages",
                                R"({"model":"m","max_tokens":2,"messages":[{"role":"user","content":"hi"}]})",
                                {{"x-api-key", "sk-local"}, {"anthropic-version", "2023-06-01"}});
    EXPECT_EQ(anthropic.status, 503);
    EXPECT_NE(anthropic.body.find(R"("type":"error")"), std::string::npos) << anthropic.body;
    EXPECT_EQ(stat_number(sim_stats(cloud), "requests_total"), cloud_requests);
    // An interactive key still gets the cloud.
    EXPECT_EQ(post(gateway.port, "/v1/chat/completions", body, bearer("sk-light")).header("x-switchyard-upstream"),
              "cloud");
}

}  // namespace
}  // namespace switchyard::testing
