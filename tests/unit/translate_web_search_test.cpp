// The providers' own web search across dialects: OpenAI's `web_search` tool (Codex CLI, the
// Responses API) carried to Anthropic's `web_search_20250305` server tool and back, and Anthropic's
// answer (server_tool_use, web_search_tool_result, text blocks with citations) written as a
// Responses answer (a web_search_call item, one message with url_citation annotations), whole and
// streamed however the reads are cut. Chat has no such tool: a clear refusal.
#include <gtest/gtest.h>

#include <simdjson.h>

#include <string>
#include <vector>

#include "translate/dialect.hpp"
#include "translate/stream.hpp"

namespace switchyard::translate {
namespace {

constexpr std::string_view kCodexRequest = R"({
  "model": "claude-sonnet-4-5",
  "instructions": "You are Codex.",
  "input": [
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "What's new in C++26?"}]},
    {"type": "web_search_call", "id": "ws_old", "status": "completed", "action": {"type": "search", "query": "c++26"}},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Reflection.", "annotations": []}]},
    {"role": "user", "content": "More?"}
  ],
  "tools": [
    {"type": "web_search", "search_context_size": "medium", "filters": {"allowed_domains": ["isocpp.org"]},
     "user_location": {"type": "approximate", "country": "GB", "city": "London"}},
    {"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {}}}
  ],
  "stream": true
})";

WriteOptions to_model(std::string_view model) {
    WriteOptions options;
    options.model = model;
    return options;
}

AnswerOptions answer_options() {
    AnswerOptions options;
    options.model = "claude-sonnet-4-5";
    options.now = 1764000000;
    options.id_seed = "req-1";
    return options;
}

TEST(TranslateWebSearch, OpenAisToolBecomesAnthropicsServerTool) {
    Request request;
    ASSERT_FALSE(read_request(Dialect::responses, kCodexRequest, request));
    ASSERT_EQ(request.tools.size(), 2u);
    EXPECT_TRUE(request.tools[0].web_search);
    std::string body;
    ASSERT_FALSE(write_request(Dialect::messages, request, to_model("claude-sonnet-4-5"), body));
    EXPECT_NE(body.find(R"("tools":[{"type":"web_search_20250305","name":"web_search","allowed_domains":["isocpp.org"],)"
                        R"("user_location":{"type": "approximate", "country": "GB", "city": "London"}},{"name":"shell")"),
              std::string::npos)
        << body;
    // The earlier search (OpenAI's, its results not in the item) is left out; its answer stays.
    EXPECT_EQ(body.find("ws_old"), std::string::npos) << body;
    EXPECT_NE(body.find(R"({"role":"assistant","content":[{"type":"text","text":"Reflection."}]})"), std::string::npos) << body;

    // Back the other way: Anthropic's server tool becomes OpenAI's, its blocked domains refused.
    Request from_claude;
    const auto read_error = read_request(Dialect::messages, R"({"model":"m","max_tokens":100,
        "messages":[{"role":"user","content":"news?"},
          {"role":"assistant","content":[{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"news"}},
            {"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[{"type":"web_search_result","url":"https://a.example","title":"A","encrypted_content":"x"}]},
            {"type":"text","text":"Things happened.","citations":[{"type":"web_search_result_location","url":"https://a.example","title":"A","cited_text":"t","encrypted_index":"y"}]}]},
          {"role":"user","content":"more"}],
        "tools":[{"type":"web_search_20250305","name":"web_search","max_uses":3,"allowed_domains":["a.example"]}]})",
                              from_claude);
    ASSERT_FALSE(read_error) << read_error->message;
    body.clear();
    ASSERT_FALSE(write_request(Dialect::responses, from_claude, to_model("gpt-5"), body));
    EXPECT_NE(body.find(R"("tools":[{"type":"web_search","filters":{"allowed_domains":["a.example"]}}])"), std::string::npos) << body;
    EXPECT_EQ(body.find("srvtoolu_1"), std::string::npos) << body;
    EXPECT_NE(body.find(R"("text":"Things happened.")"), std::string::npos) << body;
    from_claude.tools[0].blocked_domains = R"(["b.example"])";
    body.clear();
    const auto refused = write_request(Dialect::responses, from_claude, to_model("gpt-5"), body);
    ASSERT_TRUE(refused);
    EXPECT_NE(refused->message.find("blocked_domains"), std::string::npos) << refused->message;

    // Chat has no web search: the caller hears so, rather than an answer without it.
    body.clear();
    const auto chat = write_request(Dialect::chat, request, to_model("gpt-4o"), body);
    ASSERT_TRUE(chat);
    EXPECT_EQ(chat->status, 400);
    EXPECT_NE(chat->message.find("web_search"), std::string::npos) << chat->message;
}

