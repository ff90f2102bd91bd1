// The providers' own web search across dialects: OpenAI's `web_search` tool (Codex CLI, the
// Responses API) carried to Anthropic's `web_search_20250305` server tool and back, and Anthropic's
// answer (server_tool_use, web_search_tool_result, text blocks with citations) written as a
// Responses answer (a web_search_call item, one message with url_citation annotations), whole and
// streamed however the reads are cut; and OpenAI's answer (web_search_call items, annotated text)
// written as Anthropic's blocks for a Messages caller (Claude Code's WebSearch reads them). Chat has
// callers ask for it with web_search_options and get the citations as their message's annotations;
// toward a chat upstream, which cannot search, the tool is a clear refusal.
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
        "tools":[{"type":"web_search_20250305","name":"web_search","max_uses":3,"allowed_domains":["a.example"]}],
        "tool_choice":{"type":"tool","name":"web_search"}})",
                              from_claude);
    ASSERT_FALSE(read_error) << read_error->message;
    body.clear();
    ASSERT_FALSE(write_request(Dialect::responses, from_claude, to_model("gpt-5"), body));
    EXPECT_NE(body.find(R"("tools":[{"type":"web_search","filters":{"allowed_domains":["a.example"]}}])"), std::string::npos) << body;
    EXPECT_EQ(body.find("srvtoolu_1"), std::string::npos) << body;
    // OpenAI returns the pages a search found only when asked.
    EXPECT_NE(body.find(R"("include":["web_search_call.action.sources"])"), std::string::npos) << body;
    EXPECT_NE(body.find(R"("text":"Things happened.")"), std::string::npos) << body;
    // The search forced (as Claude Code's WebSearch tool asks): OpenAI's hosted tool is no function
    // to name; the only tool is required, or, beside others, the only one allowed.
    EXPECT_NE(body.find(R"("tool_choice":"required")"), std::string::npos) << body;
    from_claude.tools.push_back(request.tools[1]);
    body.clear();
    ASSERT_FALSE(write_request(Dialect::responses, from_claude, to_model("gpt-5"), body));
    EXPECT_NE(body.find(R"("tool_choice":{"type":"allowed_tools","mode":"required","tools":[{"type":"web_search"}]})"),
              std::string::npos)
        << body;
    from_claude.tools.pop_back();
    Request forced;
    ASSERT_FALSE(read_request(Dialect::responses,
                              R"({"model":"m","input":"news?","tools":[{"type":"web_search"}],"tool_choice":{"type":"web_search"}})",
                              forced));
    body.clear();
    ASSERT_FALSE(write_request(Dialect::messages, forced, to_model("claude-sonnet-4-5"), body));
    EXPECT_NE(body.find(R"("tool_choice":{"type":"tool","name":"web_search"})"), std::string::npos) << body;
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

// The event's type: the first "type" field's value (Anthropic's ping is spaced: {"type": "ping"}).
std::string type_of(const std::string& data) {
    const std::size_t at = data.find('"', data.find(':') + 1) + 1;
    return data.substr(at, data.find('"', at) - at);
}

// `stream` of dialect `from` translated to `to`, read in two pieces cut at `cut`; it counts one search.
std::string translate(const std::string& stream, std::size_t cut, Dialect from = Dialect::messages,
                      Dialect to = Dialect::responses, const AnswerOptions& options = answer_options()) {
    simdjson::ondemand::parser parser;
    StreamTranslator translator(from, to, parser, options);
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

// OpenAI's answer to a search, as its documentation shows it: a search with its pages (asked for
// with include), a page opened (not a search), and text whose annotation cites a span of it.
constexpr std::string_view kOpenAiAnswer = R"({"id":"resp_1","object":"response","created_at":1764000000,"status":"completed",
 "error":null,"incomplete_details":null,"model":"gpt-5","output":[
  {"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search","query":"weather \"NYC\"",
    "sources":[{"type":"url","url":"https://weather.example/nyc"},{"type":"url","url":"https://other.example/"}]}},
  {"type":"web_search_call","id":"ws_2","status":"completed","action":{"type":"open_page","url":"https://weather.example/nyc"}},
  {"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text",
    "text":"Today: sunny – 21°C, says the forecast.","annotations":[
      {"type":"url_citation","start_index":7,"end_index":19,"url":"https://weather.example/nyc","title":"NYC weather"},
      {"type":"url_citation","start_index":7,"end_index":19,"url":"https://other.example/","title":"Other"}]}]}],
 "usage":{"input_tokens":100,"input_tokens_details":{"cached_tokens":0},"output_tokens":20,
   "output_tokens_details":{"reasoning_tokens":0},"total_tokens":120}})";

