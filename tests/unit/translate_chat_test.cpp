// The chat dialect's reader and writer (translate/dialects/chat.cpp) on bodies and streams as
// OpenAI, llama-server, vLLM and Ollama send them: requests, answers, errors and chunk streams, each
// read into the common form and written back, and streams however their reads are cut.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "translate/dialect.hpp"
#include "translate/json.hpp"
#include "translate/stream.hpp"

// Counts this binary's allocations: a warm stream reader and writer must make none per event. Not
// under AddressSanitizer, whose allocator must see every new and delete (simdjson's shared library
// allocates with its own operator new): the test is skipped there.
#if defined(__SANITIZE_ADDRESS__)
#define SWITCHYARD_COUNTS_ALLOCATIONS 0
#else
#define SWITCHYARD_COUNTS_ALLOCATIONS 1
#endif
static std::atomic<long> g_allocations{0};
#if SWITCHYARD_COUNTS_ALLOCATIONS
void* operator new(std::size_t size) {
    ++g_allocations;
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    ++g_allocations;
    return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
#endif

namespace switchyard::translate {
namespace {

using namespace std::string_literals;

std::string text(Json literal) { return json::text_of(literal); }

// --- Requests --------------------------------------------------------------------------------------

constexpr std::string_view kAgentRequest = R"({
  "model": "gpt-4.1",
  "messages": [
    {"role": "system", "content": "You are terse."},
    {"role": "developer", "content": [{"type": "text", "text": "Use tools \"well\"."}]},
    {"role": "user", "content": [
      {"type": "text", "text": "What is in this image, and the weather in Paris?"},
      {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}
    ]},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_a", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
      {"id": "call_b", "type": "function", "function": {"name": "time", "arguments": "{}"}}
    ]},
    {"role": "tool", "tool_call_id": "call_a", "content": "18C, cloudy"},
    {"role": "tool", "tool_call_id": "call_b", "content": [{"type": "text", "text": "14:02"}]},
    {"role": "user", "content": "Thanks"}
  ],
  "tools": [{"type": "function", "function": {"name": "weather", "description": "Weather now",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "strict": true}},
            {"type": "function", "function": {"name": "time", "parameters": {"type": "object", "properties": {}}}}],
  "tool_choice": {"type": "function", "function": {"name": "weather"}},
  "parallel_tool_calls": false,
  "max_completion_tokens": 512,
  "temperature": 0.2,
  "top_p": 0.9,
  "stop": "END",
  "seed": 7,
  "user": "u-1",
  "prompt_cache_key": "conv-9",
  "reasoning_effort": "low",
  "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": true}},
  "stream": true,
  "stream_options": {"include_usage": true},
  "n": 1,
  "store": false,
  "some_future_field": {"x": 1}
})";

TEST(ChatRequest, ReadsEveryMappedField) {
    Request request;
    ASSERT_FALSE(read_request(Dialect::chat, kAgentRequest, request));
    EXPECT_EQ(text(request.model), "gpt-4.1");
    ASSERT_EQ(request.system.size(), 2u);
    EXPECT_EQ(text(request.system[0].text), "You are terse.");
    EXPECT_EQ(text(request.system[1].text), "Use tools \"well\".");

    ASSERT_EQ(request.messages.size(), 4u);
    const Message& user = request.messages[0];
    ASSERT_EQ(user.parts.size(), 2u);
    EXPECT_EQ(user.parts[1].kind, PartKind::image);
    EXPECT_EQ(text(user.parts[1].url), "data:image/png;base64,iVBORw0KGgo=");
    EXPECT_EQ(text(user.parts[1].detail), "low");

    const Message& assistant = request.messages[1];
    EXPECT_EQ(assistant.role, Role::assistant);
    ASSERT_EQ(assistant.parts.size(), 2u);
    EXPECT_EQ(assistant.parts[0].kind, PartKind::tool_call);
    EXPECT_EQ(text(assistant.parts[0].id), "call_a");
    EXPECT_EQ(text(assistant.parts[0].name), "weather");
    EXPECT_EQ(assistant.parts[0].arguments, R"("{\"city\":\"Paris\"}")");

    // Two tool messages: one user message of two results.
    const Message& results = request.messages[2];
    EXPECT_EQ(results.role, Role::user);
    ASSERT_EQ(results.parts.size(), 2u);
    EXPECT_EQ(results.parts[0].kind, PartKind::tool_result);
    EXPECT_EQ(text(results.parts[0].id), "call_a");
    ASSERT_EQ(results.parts[0].content.size(), 1u);
    EXPECT_EQ(text(results.parts[0].content[0].text), "18C, cloudy");
    EXPECT_EQ(text(results.parts[1].id), "call_b");
    EXPECT_EQ(text(results.parts[1].content[0].text), "14:02");
    EXPECT_EQ(text(request.messages[3].parts[0].text), "Thanks");

    ASSERT_EQ(request.tools.size(), 2u);
    EXPECT_EQ(text(request.tools[0].name), "weather");
    EXPECT_EQ(text(request.tools[0].description), "Weather now");
    EXPECT_EQ(request.tools[0].strict, std::optional<bool>(true));
    EXPECT_EQ(request.tool_choice.mode, ToolChoice::Mode::named);
    EXPECT_EQ(text(request.tool_choice.name), "weather");
    EXPECT_EQ(request.tool_choice.parallel, std::optional<bool>(false));
    EXPECT_EQ(request.max_tokens, std::optional<std::int64_t>(512));
    EXPECT_EQ(request.temperature, "0.2");
    EXPECT_EQ(request.top_p, "0.9");
    ASSERT_EQ(request.stop.size(), 1u);
    EXPECT_EQ(text(request.stop[0]), "END");
    EXPECT_EQ(request.seed, "7");
    EXPECT_EQ(text(request.user), "u-1");
    EXPECT_EQ(text(request.cache_key), "conv-9");
    EXPECT_TRUE(request.reasoning.enabled);
    EXPECT_EQ(text(request.reasoning.effort), "low");
    EXPECT_EQ(request.format.kind, Format::Kind::json_schema);
    EXPECT_EQ(text(request.format.name), "answer");
    EXPECT_EQ(request.format.schema, R"({"type": "object"})");
    EXPECT_TRUE(request.stream);
    // n: 1 and store are harmless; an unknown field is dropped.
    for (const Unmapped& field : request.unmapped) EXPECT_FALSE(field.changes_meaning) << field.name;
}

constexpr std::string_view kAgentRequestWritten =
    R"({"model":"up\"stream","messages":[{"role":"system","content":"You are terse.\n\nUse tools \"well\"."},)"
    R"({"role":"user","content":[{"type":"text","text":"What is in this image, and the weather in Paris?"},)"
    R"({"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"low"}}]},)"
    R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_a","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},)"
    R"({"id":"call_b","type":"function","function":{"name":"time","arguments":"{}"}}]},)"
    R"({"role":"tool","tool_call_id":"call_a","content":"18C, cloudy"},{"role":"tool","tool_call_id":"call_b","content":"14:02"},)"
    R"({"role":"user","content":"Thanks"}],)"
    R"("tools":[{"type":"function","function":{"name":"weather","description":"Weather now","parameters":{"type": "object", "properties": {"city": {"type": "string"}}},"strict":true}},)"
    R"({"type":"function","function":{"name":"time","parameters":{"type": "object", "properties": {}}}}],)"
    R"("tool_choice":{"type":"function","function":{"name":"weather"}},"parallel_tool_calls":false,)"
    R"("max_completion_tokens":512,"temperature":0.2,"top_p":0.9,"stop":["END"],"seed":7,"user":"u-1","prompt_cache_key":"conv-9",)"
    R"("reasoning_effort":"low","response_format":{"type":"json_schema","json_schema":{"name":"answer","schema":{"type": "object"},"strict":true}},)"
    R"("stream":true,"stream_options":{"include_usage":true}})";

