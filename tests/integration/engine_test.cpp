// The engine supervisor with a real llama-server on the tiny model: preload, load on the first
// request, idle unload, kill -9 and restart, a memory limit below the engine's RSS (drain, then
// restart), two engines sharing a GPU group that holds one (least recently used stopped; the
// second serves the tiny Llama 4 mixture-of-experts model), a crash loop, no orphan engine when
// the gateway is killed, and one llama-server in router mode serving two public models (memory
// over its process tree, no orphan model child).
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>

#include "harness.hpp"

namespace switchyard::testing {
namespace {

using namespace std::chrono_literals;

const std::map<std::string, std::string> kEnv{{"MASTER_KEY", "master-secret-0001"}, {"CALLER_KEY", "sk-caller-00000001"}};
const std::map<std::string, std::string> kCaller{{"authorization", "Bearer sk-caller-00000001"}};
const std::map<std::string, std::string> kMaster{{"authorization", "Bearer master-secret-0001"}};

void require_llama() {
    if (!std::filesystem::exists(llama_server_binary()) || !std::filesystem::exists(tiny_model())) {
        throw std::runtime_error("llama-server or the tiny model is missing (" + llama_server_binary() + ", " +
                                 tiny_model() + "); run scripts/setup");
    }
}

// One engine entry of `engines:`; `extra` is more keys, indented by four spaces.
std::string engine(const std::string& name, const std::string& extra = "") {
    return "  - name: " + name + R"(
    command: [")" + llama_server_binary() + R"(", -m, "${MODEL}", --host, 127.0.0.1, --port, "${PORT}", -c, "512", -np, "1", -t, "1", --no-webui]
    model: )" + tiny_model() + R"(
    load_timeout: 60s
    drain_timeout: 5s
    stop_grace: 3s
)" + extra;
}

std::string config(const std::string& engines, const std::string& models, const std::string& more = "") {
    return R"(
listeners: [{address: 127.0.0.1, port: 0}]
server: {io_threads: 2, shutdown_grace: 5s}
auth:
  master_key: ${MASTER_KEY}
keys:
  - {name: caller, key: "${CALLER_KEY}"}
)" + more + "engines:\n" + engines + "models:\n" + models;
}

std::string admin_engines(const Gateway& gateway) {
    const auto r = request(gateway.port, "GET", "/admin/engines", "", kMaster);
    if (r.status != 200) throw std::runtime_error("/admin/engines answered " + std::to_string(r.status) + ": " + r.body);
    return r.body;
}

// The raw JSON value of `field` in the engine named `name` (strings keep their quotes).
std::string field(const std::string& json, const std::string& name, const std::string& key) {
    const auto at = json.find(R"("name":")" + name + '"');
    if (at == std::string::npos) return "";
    const auto k = json.find('"' + key + R"(":)", at);
    if (k == std::string::npos) return "";
    const auto start = k + key.size() + 3;
    std::size_t end = start;
    if (json[start] == '"') {
        end = json.find('"', start + 1) + 1;
    } else {
        while (end < json.size() && json[end] != ',' && json[end] != '}') ++end;
    }
    return json.substr(start, end - start);
}

std::string state(const Gateway& gateway, const std::string& name) { return field(admin_engines(gateway), name, "state"); }
long number(const Gateway& gateway, const std::string& name, const std::string& key) {
    const std::string value = field(admin_engines(gateway), name, key);
    return value.empty() ? -1 : std::stol(value);
}

// Polls until the engine is in `wanted` (a quoted state such as "\"ready\""), or throws.
void wait_for_state(const Gateway& gateway, const std::string& name, const std::string& wanted,
                    std::chrono::milliseconds timeout = 60s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string json;
    while (std::chrono::steady_clock::now() < deadline) {
        json = admin_engines(gateway);
        if (field(json, name, "state") == '"' + wanted + '"') return;
        std::this_thread::sleep_for(50ms);
    }
    throw std::runtime_error("engine " + name + " not " + wanted + " in time: " + json + "\ngateway log:\n" +
                             gateway.process->log());
}

