// The gateway core over real sockets: the switchyard binary in front of switchyard-sim processes.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>

#include <sys/socket.h>

#include <boost/asio.hpp>
#include <thread>

#include "harness.hpp"

namespace switchyard::testing {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string closed_port_url() { return "http://127.0.0.1:1"; }  // nothing listens on port 1

// One local simulator and one "cloud" simulator behind the gateway.
class GatewayTest : public ::testing::Test {
protected:
    void SetUp() override {
        // Retry-After 30: the cooldown after a 429 outlasts any test, however slow the machine.
        local = start_sim({"--model", "llama-4-maverick-q4", "--tokens", "6", "--retry-after", "30"});
        cloud = start_sim({"--model", "deepseek-v3.2", "--tokens", "6", "--api-key", "sk-cloud-secret"});
        gateway = start_gateway(config(), {{"CLOUD_KEY", "sk-cloud-secret"}});
    }

    virtual std::string extra_server() const { return ""; }

    std::string config() const {
        return R"(
listeners:
  - address: 127.0.0.1
    port: 0
server:
  io_threads: 2
  max_body_bytes: 64KiB
  max_header_bytes: 4KiB
  max_headers: 20
  request_read_timeout: 1s
)" + extra_server() +
               R"(
upstreams:
  - name: local
    type: llama-server
    base_url: )" + local.url() +
               R"(
    timeouts: {first_byte: 1500ms, idle: 1s}
  - name: cloud
    type: openai
    base_url: http://localhost:)" + std::to_string(cloud.port) +
               R"(/v1
    api_key: ${CLOUD_KEY}
  - name: broken
    type: vllm
    base_url: )" + closed_port_url() +
               R"(
    health: {interval: 100ms}
models:
  - name: llama4:maverick
    deployments:
      - upstream: local
        model: llama-4-maverick-q4
  - name: deepseek-v3.2
    deployments:
      - upstream: cloud
  - name: broken-model
    deployments:
      - upstream: broken
  - name: with-fallback
    deployments:
      - upstream: broken
        model: x
      - upstream: local
        model: llama-4-maverick-q4
)";
    }

    Sim local;
    Sim cloud;
    Gateway gateway;
};

