// Micro-benchmarks of the hot-path pieces: request parsing and model rewrite.
#include <benchmark/benchmark.h>

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

void BM_RewriteModel(benchmark::State& state) {
    simdjson::ondemand::parser parser;
    std::string body = kChat;
    auto facts = std::get<switchyard::parse::RequestFacts>(
        switchyard::parse::parse_request(switchyard::parse::Endpoint::chat_completions, body, parser));
    for (auto _ : state) {
        auto rewritten = switchyard::parse::rewrite_model(body, facts, "llama-4-maverick-q4");
        benchmark::DoNotOptimize(rewritten);
    }
}
BENCHMARK(BM_RewriteModel);

}  // namespace

BENCHMARK_MAIN();
