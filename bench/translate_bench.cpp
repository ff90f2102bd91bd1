// Translation benchmarks (Google Benchmark): the relay's cost per event of a stream translated
// between two dialects against passthrough of the same stream, the allocations a translated
// stream makes, and whole request bodies of a coding agent translated.
//
//   build/release/bench/translate_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//
// Streams. Two source streams a dialect: "text" (500 text deltas of a few words each) and "tool"
// (a sentence, then one tool call whose arguments come in 120 deltas), each with its start,
// finish and usage events. The chat streams are written here as OpenAI sends them; the messages
// and responses streams are those chat streams translated by the gateway's own writers (which
// write each API's grammar: message_start ... message_stop; response.created ...
// response.completed with the whole response). Each stream is cut into reads of 4 whole events,
// copied into a relay buffer one read at a time as the relay receives them, and:
//   - passthrough of chat: usage::StreamScanner over the buffer (what the gateway does);
//   - passthrough of messages/responses: StreamTranslator(from, nullopt), read only;
//   - translated: StreamTranslator(from, to), its output appended to a reused string (cleared
//     after each read, as if sent).
// One iteration is one whole stream, the translator or scanner made for it included. Counters:
// events (per iteration, of the source stream), events/s (rate), allocs/stream (operator new calls
// per iteration, the translator's own included), mid_allocs/event and tail_allocs (one translator
// after a warm-up: see steady_allocs below; the "no allocation per event" goal).
//
// Bodies. A coding agent's request, 20 turns (user text; assistant text + tool call; tool result)
// with 10 tools with JSON schemas and a long system prompt, as Claude Code (messages) and Codex
// (responses) send it, read and written as chat; and the chat form of it written as messages.
#include <benchmark/benchmark.h>

#include <simdjson.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "translate/dialect.hpp"
#include "translate/stream.hpp"
#include "usage/usage.hpp"

// --- Counting allocations -----------------------------------------------------------------------

namespace {
std::atomic<std::uint64_t> g_allocs{0};
}