TEST(ChatRequest, WritesWhatItReadWithTheSameMeaning) {
    Request request;
    ASSERT_FALSE(read_request(Dialect::chat, kAgentRequest, request));
    std::string body;
    WriteOptions options;
    options.model = "up\"stream";
    ASSERT_FALSE(write_request(Dialect::chat, request, options, body));
    EXPECT_EQ(body, kAgentRequestWritten);

    // And the written body reads back to the same request.
    Request again;
    ASSERT_FALSE(read_request(Dialect::chat, body, again));
    EXPECT_EQ(again.messages.size(), request.messages.size());
    EXPECT_EQ(again.messages[2].parts.size(), 2u);
    std::string twice;
    ASSERT_FALSE(write_request(Dialect::chat, again, options, twice));
    EXPECT_EQ(twice, body);
}

TEST(ChatRequest, StreamUsageIsAskedOnlyWhenWanted) {
    Request request;
    ASSERT_FALSE(read_request(Dialect::chat, R"({"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true})", request));
    std::string body;
    WriteOptions options;
    options.model = "m";
    options.stream_usage = false;
    ASSERT_FALSE(write_request(Dialect::chat, request, options, body));
    EXPECT_EQ(body, R"({"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true})");
}

struct Refused {
    std::string_view body;
    std::string_view param;
};

TEST(ChatRequest, FieldsThatChangeTheAnswerAreRefusedByName) {
    const std::vector<Refused> cases{
        {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"n":2})", "n"},
        {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true,"top_logprobs":3})", "logprobs"},
        {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"logit_bias":{"50256":-100}})", "logit_bias"},
        {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"top_k":40})", "top_k"},
        {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[]}}})",
         "tool_choice"},
    };
    for (const Refused& c : cases) {
        Request request;
        ASSERT_FALSE(read_request(Dialect::chat, c.body, request)) << c.body;
        std::string body = "kept";
        WriteOptions options;
        options.model = "m";
        const auto error = write_request(Dialect::chat, request, options, body);
        ASSERT_TRUE(error) << c.body;
        EXPECT_EQ(error->status, 400);
        EXPECT_EQ(error->type, "invalid_request_error");
        EXPECT_EQ(error->param, std::optional<std::string>(c.param));
        EXPECT_EQ(body, "kept");  // nothing half-written
    }
}

TEST(ChatRequest, TopKGoesToUpstreamsThatTakeIt) {
    Request request;
    ASSERT_FALSE(read_request(Dialect::chat,
                              R"({"model":"qwen","messages":[{"role":"user","content":"hi"}],"top_k":40,"temperature":0.7})",
                              request));
    EXPECT_EQ(request.top_k, "40");
    std::string body;
    WriteOptions options;
    options.model = "qwen";
    options.top_k = true;
    ASSERT_FALSE(write_request(Dialect::chat, request, options, body));
    EXPECT_NE(body.find(R"("temperature":0.7,"top_k":40)"), std::string::npos) << body;
}

TEST(ChatRequest, RefusesWhatItCannotRead) {
    const std::vector<Refused> cases{
        {R"({"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAA=","format":"wav"}}]}]})",
         "messages[0].content[0].type"},
        {R"({"model":"m","messages":[{"role":"robot","content":"hi"}]})", "messages[0].role"},
        {R"({"model":"m","messages":[{"role":"tool","content":"18C"}]})", "messages[0].tool_call_id"},
        {R"({"model":"m","messages":"hi"})", "messages"},
        {R"({"model":"m","messages":[]})", "messages"},
        {R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":0})", "max_tokens"},
    };
    for (const Refused& c : cases) {
        Request request;
        const auto error = read_request(Dialect::chat, c.body, request);
        ASSERT_TRUE(error) << c.body;
        EXPECT_EQ(error->status, 400);
        EXPECT_EQ(error->param, std::optional<std::string>(c.param)) << c.body;
    }
}

TEST(ChatRequest, ReadsLegacyFunctionsAndReasoningContent) {
    Request request;
    ASSERT_FALSE(read_request(Dialect::chat, R"({"model":"deepseek-reasoner","messages":[
        {"role":"user","content":"2+2?"},
        {"role":"assistant","content":"","reasoning_content":"Adding.","function_call":{"name":"calc","arguments":"{\"x\":\"2+2\"}"}},
        {"role":"function","name":"calc","content":"4"}],
        "functions":[{"name":"calc","parameters":{"type":"object"}}],"function_call":"auto","max_tokens":64})",
                              request));
    ASSERT_EQ(request.messages.size(), 3u);
    const auto& assistant = request.messages[1].parts;
    ASSERT_EQ(assistant.size(), 2u);  // the empty text is dropped
    EXPECT_EQ(assistant[0].kind, PartKind::reasoning);
    EXPECT_EQ(text(assistant[0].text), "Adding.");
    EXPECT_EQ(assistant[1].kind, PartKind::tool_call);
    EXPECT_FALSE(assistant[1].id.empty());
    // The function message answers the call by the id made for it.
    EXPECT_EQ(request.messages[2].parts[0].id, assistant[1].id);
    ASSERT_EQ(request.tools.size(), 1u);
    EXPECT_EQ(request.tool_choice.mode, ToolChoice::Mode::auto_);
    EXPECT_EQ(request.max_tokens, std::optional<std::int64_t>(64));
}

