// The Anthropic Messages dialect's readers and writers (translate/dialects/messages.cpp): request
// bodies as Claude Code sends them, whole answers, errors, and SSE streams read, written and relayed
// however the reads cut them.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "translate/dialect.hpp"
#include "translate/json.hpp"
#include "translate/stream.hpp"

namespace switchyard::translate {
namespace {

std::string load(const std::string& name) {
    std::ifstream in(std::string(SWITCHYARD_SOURCE_DIR) + "/tests/data/translate/messages/" + name, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string s(Json json) { return std::string(json); }

std::string write_messages_request(const Request& request, std::int64_t default_max_tokens = 4096) {
    std::string out;
    WriteOptions options;
    options.default_max_tokens = default_max_tokens;
    auto error = write_request(Dialect::messages, request, options, out);
    EXPECT_FALSE(error) << (error ? error->message : "");
    return out;
}

// --- Requests --------------------------------------------------------------------------------

TEST(MessagesRequest, ReadsClaudeCodeBody) {
    const std::string body = load("claude_code_request.json");
    Request request;
    ASSERT_FALSE(read_request(Dialect::messages, body, request));
    EXPECT_EQ(s(request.model), "\"claude-sonnet-4-5-20250929\"");
    EXPECT_EQ(request.max_tokens, 32000);
    EXPECT_TRUE(request.stream);
    ASSERT_EQ(request.system.size(), 2u);
    EXPECT_TRUE(request.system[0].cache_control.empty());
    EXPECT_EQ(s(request.system[1].cache_control), R"({"type": "ephemeral"})");
    EXPECT_EQ(s(request.user), "\"user_2f8a_account__session_5b1c\"");
    EXPECT_TRUE(request.reasoning.enabled);
    EXPECT_EQ(request.reasoning.budget, 31999);
    ASSERT_EQ(request.stop.size(), 1u);
    EXPECT_EQ(s(request.stop[0]), R"("\n\nHuman:")");

    ASSERT_EQ(request.tools.size(), 2u);
    EXPECT_EQ(s(request.tools[0].name), "\"get_weather\"");
    EXPECT_TRUE(request.tools[1].parameters.starts_with("{\"type\": \"object\""));
    EXPECT_EQ(s(request.tools[1].cache_control), R"({"type": "ephemeral"})");
    EXPECT_EQ(request.tool_choice.mode, ToolChoice::Mode::auto_);
    EXPECT_EQ(request.tool_choice.parallel, false);

    ASSERT_EQ(request.messages.size(), 4u);  // consecutive user messages stay as they came
    const auto& assistant = request.messages[1];
    EXPECT_EQ(assistant.role, Role::assistant);
    ASSERT_EQ(assistant.parts.size(), 3u);
    EXPECT_EQ(assistant.parts[0].kind, PartKind::reasoning);
    EXPECT_EQ(s(assistant.parts[0].text), R"("The user wants the weather in \"Paris\".")");
    EXPECT_EQ(s(assistant.parts[0].signature), "\"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds\"");
    const Part& call = assistant.parts[2];
    EXPECT_EQ(call.kind, PartKind::tool_call);
    EXPECT_EQ(s(call.id), "\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\"");
    // The input object as OpenAI's arguments string, its text as the caller sent it.
    EXPECT_EQ(s(call.arguments), R"("{\"location\": \"Paris, France\", \"unit\": \"celsius\"}")");

    const auto& results = request.messages[2].parts;
    ASSERT_EQ(results.size(), 3u);
    EXPECT_EQ(results[0].kind, PartKind::tool_result);
    ASSERT_EQ(results[0].content.size(), 1u);
    EXPECT_EQ(s(results[0].content[0].text), "\"18°C, cloudy\"");
    EXPECT_FALSE(results[0].is_error);
    EXPECT_TRUE(results[1].is_error);
    ASSERT_EQ(results[1].content.size(), 1u);
    EXPECT_EQ(s(results[1].content[0].text), "\"Error: not found\"");
    EXPECT_EQ(s(results[2].cache_control), R"({"type": "ephemeral"})");
    EXPECT_EQ(s(request.messages[3].parts[0].text), "\"And tomorrow?\"");
    EXPECT_TRUE(request.unmapped.empty());
}

TEST(MessagesRequest, WritesWhatItReadAsAFixedPoint) {
    const std::string body = load("claude_code_request.json");
    Request first;
    ASSERT_FALSE(read_request(Dialect::messages, body, first));
    const std::string written = write_messages_request(first);
    Request second;
    ASSERT_FALSE(read_request(Dialect::messages, written, second)) << written;
    EXPECT_EQ(write_messages_request(second), written);
    // The two user messages at the end are one; system blocks keep their cache_control.
    EXPECT_EQ(second.messages.size(), 3u);
    EXPECT_NE(
        written.find(R"("system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.37; cch=9f2c;"},)"
                     R"({"type":"text","text":"You are Claude Code, Anthropic's official CLI for Claude.",)"
                     R"("cache_control":{"type": "ephemeral"}}])"),
        std::string::npos)
        << written;
    EXPECT_NE(written.find(R"("input":{"location": "Paris, France", "unit": "celsius"})"), std::string::npos);
    EXPECT_NE(written.find(R"("thinking":{"type":"enabled","budget_tokens":31999})"), std::string::npos);
    EXPECT_NE(written.find(R"("tool_choice":{"type":"auto","disable_parallel_tool_use":true})"), std::string::npos);
    EXPECT_NE(written.find(R"("metadata":{"user_id":"user_2f8a_account__session_5b1c"})"), std::string::npos);
}

TEST(MessagesRequest, RoundTripsACompactBodyExactly) {
    const std::string body =
        R"({"model":"m","max_tokens":100,"system":"Be brief.","messages":[{"role":"user","content":"Hi"},)"
        R"({"role":"assistant","content":[{"type":"text","text":"Hello"}]},)"
        R"({"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},)"
        R"({"type":"document","source":{"type":"url","url":"https://example.com/a.pdf"},"title":"A"},)"
        R"({"type":"text","text":"What is this?"}]}],"temperature":0.2,"top_k":40,"top_p":0.9,"stream":true})";
    Request request;
    ASSERT_FALSE(read_request(Dialect::messages, body, request));
    EXPECT_EQ(
        write_messages_request(request),
        R"({"model":"m","max_tokens":100,"system":"Be brief.","messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]},)"
        R"({"role":"assistant","content":[{"type":"text","text":"Hello"}]},)"
        R"({"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},)"
        R"({"type":"document","source":{"type":"url","url":"https://example.com/a.pdf"},"title":"A"},)"
        R"({"type":"text","text":"What is this?"}]}],"temperature":0.2,"top_p":0.9,"top_k":40,"stream":true})");
}

