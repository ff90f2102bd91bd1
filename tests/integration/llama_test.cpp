// End to end through a real llama-server (built by scripts/setup) on the tiny random-weight model:
// the text is noise, but tokenizer, batching, streaming and usage are the real engine's.
#include <gtest/gtest.h>

#include <filesystem>

#include "harness.hpp"

namespace switchyard::testing {
namespace {

struct LlamaServer {
    std::unique_ptr<Process> process;
    int port = 0;
};

LlamaServer start_llama_server(const std::string& model) {
    const std::string binary = llama_server_binary();
    if (!std::filesystem::exists(binary) || !std::filesystem::exists(model)) {
        throw std::runtime_error("llama-server or the tiny model is missing (" + binary + ", " + model +
                                 "); run scripts/setup");
    }
    LlamaServer server;
    server.port = free_port();
    server.process = std::make_unique<Process>(
        "llama-server", std::vector<std::string>{binary, "-m", model, "--host", "127.0.0.1", "--port",
                                                 std::to_string(server.port), "-c", "1024", "-np", "2", "-t", "1",
                                                 "--no-webui"});
    if (!wait_until_ok(server.port, "/health", *server.process, std::chrono::seconds(60))) {
        throw std::runtime_error("llama-server did not become healthy:\n" + server.process->log());
    }
    return server;
}

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

}  // namespace
}  // namespace switchyard::testing