// A request as another dialect's reader leaves it (Anthropic's: content blocks, base64 images,
// thinking with a budget, a custom tool from Responses).
Request anthropic_like() {
    Request request;
    Part a;
    a.text = R"("Be brief.")";
    Part b;
    b.text = R"("Cite \"sources\".")";
    request.system = {a, b};

    Message user{Role::user, {}};
    Part image;
    image.kind = PartKind::image;
    image.media_type = R"("image/jpeg")";
    image.data = R"("/9j/4AAQ")";
    Part question;
    question.text = R"("What is this?")";
    user.parts = {image, question};

    Message assistant{Role::assistant, {}};
    Part thinking;
    thinking.kind = PartKind::reasoning;
    thinking.text = R"("Let me look.")";
    thinking.signature = R"("sig")";
    Part said;
    said.text = R"("Checking.")";
    Part call;
    call.kind = PartKind::tool_call;
    call.id = R"("toolu_1")";
    call.name = R"("apply_patch")";
    call.arguments = R"("{\"input\":\"*** Begin Patch\"}")";
    assistant.parts = {thinking, said, call};

    Message result{Role::user, {}};
    Part tool_result;
    tool_result.kind = PartKind::tool_result;
    tool_result.id = R"("toolu_1")";
    Part line1;
    line1.text = R"("Done")";
    Part line2;
    line2.text = R"("ok")";
    tool_result.content = {line1, line2};
    Part more;
    more.text = R"("Now what?")";
    result.parts = {tool_result, more};

    request.messages = {user, assistant, result};
    Tool tool;
    tool.name = R"("apply_patch")";
    tool.custom = true;
    request.tools = {tool};
    request.reasoning.enabled = true;
    request.reasoning.budget = 10000;
    request.max_tokens = 2048;
    return request;
}

TEST(ChatRequest, WritesAnotherDialectsRequest) {
    const Request request = anthropic_like();
    std::string body;
    WriteOptions options;
    options.model = "gpt-5";
    ASSERT_FALSE(write_request(Dialect::chat, request, options, body));
    EXPECT_EQ(body,
              R"({"model":"gpt-5","messages":[{"role":"system","content":"Be brief.\n\nCite \"sources\"."},)"
              R"({"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQ"}},{"type":"text","text":"What is this?"}]},)"
              R"({"role":"assistant","content":"Checking.","tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"apply_patch","arguments":"{\"input\":\"*** Begin Patch\"}"}}]},)"
              R"({"role":"tool","tool_call_id":"toolu_1","content":"Done\nok"},{"role":"user","content":"Now what?"}],)"
              R"("tools":[{"type":"function","function":{"name":"apply_patch","parameters":{"type":"object","properties":{"input":{"type":"string"}},"required":["input"],"additionalProperties":false}}}],)"
              R"("max_completion_tokens":2048,"reasoning_effort":"medium"})");
}

TEST(ChatRequest, ThinkingBudgetsBecomeEfforts) {
    const std::vector<std::pair<std::int64_t, std::string>> cases{{1024, "low"}, {4095, "low"}, {4096, "medium"},
                                                                   {16383, "medium"}, {16384, "high"}, {31999, "high"}};
    for (const auto& [budget, effort] : cases) {
        Request request = anthropic_like();
        request.reasoning.budget = budget;
        std::string body;
        WriteOptions options;
        options.model = "m";
        ASSERT_FALSE(write_request(Dialect::chat, request, options, body));
        EXPECT_NE(body.find(R"("reasoning_effort":")" + effort + "\""), std::string::npos) << budget;
    }
}

// Documents: a PDF is chat's file part (OpenAI's models read it), a plain-text one its text; one
// given by URL has no chat form. Images a tool returned (Claude Code reading a picture) follow the
// turn's tool messages in a user message, after a line naming the call.
TEST(ChatRequest, DocumentsAreFilePartsAndToolImagesFollowTheToolMessages) {
    Request request;
    ASSERT_FALSE(read_request(Dialect::messages, R"({"model":"m","max_tokens":100,"messages":[
        {"role":"user","content":[
          {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="},"title":"spec.pdf"},
          {"type":"document","source":{"type":"text","media_type":"text/plain","data":"Line one.\nLine two."}},
          {"type":"text","text":"Read both, then look."}]},
        {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"Read","input":{"file_path":"/a.png"}},
          {"type":"tool_use","id":"toolu_2","name":"Read","input":{"file_path":"/b.txt"}}]},
        {"role":"user","content":[
          {"type":"tool_result","tool_use_id":"toolu_1","content":[
            {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]},
          {"type":"tool_result","tool_use_id":"toolu_2","content":"plain text"},
          {"type":"text","text":"What do you see?"}]}]})",
                              request));
    std::string body;
    WriteOptions options;
    options.model = "gpt-4.1";
    const auto error = write_request(Dialect::chat, request, options, body);
    ASSERT_FALSE(error) << error->message;
    EXPECT_NE(body.find(R"({"role":"user","content":[{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0=",)"
                        R"("filename":"spec.pdf"}},{"type":"text","text":"Line one.\nLine two."},)"
                        R"({"type":"text","text":"Read both, then look."}]})"),
              std::string::npos)
        << body;
    EXPECT_NE(body.find(R"x({"role":"tool","tool_call_id":"toolu_1","content":"(what it returned follows in the next message)"},)x"
                        R"({"role":"tool","tool_call_id":"toolu_2","content":"plain text"},)"
                        R"({"role":"user","content":[{"type":"text","text":"The tool call toolu_1 returned:"},)"
                        R"({"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},)"
                        R"({"type":"text","text":"What do you see?"}]})"),
              std::string::npos)
        << body;

    // Toward Responses, the plain-text document is input text too.
    body.clear();
    ASSERT_FALSE(write_request(Dialect::responses, request, options, body));
    EXPECT_NE(body.find(R"({"type":"input_file","file_data":"data:application/pdf;base64,JVBERi0=","filename":"spec.pdf"},)"
                        R"({"type":"input_text","text":"Line one.\nLine two."})"),
              std::string::npos)
        << body;

    Request by_url;
    ASSERT_FALSE(read_request(Dialect::messages, R"({"model":"m","max_tokens":100,"messages":[{"role":"user","content":[
        {"type":"document","source":{"type":"url","url":"https://example.com/a.pdf"}}]}]})",
                              by_url));
    body.clear();
    const auto refused = write_request(Dialect::chat, by_url, options, body);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 400);
    EXPECT_EQ(refused->param, std::optional<std::string>("document"));
    EXPECT_TRUE(body.empty());
}