TEST(MessagesRequest, MaxTokensIsRequired) {
    Request request;
    const auto error = read_request(Dialect::messages, R"({"model":"m","messages":[]})", request);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->status, 400);
    EXPECT_EQ(error->param, "max_tokens");
    EXPECT_EQ(error->message, "max_tokens: Field required");
}

TEST(MessagesRequest, RefusesABadRoleAndAMalformedField) {
    Request request;
    auto error = read_request(
        Dialect::messages,
        R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"a"},{"role":"tool","content":"x"}]})",
        request);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->status, 400);
    EXPECT_EQ(error->message, "messages.1.role: Input should be 'user' or 'assistant'");  // Anthropic's words
    EXPECT_EQ(error->param, "messages.1.role");
    Request other;
    error = read_request(Dialect::messages, R"({"model":"m","max_tokens":"many","messages":[]})", other);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->param, "max_tokens");
}

// Claude Code 2.1.x (the mid-conversation tool changes beta) sends system messages inside
// `messages`, and context_management.
TEST(MessagesRequest, ReadsClaudeCodeMidConversationSystemMessages) {
    const std::string body =
        R"({"model":"claude-opus-4-5","max_tokens":32000,"stream":true,)"
        R"("messages":[{"role":"user","content":[{"type":"text","text":"Fix the build"}]},)"
        R"({"role":"assistant","content":[{"type":"text","text":"Looking."}]},)"
        R"({"role":"system","content":"The tools changed: Bash is gone."},)"
        R"({"role":"system","content":[{"type":"text","text":"Use Edit.","cache_control":{"type":"ephemeral"}}]},)"
        R"({"role":"user","content":"Go on"}],)"
        R"("system":[{"type":"text","text":"You are Claude Code."}],)"
        R"("context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},)"
        R"("tools":[{"name":"Edit","description":"Edits a file.","input_schema":{"type":"object"}}]})";
    Request request;
    const auto error = read_request(Dialect::messages, body, request);
    ASSERT_FALSE(error) << error->message;
    // The top-level system first (though it came after `messages`), then the messages' in order.
    ASSERT_EQ(request.system.size(), 3u);
    EXPECT_EQ(s(request.system[0].text), R"("You are Claude Code.")");
    EXPECT_EQ(s(request.system[1].text), R"("The tools changed: Bash is gone.")");
    EXPECT_EQ(s(request.system[2].text), R"("Use Edit.")");
    EXPECT_EQ(s(request.system[2].cache_control), R"({"type":"ephemeral"})");
    ASSERT_EQ(request.messages.size(), 3u);
    EXPECT_EQ(request.messages[1].role, Role::assistant);
    EXPECT_EQ(request.messages[2].role, Role::user);
    ASSERT_EQ(request.unmapped.size(), 1u);
    EXPECT_EQ(request.unmapped[0].name, "context_management");
    EXPECT_FALSE(request.unmapped[0].changes_meaning);

    // Translated, the system text is the chat request's system message; context_management is dropped.
    std::string out;
    WriteOptions options;
    options.model = "gpt-5";
    const auto refused = write_request(Dialect::chat, request, options, out);
    ASSERT_FALSE(refused) << refused->message;
    EXPECT_NE(out.find("Bash is gone."), std::string::npos) << out;
    EXPECT_EQ(out.find("context_management"), std::string::npos) << out;
    EXPECT_EQ(out.find("clear_thinking"), std::string::npos) << out;

    Request image;
    const auto not_text = read_request(
        Dialect::messages,
        R"({"model":"m","max_tokens":1,"messages":[{"role":"system","content":[{"type":"image","source":{"type":"url","url":"https://x/y.png"}}]}]})",
        image);
    ASSERT_TRUE(not_text);
    EXPECT_EQ(not_text->param, "messages.0.content");
}

TEST(MessagesRequest, ServerToolsAndMcpServersAreUnmappedAndRefused) {
    const std::string body =
        R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"x"}],"service_tier":"auto",)"
        R"("tools":[{"type":"code_execution_20250522","name":"code_execution"}]})";
    Request request;
    ASSERT_FALSE(read_request(Dialect::messages, body, request));
    EXPECT_TRUE(request.tools.empty());
    ASSERT_EQ(request.unmapped.size(), 2u);
    EXPECT_EQ(request.unmapped[0].name, "service_tier");
    EXPECT_FALSE(request.unmapped[0].changes_meaning);
    EXPECT_EQ(request.unmapped[1].name, "tools");
    EXPECT_TRUE(request.unmapped[1].changes_meaning);
    EXPECT_EQ(s(request.unmapped[1].value), R"({"type":"code_execution_20250522","name":"code_execution"})");
    std::string out;
    auto error = write_request(Dialect::messages, request, {}, out);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->status, 400);
    EXPECT_EQ(error->param, "tools");
    EXPECT_TRUE(out.empty());

    Request mcp;
    ASSERT_FALSE(read_request(Dialect::messages,
                              R"({"model":"m","max_tokens":10,"messages":[],"mcp_servers":[{"type":"url"}]})", mcp));
    error = write_request(Dialect::messages, mcp, {}, out);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->param, "mcp_servers");
}

