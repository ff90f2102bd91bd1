// Every pair of dialects as the gateway uses them (caller A, upstream B): a tool-loop request read
// in A and written in B, answers and streams in B written in A, errors and refusals; each checked by
// reading the result back and comparing what it means, not its bytes.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <array>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "translate/dialect.hpp"
#include "translate/json.hpp"
#include "translate/stream.hpp"

namespace switchyard::translate {
namespace {

constexpr std::array<Dialect, kDialects> kAll{Dialect::chat, Dialect::responses, Dialect::messages};

std::string load(const std::string& path) {
    std::ifstream file(std::string(SWITCHYARD_SOURCE_DIR) + "/tests/data/translate/" + path, std::ios::binary);
    std::stringstream bytes;
    bytes << file.rdbuf();
    return bytes.str();
}

std::string text(Json literal) { return json::text_of(literal); }

// A JSON text minified, so that two writers' spacing compares equal; "<invalid>" when it is not JSON.
std::string canonical(std::string_view raw) {
    simdjson::dom::parser parser;
    simdjson::dom::element element;
    if (parser.parse(simdjson::padded_string(raw)).get(element) != simdjson::SUCCESS) return "<invalid>";
    return simdjson::minify(element);
}

std::string pair_name(Dialect a, Dialect b) { return std::string(to_string(a)) + " <- " + std::string(to_string(b)); }

// --- Requests -------------------------------------------------------------------------------------

// The same tool loop as each dialect's clients send it: a system prompt, the user's question, two
// parallel calls, their results, the user's next turn; two tools, one named as the choice.
constexpr std::string_view kChatLoop = R"({
  "model": "gpt-4.1",
  "messages": [
    {"role": "system", "content": "You are a travel assistant."},
    {"role": "user", "content": "Weather and time in Paris?"},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_W1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\": \"Paris\"}"}},
      {"id": "call_T2", "type": "function", "function": {"name": "time", "arguments": "{\"tz\":\"Europe/Paris\"}"}}
    ]},
    {"role": "tool", "tool_call_id": "call_W1", "content": "18C, \"cloudy\""},
    {"role": "tool", "tool_call_id": "call_T2", "content": [{"type": "text", "text": "14:02"}]},
    {"role": "user", "content": "Should I take an umbrella?"}
  ],
  "tools": [
    {"type": "function", "function": {"name": "weather", "description": "Weather now",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "time", "description": "Local time",
      "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}}
  ],
  "tool_choice": {"type": "function", "function": {"name": "weather"}},
  "max_tokens": 512,
  "temperature": 0.2,
  "stop": ["END"],
  "stream": false
})";

constexpr std::string_view kMessagesLoop = R"({
  "model": "claude-sonnet-4-5",
  "max_tokens": 512,
  "system": [{"type": "text", "text": "You are a travel assistant."}],
  "messages": [
    {"role": "user", "content": "Weather and time in Paris?"},
    {"role": "assistant", "content": [
      {"type": "tool_use", "id": "call_W1", "name": "weather", "input": {"city": "Paris"}},
      {"type": "tool_use", "id": "call_T2", "name": "time", "input": {"tz": "Europe/Paris"}}
    ]},
    {"role": "user", "content": [
      {"type": "tool_result", "tool_use_id": "call_W1", "content": "18C, \"cloudy\""},
      {"type": "tool_result", "tool_use_id": "call_T2", "content": [{"type": "text", "text": "14:02"}]},
      {"type": "text", "text": "Should I take an umbrella?"}
    ]}
  ],
  "tools": [
    {"name": "weather", "description": "Weather now",
     "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
    {"name": "time", "description": "Local time", "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}}}
  ],
  "tool_choice": {"type": "tool", "name": "weather"},
  "temperature": 0.2,
  "stop_sequences": ["END"]
})";