// --- Whole answers ---------------------------------------------------------------------------------

constexpr std::string_view kOpenAIAnswer = R"({
  "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
  "object": "chat.completion",
  "created": 1741569952,
  "model": "gpt-4.1-2025-04-14",
  "choices": [{
    "index": 0,
    "message": {"role": "assistant", "content": "Hello! How can I \"help\"?", "refusal": null, "annotations": []},
    "logprobs": null,
    "finish_reason": "length"
  }],
  "usage": {"prompt_tokens": 2019, "completion_tokens": 10, "total_tokens": 2029,
            "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 4, "audio_tokens": 0}},
  "service_tier": "default"
})";

TEST(ChatResponse, ReadsTextStopAndUsageWithCachedTokens) {
    Response response;
    ASSERT_TRUE(read_response(Dialect::chat, kOpenAIAnswer, response));
    EXPECT_EQ(text(response.id), "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT");
    EXPECT_EQ(text(response.model), "gpt-4.1-2025-04-14");
    EXPECT_EQ(response.created, 1741569952);
    ASSERT_EQ(response.content.size(), 1u);
    EXPECT_EQ(text(response.content[0].text), "Hello! How can I \"help\"?");
    EXPECT_EQ(response.stop, Stop::max_tokens);
    EXPECT_TRUE(response.usage.found);
    EXPECT_EQ(response.usage.input, 2019);
    EXPECT_EQ(response.usage.cached, 1920);
    EXPECT_EQ(response.usage.output, 10);
    EXPECT_EQ(response.usage.reasoning, 4);
}

// llama-server writes its keys in alphabetical order, reasoning apart, usage without details.
constexpr std::string_view kLlamaAnswer =
    R"({"choices":[{"finish_reason":"tool_calls","index":0,"message":{"role":"assistant","content":null,)"
    R"("reasoning_content":"The user wants weather.","tool_calls":[{"type":"function","function":{"name":"weather",)"
    R"("arguments":"{\"city\":\"Paris\"}"},"id":"OQ3yYt2Wf0kNHk6pvnuHd6jTi5bLBCSo"}]}}],"created":1754000000,)"
    R"("model":"qwen3-8b","system_fingerprint":"b6100","object":"chat.completion",)"
    R"("usage":{"completion_tokens":40,"prompt_tokens":300,"total_tokens":340},"id":"chatcmpl-llama1",)"
    R"("timings":{"prompt_n":300,"predicted_n":40}})";

TEST(ChatResponse, ReadsLlamaServerReasoningAndToolCalls) {
    Response response;
    ASSERT_TRUE(read_response(Dialect::chat, kLlamaAnswer, response));
    EXPECT_EQ(text(response.id), "chatcmpl-llama1");
    ASSERT_EQ(response.content.size(), 2u);
    EXPECT_EQ(response.content[0].kind, PartKind::reasoning);
    EXPECT_EQ(text(response.content[0].text), "The user wants weather.");
    EXPECT_EQ(response.content[1].kind, PartKind::tool_call);
    EXPECT_EQ(text(response.content[1].id), "OQ3yYt2Wf0kNHk6pvnuHd6jTi5bLBCSo");
    EXPECT_EQ(text(response.content[1].name), "weather");
    EXPECT_EQ(text(response.content[1].arguments), R"({"city":"Paris"})");
    EXPECT_EQ(response.stop, Stop::tool_use);
    EXPECT_EQ(response.usage.input, 300);
    EXPECT_EQ(response.usage.cached, 0);
}

TEST(ChatResponse, OllamasStopAfterToolCallsIsToolUse) {
    Response response;
    ASSERT_TRUE(read_response(Dialect::chat,
                              R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"llama3.2","choices":[{"index":0,)"
                              R"("message":{"role":"assistant","content":"","tool_calls":[{"id":"call_x","index":0,"type":"function",)"
                              R"("function":{"name":"f","arguments":"{}"}}]},"finish_reason":"stop"}]})",
                              response));
    EXPECT_EQ(response.stop, Stop::tool_use);
    ASSERT_EQ(response.content.size(), 1u);  // no empty text part
    EXPECT_FALSE(response.usage.found);
}

TEST(ChatResponse, NotAnAnswerIsRefused) {
    Response response;
    EXPECT_FALSE(read_response(Dialect::chat, R"({"error":{"message":"x"}})", response));
    Response other;
    EXPECT_FALSE(read_response(Dialect::chat, "[1,2]", other));
}

TEST(ChatResponse, WritesWhatItReadWithTheSameMeaning) {
    Response response;
    ASSERT_TRUE(read_response(Dialect::chat, kLlamaAnswer, response));
    std::string body;
    AnswerOptions options;
    options.model = "asked";
    write_response(Dialect::chat, response, options, body);
    EXPECT_EQ(body,
              R"({"id":"chatcmpl-llama1","object":"chat.completion","created":1754000000,"model":"qwen3-8b",)"
              R"("choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":null,)"
              R"("reasoning_content":"The user wants weather.","tool_calls":[{"id":"OQ3yYt2Wf0kNHk6pvnuHd6jTi5bLBCSo",)"
              R"("type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},)"
              R"("logprobs":null,"finish_reason":"tool_calls"}],)"
              R"("usage":{"prompt_tokens":300,"completion_tokens":40,"total_tokens":340,)"
              R"("prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}})");

    Response again;
    ASSERT_TRUE(read_response(Dialect::chat, body, again));
    EXPECT_EQ(again.content.size(), 2u);
    EXPECT_EQ(again.stop, Stop::tool_use);

    Response openai;
    ASSERT_TRUE(read_response(Dialect::chat, kOpenAIAnswer, openai));
    std::string written;
    write_response(Dialect::chat, openai, options, written);
    Response back;
    ASSERT_TRUE(read_response(Dialect::chat, written, back));
    EXPECT_EQ(text(back.content[0].text), "Hello! How can I \"help\"?");
    EXPECT_EQ(back.usage.cached, 1920);
    EXPECT_EQ(back.usage.reasoning, 4);
    EXPECT_EQ(back.stop, Stop::max_tokens);
}

