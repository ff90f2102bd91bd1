// The OpenAI Responses dialect's reader and writer (translate/dialect.hpp): Codex CLI's requests,
// whole answers both ways, errors, and streams (OpenAI's and llama-server's recorded, ours read back,
// cut at every byte).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "translate/dialect.hpp"
#include "translate/json.hpp"
#include "translate/stream.hpp"

namespace switchyard::translate {
namespace {

std::string read_data(const std::string& name) {
    std::ifstream in(std::string(SWITCHYARD_SOURCE_DIR) + "/tests/data/translate/responses/" + name, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

Part text_part(Json text) {
    Part part;
    part.text = text;
    return part;
}

AnswerOptions answer_options(std::string_view model, std::int64_t now, std::string_view seed,
                             const Request* request = nullptr) {
    AnswerOptions options;
    options.model = model;
    options.now = now;
    options.id_seed = seed;
    options.request = request;
    return options;
}

WriteOptions to_model(std::string_view model) {
    WriteOptions options;
    options.model = model;
    return options;
}

Error error_of(int status, Json type, Json message) {
    Error error;
    error.status = status;
    error.type = type;
    error.message = message;
    return error;
}

// A request as Codex CLI sends it: stateless, the whole history every turn.
constexpr std::string_view kCodexRequest = R"({
  "model": "gpt-5-codex",
  "instructions": "You are Codex.",
  "input": [
    {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "<permissions>"}]},
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"},
                                                    {"type": "input_image", "image_url": "https://x/a.png", "detail": "high"}]},
    {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "a"}, {"type": "summary_text", "text": "b"}],
     "content": null, "encrypted_content": "gAAA=="},
    {"type": "function_call", "name": "shell", "arguments": "{\"command\":[\"ls\"]}", "call_id": "call_1"},
    {"type": "function_call_output", "call_id": "call_1", "output": "a.txt\nb.txt"},
    {"type": "custom_tool_call", "call_id": "call_2", "name": "apply_patch", "input": "*** Begin Patch\n\"x\""},
    {"type": "custom_tool_call_output", "call_id": "call_2", "output": "Done"},
    {"role": "user", "content": "thanks"},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}
  ],
  "tools": [
    {"type": "function", "name": "shell", "description": "Runs a command", "strict": false,
     "parameters": {"type": "object", "properties": {"command": {"type": "array"}}}},
    {"type": "custom", "name": "apply_patch", "description": "Patch", "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}}
  ],
  "tool_choice": "auto",
  "parallel_tool_calls": false,
  "reasoning": {"effort": "medium", "summary": "auto"},
  "store": false,
  "stream": true,
  "include": ["reasoning.encrypted_content"],
  "prompt_cache_key": "conv-42",
  "client_metadata": {"x": 1},
  "previous_response_id": null
})";

TEST(Translate_responses, ReadsCodexRequest) {
    Request request;
    ASSERT_FALSE(read_request(Dialect::responses, kCodexRequest, request));
    EXPECT_EQ(request.model, R"("gpt-5-codex")");
    ASSERT_EQ(request.system.size(), 2u);
    EXPECT_EQ(request.system[0].text, R"("You are Codex.")");
    EXPECT_EQ(request.system[1].text, R"("<permissions>")");
    ASSERT_EQ(request.messages.size(), 6u);
    const auto& user = request.messages[0];
    EXPECT_EQ(user.role, Role::user);
    ASSERT_EQ(user.parts.size(), 2u);
    EXPECT_EQ(user.parts[1].kind, PartKind::image);
    EXPECT_EQ(user.parts[1].url, R"("https://x/a.png")");
    EXPECT_EQ(user.parts[1].detail, R"("high")");

    const auto& assistant = request.messages[1];
    EXPECT_EQ(assistant.role, Role::assistant);
    ASSERT_EQ(assistant.parts.size(), 2u);
    EXPECT_EQ(assistant.parts[0].kind, PartKind::reasoning);
    EXPECT_EQ(assistant.parts[0].item_id, R"("rs_1")");
    EXPECT_EQ(assistant.parts[0].signature, R"("gAAA==")");
    EXPECT_EQ(assistant.parts[0].text, R"("a\n\nb")");
    EXPECT_EQ(assistant.parts[1].kind, PartKind::tool_call);
    EXPECT_EQ(assistant.parts[1].id, R"("call_1")");
    EXPECT_EQ(assistant.parts[1].arguments, R"("{\"command\":[\"ls\"]}")");

    // Items alternate: the output (user), the custom call (assistant), its output and the user's
    // text (one user message), the assistant's answer.
    const auto& results = request.messages[2];
    EXPECT_EQ(results.role, Role::user);
    ASSERT_EQ(results.parts.size(), 1u);
    EXPECT_EQ(results.parts[0].kind, PartKind::tool_result);
    ASSERT_EQ(results.parts[0].content.size(), 1u);
    EXPECT_EQ(results.parts[0].content[0].text, R"("a.txt\nb.txt")");

    const auto& custom = request.messages[3];
    EXPECT_EQ(custom.role, Role::assistant);
    ASSERT_EQ(custom.parts.size(), 1u);
    std::string arguments;
    ASSERT_TRUE(json::string_to_object(custom.parts[0].arguments, arguments));
    EXPECT_EQ(arguments, R"({"input":"*** Begin Patch\n\"x\""})");
    ASSERT_EQ(request.messages[4].parts.size(), 2u);
    EXPECT_EQ(request.messages[4].parts[0].kind, PartKind::tool_result);
    EXPECT_EQ(request.messages[4].parts[1].text, R"("thanks")");
    EXPECT_EQ(request.messages[5].role, Role::assistant);

    ASSERT_EQ(request.tools.size(), 2u);
    EXPECT_FALSE(request.tools[0].custom);
    EXPECT_EQ(request.tools[0].strict, false);
    EXPECT_TRUE(request.tools[1].custom);
    EXPECT_EQ(request.tools[1].format.substr(0, 17), R"({"type": "grammar)");
    EXPECT_EQ(request.tool_choice.mode, ToolChoice::Mode::auto_);
    EXPECT_EQ(request.tool_choice.parallel, false);
    EXPECT_TRUE(request.reasoning.enabled);
    EXPECT_TRUE(request.reasoning.summary);
    EXPECT_EQ(request.reasoning.effort, R"("medium")");
    EXPECT_TRUE(request.stream);
    EXPECT_EQ(request.cache_key, R"("conv-42")");
    EXPECT_TRUE(request.unmapped.empty());  // store, include, client_metadata: ignored
}

TEST(Translate_responses, MessagesAlternateAndInputStringIsOneUserMessage) {
    Request request;
    ASSERT_FALSE(read_request(Dialect::responses, R"({"model":"m","input":"hi","max_output_tokens":50,
        "temperature":0.2,"text":{"format":{"type":"json_schema","name":"out","schema":{"type":"object"},"strict":true}}})",
                              request));
    ASSERT_EQ(request.messages.size(), 1u);
    EXPECT_EQ(request.messages[0].parts[0].text, R"("hi")");
    EXPECT_EQ(request.max_tokens, 50);
    EXPECT_EQ(request.temperature, "0.2");
    EXPECT_EQ(request.format.kind, Format::Kind::json_schema);
    EXPECT_EQ(request.format.name, R"("out")");
    EXPECT_EQ(request.format.schema, R"({"type":"object"})");
    EXPECT_EQ(request.format.strict, true);
}

