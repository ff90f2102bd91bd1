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
#include "route/router.hpp"

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

// A long multi-turn chat (about 20 KiB: a 4 KiB system prompt, 16 turns): the parse stage's cost
// with the prompt's prefix blocks hashed as it reads (parse/prefix.hpp).
std::string long_chat() {
    std::string body = R"({"model":"llama4:maverick","stream":true,"max_tokens":128,"messages":[{"role":"system","content":")";
    for (int i = 0; i < 64; ++i) body += "You answer questions about the railway timetable in detail. ";
    body += R"("})";
    for (int t = 0; t < 16; ++t) {
        body += R"(,{"role":"user","content":"Which trains leave after nine in the evening, and where do they stop? )" +
                std::to_string(t) + R"("},{"role":"assistant","content":"The 21:05 to the harbour stops at every station; )"
                R"(the 21:40 express stops only at the junction and the airport, arriving at 22:31."})";
    }
    return body + "]}";
}

void BM_ParseLongChat(benchmark::State& state) {
    simdjson::ondemand::parser parser;
    const std::string chat = long_chat();
    std::string body = chat;
    for (auto _ : state) {
        auto result = switchyard::parse::parse_request(switchyard::parse::Endpoint::chat_completions, body, parser);
        benchmark::DoNotOptimize(result);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * chat.size()));
}
BENCHMARK(BM_ParseLongChat);

// The router's pick and release for one request over a tier of three deployments: least-outstanding
// (arg 0) against prefix-affinity (arg 1, the long chat's 15 blocks scored against each deployment's
// index of 1,000 sessions, then inserted).
class AllUsable : public switchyard::route::HealthView {
public:
    bool usable(std::size_t) const override { return true; }
};

void BM_RoutePick(benchmark::State& state) {
    const bool affinity = state.range(0) == 1;
    std::string yaml = R"(
upstreams:
  - {name: a, base_url: "http://127.0.0.1:1"}
  - {name: b, base_url: "http://127.0.0.1:2"}
  - {name: c, base_url: "http://127.0.0.1:3"}
models:
  - name: m
    strategy: )" + std::string(affinity ? "prefix-affinity" : "least-outstanding") + R"(
    deployments: [{upstream: a, max_concurrency: 8}, {upstream: b, max_concurrency: 8}, {upstream: c, max_concurrency: 8}]
)";
    auto loaded = switchyard::config::load_string(yaml, [](std::string_view) { return std::nullopt; });
    const auto& config = *loaded.gateway;
    AllUsable health;
    switchyard::route::Router router(config, health);
    const auto& model = config.models[0];
    simdjson::ondemand::parser parser;
    // 1,000 other sessions first, so the indexes are not empty.
    for (int i = 0; i < 1000; ++i) {
        std::string other = R"({"model":"m","messages":[{"role":"user","content":"session )" + std::to_string(i) + R"("}]})";
        auto facts = std::get<switchyard::parse::RequestFacts>(
            switchyard::parse::parse_request(switchyard::parse::Endpoint::chat_completions, other, parser));
        auto pick = router.pick(model, {}, 0, switchyard::route::Hints{&facts.prefix});
    }
    std::string body = long_chat();
    const auto facts = std::get<switchyard::parse::RequestFacts>(
        switchyard::parse::parse_request(switchyard::parse::Endpoint::chat_completions, body, parser));
    for (auto _ : state) {
        auto pick = router.pick(model, {}, 0, switchyard::route::Hints{&facts.prefix});
        benchmark::DoNotOptimize(pick);
    }
}
BENCHMARK(BM_RoutePick)->Arg(0)->Arg(1);

// A deployment's prefix index after 100,000 sessions of 4 blocks each: the memory it holds (counter
// "bytes") with the default bound (65,536 blocks, arg 0) and with room for all of them (arg 1).
void BM_PrefixIndex100kSessions(benchmark::State& state) {
    switchyard::route::PrefixBounds bounds;
    if (state.range(0) == 1) {
        bounds.entries = 400'000;
        bounds.bytes = std::size_t{1} << 30;
    }
    std::size_t memory = 0;
    std::size_t size = 0;
    for (auto _ : state) {
        switchyard::route::PrefixIndex index(bounds);
        const auto now = switchyard::SteadyTime{} + std::chrono::hours(1);
        std::array<std::uint64_t, 4> blocks{};
        const std::array<std::uint32_t, 4> ends{500, 1000, 1500, 2000};
        for (std::uint64_t session = 1; session <= 100'000; ++session) {
            for (std::uint64_t b = 0; b < 4; ++b) blocks[b] = switchyard::parse::mix64(session * 8 + b);
            index.insert(blocks, ends, now);
        }
        memory = index.memory();
        size = index.size();
    }
    state.counters["bytes"] = static_cast<double>(memory);
    state.counters["blocks"] = static_cast<double>(size);
}
BENCHMARK(BM_PrefixIndex100kSessions)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
