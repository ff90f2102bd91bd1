// Config reload over real sockets: the gateway's file is rewritten and reloaded (SIGHUP and
// POST /admin/reload) while clients keep sending on keep-alive connections, streaming and not.
// Every request must be answered 200, no connection may be dropped, and the new routes must take
// the traffic; a broken file, or one that changes what needs a restart, is refused while the old
// config keeps serving; keys and their limits carry over.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <thread>

#include "harness.hpp"

namespace switchyard::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

void rewrite(const std::string& path, const std::string& yaml) {
    const std::string staged = path + ".new";
    std::ofstream(staged) << yaml;
    std::rename(staged.c_str(), path.c_str());  // whole, as an editor or a deploy tool would
}

const std::map<std::string, std::string> kMaster{{"authorization", "Bearer master-secret-0001"}};

// Clients that each keep one connection open and send requests on it until stopped; anything
// but a 200, and any connection that breaks, is counted.
class Load {
public:
    Load(int port, int clients) {
        for (int i = 0; i < clients; ++i) threads_.emplace_back([this, port, i] { run(port, i % 2 == 1); });
    }
    ~Load() { stop(); }

    void stop() {
        stop_ = true;
        for (auto& thread : threads_) {
            if (thread.joinable()) thread.join();
        }
    }
    long ok() const { return ok_; }
    long failed() const { return failed_; }
    long broken() const { return broken_; }
    std::string first_failure() {
        std::lock_guard lock(mutex_);
        return first_failure_;
    }
    std::map<std::string, long> served_by() {
        std::lock_guard lock(mutex_);
        return served_by_;
    }

private:
    void fail(const std::string& why) {
        std::lock_guard lock(mutex_);
        if (first_failure_.empty()) first_failure_ = why;
    }

    void run(int port, bool stream) {
        asio::io_context io;
        beast::tcp_stream socket(io);
        socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
        beast::flat_buffer buffer;
        while (!stop_) {
            http::request<http::string_body> request{http::verb::post, "/v1/chat/completions", 11};
            request.set(http::field::host, "127.0.0.1");
            request.set(http::field::content_type, "application/json");
            request.set(http::field::authorization, "Bearer sk-load-000000000001");
            request.body() = chat_body("m", stream);
            request.prepare_payload();
            socket.expires_after(20s);
            beast::error_code ec;
            http::write(socket, request, ec);
            http::response<http::string_body> response;
            if (!ec) http::read(socket, buffer, response, ec);
            if (ec) {
                ++broken_;  // the gateway closed a keep-alive connection or failed to answer
                fail("connection broken: " + ec.message());
                return;
            }
            if (response.result_int() != 200 || (stream && response.body().find("data: [DONE]") == std::string::npos)) {
                ++failed_;
                fail(std::to_string(response.result_int()) + " " + response.body());
            } else {
                ++ok_;
                std::lock_guard lock(mutex_);
                ++served_by_[std::string(response["x-switchyard-upstream"])];
            }
            if (!response.keep_alive()) {
                ++broken_;
                fail("the gateway asked to close the connection");
                return;
            }
        }
    }

    std::atomic<bool> stop_{false};
    std::atomic<long> ok_{0};
    std::atomic<long> failed_{0};
    std::atomic<long> broken_{0};
    std::mutex mutex_;
    std::string first_failure_;
    std::map<std::string, long> served_by_;
    std::vector<std::thread> threads_;
};

// `model`: more of the model's fields; `keys`: more keys (list items).
std::string config(const Sim& a, const Sim& b, const std::string& deployments, const std::string& model = "",
                   const std::string& keys = "") {
    return R"(
listeners: [{address: 127.0.0.1, port: 0}]
auth: {master_key: master-secret-0001}
upstreams:
  - {name: a, type: llama-server, base_url: )" + a.url() + R"(}
  - {name: b, type: llama-server, base_url: )" + b.url() + R"(}
models:
  - name: m
    deployments: )" + deployments + R"(
)" + model + R"(keys:
  - {name: load, key: sk-load-000000000001}
)" + keys;
}

const std::map<std::string, std::string> kLoad{{"authorization", "Bearer sk-load-000000000001"}};

// Waits until `predicate` holds (checked every 20 ms) or `timeout` passes.
template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout = 10s) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        if (predicate()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return predicate();
}