TEST(Translate_responses, RefusesWhatCannotBeTranslated) {
    Request referenced;
    const auto error = read_request(Dialect::responses, R"({"model":"m","input":[{"type":"item_reference","id":"x"}]})",
                                    referenced);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->status, 400);
    EXPECT_EQ(error->param, "input");

    Request builtin;
    ASSERT_FALSE(read_request(Dialect::responses,
                              R"({"model":"m","input":"x","background":true,"tools":[{"type":"file_search"}]})", builtin));
    ASSERT_EQ(builtin.unmapped.size(), 2u);
    EXPECT_TRUE(builtin.unmapped[0].changes_meaning);
    EXPECT_TRUE(builtin.unmapped[1].changes_meaning);
    std::string out;
    const auto refused = write_request(Dialect::responses, builtin, to_model("gpt-5"), out);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 400);
    EXPECT_EQ(refused->type, "invalid_request_error");
    EXPECT_EQ(refused->param, "background");

    Request tool_only;
    ASSERT_FALSE(read_request(Dialect::responses, R"({"model":"m","input":"x","tools":[{"type":"local_shell"}]})", tool_only));
    const auto refused_tool = write_request(Dialect::responses, tool_only, to_model("gpt-5"), out);
    ASSERT_TRUE(refused_tool);
    EXPECT_EQ(refused_tool->param, "tools");
}

// Codex CLI 0.171's default request: its multi-agent tools grouped in a namespace, a custom
// apply_patch, the history's call of a namespaced tool carrying its `namespace`.
constexpr std::string_view kCodexNamespaceRequest = R"({
  "model": "gpt-5.5",
  "instructions": "You are Codex.",
  "input": [
    {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "<permissions>"}]},
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Split the work."}]},
    {"type": "function_call", "name": "spawn_agent", "namespace": "multi_agent_v1", "arguments": "{\"task\":\"tests\"}", "call_id": "call_s1"},
    {"type": "function_call_output", "call_id": "call_s1", "output": "agent 7 started"}
  ],
  "tools": [
    {"type": "function", "name": "exec_command", "description": "Runs a command.", "strict": false,
     "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}},
    {"type": "custom", "name": "apply_patch", "description": "Patches files.", "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}},
    {"type": "namespace", "name": "multi_agent_v1", "description": "Sub-agents.", "tools": [
      {"type": "function", "name": "spawn_agent", "description": "Starts an agent.", "strict": false,
       "parameters": {"type": "object", "properties": {"task": {"type": "string"}}, "required": ["task"]}},
      {"type": "function", "name": "wait_agent", "description": "Waits for an agent.", "strict": false,
       "parameters": {"type": "object", "properties": {"id": {"type": "string"}}}}
    ]}
  ],
  "tool_choice": "auto",
  "parallel_tool_calls": true,
  "reasoning": {"effort": "medium", "summary": "auto"},
  "store": false,
  "stream": true,
  "include": ["reasoning.encrypted_content"],
  "prompt_cache_key": "019a-thread",
  "text": {"verbosity": "low"},
  "client_metadata": {"x": "y"}
})";

