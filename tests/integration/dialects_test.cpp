// The three dialects over real sockets: callers of OpenAI Chat Completions, OpenAI Responses and
// Anthropic Messages, each against deployments reached through each dialect (one simulator plays
// the three APIs; an upstream's `dialects:` says which one the gateway sends it). Every pair, whole
// and streamed, with text, tool calls and tool results, errors before and after the head; usage in
// the ledger as the simulator reported it.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <set>
#include <thread>

#include "harness.hpp"
#include "ledger/store.hpp"

namespace switchyard::testing {
namespace {

namespace dom = simdjson::dom;

enum class Dialect { chat, responses, messages };
constexpr Dialect kDialects[] = {Dialect::chat, Dialect::responses, Dialect::messages};

std::string name_of(Dialect d) {
    switch (d) {
        case Dialect::chat: return "chat";
        case Dialect::responses: return "responses";
        case Dialect::messages: return "messages";
    }
    return "?";
}

std::string path_of(Dialect d) {
    switch (d) {
        case Dialect::chat: return "/v1/chat/completions";
        case Dialect::responses: return "/v1/responses";
        case Dialect::messages: return "/v1/messages";
    }
    return "";
}

// The model whose only deployment is reached through dialect `d`.
std::string model_via(Dialect d) { return "via-" + name_of(d); }

const std::map<std::string, std::string> kEnv{{"ALICE_KEY", "sk-alice-0000000001"}, {"CLAUDE_KEY", "sk-ant-sim-1"}};

std::string config(const Sim& sim, const std::string& ledger) {
    return R"(
listeners: [{address: 127.0.0.1, port: 0}]
server: {io_threads: 2, shutdown_grace: 5s}
keys:
  - name: alice
    key: ${ALICE_KEY}
ledger:
  url: )" + ledger + R"(
  flush_interval: 100ms
retries: {attempts: 1}
upstreams:
  - name: u-chat
    type: openai
    base_url: )" + sim.url() + R"(/v1
  - name: u-responses
    type: openai
    dialects: [responses]
    base_url: )" + sim.url() + R"(/v1
  - name: u-messages
    type: anthropic
    api_key: ${CLAUDE_KEY}
    default_max_tokens: 64
    base_url: )" + sim.url() + R"(/v1
models:
  - name: via-chat
    deployments: [{upstream: u-chat, model: sim-chat}]
  - name: via-claude
    deployments: [{upstream: u-messages, model: claude-haiku-4-5}]
  - name: via-responses
    deployments: [{upstream: u-responses, model: sim-responses}]
  - name: via-gpt
    deployments: [{upstream: u-responses, model: gpt-5.4}]
  - name: via-messages
    deployments: [{upstream: u-messages, model: sim-messages}]
)";
}

// The caller's credentials as each client sends them: Anthropic's SDKs an x-api-key.
std::map<std::string, std::string> auth_for(Dialect caller, std::map<std::string, std::string> more = {}) {
    if (caller == Dialect::messages) {
        more["x-api-key"] = "sk-alice-0000000001";
        more["anthropic-version"] = "2023-06-01";
    } else {
        more["authorization"] = "Bearer sk-alice-0000000001";
    }
    return more;
}

// A request in the caller's dialect: one user turn, optional extra fields.
std::string body_for(Dialect caller, const std::string& model, bool stream, const std::string& extra = "") {
    std::string body;
    switch (caller) {
        case Dialect::chat:
            body = R"({"model":")" + model + R"(","messages":[{"role":"user","content":"Say something about trains."}])";
            if (stream) body += R"(,"stream":true,"stream_options":{"include_usage":true})";
            break;
        case Dialect::responses:
            body = R"({"model":")" + model + R"(","input":"Say something about trains.","store":false)";
            if (stream) body += R"(,"stream":true)";
            break;
        case Dialect::messages:
            body = R"({"model":")" + model +
                   R"(","max_tokens":100,"messages":[{"role":"user","content":"Say something about trains."}])";
            if (stream) body += R"(,"stream":true)";
            break;
    }
    if (!extra.empty()) body += "," + extra;
    return body + "}";
}

struct SseEvent {
    std::string name;
    std::string data;
};

std::vector<SseEvent> events_of(const std::string& body) {
    std::vector<SseEvent> events;
    SseEvent current;
    std::size_t at = 0;
    while (at < body.size()) {
        std::size_t end = body.find('\n', at);
        if (end == std::string::npos) end = body.size();
        const std::string line = body.substr(at, end - at);
        at = end + 1;
        if (line.empty()) {
            if (!current.data.empty()) events.push_back(current);
            current = {};
        } else if (line.starts_with("event: ")) {
            current.name = line.substr(7);
        } else if (line.starts_with("data: ")) {
            current.data += line.substr(6);
        }
    }
    if (!current.data.empty()) events.push_back(current);
    return events;
}

// What an answer says, whatever its dialect: the text, the tool calls, the usage.
struct Answer {
    std::string text;
    std::vector<std::pair<std::string, std::string>> calls;  // name, arguments (JSON text)
    std::vector<std::string> call_ids;
    std::int64_t input = -1;
    std::int64_t output = -1;
    std::string stop;
};

std::string minified_object(dom::element value) {
    // An arguments string (OpenAI) or an input object (Anthropic): both as minified JSON text.
    std::string_view text;
    if (value.get_string().get(text) == simdjson::SUCCESS) {
        dom::parser parser;
        dom::element parsed;
        if (parser.parse(std::string(text)).get(parsed) != simdjson::SUCCESS) return "(invalid) " + std::string(text);
        return simdjson::minify(parsed);
    }
    return simdjson::minify(value);
}

// A whole answer in `d`'s shape, checked against that shape as it is read.
Answer read_whole(Dialect d, const std::string& body) {
    Answer answer;
    dom::parser parser;
    dom::element root;
    EXPECT_EQ(parser.parse(body).get(root), simdjson::SUCCESS) << body;
    if (d == Dialect::chat) {
        EXPECT_EQ(std::string_view(root["object"]), "chat.completion") << body;
        dom::element message = root["choices"].at(0)["message"];
        std::string_view content;
        if (message["content"].get_string().get(content) == simdjson::SUCCESS) answer.text = std::string(content);
        dom::array calls;
        if (message["tool_calls"].get_array().get(calls) == simdjson::SUCCESS) {
            for (dom::element call : calls) {
                answer.calls.emplace_back(std::string(std::string_view(call["function"]["name"])),
                                          minified_object(call["function"]["arguments"]));
                answer.call_ids.emplace_back(std::string_view(call["id"]));
            }
        }
        answer.stop = std::string(std::string_view(root["choices"].at(0)["finish_reason"]));
        answer.input = int64_t(root["usage"]["prompt_tokens"]);
        answer.output = int64_t(root["usage"]["completion_tokens"]);
    } else if (d == Dialect::responses) {
        EXPECT_EQ(std::string_view(root["object"]), "response") << body;
        answer.stop = std::string(std::string_view(root["status"]));
        for (dom::element item : dom::array(root["output"])) {
            const std::string_view type = item["type"];
            if (type == "message") {
                for (dom::element part : dom::array(item["content"])) {
                    if (std::string_view(part["type"]) == "output_text") answer.text += std::string_view(part["text"]);
                }
            } else if (type == "function_call") {
                answer.calls.emplace_back(std::string(std::string_view(item["name"])), minified_object(item["arguments"]));
                answer.call_ids.emplace_back(std::string_view(item["call_id"]));
            }
        }
        answer.input = int64_t(root["usage"]["input_tokens"]);
        answer.output = int64_t(root["usage"]["output_tokens"]);
    } else {
        EXPECT_EQ(std::string_view(root["type"]), "message") << body;
        EXPECT_EQ(std::string_view(root["role"]), "assistant") << body;
        answer.stop = std::string(std::string_view(root["stop_reason"]));
        for (dom::element block : dom::array(root["content"])) {
            const std::string_view type = block["type"];
            if (type == "text") answer.text += std::string_view(block["text"]);
            if (type == "tool_use") {
                answer.calls.emplace_back(std::string(std::string_view(block["name"])), minified_object(block["input"]));
                answer.call_ids.emplace_back(std::string_view(block["id"]));
            }
        }
        answer.input = int64_t(root["usage"]["input_tokens"]);
        answer.output = int64_t(root["usage"]["output_tokens"]);
    }
    return answer;
}