// Anthropic's client tools (bash, the text editor, memory) are the caller's to run: to another API
// each is a function of its name with its published input, so a local model can call it and the
// caller runs the call as Claude's. Server tools and the computer tool stay a 400 naming them.
TEST(MessagesRequest, AnthropicsClientToolsAreFunctionsElsewhere) {
    const std::string body =
        R"({"model":"m","max_tokens":100,"messages":[{"role":"user","content":"fix it"},)"
        R"({"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"str_replace_based_edit_tool",)"
        R"("input":{"command":"view","path":"/repo/a.py"}}]},)"
        R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"1: x = 1"}]}],)"
        R"("tools":[{"type":"bash_20250124","name":"bash"},)"
        R"({"type":"text_editor_20250728","name":"str_replace_based_edit_tool","max_characters":10000},)"
        R"({"type":"text_editor_20250124","name":"str_replace_editor","cache_control":{"type":"ephemeral"}},)"
        R"({"type":"memory_20250818","name":"memory"}]})";
    Request request;
    ASSERT_FALSE(read_request(Dialect::messages, body, request));
    EXPECT_TRUE(request.unmapped.empty());
    ASSERT_EQ(request.tools.size(), 4u);
    EXPECT_EQ(s(request.tools[0].name), R"("bash")");
    EXPECT_EQ(s(request.tools[2].cache_control), R"({"type":"ephemeral"})");
    for (const Tool& tool : request.tools) {
        simdjson::dom::parser parser;
        simdjson::dom::element schema;
        ASSERT_EQ(parser.parse(std::string(tool.parameters)).get(schema), simdjson::SUCCESS) << tool.parameters;
        EXPECT_EQ(std::string_view(schema["type"]), "object");
        simdjson::dom::parser text_parser;
        simdjson::dom::element description;
        ASSERT_EQ(text_parser.parse(std::string(tool.description)).get(description), simdjson::SUCCESS) << tool.description;
        EXPECT_TRUE(description.is_string());
    }
    std::string out;
    ASSERT_FALSE(write_request(Dialect::chat, request, {.model = "qwen3-coder"}, out));
    EXPECT_NE(out.find(R"({"type":"function","function":{"name":"bash","description":"Run a command in a persistent bash shell)"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find(R"("name":"str_replace_based_edit_tool","description":"View, create and edit text files.)"),
              std::string::npos)
        << out;
    // The 2025-07 editor has no undo_edit; the 2025-01 one has.
    const std::size_t editor = out.find(R"("name":"str_replace_based_edit_tool")");
    const std::size_t old_editor = out.find(R"("name":"str_replace_editor")");
    ASSERT_NE(old_editor, std::string::npos);
    EXPECT_NE(out.find(R"("enum":["view","create","str_replace","insert"]})", editor), std::string::npos) << out;
    EXPECT_LT(out.find(R"("enum":["view","create","str_replace","insert"]})", editor), old_editor) << out;
    EXPECT_NE(out.find(R"("enum":["view","create","str_replace","insert","undo_edit"]})", old_editor), std::string::npos) << out;
    EXPECT_NE(out.find(R"(insert adds new_str after line insert_line; undo_edit reverts the last edit of the file.")", old_editor),
              std::string::npos)
        << out;
    EXPECT_NE(out.find(R"(insert adds new_str after line insert_line.","parameters")", editor), std::string::npos) << out;
    // The earlier call and its result cross as any function's.
    EXPECT_NE(out.find(R"("tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"str_replace_based_edit_tool",)"
                       R"("arguments":"{\"command\":\"view\",\"path\":\"/repo/a.py\"}"}}])"),
              std::string::npos)
        << out;
    out.clear();
    ASSERT_FALSE(write_request(Dialect::responses, request, {.model = "gpt-5"}, out));
    EXPECT_NE(out.find(R"({"type":"function","name":"memory","description":"A memory directory)"), std::string::npos) << out;

    // A server tool, and the computer tool, are named in the refusal.
    for (const std::string_view tool : {R"({"type":"web_fetch_20250910","name":"web_fetch","max_uses":5})",
                                        R"({"type":"computer_20250124","name":"computer","display_width_px":1024,"display_height_px":768})"}) {
        // (the body outlives the request, which views it)
        const std::string with_tool =
            R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"x"}],"tools":[)" + std::string(tool) + "]}";
        Request refused;
        ASSERT_FALSE(read_request(Dialect::messages, with_tool, refused));
        out.clear();
        const auto error = write_request(Dialect::chat, refused, {.model = "qwen3-coder"}, out);
        ASSERT_TRUE(error);
        EXPECT_EQ(error->status, 400);
        EXPECT_EQ(error->param, "tools");
        EXPECT_NE(error->message.find(std::string(tool).substr(0, 30)), std::string::npos) << error->message;
    }
}

// Found by the fuzz replay: a tool_choice of type tool with no name was written as `"name":}`.
TEST(MessagesRequest, ANamedToolChoiceWithoutItsNameIsRefused) {
    Request request;
    const auto error = read_request(
        Dialect::messages, R"({"model":"m","max_tokens":10,"messages":[],"tool_choice":{"type":"tool","nam.e":"bash"}})", request);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->status, 400);
    EXPECT_EQ(error->param, "tool_choice.name");
}