// Responses has no stop sequences.
constexpr std::string_view kResponsesLoop = R"({
  "model": "gpt-5",
  "instructions": "You are a travel assistant.",
  "input": [
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather and time in Paris?"}]},
    {"type": "function_call", "call_id": "call_W1", "name": "weather", "arguments": "{\"city\":\"Paris\"}"},
    {"type": "function_call", "call_id": "call_T2", "name": "time", "arguments": "{\"tz\":\"Europe/Paris\"}"},
    {"type": "function_call_output", "call_id": "call_W1", "output": "18C, \"cloudy\""},
    {"type": "function_call_output", "call_id": "call_T2", "output": "14:02"},
    {"role": "user", "content": "Should I take an umbrella?"}
  ],
  "tools": [
    {"type": "function", "name": "weather", "description": "Weather now",
     "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
    {"type": "function", "name": "time", "description": "Local time",
     "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}
  ],
  "tool_choice": {"type": "function", "name": "weather"},
  "max_output_tokens": 512,
  "temperature": 0.2,
  "store": false
})";

std::string_view loop_of(Dialect dialect) {
    switch (dialect) {
        case Dialect::chat: return kChatLoop;
        case Dialect::responses: return kResponsesLoop;
        case Dialect::messages: return kMessagesLoop;
    }
    return {};
}

std::string part_line(const Part& part) {
    switch (part.kind) {
        case PartKind::text: return "text " + text(part.text);
        case PartKind::tool_call: return "call " + text(part.id) + " " + text(part.name) + " " + canonical(text(part.arguments));
        case PartKind::tool_result: {
            std::string line = "result " + text(part.id) + (part.is_error ? " error" : "");
            for (const Part& inner : part.content) line += " " + part_line(inner);
            return line;
        }
        default: return "part " + std::to_string(static_cast<int>(part.kind));
    }
}

// What a request says, in lines. Consecutive messages of one role are one turn: dialects split a
// turn of tool results and text differently (chat's tool messages, a Responses item each).
std::vector<std::string> said(const Request& request) {
    std::vector<std::string> lines;
    for (const Part& part : request.system) lines.push_back("system " + text(part.text));
    std::optional<Role> role;
    for (const Message& message : request.messages) {
        if (role != message.role) lines.push_back(message.role == Role::user ? "-- user" : "-- assistant");
        role = message.role;
        for (const Part& part : message.parts) lines.push_back(part_line(part));
    }
    for (const Tool& tool : request.tools) {
        lines.push_back("tool " + text(tool.name) + " " + text(tool.description) + " " + canonical(tool.parameters));
    }
    lines.push_back("choice " + std::to_string(static_cast<int>(request.tool_choice.mode)) + " " +
                    text(request.tool_choice.name));
    lines.push_back("max_tokens " + (request.max_tokens ? std::to_string(*request.max_tokens) : "none"));
    lines.push_back("temperature " + (request.temperature.empty() ? "none" : std::to_string(std::stod(std::string(request.temperature)))));
    for (Json stop : request.stop) lines.push_back("stop " + text(stop));
    return lines;
}

const std::vector<std::string> kLoopSaid{
    "system You are a travel assistant.",
    "-- user",
    "text Weather and time in Paris?",
    "-- assistant",
    R"(call call_W1 weather {"city":"Paris"})",
    R"(call call_T2 time {"tz":"Europe/Paris"})",
    "-- user",
    R"(result call_W1 text 18C, "cloudy")",
    "result call_T2 text 14:02",
    "text Should I take an umbrella?",
    R"(tool weather Weather now {"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})",
    R"(tool time Local time {"type":"object","properties":{"tz":{"type":"string"}}})",
    "choice 4 weather",
    "max_tokens 512",
    "temperature 0.200000",
};

WriteOptions upstream_options() {
    WriteOptions options;
    options.model = "upstream-model";
    options.default_max_tokens = 4096;
    options.stream_usage = true;
    options.top_k = false;
    return options;
}

TEST(TranslatePairs, EachDialectsLoopSaysTheSame) {
    for (Dialect a : kAll) {
        Request request;
        ASSERT_FALSE(read_request(a, loop_of(a), request)) << to_string(a);
        std::vector<std::string> expected = kLoopSaid;
        if (a != Dialect::responses) expected.push_back("stop END");
        EXPECT_EQ(said(request), expected) << to_string(a);
    }
}