// A streamed answer in `d`'s event grammar, checked as it is read: a chat stream ends with
// [DONE]; a Responses stream numbers its events and ends with response.completed; an Anthropic
// stream opens with message_start, closes every block it opens and ends with message_stop.
// (`numbered`: Responses events carry sequence_number, as OpenAI's do; llama-server's own
// Responses stream, relayed unchanged, has none.)
Answer read_stream(Dialect d, const std::string& body, bool numbered = true) {
    Answer answer;
    const auto events = events_of(body);
    EXPECT_FALSE(events.empty()) << body;
    if (events.empty()) return answer;
    dom::parser parser;
    std::map<std::int64_t, std::pair<std::string, std::string>> calls;  // index -> name, arguments
    std::map<std::int64_t, std::string> ids;
    if (d == Dialect::chat) {
        EXPECT_EQ(events.back().data, "[DONE]") << body;
        for (const auto& event : events) {
            if (event.data == "[DONE]") continue;
            dom::element chunk;
            EXPECT_EQ(parser.parse(event.data).get(chunk), simdjson::SUCCESS) << event.data;
            dom::element usage;
            if (chunk["usage"].get(usage) == simdjson::SUCCESS && usage.is_object()) {
                answer.input = int64_t(usage["prompt_tokens"]);
                answer.output = int64_t(usage["completion_tokens"]);
            }
            dom::array choices = chunk["choices"];
            if (choices.size() == 0) continue;
            dom::element delta = choices.at(0)["delta"];
            std::string_view text;
            if (delta["content"].get_string().get(text) == simdjson::SUCCESS) answer.text += text;
            std::string_view finish;
            if (choices.at(0)["finish_reason"].get_string().get(finish) == simdjson::SUCCESS) answer.stop = finish;
            dom::array tool_calls;
            if (delta["tool_calls"].get_array().get(tool_calls) == simdjson::SUCCESS) {
                for (dom::element call : tool_calls) {
                    const std::int64_t index = call["index"];
                    std::string_view piece;
                    if (call["id"].get_string().get(piece) == simdjson::SUCCESS) ids[index] = piece;
                    if (call["function"]["name"].get_string().get(piece) == simdjson::SUCCESS) calls[index].first = piece;
                    if (call["function"]["arguments"].get_string().get(piece) == simdjson::SUCCESS) {
                        calls[index].second += piece;
                    }
                }
            }
        }
    } else if (d == Dialect::responses) {
        std::int64_t sequence = -1;
        for (const auto& event : events) {
            dom::element data;
            EXPECT_EQ(parser.parse(event.data).get(data), simdjson::SUCCESS) << event.data;
            const std::string_view type = data["type"];
            EXPECT_EQ(event.name, type) << "the event: line names the data's type";
            if (numbered) {
                const std::int64_t number = data["sequence_number"];
                EXPECT_EQ(number, sequence + 1) << event.data;
                sequence = number;
            }
            if (type == "response.output_text.delta") answer.text += std::string_view(data["delta"]);
            if (type == "response.output_item.done" && std::string_view(data["item"]["type"]) == "function_call") {
                const std::int64_t index = data["output_index"];
                calls[index] = {std::string(std::string_view(data["item"]["name"])),
                                std::string(std::string_view(data["item"]["arguments"]))};
                ids[index] = std::string_view(data["item"]["call_id"]);
            }
            if (type == "response.completed" || type == "response.incomplete") {
                answer.stop = std::string(std::string_view(data["response"]["status"]));
                answer.input = int64_t(data["response"]["usage"]["input_tokens"]);
                answer.output = int64_t(data["response"]["usage"]["output_tokens"]);
            }
        }
        EXPECT_EQ(events.front().name, "response.created");
        EXPECT_TRUE(events.back().name == "response.completed" || events.back().name == "response.incomplete")
            << events.back().name;
    } else {
        EXPECT_EQ(events.front().name, "message_start") << body;
        EXPECT_EQ(events.back().name, "message_stop") << body;
        std::set<std::int64_t> open;
        for (const auto& event : events) {
            dom::element data;
            EXPECT_EQ(parser.parse(event.data).get(data), simdjson::SUCCESS) << event.data;
            EXPECT_EQ(event.name, std::string_view(data["type"]));
            if (event.name == "message_start") {
                answer.input = int64_t(data["message"]["usage"]["input_tokens"]);
            } else if (event.name == "content_block_start") {
                const std::int64_t index = data["index"];
                EXPECT_TRUE(open.insert(index).second);
                if (std::string_view(data["content_block"]["type"]) == "tool_use") {
                    calls[index].first = std::string_view(data["content_block"]["name"]);
                    ids[index] = std::string_view(data["content_block"]["id"]);
                }
            } else if (event.name == "content_block_delta") {
                const std::int64_t index = data["index"];
                EXPECT_TRUE(open.count(index)) << "a delta of a block not open";
                const std::string_view type = data["delta"]["type"];
                if (type == "text_delta") answer.text += std::string_view(data["delta"]["text"]);
                if (type == "input_json_delta") calls[index].second += std::string_view(data["delta"]["partial_json"]);
            } else if (event.name == "content_block_stop") {
                EXPECT_EQ(open.erase(int64_t(data["index"])), 1u);
            } else if (event.name == "message_delta") {
                answer.stop = std::string(std::string_view(data["delta"]["stop_reason"]));
                answer.output = int64_t(data["usage"]["output_tokens"]);
                std::int64_t input = 0;
                if (data["usage"]["input_tokens"].get(input) == simdjson::SUCCESS && input > 0) answer.input = input;
            }
        }
        EXPECT_TRUE(open.empty()) << "blocks left open";
    }
    for (const auto& [index, call] : calls) {
        std::string arguments = call.second;
        dom::element parsed;
        if (!arguments.empty() && parser.parse(arguments).get(parsed) == simdjson::SUCCESS) {
            arguments = simdjson::minify(parsed);
        }
        answer.calls.emplace_back(call.first, arguments);
        answer.call_ids.push_back(ids[index]);
    }
    return answer;
}

std::vector<ledger::Row> read_ledger(const std::string& path) {
    auto store = ledger::open_store(path);
    std::vector<ledger::Row> rows;
    store->each_row(0, INT64_MAX, [&](const ledger::Row& row) { rows.push_back(row); });
    return rows;
}