// A chat caller asks for OpenAI's search with web_search_options (its search models take it):
// toward Anthropic or Responses it is their search tool, the location flat as they write it.
constexpr std::string_view kChatRequest = R"({"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"Weather in NYC?"}],
  "web_search_options":{"search_context_size":"high","user_location":{"type":"approximate",
    "approximate":{"country":"US","city":"New York","region":"New York","timezone":"America/New_York","zip":"10001"}}},
  "stream":true})";

TEST(TranslateWebSearch, ChatCallersWebSearchOptionsAreTheSearchTool) {
    Request request;
    ASSERT_FALSE(read_request(Dialect::chat, kChatRequest, request));
    ASSERT_TRUE(request.offers_web_search());
    std::string body;
    ASSERT_FALSE(write_request(Dialect::messages, request, to_model("claude-sonnet-4-5"), body));
    EXPECT_NE(body.find(R"("tools":[{"type":"web_search_20250305","name":"web_search","user_location":{"type":"approximate",)"
                        R"("country":"US","city":"New York","region":"New York","timezone":"America/New_York"}}])"),
              std::string::npos)
        << body;
    EXPECT_EQ(body.find("search_context_size"), std::string::npos) << body;  // Anthropic has no such setting
    body.clear();
    ASSERT_FALSE(write_request(Dialect::responses, request, to_model("gpt-5"), body));
    EXPECT_NE(body.find(R"("tools":[{"type":"web_search","user_location":{"type":"approximate","country":"US",)"
                        R"("city":"New York","region":"New York","timezone":"America/New_York"},"search_context_size":"high"}])"),
              std::string::npos)
        << body;
    // Asking for nothing in particular is still asking for the search.
    Request plain;
    ASSERT_FALSE(read_request(Dialect::chat, R"({"model":"m","messages":[{"role":"user","content":"hi"}],"web_search_options":{}})",
                              plain));
    body.clear();
    ASSERT_FALSE(write_request(Dialect::messages, plain, to_model("claude-sonnet-4-5"), body));
    EXPECT_NE(body.find(R"("tools":[{"type":"web_search_20250305","name":"web_search"}])"), std::string::npos) << body;
    Request bad;
    const auto error = read_request(Dialect::chat, R"({"model":"m","messages":[{"role":"user","content":"hi"}],"web_search_options":5})", bad);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->status, 400);
    EXPECT_EQ(error->param, "web_search_options");
}