TEST(Translate_responses, FlattensCodexNamespaceTools) {
    Request request;
    ASSERT_FALSE(read_request(Dialect::responses, kCodexNamespaceRequest, request));
    ASSERT_EQ(request.tools.size(), 4u);
    EXPECT_EQ(request.tools[0].name, R"("exec_command")");
    EXPECT_TRUE(request.tools[1].custom);
    EXPECT_EQ(request.tools[2].name, R"("spawn_agent")");
    EXPECT_EQ(request.tools[2].description, R"("Starts an agent.")");
    EXPECT_NE(request.tools[2].parameters.find("\"task\""), std::string_view::npos);
    EXPECT_EQ(request.tools[3].name, R"("wait_agent")");
    for (const auto& field : request.unmapped) EXPECT_FALSE(field.changes_meaning) << field.name << " " << field.value;
    // The history's namespaced call keeps its plain name, the name of the flattened tool.
    ASSERT_GE(request.messages.size(), 2u);
    EXPECT_EQ(request.messages[1].parts.at(0).name, R"("spawn_agent")");

    // Nothing in it is refused on the way to a chat upstream; the namespace is not sent there.
    std::string chat;
    const auto error = write_request(Dialect::chat, request, to_model("qwen3"), chat);
    ASSERT_FALSE(error) << error->message;
    EXPECT_NE(chat.find(R"("name":"spawn_agent")"), std::string::npos) << chat;
    EXPECT_NE(chat.find(R"("name":"wait_agent")"), std::string::npos) << chat;
    EXPECT_EQ(chat.find("namespace"), std::string::npos) << chat;

    // The answer's call of a namespaced tool carries its namespace, as Codex routes it by both.
    Response response;
    Part spawn;
    spawn.kind = PartKind::tool_call;
    spawn.id = R"("call_9")";
    spawn.name = R"("spawn_agent")";
    spawn.arguments = R"("{\"task\":\"docs\"}")";
    Part exec = spawn;
    exec.id = R"("call_10")";
    exec.name = R"("exec_command")";
    response.content = {spawn, exec};
    response.stop = Stop::tool_use;
    std::string out;
    write_response(Dialect::responses, response, answer_options("gpt-5.5", 5, "req-ns", &request), out);
    EXPECT_NE(out.find(R"("call_id":"call_9","name":"spawn_agent","namespace":"multi_agent_v1","arguments":)"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find(R"("call_id":"call_10","name":"exec_command","arguments":)"), std::string::npos) << out;
    EXPECT_EQ(out.find("namespace", out.find("call_10")), std::string::npos) << out;

    // And so does a streamed one, in its output_item.added and .done and the final response.
    auto writer = make_writer(Dialect::responses, answer_options("gpt-5.5", 5, "req-ns", &request));
    std::string sse;
    Event e;
    e.kind = Event::Kind::start;
    writer->write(e, sse);
    e = Event{};
    e.kind = Event::Kind::block_start;
    e.block = BlockKind::tool_call;
    e.id = R"("call_9")";
    e.name = R"("spawn_agent")";
    writer->write(e, sse);
    e = Event{};
    e.kind = Event::Kind::delta;
    e.block = BlockKind::tool_call;
    e.text = R"("{}")";
    writer->write(e, sse);
    e = Event{};
    e.kind = Event::Kind::block_stop;
    e.block = BlockKind::tool_call;
    writer->write(e, sse);
    e = Event{};
    e.kind = Event::Kind::finish;
    e.stop = Stop::tool_use;
    writer->write(e, sse);
    e = Event{};
    e.kind = Event::Kind::done;
    writer->write(e, sse);
    std::size_t seen = 0;
    for (std::size_t at = sse.find(R"("name":"spawn_agent","namespace":"multi_agent_v1")"); at != std::string::npos;
         at = sse.find(R"("name":"spawn_agent","namespace":"multi_agent_v1")", at + 1)) {
        ++seen;
    }
    EXPECT_EQ(seen, 3u) << sse;  // added, done, completed

    // Codex's web_search stays a built-in tool no other upstream runs: still refused.
    Request searching;
    ASSERT_FALSE(read_request(Dialect::responses,
                              R"({"model":"m","input":"x","tools":[{"type":"web_search","external_web_access":false}]})",
                              searching));
    std::string refused_out;
    const auto refused = write_request(Dialect::chat, searching, to_model("qwen3"), refused_out);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->param, "tools");
}

TEST(Translate_responses, WritesCodexRequestBack) {
    Request request;
    ASSERT_FALSE(read_request(Dialect::responses, kCodexRequest, request));
    std::string out;
    ASSERT_FALSE(write_request(Dialect::responses, request, to_model("gpt-5"), out));
    EXPECT_NE(out.find(R"("model":"gpt-5","instructions":"You are Codex.\n\n<permissions>")"), std::string::npos) << out;
    EXPECT_NE(out.find(R"({"type":"function_call","call_id":"call_1","name":"shell","arguments":"{\"command\":[\"ls\"]}"})"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find(R"({"type":"function_call_output","call_id":"call_1","output":"a.txt\nb.txt"})"), std::string::npos);
    EXPECT_NE(out.find(R"({"type":"custom_tool_call","call_id":"call_2","name":"apply_patch","input":"*** Begin Patch\n\"x\""})"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find(R"({"type":"custom_tool_call_output","call_id":"call_2","output":"Done"})"), std::string::npos);
    EXPECT_NE(out.find(R"({"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"a\n\nb"}],"encrypted_content":"gAAA=="})"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find(R"({"type":"input_image","image_url":"https://x/a.png","detail":"high"})"), std::string::npos);
    EXPECT_NE(out.find(R"({"type":"message","role":"assistant","content":[{"type":"output_text","text":"ok","annotations":[]}]})"),
              std::string::npos);
    EXPECT_NE(out.find(R"({"type":"custom","name":"apply_patch","description":"Patch","format":{)"), std::string::npos);
    EXPECT_NE(out.find(R"("store":false,"stream":true})"), std::string::npos);
    EXPECT_NE(out.find(R"("prompt_cache_key":"conv-42")"), std::string::npos);

    // What it wrote reads back to the same conversation.
    Request again;
    ASSERT_FALSE(read_request(Dialect::responses, out, again));
    ASSERT_EQ(again.messages.size(), request.messages.size());
    for (std::size_t i = 0; i < again.messages.size(); ++i) {
        ASSERT_EQ(again.messages[i].parts.size(), request.messages[i].parts.size()) << i;
        for (std::size_t j = 0; j < again.messages[i].parts.size(); ++j) {
            EXPECT_EQ(again.messages[i].parts[j].kind, request.messages[i].parts[j].kind);
            EXPECT_EQ(json::text_of(again.messages[i].parts[j].arguments), json::text_of(request.messages[i].parts[j].arguments));
        }
    }
}