TEST(TranslatePairs, ARequestWrittenInBReadsBackTheSame) {
    for (Dialect a : kAll) {
        for (Dialect b : kAll) {
            SCOPED_TRACE(pair_name(a, b));
            Request request;
            ASSERT_FALSE(read_request(a, loop_of(a), request));
            std::string body;
            if (b == Dialect::responses && !request.stop.empty()) {
                // Responses has no stop sequences: dropping them would change the answer.
                const auto error = write_request(b, request, upstream_options(), body);
                ASSERT_TRUE(error);
                EXPECT_EQ(error->status, 400);
                EXPECT_EQ(error->param, std::optional<std::string>("stop"));
                request.stop.clear();
                body.clear();
            }
            const auto error = write_request(b, request, upstream_options(), body);
            ASSERT_FALSE(error) << error->message;

            simdjson::dom::parser parser;
            simdjson::dom::element root;
            ASSERT_EQ(parser.parse(simdjson::padded_string(body)).get(root), simdjson::SUCCESS) << body;
            std::string_view model;
            ASSERT_EQ(root["model"].get(model), simdjson::SUCCESS);
            EXPECT_EQ(model, "upstream-model");
            switch (b) {
                case Dialect::chat: EXPECT_TRUE(root["messages"].is_array()) << body; break;
                case Dialect::responses: EXPECT_TRUE(root["input"].is_array()) << body; break;
                case Dialect::messages: {
                    EXPECT_TRUE(root["messages"].is_array()) << body;
                    std::int64_t max_tokens = 0;
                    EXPECT_EQ(root["max_tokens"].get(max_tokens), simdjson::SUCCESS) << body;
                    EXPECT_EQ(max_tokens, 512);
                    break;
                }
            }

            Request back;
            ASSERT_FALSE(read_request(b, body, back)) << body;
            EXPECT_EQ(said(back), said(request)) << body;
        }
    }
}

TEST(TranslatePairs, RefusalsNameTheField) {
    {
        Request request;
        ASSERT_FALSE(read_request(Dialect::chat, R"({"model":"m","messages":[{"role":"user","content":"hi"}],"n":2})", request));
        std::string body;
        const auto error = write_request(Dialect::messages, request, upstream_options(), body);
        ASSERT_TRUE(error);
        EXPECT_EQ(error->status, 400);
        EXPECT_EQ(error->param, std::optional<std::string>("n"));
        EXPECT_NE(error->message.find("n"), std::string::npos);
    }
    for (Dialect b : {Dialect::chat, Dialect::messages}) {
        Request request;
        ASSERT_FALSE(read_request(Dialect::responses,
                                  R"({"model":"gpt-5","input":"news today?","tools":[{"type":"file_search"}]})", request));
        std::string body;
        const auto error = write_request(b, request, upstream_options(), body);
        ASSERT_TRUE(error) << to_string(b);
        EXPECT_EQ(error->status, 400);
        EXPECT_EQ(error->param, std::optional<std::string>("tools"));
    }
}

// A call, a result or a tool without what pairs it (its id, its name) is refused where it is read:
// written in another dialect it would have been an empty, invalid JSON value (found by fuzzing).
TEST(TranslatePairs, CallsResultsAndToolsWithoutTheirIdsOrNamesAreRefused) {
    struct Case {
        Dialect dialect;
        std::string_view body, param;
    };
    for (const Case& c : {
             Case{Dialect::chat,
                  R"({"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":null,)"
                  R"("tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]})",
                  "messages[1].tool_calls[0].id"},
             Case{Dialect::responses,
                  R"({"model":"m","input":[{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},)"
                  R"({"type":"function_call_output","output":"ok"}]})",
                  "input"},
             Case{Dialect::responses, R"({"model":"m","input":[{"type":"function_call","call_id":"c1","arguments":"{}"}]})", "input"},
             Case{Dialect::responses, R"({"model":"m","input":"hi","tools":[{"type":"function","function":{"name":"f"}}]})", "tools"},
             Case{Dialect::messages,
                  R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_result","content":"ok"}]}]})",
                  "messages"},
             Case{Dialect::messages,
                  R"({"model":"m","max_tokens":10,"messages":[{"role":"assistant","content":[{"type":"tool_use","name":"f","input":{}}]}]})",
                  "messages"},
             Case{Dialect::messages,
                  R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tools":[{"input_schema":{"type":"object"}}]})",
                  "tools"},
         }) {
        Request request;
        const auto error = read_request(c.dialect, c.body, request);
        ASSERT_TRUE(error) << c.body;
        EXPECT_EQ(error->status, 400);
        EXPECT_EQ(error->param, std::optional<std::string>(c.param)) << c.body;
    }
}