class Dialects : public ::testing::Test {
protected:
    void SetUp() override {
        sim_ = start_sim({"--tokens", "12"});
        ledger_ = temp_dir() + "/dialects-" + std::to_string(++count_) + ".db";
        gateway_ = start_gateway(config(sim_, ledger_), kEnv);
    }
    void TearDown() override {
        if (gateway_.process) gateway_.process->stop(SIGTERM);
    }
    Response call(Dialect caller, const std::string& body, std::map<std::string, std::string> headers = {}) {
        return post(gateway_.port, path_of(caller), body, auth_for(caller, std::move(headers)));
    }
    StreamedResponse call_streaming(Dialect caller, const std::string& body,
                                    std::map<std::string, std::string> headers = {}) {
        return post_streaming(gateway_.port, path_of(caller), body, auth_for(caller, std::move(headers)));
    }
    // A Responses request kept by the gateway (store is not false): its answer's id and input tokens.
    struct Kept {
        std::string id;
        std::int64_t input = -1;
    };
    Kept kept_turn(const std::string& model, const std::string& input) {
        const Response answer = call(Dialect::responses, R"({"model":")" + model + R"(","input":")" + input + "\"}");
        EXPECT_EQ(answer.status, 200) << answer.body;
        dom::parser parser;
        dom::element root;
        if (answer.status != 200 || parser.parse(answer.body).get(root) != simdjson::SUCCESS) return {};
        return {std::string(std::string_view(root["id"])), int64_t(root["usage"]["input_tokens"])};
    }
    std::vector<ledger::Row> stop_and_read_ledger() {
        EXPECT_EQ(gateway_.process->stop(SIGTERM), 0);
        gateway_.process.reset();
        return read_ledger(ledger_);
    }

    Sim sim_;
    Gateway gateway_;
    std::string ledger_;
    static inline int count_ = 0;
};

TEST_F(Dialects, EveryPairAnswersWholeAndStreamedInTheCallersShape) {
    for (const Dialect caller : kDialects) {
        for (const Dialect upstream : kDialects) {
            SCOPED_TRACE(name_of(caller) + " caller, " + name_of(upstream) + " upstream");
            const Response whole = call(caller, body_for(caller, model_via(upstream), false));
            ASSERT_EQ(whole.status, 200) << whole.body;
            EXPECT_EQ(whole.header("x-switchyard-translated"),
                      caller == upstream ? "" : name_of(upstream) + "->" + name_of(caller));
            // Anthropic's SDKs read the request's id as request-id: Anthropic's own when it answered
            // (relayed), else the gateway's.
            if (caller == Dialect::messages) {
                EXPECT_EQ(whole.header("request-id").empty(), false);
                EXPECT_EQ(whole.header("request-id") == whole.header("x-request-id"), upstream != Dialect::messages);
            } else {
                EXPECT_EQ(whole.header("request-id"), "");
            }
            const Answer answer = read_whole(caller, whole.body);
            EXPECT_FALSE(answer.text.empty()) << whole.body;
            EXPECT_GT(answer.input, 0) << whole.body;
            EXPECT_EQ(answer.output, 12) << whole.body;

            const StreamedResponse streamed = call_streaming(caller, body_for(caller, model_via(upstream), true));
            ASSERT_EQ(streamed.status, 200) << streamed.body();
            EXPECT_EQ(streamed.headers.count("content-length"), 0u);
            const Answer parts = read_stream(caller, streamed.body());
            EXPECT_FALSE(parts.text.empty()) << streamed.body();
            EXPECT_EQ(parts.output, 12) << streamed.body();
            EXPECT_GT(parts.input, 0) << streamed.body();
        }
    }
    // Every request accounted for with the usage the simulator reported, none estimated.
    const auto rows = stop_and_read_ledger();
    ASSERT_EQ(rows.size(), 18u);
    for (const auto& row : rows) {
        SCOPED_TRACE(row.model + (row.stream ? " streamed" : " whole"));
        EXPECT_EQ(row.status, 200);
        EXPECT_FALSE(row.usage_estimated);
        EXPECT_EQ(row.completion_tokens, 12);
        EXPECT_GT(row.prompt_tokens, 0);
        EXPECT_EQ(row.key, "alice");
    }
}

// A tool offered in the caller's dialect, called by the model (the simulator is told which), and
// its result sent back: the call arrives in the caller's shape with its name and arguments, and
// the result reaches the model (the simulator answers with its text).
std::string tools_field(Dialect caller) {
    const std::string schema = R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})";
    switch (caller) {
        case Dialect::chat:
            return R"("tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now","parameters":)" +
                   schema + "}}]";
        case Dialect::responses:
            return R"("tools":[{"type":"function","name":"get_weather","description":"Weather now","parameters":)" + schema +
                   "}]";
        case Dialect::messages:
            return R"("tools":[{"name":"get_weather","description":"Weather now","input_schema":)" + schema + "}]";
    }
    return "";
}

// The conversation after the call: the user's turn, the assistant's call, the tool's result.
std::string follow_up(Dialect caller, const std::string& model, const std::string& call_id, bool stream) {
    const std::string user = "What is the weather in Paris?";
    std::string body;
    switch (caller) {
        case Dialect::chat:
            body = R"({"model":")" + model + R"(","messages":[{"role":"user","content":")" + user +
                   R"("},{"role":"assistant","content":null,"tool_calls":[{"id":")" + call_id +
                   R"(","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},)" +
                   R"({"role":"tool","tool_call_id":")" + call_id + R"(","content":"sunny-and-21C"}])";
            break;
        case Dialect::responses:
            body = R"({"model":")" + model + R"(","store":false,"input":[{"role":"user","content":")" + user +
                   R"("},{"type":"function_call","call_id":")" + call_id +
                   R"(","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},)" +
                   R"({"type":"function_call_output","call_id":")" + call_id + R"(","output":"sunny-and-21C"}])";
            break;
        case Dialect::messages:
            body = R"({"model":")" + model + R"(","max_tokens":100,"messages":[{"role":"user","content":")" + user +
                   R"("},{"role":"assistant","content":[{"type":"tool_use","id":")" + call_id +
                   R"(","name":"get_weather","input":{"city":"Paris"}}]},)" +
                   R"({"role":"user","content":[{"type":"tool_result","tool_use_id":")" + call_id +
                   R"(","content":"sunny-and-21C"}]}])";
            break;
    }
    body += "," + tools_field(caller);
    if (stream) body += R"(,"stream":true)";
    return body + "}";
}

TEST_F(Dialects, ToolCallsAndResultsCrossEveryPair) {
    const std::map<std::string, std::string> script{{"x-sim-tool-call", "get_weather"},
                                                    {"x-sim-tool-arguments", R"({"city":"Paris"})"}};
    for (const Dialect caller : kDialects) {
        for (const Dialect upstream : kDialects) {
            for (const bool stream : {false, true}) {
                SCOPED_TRACE(name_of(caller) + " caller, " + name_of(upstream) + " upstream" +
                             (stream ? ", streamed" : ""));
                const std::string model = model_via(upstream);
                std::string ask = body_for(caller, model, stream, tools_field(caller));
                Answer answer;
                if (stream) {
                    const StreamedResponse response = call_streaming(caller, ask, script);
                    ASSERT_EQ(response.status, 200) << response.body();
                    answer = read_stream(caller, response.body());
                } else {
                    const Response response = call(caller, ask, script);
                    ASSERT_EQ(response.status, 200) << response.body;
                    answer = read_whole(caller, response.body);
                }
                ASSERT_EQ(answer.calls.size(), 1u);
                EXPECT_EQ(answer.calls[0].first, "get_weather");
                EXPECT_EQ(answer.calls[0].second, R"({"city":"Paris"})");
                EXPECT_FALSE(answer.call_ids[0].empty());
                EXPECT_EQ(answer.stop, caller == Dialect::chat       ? "tool_calls"
                                       : caller == Dialect::messages ? "tool_use"
                                                                     : "completed");

                const std::string back = follow_up(caller, model, answer.call_ids[0], stream);
                const std::string text = stream ? read_stream(caller, call_streaming(caller, back).body()).text
                                                : read_whole(caller, call(caller, back).body).text;
                EXPECT_NE(text.find("sunny-and-21C"), std::string::npos) << text;
            }
        }
    }
}