TEST(MessagesRequest, RefusesWhatItCannotSay) {
    Request request;
    request.model = "\"m\"";
    request.unmapped.push_back({"n", "2", true});
    request.unmapped.push_back({"logit_bias", "{}", false});
    std::string out;
    auto error = write_request(Dialect::messages, request, {}, out);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->param, "n");

    request.unmapped.erase(request.unmapped.begin());
    EXPECT_FALSE(write_request(Dialect::messages, request, {}, out));  // a harmless field is dropped
    EXPECT_EQ(out.find("logit_bias"), std::string::npos);

    request.format.kind = Format::Kind::json_schema;
    error = write_request(Dialect::messages, request, {}, out);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->param, "response_format");
}

// The common form as another dialect (OpenAI chat) leaves it.
Request chat_like_request() {
    Request request;
    request.model = "\"gpt-4o\"";
    Part system;
    system.text = "\"You are helpful.\"";
    request.system.push_back(system);
    Message user;
    user.role = Role::user;
    Part image;
    image.kind = PartKind::image;
    image.url = "\"data:image/jpeg;base64,/9j/4AAQ\"";
    Part https_image;
    https_image.kind = PartKind::image;
    https_image.url = "\"https://example.com/cat.png\"";
    Part text;
    text.text = "\"Look\"";
    user.parts = {text, image, https_image};
    request.messages.push_back(user);

    Message assistant;
    assistant.role = Role::assistant;
    Part unsigned_thinking;  // a local model's reasoning_content: Anthropic would refuse it unsigned
    unsigned_thinking.kind = PartKind::reasoning;
    unsigned_thinking.text = "\"hmm\"";
    Part call;
    call.kind = PartKind::tool_call;
    call.id = "\"call_abc\"";
    call.name = "\"lookup\"";
    call.arguments = R"("{\"q\":\"cats\"}")";
    Part no_args = call;
    no_args.id = "\"call_def\"";
    no_args.arguments = "\"\"";
    assistant.parts = {unsigned_thinking, call, no_args};
    request.messages.push_back(assistant);

    // Chat sends each result as its own "tool" message, then the user's next words.
    Part result;
    result.kind = PartKind::tool_result;
    result.id = "\"call_abc\"";
    Part result_text;
    result_text.text = "\"found\"";
    result.content.push_back(result_text);
    Message tool1;
    tool1.parts = {result};
    Message tool2 = tool1;
    tool2.parts[0].id = "\"call_def\"";
    tool2.parts[0].is_error = true;
    Message next;
    Part more;
    more.text = "\"go on\"";
    next.parts = {more};
    request.messages.push_back(next);  // text before the results: they must still go first
    request.messages.push_back(tool1);
    request.messages.push_back(tool2);

    Tool with_schema;
    with_schema.name = "\"lookup\"";
    with_schema.parameters = R"({"type":"object","properties":{"q":{"type":"string"}}})";
    Tool without_schema;
    without_schema.name = "\"now\"";
    request.tools = {with_schema, without_schema};
    request.tool_choice.mode = ToolChoice::Mode::required;
    request.tool_choice.parallel = false;
    request.stop = {"\"END\""};
    request.user = "\"u1\"";
    request.temperature = "0.7";
    return request;
}

TEST(MessagesRequest, WritesAnotherDialectsRequest) {
    const Request request = chat_like_request();
    EXPECT_EQ(
        write_messages_request(request, 1234),
        R"({"model":"gpt-4o","max_tokens":1234,"system":"You are helpful.","messages":[)"
        R"({"role":"user","content":[{"type":"text","text":"Look"},)"
        R"({"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/4AAQ"}},)"
        R"({"type":"image","source":{"type":"url","url":"https://example.com/cat.png"}}]},)"
        R"({"role":"assistant","content":[{"type":"tool_use","id":"call_abc","name":"lookup","input":{"q":"cats"}},)"
        R"({"type":"tool_use","id":"call_def","name":"lookup","input":{}}]},)"
        R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"call_abc","content":[{"type":"text","text":"found"}]},)"
        R"({"type":"tool_result","tool_use_id":"call_def","content":[{"type":"text","text":"found"}],"is_error":true},)"
        R"({"type":"text","text":"go on"}]}],)"
        R"("tools":[{"name":"lookup","input_schema":{"type":"object","properties":{"q":{"type":"string"}}}},)"
        R"({"name":"now","input_schema":{"type":"object","properties":{}}}],)"
        R"("tool_choice":{"type":"any","disable_parallel_tool_use":true},)"
        R"("temperature":0.7,"stop_sequences":["END"],"metadata":{"user_id":"u1"}})");
}

TEST(MessagesRequest, TheUpstreamsModelNameWins) {
    Request request = chat_like_request();
    std::string out;
    WriteOptions options;
    options.model = "claude-haiku-4-5";
    ASSERT_FALSE(write_request(Dialect::messages, request, options, out));
    EXPECT_TRUE(out.starts_with(R"({"model":"claude-haiku-4-5","max_tokens":4096,)")) << out;
}

TEST(MessagesRequest, AnEffortBecomesABudgetWithRoomForTheAnswer) {
    Request request = chat_like_request();
    request.reasoning.enabled = true;
    request.reasoning.effort = "\"high\"";
    request.max_tokens = 1000;
    const std::string out = write_messages_request(request);
    EXPECT_NE(out.find(R"("max_tokens":17384,)"), std::string::npos) << out;
    EXPECT_NE(out.find(R"("thinking":{"type":"enabled","budget_tokens":16384})"), std::string::npos) << out;
    EXPECT_EQ(out.find("temperature"), std::string::npos);  // refused by Anthropic beside thinking

    request.reasoning.effort = "\"minimal\"";
    request.reasoning.enabled = false;
    const std::string none = write_messages_request(request);
    EXPECT_EQ(none.find("thinking"), std::string::npos);
    EXPECT_NE(none.find(R"("max_tokens":1000,)"), std::string::npos);
}

