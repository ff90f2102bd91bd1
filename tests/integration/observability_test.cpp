// Metrics and the access log over real sockets: known traffic through the gateway, then GET
// /metrics is checked with Prometheus's own promtool and by its values, and the access log by its
// lines.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "harness.hpp"
#include "usage/usage.hpp"

namespace switchyard::testing {
namespace {

TEST(Observability, MetricsCountKnownTrafficAndPassPromtool) {
    Sim local = start_sim({"--tokens", "4", "--ttft-ms", "30"});
    const std::string log_path = temp_dir() + "/access.log";
    auto gateway = start_gateway(R"(
listeners: [{address: 127.0.0.1, port: 0}]
auth: {master_key: master-secret-0001}
keys:
  - {name: alice, key: sk-alice-0000000001, labels: {team: research}}
access_log: )" + log_path + R"(
upstreams:
  - name: local
    type: llama-server
    base_url: )" + local.url() + R"(
    cost: {hardware_usd: 1000, lifetime_months: 10, tokens_per_month: 1000000}
models:
  - name: m
    deployments: [{upstream: local}]
)");
    const std::map<std::string, std::string> alice{{"authorization", "Bearer sk-alice-0000000001"}};
    for (int i = 0; i < 3; ++i) ASSERT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("m"), alice).status, 200);
    ASSERT_EQ(post_streaming(gateway.port, "/v1/chat/completions", chat_body("m", true), alice).status, 200);
    EXPECT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("m")).status, 401);
    EXPECT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("nope"), alice).status, 404);

    // A request is counted just after its last bytes reach the caller, on whichever I/O thread
    // served it: the page is read again until the last one is in.
    const std::string ok = R"({model="m",deployment="local",tier="1",key="alice",status="2xx"})";
    // A model that does not exist is counted under model="": names callers make up add no series.
    const std::string nope = R"(switchyard_requests_total{model="",deployment="",tier="0",key="alice",status="4xx"})";
    auto page = get(gateway.port, "/metrics");
    for (int i = 0; i < 100 && (find_metric(page.body, "switchyard_requests_total" + ok).value_or(0) < 4 ||
                                 !find_metric(page.body, nope)); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        page = get(gateway.port, "/metrics");
    }
    ASSERT_EQ(page.status, 200);
    EXPECT_EQ(page.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const std::string& text = page.body;
    EXPECT_EQ(metric(text, "switchyard_requests_total" + ok), 4);
    const long prompt = stat_number(sim_stats(local), "prompt_tokens_total");
    EXPECT_EQ(metric(text, "switchyard_prompt_tokens_total" + ok), prompt);
    EXPECT_EQ(metric(text, "switchyard_completion_tokens_total" + ok), 16);
    // $100 a month over a million tokens: 0.0001 a token.
    EXPECT_NEAR(metric(text, "switchyard_cost_dollars_total" + ok), (prompt + 16) * 1e-4, 1e-9);
    EXPECT_EQ(metric(text, "switchyard_request_duration_seconds_count" + ok), 4);
    EXPECT_EQ(metric(text, "switchyard_time_to_first_token_seconds_count" + ok), 4);
    EXPECT_EQ(metric(text, R"(switchyard_time_to_first_token_seconds_bucket{model="m",deployment="local",tier="1",key="alice",status="2xx",le="0.025"})"), 0);
    EXPECT_EQ(metric(text, R"(switchyard_time_to_first_token_seconds_bucket{model="m",deployment="local",tier="1",key="alice",status="2xx",le="+Inf"})"), 4);
    EXPECT_EQ(metric(text, R"(switchyard_requests_total{model="",deployment="",tier="0",key="",status="4xx"})"), 1);
    EXPECT_EQ(metric(text, nope), 1);
    EXPECT_EQ(text.find("\"nope\""), std::string::npos);
    EXPECT_EQ(metric(text, R"(switchyard_refusals_total{reason="auth"})"), 1);
    EXPECT_EQ(metric(text, R"(switchyard_deployment_healthy{model="m",deployment="local",tier="1"})"), 1);
    EXPECT_EQ(metric(text, R"(switchyard_deployment_breaker_state{model="m",deployment="local",tier="1"})"), 0);
    EXPECT_EQ(metric(text, R"(switchyard_key_info{key="alice",label_team="research"})"), 1);
    EXPECT_EQ(metric(text, "switchyard_retries_total "), 0);

    // Prometheus's own linter, from Debian's prometheus package (installed by scripts/setup).
    const std::string file = write_file("metrics.txt", text);
    const std::string command = "promtool check metrics < " + file + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string lint;
    char buffer[512];
    while (fgets(buffer, sizeof buffer, pipe) != nullptr) lint += buffer;
    EXPECT_EQ(pclose(pipe), 0) << lint;

    // One JSON line per request, with the key's name but never the key.
    ASSERT_EQ(gateway.process->stop(SIGTERM), 0);
    std::ifstream in(log_path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    ASSERT_EQ(lines.size(), 6u);
    EXPECT_NE(lines[0].find(R"("key":"alice","labels":{"team":"research"},"model":"m","served_model":"m","deployment":"local","tier":1,"status":200,"stream":false)"),
              std::string::npos)
        << lines[0];
    EXPECT_NE(lines[3].find(R"("stream":true)"), std::string::npos) << lines[3];
    EXPECT_NE(lines[4].find(R"("status":401)"), std::string::npos) << lines[4];
    for (const auto& line : lines) EXPECT_EQ(line.find("sk-alice"), std::string::npos) << line;
}

// The generated text of an SSE body, event by event, as a client would join it.
std::string streamed_text(const std::string& sse) {
    std::string text;
    std::size_t at = 0;
    while ((at = sse.find("data: {", at)) != std::string::npos) {
        const auto end = sse.find("\n\n", at);
        usage::append_completion_text(std::string_view(sse).substr(at + 6, end - at - 6), text, 1 << 20);
        at = end;
    }
    return text;
}

TEST(Observability, AccessLogKeepsRedactedContentOnlyWhenAsked) {
    Sim local = start_sim({"--tokens", "6"});
    const std::string log_path = temp_dir() + "/content.log";
    auto gateway = start_gateway(R"(
listeners: [{address: 127.0.0.1, port: 0}]
access_log:
  path: )" + log_path + R"(
  content: true
  redact: [email, api_key, {pattern: "ACCT-[0-9]+", replace: "ACCT-?"}]
upstreams:
  - {name: local, type: llama-server, base_url: )" + local.url() + R"(}
models:
  - name: m
    deployments: [{upstream: local}]
)");
    const std::string secret_prompt =
        R"({"model":"m","messages":[{"role":"system","content":"You help ACCT-991234."},)"
        R"({"role":"user","content":"Mail jane.doe@example.com my key sk-live-0123456789abcdefXYZ"}])";
    const auto plain = post(gateway.port, "/v1/chat/completions", secret_prompt + "}");
    ASSERT_EQ(plain.status, 200) << plain.body;
    const auto streamed = post_streaming(gateway.port, "/v1/chat/completions", secret_prompt + R"(,"stream":true})");
    ASSERT_EQ(streamed.status, 200);
    ASSERT_EQ(gateway.process->stop(SIGTERM), 0);

    std::ifstream in(log_path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    ASSERT_EQ(lines.size(), 2u);
    const std::string prompt =
        R"("prompt":"system: You help ACCT-?.\nuser: Mail [REDACTED:email] my key [REDACTED:api_key]")";
    for (const auto& line : lines) {
        EXPECT_NE(line.find(prompt), std::string::npos) << line;
        EXPECT_EQ(line.find("jane.doe"), std::string::npos) << line;
        EXPECT_EQ(line.find("sk-live"), std::string::npos) << line;
        EXPECT_EQ(line.find("991234"), std::string::npos) << line;
    }
    std::string answer;
    usage::append_completion_text(plain.body, answer, 1 << 20);
    ASSERT_FALSE(answer.empty());
    EXPECT_NE(lines[0].find(R"("completion":")" + answer + '"'), std::string::npos) << lines[0] << "\n" << answer;
    const std::string streamed_answer = streamed_text(streamed.body());
    ASSERT_FALSE(streamed_answer.empty());
    EXPECT_NE(lines[1].find(R"("completion":")" + streamed_answer + '"'), std::string::npos)
        << lines[1] << "\n" << streamed_answer;
}

TEST(Observability, AccessLogHasNoContentByDefault) {
    Sim local = start_sim({"--tokens", "3"});
    const std::string log_path = temp_dir() + "/no-content.log";
    auto gateway = start_gateway(R"(
listeners: [{address: 127.0.0.1, port: 0}]
access_log: )" + log_path + R"(
upstreams:
  - {name: local, type: llama-server, base_url: )" + local.url() + R"(}
models:
  - name: m
    deployments: [{upstream: local}]
)");
    ASSERT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("m")).status, 200);
    ASSERT_EQ(gateway.process->stop(SIGTERM), 0);
    std::ifstream in(log_path);
    std::string line;
    ASSERT_TRUE(std::getline(in, line));
    EXPECT_EQ(line.find("\"prompt\""), std::string::npos) << line;
    EXPECT_EQ(line.find("trains"), std::string::npos) << line;
    EXPECT_EQ(line.find("\"completion\""), std::string::npos) << line;
}

}  // namespace
}  // namespace switchyard::testing