// The gateway's own refusals and an upstream's errors come in the caller's shape.
TEST_F(Dialects, ErrorsComeInTheCallersShape) {
    const auto error_type = [](const std::string& body, Dialect caller) {
        dom::parser parser;
        dom::element root;
        EXPECT_EQ(parser.parse(body).get(root), simdjson::SUCCESS) << body;
        if (caller == Dialect::messages) {
            EXPECT_EQ(std::string_view(root["type"]), "error") << body;
        }
        std::string_view type;
        EXPECT_EQ(root["error"]["type"].get_string().get(type), simdjson::SUCCESS) << body;
        return std::string(type);
    };
    // Before any upstream: an unknown model, a missing key.
    const Response unknown = call(Dialect::messages, body_for(Dialect::messages, "nope", false));
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(error_type(unknown.body, Dialect::messages), "not_found_error");
    const Response no_key = post(gateway_.port, "/v1/messages", body_for(Dialect::messages, "via-chat", false),
                                 {{"anthropic-version", "2023-06-01"}});
    EXPECT_EQ(no_key.status, 401);
    EXPECT_EQ(error_type(no_key.body, Dialect::messages), "authentication_error");
    const Response responses_unknown = call(Dialect::responses, body_for(Dialect::responses, "nope", false));
    EXPECT_EQ(responses_unknown.status, 404);
    EXPECT_EQ(error_type(responses_unknown.body, Dialect::responses), "invalid_request_error");

    // A field the upstream's dialect cannot express, which would change the answer: a 400 that
    // names it, never silently dropped.
    const Response many = call(Dialect::chat, body_for(Dialect::chat, "via-messages", false, R"("n":2)"));
    EXPECT_EQ(many.status, 400) << many.body;
    EXPECT_NE(many.body.find("\"n\""), std::string::npos) << many.body;

    // An upstream's 429, in every pair: the caller's shape and type, the status kept (last: a 429 puts the
    // deployment in its cooldown).
    for (const Dialect caller : kDialects) {
        for (const Dialect upstream : kDialects) {
            SCOPED_TRACE(name_of(caller) + " caller, " + name_of(upstream) + " upstream");
            const Response limited =
                call(caller, body_for(caller, model_via(upstream), false), {{"x-sim-fault", "429"}});
            EXPECT_EQ(limited.status, 429) << limited.body;
            // (OpenAI's own 429s say "requests" or "tokens"; the gateway's table says rate_limit_error.)
            const std::string type = error_type(limited.body, caller);
            if (caller == Dialect::messages) {
                EXPECT_EQ(type, "rate_limit_error") << limited.body;
            } else {
                EXPECT_TRUE(type == "requests" || type == "rate_limit_error") << limited.body;
            }
        }
    }

}

// A stream that the upstream cuts after it began ends with the caller's dialect's error event.
TEST_F(Dialects, ACutStreamEndsWithTheCallersErrorEvent) {
    for (const Dialect caller : kDialects) {
        for (const Dialect upstream : kDialects) {
            SCOPED_TRACE(name_of(caller) + " caller, " + name_of(upstream) + " upstream");
            const StreamedResponse response =
                call_streaming(caller, body_for(caller, model_via(upstream), true), {{"x-sim-fault", "drop:3"}});
            ASSERT_EQ(response.status, 200);
            const auto events = events_of(response.body());
            ASSERT_FALSE(events.empty());
            const SseEvent& last = events.back();
            if (caller == Dialect::messages) {
                EXPECT_EQ(last.name, "error") << response.body();
            } else if (caller == Dialect::responses) {
                EXPECT_EQ(last.name, "response.failed") << response.body();
            } else {
                // An error event, then (from the chat writer) [DONE].
                const SseEvent& error = last.data == "[DONE]" && events.size() > 1 ? events[events.size() - 2] : last;
                EXPECT_NE(error.data.find("\"error\""), std::string::npos) << response.body();
            }
        }
    }
}

// An upstream silent before its first token (a long prompt): the caller gets its dialect's
// keep-alive events meanwhile (Anthropic's ping, an SSE comment for OpenAI's APIs), between whole
// events, and the stream is otherwise the same.
TEST_F(Dialects, ASilentUpstreamGetsKeepAliveEventsInTheCallersDialect) {
    std::string text = config(sim_, ledger_);
    const std::string server = "server: {io_threads: 2, shutdown_grace: 5s}";
    ASSERT_NE(text.find(server), std::string::npos);
    text.replace(text.find(server), server.size(), "server: {io_threads: 2, shutdown_grace: 5s, stream_keepalive: 150ms}");
    gateway_.process->stop(SIGTERM);
    gateway_ = start_gateway(text, kEnv);
    for (const Dialect caller : kDialects) {
        for (const Dialect upstream : kDialects) {
            SCOPED_TRACE(name_of(caller) + " caller, " + name_of(upstream) + " upstream");
            const StreamedResponse streamed =
                call_streaming(caller, body_for(caller, model_via(upstream), true), {{"x-sim-ttft-ms", "800"}});
            ASSERT_EQ(streamed.status, 200) << streamed.body();
            const std::string body = streamed.body();
            std::size_t keepalives = 0;
            if (caller == Dialect::messages) {
                for (const auto& event : events_of(body)) keepalives += event.name == "ping" ? 1 : 0;
                if (upstream == Dialect::messages) --keepalives;  // the simulator's own, with its head
            } else {
                for (std::size_t at = 0; (at = body.find("\n: keep-alive\n\n", at)) != std::string::npos; ++at) {
                    ++keepalives;
                }
            }
            EXPECT_GE(keepalives, 2u) << body;
            EXPECT_LE(keepalives, 8u) << body;
            const Answer parts = read_stream(caller, body);
            EXPECT_FALSE(parts.text.empty()) << body;
            EXPECT_EQ(parts.output, 12) << body;
        }
    }
}