TEST(MessagesRequest, ArgumentsThatAreNotAnObjectAre400NamingTheCall) {
    Request request = chat_like_request();
    request.messages[1].parts[1].arguments = R"("{\"q\":")";
    std::string out = "kept";
    const auto error = write_request(Dialect::messages, request, {}, out);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->status, 400);
    EXPECT_NE(error->message.find("call_abc"), std::string::npos);
    EXPECT_EQ(out, "kept");
}

// --- Whole answers ---------------------------------------------------------------------------

constexpr std::string_view kAnswer =
    R"({"id":"msg_01Aq9w938a90dw8q","type":"message","role":"assistant","model":"claude-sonnet-4-5",)"
    R"("content":[{"type":"thinking","thinking":"Paris, then.","signature":"EqQB"},)"
    R"({"type":"redacted_thinking","data":"EmwKAhgB"},)"
    R"({"type":"text","text":"Checking.","citations":null},)"
    R"({"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{"location":"Paris"}}],)"
    R"("stop_reason":"tool_use","stop_sequence":null,)"
    R"("usage":{"input_tokens":10,"cache_creation_input_tokens":200,"cache_read_input_tokens":3000,"output_tokens":42,"service_tier":"standard"}})";

TEST(MessagesResponse, ReadsUsageWithTheCacheCountedIn) {
    Response response;
    ASSERT_TRUE(read_response(Dialect::messages, kAnswer, response));
    EXPECT_EQ(s(response.id), "\"msg_01Aq9w938a90dw8q\"");
    EXPECT_EQ(response.stop, Stop::tool_use);
    EXPECT_TRUE(response.stop_sequence.empty());
    EXPECT_TRUE(response.usage.found);
    EXPECT_EQ(response.usage.input, 3210);
    EXPECT_EQ(response.usage.cached, 3000);
    EXPECT_EQ(response.usage.cache_write, 200);
    EXPECT_EQ(response.usage.output, 42);
    ASSERT_EQ(response.content.size(), 4u);
    EXPECT_EQ(s(response.content[0].signature), "\"EqQB\"");
    EXPECT_EQ(s(response.content[1].redacted), "\"EmwKAhgB\"");
    EXPECT_EQ(response.content[3].kind, PartKind::tool_call);
    EXPECT_EQ(s(response.content[3].arguments), R"("{\"location\":\"Paris\"}")");
}

TEST(MessagesResponse, WritesBackWhatItRead) {
    Response response;
    ASSERT_TRUE(read_response(Dialect::messages, kAnswer, response));
    std::string out;
    write_response(Dialect::messages, response, {}, out);
    EXPECT_EQ(
        out,
        R"({"id":"msg_01Aq9w938a90dw8q","type":"message","role":"assistant","model":"claude-sonnet-4-5",)"
        R"("content":[{"type":"thinking","thinking":"Paris, then.","signature":"EqQB"},)"
        R"({"type":"redacted_thinking","data":"EmwKAhgB"},)"
        R"({"type":"text","text":"Checking."},)"
        R"({"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{"location":"Paris"}}],)"
        R"("stop_reason":"tool_use","stop_sequence":null,)"
        R"("usage":{"input_tokens":10,"cache_creation_input_tokens":200,"cache_read_input_tokens":3000,"output_tokens":42}})");
}

TEST(MessagesResponse, WritesAnotherDialectsAnswerWithAnthropicIds) {
    Response response;
    response.id = "\"chatcmpl-9x\"";
    Part text;
    text.text = "\"Sure\"";
    Part call;
    call.kind = PartKind::tool_call;
    call.id = "\"call_1\"";
    call.name = "\"f\"";
    call.arguments = R"("{\"a\":1}")";
    Part odd = call;
    odd.id = "\"call:2\"";  // not an Anthropic id
    odd.arguments = "\"{broken\"";
    response.content = {text, call, odd};
    response.stop = Stop::tool_use;
    response.usage = {.input = 100, .cached = 60, .cache_write = 0, .output = 7, .reasoning = 0, .found = true};
    AnswerOptions options;
    options.model = "alias";
    options.id_seed = "req-1";
    std::string out;
    write_response(Dialect::messages, response, options, out);
    EXPECT_EQ(
        out,
        R"({"id":")" + json::make_id("msg_", "req-1", 0) +
            R"(","type":"message","role":"assistant","model":"alias","content":[{"type":"text","text":"Sure"},)"
            R"({"type":"tool_use","id":"call_1","name":"f","input":{"a":1}},)"
            R"({"type":"tool_use","id":")" +
            json::make_id("toolu_", "req-1", 2) +
            R"(","name":"f","input":{}}],"stop_reason":"tool_use","stop_sequence":null,)"
            R"("usage":{"input_tokens":40,"cache_creation_input_tokens":0,"cache_read_input_tokens":60,"output_tokens":7}})");
}

TEST(MessagesResponse, AnErrorBodyIsNotAnAnswer) {
    Response response;
    EXPECT_FALSE(
        read_response(Dialect::messages, R"({"type":"error","error":{"type":"api_error","message":"x"}})", response));
}

// --- Errors ----------------------------------------------------------------------------------