TEST(Reload, UnderLoadMovesTrafficAndDropsNothing) {
    // Slow enough that requests are in flight whenever the config is swapped.
    Sim a = start_sim({"--ttft-ms", "20", "--itl-ms", "5", "--tokens", "8"});
    Sim b = start_sim({"--ttft-ms", "20", "--itl-ms", "5", "--tokens", "8"});
    auto gateway = start_gateway(config(a, b, "[{upstream: a}]"));
    Load load(gateway.port, 8);
    ASSERT_TRUE(eventually([&] { return load.ok() >= 40; })) << load.first_failure();
    EXPECT_EQ(stat_number(sim_stats(b), "requests_total"), 0);

    // 1. SIGHUP: the model moves to b.
    rewrite(gateway.config_path, config(a, b, "[{upstream: b}]"));
    ASSERT_EQ(::kill(gateway.process->pid(), SIGHUP), 0);
    ASSERT_TRUE(eventually([&] { return stat_number(sim_stats(b), "requests_total") >= 40; })) << gateway.process->log();
    const long a_after_move = stat_number(sim_stats(a), "requests_total");
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(stat_number(sim_stats(a), "requests_total"), a_after_move) << "a still gets traffic after the reload";

    // 2. The admin API: both, weighted towards a.
    rewrite(gateway.config_path, config(a, b, "[{upstream: a, weight: 3}, {upstream: b, weight: 1}]",
                                        "    strategy: weighted\n"));
    const auto applied = post(gateway.port, "/admin/reload", "", kMaster);
    ASSERT_EQ(applied.status, 200) << applied.body;
    EXPECT_NE(applied.body.find(R"("reloaded":true,"generation":3)"), std::string::npos) << applied.body;
    ASSERT_TRUE(eventually([&] { return stat_number(sim_stats(a), "requests_total") >= a_after_move + 60; }));

    // 3. A broken file: refused, and the traffic goes on as before.
    rewrite(gateway.config_path, config(a, b, "[{upstream: nowhere}]"));
    ASSERT_EQ(::kill(gateway.process->pid(), SIGHUP), 0);
    const long before = load.ok();
    ASSERT_TRUE(eventually([&] { return load.ok() >= before + 60; }));
    ASSERT_TRUE(eventually([&] { return gateway.process->log().find("config reload refused") != std::string::npos; }));

    load.stop();
    EXPECT_EQ(load.failed(), 0) << load.first_failure();
    EXPECT_EQ(load.broken(), 0) << load.first_failure();
    const auto served = load.served_by();
    EXPECT_GT(served.count("a") ? served.at("a") : 0, 0);
    EXPECT_GT(served.count("b") ? served.at("b") : 0, 0);
    // Nothing was lost: every answer the clients got came from a simulator.
    EXPECT_EQ(stat_number(sim_stats(a), "requests_total") + stat_number(sim_stats(b), "requests_total"),
              load.ok());

    const auto page = get(gateway.port, "/metrics").body;
    EXPECT_EQ(metric(page, "switchyard_config_generation "), 3);
    EXPECT_EQ(metric(page, R"(switchyard_config_reloads_total{result="applied"})"), 2);
    EXPECT_EQ(metric(page, R"(switchyard_config_reloads_total{result="refused"})"), 1);
}

TEST(Reload, BrokenOrRestartOnlyConfigIsRefusedWithTheReason) {
    Sim a = start_sim({"--tokens", "4"});
    Sim b = start_sim({"--tokens", "4"});
    auto gateway = start_gateway(config(a, b, "[{upstream: a}]"));
    ASSERT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("m"), kLoad).header("x-switchyard-upstream"), "a");

    // An unknown upstream, with its line.
    rewrite(gateway.config_path, config(a, b, "[{upstream: nowhere}]"));
    auto refused = post(gateway.port, "/admin/reload", "", kMaster);
    EXPECT_EQ(refused.status, 422);
    EXPECT_NE(refused.body.find(R"("code":"config_invalid")"), std::string::npos) << refused.body;
    EXPECT_NE(refused.body.find("generation 1 keeps serving"), std::string::npos) << refused.body;
    EXPECT_NE(refused.body.find("line 9"), std::string::npos) << refused.body;
    EXPECT_NE(refused.body.find("nowhere"), std::string::npos) << refused.body;

    // Not YAML at all.
    rewrite(gateway.config_path, "models: [\n");
    refused = post(gateway.port, "/admin/reload", "", kMaster);
    EXPECT_EQ(refused.status, 422) << refused.body;

    // A listener change needs a restart: refused, naming it.
    std::string moved = config(a, b, "[{upstream: b}]");
    moved.replace(moved.find("port: 0"), 7, "port: " + std::to_string(free_port()));
    rewrite(gateway.config_path, moved);
    refused = post(gateway.port, "/admin/reload", "", kMaster);
    EXPECT_EQ(refused.status, 422);
    EXPECT_NE(refused.body.find("listeners changed"), std::string::npos) << refused.body;

    // Without the master key: no reload.
    EXPECT_EQ(post(gateway.port, "/admin/reload", "").status, 401);

    // Still the first config.
    const auto still = post(gateway.port, "/v1/chat/completions", chat_body("m"), kLoad);
    EXPECT_EQ(still.status, 200);
    EXPECT_EQ(still.header("x-switchyard-upstream"), "a");
    EXPECT_EQ(stat_number(sim_stats(b), "requests_total"), 0);
    EXPECT_EQ(metric(get(gateway.port, "/metrics").body, "switchyard_config_generation "), 1);
}

