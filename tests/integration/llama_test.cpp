// End to end through a real llama-server (built by scripts/setup) on the tiny random-weight model:
// the text is noise, but tokenizer, batching, streaming and usage are the real engine's.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "harness.hpp"

namespace switchyard::testing {
namespace {

std::string gateway_config(int llama_port) {
    return R"(
listeners: [{address: 127.0.0.1, port: 0}]
upstreams:
  - name: local-llama
    type: llama-server
    base_url: http://127.0.0.1:)" +
           std::to_string(llama_port) + R"(
models:
  - name: llama4:maverick
    deployments:
      - upstream: local-llama
        model: tiny-llama
)";
}

TEST(LlamaServerEndToEnd, ChatCompletionsStreamingAndNot) {
    auto llama = start_llama_server(tiny_model());
    auto gateway = start_gateway(gateway_config(llama.port));

    auto r = post(gateway.port, "/v1/chat/completions", chat_body("llama4:maverick", false, R"("max_tokens":8)"));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-upstream"), "local-llama");
    EXPECT_NE(r.body.find(R"("object":"chat.completion")"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"("completion_tokens":)"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"("prompt_tokens":)"), std::string::npos);

    auto s = post_streaming(gateway.port, "/v1/chat/completions",
                            chat_body("llama4:maverick", true, R"("max_tokens":8,"stream_options":{"include_usage":true})"));
    ASSERT_EQ(s.status, 200);
    const std::string body = s.body();
    EXPECT_NE(body.find("chat.completion.chunk"), std::string::npos) << body;
    EXPECT_NE(body.find(R"("usage":{)"), std::string::npos) << body;
    EXPECT_NE(body.find("data: [DONE]"), std::string::npos) << body;

    r = post(gateway.port, "/v1/completions", R"({"model":"llama4:maverick","prompt":"The train","max_tokens":4})");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(get(gateway.port, "/readyz").status, 200);
}

TEST(LlamaServerEndToEnd, Llama4MixtureOfExpertsModel) {
    auto llama = start_llama_server(tiny_llama4_model());
    auto gateway = start_gateway(gateway_config(llama.port));
    auto s = post_streaming(gateway.port, "/v1/chat/completions",
                            chat_body("llama4:maverick", true, R"("max_tokens":6)"));
    ASSERT_EQ(s.status, 200);
    EXPECT_NE(s.body().find("data: [DONE]"), std::string::npos) << s.body();
}

// The mission's set-up: a real llama-server with one slot as tier 1, a cloud provider (played by
// the simulator) as tier 2. Concurrent requests beyond the engine's slot spill to the cloud; when
// the engine dies every request is still answered, from the cloud.
TEST(LlamaServerEndToEnd, LocalEngineFirstCloudWhenSaturatedOrDead) {
    auto llama = start_llama_server(tiny_model(), 1);
    Sim cloud = start_sim({"--tokens", "4", "--ttft-ms", "20"});
    auto gateway = start_gateway(R"(
listeners: [{address: 127.0.0.1, port: 0}]
upstreams:
  - name: local-llama
    type: llama-server
    base_url: http://127.0.0.1:)" + std::to_string(llama.port) + R"(
    health: {interval: 200ms, unhealthy_threshold: 1}
  - name: cloud
    base_url: )" + cloud.url() + R"(/v1
models:
  - name: llama4:maverick
    deployments:
      - {upstream: local-llama, model: tiny-llama, max_concurrency: 1}
      - {upstream: cloud, model: deepseek-v3.2, tier: 2}
)");
    const std::string body = chat_body("llama4:maverick", false, R"("max_tokens":32)");
    auto r = post(gateway.port, "/v1/chat/completions", body);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-tier"), "1");

    // Four at once: one on the engine's slot, the rest spill to the cloud.
    std::atomic<int> local{0};
    std::atomic<int> ok{0};
    std::vector<std::thread> callers;
    for (int i = 0; i < 4; ++i) {
        callers.emplace_back([&] {
            const auto answer = post(gateway.port, "/v1/chat/completions", body);
            if (answer.status == 200) ++ok;
            if (answer.header("x-switchyard-upstream") == "local-llama") ++local;
        });
    }
    for (auto& caller : callers) caller.join();
    EXPECT_EQ(ok.load(), 4);
    EXPECT_GE(local.load(), 1);
    EXPECT_GE(stat_number(sim_stats(cloud), "requests_total"), 1);

    llama.process->stop(SIGKILL);
    for (int i = 0; i < 5; ++i) {
        r = post(gateway.port, "/v1/chat/completions", body);
        EXPECT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.header("x-switchyard-upstream"), "cloud");
    }
}

}  // namespace
}  // namespace switchyard::testing
