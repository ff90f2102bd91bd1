// The engine supervisor's pure parts: placeholders, backoff, LRU choice, /proc and nvidia-smi
// readings, the `ps` table, and the `engines:` configuration with its errors.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "engine/policy.hpp"
#include "engine/proc.hpp"
#include "engine/ps.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace switchyard::engine {
namespace {

using namespace std::chrono_literals;

TEST(EnginePlaceholders, ExpandsPortModelAndNameAndLeavesOthers) {
    const Placeholders values{"8123", "/models/tiny.gguf", "tiny"};
    EXPECT_EQ(expand("--port=${PORT}", values), "--port=8123");
    EXPECT_EQ(expand("${NAME}-${MODEL}", values), "tiny-/models/tiny.gguf");
    EXPECT_EQ(expand("${OTHER} and ${PORT", values), "${OTHER} and ${PORT");
    const auto argv = expand_command({"llama-server", "-m", "${MODEL}", "--port", "${PORT}"}, values);
    ASSERT_EQ(argv.size(), 5u);
    EXPECT_EQ(argv[2], "/models/tiny.gguf");
    EXPECT_EQ(argv[4], "8123");
}

TEST(EngineBackoff, DoublesFromBaseUpToMax) {
    EXPECT_EQ(backoff_delay(1s, 60s, 0), 0ms);
    EXPECT_EQ(backoff_delay(1s, 60s, 1), 1s);
    EXPECT_EQ(backoff_delay(1s, 60s, 2), 2s);
    EXPECT_EQ(backoff_delay(1s, 60s, 3), 4s);
    EXPECT_EQ(backoff_delay(1s, 60s, 7), 60s);
    EXPECT_EQ(backoff_delay(1s, 60s, 1000), 60s);
    EXPECT_EQ(backoff_delay(300ms, 1s, 3), 1s);
}

TEST(EngineLru, StopsTheLeastRecentlyUsedLoadedEngine) {
    const SteadyTime t0{};
    std::vector<LruCandidate> group{
        {0, t0 + 5s, true, false},
        {1, t0 + 1s, true, false},
        {2, t0 + 0s, false, false},  // not loaded: nothing to free
        {3, t0 + 9s, false, false},  // the one starting
    };
    EXPECT_EQ(pick_eviction(group, 3), 1u);
    group[1].stopping = true;  // already on its way out
    EXPECT_EQ(pick_eviction(group, 3), 0u);
    EXPECT_EQ(pick_eviction(group, 0), std::nullopt);  // only the starter itself is loaded
}

TEST(EngineMemory, ReadsVmRssAndNvidiaSmi) {
    EXPECT_EQ(parse_vm_rss("Name:\tllama-server\nVmPeak:\t  99 kB\nVmRSS:\t   20480 kB\nThreads: 4\n"), 20480u * 1024);
    EXPECT_EQ(parse_vm_rss("Name: zombie\n"), std::nullopt);
    const auto gpu = parse_nvidia_smi("1234, 5120\n99, 10\ngarbage\n1234, 1\n");
    EXPECT_EQ(gpu.at(1234), 5121ull << 20);
    EXPECT_EQ(gpu.at(99), 10ull << 20);
    EXPECT_EQ(gpu.size(), 2u);
}

TEST(EngineProcessTree, ParsesStatEvenWithParenthesesInTheName) {
    const auto info = parse_stat("4242 (llama (server) x) S 17 4240 4240 0 -1 4194560 1 2 3\n");
    ASSERT_TRUE(info);
    EXPECT_EQ(info->pid, 4242);
    EXPECT_EQ(info->ppid, 17);
    EXPECT_EQ(info->pgid, 4240);
    EXPECT_FALSE(parse_stat("garbage"));
    EXPECT_FALSE(parse_stat("12 (x) S"));
}

// A fake /proc: the engine (100) with a router child (101) that has a child of its own in another
// process group (102); 200 is someone else's, 1 is init, `self` and `stat` are not processes.
class FakeProc {
public:
    FakeProc() {
        root_ = std::filesystem::temp_directory_path() / ("switchyard-fake-proc-" + std::to_string(::getpid()));
        std::filesystem::remove_all(root_);
        add(1, 0, 1, 4096);
        add(100, 1, 100, 12000);
        add(101, 100, 100, 18000);
        add(102, 101, 102, 20000);
        add(200, 1, 200, 99999);
        add(103, 100, 100, std::nullopt);  // gone between the listing and the reading
        std::filesystem::create_directories(root_ / "self");
        std::ofstream(root_ / "stat") << "cpu  1 2 3\n";
    }
    ~FakeProc() { std::filesystem::remove_all(root_); }
    std::string path() const { return root_.string(); }

private:
    void add(pid_t pid, pid_t ppid, pid_t pgid, std::optional<std::size_t> rss_kib) {
        const auto dir = root_ / std::to_string(pid);
        std::filesystem::create_directories(dir);
        std::ofstream(dir / "stat") << pid << " (llama-server) S " << ppid << " " << pgid << " " << pgid << " 0 -1\n";
        if (rss_kib) std::ofstream(dir / "status") << "Name:\tllama-server\nVmRSS:\t" << *rss_kib << " kB\n";
    }
    std::filesystem::path root_;
};

TEST(EngineProcessTree, SumsRssOverTheMainProcessAndItsDescendants) {
    FakeProc proc;
    const auto all = list_processes(proc.path());
    EXPECT_EQ(all.size(), 6u);
    const TreeMemory memory = read_tree_memory(proc.path(), 100);
    ASSERT_EQ(memory.tree.size(), 4u);
    EXPECT_EQ(memory.tree[0].pid, 100);  // root first
    std::vector<pid_t> pids;
    for (const auto& p : memory.tree) pids.push_back(p.pid);
    std::sort(pids.begin(), pids.end());
    EXPECT_EQ(pids, (std::vector<pid_t>{100, 101, 102, 103}));  // not 1, not 200
    EXPECT_EQ(memory.main_rss, 12000u * 1024);
    EXPECT_EQ(memory.rss, (12000u + 18000u + 20000u) * 1024);
    EXPECT_EQ(read_tree_memory(proc.path(), 101).rss, (18000u + 20000u) * 1024);
    EXPECT_TRUE(read_tree_memory(proc.path(), 4242).tree.empty());  // not running
    EXPECT_EQ(read_tree_memory(proc.path(), 4242).rss, 0u);

    const std::map<pid_t, std::size_t> gpu{{101, 3u << 30}, {102, 1u << 30}, {200, 7u << 30}};
    EXPECT_EQ(tree_gpu_memory(gpu, memory.tree), 4ull << 30);
}

TEST(EngineProcessTree, ReadsTheRealProc) {
    const TreeMemory memory = read_tree_memory("/proc", ::getpid());
    ASSERT_FALSE(memory.tree.empty());
    EXPECT_EQ(memory.tree[0].pid, ::getpid());
    EXPECT_GT(memory.main_rss, 0u);
    EXPECT_GE(memory.rss, memory.main_rss);
}

TEST(EngineRouterModels, ReadsTheStateOfEachModel) {
    const auto listed = parse_router_models(
        R"({"data":[{"id":"tiny-llama","object":"model","status":{"value":"loaded","args":["x"]}},)"
        R"({"id":"tiny-llama4-moe","status":{"value":"unloaded"}},{"id":"other"},{"no":"id"}],"object":"list"})");
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->size(), 3u);
    EXPECT_EQ((*listed)[0], (ModelState{"tiny-llama", "loaded"}));
    EXPECT_EQ((*listed)[2], (ModelState{"other", ""}));
    EXPECT_FALSE(parse_router_models("<html>"));
    EXPECT_FALSE(parse_router_models(R"({"error":"x"})"));
    const auto merged = merge_model_states({"tiny-llama4-moe", "missing"}, *listed);
    EXPECT_EQ(merged, (std::vector<ModelState>{{"tiny-llama4-moe", "unloaded"}, {"missing", ""}}));
}