TEST(Reload, KeysAndTheirLimitsCarryOver) {
    Sim a = start_sim({"--tokens", "4"});
    Sim b = start_sim({"--tokens", "4"});
    const std::string alice = "  - {name: alice, key: sk-alice-0000000001, limits: {rpm: 3}}\n";
    const std::string bob = "  - {name: bob, key: sk-bob-00000000000001}\n";
    auto gateway = start_gateway(config(a, b, "[{upstream: a}]", "", alice));
    const std::map<std::string, std::string> as_alice{{"authorization", "Bearer sk-alice-0000000001"}};
    const std::map<std::string, std::string> as_bob{{"authorization", "Bearer sk-bob-00000000000001"}};
    for (int i = 0; i < 3; ++i) ASSERT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("m"), as_alice).status, 200);
    EXPECT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("m"), as_alice).status, 429);
    EXPECT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("m"), as_bob).status, 401);

    // Bob added; alice unchanged keeps her spent bucket; the model moves to b.
    rewrite(gateway.config_path, config(a, b, "[{upstream: b}]", "", alice + bob));
    ASSERT_EQ(post(gateway.port, "/admin/reload", "", kMaster).status, 200);
    EXPECT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("m"), as_alice).status, 429);
    const auto by_bob = post(gateway.port, "/v1/chat/completions", chat_body("m"), as_bob);
    EXPECT_EQ(by_bob.status, 200);
    EXPECT_EQ(by_bob.header("x-switchyard-upstream"), "b");

    // Alice removed from the file: her key no longer works.
    rewrite(gateway.config_path, config(a, b, "[{upstream: b}]", "", bob));
    ASSERT_EQ(::kill(gateway.process->pid(), SIGHUP), 0);
    EXPECT_TRUE(eventually([&] {
        return post(gateway.port, "/v1/chat/completions", chat_body("m"), as_alice).status == 401;
    }));
    EXPECT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("m"), as_bob).status, 200);
}

// A signal sent the moment the ready file appears (a deploy tool reloading or stopping a gateway
// it just started) is handled, not fatal: the gateway takes SIGHUP and SIGTERM before it says it
// is up. Several starts, each signalled as soon as the file is there, to hit the first instants.
TEST(Reload, ASignalJustAfterTheReadyFileIsHandled) {
    Sim a = start_sim({"--tokens", "2"});
    const std::string yaml = config(a, a, "[{upstream: a}]");
    for (int round = 0; round < 6; ++round) {
        const bool reload = round % 2 == 0;
        const std::string name = "signalled-" + std::to_string(round);
        const std::string config_path = write_file(name + ".yaml", yaml);
        const std::string ready = temp_dir() + "/" + name + ".ready";
        Process gateway("gateway", {gateway_binary(), "serve", "--config", config_path, "--ready-file", ready});
        const int port = wait_for_port(ready, gateway, 20s, 0ms);
        if (!reload) {
            EXPECT_EQ(gateway.stop(SIGTERM), 0) << "round " << round << ": " << gateway.log();
            EXPECT_NE(gateway.log().find("stopped"), std::string::npos) << gateway.log();
            continue;
        }
        ASSERT_EQ(::kill(gateway.pid(), SIGHUP), 0);
        EXPECT_TRUE(eventually([&] {
            return !gateway.running() || gateway.log().find("config reloaded") != std::string::npos;
        })) << "round " << round << ": " << gateway.log();
        ASSERT_TRUE(gateway.running()) << "round " << round << ", killed by the SIGHUP: " << gateway.log();
        EXPECT_EQ(post(port, "/v1/chat/completions", chat_body("m"), kLoad).status, 200);
    }
}

}  // namespace
}  // namespace switchyard::testing