TEST(ChatResponse, WritesAnIdAndModelWhereTheSourceHasNone) {
    Response response;
    Part a;
    a.text = R"("Hel")";
    Part b;
    b.text = R"("lo")";
    response.content = {a, b};
    response.stop = Stop::stop_sequence;
    std::string body;
    AnswerOptions options;
    options.model = "claude-x";
    options.now = 1700000000;
    options.id_seed = "req-1";
    write_response(Dialect::chat, response, options, body);
    EXPECT_EQ(body, R"({"id":")" + json::make_id("chatcmpl-", "req-1", 0) +
                        R"(","object":"chat.completion","created":1700000000,"model":"claude-x",)"
                        R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hello","refusal":null},)"
                        R"("logprobs":null,"finish_reason":"stop"}]})");
}

// --- Errors ----------------------------------------------------------------------------------------

TEST(ChatError, ReadsOpenAIsShapeAndBareStrings) {
    Error error;
    ASSERT_TRUE(read_error(Dialect::chat,
                           R"({"error":{"message":"Rate limit reached","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}})",
                           429, error));
    EXPECT_EQ(error.status, 429);
    EXPECT_EQ(text(error.message), "Rate limit reached");
    EXPECT_EQ(text(error.type), "rate_limit_error");
    EXPECT_EQ(text(error.code), "rate_limit_exceeded");
    EXPECT_TRUE(error.param.empty());

    Error bare;
    ASSERT_TRUE(read_error(Dialect::chat, R"({"error":"model 'llama9' not found"})", 404, bare));
    EXPECT_EQ(text(bare.message), "model 'llama9' not found");
    EXPECT_TRUE(bare.type.empty());

    // llama-server: a numeric code (the status again).
    Error llama;
    ASSERT_TRUE(read_error(Dialect::chat,
                           R"({"error":{"code":400,"message":"the request exceeds the available context size","type":"exceed_context_size_error"}})",
                           400, llama));
    EXPECT_EQ(text(llama.type), "exceed_context_size_error");
    EXPECT_TRUE(llama.code.empty());

    Error none;
    EXPECT_FALSE(read_error(Dialect::chat, R"({"detail":"Not Found"})", 404, none));
    EXPECT_FALSE(read_error(Dialect::chat, "<html>bad gateway</html>", 502, none));
}

TEST(ChatError, WritesOpenAIsShapeWithOpenAIsTypes) {
    const std::string body = R"({"error":{"message":"bad \"x\"","type":"invalid_request_error","param":"x","code":"bad_x"}})";
    Error error;
    ASSERT_TRUE(read_error(Dialect::chat, body, 400, error));
    std::string out;
    write_error(Dialect::chat, error, out);
    EXPECT_EQ(out, body);

    Error overloaded;
    overloaded.status = 529;
    overloaded.type = R"("overloaded_error")";
    overloaded.message = R"("Overloaded")";
    out.clear();
    write_error(Dialect::chat, overloaded, out);
    EXPECT_EQ(out, R"({"error":{"message":"Overloaded","type":"server_error","param":null,"code":null}})");

    Error untyped;
    untyped.status = 429;
    out.clear();
    write_error(Dialect::chat, untyped, out);
    EXPECT_EQ(out, R"({"error":{"message":"","type":"rate_limit_error","param":null,"code":null}})");
}

// --- Streams ---------------------------------------------------------------------------------------

const char* kind_name(Event::Kind kind) {
    switch (kind) {
        case Event::Kind::start: return "start";
        case Event::Kind::block_start: return "block_start";
        case Event::Kind::delta: return "delta";
        case Event::Kind::signature: return "signature";
        case Event::Kind::sources: return "sources";
        case Event::Kind::citation: return "citation";
        case Event::Kind::block_stop: return "block_stop";
        case Event::Kind::finish: return "finish";
        case Event::Kind::usage: return "usage";
        case Event::Kind::error: return "error";
        case Event::Kind::done: return "done";
    }
    return "?";
}

const char* block_name(BlockKind block) {
    switch (block) {
        case BlockKind::text: return "text";
        case BlockKind::reasoning: return "reasoning";
        case BlockKind::tool_call: return "tool_call";
        case BlockKind::web_search: return "web_search";
    }
    return "?";
}

// Each event as one line of what it means (views copied: they die with the call).
class Recorder final : public EventSink {
public:
    void on(const Event& e) override {
        std::string line = kind_name(e.kind);
        switch (e.kind) {
            case Event::Kind::start:
                line += " " + std::string(e.id) + " " + std::string(e.model) + " " + std::to_string(e.created);
                break;
            case Event::Kind::block_start:
                line += " " + std::to_string(e.index) + " " + block_name(e.block);
                if (e.block == BlockKind::tool_call) line += " " + std::string(e.id) + " " + std::string(e.name);
                break;
            case Event::Kind::delta: line += " " + std::to_string(e.index) + " " + std::string(e.text); break;
            case Event::Kind::block_stop: line += " " + std::to_string(e.index); break;
            case Event::Kind::finish:
                line += " " + std::string(stop_word(Dialect::messages, e.stop));
                if (e.usage.found) line += usage_of(e.usage);
                break;
            case Event::Kind::usage: line += usage_of(e.usage); break;
            case Event::Kind::error: line += " " + std::string(e.error.type) + " " + std::string(e.error.message); break;
            default: break;
        }
        lines.push_back(line);
    }
    static std::string usage_of(const Usage& u) {
        return " in=" + std::to_string(u.input) + " cached=" + std::to_string(u.cached) + " out=" + std::to_string(u.output) +
               " reasoning=" + std::to_string(u.reasoning);
    }
    std::vector<std::string> lines;
};

// Feeds `stream` through a chat reader, event by event (as SseSplitter cuts it).
std::vector<std::string> read_stream(std::string_view stream, Usage* usage = nullptr, bool end = true) {
    simdjson::ondemand::parser parser;
    auto reader = make_reader(Dialect::chat, parser);
    Recorder recorder;
    SseSplitter splitter;
    const auto on = [&](std::string_view name, std::string_view data) { reader->event(name, data, recorder); };
    splitter.feed(stream, on);
    if (end) {
        splitter.finish(on);
        reader->end(recorder);
    }
    if (usage != nullptr) *usage = reader->usage();
    return recorder.lines;
}