// A caller that hangs up mid-stream: the upstream request is closed at once in every pair, and the
// ledger has a 499 with the tokens the caller got, estimated from the stream's deltas.
TEST_F(Dialects, ACallerThatHangsUpMidStreamClosesTheUpstreamAndIsAccountedFor) {
    int requests = 0;
    for (const Dialect caller : kDialects) {
        for (const Dialect upstream : kDialects) {
            SCOPED_TRACE(name_of(caller) + " caller, " + name_of(upstream) + " upstream");
            const std::string body = body_for(caller, model_via(upstream), true);
            std::string raw = "POST " + path_of(caller) + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              "x-sim-tokens: 50\r\nx-sim-itl-ms: 100\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n";
            for (const auto& [name, value] : auth_for(caller)) raw += name + ": " + value + "\r\n";
            raw += "\r\n" + body;
            raw_exchange(gateway_.port, raw, std::chrono::milliseconds(450));  // about four tokens
            ++requests;
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
            while (stat_number(sim_stats(sim_), "cancelled") < requests && std::chrono::steady_clock::now() < deadline) {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
            ASSERT_EQ(stat_number(sim_stats(sim_), "cancelled"), requests);
        }
    }
    const long sent = stat_number(sim_stats(sim_), "completion_tokens_total");
    const auto rows = stop_and_read_ledger();
    ASSERT_EQ(rows.size(), static_cast<std::size_t>(requests));
    long recorded = 0;
    for (const auto& row : rows) {
        SCOPED_TRACE(row.model);
        EXPECT_EQ(row.status, 499);
        EXPECT_TRUE(row.stream);
        EXPECT_TRUE(row.usage_estimated);
        EXPECT_GE(row.completion_tokens, 2);
        EXPECT_GT(row.prompt_tokens, 0);
        recorded += row.completion_tokens;
    }
    // What the gateway had read when it closed each upstream: an engine may have sent one more
    // token into the closing connection.
    EXPECT_LE(recorded, sent);
    EXPECT_GE(recorded, sent - requests);
}

// A caller that stops reading once it has the whole answer (Codex closes at response.completed)
// while the upstream has not yet ended its stream (x-sim-linger-ms: its last event now, its end
// 1.5 s later) was answered: 200 in the ledger, with the upstream's usage, not a 499.
TEST_F(Dialects, ACallerThatLeavesAfterTheWholeAnswerWasAnswered) {
    int requests = 0;
    for (const Dialect caller : {Dialect::responses, Dialect::messages}) {
        for (const Dialect upstream : kDialects) {
            SCOPED_TRACE(name_of(caller) + " caller, " + name_of(upstream) + " upstream");
            const std::string body = body_for(caller, model_via(upstream), true);
            std::string raw = "POST " + path_of(caller) + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              "x-sim-linger-ms: 1500\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
            for (const auto& [name, value] : auth_for(caller)) raw += name + ": " + value + "\r\n";
            raw += "\r\n" + body;
            const std::string got = raw_exchange(gateway_.port, raw, std::chrono::milliseconds(600));
            EXPECT_NE(got.find(caller == Dialect::responses ? "event: response.completed" : "event: message_stop"),
                      std::string::npos)
                << got;
            ++requests;
        }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the gateway notices the callers gone
    const auto rows = stop_and_read_ledger();
    ASSERT_EQ(rows.size(), static_cast<std::size_t>(requests));
    for (const auto& row : rows) {
        SCOPED_TRACE(row.model + " " + row.upstream);
        EXPECT_EQ(row.status, 200) << row.error;
        EXPECT_FALSE(row.usage_estimated);
        EXPECT_GT(row.completion_tokens, 0);
    }
}

TEST_F(Dialects, ModelsAnswerAnthropicClientsInTheirShape) {
    const Response openai = get(gateway_.port, "/v1/models", auth_for(Dialect::chat));
    ASSERT_EQ(openai.status, 200);
    EXPECT_NE(openai.body.find(R"("object":"list")"), std::string::npos) << openai.body;
    const Response anthropic = get(gateway_.port, "/v1/models", auth_for(Dialect::messages));
    ASSERT_EQ(anthropic.status, 200);
    dom::parser parser;
    dom::element root;
    ASSERT_EQ(parser.parse(anthropic.body).get(root), simdjson::SUCCESS);
    EXPECT_EQ(dom::array(root["data"]).size(), 5u);
    EXPECT_EQ(std::string_view(root["data"].at(0)["type"]), "model");
    EXPECT_EQ(std::string_view(root["first_id"]), "via-chat");
    EXPECT_EQ(std::string_view(root["last_id"]), "via-messages");
    EXPECT_FALSE(bool(root["has_more"]));
    std::string_view created;
    EXPECT_EQ(root["data"].at(0)["created_at"].get_string().get(created), simdjson::SUCCESS);
}

// What Claude Code sends when it reads a PDF and a picture — a document block, and an image inside a
// tool_result — reaches a chat-only upstream as chat's file part and, since a chat tool message
// takes text only (the simulator refuses an image there, as OpenAI does), as an image in the user
// message after the tool messages; toward Responses as input_file and the function_call_output's
// own image. Whole and streamed; the simulator's copy of the forwarded body shows the parts.
TEST_F(Dialects, DocumentsAndPicturesFromAToolReachEveryUpstreamInItsOwnParts) {
    const std::string messages =
        R"({"model":"MODEL","max_tokens":100,"messages":[
          {"role":"user","content":[
            {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0xLjQK"},"title":"spec.pdf"},
            {"type":"text","text":"Read the spec, then look at the screenshot."}]},
          {"role":"assistant","content":[{"type":"tool_use","id":"toolu_01","name":"Read","input":{"file_path":"/tmp/shot.png"}}]},
          {"role":"user","content":[
            {"type":"tool_result","tool_use_id":"toolu_01","content":[
              {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]},
            {"type":"text","text":"What do you see?"}]}],
        "tools":[{"name":"Read","description":"Reads a file","input_schema":{"type":"object","properties":{"file_path":{"type":"string"}}}}])";
    const auto forwarded = [&] {
        dom::parser parser;
        dom::element root;
        const std::string stats = sim_stats(sim_);
        EXPECT_EQ(parser.parse(stats).get(root), simdjson::SUCCESS);
        return std::string(std::string_view(root["last_body"]));
    };
    for (const Dialect upstream : {Dialect::chat, Dialect::responses}) {
        for (const bool stream : {false, true}) {
            SCOPED_TRACE(name_of(upstream) + (stream ? " upstream, streamed" : " upstream"));
            std::string body = messages;
            body.replace(body.find("MODEL"), 5, model_via(upstream));
            if (stream) body += R"(,"stream":true)";
            body += "}";
            std::string answer;
            int status = 0;
            if (stream) {
                const StreamedResponse response = call_streaming(Dialect::messages, body);
                status = response.status;
                answer = response.body();
            } else {
                const Response response = call(Dialect::messages, body);
                status = response.status;
                answer = response.body;
            }
            ASSERT_EQ(status, 200) << answer;
            EXPECT_FALSE((stream ? read_stream(Dialect::messages, answer) : read_whole(Dialect::messages, answer)).text.empty()) << answer;
            const std::string sent = forwarded();
            if (upstream == Dialect::chat) {
                EXPECT_NE(sent.find(R"({"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0xLjQK","filename":"spec.pdf"}})"),
                          std::string::npos)
                    << sent;
                EXPECT_NE(sent.find(R"({"role":"tool","tool_call_id":"toolu_01","content":)"), std::string::npos) << sent;
                EXPECT_NE(sent.find(R"({"role":"user","content":[{"type":"text","text":"The tool call toolu_01 returned:"},)"
                                    R"({"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},)"
                                    R"({"type":"text","text":"What do you see?"}]})"),
                          std::string::npos)
                    << sent;
            } else {
                EXPECT_NE(sent.find(R"({"type":"input_file","file_data":"data:application/pdf;base64,JVBERi0xLjQK","filename":"spec.pdf"})"),
                          std::string::npos)
                    << sent;
                EXPECT_NE(sent.find(R"("type":"function_call_output","call_id":"toolu_01")"), std::string::npos) << sent;
                EXPECT_NE(sent.find(R"("image_url":"data:image/png;base64,iVBORw0KGgo=")"), std::string::npos) << sent;
            }
        }
    }
    // The simulator refuses what chat has no part for, as OpenAI does, in the caller's shape.
    const Response refused = call(
        Dialect::chat,
        R"({"model":"via-chat","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":null,"tool_calls":[)"
        R"({"id":"c1","type":"function","function":{"name":"Read","arguments":"{}"}}]},)"
        R"({"role":"tool","tool_call_id":"c1","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]})");
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_NE(refused.body.find(R"("param":"messages[2].content[0].type")"), std::string::npos) << refused.body;
}

