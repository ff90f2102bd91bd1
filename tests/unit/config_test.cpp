#include <gtest/gtest.h>

#include "config/config.hpp"

namespace switchyard::config {
namespace {

EnvLookup fake_env() {
    return [](std::string_view name) -> std::optional<std::string> {
        if (name == "CLOUD_KEY") return "sk-test";
        return std::nullopt;
    };
}

const char* kValid = R"(
listeners:
  - address: 127.0.0.1
    port: 9000
server:
  io_threads: 3
  max_body_bytes: 1MiB
  request_read_timeout: 5s
upstreams:
  - name: local
    type: llama-server
    base_url: http://127.0.0.1:8081
    timeouts: {connect: 250ms, first_byte: 30s}
  - name: cloud
    type: openai
    base_url: https://api.example.com/v1
    api_key: ${CLOUD_KEY}
models:
  - name: llama4:maverick
    deployments:
      - upstream: local
        model: llama-4-maverick-q4
      - upstream: cloud
        model: deepseek-v3.2
)";

TEST(Config, ParsesAValidFile) {
    auto result = load_string(kValid, fake_env());
    ASSERT_TRUE(result.gateway) << (result.errors.empty() ? "" : to_string(result.errors[0]));
    const Gateway& g = *result.gateway;
    ASSERT_EQ(g.listeners.size(), 1u);
    EXPECT_EQ(g.listeners[0].port, 9000);
    EXPECT_EQ(g.server.io_threads, 3u);
    EXPECT_EQ(g.server.max_body_bytes, 1u << 20);
    EXPECT_EQ(g.server.request_read_timeout, std::chrono::seconds(5));
    ASSERT_EQ(g.upstreams.size(), 2u);
    EXPECT_EQ(g.upstreams[0].type, UpstreamType::llama_server);
    EXPECT_EQ(g.upstreams[0].health.path, "/health");
    EXPECT_EQ(g.upstreams[0].timeouts.connect, std::chrono::milliseconds(250));
    EXPECT_EQ(g.upstreams[0].timeouts.first_byte, std::chrono::seconds(30));
    EXPECT_EQ(g.upstreams[1].api_key, "sk-test");
    EXPECT_TRUE(g.upstreams[1].url.tls);
    EXPECT_EQ(g.upstreams[1].url.port, 443);
    EXPECT_EQ(g.upstreams[1].url.api_base, "/v1");
    EXPECT_EQ(g.upstreams[1].health.path, "/v1/models");
    EXPECT_EQ(g.upstreams[0].url.api_base, "/v1");
    const Model* model = g.find_model("llama4:maverick");
    ASSERT_NE(model, nullptr);
    ASSERT_EQ(model->deployments.size(), 2u);
    EXPECT_EQ(model->deployments[0].model, "llama-4-maverick-q4");
    EXPECT_EQ(model->deployments[0].name, "local");
    EXPECT_EQ(model->deployments[1].upstream, 1u);
}

TEST(Config, ReportsEveryErrorWithItsLine) {
    const char* text = R"(listeners:
  - address: 127.0.0.1
    prot: 9000
upstreams:
  - name: local
    type: llama-cpp
    base_url: ftp://x
  - name: cloud
    base_url: http://h:1
    api_key: ${MISSING_KEY}
    timeouts: {connect: soon}
models:
  - name: m
    deployments:
      - upstream: locl
)";
    auto result = load_string(text, fake_env());
    EXPECT_FALSE(result.gateway);
    ASSERT_EQ(result.errors.size(), 6u);
    EXPECT_EQ(result.errors[0].line, 3);
    EXPECT_NE(result.errors[0].message.find("did you mean 'port'"), std::string::npos) << result.errors[0].message;
    EXPECT_EQ(result.errors[1].line, 6);
    EXPECT_NE(result.errors[1].message.find("llama-cpp"), std::string::npos);
    EXPECT_EQ(result.errors[2].line, 7);
    EXPECT_NE(result.errors[2].message.find("http://"), std::string::npos);
    EXPECT_EQ(result.errors[3].line, 10);
    EXPECT_NE(result.errors[3].message.find("MISSING_KEY is not set"), std::string::npos);
    EXPECT_EQ(result.errors[4].line, 11);
    EXPECT_NE(result.errors[4].message.find("duration"), std::string::npos);
    EXPECT_EQ(result.errors[5].line, 15);
    EXPECT_NE(result.errors[5].message.find("did you mean 'local'"), std::string::npos);
}