constexpr std::string_view kOpenAIStream =
    R"(data: {"id":"chatcmpl-C1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4.1","service_tier":"default","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-C1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4.1","choices":[{"index":0,"delta":{"content":"Hel"},"logprobs":null,"finish_reason":null}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-C1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4.1","choices":[{"index":0,"delta":{"content":"lo \"you\"\n"},"logprobs":null,"finish_reason":null}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-C1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"weather","arguments":""}}]},"logprobs":null,"finish_reason":null}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-C1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"logprobs":null,"finish_reason":null}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-C1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"logprobs":null,"finish_reason":null}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-C1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"time","arguments":"{}"}}]},"logprobs":null,"finish_reason":null}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-C1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4.1","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-C1","object":"chat.completion.chunk","created":1741570000,"model":"gpt-4.1","choices":[],"usage":{"prompt_tokens":1200,"completion_tokens":30,"total_tokens":1230,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}}})"
    "\n\n"
    "data: [DONE]\n\n";

const std::vector<std::string> kOpenAIEvents{
    R"(start "chatcmpl-C1" "gpt-4.1" 1741570000)",
    R"(block_start 0 text)",
    R"(delta 0 "Hel")",
    R"(delta 0 "lo \"you\"\n")",
    R"(block_stop 0)",
    R"(block_start 1 tool_call "call_1" "weather")",
    R"(delta 1 "{\"city\":")",
    R"(delta 1 "\"Paris\"}")",
    R"(block_stop 1)",
    R"(block_start 2 tool_call "call_2" "time")",
    R"(delta 2 "{}")",
    R"(block_stop 2)",
    R"(finish tool_use)",
    R"(usage in=1200 cached=1024 out=30 reasoning=0)",
    R"(done)",
};

TEST(ChatStreamReader, ReadsTextToolCallsFinishAndUsage) {
    Usage usage;
    EXPECT_EQ(read_stream(kOpenAIStream, &usage), kOpenAIEvents);
    EXPECT_TRUE(usage.found);
    EXPECT_EQ(usage.input, 1200);
    EXPECT_EQ(usage.cached, 1024);
    EXPECT_EQ(usage.output, 30);
}

// llama-server: keys in alphabetical order (choices before id), reasoning_content deltas, the
// usage chunk, timings.
constexpr std::string_view kLlamaStream =
    R"(data: {"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}],"created":1754000000,"id":"chatcmpl-L","model":"qwen3","system_fingerprint":"b6100","object":"chat.completion.chunk"})"
    "\n\n"
    R"(data: {"choices":[{"finish_reason":null,"index":0,"delta":{"reasoning_content":"Think"}}],"created":1754000000,"id":"chatcmpl-L","model":"qwen3","object":"chat.completion.chunk"})"
    "\n\n"
    R"(data: {"choices":[{"finish_reason":null,"index":0,"delta":{"reasoning_content":"ing."}}],"created":1754000000,"id":"chatcmpl-L","model":"qwen3","object":"chat.completion.chunk"})"
    "\n\n"
    R"(data: {"choices":[{"finish_reason":null,"index":0,"delta":{"content":"Four."}}],"created":1754000000,"id":"chatcmpl-L","model":"qwen3","object":"chat.completion.chunk"})"
    "\n\n"
    R"(data: {"choices":[{"finish_reason":"stop","index":0,"delta":{}}],"created":1754000000,"id":"chatcmpl-L","model":"qwen3","object":"chat.completion.chunk"})"
    "\n\n"
    R"(data: {"choices":[],"created":1754000000,"id":"chatcmpl-L","model":"qwen3","object":"chat.completion.chunk","usage":{"completion_tokens":12,"prompt_tokens":20,"total_tokens":32},"timings":{"predicted_n":12}})"
    "\n\n"
    "data: [DONE]\n\n";

TEST(ChatStreamReader, ReadsLlamaServerReasoningInAlphabeticalChunks) {
    EXPECT_EQ(read_stream(kLlamaStream), (std::vector<std::string>{
                                             R"(start "chatcmpl-L" "qwen3" 1754000000)",
                                             R"(block_start 0 reasoning)",
                                             R"(delta 0 "Think")",
                                             R"(delta 0 "ing.")",
                                             R"(block_stop 0)",
                                             R"(block_start 1 text)",
                                             R"(delta 1 "Four.")",
                                             R"(block_stop 1)",
                                             R"(finish end_turn)",
                                             R"(usage in=20 cached=0 out=12 reasoning=0)",
                                             R"(done)",
                                         }));
}

TEST(ChatStreamReader, ACutStreamClosesWhatIsOpenWithoutAFinish) {
    const std::string_view cut = kOpenAIStream.substr(0, kOpenAIStream.find(R"("\"Paris\"}")"));
    const auto head = cut.substr(0, cut.rfind("data:"));
    Usage usage;
    EXPECT_EQ(read_stream(head, &usage), (std::vector<std::string>{
                                             R"(start "chatcmpl-C1" "gpt-4.1" 1741570000)",
                                             R"(block_start 0 text)",
                                             R"(delta 0 "Hel")",
                                             R"(delta 0 "lo \"you\"\n")",
                                             R"(block_stop 0)",
                                             R"(block_start 1 tool_call "call_1" "weather")",
                                             R"(delta 1 "{\"city\":")",
                                             R"(block_stop 1)",
                                             R"(done)",
                                         }));
    EXPECT_FALSE(usage.found);
}

TEST(ChatStreamReader, AnErrorInTheStreamEndsIt) {
    const std::string stream =
        R"(data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]})"
        "\n\n"
        R"(data: {"error":{"code":500,"message":"context shift is disabled","type":"server_error"}})"
        "\n\n"
        R"(data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"late"},"finish_reason":null}]})"
        "\n\n";
    EXPECT_EQ(read_stream(stream), (std::vector<std::string>{
                                       R"(start "c" "m" 1)",
                                       R"(block_start 0 text)",
                                       R"(delta 0 "Hi")",
                                       R"(block_stop 0)",
                                       R"(error "server_error" "context shift is disabled")",
                                   }));
}