// --- Whole answers --------------------------------------------------------------------------------

struct Answers {
    std::string_view text, tool;
};

// "Take an umbrella" with a cached prompt, and a call, as each upstream answers.
constexpr Answers kChatAnswers{
    R"({"id":"chatcmpl-A1","object":"chat.completion","created":1741569952,"model":"gpt-4.1-2025-04-14",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":"Take an \"umbrella\" \u00e9t\u00e9.","refusal":null,"annotations":[]},)"
    R"("logprobs":null,"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":2019,"completion_tokens":10,"total_tokens":2029,"prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},)"
    R"("completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}},"service_tier":"default"})",
    R"({"id":"chatcmpl-A2","object":"chat.completion","created":1741569952,"model":"gpt-4.1-2025-04-14",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_W1","type":"function",)"
    R"("function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}],"refusal":null,"annotations":[]},)"
    R"("logprobs":null,"finish_reason":"tool_calls"}],)"
    R"("usage":{"prompt_tokens":2019,"completion_tokens":10,"total_tokens":2029,"prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},)"
    R"("completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}}})",
};

constexpr Answers kMessagesAnswers{
    R"({"id":"msg_01A","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",)"
    R"("content":[{"type":"text","text":"Take an \"umbrella\" \u00e9t\u00e9."}],"stop_reason":"end_turn","stop_sequence":null,)"
    R"("usage":{"input_tokens":99,"cache_creation_input_tokens":0,"cache_read_input_tokens":1920,"output_tokens":10,"service_tier":"standard"}})",
    R"({"id":"msg_01B","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",)"
    R"("content":[{"type":"tool_use","id":"call_W1","name":"weather","input":{"city":"Paris"}}],"stop_reason":"tool_use","stop_sequence":null,)"
    R"("usage":{"input_tokens":99,"cache_creation_input_tokens":0,"cache_read_input_tokens":1920,"output_tokens":10,"service_tier":"standard"}})",
};

constexpr Answers kResponsesAnswers{
    R"({"id":"resp_A1","object":"response","created_at":1754000000,"status":"completed","error":null,"incomplete_details":null,)"
    R"("model":"gpt-5-2025-08-07","output":[{"id":"msg_1","type":"message","status":"completed","role":"assistant",)"
    R"("content":[{"type":"output_text","annotations":[],"text":"Take an \"umbrella\" \u00e9t\u00e9."}]}],)"
    R"("usage":{"input_tokens":2019,"input_tokens_details":{"cached_tokens":1920},"output_tokens":10,)"
    R"("output_tokens_details":{"reasoning_tokens":0},"total_tokens":2029}})",
    R"({"id":"resp_A2","object":"response","created_at":1754000000,"status":"completed","error":null,"incomplete_details":null,)"
    R"("model":"gpt-5-2025-08-07","output":[{"id":"fc_1","type":"function_call","status":"completed","call_id":"call_W1",)"
    R"("name":"weather","arguments":"{\"city\":\"Paris\"}"}],)"
    R"("usage":{"input_tokens":2019,"input_tokens_details":{"cached_tokens":1920},"output_tokens":10,)"
    R"("output_tokens_details":{"reasoning_tokens":0},"total_tokens":2029}})",
};

const Answers& answers_of(Dialect dialect) {
    switch (dialect) {
        case Dialect::chat: return kChatAnswers;
        case Dialect::responses: return kResponsesAnswers;
        case Dialect::messages: return kMessagesAnswers;
    }
    return kChatAnswers;
}

std::vector<std::string> said(const Response& response) {
    std::vector<std::string> lines;
    for (const Part& part : response.content) lines.push_back(part_line(part));
    lines.push_back("stop " + std::string(stop_word(Dialect::messages, response.stop)));
    lines.push_back("usage " + std::to_string(response.usage.input) + " cached " + std::to_string(response.usage.cached) +
                    " out " + std::to_string(response.usage.output) + (response.usage.found ? "" : " (none)"));
    return lines;
}