TEST(EnginePs, PrintsATable) {
    std::string why;
    const std::string table = ps_table(
        R"({"object":"list","data":[{"name":"tiny","state":"ready","detail":"","pid":42,"port":1,"model":"m","gpu":"",)"
        R"("rss_bytes":104857600,"gpu_memory_bytes":null,"in_flight":2,"uptime_s":75,"restarts":1,"last_error":"","log_tail":[]}]})",
        &why);
    EXPECT_NE(table.find("NAME"), std::string::npos) << table;
    EXPECT_NE(table.find("tiny"), std::string::npos);
    EXPECT_NE(table.find("ready"), std::string::npos);
    EXPECT_NE(table.find("100.0MiB"), std::string::npos) << table;
    EXPECT_NE(table.find("1m15s"), std::string::npos) << table;
    EXPECT_NE(table.find("MODELS"), std::string::npos) << table;
    EXPECT_TRUE(ps_table("not json", &why).empty());

    const std::string router = ps_table(
        R"({"object":"list","data":[{"name":"router","state":"ready","pid":42,"rss_bytes":1,"in_flight":0,"uptime_s":1,)"
        R"("restarts":0,"models":[{"name":"tiny-llama","state":"loaded"},{"name":"moe","state":null}]}]})",
        &why);
    EXPECT_NE(router.find("tiny-llama:loaded,moe"), std::string::npos) << router;
}

}  // namespace
}  // namespace switchyard::engine