TEST(ChatStreamReader, UsageInTheFinishChunkAndCallsNumberedZero) {
    // vLLM with continuous usage: usage on the finish chunk. Some servers number every call 0.
    const std::string stream =
        R"(data: {"id":"v","object":"chat.completion.chunk","created":2,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{}"}}]},"finish_reason":null}]})"
        "\n\n"
        R"(data: {"id":"v","object":"chat.completion.chunk","created":2,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"b","function":{"name":"g","arguments":"{}"}}]},"finish_reason":null}]})"
        "\n\n"
        R"(data: {"id":"v","object":"chat.completion.chunk","created":2,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":6,"total_tokens":11}})"
        "\n\n"
        "data: [DONE]\n\n";
    EXPECT_EQ(read_stream(stream), (std::vector<std::string>{
                                       R"(start "v" "m" 2)",
                                       R"(block_start 0 tool_call "a" "f")",
                                       R"(delta 0 "{}")",
                                       R"(block_stop 0)",
                                       R"(block_start 1 tool_call "b" "g")",
                                       R"(delta 1 "{}")",
                                       R"(block_stop 1)",
                                       R"(finish tool_use in=5 cached=0 out=6 reasoning=0)",
                                       R"(done)",
                                   }));
}

TEST(ChatStreamReader, AzuresFilterChunkIsNotTheStart) {
    const std::string stream =
        R"(data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]})"
        "\n\n"
        R"(data: {"choices":[{"content_filter_results":{},"delta":{"content":"Hi","role":"assistant"},"finish_reason":null,"index":0}],"created":3,"id":"chatcmpl-Z","model":"gpt-4o","object":"chat.completion.chunk"})"
        "\n\n"
        R"(data: {"choices":[{"delta":{},"finish_reason":"content_filter","index":0}],"created":3,"id":"chatcmpl-Z","model":"gpt-4o","object":"chat.completion.chunk"})"
        "\n\n"
        "data: [DONE]\n\n";
    EXPECT_EQ(read_stream(stream), (std::vector<std::string>{
                                       R"(start "chatcmpl-Z" "gpt-4o" 3)",
                                       R"(block_start 0 text)",
                                       R"(delta 0 "Hi")",
                                       R"(block_stop 0)",
                                       R"(finish refusal)",
                                       R"(done)",
                                   }));
}

// Events made by hand, as another dialect's reader would make them.
std::vector<Event> anthropic_events() {
    std::vector<Event> events;
    const auto add = [&](Event::Kind kind, auto&& fill) {
        Event e;
        e.kind = kind;
        fill(e);
        events.push_back(e);
    };
    add(Event::Kind::start, [](Event& e) {
        e.id = R"("msg_01")";
        e.model = R"("claude-sonnet-4")";
    });
    add(Event::Kind::block_start, [](Event& e) { e.block = BlockKind::reasoning; });
    add(Event::Kind::delta, [](Event& e) {
        e.block = BlockKind::reasoning;
        e.text = R"("Hmm.")";
    });
    add(Event::Kind::signature, [](Event& e) { e.text = R"("sig")"; });
    add(Event::Kind::block_stop, [](Event&) {});
    add(Event::Kind::block_start, [](Event& e) {
        e.index = 1;
        e.block = BlockKind::text;
    });
    add(Event::Kind::delta, [](Event& e) {
        e.index = 1;
        e.text = R"("Sure.")";
    });
    add(Event::Kind::block_stop, [](Event& e) { e.index = 1; });
    add(Event::Kind::block_start, [](Event& e) {
        e.index = 2;
        e.block = BlockKind::tool_call;
        e.id = R"("toolu_9")";
        e.name = R"("read")";
    });
    add(Event::Kind::delta, [](Event& e) {
        e.index = 2;
        e.block = BlockKind::tool_call;
        e.text = R"("{\"path\":")";
    });
    add(Event::Kind::delta, [](Event& e) {
        e.index = 2;
        e.block = BlockKind::tool_call;
        e.text = R"("\"a.txt\"}")";
    });
    add(Event::Kind::block_stop, [](Event& e) { e.index = 2; });
    add(Event::Kind::finish, [](Event& e) {
        e.stop = Stop::tool_use;
        e.usage = Usage{100, 80, 0, 20, 0, true};
    });
    add(Event::Kind::done, [](Event&) {});
    return events;
}

constexpr std::string_view kHead =
    R"(data: {"id":"msg_01","object":"chat.completion.chunk","created":1700000000,"model":"claude-sonnet-4",)";

TEST(ChatStreamWriter, WritesChunksFromAnotherDialectsEvents) {
    AnswerOptions options;
    options.now = 1700000000;
    options.model = "asked";
    auto writer = make_writer(Dialect::chat, options);
    std::string out;
    for (const Event& e : anthropic_events()) writer->write(e, out);
    const std::string head(kHead);
    const std::string tail = R"(},"logprobs":null,"finish_reason":null}]})"
                             "\n\n";
    const std::string open = R"("choices":[{"index":0,"delta":{)";
    EXPECT_EQ(out, head + open + R"("role":"assistant","content":"")" + tail +                    //
                       head + open + R"("reasoning_content":"Hmm.")" + tail +                     //
                       head + open + R"("content":"Sure.")" + tail +                              //
                       head + open +
                       R"("tool_calls":[{"index":0,"id":"toolu_9","type":"function","function":{"name":"read","arguments":""}}])" +
                       tail +  //
                       head + open + R"("tool_calls":[{"index":0,"function":{"arguments":"{\"path\":"}}])" + tail +  //
                       head + open + R"("tool_calls":[{"index":0,"function":{"arguments":"\"a.txt\"}"}}])" + tail +  //
                       head + open + R"(},"logprobs":null,"finish_reason":"tool_calls"}]})" + "\n\n" +               //
                       head +
                       R"("choices":[],"usage":{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120,)"
                       R"("prompt_tokens_details":{"cached_tokens":80},"completion_tokens_details":{"reasoning_tokens":0}}})"
                       "\n\n"
                       "data: [DONE]\n\n");
}

