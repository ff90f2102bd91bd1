// Micro-benchmarks of the hot-path pieces: request parsing, model rewrite, recording metrics.
#include <benchmark/benchmark.h>

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

}  // namespace

BENCHMARK_MAIN();
