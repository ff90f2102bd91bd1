// The request path's stages over real sockets: the gateway's own time (overhead) measured against
// a simulator whose delays are known, and what admission took given back on each early exit.
#include <gtest/gtest.h>

#include <signal.h>

#include <cstdlib>

#include "harness.hpp"
#include "ledger/store.hpp"

namespace switchyard::testing {
namespace {

using namespace std::chrono_literals;

std::vector<ledger::Row> read_ledger(const std::string& path) {
    auto store = ledger::open_store(path);
    std::vector<ledger::Row> rows;
    store->each_row(0, INT64_MAX, [&](const ledger::Row& row) { rows.push_back(row); });
    return rows;
}

// The simulator answers 16 tokens, the first after 200 ms, the others 10 ms apart: at least 350 ms
// of every answered request is the upstream's.
constexpr double kSimulatedMs = 200 + 15 * 10;
// How far the measured upstream time may exceed the simulated one (loopback, the simulator's own
// work, a loaded CI machine).
constexpr double kSlackMs = 60;

TEST(Pipeline, OverheadIsTheTotalMinusTheUpstreamsTime) {
    Sim sim = start_sim({"--ttft-ms", "200", "--itl-ms", "10", "--tokens", "16"});
    const std::string ledger = temp_dir() + "/overhead.db";
    auto gateway = start_gateway(R"(
listeners: [{address: 127.0.0.1, port: 0}]
ledger: {url: )" + ledger + R"(, flush_interval: 100ms}
upstreams: [{name: cloud, type: openai, base_url: )" + sim.url() + R"(/v1}]
models: [{name: m, deployments: [{upstream: cloud}]}]
)");
    const std::map<std::string, std::string> debug{{"x-switchyard-debug", "1"}};

    auto r = post(gateway.port, "/v1/chat/completions", chat_body("m"), debug);
    ASSERT_EQ(r.status, 200) << r.body;
    // The head reports the gateway's time before the answer began: parse, admit, route, connect.
    const std::string header = r.header("x-switchyard-overhead-ms");
    ASSERT_FALSE(header.empty());
    const double before_head = std::strtod(header.c_str(), nullptr);
    EXPECT_GE(before_head, 0);
    EXPECT_LT(before_head, kSlackMs);
    // Only when asked.
    r = post(gateway.port, "/v1/chat/completions", chat_body("m"));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.header("x-switchyard-overhead-ms"), "");

    auto s = post_streaming(gateway.port, "/v1/chat/completions", chat_body("m", true), debug);
    ASSERT_EQ(s.status, 200);
    EXPECT_NE(s.headers["x-switchyard-overhead-ms"], "");

    // Refused before any upstream: all of its time is the gateway's.
    EXPECT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("nope")).status, 404);

    // Every request, refused or served, is in the overhead histogram; none took as long as the
    // simulated upstream.
    const std::string metrics = get(gateway.port, "/metrics").body;
    EXPECT_NE(metrics.find("switchyard_gateway_overhead_seconds_count 4\n"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("switchyard_gateway_overhead_seconds_bucket{le=\"0.25\"} 4\n"), std::string::npos);

    ASSERT_EQ(gateway.process->stop(SIGTERM), 0);
    const auto rows = read_ledger(ledger);
    ASSERT_EQ(rows.size(), 4u);
    for (const auto& row : rows) {
        SCOPED_TRACE(row.request_id + " status " + std::to_string(row.status));
        EXPECT_GE(row.overhead_ms, 0);
        EXPECT_LE(row.overhead_ms, row.total_ms);
        if (row.status == 404) {
            EXPECT_DOUBLE_EQ(row.overhead_ms, row.total_ms);
            continue;
        }
        ASSERT_EQ(row.status, 200);
        // total = overhead + upstream, and the upstream's part is the simulated time and a little.
        EXPECT_GE(row.total_ms - row.overhead_ms, kSimulatedMs);
        EXPECT_LE(row.total_ms - row.overhead_ms, kSimulatedMs + kSlackMs);
        EXPECT_LT(row.overhead_ms, kSlackMs);
    }
}

}  // namespace
}  // namespace switchyard::testing