// Anthropic's answer to a search, as its documentation shows it (ids and encrypted fields short).
constexpr std::string_view kAnswer = R"({"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5",
 "content":[
  {"type":"text","text":"I'll search."},
  {"type":"server_tool_use","id":"srvtoolu_01","name":"web_search","input":{"query":"claude \"shannon\" release"}},
  {"type":"web_search_tool_result","tool_use_id":"srvtoolu_01","content":[
    {"type":"web_search_result","url":"https://en.wikipedia.org/wiki/Claude_Shannon","title":"Claude Shannon - Wikipedia","encrypted_content":"EqgfCio","page_age":"April 30, 2025"},
    {"type":"web_search_result","url":"https://example.com/é","title":"Ex","encrypted_content":"Eq"}]},
  {"type":"text","text":"Based on the results, "},
  {"type":"text","text":"Shannon was born in 1916 – “the father”","citations":[{"type":"web_search_result_location",
    "url":"https://en.wikipedia.org/wiki/Claude_Shannon","title":"Claude Shannon - Wikipedia","encrypted_index":"Eo8BCi","cited_text":"Claude Elwood Shannon (April 30, 1916 – ..."}]},
  {"type":"text","text":"."}],
 "stop_reason":"end_turn","stop_sequence":null,
 "usage":{"input_tokens":6039,"output_tokens":931,"cache_read_input_tokens":0,"cache_creation_input_tokens":0,"server_tool_use":{"web_search_requests":1}}})";

TEST(TranslateWebSearch, AnthropicsAnswerIsAWebSearchCallAndOneCitedMessage) {
    Response response;
    ASSERT_TRUE(read_response(Dialect::messages, kAnswer, response));
    EXPECT_EQ(response.usage.web_searches, 1);
    std::string out;
    write_response(Dialect::responses, response, answer_options(), out);
    // The text before the search, the search with its query and pages, then one message whose
    // annotation covers the cited passage (in characters: "–", "“" and "”" are one each).
    EXPECT_NE(out.find(R"({"id":"ws_)"), std::string::npos) << out;
    EXPECT_NE(out.find(R"("type":"web_search_call","status":"completed","action":{"type":"search",)"
                       R"("query":"claude \"shannon\" release","sources":[{"type":"url","url":"https://en.wikipedia.org/wiki/Claude_Shannon"},)"
                       R"({"type":"url","url":"https://example.com/é"}]}})"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find(R"("text":"I'll search.")"), std::string::npos) << out;
    EXPECT_NE(out.find(R"({"type":"output_text","annotations":[{"type":"url_citation","start_index":22,"end_index":61,)"
                       R"("url":"https://en.wikipedia.org/wiki/Claude_Shannon","title":"Claude Shannon - Wikipedia"}],)"
                       R"("logprobs":[],"text":"Based on the results, Shannon was born in 1916 – “the father”."})"),
              std::string::npos)
        << out;
    // Three output items: message, web_search_call, message.
    std::size_t items = 0;
    for (std::size_t at = out.find(R"("status":"completed","role")"); at != std::string::npos;
         at = out.find(R"("status":"completed","role")", at + 1))
        ++items;
    EXPECT_EQ(items, 2u) << out;
}

// The same answer streamed, as Anthropic streams it.
std::string anthropic_stream() {
    std::string s;
    auto event = [&](std::string_view name, std::string_view data) {
        s += "event: ";
        s += name;
        s += "\ndata: ";
        s += data;
        s += "\n\n";
    };
    event("message_start", R"({"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":6039,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":3}}})");
    event("content_block_start", R"({"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"srvtoolu_01","name":"web_search","input":{}}})");
    event("content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}})");
    event("content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"query"}})");
    event("content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"\": \"weather NYC\"}"}})");
    event("content_block_stop", R"({"type":"content_block_stop","index":0})");
    event("content_block_start", R"({"type":"content_block_start","index":1,"content_block":{"type":"web_search_tool_result","tool_use_id":"srvtoolu_01","content":[{"type":"web_search_result","title":"Weather in New York City","url":"https://weather.example/nyc","encrypted_content":"Ev0D","page_age":null}]}})");
    event("content_block_stop", R"({"type":"content_block_stop","index":1})");
    event("content_block_start", R"({"type":"content_block_start","index":2,"content_block":{"type":"text","text":""}})");
    event("content_block_delta", R"({"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"It is "}})");
    event("content_block_stop", R"({"type":"content_block_stop","index":2})");
    event("content_block_start", R"({"type":"content_block_start","index":3,"content_block":{"citations":[],"type":"text","text":""}})");
    event("content_block_delta", R"({"type":"content_block_delta","index":3,"delta":{"type":"citations_delta","citation":{"type":"web_search_result_location","cited_text":"Sunny, 21°C","url":"https://weather.example/nyc","title":"Weather in New York City","encrypted_index":"EpMB"}}})");
    event("content_block_delta", R"({"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"sunny, 21°C"}})");
    event("content_block_stop", R"({"type":"content_block_stop","index":3})");
    event("content_block_start", R"({"type":"content_block_start","index":4,"content_block":{"type":"text","text":""}})");
    event("content_block_delta", R"({"type":"content_block_delta","index":4,"delta":{"type":"text_delta","text":"."}})");
    event("content_block_stop", R"({"type":"content_block_stop","index":4})");
    event("message_delta", R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":510,"server_tool_use":{"web_search_requests":1}}})");
    event("message_stop", R"({"type":"message_stop"})");
    return s;
}