// The stop in the caller's own words, where its body says it.
std::string stop_as_written(Dialect dialect, const std::string& body) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(simdjson::padded_string(body)).get(root) != simdjson::SUCCESS) return "<invalid>";
    std::string_view word;
    switch (dialect) {
        case Dialect::chat:
            if (root["choices"].at(0)["finish_reason"].get(word) != simdjson::SUCCESS) return "<none>";
            return std::string(word);
        case Dialect::messages:
            if (root["stop_reason"].get(word) != simdjson::SUCCESS) return "<none>";
            return std::string(word);
        case Dialect::responses: {
            if (root["status"].get(word) != simdjson::SUCCESS) return "<none>";
            std::string out(word);
            simdjson::dom::array output;
            if (root["output"].get(output) != simdjson::SUCCESS) return out + " <no output>";
            for (simdjson::dom::element item : output) {
                std::string_view type;
                if (item["type"].get(type) == simdjson::SUCCESS) out += " " + std::string(type);
            }
            return out;
        }
    }
    return {};
}

TEST(TranslatePairs, AnAnswerInBWrittenInAReadsBackTheSame) {
    const std::vector<std::string> text_said{R"(text Take an "umbrella" été.)", "stop end_turn",
                                             "usage 2019 cached 1920 out 10"};
    const std::vector<std::string> tool_said{R"(call call_W1 weather {"city":"Paris"})", "stop tool_use",
                                             "usage 2019 cached 1920 out 10"};
    for (Dialect a : kAll) {
        Request caller;
        ASSERT_FALSE(read_request(a, loop_of(a), caller));
        for (Dialect b : kAll) {
            SCOPED_TRACE(pair_name(a, b));
            const Answers& answers = answers_of(b);
            for (const auto& [body, expected, word] :
                 {std::tuple{answers.text, text_said, Stop::end_turn}, std::tuple{answers.tool, tool_said, Stop::tool_use}}) {
                Response response;
                ASSERT_TRUE(read_response(b, body, response));
                EXPECT_EQ(said(response), expected);
                AnswerOptions options;
                options.model = "asked-model";
                options.now = 1700000000;
                options.id_seed = "req-1";
                options.request = &caller;
                std::string written;
                write_response(a, response, options, written);
                Response back;
                ASSERT_TRUE(read_response(a, written, back)) << written;
                EXPECT_EQ(said(back), expected) << written;
                const std::string stop = stop_as_written(a, written);
                if (a == Dialect::responses) {
                    EXPECT_EQ(stop, word == Stop::tool_use ? "completed function_call" : "completed message");
                } else {
                    EXPECT_EQ(stop, stop_word(a, word));
                }
            }
        }
    }
}

// --- Streams --------------------------------------------------------------------------------------

// What a stream says: its text, reasoning and calls joined, its stop and usage.
struct StreamSaid final : EventSink {
    std::string content;  // text and reasoning, each block on its line
    std::vector<std::string> calls;
    std::string stop = "<none>";
    std::string errors;
    int done = 0;

    void on(const Event& e) override {
        switch (e.kind) {
            case Event::Kind::block_start:
                if (e.block == BlockKind::tool_call) {
                    calls.push_back(text(e.id) + " " + text(e.name) + " ");
                } else {
                    content += e.block == BlockKind::text ? "\n[text] " : "\n[reasoning] ";
                }
                break;
            case Event::Kind::delta:
                if (!calls.empty() && open_call) {
                    calls.back() += text(e.text);
                } else {
                    content += text(e.text);
                }
                break;
            case Event::Kind::finish: stop = stop_word(Dialect::messages, e.stop); break;
            case Event::Kind::error: errors += text(e.error.message); break;
            case Event::Kind::done: ++done; break;
            default: break;
        }
        if (e.kind == Event::Kind::block_start) open_call = e.block == BlockKind::tool_call;
        if (e.kind == Event::Kind::block_stop) open_call = false;
    }
    bool open_call = false;
};