TEST(Translate_responses, WritesOtherDialectsForms) {
    Request request;
    request.system.push_back(text_part(R"("Be brief.")"));
    Message user{Role::user, {}};
    user.parts.push_back(text_part(R"("hi")"));
    Part image;
    image.kind = PartKind::image;
    image.media_type = R"("image/png")";
    image.data = R"("iVBOR")";
    user.parts.push_back(image);
    request.messages.push_back(user);
    Message assistant{Role::assistant, {}};
    Part thinking;
    thinking.kind = PartKind::reasoning;
    thinking.text = R"("hmm")";  // no signature: cannot be sent back
    assistant.parts.push_back(thinking);
    Part call;
    call.kind = PartKind::tool_call;
    call.id = R"("toolu_1")";
    call.name = R"("f")";
    call.arguments = R"("{}")";
    assistant.parts.push_back(call);
    request.messages.push_back(assistant);
    Message result{Role::user, {}};
    Part tool_result;
    tool_result.kind = PartKind::tool_result;
    tool_result.id = R"("toolu_1")";
    tool_result.content.push_back(text_part(R"("one")"));
    tool_result.content.push_back(text_part(R"("two")"));
    result.parts.push_back(tool_result);
    request.messages.push_back(result);
    Tool tool;
    tool.name = R"("f")";
    tool.parameters = R"({"type":"object"})";
    request.tools.push_back(tool);
    request.tool_choice.mode = ToolChoice::Mode::named;
    request.tool_choice.name = R"("f")";
    request.max_tokens = 100;
    request.reasoning.enabled = true;
    request.reasoning.budget = 8000;
    std::string out;
    ASSERT_FALSE(write_request(Dialect::responses, request, to_model("gpt-5"), out));
    EXPECT_EQ(out,
              R"({"model":"gpt-5","instructions":"Be brief.","input":[)"
              R"({"type":"message","role":"user","content":[{"type":"input_text","text":"hi"},)"
              R"({"type":"input_image","image_url":"data:image/png;base64,iVBOR","detail":"auto"}]},)"
              R"({"type":"function_call","call_id":"toolu_1","name":"f","arguments":"{}"},)"
              R"({"type":"function_call_output","call_id":"toolu_1","output":"one\ntwo"}],)"
              R"("tools":[{"type":"function","name":"f","parameters":{"type":"object"}}],)"
              R"("tool_choice":{"type":"function","name":"f"},"max_output_tokens":100,)"
              R"("reasoning":{"effort":"medium","summary":"auto"},"include":["reasoning.encrypted_content"],)"
              R"("store":false,"stream":false})");

    request.stop.push_back(R"("END")");
    out.clear();
    const auto refused = write_request(Dialect::responses, request, to_model("gpt-5"), out);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->param, "stop");
}

constexpr std::string_view kResponse = R"({"id":"resp_1","object":"response","created_at":1754000000,"status":"completed",
  "error":null,"incomplete_details":null,"model":"gpt-5",
  "output":[{"id":"rs_1","type":"reasoning","summary":[{"type":"summary_text","text":"think"}],"encrypted_content":"enc"},
            {"id":"msg_1","type":"message","status":"completed","role":"assistant",
             "content":[{"type":"output_text","annotations":[],"text":"Hello \"you\""}]},
            {"id":"fc_1","type":"function_call","status":"completed","call_id":"call_1","name":"shell","arguments":"{\"a\":1}"},
            {"id":"ctc_1","type":"custom_tool_call","status":"completed","call_id":"call_2","name":"apply_patch","input":"diff"}],
  "usage":{"input_tokens":100,"input_tokens_details":{"cached_tokens":40},"output_tokens":20,
           "output_tokens_details":{"reasoning_tokens":8},"total_tokens":120}})";

TEST(Translate_responses, ReadsAResponse) {
    Response response;
    ASSERT_TRUE(read_response(Dialect::responses, kResponse, response));
    EXPECT_EQ(response.id, R"("resp_1")");
    EXPECT_EQ(response.model, R"("gpt-5")");
    EXPECT_EQ(response.created, 1754000000);
    EXPECT_EQ(response.stop, Stop::tool_use);
    ASSERT_EQ(response.content.size(), 4u);
    EXPECT_EQ(response.content[0].kind, PartKind::reasoning);
    EXPECT_EQ(response.content[0].signature, R"("enc")");
    EXPECT_EQ(response.content[1].text, R"("Hello \"you\"")");
    EXPECT_EQ(response.content[2].id, R"("call_1")");
    EXPECT_EQ(response.content[2].arguments, R"("{\"a\":1}")");
    EXPECT_EQ(json::text_of(response.content[3].arguments), R"({"input":"diff"})");
    EXPECT_EQ(response.usage.input, 100);
    EXPECT_EQ(response.usage.cached, 40);
    EXPECT_EQ(response.usage.output, 20);
    EXPECT_EQ(response.usage.reasoning, 8);
    EXPECT_TRUE(response.usage.found);

    Response incomplete;
    ASSERT_TRUE(read_response(Dialect::responses,
                              R"({"object":"response","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[]})",
                              incomplete));
    EXPECT_EQ(incomplete.stop, Stop::max_tokens);
    Response not_one;
    EXPECT_FALSE(read_response(Dialect::responses, R"({"choices":[]})", not_one));
}