TEST_F(GatewayTest, NonStreamingChatPassesThroughWithUsage) {
    const auto r = post(gateway.port, "/v1/chat/completions", chat_body("llama4:maverick"),
                        {{"Authorization", "Bearer caller-key"}, {"x-request-id", "req-123"}, {"x-sim-tokens", "5"}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-request-id"), "req-123");
    EXPECT_EQ(r.header("x-switchyard-upstream"), "local");
    EXPECT_NE(r.body.find(R"("object":"chat.completion")"), std::string::npos);
    EXPECT_NE(r.body.find(R"("completion_tokens":5)"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"("model":"llama-4-maverick-q4")"), std::string::npos);

    const std::string stats = sim_stats(local);
    // The model name was rewritten, everything else forwarded byte for byte.
    EXPECT_NE(stats.find(R"(\"model\":\"llama-4-maverick-q4\",\"messages\":[{\"role\":\"user\",\"content\":\"Say something about trains.\"}])"),
              std::string::npos)
        << stats;
    EXPECT_EQ(stats.find("caller-key"), std::string::npos) << "the caller's key must not reach the upstream";
    EXPECT_NE(stats.find(R"("x-request-id":"req-123")"), std::string::npos);
    EXPECT_NE(stats.find(R"("x-sim-tokens":"5")"), std::string::npos) << "other headers are forwarded";
    EXPECT_EQ(stat_number(sim_stats(cloud), "requests_total"), 0);
}

TEST_F(GatewayTest, GeneratesRequestIdsAndSendsTheUpstreamKey) {
    const auto r = post(gateway.port, "/v1/chat/completions", chat_body("deepseek-v3.2"));
    ASSERT_EQ(r.status, 200) << r.body;  // the cloud sim refuses requests without its key
    EXPECT_EQ(r.header("x-request-id").size(), 32u);
    EXPECT_EQ(r.header("x-switchyard-upstream"), "cloud");
    EXPECT_NE(sim_stats(cloud).find(R"("authorization":"Bearer sk-cloud-secret")"), std::string::npos);
    const auto again = post(gateway.port, "/v1/chat/completions", chat_body("deepseek-v3.2"));
    EXPECT_NE(again.header("x-request-id"), r.header("x-request-id"));
}

TEST_F(GatewayTest, StreamsChunkByChunkAsTheyArrive) {
    const auto r = post_streaming(gateway.port, "/v1/chat/completions",
                                  chat_body("llama4:maverick", true, R"("stream_options":{"include_usage":true})"),
                                  {{"x-sim-itl-ms", "150"}, {"x-sim-tokens", "6"}});
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.headers.at("content-type").rfind("text/event-stream", 0), 0u);
    EXPECT_EQ(r.headers.at("transfer-encoding"), "chunked");
    EXPECT_EQ(r.headers.at("x-switchyard-upstream"), "local");
    // 6 tokens 150 ms apart: the caller sees them spread over ~750 ms, not in one piece at the end.
    ASSERT_GE(r.pieces.size(), 5u);
    const auto first = r.pieces.front().first;
    const auto last = r.pieces.back().first;
    EXPECT_GE(last - first, 600ms);
    const std::string body = r.body();
    EXPECT_NE(body.find(R"("completion_tokens":6)"), std::string::npos) << body;
    EXPECT_TRUE(body.ends_with("data: [DONE]\n\n")) << body;
    EXPECT_NE(body.find("chat.completion.chunk"), std::string::npos);
}

TEST_F(GatewayTest, CompletionsAndEmbeddings) {
    auto r = post(gateway.port, "/v1/completions", R"({"model":"llama4:maverick","prompt":"Once upon a time"})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find(R"("object":"text_completion")"), std::string::npos);
    r = post(gateway.port, "/v1/embeddings", R"({"model":"llama4:maverick","input":["a","b"]})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find(R"("object":"embedding")"), std::string::npos);
    EXPECT_NE(r.body.find(R"("index":1)"), std::string::npos);
    const auto streamed = post_streaming(gateway.port, "/v1/completions",
                                         R"({"model":"llama4:maverick","prompt":"x","stream":true})");
    EXPECT_NE(streamed.body().find("data: [DONE]"), std::string::npos);
    EXPECT_NE(sim_stats(local).find(R"("/v1/embeddings":1)"), std::string::npos);
}

TEST_F(GatewayTest, ModelsHealthAndReadiness) {
    auto r = get(gateway.port, "/v1/models");
    ASSERT_EQ(r.status, 200);
    EXPECT_NE(r.body.find(R"("object":"list")"), std::string::npos);
    for (const char* id : {"llama4:maverick", "deepseek-v3.2", "broken-model", "with-fallback"}) {
        EXPECT_NE(r.body.find(std::string(R"("id":")") + id + "\""), std::string::npos) << id;
    }
    EXPECT_EQ(get(gateway.port, "/healthz").status, 200);
    EXPECT_EQ(get(gateway.port, "/readyz").status, 200);
}

TEST_F(GatewayTest, OneModelIsRetrievedByItsNameAsOpenAIsApiDoes) {
    auto r = get(gateway.port, "/v1/models/llama4:maverick");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body.rfind(R"({"id":"llama4:maverick","object":"model","created":)", 0), 0u) << r.body;
    EXPECT_NE(r.body.find(R"("owned_by":"switchyard"})"), std::string::npos) << r.body;
    r = get(gateway.port, "/v1/models/llama4%3Amaverick");  // escaped, as some clients send it
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find(R"("id":"llama4:maverick")"), std::string::npos) << r.body;
    r = get(gateway.port, "/v1/models/llama4:maverik");
    EXPECT_EQ(r.status, 404);
    EXPECT_NE(r.body.find(R"("code":"model_not_found")"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("Did you mean 'llama4:maverick'?"), std::string::npos) << r.body;
    r = get(gateway.port, "/v1/models/x%FFy");  // not UTF-8 once decoded: the error's JSON stays valid
    EXPECT_EQ(r.status, 404);
    EXPECT_NE(r.body.find(R"('x\u00ffy')"), std::string::npos) << r.body;
    r = post(gateway.port, "/v1/models/llama4:maverick", "{}");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.header("allow"), "GET, HEAD");
}

// RFC 9112, section 3.2.2: a server accepts a request target in absolute form.
TEST_F(GatewayTest, AnAbsoluteFormTargetIsServedByItsPath) {
    const std::string raw =
        raw_exchange(gateway.port,
                     "GET http://gateway.example/v1/models?x=1 HTTP/1.1\r\nHost: gateway.example\r\n"
                     "Connection: close\r\n\r\n",
                     3s);
    EXPECT_EQ(raw.rfind("HTTP/1.1 200", 0), 0u) << raw;
    EXPECT_NE(raw.find(R"("id":"deepseek-v3.2")"), std::string::npos) << raw;
}

TEST_F(GatewayTest, UnknownPathsAndWrongMethods) {
    auto r = get(gateway.port, "/v1/nothing");
    EXPECT_EQ(r.status, 404);
    EXPECT_NE(r.body.find(R"("code":"unknown_url")"), std::string::npos);
    EXPECT_NE(r.body.find(R"("type":"invalid_request_error")"), std::string::npos);
    r = get(gateway.port, "/v1/chat/completions");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.header("allow"), "POST");
    EXPECT_NE(r.body.find(R"({"error":{"message":)"), std::string::npos);
    r = post(gateway.port, "/v1/models", "{}");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.header("allow"), "GET, HEAD");
    EXPECT_FALSE(r.header("x-request-id").empty());
}

