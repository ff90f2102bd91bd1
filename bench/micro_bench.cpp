// Micro-benchmarks of the hot-path pieces: request parsing, model rewrite, recording metrics,
// parsing an upstream's answer.
#include <benchmark/benchmark.h>

#include <boost/beast/core/flat_buffer.hpp>

#include <array>
#include <optional>
#include <string>

#include "http/read.hpp"
#include "metrics/metrics.hpp"
#include "parse/request.hpp"

namespace {

const std::string kChat =
    R"({"model":"llama4:maverick","messages":[{"role":"system","content":"You are helpful."},)"
    R"({"role":"user","content":"Write a haiku about switchyards and trains at night."}],)"
    R"("stream":true,"stream_options":{"include_usage":true},"max_tokens":128,"temperature":0.7})";

void BM_ParseChatRequest(benchmark::State& state) {
    simdjson::ondemand::parser parser;
    std::string body = kChat;
    for (auto _ : state) {
        auto result = switchyard::parse::parse_request(switchyard::parse::Endpoint::chat_completions, body, parser);
        benchmark::DoNotOptimize(result);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kChat.size()));
}
BENCHMARK(BM_ParseChatRequest);

// An embeddings request of pre-tokenized input: 2,000 token ids, every one a number the parse stage
// checks (it forwards nothing that is not JSON).
void BM_ParseTokenIdEmbeddingRequest(benchmark::State& state) {
    std::string body = R"({"model":"text-embedding-3-small","input":[[)";
    for (int i = 0; i < 2000; ++i) body += (i ? "," : "") + std::to_string(1000 + (i * 7919) % 90000);
    body += "]]}";
    const std::size_t size = body.size();
    simdjson::ondemand::parser parser;
    for (auto _ : state) {
        auto result = switchyard::parse::parse_request(switchyard::parse::Endpoint::embeddings, body, parser);
        benchmark::DoNotOptimize(result);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
}
BENCHMARK(BM_ParseTokenIdEmbeddingRequest);

void BM_RewriteModel(benchmark::State& state) {
    simdjson::ondemand::parser parser;
    std::string body = kChat;
    auto facts = std::get<switchyard::parse::RequestFacts>(
        switchyard::parse::parse_request(switchyard::parse::Endpoint::chat_completions, body, parser));
    switchyard::parse::ForwardBody rewritten;
    for (auto _ : state) {
        switchyard::parse::forward_body(rewritten, body, facts, "llama-4-maverick-q4", false);
        benchmark::DoNotOptimize(rewritten);
    }
}
BENCHMARK(BM_RewriteModel);

// What recording one answered request in the metrics costs the I/O thread (same series each
// time, as on a busy connection).
void BM_MetricsRecord(benchmark::State& state) {
    switchyard::metrics::Shard shard;
    switchyard::metrics::Observation observation;
    observation.model = "llama4:maverick";
    observation.deployment = "gpu-1";
    observation.tier = 1;
    observation.key = "research";
    observation.status = 200;
    observation.prompt_tokens = 20;
    observation.completion_tokens = 8;
    observation.cost = 0.0001;
    observation.duration_s = 0.0012;
    observation.ttft_s = 0.0004;
    for (auto _ : state) shard.record(observation);
}
BENCHMARK(BM_MetricsRecord);

// What taking an upstream's small non-streaming answer costs the forwarder: Beast's parser (with
// the per-connection arena) over the head, one pass over its fields, then the body into the relay
// buffer, as forward.cpp does it.
void BM_ParseUpstreamResponse(benchmark::State& state) {
    const std::string body =
        R"({"id":"chatcmpl-1","object":"chat.completion","created":1764000000,"model":"bench",)"
        R"("choices":[{"index":0,"message":{"role":"assistant","content":"alpha beta gamma delta"},)"
        R"("finish_reason":"length"}],"usage":{"prompt_tokens":9,"completion_tokens":8,"total_tokens":17}})";
    const std::string message = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body;
    switchyard::wire::HeadArena arena;
    boost::beast::flat_buffer buffer;
    std::array<char, 16 * 1024> relay{};
    std::optional<switchyard::wire::ResponseParser> parser;
    for (auto _ : state) {
        arena.reset();
        buffer.commit(boost::asio::buffer_copy(buffer.prepare(message.size()), boost::asio::buffer(message)));
        parser.emplace(std::piecewise_construct, std::make_tuple(),
                       std::make_tuple(switchyard::wire::ArenaAllocator<char>(arena)));
        parser->header_limit(64 * 1024);
        parser->body_limit(boost::none);
        if (auto ec = switchyard::wire::feed(buffer, *parser, switchyard::wire::ReadUntil::header)) {
            state.SkipWithError(("head: " + ec.message()).c_str());
            break;
        }
        std::size_t headers = 0;
        for (const auto& field : parser->get()) headers += field.value().size();
        parser->get().body().data = relay.data();
        parser->get().body().size = relay.size();
        boost::system::error_code ec;
        buffer.consume(parser->put(buffer.data(), ec));
        if (ec || !parser->is_done()) {
            state.SkipWithError("the body was not taken whole");
            break;
        }
        benchmark::DoNotOptimize(headers);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * message.size()));
}
BENCHMARK(BM_ParseUpstreamResponse);

}  // namespace

BENCHMARK_MAIN();