void* operator new(std::size_t size) {
    g_allocs.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    g_allocs.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept { return operator new(size, tag); }
void* operator new(std::size_t size, std::align_val_t align) {
    g_allocs.fetch_add(1, std::memory_order_relaxed);
    const std::size_t a = static_cast<std::size_t>(align);
    if (void* p = std::aligned_alloc(a, (size + a - 1) / a * a)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size, std::align_val_t align) { return operator new(size, align); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace {

namespace tr = switchyard::translate;
using tr::Dialect;

// --- Source streams -----------------------------------------------------------------------------

// A JSON string's inside for `text` (quotes, backslashes, newlines escaped).
std::string escape(std::string_view text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            default: out += c;
        }
    }
    return out;
}

constexpr std::string_view kWords[] = {
    " the", " gateway", " relays", " each", " event", " as", " it", " comes,", " and", " a", " stream",
    " of", " tokens", " from", " the", " model", " reaches", " its", " caller", " quickly.", " When", " two",
    " dialects", " differ,", " every", " chunk", " is", " rewritten", " on", " the", " way."};

std::string chat_chunk(std::string_view delta, std::string_view finish = "null") {
    return R"(data: {"id":"chatcmpl-BxQ3kZr8mV1n2ab","object":"chat.completion.chunk","created":1764000000,)"
           R"("model":"gpt-4.1-2025-04-14","service_tier":"default","system_fingerprint":"fp_b3f1157249",)"
           R"("choices":[{"index":0,"delta":)" +
           std::string(delta) + R"(,"logprobs":null,"finish_reason":)" + std::string(finish) +
           R"(}],"usage":null})" + "\n\n";
}

std::string chat_tail(std::string_view finish, int completion) {
    std::string s = chat_chunk("{}", finish);
    s += R"(data: {"id":"chatcmpl-BxQ3kZr8mV1n2ab","object":"chat.completion.chunk","created":1764000000,)"
         R"("model":"gpt-4.1-2025-04-14","service_tier":"default","system_fingerprint":"fp_b3f1157249","choices":[],)"
         R"("usage":{"prompt_tokens":18342,"completion_tokens":)" +
         std::to_string(completion) +
         R"(,"total_tokens":)" + std::to_string(18342 + completion) +
         R"(,"prompt_tokens_details":{"cached_tokens":17920,"audio_tokens":0},)"
         R"("completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,)"
         R"("rejected_prediction_tokens":0}}})" "\n\n";
    s += "data: [DONE]\n\n";
    return s;
}

// 500 text deltas of two or three words.
std::string chat_text_stream() {
    std::string s = chat_chunk(R"({"role":"assistant","content":"","refusal":null})");
    for (int i = 0; i < 500; ++i) {
        std::string words;
        for (int w = 0; w < 2 + i % 2; ++w) words += kWords[(i * 3 + w) % std::size(kWords)];
        if (i % 50 == 49) words += "\n\n";
        s += chat_chunk(R"({"content":")" + escape(words) + R"("})");
    }
    s += chat_tail(R"("stop")", 1200);
    return s;
}

// A sentence, then a tool call with its arguments in 120 pieces of about 12 bytes.
std::string chat_tool_stream() {
    std::string s = chat_chunk(R"({"role":"assistant","content":"","refusal":null})");
    for (std::string_view piece : {"I'll update", " the handler", " and run", " the tests."})
        s += chat_chunk(R"({"content":")" + std::string(piece) + R"("})");
    s += chat_chunk(R"({"tool_calls":[{"index":0,"id":"call_Xq0pV9b2LkT4sM7wYc1dE8fA","type":"function",)"
                    R"("function":{"name":"Edit","arguments":""}}]})");
    std::string args = R"({"file_path":"/work/src/forward/forward.cpp","old_string":")";
    std::string body;
    while (body.size() < 1300) body += "    if (scanner) {\n        const std::size_t ready = scanner->feed(data, length);\n";
    args += escape(body) + R"(","new_string":"// moved\n","replace_all":false})";
    const std::size_t piece = (args.size() + 119) / 120;
    for (std::size_t at = 0; at < args.size(); at += piece) {
        std::size_t n = std::min(piece, args.size() - at);
        // never cut an escape sequence in two
        while (at + n < args.size() && args[at + n - 1] == '\\') ++n;
        s += chat_chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":")" + escape(args.substr(at, n)) +
                        R"("}}]})");
        at += n - piece;
    }
    s += chat_tail(R"("tool_calls")", 410);
    return s;
}

tr::AnswerOptions answer_options() {
    tr::AnswerOptions o;
    o.model = "gpt-4.1";
    o.now = 1764000000;
    o.id_seed = "req-7f3a9c2e";
    o.stream_usage = true;
    return o;
}

// `chat` written in `to`'s dialect by the gateway's stream writer.
std::string translated_stream(const std::string& chat, Dialect to) {
    simdjson::ondemand::parser parser;
    const tr::AnswerOptions options = answer_options();
    tr::StreamTranslator t(Dialect::chat, to, parser, options);
    std::string out;
    t.feed(chat, out);
    t.end(out);
    return out;
}

// Reads of `per_read` whole events each.
std::vector<std::string> cut(const std::string& stream, int per_read, std::size_t& events) {
    std::vector<std::string> reads;
    events = 0;
    std::size_t start = 0, at = 0;
    int in_read = 0;
    while (true) {
        const std::size_t end = stream.find("\n\n", at);
        if (end == std::string::npos) break;
        at = end + 2;
        ++events;
        if (++in_read == per_read) {
            reads.push_back(stream.substr(start, at - start));
            start = at;
            in_read = 0;
        }
    }
    if (start < stream.size()) reads.push_back(stream.substr(start));
    return reads;
}

struct Source {
    std::string bytes;
    std::vector<std::string> reads;
    std::size_t events = 0;
};