// HEAD, which every HTTP server must answer (load balancers' health checks use it): GET's head,
// with its Content-Length, and no body; the connection stays usable for the next request.
TEST_F(GatewayTest, HeadIsAnsweredWithGetsHeadAndNoBody) {
    const std::string raw = raw_exchange(gateway.port,
                                         "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                                         "HEAD /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n"
                                         "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                         3s);
    const auto second = raw.find("HTTP/1.1 405");
    const auto third = raw.find("HTTP/1.1 200", 1);
    ASSERT_EQ(raw.rfind("HTTP/1.1 200", 0), 0u) << raw;
    ASSERT_NE(second, std::string::npos) << raw;
    ASSERT_NE(third, std::string::npos) << raw;
    const std::string first_answer = raw.substr(0, second);
    EXPECT_NE(first_answer.find("Content-Length: 15\r\n"), std::string::npos) << raw;  // {"status":"ok"}
    EXPECT_TRUE(first_answer.ends_with("\r\n\r\n")) << "no body after HEAD's head: " << raw;
    const std::string second_answer = raw.substr(second, third - second);
    EXPECT_NE(second_answer.find("Allow: POST\r\n"), std::string::npos) << raw;
    EXPECT_TRUE(second_answer.ends_with("\r\n\r\n")) << raw;
    EXPECT_TRUE(raw.ends_with(R"({"status":"ok"})")) << raw;
}

TEST_F(GatewayTest, BadBodiesGetClearErrors) {
    auto r = post(gateway.port, "/v1/chat/completions", R"({"model": "llama4:maverick", "messages": [}])");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("byte offset 42"), std::string::npos) << r.body;
    r = post(gateway.port, "/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}]})");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find(R"("param":"model")"), std::string::npos);
    r = post(gateway.port, "/v1/chat/completions", chat_body("llama4:maverik"));
    EXPECT_EQ(r.status, 404);
    EXPECT_NE(r.body.find("Did you mean 'llama4:maverick'?"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("deepseek-v3.2"), std::string::npos);
    EXPECT_NE(r.body.find(R"("code":"model_not_found")"), std::string::npos);
    r = post(gateway.port, "/v1/chat/completions", chat_body("llama4:maverick", false, R"("stream":"yes")"));
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find(R"("param":"stream")"), std::string::npos);
    r = post(gateway.port, "/v1/chat/completions", chat_body("llama4:maverick", false, R"("max_tokens":"ten")"));
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find(R"("param":"max_tokens")"), std::string::npos);
    // Malformed where the gateway reads nothing (inside a message): refused all the same.
    r = post(gateway.port, "/v1/chat/completions",
             R"({"model":"llama4:maverick","messages":[{"role":"user","content":"x":{"role":"system"}}]})");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find(R"("code":"invalid_json")"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("byte offset 67"), std::string::npos) << r.body;
    // Nested deeper than the gateway reads (and than simdjson's limit, which its debug builds assert on).
    r = post(gateway.port, "/v1/chat/completions",
             R"({"model":"llama4:maverick","messages":[{"role":"user","content":"x"}],"x":)" + std::string(5000, '[') +
                 std::string(5000, ']') + "}");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("nesting is too deep"), std::string::npos) << r.body;
    // Two models: an upstream reading the first would serve another model than the one routed.
    r = post(gateway.port, "/v1/chat/completions",
             R"({"model":"deepseek-v3.2","messages":[{"role":"user","content":"x"}],"model":"llama4:maverick"})");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find(R"("code":"duplicate_parameter")"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"("param":"model")"), std::string::npos) << r.body;
    EXPECT_EQ(stat_number(sim_stats(local), "requests_total"), 0) << "bad requests never reach an upstream";
    EXPECT_EQ(stat_number(sim_stats(cloud), "requests_total"), 0) << "bad requests never reach an upstream";
}