TEST(ChatStreamWriter, ItsOutputReadsBackToTheSameEvents) {
    AnswerOptions options;
    options.now = 1700000000;
    auto writer = make_writer(Dialect::chat, options);
    std::string out;
    for (const Event& e : anthropic_events()) writer->write(e, out);
    EXPECT_EQ(read_stream(out), (std::vector<std::string>{
                                    R"(start "msg_01" "claude-sonnet-4" 1700000000)",
                                    R"(block_start 0 reasoning)",
                                    R"(delta 0 "Hmm.")",
                                    R"(block_stop 0)",
                                    R"(block_start 1 text)",
                                    R"(delta 1 "Sure.")",
                                    R"(block_stop 1)",
                                    R"(block_start 2 tool_call "toolu_9" "read")",
                                    R"(delta 2 "{\"path\":")",
                                    R"(delta 2 "\"a.txt\"}")",
                                    R"(block_stop 2)",
                                    R"(finish tool_use)",
                                    R"(usage in=100 cached=80 out=20 reasoning=0)",
                                    R"(done)",
                                }));
}

TEST(ChatStreamWriter, NoUsageChunkUnlessAskedAndIdsMadeWhenMissing) {
    AnswerOptions options;
    options.now = 5;
    options.model = "m";
    options.id_seed = "req-7";
    options.stream_usage = false;
    auto writer = make_writer(Dialect::chat, options);
    std::string out;
    std::vector<Event> events = anthropic_events();
    events[0].id = {};
    events[0].model = {};
    events[8].id = {};
    for (const Event& e : events) writer->write(e, out);
    EXPECT_EQ(out.find(R"("choices":[])"), std::string::npos);
    EXPECT_NE(out.find(R"({"id":")" + json::make_id("chatcmpl-", "req-7", 0) + R"(","object":"chat.completion.chunk","created":5,"model":"m",)"),
              std::string::npos);
    EXPECT_NE(out.find(R"("id":")" + json::make_id("call_", "req-7", 1) + "\""), std::string::npos);
    EXPECT_TRUE(out.ends_with("data: [DONE]\n\n"));
}

TEST(ChatStreamWriter, FailAndKeepalive) {
    AnswerOptions options;
    auto writer = make_writer(Dialect::chat, options);
    std::string out;
    writer->keepalive(out);
    EXPECT_EQ(out, ": keep-alive\n\n");
    out.clear();
    Error error;
    error.status = 504;
    error.message = R"("upstream timed out")";
    writer->fail(error, out);
    EXPECT_EQ(out, R"(data: {"error":{"message":"upstream timed out","type":"timeout_error","param":null,"code":null}})"
                   "\n\ndata: [DONE]\n\n");
    out.clear();
    writer->fail(error, out);  // once only
    Event done;
    done.kind = Event::Kind::done;
    writer->write(done, out);
    EXPECT_TRUE(out.empty());
}

TEST(ChatStreamWriter, AnErrorEventEndsTheStream) {
    AnswerOptions options;
    auto writer = make_writer(Dialect::chat, options);
    std::string out;
    Event error;
    error.kind = Event::Kind::error;
    error.error.status = 0;
    error.error.type = R"("overloaded_error")";
    error.error.message = R"("Overloaded")";
    writer->write(error, out);
    EXPECT_EQ(out, R"(data: {"error":{"message":"Overloaded","type":"server_error","param":null,"code":null}})"
                   "\n\ndata: [DONE]\n\n");
}

class CountingSink final : public EventSink {
public:
    void on(const Event&) override { ++events; }
    long events = 0;
};

TEST(ChatStream, NoAllocationPerEventOnceWarm) {
    if (!SWITCHYARD_COUNTS_ALLOCATIONS) GTEST_SKIP() << "AddressSanitizer owns the allocator";
    std::vector<std::string> chunks;
    SseSplitter splitter;
    splitter.feed(kOpenAIStream, [&](std::string_view, std::string_view data) {
        if (data != "[DONE]") chunks.emplace_back(data).reserve(data.size() + simdjson::SIMDJSON_PADDING);
    });
    simdjson::ondemand::parser parser;
    auto reader = make_reader(Dialect::chat, parser);
    CountingSink sink;
    for (const auto& chunk : chunks) reader->event("", chunk, sink);  // warm
    const long before = g_allocations;
    for (const auto& chunk : chunks) reader->event("", chunk, sink);
    EXPECT_EQ(g_allocations - before, 0);

    AnswerOptions options;
    auto writer = make_writer(Dialect::chat, options);
    std::string out;
    out.reserve(1 << 16);
    auto events = anthropic_events();
    events.pop_back();  // not done: the stream stays open
    for (const Event& e : events) writer->write(e, out);  // warm
    out.clear();
    const long at = g_allocations;
    for (int i = 0; i < 3; ++i) {
        for (std::size_t j = 5; j < 12; ++j) {
            if (events[j].kind != Event::Kind::block_start) writer->write(events[j], out);  // text and argument deltas
        }
    }
    EXPECT_EQ(g_allocations - at, 0);
    EXPECT_FALSE(out.empty());
}

// chat -> chat through StreamTranslator, the stream whole and cut in two at every byte.
std::string translate(const std::vector<std::string_view>& reads, Usage* usage = nullptr) {
    simdjson::ondemand::parser parser;
    AnswerOptions options;
    options.now = 9;
    StreamTranslator translator(Dialect::chat, Dialect::chat, parser, options);
    std::string out;
    for (auto read : reads) translator.feed(read, out);
    translator.end(out);
    if (usage != nullptr) *usage = translator.usage();
    return out;
}

TEST(ChatStreamTranslator, AnyCutIntoTwoReadsGivesTheSameOutput) {
    for (std::string_view stream : {kOpenAIStream, kLlamaStream}) {
        Usage usage;
        const std::string whole = translate({stream}, &usage);
        EXPECT_TRUE(usage.found);
        EXPECT_TRUE(whole.ends_with("data: [DONE]\n\n"));
        // What the translation says reads back to the same events as the source.
        auto source = read_stream(stream);
        EXPECT_EQ(read_stream(whole), source);
        for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
            ASSERT_EQ(translate({stream.substr(0, cut), stream.substr(cut)}), whole) << "cut at " << cut;
        }
    }
}

TEST(ChatStreamTranslator, CRLFStreamsWithoutDoneEndCleanly) {
    std::string stream(kLlamaStream.substr(0, kLlamaStream.find("data: [DONE]")));
    std::string crlf;
    for (char c : stream) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
    const std::string out = translate({crlf});
    EXPECT_EQ(read_stream(out), read_stream(kLlamaStream));
}

}  // namespace
}  // namespace switchyard::translate