TEST(Translate_responses, ResponseRoundTrip) {
    Request request;  // the caller's: apply_patch is a custom tool
    ASSERT_FALSE(read_request(Dialect::responses, kCodexRequest, request));
    Response response;
    ASSERT_TRUE(read_response(Dialect::responses, kResponse, response));
    std::string out;
    write_response(Dialect::responses, response, answer_options("x", 5, "req-1", &request), out);
    EXPECT_NE(out.find(R"({"id":"resp_1","object":"response","created_at":1754000000,"status":"completed","error":null,"incomplete_details":null,"model":"gpt-5","output":[)"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find(R"("type":"custom_tool_call","status":"completed","call_id":"call_2","name":"apply_patch","input":"diff"})"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find(R"("type":"function_call","status":"completed","call_id":"call_1","name":"shell","arguments":"{\"a\":1}"})"),
              std::string::npos);
    EXPECT_NE(out.find(R"("id":"fc_)"), std::string::npos);  // an item id of its own, not the call id
    EXPECT_NE(out.find(R"("total_tokens":120)"), std::string::npos);
    Response again;
    ASSERT_TRUE(read_response(Dialect::responses, out, again));
    ASSERT_EQ(again.content.size(), response.content.size());
    for (std::size_t i = 0; i < again.content.size(); ++i) {
        EXPECT_EQ(again.content[i].kind, response.content[i].kind);
        EXPECT_EQ(again.content[i].text, response.content[i].text);
        EXPECT_EQ(again.content[i].id, response.content[i].id);
        EXPECT_EQ(json::text_of(again.content[i].arguments), json::text_of(response.content[i].arguments));
    }
    EXPECT_EQ(again.stop, Stop::tool_use);
    EXPECT_EQ(again.usage.cached, 40);

    Response cut;
    cut.content.push_back(text_part(R"("par")"));
    cut.stop = Stop::max_tokens;
    std::string written;
    write_response(Dialect::responses, cut, answer_options("m", 7, "r"), written);
    EXPECT_NE(written.find(R"("status":"incomplete","error":null,"incomplete_details":{"reason":"max_output_tokens"},"model":"m")"),
              std::string::npos)
        << written;
    EXPECT_NE(written.find(R"("id":")" + json::make_id("resp_", "r", 0) + "\""), std::string::npos);
    EXPECT_NE(written.find(R"("created_at":7)"), std::string::npos);
}

TEST(Translate_responses, Errors) {
    Error error;
    constexpr std::string_view body =
        R"({"error":{"message":"Bad \"x\"","type":"invalid_request_error","param":"input","code":"bad_input"}})";
    ASSERT_TRUE(read_error(Dialect::responses, body, 400, error));
    EXPECT_EQ(error.status, 400);
    EXPECT_EQ(error.message, R"("Bad \"x\"")");
    EXPECT_EQ(error.type, R"("invalid_request_error")");
    EXPECT_EQ(error.code, R"("bad_input")");
    EXPECT_EQ(error.param, R"("input")");
    std::string out;
    write_error(Dialect::responses, error, out);
    EXPECT_EQ(out, body);
    Error not_one;
    EXPECT_FALSE(read_error(Dialect::responses, R"({"detail":"x"})", 500, not_one));

    const Error overloaded = error_of(529, R"("overloaded_error")", R"("busy")");
    out.clear();
    write_error(Dialect::responses, overloaded, out);
    EXPECT_EQ(out, R"({"error":{"message":"busy","type":"server_error","param":null,"code":null}})");
}

// --- Streams ----------------------------------------------------------------------------------

std::string describe(const Event& e) {
    std::string s;
    switch (e.kind) {
        case Event::Kind::start: s = "start " + std::string(e.id) + " " + std::string(e.model) + " " + std::to_string(e.created); break;
        case Event::Kind::block_start:
            s = "block_start " + std::to_string(static_cast<int>(e.block)) + " " + std::to_string(e.index);
            if (!e.name.empty()) s += " " + std::string(e.id) + " " + std::string(e.name);
            break;
        case Event::Kind::delta: s = "delta " + std::to_string(e.index) + " " + std::string(e.text); break;
        case Event::Kind::signature: s = "signature " + std::string(e.text); break;
        case Event::Kind::sources: s = "sources " + std::string(e.id); break;
        case Event::Kind::citation: s = "citation"; break;
        case Event::Kind::block_stop: s = "block_stop " + std::to_string(e.index); break;
        case Event::Kind::finish:
            s = "finish " + std::to_string(static_cast<int>(e.stop)) + " " + std::to_string(e.usage.input) + "/" +
                std::to_string(e.usage.cached) + "/" + std::to_string(e.usage.output) + "/" + std::to_string(e.usage.reasoning);
            break;
        case Event::Kind::usage: s = "usage"; break;
        case Event::Kind::error: s = "error " + std::string(e.error.type) + " " + std::string(e.error.message); break;
        case Event::Kind::done: s = "done"; break;
    }
    return s;
}