// A Responses caller's web_search tool (or a chat caller's web_search_options) runs as Anthropic's
// web search (the simulator searches when the request offers its server tool and x-sim-web-search
// says what for): the caller gets the web_search_call and the cited text (a chat caller, the text
// and its annotations), whole and streamed, and the ledger prices the search
// (claude-haiku-4-5: $1 and $5 a million tokens, $10 a thousand searches) beside the tokens, as it
// does for a Messages caller whose request goes through untranslated.
TEST_F(Dialects, AWebSearchRunsAtAnthropicAndIsPricedInTheLedger) {
    const std::map<std::string, std::string> search{{"x-sim-web-search", "rail news"}};
    const std::string tools = R"("tools":[{"type":"web_search"}])";
    const Response whole = call(Dialect::responses, R"({"model":"via-claude","input":"What is new in rail?",)" + tools + "}", search);
    ASSERT_EQ(whole.status, 200) << whole.body;
    EXPECT_NE(whole.body.find(R"("type":"web_search_call","status":"completed","action":{"type":"search","query":"rail news",)"),
              std::string::npos)
        << whole.body;
    EXPECT_NE(whole.body.find(R"("annotations":[{"type":"url_citation","start_index":25,)"), std::string::npos) << whole.body;
    const StreamedResponse streamed = call_streaming(
        Dialect::responses, R"({"model":"via-claude","stream":true,"input":"What is new in rail?",)" + tools + "}", search);
    ASSERT_EQ(streamed.status, 200);
    EXPECT_NE(streamed.body().find("event: response.web_search_call.completed"), std::string::npos) << streamed.body();
    EXPECT_NE(streamed.body().find("event: response.output_text.annotation.added"), std::string::npos) << streamed.body();
    const Response native = call(
        Dialect::messages,
        R"({"model":"via-claude","max_tokens":50,"messages":[{"role":"user","content":"What is new in rail?"}],)"
        R"("tools":[{"type":"web_search_20250305","name":"web_search","max_uses":2}]})",
        search);
    ASSERT_EQ(native.status, 200) << native.body;
    EXPECT_NE(native.body.find(R"("server_tool_use":{"web_search_requests":1})"), std::string::npos) << native.body;
    // A chat caller asks with web_search_options (as of OpenAI's search models): the text comes
    // with its citations as the message's annotations, whole and streamed.
    const std::string chat = R"({"model":"via-claude","messages":[{"role":"user","content":"What is new in rail?"}],)"
                             R"("web_search_options":{"user_location":{"type":"approximate","approximate":{"country":"GB"}}})";
    const Response chat_whole = call(Dialect::chat, chat + "}", search);
    ASSERT_EQ(chat_whole.status, 200) << chat_whole.body;
    EXPECT_NE(chat_whole.body.find(R"("content":"According to the search, )"), std::string::npos) << chat_whole.body;
    EXPECT_NE(chat_whole.body.find(R"("annotations":[{"type":"url_citation","url_citation":{"end_index":)"), std::string::npos)
        << chat_whole.body;
    EXPECT_NE(chat_whole.body.find(R"("start_index":25,"title":"First result for rail news","url":"https://search.example/1"}})"),
              std::string::npos)
        << chat_whole.body;
    EXPECT_EQ(chat_whole.body.find("query"), std::string::npos) << chat_whole.body;  // the search is not text
    const StreamedResponse chat_streamed = call_streaming(Dialect::chat, chat + R"(,"stream":true})", search);
    ASSERT_EQ(chat_streamed.status, 200);
    EXPECT_NE(chat_streamed.body().find(R"("delta":{"annotations":[{"type":"url_citation","url_citation":{"end_index":)"),
              std::string::npos)
        << chat_streamed.body();
    EXPECT_NE(chat_streamed.body().find(R"("start_index":25,"title":"First result for rail news")"), std::string::npos)
        << chat_streamed.body();

    const auto rows = stop_and_read_ledger();
    int priced = 0;
    for (const auto& row : rows) {
        if (row.model != "via-claude") continue;
        ++priced;
        const double tokens = static_cast<double>(row.prompt_tokens) * 1e-6 + static_cast<double>(row.completion_tokens) * 5e-6;
        EXPECT_NEAR(row.cost_usd, tokens + 0.01, 1e-9) << row.stream << " " << row.prompt_tokens << "/" << row.completion_tokens;
    }
    EXPECT_EQ(priced, 5);
}

// The other way: a Messages caller (Claude Code's WebSearch tool) whose request offers Anthropic's
// web search reaches OpenAI's Responses API; the search runs there (the simulator searches when the
// request offers OpenAI's web_search tool), and the caller gets Anthropic's blocks for it — the
// server_tool_use, the web_search_tool_result with the pages (the gateway asked OpenAI for them
// with include) and the cited text — whole and streamed. A Responses caller's search at the same
// deployment goes through untranslated. The ledger prices every search (gpt-5.4: $2.50 and $15 a
// million tokens, $10 a thousand searches).
TEST_F(Dialects, AMessagesCallersWebSearchRunsAtOpenAIAndComesBackAsAnthropicsBlocks) {
    const std::map<std::string, std::string> search{{"x-sim-web-search", "rail news"}};
    const std::string request = R"({"model":"via-gpt","max_tokens":50,"messages":[{"role":"user","content":"What is new in rail?"}],)"
                                R"("tools":[{"type":"web_search_20250305","name":"web_search","max_uses":2}])";
    const Response whole = call(Dialect::messages, request + "}", search);
    ASSERT_EQ(whole.status, 200) << whole.body;
    dom::parser parser;
    dom::element root;
    ASSERT_EQ(parser.parse(whole.body).get(root), simdjson::SUCCESS) << whole.body;
    const dom::array content = root["content"];
    ASSERT_EQ(content.size(), 4u) << whole.body;  // the search, its pages, the lead-in, the cited text
    EXPECT_EQ(std::string_view(content.at(0)["type"]), "server_tool_use");
    EXPECT_EQ(std::string_view(content.at(0)["name"]), "web_search");
    EXPECT_EQ(std::string_view(content.at(0)["input"]["query"]), "rail news");
    const std::string_view search_id = content.at(0)["id"];
    EXPECT_TRUE(search_id.starts_with("srvtoolu_")) << search_id;
    EXPECT_EQ(std::string_view(content.at(1)["type"]), "web_search_tool_result");
    EXPECT_EQ(std::string_view(content.at(1)["tool_use_id"]), search_id);
    const dom::array pages = content.at(1)["content"];
    ASSERT_EQ(pages.size(), 2u) << whole.body;
    EXPECT_EQ(std::string_view(pages.at(0)["url"]), "https://search.example/1");
    EXPECT_EQ(std::string_view(pages.at(0)["title"]), "First result for rail news");  // from the citation
    EXPECT_EQ(std::string_view(content.at(2)["text"]), "According to the search, ");
    EXPECT_EQ(std::string_view(content.at(3)["citations"].at(0)["url"]), "https://search.example/1");
    EXPECT_EQ(int64_t(root["usage"]["server_tool_use"]["web_search_requests"]), 1);

    const StreamedResponse streamed = call_streaming(Dialect::messages, request + R"(,"stream":true})", search);
    ASSERT_EQ(streamed.status, 200);
    const std::string body = streamed.body();
    EXPECT_NE(body.find(R"("content_block":{"type":"server_tool_use","id":"srvtoolu_)"), std::string::npos) << body;
    EXPECT_NE(body.find(R"("partial_json":"{\"query\":\"rail news\"}")"), std::string::npos) << body;
    EXPECT_NE(body.find(R"("content_block":{"type":"web_search_tool_result",)"), std::string::npos) << body;
    EXPECT_NE(body.find(R"("url":"https://search.example/2")"), std::string::npos) << body;
    EXPECT_NE(body.find(R"("delta":{"type":"citations_delta","citation":{"type":"web_search_result_location","url":"https://search.example/1",)"),
              std::string::npos)
        << body;
    EXPECT_NE(body.find(R"("server_tool_use":{"web_search_requests":1})"), std::string::npos) << body;
    EXPECT_NE(body.find("event: message_stop"), std::string::npos) << body;

    const std::string native_request = R"({"model":"via-gpt","input":"What is new in rail?","tools":[{"type":"web_search"}])";
    const Response native = call(Dialect::responses, native_request + "}", search);
    ASSERT_EQ(native.status, 200) << native.body;
    EXPECT_NE(native.body.find(R"("type":"web_search_call","status":"completed","action":{"type":"search","query":"rail news"})"),
              std::string::npos)
        << native.body;  // (no sources: this caller did not ask for them)
    const StreamedResponse native_streamed = call_streaming(Dialect::responses, native_request + R"(,"stream":true})", search);
    ASSERT_EQ(native_streamed.status, 200);
    EXPECT_NE(native_streamed.body().find("event: response.web_search_call.completed"), std::string::npos);

    const auto rows = stop_and_read_ledger();
    int priced = 0;
    for (const auto& row : rows) {
        if (row.model != "via-gpt") continue;
        ++priced;
        EXPECT_GT(row.completion_tokens, 0);
        const double tokens = static_cast<double>(row.prompt_tokens) * 2.5e-6 + static_cast<double>(row.completion_tokens) * 15e-6;
        EXPECT_NEAR(row.cost_usd, tokens + 0.01, 1e-9) << row.stream << " " << row.prompt_tokens << "/" << row.completion_tokens;
    }
    EXPECT_EQ(priced, 4);
}

// Claude Code counts tokens before it sends; a deployment that serves count_tokens natively
// answers, and a beta query on /v1/messages is tolerated.
TEST_F(Dialects, CountTokensAndTheBetaQuery) {
    const std::string body =
        R"({"model":"via-messages","messages":[{"role":"user","content":"Say something about trains."}]})";
    // (reaches the simulator's /v1/messages/count_tokens through the anthropic upstream)
    const Response native = post(gateway_.port, "/v1/messages/count_tokens", body, auth_for(Dialect::messages));
    ASSERT_EQ(native.status, 200) << native.body;
    EXPECT_NE(native.body.find("\"input_tokens\""), std::string::npos) << native.body;

    const Response beta = post(gateway_.port, "/v1/messages?beta=true", body_for(Dialect::messages, "via-chat", false),
                               auth_for(Dialect::messages));
    EXPECT_EQ(beta.status, 200) << beta.body;
}

// previous_response_id continues a conversation the gateway kept, whatever the upstream's dialect:
// the second turn's prompt holds the first turn's input and answer. An id it does not hold (or an
// answer asked not to be stored) is a 404 in OpenAI's shape.
TEST_F(Dialects, PreviousResponseIdContinuesAKeptConversation) {
    for (const Dialect upstream : kDialects) {
        SCOPED_TRACE(name_of(upstream) + " upstream");
        const std::string model = model_via(upstream);
        const auto [id, first_input] = kept_turn(model, "Tell me about trains.");
        ASSERT_FALSE(id.empty());
        dom::parser parser;
        dom::element root;

        for (const bool stream : {false, true}) {
            const std::string next = R"({"model":")" + model + R"(","previous_response_id":")" + id +
                                     R"(","input":"And about boats?")" + (stream ? R"(,"stream":true})" : "}");
            const Answer answer = stream ? read_stream(Dialect::responses, call_streaming(Dialect::responses, next).body())
                                         : read_whole(Dialect::responses, call(Dialect::responses, next).body);
            // The whole conversation went upstream: more prompt than the first turn alone had.
            EXPECT_GT(answer.input, first_input + 12) << "turn 2 (" << (stream ? "streamed" : "whole") << ")";
        }

        const Response unstored = call(Dialect::responses, R"({"model":")" + model + R"(","input":"x","store":false})");
        ASSERT_EQ(unstored.status, 200);
        ASSERT_EQ(parser.parse(unstored.body).get(root), simdjson::SUCCESS);
        const std::string unstored_id{std::string_view(root["id"])};
        const Response gone = call(Dialect::responses, R"({"model":")" + model + R"(","previous_response_id":")" +
                                                           unstored_id + R"(","input":"y"})");
        EXPECT_EQ(gone.status, 404) << gone.body;
        EXPECT_NE(gone.body.find("previous_response_not_found"), std::string::npos) << gone.body;
    }
}

// With a ledger, a kept conversation is written to its database too: a restarted gateway, or a
// second instance on the same database, continues it (looked up in the database);
// with responses_store_persist off, a restart forgets it.
TEST_F(Dialects, AKeptConversationOutlivesARestartAndReachesAnotherInstance) {
    const std::string model = model_via(Dialect::chat);
    const auto [id, first_input] = kept_turn(model, "Tell me about trains.");
    ASSERT_FALSE(id.empty());
    const std::string next =
        R"({"model":")" + model + R"(","previous_response_id":")" + id + R"(","input":"And about boats?"})";

    // A second instance on the same database, while the first still runs (the writer flushes
    // every 100 ms; give it a few rounds).
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    Gateway other = start_gateway(config(sim_, ledger_), kEnv);
    const Response there = post(other.port, "/v1/responses", next, auth_for(Dialect::responses));
    ASSERT_EQ(there.status, 200) << there.body;
    EXPECT_GT(read_whole(Dialect::responses, there.body).input, first_input + 12) << there.body;
    other.process->stop(SIGTERM);

    // The first instance restarted: its memory is gone, the database is not.
    EXPECT_EQ(gateway_.process->stop(SIGTERM), 0);
    gateway_ = start_gateway(config(sim_, ledger_), kEnv);
    for (const bool stream : {false, true}) {
        const std::string body = stream ? next.substr(0, next.size() - 1) + R"(,"stream":true})" : next;
        const Answer answer = stream ? read_stream(Dialect::responses, call_streaming(Dialect::responses, body).body())
                                     : read_whole(Dialect::responses, call(Dialect::responses, body).body);
        EXPECT_GT(answer.input, first_input + 12) << (stream ? "streamed" : "whole");
    }
    const Response unknown = call(Dialect::responses, R"({"model":")" + model +
                                                          R"(","previous_response_id":"resp_never","input":"y"})");
    EXPECT_EQ(unknown.status, 404) << unknown.body;

    // Kept in memory only: a restart forgets it.
    std::string memory_only = config(sim_, ledger_);
    memory_only.replace(memory_only.find("server: {"), 9, "server: {responses_store_persist: false, ");
    EXPECT_EQ(gateway_.process->stop(SIGTERM), 0);
    gateway_ = start_gateway(memory_only, kEnv);
    const std::string memory_id = kept_turn(model, "Tell me about ships.").id;
    ASSERT_FALSE(memory_id.empty());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(gateway_.process->stop(SIGTERM), 0);
    gateway_ = start_gateway(memory_only, kEnv);
    const Response forgotten = call(Dialect::responses, R"({"model":")" + model + R"(","previous_response_id":")" +
                                                            memory_id + R"(","input":"y"})");
    EXPECT_EQ(forgotten.status, 404) << forgotten.body;
}