Source& source(Dialect d, bool tool) {
    static std::optional<Source> sources[3][2];
    auto& slot = sources[static_cast<int>(d)][tool ? 1 : 0];
    if (!slot) {
        const std::string chat = tool ? chat_tool_stream() : chat_text_stream();
        Source s;
        s.bytes = d == Dialect::chat ? chat : translated_stream(chat, d);
        s.reads = cut(s.bytes, 4, s.events);
        slot = std::move(s);
    }
    return *slot;
}

constexpr std::size_t kRelay = 64 * 1024;

// One stream through `t`; the relay buffer as the gateway fills it.
void run_translator(tr::StreamTranslator& t, const Source& s, char* relay, std::string& out, std::size_t first,
                    std::size_t last) {
    for (std::size_t r = first; r < last; ++r) {
        const std::string& read = s.reads[r];
        std::memcpy(relay, read.data(), read.size());
        t.feed(std::string_view(relay, read.size()), out);
        benchmark::DoNotOptimize(out.data());
        out.clear();
    }
}

// Allocations once the translator is warm: the first quarter of the reads warms it; `mid` counts
// per event over the middle half of the reads (content deltas only), `tail` is how many the last
// quarter and end() make (the finish, the usage, a writer's final events).
struct Steady {
    double mid = 0;
    double tail = 0;
};

std::size_t events_in(const Source& s, std::size_t first, std::size_t last) {
    std::size_t events = 0;
    for (std::size_t r = first; r < last; ++r) {
        std::size_t e = 0;
        cut(s.reads[r], 1 << 30, e);
        events += e;
    }
    return events;
}

Steady steady_allocs(Dialect from, std::optional<Dialect> to, const Source& s) {
    simdjson::ondemand::parser parser;
    const tr::AnswerOptions options = answer_options();
    std::vector<char> relay(kRelay);
    std::string out;
    out.reserve(64 * 1024);
    tr::StreamTranslator t(from, to, parser, options);
    const std::size_t warm = s.reads.size() / 4, mid_end = s.reads.size() * 3 / 4;
    const std::size_t events = events_in(s, warm, mid_end);
    run_translator(t, s, relay.data(), out, 0, warm);
    const std::uint64_t a = g_allocs.load();
    run_translator(t, s, relay.data(), out, warm, mid_end);
    const std::uint64_t b = g_allocs.load();
    run_translator(t, s, relay.data(), out, mid_end, s.reads.size());
    t.end(out);
    const std::uint64_t c = g_allocs.load();
    return {static_cast<double>(b - a) / static_cast<double>(events), static_cast<double>(c - b)};
}

void report(benchmark::State& state, const Source& s, std::uint64_t allocs, Steady steady) {
    state.counters["events"] = static_cast<double>(s.events);
    state.counters["events/s"] =
        benchmark::Counter(static_cast<double>(s.events), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["ns/event"] = benchmark::Counter(static_cast<double>(s.events) / 1e9,
                                                    benchmark::Counter::kIsIterationInvariantRate |
                                                        benchmark::Counter::kInvert);
    state.counters["allocs/stream"] = benchmark::Counter(static_cast<double>(allocs), benchmark::Counter::kAvgIterations);
    state.counters["mid_allocs/event"] = steady.mid;
    state.counters["tail_allocs"] = steady.tail;
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * s.bytes.size()));
}

// from -> to, or read only (to empty).
void BM_Stream(benchmark::State& state, Dialect from, std::optional<Dialect> to, bool tool) {
    const Source& s = source(from, tool);
    const Steady steady = steady_allocs(from, to, s);
    simdjson::ondemand::parser parser;
    const tr::AnswerOptions options = answer_options();
    std::vector<char> relay(kRelay);
    std::string out;
    out.reserve(64 * 1024);
    std::int64_t finished = 0;
    const std::uint64_t before = g_allocs.load();
    for (auto _ : state) {
        tr::StreamTranslator t(from, to, parser, options);
        run_translator(t, s, relay.data(), out, 0, s.reads.size());
        t.end(out);
        out.clear();
        finished += t.finished() ? 1 : 0;
        benchmark::DoNotOptimize(t.usage());
    }
    const std::uint64_t allocs = g_allocs.load() - before;
    if (finished != state.iterations()) {
        state.SkipWithError("a stream did not finish");
        return;
    }
    report(state, s, allocs, steady);
}