struct Collect final : EventSink {
    std::vector<std::string> seen;
    void on(const Event& event) override { seen.push_back(describe(event)); }
};

std::vector<std::string> read_stream(std::string_view sse, Usage* usage = nullptr) {
    simdjson::ondemand::parser parser;
    auto reader = make_reader(Dialect::responses, parser);
    Collect sink;
    SseSplitter splitter;
    splitter.feed(sse, [&](std::string_view name, std::string_view data) { reader->event(name, data, sink); });
    splitter.finish([&](std::string_view name, std::string_view data) { reader->event(name, data, sink); });
    reader->end(sink);
    if (usage) *usage = reader->usage();
    return sink.seen;
}

const std::vector<std::string> kOpenAiEvents{
    R"(start "resp_68a1" "gpt-5-2025-08-07" 1754000000)",
    "block_start 1 0",
    R"(delta 0 "**Checking weather**")",
    R"(delta 0 "\n\n")",
    R"(delta 0 "Call the tool.")",
    R"(signature "gAAAAB3nc==")",
    "block_stop 0",
    "block_start 0 1",
    R"(delta 1 "Let me \"check\"")",
    R"(delta 1 " \u00e9t\u00e9.")",
    "block_stop 1",
    R"(block_start 2 2 "call_Wx1" "get_weather")",
    R"(delta 2 "{\"city\":")",
    R"(delta 2 "\"Paris\"}")",
    "block_stop 2",
    "finish 4 812/512/96/64",
    "done",
};

TEST(Translate_responses, ReadsARecordedOpenAiStream) {
    Usage usage;
    EXPECT_EQ(read_stream(read_data("openai_tool_call.sse"), &usage), kOpenAiEvents);
    EXPECT_TRUE(usage.found);
    EXPECT_EQ(usage.input, 812);
    EXPECT_EQ(usage.output, 96);
}

TEST(Translate_responses, ReadsALlamaServerStream) {
    // Items interleaved without their done events until the end; fields sorted by name.
    const std::vector<std::string> expected{
        R"(start "resp_ll1"  0)",
        "block_start 1 0",
        R"(delta 0 "Think.")",
        "block_stop 0",
        "block_start 0 1",
        R"(delta 1 "Hi")",
        "block_stop 1",
        R"(block_start 2 2 "call_7" "ls")",
        R"(delta 2 "{}")",
        "block_stop 2",
        "finish 4 20/0/5/0",
        "done",
    };
    EXPECT_EQ(read_stream(read_data("llama_server.sse")), expected);
}

TEST(Translate_responses, ReadsCustomToolCallsAsInputArguments) {
    const std::string sse =
        "data: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"type\":\"custom_tool_call\",\"call_id\":\"c1\",\"name\":\"apply_patch\",\"input\":\"\"}}\n\n"
        "data: {\"type\":\"response.custom_tool_call_input.delta\",\"delta\":\"a\\\"b\"}\n\n"
        "data: {\"type\":\"response.custom_tool_call_input.delta\",\"delta\":\"\\n\"}\n\n"
        "data: {\"type\":\"response.output_item.done\",\"item\":{\"type\":\"custom_tool_call\",\"call_id\":\"c1\",\"name\":\"apply_patch\",\"input\":\"a\\\"b\\n\"}}\n\n"
        "data: {\"type\":\"response.incomplete\",\"response\":{\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":\"max_output_tokens\"}}}\n\n";
    const auto events = read_stream(sse);
    ASSERT_EQ(events.size(), 8u);
    EXPECT_EQ(events[0], "start   0");
    EXPECT_EQ(events[1], R"(block_start 2 0 "c1" "apply_patch")");
    // The pieces, joined, are the string literal of {"input":"a\"b\n"}.
    const std::string joined = R"("{\"input\":\"a\\\"b)" R"(\\n)" R"(\"}")";
    EXPECT_EQ(events[2] + events[3] + events[4],
              std::string("delta 0 ") + R"("{\"input\":\"a\\\"b")" + "delta 0 " + R"("\\n")" + "delta 0 " + R"("\"}")");
    EXPECT_EQ(json::text_of(joined), R"({"input":"a\"b\n"})");
    EXPECT_EQ(events[6], "finish 2 0/0/0/0");
}

TEST(Translate_responses, ReadsErrors) {
    EXPECT_EQ(read_stream("data: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"slow\",\"param\":null}\n\n"),
              (std::vector<std::string>{R"(error "rate_limit_exceeded" "slow")"}));
    const auto failed = read_stream(
        "data: {\"type\":\"response.created\",\"response\":{\"id\":\"r\"}}\n\n"
        "data: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"boom\"}}}\n\n");
    EXPECT_EQ(failed, (std::vector<std::string>{R"(start "r"  0)", R"(error "server_error" "boom")"}));
}