std::vector<std::string> read_stream(Dialect dialect, std::string_view sse) {
    simdjson::ondemand::parser parser;
    auto reader = make_reader(dialect, parser);
    StreamSaid said;
    SseSplitter splitter;
    const auto on = [&](std::string_view name, std::string_view data) { reader->event(name, data, said); };
    splitter.feed(sse, on);
    splitter.finish(on);
    reader->end(said);
    std::vector<std::string> lines{said.content};
    for (auto& call : said.calls) {
        const auto space = call.find(' ', call.find(' ') + 1);
        lines.push_back(call.substr(0, space + 1) + canonical(call.substr(space + 1)));
    }
    const Usage& usage = reader->usage();
    lines.push_back("stop " + said.stop);
    lines.push_back("usage " + std::to_string(usage.input) + " cached " + std::to_string(usage.cached) + " out " +
                    std::to_string(usage.output) + (usage.found ? "" : " (none)"));
    lines.push_back("errors " + said.errors + " done " + std::to_string(said.done));
    return lines;
}

std::string translate(Dialect from, Dialect to, const std::vector<std::string_view>& reads) {
    simdjson::ondemand::parser parser;
    AnswerOptions options;
    options.model = "asked-model";
    options.now = 1700000000;
    options.id_seed = "req-1";
    options.stream_usage = true;
    StreamTranslator translator(from, to, parser, options);
    std::string out;
    for (auto read : reads) translator.feed(read, out);
    translator.end(out);
    return out;
}

constexpr std::string_view kChatTextStream =
    R"(data: {"id":"chatcmpl-T1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4.1","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-T1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4.1","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"Take an "},"logprobs":null,"finish_reason":null}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-T1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4.1","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"\"umbrella\" \u00e9t\u00e9."},"logprobs":null,"finish_reason":null}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-T1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4.1","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-T1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4.1","service_tier":"default","system_fingerprint":"fp_1","choices":[],"usage":{"prompt_tokens":2019,"completion_tokens":10,"total_tokens":2029,"prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}}})"
    "\n\n"
    "data: [DONE]\n\n";

constexpr std::string_view kChatToolStream =
    R"(data: {"id":"chatcmpl-C1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4.1","choices":[{"index":0,"delta":{"role":"assistant","content":"Checking.","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-C1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_W1","type":"function","function":{"name":"weather","arguments":""}}]},"logprobs":null,"finish_reason":null}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-C1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"logprobs":null,"finish_reason":null}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-C1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"logprobs":null,"finish_reason":null}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-C1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4.1","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-C1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4.1","choices":[],"usage":{"prompt_tokens":1200,"completion_tokens":30,"total_tokens":1230,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}}})"
    "\n\n"
    "data: [DONE]\n\n";

constexpr std::string_view kMessagesTextStream =
    "event: message_start\n"
    R"(data: {"type":"message_start","message":{"id":"msg_01T","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":99,"cache_creation_input_tokens":0,"cache_read_input_tokens":1920,"output_tokens":1,"service_tier":"standard"}}})"
    "\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n"
    "event: content_block_start\n"
    R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
    "\n\nevent: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Take an "}})"
    "\n\nevent: content_block_delta\n"
    R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\"umbrella\" \u00e9t\u00e9."}})"
    "\n\nevent: content_block_stop\n"
    R"(data: {"type":"content_block_stop","index":0})"
    "\n\nevent: message_delta\n"
    R"(data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":10}})"
    "\n\nevent: message_stop\n"
    R"(data: {"type":"message_stop"})"
    "\n\n";