TEST(MessagesError, ReadsOverloaded) {
    Error error;
    ASSERT_TRUE(read_error(
        Dialect::messages,
        R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"})", 529,
        error));
    EXPECT_EQ(error.status, 529);
    EXPECT_EQ(s(error.type), "\"overloaded_error\"");
    EXPECT_EQ(s(error.message), "\"Overloaded\"");
    std::string out;
    write_error(Dialect::messages, error, out);
    EXPECT_EQ(out, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
    Error none;
    EXPECT_FALSE(read_error(Dialect::messages, "<html>Bad Gateway</html>", 502, none));
}

TEST(MessagesError, WritesAnthropicsTypeForOthers) {
    struct Case {
        int status;
        Json type;
        std::string_view expected;
    };
    for (const Case& c :
         {Case{400, "\"invalid_request_error\"", "invalid_request_error"}, Case{500, "\"server_error\"", "api_error"},
          Case{502, "\"upstream_error\"", "api_error"}, Case{429, "\"rate_limit_exceeded\"", "rate_limit_error"},
          Case{503, "\"server_error\"", "overloaded_error"}, Case{0, "\"rate_limit_error\"", "rate_limit_error"},
          Case{401, "\"invalid_api_key\"", "authentication_error"},
          // OpenAI's type for a bad key and an unknown model: the status says which.
          Case{401, "\"invalid_request_error\"", "authentication_error"},
          Case{404, "\"invalid_request_error\"", "not_found_error"}}) {
        Error error;
        error.status = c.status;
        error.type = c.type;
        error.message = "\"m\"";
        std::string out;
        write_error(Dialect::messages, error, out);
        EXPECT_EQ(out, R"({"type":"error","error":{"type":")" + std::string(c.expected) + R"(","message":"m"}})")
            << c.status << " " << c.type;
    }
}

// --- Streams ---------------------------------------------------------------------------------

// Events as text, to compare a stream's reading with what it should mean.
struct Recorder final : EventSink {
    std::vector<std::string> lines;
    void on(const Event& e) override {
        std::string line;
        switch (e.kind) {
            case Event::Kind::start:
                line = "start " + s(e.id) + " " + s(e.model) + " in=" + std::to_string(e.usage.input) +
                       " cached=" + std::to_string(e.usage.cached) + " write=" + std::to_string(e.usage.cache_write);
                break;
            case Event::Kind::block_start:
                line = "block_start " + std::to_string(e.index) + " " + std::to_string(static_cast<int>(e.block)) +
                       (e.id.empty() ? "" : " " + s(e.id) + " " + s(e.name));
                break;
            case Event::Kind::delta:
                line = "delta " + std::to_string(e.index) + " " + s(e.text);
                break;
            case Event::Kind::signature:
                line = "signature " + s(e.text);
                break;
            case Event::Kind::sources:
                line = "sources " + s(e.id) + " " + std::to_string(e.sources != nullptr ? e.sources->size() : 0);
                break;
            case Event::Kind::citation:
                line = "citation " + (e.citation != nullptr ? s(e.citation->url) : std::string());
                break;
            case Event::Kind::block_stop:
                line = "block_stop " + std::to_string(e.index);
                break;
            case Event::Kind::finish:
                line = "finish " + std::string(stop_word(Dialect::messages, e.stop)) +
                       " in=" + std::to_string(e.usage.input) + " out=" + std::to_string(e.usage.output);
                break;
            case Event::Kind::usage:
                line = "usage";
                break;
            case Event::Kind::error:
                line = "error " + std::to_string(e.error.status) + " " + s(e.error.type) + " " + s(e.error.message);
                break;
            case Event::Kind::done:
                line = "done";
                break;
        }
        lines.push_back(line);
    }
};

std::vector<std::string> read_stream(std::string_view sse, Usage* usage = nullptr) {
    simdjson::ondemand::parser parser;
    auto reader = make_reader(Dialect::messages, parser);
    Recorder recorder;
    SseSplitter splitter;
    splitter.feed(sse, [&](std::string_view name, std::string_view data) { reader->event(name, data, recorder); });
    splitter.finish([&](std::string_view name, std::string_view data) { reader->event(name, data, recorder); });
    reader->end(recorder);
    if (usage) *usage = reader->usage();
    return recorder.lines;
}

const std::vector<std::string> kToolUseEvents{
    R"(start "msg_01XFDUDYJgAACzvnptvVoYEL" "claude-sonnet-4-5-20250929" in=32060 cached=30000 write=2048)",
    "block_start 0 1",
    R"(delta 0 "The user wants the weather in \"Paris\".")",
    R"(delta 0 " I'll call get_weather.")",
    R"(signature "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds")",
    "block_stop 0",
    "block_start 1 0",
    R"(delta 1 "Let me check ")",
    R"(delta 1 "the weather.\n")",
    "block_stop 1",
    R"(block_start 2 2 "toolu_01T1x1fJ34qAmk2tNTrN7Up6" "get_weather")",
    R"(delta 2 "{\"location\": \"Par")",
    R"(delta 2 "is, France\", \"unit\": \"c")",
    R"(delta 2 "elsius\"}")",
    "block_stop 2",
    "finish tool_use in=32060 out=89",
    "done",
};

TEST(MessagesStream, ReadsARecordedStream) {
    Usage usage;
    EXPECT_EQ(read_stream(load("stream_tool_use.sse"), &usage), kToolUseEvents);
    EXPECT_TRUE(usage.found);
    EXPECT_EQ(usage.input, 32060);
    EXPECT_EQ(usage.cached, 30000);
    EXPECT_EQ(usage.cache_write, 2048);
    EXPECT_EQ(usage.output, 89);
}

// Joins the deltas of the tool call at `index` as one string literal, then as its JSON text.
struct ArgumentsJoiner final : EventSink {
    std::size_t index;
    Json joined = "\"\"";
    Arena arena;
    explicit ArgumentsJoiner(std::size_t i) : index(i) {}
    void on(const Event& e) override {
        if (e.kind == Event::Kind::delta && e.index == index) joined = json::join(joined, "", e.text, arena);
    }
};