// Chat passthrough as the gateway relays it: usage::StreamScanner over the relay buffer.
void BM_ChatScanner(benchmark::State& state, bool tool) {
    const Source& s = source(Dialect::chat, tool);
    std::vector<char> relay(kRelay);
    auto one = [&](std::size_t first, std::size_t last, switchyard::usage::StreamScanner& scanner) {
        std::size_t carry = 0;
        for (std::size_t r = first; r < last; ++r) {
            const std::string& read = s.reads[r];
            std::memcpy(relay.data() + carry, read.data(), read.size());
            std::size_t length = carry + read.size();
            const std::size_t ready = scanner.feed(relay.data(), length);
            carry = length - ready;
            if (carry > 0) std::memmove(relay.data(), relay.data() + ready, carry);
        }
    };
    Steady steady;
    {
        switchyard::usage::StreamScanner scanner(false);
        const std::size_t warm = s.reads.size() / 4, mid_end = s.reads.size() * 3 / 4;
        const std::size_t events = events_in(s, warm, mid_end);
        one(0, warm, scanner);
        const std::uint64_t a = g_allocs.load();
        one(warm, mid_end, scanner);
        const std::uint64_t b = g_allocs.load();
        one(mid_end, s.reads.size(), scanner);
        const std::uint64_t c = g_allocs.load();
        steady = {static_cast<double>(b - a) / static_cast<double>(events), static_cast<double>(c - b)};
    }
    const std::uint64_t before = g_allocs.load();
    std::int64_t found = 0;
    for (auto _ : state) {
        switchyard::usage::StreamScanner scanner(false);
        one(0, s.reads.size(), scanner);
        found += scanner.usage().found ? 1 : 0;
        benchmark::DoNotOptimize(scanner.content_events());
    }
    const std::uint64_t allocs = g_allocs.load() - before;
    if (found != state.iterations()) {
        state.SkipWithError("the usage was not found");
        return;
    }
    report(state, s, allocs, steady);
}

// --- Whole bodies -------------------------------------------------------------------------------

std::string long_text(std::size_t bytes, int seed) {
    std::string s;
    for (int i = seed; s.size() < bytes; ++i) {
        s += kWords[i % std::size(kWords)];
        if (i % 17 == 16) s += "\n";
        if (i % 41 == 40) s += " \"quoted\"";
    }
    return escape(s);
}

constexpr std::string_view kToolNames[10] = {"Bash", "Read", "Edit", "Write", "Glob",
                                             "Grep", "WebFetch", "TodoWrite", "Task", "NotebookEdit"};

// A JSON schema of a tool's input: a few typed, described properties, one enum, one array.
std::string schema(int i) {
    std::string s = R"({"type":"object","properties":{)";
    for (int p = 0; p < 5; ++p) {
        if (p) s += ",";
        s += R"("param_)" + std::to_string(p) + R"(":{"type":")" + (p == 2 ? "integer" : "string") +
             R"(","description":")" + long_text(90, i * 7 + p) + "\"";
        if (p == 3) s += R"(,"enum":["fast","thorough","auto"])";
        s += "}";
    }
    s += R"(,"paths":{"type":"array","items":{"type":"string"},"description":"Files to consider."}},)"
         R"("required":["param_0","param_1"],"additionalProperties":false,"$schema":"http://json-schema.org/draft-07/schema#"})";
    return s;
}

std::string tool_args(int turn) {
    return escape(R"({"param_0":"src/module_)" + std::to_string(turn) + R"(.cpp","param_1":"replace the old call","param_2":)" +
                  std::to_string(turn * 10) + "}");
}