TEST_F(GatewayTest, CallerCredentialsCookiesAndHopByHopHeadersStayOnTheCallerSide) {
    const auto r = post(gateway.port, "/v1/chat/completions", chat_body("deepseek-v3.2"),
                        {{"Authorization", "Bearer caller-key"},
                         {"x-api-key", "caller-key"},
                         {"api-key", "caller-key"},
                         {"Cookie", "session=caller"},
                         {"Accept-Encoding", "gzip"},
                         {"Keep-Alive", "timeout=5"},
                         {"TE", "trailers"},
                         {"Proxy-Authorization", "Basic caller-key"},
                         {"X-Request-Id", "caller-id-1"},
                         {"X-Custom-Tag", "kept"}});
    ASSERT_EQ(r.status, 200) << r.body;  // the cloud simulator takes only its own key
    EXPECT_EQ(r.header("x-request-id"), "caller-id-1");
    const std::string stats = sim_stats(cloud);
    EXPECT_NE(stats.find(R"("authorization":"Bearer sk-cloud-secret")"), std::string::npos) << stats;
    EXPECT_NE(stats.find(R"("x-custom-tag":"kept")"), std::string::npos) << stats;
    EXPECT_NE(stats.find(R"("x-request-id":"caller-id-1")"), std::string::npos) << stats;
    for (const char* dropped : {"caller-key", "\"cookie\"", "\"accept-encoding\"", "\"keep-alive\"", "\"te\"",
                                "\"proxy-authorization\"", "\"api-key\"", "\"x-api-key\""}) {
        EXPECT_EQ(stats.find(dropped), std::string::npos) << dropped << " reached the upstream: " << stats;
    }
}

TEST_F(GatewayTest, BodyOverTheLimitIs413) {
    const std::string big = chat_body("llama4:maverick", false, R"("pad":")" + std::string(70 * 1024, 'x') + "\"");
    auto r = post(gateway.port, "/v1/chat/completions", big);
    EXPECT_EQ(r.status, 413);
    EXPECT_NE(r.body.find("65536 bytes"), std::string::npos) << r.body;
    // Chunked, with no Content-Length to check up front.
    std::string chunked = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 20; ++i) chunked += "1000\r\n" + std::string(4096, 'y') + "\r\n";
    chunked += "0\r\n\r\n";
    const std::string raw = raw_exchange(gateway.port, chunked);
    EXPECT_EQ(raw.rfind("HTTP/1.1 413", 0), 0u) << raw.substr(0, 200);
}

TEST_F(GatewayTest, ChunkedRequestBodiesAreAccepted) {
    const std::string body = chat_body("llama4:maverick");
    const std::string half1 = body.substr(0, 10);
    const std::string half2 = body.substr(10);
    char size1[16];
    char size2[16];
    std::snprintf(size1, sizeof size1, "%zx", half1.size());
    std::snprintf(size2, sizeof size2, "%zx", half2.size());
    const std::string raw = raw_exchange(
        gateway.port, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" +
                          std::string(size1) + "\r\n" + half1 + "\r\n" + size2 + "\r\n" + half2 + "\r\n0\r\n\r\n");
    EXPECT_EQ(raw.rfind("HTTP/1.1 200", 0), 0u) << raw;
}

// How many responses `raw` holds: the status lines at its start and after each blank line.
std::size_t responses_in(const std::string& raw) {
    std::size_t count = raw.rfind("HTTP/1.1 ", 0) == 0 ? 1 : 0;
    for (auto at = raw.find("\r\n\r\nHTTP/1.1 "); at != std::string::npos; at = raw.find("\r\n\r\nHTTP/1.1 ", at + 1)) {
        ++count;
    }
    // (A body is JSON here, so a status line after one ends with "}HTTP/1.1 ".)
    for (auto at = raw.find("}HTTP/1.1 "); at != std::string::npos; at = raw.find("}HTTP/1.1 ", at + 1)) ++count;
    return count;
}

// A body framed by a Transfer-Encoding that Beast would not decode as chunked used to be taken as
// no body at all, and its bytes read as the next request on the connection: a smuggled request.
TEST_F(GatewayTest, TransferEncodingsThatCannotFrameTheBodyAreRefusedAndTheConnectionClosed) {
    const std::string smuggled = "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n";
    char size[16];
    std::snprintf(size, sizeof size, "%zx", smuggled.size());
    const std::string chunked_body = std::string(size) + "\r\n" + smuggled + "\r\n0\r\n\r\n";
    for (const std::string coding : {"chunked, chunked", "xchunked", "chunked, gzip", "identity", ","}) {
        const std::string raw = raw_exchange(
            gateway.port,
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + coding + "\r\n\r\n" + chunked_body,
            3s);
        EXPECT_EQ(raw.rfind("HTTP/1.1 400", 0), 0u) << coding << ": " << raw;
        EXPECT_NE(raw.find(R"("code":"bad_transfer_encoding")"), std::string::npos) << coding << ": " << raw;
        EXPECT_NE(raw.find("Connection: close\r\n"), std::string::npos) << coding;
        EXPECT_EQ(responses_in(raw), 1u) << coding << ": the smuggled request was answered: " << raw;
    }
    // Chunked last, after a coding the gateway cannot decode: 501, not the coded bytes taken as JSON.
    const std::string raw = raw_exchange(gateway.port,
                                         "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
                                         "Transfer-Encoding: chunked\r\n\r\n" +
                                             chunked_body,
                                         3s);
    EXPECT_EQ(raw.rfind("HTTP/1.1 501", 0), 0u) << raw;
    EXPECT_NE(raw.find(R"("code":"unsupported_transfer_encoding")"), std::string::npos) << raw;
    EXPECT_NE(raw.find("'gzip'"), std::string::npos) << raw;
    EXPECT_EQ(responses_in(raw), 1u) << raw;
    EXPECT_EQ(stat_number(sim_stats(local), "requests_total"), 0) << "refused requests never reach an upstream";
}