constexpr std::string_view kResponsesTextStream =
    "event: response.created\n"
    R"(data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_T1","object":"response","created_at":1754000000,"status":"in_progress","error":null,"incomplete_details":null,"model":"gpt-5-2025-08-07","output":[],"usage":null}})"
    "\n\nevent: response.in_progress\n"
    R"(data: {"type":"response.in_progress","sequence_number":1,"response":{"id":"resp_T1","object":"response","created_at":1754000000,"status":"in_progress","model":"gpt-5-2025-08-07","output":[],"usage":null}})"
    "\n\nevent: response.output_item.added\n"
    R"(data: {"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"msg_1","type":"message","status":"in_progress","content":[],"role":"assistant"}})"
    "\n\nevent: response.content_part.added\n"
    R"(data: {"type":"response.content_part.added","sequence_number":3,"item_id":"msg_1","output_index":0,"content_index":0,"part":{"type":"output_text","annotations":[],"text":""}})"
    "\n\nevent: response.output_text.delta\n"
    R"(data: {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Take an "})"
    "\n\nevent: response.output_text.delta\n"
    R"(data: {"type":"response.output_text.delta","sequence_number":5,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"\"umbrella\" \u00e9t\u00e9."})"
    "\n\nevent: response.output_text.done\n"
    R"(data: {"type":"response.output_text.done","sequence_number":6,"item_id":"msg_1","output_index":0,"content_index":0,"text":"Take an \"umbrella\" \u00e9t\u00e9."})"
    "\n\nevent: response.content_part.done\n"
    R"(data: {"type":"response.content_part.done","sequence_number":7,"item_id":"msg_1","output_index":0,"content_index":0,"part":{"type":"output_text","annotations":[],"text":"Take an \"umbrella\" \u00e9t\u00e9."}})"
    "\n\nevent: response.output_item.done\n"
    R"(data: {"type":"response.output_item.done","sequence_number":8,"output_index":0,"item":{"id":"msg_1","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"text":"Take an \"umbrella\" \u00e9t\u00e9."}],"role":"assistant"}})"
    "\n\nevent: response.completed\n"
    R"(data: {"type":"response.completed","sequence_number":9,"response":{"id":"resp_T1","object":"response","created_at":1754000000,"status":"completed","error":null,"incomplete_details":null,"model":"gpt-5-2025-08-07","output":[{"id":"msg_1","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"text":"Take an \"umbrella\" \u00e9t\u00e9."}],"role":"assistant"}],"usage":{"input_tokens":2019,"input_tokens_details":{"cached_tokens":1920},"output_tokens":10,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":2029}}})"
    "\n\n";

struct Streams {
    std::string text, tool;
};

Streams streams_of(Dialect dialect) {
    switch (dialect) {
        case Dialect::chat: return {std::string(kChatTextStream), std::string(kChatToolStream)};
        case Dialect::responses: return {std::string(kResponsesTextStream), load("responses/openai_tool_call.sse")};
        case Dialect::messages: return {std::string(kMessagesTextStream), load("messages/stream_tool_use.sse")};
    }
    return {};
}

TEST(TranslatePairs, TheRecordedStreamsSayWhatTheyShould) {
    const std::vector<std::string> text_said{"\n[text] Take an \"umbrella\" \xC3\xA9t\xC3\xA9.", "stop end_turn",
                                             "usage 2019 cached 1920 out 10", "errors  done 1"};
    for (Dialect b : kAll) {
        SCOPED_TRACE(to_string(b));
        const Streams streams = streams_of(b);
        EXPECT_EQ(read_stream(b, streams.text), text_said);
        const auto tool = read_stream(b, streams.tool);
        ASSERT_EQ(tool.size(), 5u);
        EXPECT_NE(tool[1].find("weather {\""), std::string::npos) << tool[1];
        EXPECT_EQ(tool[2], "stop tool_use");
    }
}

TEST(TranslatePairs, AStreamInBTranslatedToAReadsTheSameHoweverItIsCut) {
    for (Dialect a : kAll) {
        for (Dialect b : kAll) {
            SCOPED_TRACE(pair_name(a, b));
            const Streams streams = streams_of(b);
            for (const std::string& stream : {streams.text, streams.tool}) {
                const std::string whole = translate(b, a, {stream});
                EXPECT_EQ(read_stream(a, whole), read_stream(b, stream)) << whole;
                // Every cut near a line's end (where the splitter's state changes: a CR, an LF, a
                // blank line) and every 13th byte elsewhere, to keep the ASan run short.
                for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
                    const std::string_view view(stream);
                    const std::size_t from = cut < 2 ? 0 : cut - 2;
                    if (cut % 13 != 0 && view.substr(from, 5).find_first_of("\r\n") == std::string_view::npos) continue;
                    ASSERT_EQ(translate(b, a, {view.substr(0, cut), view.substr(cut)}), whole) << "cut at " << cut;
                }
            }
        }
    }
}