// Claude Code's request: system blocks with cache_control, tools with input_schema, thinking,
// turns of text + tool_use and tool_result blocks.
std::string messages_request() {
    std::string s = R"({"model":"claude-sonnet-4-5-20250929","max_tokens":32000,"messages":[)";
    for (int t = 0; t < 20; ++t) {
        const std::string id = "toolu_01T1x1fJ34qAmk2tNTrN" + std::to_string(100 + t);
        if (t) s += ",";
        if (t == 0) {
            s += R"({"role":"user","content":[{"type":"text","text":"<system-reminder>\n)" + long_text(1500, 3) +
                 R"(\n</system-reminder>"},{"type":"text","text":"Refactor the relay loop."}]},)";
        }
        s += R"({"role":"assistant","content":[{"type":"text","text":")" + long_text(200, t) +
             R"("},{"type":"tool_use","id":")" + id + R"(","name":")" + std::string(kToolNames[t % 10]) +
             R"(","input":)" + R"({"param_0":"src/module_)" + std::to_string(t) +
             R"(.cpp","param_1":"replace the old call","param_2":)" + std::to_string(t * 10) + "}}]},";
        s += R"({"role":"user","content":[{"type":"tool_result","tool_use_id":")" + id + R"(","content":")" +
             long_text(1200, t + 5) + "\"}";
        if (t == 19) s += R"(,{"type":"text","text":"Continue.","cache_control":{"type":"ephemeral"}})";
        s += "]}";
    }
    s += R"(],"system":[{"type":"text","text":"You are Claude Code, Anthropic's official CLI for Claude."},)"
         R"({"type":"text","text":")" + long_text(8000, 1) + R"(","cache_control":{"type":"ephemeral"}}],"tools":[)";
    for (int i = 0; i < 10; ++i) {
        if (i) s += ",";
        s += R"({"name":")" + std::string(kToolNames[i]) + R"(","description":")" + long_text(600, i) +
             R"(","input_schema":)" + schema(i) + "}";
    }
    s += R"(],"tool_choice":{"type":"auto"},"metadata":{"user_id":"user_2f8a_account__session_5b1c"},)"
         R"("temperature":1,"stream":true})";
    return s;
}

// Codex's request: instructions, input items (messages, function_call / _output, reasoning with
// encrypted_content), flat function tools, store false, include encrypted reasoning.
std::string responses_request() {
    std::string s = R"({"model":"gpt-5-codex","instructions":")" + long_text(8000, 1) +
                    R"(","input":[{"type":"message","role":"developer","content":[{"type":"input_text","text":"<permissions instructions>\n)" +
                    long_text(600, 2) + R"("}]},{"type":"message","role":"user","content":[{"type":"input_text","text":"<environment_context>\n)" +
                    long_text(900, 3) + R"(\n</environment_context>"}]})";
    for (int t = 0; t < 20; ++t) {
        const std::string id = "call_Xq0pV9b2LkT4sM7wYc1d" + std::to_string(100 + t);
        s += R"(,{"type":"message","role":"user","content":[{"type":"input_text","text":")" + long_text(120, t) + R"("}]})";
        s += R"(,{"type":"reasoning","id":"rs_68a1)" + std::to_string(t) +
             R"(","summary":[{"type":"summary_text","text":"**Planning the edit**"}],"content":null,"encrypted_content":"gAAAAABo)" +
             std::string(400, 'x') + R"(=="})";
        s += R"(,{"type":"message","role":"assistant","content":[{"type":"output_text","text":")" + long_text(200, t) + R"("}]})";
        s += R"(,{"type":"function_call","name":")" + std::string(kToolNames[t % 10]) + R"(","arguments":")" + tool_args(t) +
             R"(","call_id":")" + id + R"("})";
        s += R"(,{"type":"function_call_output","call_id":")" + id + R"(","output":")" + long_text(1200, t + 5) + R"("})";
    }
    s += R"(],"tools":[)";
    for (int i = 0; i < 10; ++i) {
        if (i) s += ",";
        s += R"({"type":"function","name":")" + std::string(kToolNames[i]) + R"(","description":")" + long_text(600, i) +
             R"(","strict":false,"parameters":)" + schema(i) + "}";
    }
    s += R"(],"tool_choice":"auto","parallel_tool_calls":false,"reasoning":{"effort":"medium","summary":"auto"},)"
         R"("store":false,"stream":true,"include":["reasoning.encrypted_content"],"prompt_cache_key":"019a2b3c-conv")"
         R"(,"text":{"verbosity":"medium"}})";
    return s;
}