TEST_F(GatewayTest, AMalformedChunkedBodyIsAnswered400) {
    for (const std::string chunks : {"zz\r\n", "fffffffffffffffffff\r\n", "5\r\nabcdeXY\r\n0\r\n\r\n"}) {
        const std::string raw = raw_exchange(
            gateway.port,
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks, 3s);
        EXPECT_EQ(raw.rfind("HTTP/1.1 400", 0), 0u) << raw;
        EXPECT_NE(raw.find("malformed HTTP request body"), std::string::npos) << raw;
        EXPECT_NE(raw.find(R"("code":"bad_http")"), std::string::npos) << raw;
    }
}

// RFC 9112, section 6.1: an HTTP/1.0 message with a Transfer-Encoding is served, then the
// connection closed, even when the caller asked to keep it.
TEST_F(GatewayTest, AnHttp10RequestWithTransferEncodingIsServedThenTheConnectionClosed) {
    const std::string body = chat_body("llama4:maverick");
    char size[16];
    std::snprintf(size, sizeof size, "%zx", body.size());
    const std::string raw =
        raw_exchange(gateway.port,
                     "POST /v1/chat/completions HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: "
                     "chunked\r\n\r\n" +
                         std::string(size) + "\r\n" + body + "\r\n0\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n",
                     3s);
    EXPECT_EQ(raw.rfind("HTTP/1.1 200", 0), 0u) << raw;
    EXPECT_NE(raw.find("Connection: close\r\n"), std::string::npos) << raw;
    EXPECT_EQ(responses_in(raw), 1u) << raw;
}

// An upstream answer framed with a transfer coding other than chunked alone would reach the caller
// still encoded, without the field that says so (the gateway relays bodies dechunked and chunks
// them again): it is a failed attempt instead, answered 502 or retried on the next deployment.
TEST_F(GatewayTest, AnUpstreamAnswerWithATransferCodingOtherThanChunkedIsNotRelayed) {
    const std::string json = R"({"id":"c1","object":"chat.completion","choices":[]})";
    char size[16];
    std::snprintf(size, sizeof size, "%zx", json.size());
    const std::string chunked_json = std::string(size) + "\r\n" + json + "\r\n0\r\n\r\n";
    const auto answer = [](const std::string& codings, const std::string& body) {
        return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: " + codings + "\r\n\r\n" + body;
    };
    ScriptedUpstream plain(answer("chunked", chunked_json));
    ScriptedUpstream gzip(answer("gzip, chunked", chunked_json));
    ScriptedUpstream twice(answer("chunked, chunked", chunked_json));
    ScriptedUpstream until_close(answer("gzip", json));
    std::string yaml = R"(
listeners: [{address: 127.0.0.1, port: 0}]
upstreams:
)";
    for (const auto& [name, upstream] : {std::pair<std::string, ScriptedUpstream*>{"plain", &plain},
                                         {"gzip", &gzip},
                                         {"twice", &twice},
                                         {"until-close", &until_close}}) {
        yaml += "  - {name: " + name + ", base_url: \"" + upstream->url() + "\", health: {enabled: false}}\n";
    }
    yaml += "  - {name: local, base_url: \"" + local.url() + "\", health: {enabled: false}}\n";
    yaml += R"(models:
  - {name: plain, deployments: [{upstream: plain}]}
  - {name: gzip, deployments: [{upstream: gzip}]}
  - {name: twice, deployments: [{upstream: twice}]}
  - {name: until-close, deployments: [{upstream: until-close}]}
  - name: gzip-then-local
    deployments: [{upstream: gzip, model: m}, {upstream: local, model: llama-4-maverick-q4, tier: 2}]
)";
    const Gateway scripted = start_gateway(yaml);

    // The scripted upstream itself is relayed when it frames its body with chunked alone.
    auto r = post(scripted.port, "/v1/chat/completions", chat_body("plain"));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, json);

    // A coding before the next tier: the attempt fails and the next deployment answers.
    r = post(scripted.port, "/v1/chat/completions", chat_body("gzip-then-local"));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-upstream"), "local");
    EXPECT_EQ(gzip.answered(), 1);

    for (const auto& [model, codings] : {std::pair<std::string, std::string>{"gzip", "gzip, chunked"},
                                         {"twice", "chunked, chunked"},
                                         {"until-close", "gzip"}}) {
        r = post(scripted.port, "/v1/chat/completions", chat_body(model));
        EXPECT_EQ(r.status, 502) << model << ": " << r.body;
        EXPECT_NE(r.body.find(R"("code":"upstream_error")"), std::string::npos) << r.body;
        EXPECT_NE(r.body.find("answered with Transfer-Encoding '" + codings + "'"), std::string::npos) << r.body;
        EXPECT_EQ(r.body.find("c1"), std::string::npos) << "no byte of the encoded body is relayed: " << r.body;
    }
    EXPECT_EQ(gzip.answered(), 2);
    EXPECT_EQ(twice.answered(), 1);
    EXPECT_EQ(until_close.answered(), 1);
}