std::vector<std::string> datas(const std::string& sse) {
    std::vector<std::string> out;
    for (std::size_t at = sse.find("data: "); at != std::string::npos; at = sse.find("data: ", at + 1)) {
        out.push_back(sse.substr(at + 6, sse.find('\n', at) - at - 6));
    }
    return out;
}

std::string type_of(const std::string& data) { return data.substr(9, data.find('"', 9) - 9); }

std::string translate(const std::string& stream, std::size_t cut) {
    simdjson::ondemand::parser parser;
    const AnswerOptions options = answer_options();
    StreamTranslator translator(Dialect::messages, Dialect::responses, parser, options);
    std::string out;
    translator.feed(std::string_view(stream).substr(0, cut), out);
    translator.feed(std::string_view(stream).substr(cut), out);
    translator.end(out);
    EXPECT_EQ(translator.usage().web_searches, 1);
    return out;
}

TEST(TranslateWebSearch, AnthropicsStreamIsResponsesWebSearchEvents) {
    const std::string stream = anthropic_stream();
    const std::string sse = translate(stream, stream.size());
    const auto events = datas(sse);
    std::vector<std::string> types;
    for (const auto& data : events) types.push_back(type_of(data));
    const std::vector<std::string> expected{
        "response.created", "response.in_progress",
        "response.output_item.added", "response.web_search_call.in_progress", "response.web_search_call.searching",
        "response.web_search_call.completed", "response.output_item.done",
        "response.output_item.added", "response.content_part.added", "response.output_text.delta",
        "response.output_text.delta", "response.output_text.annotation.added", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.completed"};
    EXPECT_EQ(types, expected) << sse;
    EXPECT_NE(events[2].find(R"("item":{"id":"ws_)"), std::string::npos) << events[2];
    EXPECT_NE(events[2].find(R"(","type":"web_search_call","status":"in_progress"})"), std::string::npos) << events[2];
    EXPECT_NE(events[6].find(R"("type":"web_search_call","status":"completed","action":{"type":"search","query":"weather NYC",)"
                             R"("sources":[{"type":"url","url":"https://weather.example/nyc"}]}})"),
              std::string::npos)
        << events[6];
    // "It is " is 6 characters; "sunny, 21°C" 11 ("°" is one).
    EXPECT_NE(events[11].find(R"("content_index":0,"annotation_index":0,"annotation":{"type":"url_citation","start_index":6,)"
                              R"("end_index":17,"url":"https://weather.example/nyc","title":"Weather in New York City"}})"),
              std::string::npos)
        << events[11];
    EXPECT_NE(events[14].find(R"("annotations":[{"type":"url_citation","start_index":6,"end_index":17,)"), std::string::npos)
        << events[14];
    EXPECT_NE(events[14].find(R"("text":"It is sunny, 21°C.")"), std::string::npos) << events[14];
    const std::string& completed = events.back();
    EXPECT_NE(completed.find(R"("query":"weather NYC")"), std::string::npos) << completed;
    EXPECT_NE(completed.find(R"("annotations":[{"type":"url_citation","start_index":6,"end_index":17,)"), std::string::npos)
        << completed;

    // However the reads are cut, the caller gets the same events (ids included: one seed).
    for (std::size_t cut = 0; cut <= stream.size(); cut += 7) {
        ASSERT_EQ(translate(stream, cut), sse) << "cut at " << cut;
    }
}

TEST(TranslateWebSearch, ChatAndMessagesCallersGetTheTextWithoutTheSearch) {
    const std::string stream = anthropic_stream();
    simdjson::ondemand::parser parser;
    const AnswerOptions options = answer_options();
    StreamTranslator translator(Dialect::messages, Dialect::chat, parser, options);
    std::string out;
    translator.feed(stream, out);
    translator.end(out);
    EXPECT_EQ(out.find("weather NYC"), std::string::npos) << out;  // the query is not text of the answer
    EXPECT_NE(out.find(R"("content":"It is ")"), std::string::npos) << out;
    EXPECT_NE(out.find(R"("content":"sunny, 21°C")"), std::string::npos) << out;

    Response response;
    ASSERT_TRUE(read_response(Dialect::messages, kAnswer, response));
    std::string chat;
    write_response(Dialect::chat, response, answer_options(), chat);
    EXPECT_NE(chat.find(R"("content":"I'll search.Based on the results, Shannon was born in 1916 – “the father”.")"),
              std::string::npos)
        << chat;
}

}  // namespace
}  // namespace switchyard::translate