// A real llama-server (built by scripts/setup, on the tiny random-weight model) serves all three
// dialects itself: reached natively, every caller's bytes go through; reached as a chat-only
// upstream, Responses and Messages callers are translated. Either way the caller gets its own
// API's shapes and the ledger the engine's usage.
TEST(DialectsOnLlamaServer, NativeAndTranslated) {
    auto llama = start_llama_server(tiny_model());
    const std::string ledger = temp_dir() + "/dialects-llama.db";
    auto gateway = start_gateway(R"(
listeners: [{address: 127.0.0.1, port: 0}]
server: {shutdown_grace: 5s}
ledger: {url: )" + ledger + R"(, flush_interval: 100ms}
upstreams:
  - name: llama
    type: llama-server
    base_url: http://127.0.0.1:)" + std::to_string(llama.port) + R"(
  - name: llama-chat-only
    type: llama-server
    dialects: [chat]
    base_url: http://127.0.0.1:)" + std::to_string(llama.port) + R"(
models:
  - name: native
    deployments: [{upstream: llama, model: tiny}]
  - name: via-chat
    deployments: [{upstream: llama-chat-only, model: tiny}]
)");
    int requests = 0;
    for (const Dialect caller : {Dialect::responses, Dialect::messages}) {
        for (const std::string model : {"native", "via-chat"}) {
            SCOPED_TRACE(name_of(caller) + " caller, model " + model);
            const std::string limit = caller == Dialect::responses ? R"("max_output_tokens":8)" : "";
            std::string body = body_for(caller, model, false, limit);
            if (caller == Dialect::messages) body.replace(body.find("\"max_tokens\":100"), 16, "\"max_tokens\":8");
            const Response whole = post(gateway.port, path_of(caller), body, {{"anthropic-version", "2023-06-01"}});
            ASSERT_EQ(whole.status, 200) << whole.body;
            EXPECT_EQ(whole.header("x-switchyard-translated"), model == "native" ? "" : "chat->" + name_of(caller));
            const Answer answer = read_whole(caller, whole.body);
            EXPECT_GT(answer.input, 0) << whole.body;
            EXPECT_GT(answer.output, 0) << whole.body;

            std::string streamed_body = body;
            streamed_body.insert(streamed_body.size() - 1, R"(,"stream":true)");
            const StreamedResponse streamed =
                post_streaming(gateway.port, path_of(caller), streamed_body, {{"anthropic-version", "2023-06-01"}});
            ASSERT_EQ(streamed.status, 200) << streamed.body();
            const Answer parts = read_stream(caller, streamed.body(), model != "native");
            EXPECT_GT(parts.output, 0) << streamed.body();
            requests += 2;
        }
    }
    // A coding agent's turn after a tool call: Claude Code's shape (system blocks with
    // cache_control, thinking and tool_use in the history, the tool_result, tools, metadata) and
    // Codex's (instructions, developer message, reasoning, function and custom tool calls with
    // their outputs, flat and custom tools), streamed, natively and translated to chat.
    const std::string claude_code = R"({"model":"MODEL","max_tokens":8,"stream":true,"temperature":1,)"
        R"("system":[{"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral"}}],)"
        R"("messages":[{"role":"user","content":[{"type":"text","text":"List the files."}]},)"
        R"({"role":"assistant","content":[{"type":"thinking","thinking":"I will run ls.","signature":"c2ln"},)"
        R"({"type":"tool_use","id":"toolu_01","name":"Bash","input":{"command":"ls","description":"List files"}}]},)"
        R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":"marker.txt\nREADME.md",)"
        R"("cache_control":{"type":"ephemeral"}}]}],)"
        R"("tools":[{"name":"Bash","description":"Runs a command","input_schema":{"type":"object",)"
        R"("properties":{"command":{"type":"string"},"description":{"type":"string"}},"required":["command"]}}],)"
        R"("tool_choice":{"type":"auto"},"metadata":{"user_id":"user_1"}})";
    const std::string codex = R"({"model":"MODEL","instructions":"You are Codex.","max_output_tokens":8,"stream":true,)"
        R"("store":false,"tool_choice":"auto","parallel_tool_calls":false,"prompt_cache_key":"conv-1","input":[)"
        R"({"type":"message","role":"developer","content":[{"type":"input_text","text":"<permissions>"}]},)"
        R"({"type":"message","role":"user","content":[{"type":"input_text","text":"list files"}]},)"
        R"({"type":"function_call","name":"shell","arguments":"{\"command\":[\"ls\"]}","call_id":"call_1"},)"
        R"({"type":"function_call_output","call_id":"call_1","output":"a.txt\nb.txt"}],)"
        R"("tools":[{"type":"function","name":"shell","description":"Runs a command","strict":false,)"
        R"("parameters":{"type":"object","properties":{"command":{"type":"array","items":{"type":"string"}}}}}]})";
    for (const Dialect caller : {Dialect::responses, Dialect::messages}) {
        for (const std::string model : {"native", "via-chat"}) {
            SCOPED_TRACE(name_of(caller) + " agent, model " + model);
            std::string body = caller == Dialect::messages ? claude_code : codex;
            body.replace(body.find("MODEL"), 5, model);
            const StreamedResponse streamed =
                post_streaming(gateway.port, path_of(caller), body, {{"anthropic-version", "2023-06-01"}});
            ASSERT_EQ(streamed.status, 200) << streamed.body();
            const Answer parts = read_stream(caller, streamed.body(), model != "native");
            EXPECT_GT(parts.output, 0) << streamed.body();
            ++requests;
        }
    }

    ASSERT_EQ(gateway.process->stop(SIGTERM), 0);
    const auto rows = read_ledger(ledger);
    ASSERT_EQ(rows.size(), static_cast<std::size_t>(requests));
    for (const auto& row : rows) {
        SCOPED_TRACE(row.model + (row.stream ? " streamed" : " whole"));
        EXPECT_EQ(row.status, 200);
        EXPECT_FALSE(row.usage_estimated);
        EXPECT_GT(row.completion_tokens, 0);
        EXPECT_GT(row.prompt_tokens, 0);
    }
}

}  // namespace
}  // namespace switchyard::testing