TEST(MessagesStream, InputJsonDeltasJoinToTheWholeInput) {
    simdjson::ondemand::parser parser;
    auto reader = make_reader(Dialect::messages, parser);
    ArgumentsJoiner joiner(2);
    SseSplitter splitter;
    splitter.feed(load("stream_tool_use.sse"),
                  [&](std::string_view name, std::string_view data) { reader->event(name, data, joiner); });
    EXPECT_EQ(json::text_of(joiner.joined), R"({"location": "Paris, France", "unit": "celsius"})");
    std::string object;
    EXPECT_TRUE(json::string_to_object(joiner.joined, object));
}

std::string relay(const std::vector<std::string_view>& reads, const AnswerOptions& options) {
    simdjson::ondemand::parser parser;
    StreamTranslator translator(Dialect::messages, Dialect::messages, parser, options);
    std::string out;
    for (auto read : reads) translator.feed(read, out);
    translator.end(out);
    return out;
}

TEST(MessagesStream, TheWritersOutputReadsBackTheSame) {
    AnswerOptions options;
    options.id_seed = "req-7";
    const std::string sse = load("stream_tool_use.sse");
    const std::string written = relay({sse}, options);
    EXPECT_EQ(read_stream(written), kToolUseEvents) << written;
    // Anthropic's grammar, event by event.
    EXPECT_TRUE(
        written.starts_with("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"
                            "\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\",\"role\":\"assistant\","
                            "\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[],\"stop_reason\":null,"
                            "\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,"
                            "\"cache_creation_input_tokens\":2048,\"cache_read_input_tokens\":30000,"
                            "\"output_tokens\":1}}}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n"))
        << written;
    EXPECT_NE(written.find("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,"
                           "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\","
                           "\"name\":\"get_weather\",\"input\":{}}}\n\n"),
              std::string::npos);
    EXPECT_NE(written.find("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                           "\"delta\":{\"type\":\"signature_delta\",\"signature\":"),
              std::string::npos);
    EXPECT_TRUE(written.ends_with(
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\","
        "\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"))
        << written;
}

TEST(MessagesStream, EveryCutIntoTwoReadsGivesTheSameOutput) {
    AnswerOptions options;
    options.id_seed = "req-7";
    const std::string sse = load("stream_tool_use.sse");
    const std::string whole = relay({sse}, options);
    ASSERT_FALSE(whole.empty());
    const std::string_view view(sse);
    for (std::size_t cut = 0; cut <= view.size(); ++cut) {
        ASSERT_EQ(relay({view.substr(0, cut), view.substr(cut)}, options), whole) << "cut at " << cut;
    }
}

// Deltas in Anthropic's own spelling are read without the JSON parser; the same deltas spelled
// otherwise (a space, so the parser reads them) must give the same events, and a delta the parser
// would refuse is refused by both.
TEST(MessagesStream, TheUnparsedDeltaPathReadsWhatTheParserReads) {
    const auto stream = [](std::string_view block_type, std::string_view delta) {
        std::string sse =
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","
            "\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n";
        sse += "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":";
        sse += block_type == "tool_use" ? R"({"type":"tool_use","id":"toolu_1","name":"f","input":{}})"
                                        : block_type == "thinking" ? R"({"type":"thinking","thinking":""})"
                                                                   : R"({"type":"text","text":""})";
        sse += "}\n\nevent: content_block_delta\ndata: ";
        sse += delta;
        sse += "\n\nevent: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n";
        return sse;
    };
    struct Case {
        std::string_view block;
        std::string delta;
    };
    const std::vector<Case> cases{
        {"text", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}})"},
        {"text", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a \"q\" \\ \n \u00e9 \ud83d\ude00 é 😀"}})"},
        {"text", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":""}})"},
        {"thinking", R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}})"},
        {"tool_use", R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\": 1"}})"},
        // what the parser refuses: a bad escape, a raw control character, bad UTF-8, a cut literal
        {"text", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\x"}})"},
        {"text", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"a\tb\"}}"},
        {"text", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"\xc3\x28\"}}"},
        {"text", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\u12"}})"},
        {"text", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"open}})"},
        // more keys, or another key order: the parser's
        {"text", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"},"extra":1})"},
        {"text", R"({"index":0,"type":"content_block_delta","delta":{"text":"x","type":"text_delta"}})"},
    };
    for (const Case& c : cases) {
        const std::string spaced = "{ " + c.delta.substr(1);  // the parser reads this one
        EXPECT_EQ(read_stream(stream(c.block, c.delta)), read_stream(stream(c.block, spaced))) << c.delta;
    }
    // And the plain one is read at all.
    const auto lines = read_stream(stream("text", cases[0].delta));
    EXPECT_NE(std::find(lines.begin(), lines.end(), R"(delta 0 "Hello")"), lines.end());
}

TEST(MessagesStream, ReadsAnErrorEvent) {
    const std::string sse =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"c\","
        "\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n"
        "event: error\ndata: "
        "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    EXPECT_EQ(read_stream(sse), (std::vector<std::string>{R"(start "msg_1" "c" in=5 cached=0 write=0)",
                                                          R"(error 529 "overloaded_error" "Overloaded")"}));
}

TEST(MessagesStream, ACutStreamClosesItsOpenBlockButDoesNotFinish) {
    const std::string sse =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"c\"}}\n\n"
        "event: content_block_start\ndata: "
        "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: content_block_delta\ndata: "
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n";
    EXPECT_EQ(read_stream(sse), (std::vector<std::string>{R"(start "msg_1" "c" in=0 cached=0 write=0)",
                                                          "block_start 0 0", R"(delta 0 "Hel")", "block_stop 0"}));
}