// The events of an answer from any dialect: reasoning, text, a tool call, a custom tool call.
std::vector<Event> answer_events() {
    std::vector<Event> events;
    const auto add = [&](Event::Kind kind, auto&& fill) {
        Event e;
        e.kind = kind;
        fill(e);
        events.push_back(e);
    };
    add(Event::Kind::start, [](Event& e) { e.id = R"("msg_up")"; e.model = R"("claude")"; e.created = 9; });
    add(Event::Kind::block_start, [](Event& e) { e.block = BlockKind::reasoning; });
    add(Event::Kind::delta, [](Event& e) { e.block = BlockKind::reasoning; e.text = R"("hm")"; });
    add(Event::Kind::signature, [](Event& e) { e.block = BlockKind::reasoning; e.text = R"("sig")"; });
    add(Event::Kind::block_stop, [](Event& e) { e.block = BlockKind::reasoning; });
    add(Event::Kind::block_start, [](Event& e) { e.index = 1; });
    add(Event::Kind::delta, [](Event& e) { e.index = 1; e.text = R"("Hel")"; });
    add(Event::Kind::delta, [](Event& e) { e.index = 1; e.text = R"("lo \"x\"")"; });
    add(Event::Kind::block_stop, [](Event& e) { e.index = 1; });
    add(Event::Kind::block_start, [](Event& e) { e.index = 2; e.block = BlockKind::tool_call; e.id = R"("toolu_1")"; e.name = R"("shell")"; });
    add(Event::Kind::delta, [](Event& e) { e.index = 2; e.block = BlockKind::tool_call; e.text = R"("{\"cmd\":")"; });
    add(Event::Kind::delta, [](Event& e) { e.index = 2; e.block = BlockKind::tool_call; e.text = R"("\"ls\"}")"; });
    add(Event::Kind::block_stop, [](Event& e) { e.index = 2; e.block = BlockKind::tool_call; });
    add(Event::Kind::block_start, [](Event& e) { e.index = 3; e.block = BlockKind::tool_call; e.id = R"("toolu_2")"; e.name = R"("apply_patch")"; });
    add(Event::Kind::delta, [](Event& e) { e.index = 3; e.block = BlockKind::tool_call; e.text = R"("{\"input\":\"p\\\"q\"}")"; });
    add(Event::Kind::block_stop, [](Event& e) { e.index = 3; e.block = BlockKind::tool_call; });
    add(Event::Kind::finish, [](Event& e) {
        e.stop = Stop::tool_use;
        e.usage.input = 10;
        e.usage.cached = 2;
        e.usage.output = 7;
        e.usage.reasoning = 3;
        e.usage.found = true;
    });
    add(Event::Kind::done, [](Event&) {});
    return events;
}

Request custom_tool_request() {
    Request request;
    Tool tool;
    tool.name = R"("apply_patch")";
    tool.custom = true;
    request.tools.push_back(tool);
    return request;
}

std::string write_stream(const AnswerOptions& options) {
    auto writer = make_writer(Dialect::responses, options);
    std::string out;
    for (const auto& event : answer_events()) writer->write(event, out);
    return out;
}

// The data of each event of a written stream, checked for its `event:` line's twin `type`.
std::vector<std::string> datas(const std::string& sse) {
    std::vector<std::string> out;
    SseSplitter splitter;
    splitter.feed(sse, [&](std::string_view name, std::string_view data) {
        EXPECT_NE(data.find("{\"type\":\"" + std::string(name) + "\""), std::string_view::npos) << data;
        out.emplace_back(data);
    });
    return out;
}

TEST(Translate_responses, WritesTheWholeGrammar) {
    const Request request = custom_tool_request();
    const std::string sse = write_stream(answer_options("gpt-5", 1, "req-9", &request));
    const auto events = datas(sse);
    std::vector<std::string> types;
    std::int64_t last = -1;
    for (const auto& data : events) {
        const auto at = data.find("\"sequence_number\":");
        ASSERT_NE(at, std::string::npos);
        const std::int64_t n = std::stoll(data.substr(at + 18));
        EXPECT_EQ(n, last + 1);
        last = n;
        types.push_back(data.substr(9, data.find('"', 9) - 9));
    }
    const std::vector<std::string> expected{
        "response.created", "response.in_progress",
        "response.output_item.added", "response.reasoning_summary_part.added", "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done", "response.reasoning_summary_part.done", "response.output_item.done",
        "response.output_item.added", "response.content_part.added", "response.output_text.delta",
        "response.output_text.delta", "response.output_text.done", "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done",
        "response.output_item.added", "response.custom_tool_call_input.delta", "response.custom_tool_call_input.done",
        "response.output_item.done",
        "response.completed"};
    EXPECT_EQ(types, expected);
    // Another dialect's id (msg_up) gives way to a Responses one, made from the request id.
    EXPECT_NE(events[0].find(R"("response":{"id":"resp_37ae88667d89b86b28e7ed42","object":"response","created_at":9,)"
                             R"("status":"in_progress")"),
              std::string::npos)
        << events[0];
    EXPECT_NE(events[0].find(R"("output":[],"usage":null)"), std::string::npos);
    EXPECT_NE(events[12].find(R"("text":"Hello \"x\"")"), std::string::npos) << events[12];
    // output_item.done carries the whole call, as Codex reads it.
    EXPECT_NE(events[19].find(R"("type":"function_call","status":"completed","call_id":"toolu_1","name":"shell","arguments":"{\"cmd\":\"ls\"}"})"),
              std::string::npos)
        << events[19];
    EXPECT_NE(events[22].find(R"("input":"p\"q")"), std::string::npos) << events[22];
    EXPECT_NE(events[23].find(R"("type":"custom_tool_call","status":"completed","call_id":"toolu_2","name":"apply_patch","input":"p\"q"})"),
              std::string::npos)
        << events[23];
    // response.completed: every item whole, and the usage.
    const std::string& completed = events.back();
    EXPECT_NE(completed.find(R"("status":"completed")"), std::string::npos);
    EXPECT_NE(completed.find(R"("summary":[{"type":"summary_text","text":"hm"}],"encrypted_content":"sig")"), std::string::npos)
        << completed;
    EXPECT_NE(completed.find(R"("text":"Hello \"x\"")"), std::string::npos);
    EXPECT_NE(completed.find(R"("arguments":"{\"cmd\":\"ls\"}")"), std::string::npos);
    EXPECT_NE(completed.find(R"("input":"p\"q")"), std::string::npos);
    EXPECT_NE(completed.find(R"("usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":2},"output_tokens":7,"output_tokens_details":{"reasoning_tokens":3},"total_tokens":17})"),
              std::string::npos)
        << completed;
    EXPECT_EQ(sse.substr(0, 24), "event: response.created\n");
}

TEST(Translate_responses, WrittenStreamReadsBack) {
    const std::string sse = write_stream(answer_options("gpt-5", 1, "req-9"));
    const std::vector<std::string> expected{
        R"(start "resp_37ae88667d89b86b28e7ed42" "claude" 9)",
        "block_start 1 0",
        R"(delta 0 "hm")",
        R"(signature "sig")",
        "block_stop 0",
        "block_start 0 1",
        R"(delta 1 "Hel")",
        R"(delta 1 "lo \"x\"")",
        "block_stop 1",
        R"(block_start 2 2 "toolu_1" "shell")",
        R"(delta 2 "{\"cmd\":")",
        R"(delta 2 "\"ls\"}")",
        "block_stop 2",
        R"(block_start 2 3 "toolu_2" "apply_patch")",
        R"(delta 3 "{\"input\":\"p\\\"q\"}")",
        "block_stop 3",
        "finish 4 10/2/7/3",
        "done",
    };
    EXPECT_EQ(read_stream(sse), expected);
}

TEST(Translate_responses, MaxTokensEndsIncomplete) {
    auto writer = make_writer(Dialect::responses, answer_options("m", 0, "s"));
    std::string out;
    Event e;
    e.kind = Event::Kind::start;
    writer->write(e, out);
    e.kind = Event::Kind::finish;
    e.stop = Stop::max_tokens;
    writer->write(e, out);
    e.kind = Event::Kind::done;
    writer->write(e, out);
    EXPECT_NE(out.find("event: response.incomplete\n"), std::string::npos);
    EXPECT_NE(out.find(R"("status":"incomplete","error":null,"incomplete_details":{"reason":"max_output_tokens"})"),
              std::string::npos)
        << out;
    EXPECT_EQ(read_stream(out).at(1), "finish 2 0/0/0/0");
}

TEST(Translate_responses, FailAndKeepalive) {
    auto writer = make_writer(Dialect::responses, answer_options("m", 0, "s"));
    std::string out;
    writer->keepalive(out);
    EXPECT_EQ(out, ": keep-alive\n\n");
    out.clear();
    Event text;
    text.kind = Event::Kind::block_start;
    writer->write(text, out);  // no start event: response.created comes first anyway
    text.kind = Event::Kind::delta;
    text.text = R"("par")";
    writer->write(text, out);
    writer->fail(error_of(504, R"("timeout_error")", R"("upstream timed out")"), out);
    const auto events = datas(out);
    ASSERT_GE(events.size(), 3u);
    EXPECT_EQ(events.front().substr(0, 27), R"({"type":"response.created",)");
    EXPECT_NE(events.back().find(R"({"type":"response.failed",)"), std::string::npos);
    EXPECT_NE(events.back().find(R"("status":"failed","error":{"code":"server_error","message":"upstream timed out"})"),
              std::string::npos)
        << events.back();
    EXPECT_NE(events.back().find(R"("text":"par")"), std::string::npos);  // what came so far
    const std::size_t size = out.size();
    Event done;
    done.kind = Event::Kind::done;
    writer->write(done, out);
    EXPECT_EQ(out.size(), size);  // nothing after the end
    EXPECT_EQ(read_stream(out).back(), R"(error "server_error" "upstream timed out")");
}

std::string relay(const std::vector<std::string_view>& reads, const AnswerOptions& options) {
    simdjson::ondemand::parser parser;
    StreamTranslator translator(Dialect::responses, Dialect::responses, parser, options);
    std::string out;
    for (auto read : reads) translator.feed(read, out);
    translator.end(out);
    return out;
}

TEST(Translate_responses, AnyCutIntoTwoReadsGivesTheSameStream) {
    const Request request = custom_tool_request();
    const AnswerOptions options = answer_options("gpt-5", 1, "req-3", &request);
    for (const std::string& sse :
         {read_data("openai_tool_call.sse"), read_data("llama_server.sse"), write_stream(options)}) {
        ASSERT_FALSE(sse.empty());
        const std::string whole = relay({sse}, options);
        ASSERT_NE(whole.find("event: response.completed\n"), std::string::npos);
        for (std::size_t cut = 0; cut <= sse.size(); ++cut) {
            const std::string_view view(sse);
            ASSERT_EQ(relay({view.substr(0, cut), view.substr(cut)}, options), whole) << "cut at " << cut;
        }
    }
}

TEST(Translate_responses, RelayedOpenAiStreamKeepsItsMeaning) {
    const AnswerOptions options = answer_options("gpt-5", 1, "req-3");
    const std::string relayed = relay({read_data("openai_tool_call.sse")}, options);
    EXPECT_EQ(read_stream(relayed), kOpenAiEvents);
}

}  // namespace
}  // namespace switchyard::translate