namespace switchyard::config {
namespace {

EnvLookup no_env() {
    return [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
}

TEST(EngineConfig, ParsesEnginesAndDeploymentsOnThem) {
    const auto result = load_string(R"(
gpu_groups:
  gpu0: {max_loaded: 1}
engines:
  - name: small
    command: [llama-server, -m, "${MODEL}", --port, "${PORT}"]
    model: /models/small.gguf
    gpu: gpu0
    preload: true
    idle_unload: 10m
    health_interval: 0
    unhealthy_threshold: 5
    memory_limit: 2GiB
    restart: {backoff_base: 500ms, backoff_max: 30s, max_restarts: 3, window: 5m}
    log: {dir: /tmp/engines, max_size: 1MiB, files: 2}
    env: {CUDA_VISIBLE_DEVICES: "0"}
  - name: big
    command: [llama-server, --port, "${PORT}"]
    port: 9555
    gpu: gpu0
models:
  - name: small
    deployments: [{engine: small}]
  - name: big
    deployments: [{engine: big, model: big-q4}]
)",
                                    no_env());
    ASSERT_TRUE(result.gateway) << (result.errors.empty() ? "" : to_string(result.errors[0]));
    const Gateway& g = *result.gateway;
    ASSERT_EQ(g.engines.size(), 2u);
    ASSERT_EQ(g.upstreams.size(), 2u);  // one per engine, none declared
    const Engine& small = g.engines[0];
    EXPECT_EQ(small.command[2], "${MODEL}");  // left for the supervisor
    EXPECT_EQ(small.command[4], "${PORT}");
    EXPECT_TRUE(small.preload);
    EXPECT_EQ(small.idle_unload, std::chrono::minutes(10));
    EXPECT_EQ(small.memory_limit, 2ull << 30);
    EXPECT_EQ(small.health_interval.count(), 0);  // never probed once ready
    EXPECT_EQ(small.unhealthy_threshold, 5u);
    EXPECT_EQ(g.engines[1].health_interval, std::chrono::seconds(5));
    EXPECT_EQ(small.backoff_base, std::chrono::milliseconds(500));
    EXPECT_EQ(small.max_restarts, 3u);
    EXPECT_EQ(small.log_files, 2u);
    EXPECT_EQ(small.env.at("CUDA_VISIBLE_DEVICES"), "0");
    EXPECT_EQ(g.gpu_groups.at("gpu0").max_loaded, 1u);
    EXPECT_EQ(g.engines[1].port, 9555);
    const Upstream& upstream = g.upstreams[g.engines[1].upstream];
    EXPECT_EQ(upstream.name, "big");
    EXPECT_EQ(upstream.type, UpstreamType::llama_server);
    EXPECT_EQ(upstream.url.port, 9555);
    EXPECT_FALSE(upstream.health.enabled);
    EXPECT_EQ(upstream.engine, std::optional<std::size_t>(1));
    EXPECT_EQ(g.models[1].deployments[0].upstream, g.engines[1].upstream);
    EXPECT_EQ(g.models[1].deployments[0].name, "big");
    EXPECT_EQ(g.models[1].deployments[0].model, "big-q4");
}

TEST(EngineConfig, ReportsErrorsWithTheirLines) {
    const auto result = load_string(R"(
upstreams:
  - {name: cloud, base_url: "https://api.example.com/v1"}
engines:
  - name: cloud
    command: llama-server
    idle_unload: soon
    restart: {backoff_base: 10s, backoff_max: 1s}
    colour: blue
models:
  - name: a
    deployments: [{engine: clod}]
  - name: b
    deployments: [{upstream: cloud, engine: cloud}]
)",
                                    no_env());
    ASSERT_FALSE(result.gateway);
    auto has = [&](int line, std::string_view text) {
        for (const auto& e : result.errors) {
            if (e.line == line && e.message.find(text) != std::string::npos) return true;
        }
        return false;
    };
    EXPECT_TRUE(has(5, "used twice")) << to_string(result.errors[0]);
    EXPECT_TRUE(has(6, "needs a 'command'"));
    EXPECT_TRUE(has(7, "'idle_unload' must be a duration"));
    EXPECT_TRUE(has(8, "'backoff_max' must not be shorter"));
    EXPECT_TRUE(has(9, "unknown key 'colour'"));
    EXPECT_TRUE(has(12, "unknown engine 'clod'; did you mean 'cloud'?"));
    EXPECT_TRUE(has(14, "either an 'upstream' or an 'engine'"));
}

TEST(EngineConfig, PullNamesASourceAndAStoreName) {
    auto ok = load_string(R"(
engines:
  - name: local
    command: [llama-server, -m, "${MODEL}", --port, "${PORT}"]
    model: llama-3.1-8b
    pull: hf:bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:Q4_K_M
models:
  - name: local
    deployments: [{engine: local}]
)",
                          no_env());
    ASSERT_TRUE(ok.gateway) << (ok.errors.empty() ? "" : to_string(ok.errors[0]));
    EXPECT_EQ(ok.gateway->engines[0].pull, "hf:bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:Q4_K_M");