TEST_F(GatewayTest, HeadersTooLargeOrTooManyAre431) {
    auto r = post(gateway.port, "/v1/chat/completions", chat_body("llama4:maverick"),
                  {{"x-big", std::string(5000, 'h')}});
    EXPECT_EQ(r.status, 431);
    EXPECT_NE(r.body.find("headers_too_large"), std::string::npos);
    std::map<std::string, std::string> many;
    for (int i = 0; i < 25; ++i) many["x-h" + std::to_string(i)] = "v";
    r = post(gateway.port, "/v1/chat/completions", chat_body("llama4:maverick"), many);
    EXPECT_EQ(r.status, 431);
    EXPECT_NE(r.body.find("too_many_headers"), std::string::npos);
}

// What `fd` receives until `marker` has arrived (empty: until the peer closes) or `timeout` passes.
std::string receive_until(int fd, std::string_view marker, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string out;
    char data[4096];
    while (marker.empty() || out.find(marker) == std::string::npos) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd pfd{fd, POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) break;
        const auto n = ::recv(fd, data, sizeof data, 0);
        if (n <= 0) break;
        out.append(data, static_cast<std::size_t>(n));
    }
    return out;
}

TEST_F(GatewayTest, ExpectContinueIsAnsweredAndABodyThatArrivesInPiecesIsServed) {
    const std::string body = chat_body("llama4:maverick");
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(gateway.port)));
    const int fd = socket.native_handle();
    const std::string head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             "Expect: 100-continue\r\nConnection: close\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n";
    asio::write(socket, asio::buffer(head));
    const std::string interim = receive_until(fd, "\r\n\r\n", 3s);
    EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
    asio::write(socket, asio::buffer(body.substr(0, 7)));
    std::this_thread::sleep_for(50ms);
    asio::write(socket, asio::buffer(body.substr(7)));
    const std::string response = receive_until(fd, "", 5s);
    EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
    EXPECT_NE(response.find("chat.completion"), std::string::npos) << response;
}

TEST_F(GatewayTest, SlowClientsAreCutOffWith408) {
    // Headers promise a body that never comes; the read timeout is 1 s.
    const auto start = std::chrono::steady_clock::now();
    const std::string raw = raw_exchange(
        gateway.port, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"model\"", 5s);
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(raw.rfind("HTTP/1.1 408", 0), 0u) << raw;
    EXPECT_NE(raw.find("request_timeout"), std::string::npos);
    EXPECT_LT(waited, 3s);
    // Half a request line, then silence.
    const std::string partial = raw_exchange(gateway.port, "POST /v1/chat/compl", 5s);
    EXPECT_EQ(partial.rfind("HTTP/1.1 408", 0), 0u) << partial;
}

TEST_F(GatewayTest, UnreachableUpstreamIs502NamingItButNotItsAddress) {
    const auto r = post(gateway.port, "/v1/chat/completions", chat_body("broken-model"));
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_EQ(r.header("x-switchyard-upstream"), "broken");
    EXPECT_NE(r.body.find("upstream 'broken'"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("127.0.0.1"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"("type":"upstream_error")"), std::string::npos);
}

TEST_F(GatewayTest, ConnectFailureMovesToTheNextDeployment) {
    const auto r = post(gateway.port, "/v1/chat/completions", chat_body("with-fallback"));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-upstream"), "local");
}

TEST_F(GatewayTest, UpstreamTimeoutIs504) {
    const auto start = std::chrono::steady_clock::now();
    const auto r = post(gateway.port, "/v1/chat/completions", chat_body("llama4:maverick"), {{"x-sim-fault", "hang"}});
    EXPECT_EQ(r.status, 504) << r.body;
    EXPECT_NE(r.body.find("within 1500ms"), std::string::npos) << r.body;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
}

TEST_F(GatewayTest, UpstreamErrorsPassThroughWithTheirStatus) {
    // With no other deployment to retry on, the upstream's own answer reaches the caller.
    auto r = post(gateway.port, "/v1/chat/completions", chat_body("llama4:maverick"), {{"x-sim-fault", "503"}});
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.header("x-switchyard-upstream"), "local");
    r = post(gateway.port, "/v1/chat/completions", chat_body("llama4:maverick"), {{"x-sim-fault", "reset"}});
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_NE(r.body.find("upstream 'local'"), std::string::npos);
    r = post(gateway.port, "/v1/chat/completions", chat_body("llama4:maverick"), {{"x-sim-fault", "429"}});
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(r.header("retry-after"), "30");
    EXPECT_EQ(r.header("x-switchyard-upstream"), "local");
    // The deployment now cools down for that Retry-After: callers are told so at once.
    r = post(gateway.port, "/v1/chat/completions", chat_body("llama4:maverick"));
    EXPECT_EQ(r.status, 429) << r.body;
    EXPECT_EQ(r.header("retry-after"), "30");
    EXPECT_NE(r.body.find("rate-limited by the upstream"), std::string::npos) << r.body;
}