TEST(TranslateWebSearch, ChatCallersGetTheTextWithItsCitationsAsAnnotations) {
    Request request;
    ASSERT_FALSE(read_request(Dialect::chat, kChatRequest, request));
    AnswerOptions options = answer_options();
    options.request = &request;
    const std::string stream = anthropic_stream();
    for (std::size_t cut = 0; cut <= stream.size(); cut += 11) {
        const std::string out = translate(stream, cut, Dialect::messages, Dialect::chat, options);
        EXPECT_EQ(out.find("weather NYC"), std::string::npos) << out;  // the query is not text of the answer
        // The cited block's text, then its citation over characters 6 to 17 of the content ("°" is one).
        const std::size_t text = out.find(R"("content":"sunny, 21°C")");
        const std::size_t annotation = out.find(R"("delta":{"annotations":[{"type":"url_citation","url_citation":{)"
                                                R"("end_index":17,"start_index":6,"title":"Weather in New York City",)"
                                                R"("url":"https://weather.example/nyc"}}]})");
        ASSERT_NE(text, std::string::npos) << out;
        ASSERT_NE(annotation, std::string::npos) << out;
        EXPECT_LT(text, annotation);
        EXPECT_LT(annotation, out.find(R"("content":".")")) << out;
    }
    // Without web search asked for (no request known), the stream is text alone.
    const std::string plain = translate(stream, stream.size(), Dialect::messages, Dialect::chat);
    EXPECT_EQ(plain.find("annotations"), std::string::npos) << plain;
    EXPECT_NE(plain.find(R"("content":"It is ")"), std::string::npos) << plain;

    // The whole answer: one content, the cited passage's characters after "I'll search." (12) and
    // "Based on the results, " (22); "–", "“" and "”" are one each.
    Response response;
    ASSERT_TRUE(read_response(Dialect::messages, kAnswer, response));
    std::string chat;
    write_response(Dialect::chat, response, options, chat);
    EXPECT_NE(chat.find(R"("content":"I'll search.Based on the results, Shannon was born in 1916 – “the father”.",)"
                        R"("refusal":null,"annotations":[{"type":"url_citation","url_citation":{"end_index":73,"start_index":34,)"
                        R"("title":"Claude Shannon - Wikipedia","url":"https://en.wikipedia.org/wiki/Claude_Shannon"}}])"),
              std::string::npos)
        << chat;
    // OpenAI's Responses answer (annotations over its text) the same way.
    Response openai;
    ASSERT_TRUE(read_response(Dialect::responses, kOpenAiAnswer, openai));
    chat.clear();
    write_response(Dialect::chat, openai, options, chat);
    EXPECT_NE(chat.find(R"("annotations":[{"type":"url_citation","url_citation":{"end_index":19,"start_index":7,"title":"NYC weather",)"
                        R"("url":"https://weather.example/nyc"}},{"type":"url_citation","url_citation":{"end_index":19,)"
                        R"("start_index":7,"title":"Other","url":"https://other.example/"}}])"),
              std::string::npos)
        << chat;
}

TEST(TranslateWebSearch, OpenAisAnswerIsAnthropicsSearchBlocksAndCitedText) {
    Response response;
    ASSERT_TRUE(read_response(Dialect::responses, kOpenAiAnswer, response));
    EXPECT_EQ(response.usage.web_searches, 1);  // the page opened is not a search
    std::string out;
    write_response(Dialect::messages, response, answer_options(), out);
    const std::size_t use = out.find(R"({"type":"server_tool_use","id":"srvtoolu_)");
    ASSERT_NE(use, std::string::npos) << out;
    const std::size_t id_at = use + std::string_view(R"({"type":"server_tool_use","id":")").size();
    const std::string id = out.substr(id_at, out.find('"', id_at) - id_at);
    EXPECT_NE(out.find(R"(","name":"web_search","input":{"query":"weather \"NYC\""}},)"
                       R"({"type":"web_search_tool_result","tool_use_id":")" + id + R"(","content":[)"
                       R"({"type":"web_search_result","url":"https://weather.example/nyc","title":"NYC weather","encrypted_content":"","page_age":null},)"
                       R"({"type":"web_search_result","url":"https://other.example/","title":"Other","encrypted_content":"","page_age":null}]},)"),
              std::string::npos)
        << out;
    // The text cut as Anthropic cuts it: the cited span ("–" and "°" one character each) a block
    // with its citations, the rest apart.
    EXPECT_NE(out.find(R"({"type":"text","text":"Today: "},{"type":"text","text":"sunny – 21°C","citations":[)"
                       R"({"type":"web_search_result_location","url":"https://weather.example/nyc","title":"NYC weather","encrypted_index":"","cited_text":""},)"
                       R"({"type":"web_search_result_location","url":"https://other.example/","title":"Other","encrypted_index":"","cited_text":""}]},)"
                       R"({"type":"text","text":", says the forecast."}])"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find(R"("output_tokens":20,"server_tool_use":{"web_search_requests":1}})"), std::string::npos) << out;

    // Anthropic's own reader takes it back: one search, its pages, the citations.
    Response again;
    ASSERT_TRUE(read_response(Dialect::messages, out, again));
    EXPECT_EQ(again.usage.web_searches, 1);
    ASSERT_EQ(again.content.size(), 4u) << out;
    EXPECT_EQ(again.content[0].kind, PartKind::web_search);
    EXPECT_EQ(again.content[0].sources.size(), 2u);
    EXPECT_EQ(again.content[2].citations.size(), 2u);
}

TEST(TranslateWebSearch, AnnotationsOutOfOrderOverlappingOrOutOfRangeLoseNoText) {
    // Spans given last first, one inside another, one past the end, one of no characters.
    constexpr std::string_view body = R"({"id":"resp_2","object":"response","status":"completed","model":"gpt-5","output":[
      {"type":"message","id":"m","role":"assistant","content":[{"type":"output_text","text":"ab\ncd\u00e9f",
       "annotations":[{"type":"url_citation","start_index":5,"end_index":99,"url":"https://c.example","title":"C"},
                      {"type":"url_citation","start_index":0,"end_index":2,"url":"https://a.example","title":"A"},
                      {"type":"url_citation","start_index":1,"end_index":4,"url":"https://b.example","title":"B"},
                      {"type":"url_citation","start_index":3,"end_index":3,"url":"https://d.example","title":"D"}]}]}]})";
    Response response;
    ASSERT_TRUE(read_response(Dialect::responses, body, response));
    std::string joined;
    std::vector<std::size_t> cites;
    for (const auto& part : response.content) {
        ASSERT_EQ(part.kind, PartKind::text);
        joined += part.text.substr(1, part.text.size() - 2);
        cites.push_back(part.citations.size());
    }
    EXPECT_EQ(joined, R"(ab\ncd\u00e9f)");  // escapes never cut
    // "ab" (A, and B which overlaps it), "\ncd" uncited, then "\u00e9f" (C, clamped to the end);
    // D (no characters, at 3) joins the cited part before it.
    ASSERT_EQ(response.content.size(), 3u) << joined;
    EXPECT_EQ(response.content[0].text, R"("ab")");
    EXPECT_EQ(response.content[1].text, R"("\ncd")");
    EXPECT_EQ(response.content[2].text, R"("\u00e9f")");
    EXPECT_EQ(cites, (std::vector<std::size_t>{3, 0, 1}));
}