// llama-server's /v1/messages: keys in alphabetical order ("type" last), cached input apart, an
// empty signature for a local model's thinking, a stop sequence.
TEST(MessagesStream, ReadsLlamaServersKeyOrder) {
    const std::string sse =
        "event: message_start\ndata: {\"message\":{\"content\":[],\"id\":\"chatcmpl-x\",\"model\":\"qwen\","
        "\"role\":\"assistant\",\"stop_reason\":null,\"stop_sequence\":null,\"type\":\"message\",\"usage\":"
        "{\"cache_read_input_tokens\":4,\"input_tokens\":6,\"output_tokens\":0}},\"type\":\"message_start\"}\n\n"
        "event: content_block_start\ndata: {\"content_block\":{\"signature\":\"\",\"thinking\":\"\",\"type\":"
        "\"thinking\"},\"index\":0,\"type\":\"content_block_start\"}\n\n"
        "event: content_block_delta\ndata: {\"delta\":{\"thinking\":\"hm\",\"type\":\"thinking_delta\"},\"index\":0,"
        "\"type\":\"content_block_delta\"}\n\n"
        "event: content_block_stop\ndata: {\"index\":0,\"type\":\"content_block_stop\"}\n\n"
        "event: message_delta\ndata: {\"delta\":{\"stop_reason\":\"stop_sequence\",\"stop_sequence\":\"END\"},"
        "\"type\":\"message_delta\",\"usage\":{\"output_tokens\":3}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    Usage usage;
    EXPECT_EQ(read_stream(sse, &usage), (std::vector<std::string>{R"(start "chatcmpl-x" "qwen" in=10 cached=4 write=0)",
                                                                  "block_start 0 1", R"(delta 0 "hm")", "block_stop 0",
                                                                  "finish stop_sequence in=10 out=3", "done"}));
    EXPECT_EQ(usage.output, 3);
    // Relayed, the stop sequence and a made msg_ id (the source's is not Anthropic-shaped) come out.
    AnswerOptions options;
    options.id_seed = "r";
    const std::string out = relay({sse}, options);
    EXPECT_NE(out.find("\"id\":\"" + json::make_id("msg_", "r", 0) + "\""), std::string::npos) << out;
    EXPECT_NE(out.find(R"("delta":{"stop_reason":"stop_sequence","stop_sequence":"END"})"), std::string::npos) << out;
}

Event event_of(Event::Kind kind) {
    Event e;
    e.kind = kind;
    return e;
}

// A source whose usage comes only at the end (OpenAI chat): a finish, then a usage chunk.
TEST(MessagesStream, WritesUsageKnownOnlyAtTheEndInMessageDelta) {
    AnswerOptions options;
    options.model = "alias";
    options.id_seed = "req-9";
    auto writer = make_writer(Dialect::messages, options);
    std::string out;
    Event start = event_of(Event::Kind::start);
    start.id = "\"chatcmpl-1\"";
    writer->write(start, out);
    Event open = event_of(Event::Kind::block_start);
    open.block = BlockKind::tool_call;
    open.id = "\"call_1\"";
    open.name = "\"f\"";
    writer->write(open, out);
    Event piece = event_of(Event::Kind::delta);
    piece.block = BlockKind::tool_call;
    piece.text = R"("{\"a\":")";
    writer->write(piece, out);
    piece.text = R"("1}")";
    writer->write(piece, out);
    Event finish = event_of(Event::Kind::finish);
    finish.stop = Stop::tool_use;
    writer->write(finish, out);  // no block_stop first: the finish closes the block
    Event usage = event_of(Event::Kind::usage);
    usage.usage = {.input = 50, .cached = 20, .cache_write = 0, .output = 9, .reasoning = 0, .found = true};
    writer->write(usage, out);
    writer->write(event_of(Event::Kind::done), out);
    writer->write(piece, out);  // nothing after the end
    const std::string id = json::make_id("msg_", "req-9", 0);
    EXPECT_EQ(out,
              "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"" + id +
                  "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"alias\",\"content\":[],"
                  "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,"
                  "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":0}}}\n\n"
                  "event: ping\ndata: {\"type\": \"ping\"}\n\n"
                  "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
                  "\"content_block\":{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"f\",\"input\":{}}}\n\n"
                  "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                  "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":\"}}\n\n"
                  "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                  "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"1}\"}}\n\n"
                  "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
                  "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\","
                  "\"stop_sequence\":null},\"usage\":{\"input_tokens\":30,\"cache_creation_input_tokens\":0,"
                  "\"cache_read_input_tokens\":20,\"output_tokens\":9}}\n\n"
                  "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    Usage read_usage;
    read_stream(out, &read_usage);
    EXPECT_EQ(read_usage.input, 50);
    EXPECT_EQ(read_usage.cached, 20);
    EXPECT_EQ(read_usage.output, 9);
}

TEST(MessagesStream, FailWritesAnErrorEventAndEnds) {
    auto writer = make_writer(Dialect::messages, {});
    std::string out;
    writer->keepalive(out);
    EXPECT_EQ(out, "event: ping\ndata: {\"type\": \"ping\"}\n\n");
    out.clear();
    Error error;
    error.status = 504;
    error.type = "\"timeout\"";
    error.message = "\"upstream timed out\"";
    writer->fail(error, out);
    writer->write(event_of(Event::Kind::done), out);
    EXPECT_EQ(out,
              "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"timeout_error\","
              "\"message\":\"upstream timed out\"}}\n\n");
    EXPECT_EQ(read_stream(out), (std::vector<std::string>{R"(error 504 "timeout_error" "upstream timed out")"}));
}

}  // namespace
}  // namespace switchyard::translate