void pad(std::string& s) { s.reserve(s.size() + simdjson::SIMDJSON_PADDING); }

void BM_Body(benchmark::State& state, Dialect from, Dialect to) {
    std::string body;
    if (from == Dialect::messages) {
        body = messages_request();
    } else if (from == Dialect::responses) {
        body = responses_request();
    } else {  // the Claude Code request in chat's words, as the chat writer gives it
        tr::Request request;
        std::string m = messages_request();
        pad(m);
        if (auto e = tr::read_request(Dialect::messages, m, request)) {
            state.SkipWithError(("read messages: " + e->message).c_str());
            return;
        }
        tr::WriteOptions o;
        o.model = "gpt-4.1";
        if (auto e = tr::write_request(Dialect::chat, request, o, body)) {
            state.SkipWithError(("write chat: " + e->message).c_str());
            return;
        }
    }
    pad(body);
    tr::WriteOptions options;
    options.model = to == Dialect::messages ? "claude-sonnet-4-5-20250929" : "gpt-4.1";
    std::string out;
    std::size_t out_size = 0;
    const std::uint64_t before = g_allocs.load();
    for (auto _ : state) {
        tr::Request request;
        if (auto e = tr::read_request(from, body, request)) {
            state.SkipWithError(("read: " + e->message).c_str());
            return;
        }
        out.clear();
        if (auto e = tr::write_request(to, request, options, out)) {
            state.SkipWithError(("write: " + e->message).c_str());
            return;
        }
        out_size = out.size();
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["body_bytes"] = static_cast<double>(body.size());
    state.counters["out_bytes"] = static_cast<double>(out_size);
    state.counters["allocs/request"] =
        benchmark::Counter(static_cast<double>(g_allocs.load() - before), benchmark::Counter::kAvgIterations);
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

std::string name(Dialect d) { return std::string(tr::to_string(d)); }

}  // namespace

int main(int argc, char** argv) {
    const Dialect all[] = {Dialect::chat, Dialect::messages, Dialect::responses};
    for (bool tool : {false, true}) {
        const std::string kind = tool ? "tool" : "text";
        benchmark::RegisterBenchmark(("stream/" + kind + "/chat/passthrough_scanner").c_str(),
                                     [tool](benchmark::State& s) { BM_ChatScanner(s, tool); });
        for (Dialect from : all) {
            benchmark::RegisterBenchmark(("stream/" + kind + "/" + name(from) + "/passthrough_readonly").c_str(),
                                         [from, tool](benchmark::State& s) { BM_Stream(s, from, std::nullopt, tool); });
            for (Dialect to : all) {
                if (to == from) continue;
                benchmark::RegisterBenchmark(("stream/" + kind + "/" + name(from) + "/to_" + name(to)).c_str(),
                                             [from, to, tool](benchmark::State& s) { BM_Stream(s, from, to, tool); });
            }
        }
    }
    benchmark::RegisterBenchmark("body/messages/to_chat", [](benchmark::State& s) { BM_Body(s, Dialect::messages, Dialect::chat); })
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark("body/responses/to_chat", [](benchmark::State& s) { BM_Body(s, Dialect::responses, Dialect::chat); })
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark("body/chat/to_messages", [](benchmark::State& s) { BM_Body(s, Dialect::chat, Dialect::messages); })
        ->Unit(benchmark::kMicrosecond);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