    const auto result = load_string(R"(
engines:
  - name: path
    command: [llama-server]
    model: /models/x.gguf
    pull: https://example.com/x.gguf
  - name: nothing
    command: [llama-server]
    pull: hf:org/repo/x.gguf
  - name: source
    command: [llama-server]
    model: x
    pull: ftp://example.com/x.gguf
  - name: router
    command: [llama-server]
    models: [a, b]
    pull: hf:org/repo/x.gguf
)",
                                    no_env());
    ASSERT_FALSE(result.gateway);
    std::string all;
    for (const auto& e : result.errors) all += to_string(e) + "\n";
    auto has = [&](int line, std::string_view text) {
        for (const auto& e : result.errors) {
            if (e.line == line && e.message.find(text) != std::string::npos) return true;
        }
        return false;
    };
    EXPECT_TRUE(has(6, "'model: /models/x.gguf' is not")) << all;
    EXPECT_TRUE(has(9, "must then be a store name")) << all;
    EXPECT_TRUE(has(13, "'pull': ")) << all;
    EXPECT_TRUE(has(17, "an engine with 'models' serves several")) << all;
}

TEST(EngineConfig, AnEngineMayServeSeveralModels) {
    const auto result = load_string(R"(
engines:
  - name: router
    command: [llama-server, --models-dir, "${MODEL}", --port, "${PORT}"]
    model: /models
    models: [tiny-llama, tiny-llama4-moe]
models:
  - name: tiny
    deployments: [{engine: router, model: tiny-llama}]
  - name: tiny-llama4-moe
    deployments: [{engine: router}]
)",
                                    no_env());
    ASSERT_TRUE(result.gateway) << (result.errors.empty() ? "" : to_string(result.errors[0]));
    const Gateway& g = *result.gateway;
    ASSERT_EQ(g.engines.size(), 1u);
    EXPECT_EQ(g.engines[0].models, (std::vector<std::string>{"tiny-llama", "tiny-llama4-moe"}));
    EXPECT_EQ(g.engines[0].model, "/models");
    ASSERT_EQ(g.upstreams.size(), 1u);  // one engine, one upstream, two models on it
    EXPECT_EQ(g.models[0].deployments[0].upstream, g.engines[0].upstream);
    EXPECT_EQ(g.models[1].deployments[0].upstream, g.engines[0].upstream);
    EXPECT_EQ(g.models[0].deployments[0].model, "tiny-llama");       // forwarded as the engine's name
    EXPECT_EQ(g.models[1].deployments[0].model, "tiny-llama4-moe");  // the public name by default
}

TEST(EngineConfig, ADeploymentMustNameOneOfTheEnginesModels) {
    const auto result = load_string(R"(
engines:
  - name: router
    command: [llama-server, --port, "${PORT}"]
    models: [tiny-llama, tiny-llama4-moe]
  - name: empty
    command: [llama-server, --port, "${PORT}"]
    models: []
  - name: twice
    command: [llama-server, --port, "${PORT}"]
    models: [a, a, {b: c}]
models:
  - name: a
    deployments: [{engine: router, model: tiny-lama}]
  - name: b
    deployments: [{engine: router}]
)",
                                    no_env());
    ASSERT_FALSE(result.gateway);
    auto has = [&](int line, int column, std::string_view text) {
        for (const auto& e : result.errors) {
            if (e.line == line && (column == 0 || e.column == column) && e.message.find(text) != std::string::npos) {
                return true;
            }
        }
        return false;
    };
    std::string all;
    for (const auto& e : result.errors) all += to_string(e) + "\n";
    EXPECT_TRUE(has(8, 13, "'models' must be a non-empty list")) << all;
    EXPECT_TRUE(has(11, 17, "lists model 'a' twice")) << all;
    EXPECT_TRUE(has(11, 20, "each item of 'models' must be a model name")) << all;
    EXPECT_TRUE(has(14, 43, "engine 'router' does not serve model 'tiny-lama' (its models: tiny-llama, "
                            "tiny-llama4-moe); did you mean 'tiny-llama'?"))
        << all;
    EXPECT_TRUE(has(16, 28, "does not serve model 'b'")) << all;
    EXPECT_TRUE(has(16, 28, "name one with 'model:'")) << all;
}

}  // namespace
}  // namespace switchyard::config