TEST_F(GatewayTest, BrokenStreamEndsWithAnSseErrorEvent) {
    const auto r = post_streaming(gateway.port, "/v1/chat/completions", chat_body("llama4:maverick", true),
                                  {{"x-sim-fault", "drop:3"}, {"x-sim-tokens", "10"}});
    ASSERT_EQ(r.status, 200);
    const std::string body = r.body();
    EXPECT_EQ(body.find("[DONE]"), std::string::npos) << body;
    const auto last_event = body.rfind("data: ");
    ASSERT_NE(last_event, std::string::npos);
    EXPECT_EQ(body.substr(last_event).rfind(R"(data: {"error":{"message":"upstream 'local')", 0), 0u) << body;
    EXPECT_TRUE(body.ends_with("\n\n"));
}

TEST_F(GatewayTest, CallerDisconnectClosesTheUpstreamRequest) {
    {
        // Ask for a long generation, read the head, then hang up.
        const std::string body = chat_body("llama4:maverick", true);
        const std::string raw = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                "x-sim-itl-ms: 200\r\nx-sim-tokens: 100\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body;
        const std::string head = raw_exchange(gateway.port, raw, 500ms);
        EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u) << head;
    }
    // The simulator notices its connection closed long before the 20 s generation would end.
    long cancelled = 0;
    for (int i = 0; i < 100 && cancelled == 0; ++i) {
        std::this_thread::sleep_for(20ms);
        cancelled = stat_number(sim_stats(local), "cancelled");
    }
    EXPECT_EQ(cancelled, 1);
    EXPECT_EQ(stat_number(sim_stats(local), "in_flight"), 0);
}

TEST_F(GatewayTest, CallerDisconnectBeforeTheFirstByteClosesTheUpstreamRequest) {
    const std::string body = chat_body("llama4:maverick");
    const std::string raw = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nx-sim-fault: hang\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body;
    const std::string nothing = raw_exchange(gateway.port, raw, 300ms);
    EXPECT_TRUE(nothing.empty());
    long cancelled = 0;
    for (int i = 0; i < 100 && cancelled == 0; ++i) {
        std::this_thread::sleep_for(20ms);
        cancelled = stat_number(sim_stats(local), "cancelled");
    }
    EXPECT_EQ(cancelled, 1);
}

TEST_F(GatewayTest, KeepAliveConnectionsAreReused) {
    // Many sequential requests on one caller connection; the upstream sees few connections.
    std::string pipeline;
    const std::string body = chat_body("llama4:maverick");
    for (int i = 0; i < 20; ++i) {
        pipeline += "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                    (i == 19 ? "\r\nConnection: close" : "") + "\r\n\r\n" + body;
    }
    const std::string raw = raw_exchange(gateway.port, pipeline);
    std::size_t count = 0;
    for (auto at = raw.find("HTTP/1.1 200"); at != std::string::npos; at = raw.find("HTTP/1.1 200", at + 1)) ++count;
    EXPECT_EQ(count, 20u);
    const long connections = stat_number(sim_stats(local), "connections_total");
    EXPECT_GE(connections, 1);
    EXPECT_LE(connections, 3);  // the health checker's own connection counts too
}

TEST_F(GatewayTest, SigtermFinishesRequestsInFlight) {
    std::thread slow([&] {
        const auto r = post(gateway.port, "/v1/chat/completions", chat_body("llama4:maverick"),
                            {{"x-sim-ttft-ms", "1000"}});
        EXPECT_EQ(r.status, 200) << r.body;
    });
    std::this_thread::sleep_for(300ms);
    ::kill(gateway.process->pid(), SIGTERM);
    std::this_thread::sleep_for(200ms);
    EXPECT_THROW(get(gateway.port, "/healthz"), std::exception) << "no new connections while draining";
    slow.join();
    EXPECT_EQ(gateway.process->stop(0, 5s), 0);
}

class ExposedAddressTest : public GatewayTest {
    std::string extra_server() const override { return "  expose_upstream_address: true\n"; }
};