// Waits up to `timeout` for the engine's first restart, then checks that the gateway log shows it
// came from its memory limit: over the limit, drained, stopped for the restart.
void expect_memory_restart(const Gateway& gateway, const std::string& name, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (number(gateway, name, "restarts") < 1 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_GE(number(gateway, name, "restarts"), 1) << gateway.process->log();
    const std::string log = gateway.process->log();
    EXPECT_NE(log.find("over its memory_limit"), std::string::npos) << log;
    EXPECT_NE(log.find("draining"), std::string::npos) << log;
    EXPECT_NE(log.find("stopped for a restart"), std::string::npos) << log;
}

Response ask(const Gateway& gateway, const std::string& model) {
    return post(gateway.port, "/v1/chat/completions", chat_body(model, false, R"("max_tokens":4)"), kCaller);
}

TEST(Engines, PreloadIsReadyBeforeTheFirstRequestAndShowsInPsAndModels) {
    require_llama();
    auto gateway = start_gateway(config(engine("tiny", "    preload: true\n"),
                                        "  - name: tiny\n    deployments: [{engine: tiny}]\n"),
                                 kEnv);
    wait_for_state(gateway, "tiny", "ready");
    EXPECT_GT(number(gateway, "tiny", "pid"), 0);
    const auto deadline = std::chrono::steady_clock::now() + 2s;  // memory is read right after ready
    while (number(gateway, "tiny", "rss_bytes") <= 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_GT(number(gateway, "tiny", "rss_bytes"), 0);
    const auto r = ask(gateway, "tiny");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-upstream"), "tiny");

    const std::string metrics = get(gateway.port, "/metrics").body;
    EXPECT_NE(metrics.find("switchyard_engine_state{engine=\"tiny\",state=\"ready\"} 1\n"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("switchyard_engine_state{engine=\"tiny\",state=\"loading\"} 0\n"), std::string::npos);
    EXPECT_NE(metrics.find("switchyard_engine_restarts_total{engine=\"tiny\"} 0\n"), std::string::npos);
    EXPECT_NE(metrics.find("switchyard_engine_memory_bytes{engine=\"tiny\",kind=\"rss\"} "), std::string::npos);
    EXPECT_EQ(metrics.find("switchyard_engine_memory_bytes{engine=\"tiny\",kind=\"rss\"} 0\n"), std::string::npos);
    Process promtool("promtool", {"/bin/sh", "-c", "promtool check metrics < " + write_file("engine-metrics.txt", metrics)});
    EXPECT_EQ(promtool.stop(0, 10s), std::optional<int>(0)) << promtool.log();

    Process ps("ps", {gateway_binary(), "ps", "--url", "http://127.0.0.1:" + std::to_string(gateway.port)},
               {{"SWITCHYARD_MASTER_KEY", "master-secret-0001"}});
    const auto exit = ps.stop(0, 10s);  // signal 0: only wait for it to finish
    EXPECT_EQ(exit, std::optional<int>(0)) << ps.log();
    EXPECT_NE(ps.log().find("NAME"), std::string::npos) << ps.log();
    EXPECT_NE(ps.log().find("ready"), std::string::npos) << ps.log();

    Process models("models", {gateway_binary(), "models", "--url", "http://127.0.0.1:" + std::to_string(gateway.port)},
                   {{"SWITCHYARD_MASTER_KEY", "master-secret-0001"}});
    EXPECT_EQ(models.stop(0, 10s), std::optional<int>(0)) << models.log();
    EXPECT_NE(models.log().find("engine tiny"), std::string::npos) << models.log();
    EXPECT_NE(models.log().find("closed"), std::string::npos) << models.log();
}

TEST(Engines, LoadsOnTheFirstRequest) {
    require_llama();
    auto gateway = start_gateway(config(engine("tiny"), "  - name: tiny\n    deployments: [{engine: tiny}]\n"), kEnv);
    EXPECT_EQ(state(gateway, "tiny"), R"("stopped")");
    const auto r = ask(gateway, "tiny");
    ASSERT_EQ(r.status, 200) << r.body << gateway.process->log();
    EXPECT_EQ(state(gateway, "tiny"), R"("ready")");
}

TEST(Engines, ReloadKeepsTheRunningEngineAndRoutesNewModelsToIt) {
    require_llama();
    const std::string engines = engine("tiny", "    preload: true\n");
    auto gateway = start_gateway(config(engines, "  - name: tiny\n    deployments: [{engine: tiny}]\n"), kEnv);
    wait_for_state(gateway, "tiny", "ready");
    const long pid = number(gateway, "tiny", "pid");
    ASSERT_EQ(ask(gateway, "tiny").status, 200);

    // A second public name on the same engine (and a new upstream listed before the engine's, so
    // upstream indexes shift): applied without restarting the engine.
    Sim cloud = start_sim({"--tokens", "4"});
    const std::string more = "upstreams:\n  - {name: cloud, base_url: " + cloud.url() + "}\n";
    {
        std::ofstream(gateway.config_path)
            << config(engines,
                      "  - name: tiny\n    deployments: [{engine: tiny}]\n"
                      "  - name: alias\n    deployments: [{engine: tiny}, {upstream: cloud, tier: 2}]\n",
                      more);
    }
    const auto reloaded = post(gateway.port, "/admin/reload", "", kMaster);
    ASSERT_EQ(reloaded.status, 200) << reloaded.body << gateway.process->log();
    const auto r = ask(gateway, "alias");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-upstream"), "tiny");
    EXPECT_EQ(ask(gateway, "tiny").status, 200);
    EXPECT_EQ(number(gateway, "tiny", "pid"), pid) << "the engine was restarted";
    EXPECT_EQ(stat_number(sim_stats(cloud), "requests_total"), 0);

    // Changing the engine itself needs a restart: refused, the engine untouched.
    {
        std::ofstream(gateway.config_path)
            << config(engine("tiny", "    preload: true\n    idle_unload: 1h\n"),
                      "  - name: tiny\n    deployments: [{engine: tiny}]\n");
    }
    const auto refused = post(gateway.port, "/admin/reload", "", kMaster);
    EXPECT_EQ(refused.status, 422) << refused.body;
    EXPECT_NE(refused.body.find("engines changed"), std::string::npos) << refused.body;
    EXPECT_EQ(ask(gateway, "alias").status, 200);
}

TEST(Engines, IdleUnloadStopsAndARequestStartsAgain) {
    require_llama();
    auto gateway = start_gateway(config(engine("tiny", "    preload: true\n    idle_unload: 1s\n"),
                                        "  - name: tiny\n    deployments: [{engine: tiny}]\n"),
                                 kEnv);
    wait_for_state(gateway, "tiny", "ready");
    ASSERT_EQ(ask(gateway, "tiny").status, 200);
    wait_for_state(gateway, "tiny", "stopped", 15s);
    EXPECT_EQ(number(gateway, "tiny", "pid"), 0);
    const auto r = ask(gateway, "tiny");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(number(gateway, "tiny", "restarts"), 0);  // an unload is no restart
}

// kill -9 under sequential requests: they go to the cloud tier while the engine restarts; none
// fails; the engine comes back with one restart counted.
TEST(Engines, KilledEngineRestartsAndNothingIsLost) {
    require_llama();
    Sim cloud = start_sim({"--tokens", "4"});
    auto gateway = start_gateway(
        config(engine("tiny", "    preload: true\n    restart: {backoff_base: 200ms, backoff_max: 1s}\n"),
               "  - name: tiny\n    deployments:\n      - {engine: tiny}\n      - {upstream: cloud, model: m, tier: 2}\n",
               "upstreams:\n  - {name: cloud, base_url: \"" + cloud.url() + "/v1\"}\n"),
        kEnv);
    wait_for_state(gateway, "tiny", "ready");
    auto r = ask(gateway, "tiny");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-upstream"), "tiny");
    const long pid = number(gateway, "tiny", "pid");
    ASSERT_GT(pid, 0);
    ASSERT_EQ(::kill(static_cast<pid_t>(pid), SIGKILL), 0);
    for (int i = 0; i < 10; ++i) {
        r = ask(gateway, "tiny");
        EXPECT_EQ(r.status, 200) << r.body;
        std::this_thread::sleep_for(50ms);
    }
    wait_for_state(gateway, "tiny", "ready");
    EXPECT_EQ(number(gateway, "tiny", "restarts"), 1);
    EXPECT_NE(number(gateway, "tiny", "pid"), pid);
    EXPECT_NE(field(admin_engines(gateway), "tiny", "last_error").find("signal 9"), std::string::npos);
    r = ask(gateway, "tiny");
    EXPECT_EQ(r.status, 200) << r.body;
}

// Through the admin API (what the console's buttons call): a restart drains and starts a new
// process without counting against max_restarts; a stop keeps the engine down (its model is
// refused with engine_stopped, or spills to a later tier) until a start; unknown names are 404.
TEST(Engines, AdminRestartStopAndStart) {
    require_llama();
    auto gateway = start_gateway(config(engine("tiny", "    preload: true\n    restart: {max_restarts: 0}\n"),
                                        "  - name: tiny\n    deployments: [{engine: tiny}]\n"),
                                 kEnv);
    wait_for_state(gateway, "tiny", "ready");
    const long pid = number(gateway, "tiny", "pid");
    auto r = post(gateway.port, "/admin/engines/tiny/restart", "", kMaster);
    ASSERT_EQ(r.status, 202) << r.body;
    EXPECT_NE(r.body.find(R"("action":"restart")"), std::string::npos) << r.body;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while ((number(gateway, "tiny", "pid") == pid || state(gateway, "tiny") != R"("ready")") &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(state(gateway, "tiny"), R"("ready")") << admin_engines(gateway);
    EXPECT_NE(number(gateway, "tiny", "pid"), pid);
    EXPECT_EQ(number(gateway, "tiny", "restarts"), 1);  // counted, but not against max_restarts: 0
    EXPECT_EQ(ask(gateway, "tiny").status, 200);

    r = post(gateway.port, "/admin/engines/tiny/stop", "", kMaster);
    ASSERT_EQ(r.status, 202) << r.body;
    wait_for_state(gateway, "tiny", "stopped", 15s);
    EXPECT_EQ(field(admin_engines(gateway), "tiny", "held"), "true");
    r = ask(gateway, "tiny");
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_NE(r.body.find("engine_stopped"), std::string::npos) << r.body;
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(state(gateway, "tiny"), R"("stopped")") << "a request must not start a stopped engine";

    r = post(gateway.port, "/admin/engines/tiny/start", "", kMaster);
    ASSERT_EQ(r.status, 202) << r.body;
    wait_for_state(gateway, "tiny", "ready");
    EXPECT_EQ(field(admin_engines(gateway), "tiny", "held"), "false");
    EXPECT_EQ(ask(gateway, "tiny").status, 200);

    EXPECT_EQ(post(gateway.port, "/admin/engines/nope/restart", "", kMaster).status, 404);
    EXPECT_EQ(post(gateway.port, "/admin/engines/tiny/explode", "", kMaster).status, 404);
    EXPECT_EQ(post(gateway.port, "/admin/engines/tiny/restart", "", kCaller).status, 401);
}

TEST(Engines, MemoryLimitBelowRssDrainsThenRestarts) {
    require_llama();
    auto gateway = start_gateway(config(engine("tiny", "    preload: true\n    memory_limit: 1MiB\n"
                                                       "    restart: {max_restarts: 100}\n"),
                                        "  - name: tiny\n    deployments: [{engine: tiny}]\n"),
                                 kEnv);
    wait_for_state(gateway, "tiny", "ready");
    expect_memory_restart(gateway, "tiny", 60s);
}

TEST(Engines, GpuGroupOfOneStopsTheLeastRecentlyUsed) {
    require_llama();
    // The second engine serves the tiny Llama 4 (mixture of experts) model.
    std::string two = engine("two", "    gpu: gpu0\n");
    two.replace(two.find("model: " + tiny_model()), 7 + tiny_model().size(), "model: " + tiny_llama4_model());
    auto gateway = start_gateway(config(engine("one", "    gpu: gpu0\n") + two,
                                        "  - name: one\n    deployments: [{engine: one}]\n"
                                        "  - name: two\n    deployments: [{engine: two}]\n",
                                        "gpu_groups:\n  gpu0: {max_loaded: 1}\n"),
                                 kEnv);
    auto r = ask(gateway, "one");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(state(gateway, "one"), R"("ready")");
    r = ask(gateway, "two");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-upstream"), "two");
    const std::string json = admin_engines(gateway);
    EXPECT_EQ(field(json, "one", "state"), R"("stopped")") << json;
    EXPECT_EQ(field(json, "two", "state"), R"("ready")") << json;
}

// An engine that stops answering (SIGSTOP: alive, but its health checks time out) is drained and
// restarted; SIGTERM stays pending while it is stopped, so the SIGKILL after stop_grace ends it.
TEST(Engines, HungEngineFailsHealthChecksAndIsRestarted) {
    require_llama();
    auto gateway = start_gateway(config(engine("tiny", "    preload: true\n    health_interval: 200ms\n"
                                                       "    unhealthy_threshold: 2\n"),
                                        "  - name: tiny\n    deployments: [{engine: tiny}]\n"),
                                 kEnv);
    wait_for_state(gateway, "tiny", "ready");
    const long pid = number(gateway, "tiny", "pid");
    ASSERT_GT(pid, 0);
    ASSERT_EQ(::kill(static_cast<pid_t>(pid), SIGSTOP), 0);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (number(gateway, "tiny", "restarts") < 1 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
    }
    ASSERT_EQ(number(gateway, "tiny", "restarts"), 1) << gateway.process->log();
    wait_for_state(gateway, "tiny", "ready");
    EXPECT_NE(number(gateway, "tiny", "pid"), pid);
    EXPECT_NE(gateway.process->log().find("health checks in a row"), std::string::npos);
    const auto r = ask(gateway, "tiny");
    EXPECT_EQ(r.status, 200) << r.body;
}

// A crash loop is reported, not hidden: an engine that cannot start (a missing model file) is
// restarted up to max_restarts, then failed; the waiting caller gets 503 with its log's last lines.
TEST(Engines, CrashLoopIsFailedWithTheLogTailInTheError) {
    require_llama();
    std::string broken = engine("broken", "    restart: {backoff_base: 100ms, backoff_max: 200ms, max_restarts: 1}\n");
    broken.replace(broken.find("model: " + tiny_model()), 7 + tiny_model().size(), "model: /nonexistent/model.gguf");
    auto gateway = start_gateway(config(broken, "  - name: broken\n    deployments: [{engine: broken}]\n"), kEnv);
    const auto r = ask(gateway, "broken");
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_NE(r.body.find("engine_failed"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("exited with status"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("last lines of its log"), std::string::npos) << r.body;
    const std::string json = admin_engines(gateway);
    EXPECT_EQ(field(json, "broken", "state"), R"("failed")") << json;
    EXPECT_EQ(field(json, "broken", "restarts"), "2") << json;
    EXPECT_EQ(json.find(R"("log_tail":[])"), std::string::npos) << json;
}

// kill -9 of the gateway itself leaves no engine behind (PR_SET_PDEATHSIG).
TEST(Engines, NoOrphanWhenTheGatewayIsKilled) {
    require_llama();
    auto gateway = start_gateway(config(engine("tiny", "    preload: true\n"),
                                        "  - name: tiny\n    deployments: [{engine: tiny}]\n"),
                                 kEnv);
    wait_for_state(gateway, "tiny", "ready");
    const long pid = number(gateway, "tiny", "pid");
    ASSERT_GT(pid, 0);
    gateway.process->stop(SIGKILL);
    auto alive = [pid] {
        std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (text.empty()) return false;
        const auto paren = text.rfind(')');
        return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] != 'Z';  // a zombie is dead
    };
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (alive() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
    EXPECT_FALSE(alive()) << "engine pid " << pid << " outlived the gateway";
}

// --- One engine, several models: llama-server in router mode ---------------------------------

// A models folder with both tiny models, named by the router after their file stems.
std::string router_models_dir() {
    const std::filesystem::path dir = temp_dir() + "/router-models";
    std::filesystem::create_directories(dir);
    const std::pair<const char*, std::string> models[] = {{"tiny-llama.gguf", tiny_model()},
                                                          {"tiny-moe.gguf", tiny_llama4_model()}};
    for (const auto& [name, target] : models) {
        if (!std::filesystem::exists(dir / name)) {
            std::filesystem::create_symlink(std::filesystem::absolute(target), dir / name);
        }
    }
    return dir.string();
}

// One llama-server without -m: it serves every GGUF of the folder, a child process per loaded model.
std::string router_engine(const std::string& extra = "") {
    return R"(  - name: router
    command: [")" + llama_server_binary() + R"(", --models-dir, "${MODEL}", --models-max, "2", --host, 127.0.0.1, --port, "${PORT}", -c, "512", -np, "1", -t, "1", --no-webui]
    model: )" + router_models_dir() + R"(
    models: [tiny-llama, tiny-moe]
    load_timeout: 60s
    drain_timeout: 5s
    stop_grace: 3s
)" + extra;
}

// Two public models on the one engine.
const std::string kRouterModels =
    "  - name: small\n    deployments: [{engine: router, model: tiny-llama}]\n"
    "  - name: moe\n    deployments: [{engine: router, model: tiny-moe}]\n";

// Direct children of `pid` (every thread's), from /proc.
std::vector<long> children_of(long pid) {
    std::vector<long> out;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::ifstream in(task.path() / "children");
        long child = 0;
        while (in >> child) out.push_back(child);
    }
    return out;
}

bool alive(long pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.empty()) return false;
    const auto paren = text.rfind(')');
    return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] != 'Z';  // a zombie is dead
}

// The state the engine reports for one of its models ("" until it says).
std::string model_state(const Gateway& gateway, const std::string& model) {
    const std::string json = admin_engines(gateway);
    const auto at = json.find(R"({"name":")" + model + R"(","state":)");
    if (at == std::string::npos) return "";
    const auto start = at + model.size() + 19;
    return json.substr(start, json.find('}', start) - start);
}

void wait_for_model_state(const Gateway& gateway, const std::string& model, const std::string& wanted) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (model_state(gateway, model) != '"' + wanted + '"' && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
    }
    ASSERT_EQ(model_state(gateway, model), '"' + wanted + '"') << admin_engines(gateway);
}

StreamedResponse ask_streaming(const Gateway& gateway, const std::string& model) {
    return post_streaming(gateway.port, "/v1/chat/completions", chat_body(model, true, R"("max_tokens":4)"), kCaller);
}

// Both public models answered by one llama-server (router mode), streaming and not; one engine
// process with a child per loaded model; the engine's RSS is its whole tree's; `ps` shows the models.
TEST(EngineRouter, TwoModelsOnOneEngineProcess) {
    require_llama();
    auto gateway = start_gateway(config(router_engine(), kRouterModels), kEnv);
    EXPECT_EQ(state(gateway, "router"), R"("stopped")");

    auto r = ask(gateway, "small");  // starts the engine, which loads tiny-llama
    ASSERT_EQ(r.status, 200) << r.body << gateway.process->log();
    EXPECT_EQ(r.header("x-switchyard-upstream"), "router");
    EXPECT_NE(r.body.find(R"("model":"tiny-llama")"), std::string::npos) << r.body;
    const long pid = number(gateway, "router", "pid");
    ASSERT_GT(pid, 0);
    wait_for_model_state(gateway, "tiny-llama", "loaded");
    EXPECT_EQ(model_state(gateway, "tiny-moe"), R"("unloaded")");

    r = ask(gateway, "moe");  // the same engine loads its second model
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-upstream"), "router");
    EXPECT_NE(r.body.find(R"("model":"tiny-moe")"), std::string::npos) << r.body;
    for (const std::string model : {"small", "moe"}) {
        const auto streamed = ask_streaming(gateway, model);
        EXPECT_EQ(streamed.status, 200) << model;
        EXPECT_NE(streamed.body().find("data: [DONE]"), std::string::npos) << model << ": " << streamed.body();
    }
    wait_for_model_state(gateway, "tiny-moe", "loaded");
    EXPECT_EQ(number(gateway, "router", "pid"), pid);
    EXPECT_EQ(number(gateway, "router", "restarts"), 0);
    EXPECT_EQ(children_of(gateway.process->pid()), std::vector<long>{pid});  // one engine process
    EXPECT_EQ(children_of(pid).size(), 2u);                                  // a child per model

    // Memory: the tree (router and its two children), more than the router alone.
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (number(gateway, "router", "processes") < 3 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
    }
    const std::string json = admin_engines(gateway);
    EXPECT_EQ(field(json, "router", "processes"), "3") << json;
    const long rss = std::stol(field(json, "router", "rss_bytes"));
    const long main_rss = std::stol(field(json, "router", "main_rss_bytes"));
    EXPECT_GT(main_rss, 0) << json;
    EXPECT_GT(rss, main_rss + (4l << 20)) << json;  // each child holds a model: megabytes more
    std::cout << "router RSS " << (main_rss >> 10) << " KiB, with its children " << (rss >> 10) << " KiB\n";
    // Its memory estimate: the router and, at worst, its models loaded at once (both, under the
    // default --models-max of 4), each a llama-server of its own. The tree uses about that now.
    const std::string estimate_text = field(json, "router", "estimate_bytes");
    ASSERT_NE(estimate_text, "null") << json;
    const double estimate = std::stod(estimate_text);
    EXPECT_GT(static_cast<double>(rss), 0.5 * estimate) << json;
    EXPECT_LT(static_cast<double>(rss), 1.5 * estimate) << json;
    std::cout << "router estimate " << (static_cast<long>(estimate) >> 10) << " KiB\n";

    Process ps("ps", {gateway_binary(), "ps", "--url", "http://127.0.0.1:" + std::to_string(gateway.port)},
               {{"SWITCHYARD_MASTER_KEY", "master-secret-0001"}});
    EXPECT_EQ(ps.stop(0, 10s), std::optional<int>(0)) << ps.log();
    EXPECT_NE(ps.log().find("tiny-llama:loaded,tiny-moe:loaded"), std::string::npos) << ps.log();
}

// The memory limit applies to the tree: above the router alone, below the router with a model
// loaded. Nothing happens until a request loads a model; then the engine drains and restarts.
TEST(EngineRouter, MemoryLimitCountsTheModelChildren) {
    require_llama();
    auto gateway = start_gateway(config(router_engine("    preload: true\n    memory_limit: 24MiB\n"
                                                      "    restart: {max_restarts: 100}\n"),
                                        kRouterModels),
                                 kEnv);
    wait_for_state(gateway, "router", "ready");
    std::this_thread::sleep_for(1500ms);  // a few memory readings of the router alone
    ASSERT_EQ(number(gateway, "router", "restarts"), 0) << admin_engines(gateway);
    const long main_rss = number(gateway, "router", "main_rss_bytes");
    ASSERT_GT(main_rss, 0);
    ASSERT_LT(main_rss, 24l << 20) << "the router alone is over the limit; the test needs a larger one";

    const auto r = ask(gateway, "small");  // a model child: the tree goes over the limit
    ASSERT_EQ(r.status, 200) << r.body;
    expect_memory_restart(gateway, "router", 30s);
}

// No process of the engine's tree (the router and its model children) outlives the gateway,
// whether it is stopped (SIGTERM) or killed (SIGKILL).
class EngineRouterOrphans : public ::testing::TestWithParam<int> {};

TEST_P(EngineRouterOrphans, NoneOfTheTreeOutlivesTheGateway) {
    require_llama();
    auto gateway = start_gateway(config(router_engine("    preload: true\n"), kRouterModels), kEnv);
    wait_for_state(gateway, "router", "ready");
    ASSERT_EQ(ask(gateway, "small").status, 200);
    ASSERT_EQ(ask(gateway, "moe").status, 200);
    const long pid = number(gateway, "router", "pid");
    ASSERT_GT(pid, 0);
    std::vector<long> tree{pid};
    for (long child : children_of(pid)) tree.push_back(child);
    ASSERT_EQ(tree.size(), 3u) << "the router and a child per model";

    gateway.process->stop(GetParam(), 15s);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    auto any_alive = [&] { return std::any_of(tree.begin(), tree.end(), alive); };
    while (any_alive() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
    for (long p : tree) EXPECT_FALSE(alive(p)) << "pid " << p << " outlived the gateway";
}

INSTANTIATE_TEST_SUITE_P(Signals, EngineRouterOrphans, ::testing::Values(SIGTERM, SIGKILL),
                         [](const ::testing::TestParamInfo<int>& param) { return param.param == SIGKILL ? "Kill9" : "Term"; });

}  // namespace
}  // namespace switchyard::testing