// StreamTranslator's contract: what the options view must outlive it, the options themselves need
// not. The messages and responses writers kept a reference to them (a crash once they were gone).
TEST(TranslatePairs, AWriterOutlivesTheOptionsItWasMadeWith) {
    for (Dialect a : kAll) {
        SCOPED_TRACE(to_string(a));
        auto writer = [] (Dialect dialect) {
            AnswerOptions options;
            options.model = "asked-model";
            options.id_seed = "req-1";
            options.now = 1700000000;
            return make_writer(dialect, options);
        }(a);
        std::string out;
        Event event;
        event.kind = Event::Kind::start;
        writer->write(event, out);
        event.kind = Event::Kind::block_start;
        writer->write(event, out);
        event.kind = Event::Kind::delta;
        event.text = R"("Hi")";
        writer->write(event, out);
        event.kind = Event::Kind::block_stop;
        writer->write(event, out);
        event.kind = Event::Kind::finish;
        event.stop = Stop::end_turn;
        writer->write(event, out);
        event.kind = Event::Kind::done;
        writer->write(event, out);
        EXPECT_NE(out.find("asked-model"), std::string::npos) << out;
        EXPECT_EQ(read_stream(a, out)[0], "\n[text] Hi");
    }
}

// --- Errors ---------------------------------------------------------------------------------------

// Each upstream's error bodies as its API sends them.
std::string error_body(Dialect dialect, int status) {
    if (dialect == Dialect::messages) {
        return R"({"type":"error","error":{"type":")" + std::string(error_type(dialect, status)) +
               R"(","message":"upstream said \"no\""},"request_id":"req_011"})";
    }
    // OpenAI says invalid_request_error for a bad key and an unknown model too, the code telling which.
    std::string_view type = error_type(dialect, status);
    std::string_view code = "null";
    if (status == 401) type = "invalid_request_error", code = R"("invalid_api_key")";
    if (status == 404) type = "invalid_request_error", code = R"("model_not_found")";
    if (status == 429) code = R"("rate_limit_exceeded")";
    return R"({"error":{"message":"upstream said \"no\"","type":")" + std::string(type) + R"(","param":null,"code":)" +
           std::string(code) + "}}";
}

TEST(TranslatePairs, AnErrorInBIsWrittenInAsShape) {
    for (Dialect a : kAll) {
        for (Dialect b : kAll) {
            for (int status : {400, 401, 404, 429, 500, 529}) {
                SCOPED_TRACE(pair_name(a, b) + " " + std::to_string(status));
                const std::string body = error_body(b, status);
                Error error;
                ASSERT_TRUE(read_error(b, body, status, error));
                std::string out;
                write_error(a, error, out);
                simdjson::dom::parser parser;
                simdjson::dom::element root;
                ASSERT_EQ(parser.parse(simdjson::padded_string(out)).get(root), simdjson::SUCCESS) << out;
                std::string_view type, message;
                ASSERT_EQ(root["error"]["type"].get(type), simdjson::SUCCESS) << out;
                ASSERT_EQ(root["error"]["message"].get(message), simdjson::SUCCESS) << out;
                EXPECT_EQ(message, "upstream said \"no\"");
                if (a == Dialect::messages) {
                    std::string_view outer;
                    ASSERT_EQ(root["type"].get(outer), simdjson::SUCCESS) << out;
                    EXPECT_EQ(outer, "error");
                    EXPECT_EQ(type, anthropic_error_type(status)) << out;
                } else {
                    EXPECT_TRUE(root["error"]["param"].error() == simdjson::SUCCESS) << out;
                    EXPECT_TRUE(root["error"]["code"].error() == simdjson::SUCCESS) << out;
                    // The upstream's own OpenAI type stands; another dialect's becomes the status's.
                    if (b == Dialect::messages) {
                        EXPECT_EQ(type, openai_error_type(status)) << out;
                    } else {
                        simdjson::dom::parser source_parser;
                        std::string_view source_type;
                        ASSERT_EQ(source_parser.parse(simdjson::padded_string(body))["error"]["type"].get(source_type),
                                  simdjson::SUCCESS);
                        EXPECT_EQ(type, source_type) << out;
                    }
                }
            }
        }
    }
}

}  // namespace
}  // namespace switchyard::translate