TEST(Config, ReportsYamlSyntaxErrors) {
    auto result = load_string("upstreams: [\n  - name: x\n", fake_env());
    ASSERT_FALSE(result.errors.empty());
    EXPECT_NE(result.errors[0].message.find("YAML syntax error"), std::string::npos);
    EXPECT_GT(result.errors[0].line, 0);
}

TEST(Config, RequiresUpstreamsAndModels) {
    auto result = load_string("listeners:\n  - port: 1\n", fake_env());
    ASSERT_EQ(result.errors.size(), 2u);
    EXPECT_NE(result.errors[0].message.find("upstreams"), std::string::npos);
    EXPECT_NE(result.errors[1].message.find("models"), std::string::npos);
}

TEST(Config, EnvDefaults) {
    const char* text = R"(upstreams:
  - name: a
    base_url: http://127.0.0.1:${PORT:-8081}
models:
  - name: m
    deployments: [{upstream: a}]
)";
    auto result = load_string(text, fake_env());
    ASSERT_TRUE(result.gateway);
    EXPECT_EQ(result.gateway->upstreams[0].url.port, 8081);
    EXPECT_EQ(result.gateway->models[0].deployments[0].model, "m");
}

TEST(Durations, Parse) {
    EXPECT_EQ(parse_duration("250ms"), Duration(250));
    EXPECT_EQ(parse_duration("1.5s"), Duration(1500));
    EXPECT_EQ(parse_duration("2m"), Duration(120000));
    EXPECT_EQ(parse_duration("3"), Duration(3000));
    EXPECT_FALSE(parse_duration("soon"));
    EXPECT_FALSE(parse_duration("5 s"));
    EXPECT_EQ(parse_size("64KiB"), 65536u);
    EXPECT_EQ(parse_size("2MB"), 2000000u);
    EXPECT_FALSE(parse_size("lots"));
}

TEST(Urls, Parse) {
    std::string why;
    auto url = parse_url("https://api.openai.com/v1/", &why);
    ASSERT_TRUE(url);
    EXPECT_TRUE(url->tls);
    EXPECT_EQ(url->host, "api.openai.com");
    EXPECT_EQ(url->port, 443);
    EXPECT_EQ(url->api_base, "/v1");
    EXPECT_EQ(url->host_header(), "api.openai.com");
    url = parse_url("http://[::1]:8080/proxy/v1", &why);
    ASSERT_TRUE(url);
    EXPECT_EQ(url->host, "::1");
    EXPECT_EQ(url->port, 8080);
    EXPECT_EQ(url->api_base, "/proxy/v1");
    EXPECT_EQ(url->host_header(), "[::1]:8080");
    url = parse_url("https://generativelanguage.googleapis.com/v1beta/openai/", &why);
    ASSERT_TRUE(url);
    EXPECT_EQ(url->api_base, "/v1beta/openai");
    url = parse_url("http://127.0.0.1:8080", &why);
    ASSERT_TRUE(url);
    EXPECT_EQ(url->api_base, "/v1");
    EXPECT_FALSE(parse_url("http://user:pw@h", &why));
    EXPECT_NE(why.find("credentials"), std::string::npos);
    EXPECT_FALSE(parse_url("http://h:99999", &why));
    EXPECT_FALSE(parse_url("h:80", &why));
}

}  // namespace
}  // namespace switchyard::config
