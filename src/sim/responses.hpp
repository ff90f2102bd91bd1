// OpenAI Responses wire shapes the simulator answers POST /v1/responses with: the response object,
// the named server-sent events of a stream (each with "type" and "sequence_number") and the
// input_tokens count. Each function appends JSON text to out; none allocates beyond out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/openai.hpp"

namespace sim::responses {

// The fields every event of one response repeats. A simulated response has one output item, a
// message with one output_text part or a function call; or, after a web search (x-sim-web-search,
// the request offering the web_search tool), two: the web_search_call (sources in its action when
// the request's include asks for web_search_call.action.sources) and the message, whose text is
// kLeadIn and then the words, the words citing the first page found (a url_citation annotation).
struct Head {
  std::string_view id;  // resp_...
  std::int64_t created_at = 0;
  std::string_view model;
  std::string_view item_id;  // msg_... or, for a function call, fc_... (call->item_id)
  const ToolCall* call = nullptr;
  std::string_view search_query;  // empty: no search
  std::string_view search_id;     // ws_...
  bool include_sources = false;
};
inline constexpr std::string_view kLeadIn = "According to the search, ";

// The web search's events before the message's (response.output_item.added of the
// web_search_call, response.web_search_call.in_progress, .searching, .completed, then its
// response.output_item.done), as (name, payload), numbered from `sequence` on.
std::vector<std::pair<std::string_view, std::string>> search_events(const Head& head, std::uint64_t& sequence);
// response.output_text.annotation.added: the message's text (all of it, so far) cites the first page.
void render_annotation_event(std::string& out, std::uint64_t sequence, const Head& head, std::string_view text);

enum class Status { in_progress, completed, incomplete };

// The response object. in_progress: "output":[] and "usage":null; incomplete: incomplete_details
// {"reason":"max_output_tokens"}. text is the message's text (unused for a function call).
void render_response(std::string& out, const Head& head, Status status, std::string_view text, Usage usage);

// response.created, response.in_progress, response.completed, response.incomplete: the response as
// "response".
void render_response_event(std::string& out, std::string_view type, std::uint64_t sequence, const Head& head,
                           Status status, std::string_view text, Usage usage);
// response.output_item.added (done false: status in_progress, no content, empty arguments) and
// response.output_item.done (the item as the completed response has it).
void render_item_event(std::string& out, std::uint64_t sequence, const Head& head, bool done, std::string_view text);
// response.content_part.added (text empty) and response.content_part.done.
void render_part_event(std::string& out, std::uint64_t sequence, const Head& head, bool done, std::string_view text);
// response.output_text.delta / response.function_call_arguments.delta (by head.call).
void render_delta(std::string& out, std::uint64_t sequence, const Head& head, std::string_view piece);
// response.output_text.done ("text") / response.function_call_arguments.done ("arguments").
void render_done(std::string& out, std::uint64_t sequence, const Head& head, std::string_view text);

// POST /v1/responses/input_tokens: {"object":"response.input_tokens","input_tokens":N}.
void render_input_tokens(std::string& out, std::uint64_t input_tokens);

}  // namespace sim::responses