TEST_F(ExposedAddressTest, ErrorsNameTheAddressWhenAllowed) {
    const auto r = post(gateway.port, "/v1/chat/completions", chat_body("broken-model"));
    EXPECT_EQ(r.status, 502);
    EXPECT_NE(r.body.find("http://127.0.0.1:1"), std::string::npos) << r.body;
}

class KeepAliveTest : public GatewayTest {
    std::string extra_server() const override { return "  keepalive_timeout: 500ms\n"; }
};

TEST_F(KeepAliveTest, AnIdleConnectionIsClosedAfterTheKeepAliveTimeout) {
    const auto start = std::chrono::steady_clock::now();
    // One request, then the connection stays open and quiet until the gateway closes it.
    const std::string raw = raw_exchange(gateway.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 10s);
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(raw.rfind("HTTP/1.1 200", 0), 0u) << raw;
    EXPECT_GE(waited, 400ms);
    EXPECT_LT(waited, 5s);
}

TEST_F(KeepAliveTest, AConnectionInUseIsNotCutOff) {
    // Requests 300 ms apart on one connection: each gap is shorter than the 500 ms timeout.
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(gateway.port)));
    for (int i = 0; i < 4; ++i) {
        if (i > 0) std::this_thread::sleep_for(300ms);
        asio::write(socket, asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")));
        std::string got;
        char data[1024];
        while (got.find("\r\n\r\n") == std::string::npos || got.find("}") == std::string::npos) {
            boost::system::error_code ec;
            const std::size_t n = socket.read_some(asio::buffer(data), ec);
            ASSERT_FALSE(ec) << "request " << i << ": " << ec.message();
            got.append(data, n);
        }
        EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
    }
}

TEST(CallerWrites, ACallerThatStopsReadingIsCutOffAndTheUpstreamClosed) {
    // A stream far larger than the socket buffers, to a caller that never reads: the write to the
    // caller times out after request_read_timeout, the gateway closes both sides.
    Sim sim = start_sim({"--tokens", "2000000", "--itl-ms", "0", "--ttft-ms", "0"});
    auto gateway = start_gateway(R"(
listeners: [{address: 127.0.0.1, port: 0}]
server: {request_read_timeout: 1s}
upstreams:
  - {name: local, type: llama-server, base_url: )" + sim.url() + R"(}
models:
  - name: m
    deployments: [{upstream: local}]
)");
    asio::io_context io;
    tcp::socket socket(io);
    const int small = 4096;
    socket.open(tcp::v4());
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(gateway.port)));
    const std::string body = chat_body("m", true, R"("max_tokens":2000000)");
    const std::string request = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    asio::write(socket, asio::buffer(request));
    // Never read. The sim sees its stream cancelled once the gateway gives up on the caller.
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (stat_number(sim_stats(sim), "cancelled") < 1 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(stat_number(sim_stats(sim), "cancelled"), 1) << gateway.process->log();
    EXPECT_EQ(stat_number(sim_stats(sim), "in_flight"), 0);
}

TEST(Readiness, NotReadyWhenNoUpstreamIsUsable) {
    auto gateway = start_gateway(R"(
listeners: [{address: 127.0.0.1, port: 0}]
upstreams:
  - name: gone
    type: llama-server
    base_url: http://127.0.0.1:1
    health: {interval: 100ms, timeout: 100ms}
models:
  - name: m
    deployments: [{upstream: gone}]
)");
    int status = 0;
    for (int i = 0; i < 50 && status != 503; ++i) {
        std::this_thread::sleep_for(50ms);
        status = get(gateway.port, "/readyz").status;
    }
    EXPECT_EQ(status, 503);
    EXPECT_EQ(get(gateway.port, "/healthz").status, 200);
}

TEST(CheckConfig, ReportsEveryErrorWithItsLine) {
    const std::string path = write_file("bad.yaml", R"(upstreams:
  - name: local
    type: llama-cpp
    base_url: http://127.0.0.1:8080
models:
  - name: m
    deployments:
      - upstream: lcal
)");
    Process check("check-config", {gateway_binary(), "check-config", path});
    EXPECT_EQ(check.stop(0, 10s), 1);
    const std::string out = check.log();
    EXPECT_NE(out.find("line 3, column 11: upstream type 'llama-cpp'"), std::string::npos) << out;
    EXPECT_NE(out.find("line 8, column 19: deployment refers to unknown upstream 'lcal'; did you mean 'local'?"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("2 errors"), std::string::npos);

    const std::string good = write_file("good.yaml", R"(upstreams: [{name: a, base_url: "http://127.0.0.1:9"}]
models: [{name: m, deployments: [{upstream: a}]}]
)");
    Process ok("check-config", {gateway_binary(), "check-config", good});
    EXPECT_EQ(ok.stop(0, 10s), 0) << ok.log();
}

}  // namespace
}  // namespace switchyard::testing