// OpenAI's stream of the same kind of answer.
std::string openai_stream() {
    std::string s;
    int n = 0;
    auto event = [&](std::string_view type, std::string_view rest) {
        s += "event: ";
        s += type;
        s += "\ndata: {\"type\":\"";
        s += type;
        s += "\",\"sequence_number\":" + std::to_string(n++);
        s += rest;
        s += "}\n\n";
    };
    const std::string_view response_head = R"(,"response":{"id":"resp_1","object":"response","created_at":1764000000,"model":"gpt-5","output":[],)";
    event("response.created", std::string(response_head) + R"("status":"in_progress","usage":null})");
    event("response.in_progress", std::string(response_head) + R"("status":"in_progress","usage":null})");
    event("response.output_item.added", R"(,"output_index":0,"item":{"id":"ws_1","type":"web_search_call","status":"in_progress"})");
    event("response.web_search_call.in_progress", R"(,"output_index":0,"item_id":"ws_1")");
    event("response.web_search_call.searching", R"(,"output_index":0,"item_id":"ws_1")");
    event("response.web_search_call.completed", R"(,"output_index":0,"item_id":"ws_1")");
    event("response.output_item.done", R"(,"output_index":0,"item":{"id":"ws_1","type":"web_search_call","status":"completed",)"
                                       R"("action":{"type":"search","query":"weather NYC","sources":[{"type":"url","url":"https://weather.example/nyc"}]}})");
    event("response.output_item.added", R"(,"output_index":1,"item":{"id":"msg_1","type":"message","status":"in_progress","role":"assistant","content":[]})");
    event("response.content_part.added", R"(,"item_id":"msg_1","output_index":1,"content_index":0,"part":{"type":"output_text","annotations":[],"text":""})");
    event("response.output_text.delta", R"(,"item_id":"msg_1","output_index":1,"content_index":0,"delta":"It is ")");
    event("response.output_text.delta", R"(,"item_id":"msg_1","output_index":1,"content_index":0,"delta":"sunny, 21°C")");
    event("response.output_text.annotation.added", R"(,"item_id":"msg_1","output_index":1,"content_index":0,"annotation_index":0,)"
                                                   R"("annotation":{"type":"url_citation","start_index":6,"end_index":17,"url":"https://weather.example/nyc","title":"Weather in New York City"})");
    event("response.output_text.done", R"(,"item_id":"msg_1","output_index":1,"content_index":0,"text":"It is sunny, 21°C")");
    event("response.content_part.done", R"(,"item_id":"msg_1","output_index":1,"content_index":0,"part":{"type":"output_text","annotations":[],"text":"It is sunny, 21°C"})");
    event("response.output_item.done", R"(,"output_index":1,"item":{"id":"msg_1","type":"message","status":"completed","role":"assistant","content":[]})");
    event("response.completed", std::string(response_head) + R"("status":"completed","usage":{"input_tokens":90,"input_tokens_details":{"cached_tokens":0},)"
                                R"("output_tokens":12,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":102}})");
    return s;
}

