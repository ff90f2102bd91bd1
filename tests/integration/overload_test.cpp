// Caller connections under pressure (server/overload.hpp): idle connections are shed to make room
// near the cap, connections past it get a 503 at once, and a flood of idle sockets under a low
// descriptor limit neither delays a new caller nor fills the log.
#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include <chrono>
#include <fstream>
#include <sstream>

#include "harness.hpp"

namespace switchyard::testing {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

std::string config(const Sim& sim, const std::string& server) {
    return R"(
listeners: [{address: 127.0.0.1, port: 0}]
server: )" + server + R"(
upstreams:
  - {name: sim, type: openai, base_url: )" + sim.url() + R"(/v1}
models:
  - name: m
    deployments: [{upstream: sim}]
)";
}

// `count` connections that connect and then say nothing.
std::vector<tcp::socket> open_idle(asio::io_context& io, int port, int count) {
    std::vector<tcp::socket> sockets;
    for (int i = 0; i < count; ++i) {
        tcp::socket socket(io);
        socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
        sockets.push_back(std::move(socket));
    }
    return sockets;
}

// A caller's small request is answered 200 within a second.
void expect_served_at_once(int port) {
    const auto start = std::chrono::steady_clock::now();
    const Response r = post(port, "/v1/chat/completions", chat_body("m"));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

double metric_of(int port, const std::string& name) { return metric(get(port, "/metrics").body, name + " "); }

std::size_t lines_with(const std::string& path, const std::string& text) {
    std::ifstream in(path);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) n += line.find(text) != std::string::npos ? 1 : 0;
    return n;
}

TEST(Overload, IdleConnectionsAreShedOldestFirstToMakeRoom) {
    Sim sim = start_sim({"--tokens", "3"});
    Gateway gateway = start_gateway(config(sim, "{io_threads: 1, max_connections: 20}"));
    asio::io_context io;
    auto idle = open_idle(io, gateway.port, 40);
    std::this_thread::sleep_for(200ms);
    expect_served_at_once(gateway.port);
    const std::string page = get(gateway.port, "/metrics").body;
    EXPECT_EQ(metric(page, "switchyard_connections_max "), 20);
    EXPECT_GE(metric(page, "switchyard_connections_shed_total "), 20);
    EXPECT_EQ(metric(page, "switchyard_connections_refused_total "), 0);
    EXPECT_LE(metric(page, "switchyard_open_connections "), 20);
    // The first idle sockets were the ones closed: they read the end of the stream.
    boost::system::error_code ec;
    char byte;
    idle.front().read_some(asio::buffer(&byte, 1), ec);
    EXPECT_EQ(ec, asio::error::eof);
}

TEST(Overload, PastTheCapANewConnectionIsAnswered503AtOnce) {
    Sim sim = start_sim({"--tokens", "3"});
    Gateway gateway = start_gateway(config(sim, "{io_threads: 1, max_connections: 4}"));
    asio::io_context io;
    // Four connections busy reading a request whose body never comes: not idle, nothing to shed.
    auto busy = open_idle(io, gateway.port, 4);
    for (auto& socket : busy) {
        asio::write(socket, asio::buffer(std::string_view(
                                "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")));
    }
    std::this_thread::sleep_for(200ms);
    const auto start = std::chrono::steady_clock::now();
    const std::string answer = raw_exchange(gateway.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 2000ms);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
    EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer;
    EXPECT_NE(answer.find("Retry-After: 1"), std::string::npos) << answer;
    EXPECT_NE(answer.find(R"("code":"too_many_connections")"), std::string::npos) << answer;
    busy.clear();  // closed: room again
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(get(gateway.port, "/healthz").status, 200);
    EXPECT_GE(metric_of(gateway.port, "switchyard_connections_refused_total"), 1);
}

// The gateway under a descriptor limit of 128 (a cap of 64 caller connections) and 300 idle
// sockets: a caller is served at once and the log does not fill with accept failures.
TEST(Overload, AFloodOfIdleSocketsUnderALowDescriptorLimit) {
    Sim sim = start_sim({"--tokens", "3"});
    Gateway gateway = start_gateway(config(sim, "{io_threads: 2, first_byte_timeout: 1s}"), {},
                                    {"/usr/bin/prlimit", "--nofile=128:128"});
    asio::io_context io;
    auto idle = open_idle(io, gateway.port, 300);
    std::this_thread::sleep_for(300ms);
    for (int i = 0; i < 5; ++i) expect_served_at_once(gateway.port);
    const std::string page = get(gateway.port, "/metrics").body;
    EXPECT_EQ(metric(page, "switchyard_connections_max "), 64);
    EXPECT_LE(metric(page, "switchyard_open_connections "), 64);
    EXPECT_GE(metric(page, "switchyard_connections_shed_total "), 200);
    EXPECT_LE(lines_with(gateway.process->log_path(), "accept failed"), 3u);
}

}  // namespace
}  // namespace switchyard::testing