std::string to_messages(const std::string& stream, std::size_t cut) {
    return translate(stream, cut, Dialect::responses, Dialect::messages);
}

TEST(TranslateWebSearch, OpenAisStreamIsAnthropicsSearchEvents) {
    const std::string stream = openai_stream();
    const std::string sse = to_messages(stream, stream.size());
    const auto events = datas(sse);
    std::vector<std::string> types;
    for (const auto& data : events) types.push_back(type_of(data));
    const std::vector<std::string> expected{
        "message_start", "ping",
        "content_block_start", "content_block_delta", "content_block_stop",  // server_tool_use, its input
        "content_block_start", "content_block_stop",                         // web_search_tool_result
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop"};
    ASSERT_EQ(types, expected) << sse;
    EXPECT_NE(events[2].find(R"("index":0,"content_block":{"type":"server_tool_use","id":"srvtoolu_)"), std::string::npos) << events[2];
    EXPECT_NE(events[2].find(R"(","name":"web_search","input":{}})"), std::string::npos) << events[2];
    EXPECT_NE(events[3].find(R"("delta":{"type":"input_json_delta","partial_json":"{\"query\":\"weather NYC\"}"})"), std::string::npos)
        << events[3];
    const std::size_t id_at = events[2].find("srvtoolu_");
    const std::string id = events[2].substr(id_at, events[2].find('"', id_at) - id_at);
    EXPECT_NE(events[5].find(R"("index":1,"content_block":{"type":"web_search_tool_result","tool_use_id":")" + id +
                             R"(","content":[{"type":"web_search_result","url":"https://weather.example/nyc",)"
                             R"("title":"https://weather.example/nyc","encrypted_content":"","page_age":null}]}})"),
              std::string::npos)
        << events[5];
    EXPECT_NE(events[7].find(R"("index":2,"content_block":{"type":"text","text":""})"), std::string::npos) << events[7];
    EXPECT_NE(events[10].find(R"("index":2,"delta":{"type":"citations_delta","citation":{"type":"web_search_result_location",)"
                              R"("url":"https://weather.example/nyc","title":"Weather in New York City","encrypted_index":"","cited_text":""}})"),
              std::string::npos)
        << events[10];
    EXPECT_NE(events[12].find(R"("output_tokens":12,"server_tool_use":{"web_search_requests":1}})"), std::string::npos)
        << events[12];

    // However the reads are cut, the caller gets the same events.
    for (std::size_t cut = 0; cut <= stream.size(); cut += 7) {
        ASSERT_EQ(to_messages(stream, cut), sse) << "cut at " << cut;
    }
}

}  // namespace
}  // namespace switchyard::translate
