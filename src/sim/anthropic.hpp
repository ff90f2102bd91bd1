// Anthropic Messages wire shapes the simulator answers POST /v1/messages with: the message object,
// the named server-sent events of a stream, count_tokens and error objects. Each function appends
// JSON text to out; none allocates beyond out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/openai.hpp"

namespace sim::anthropic {

// The message object: content is one text block, or one tool_use block when call is given.
// stop_reason: "end_turn", "max_tokens" or "tool_use". With a search query (x-sim-web-search, the
// request offering the web_search server tool), the text follows Anthropic's web search: a
// server_tool_use block, a web_search_tool_result with two made-up pages (search_pages()), an
// uncited lead-in text block, then the text citing the first page; usage counts one search.
void render_message(std::string& out, std::string_view id, std::string_view model, std::string_view text,
                    const ToolCall* call, std::string_view stop_reason, Usage usage,
                    std::string_view search_query = {});

// The made-up pages a search for `query` finds: their url and title.
struct Page {
  std::string url;
  std::string title;
};
std::vector<Page> search_pages(std::string_view query);

// Stream events, in the order they are sent. Each payload has the event's name as "type".
void render_message_start(std::string& out, std::string_view id, std::string_view model, std::uint64_t input_tokens);
// The events of a web search before the text (see render_message), as (name, payload): the text
// block that follows has index kSearchTextIndex and starts with its citation.
std::vector<std::pair<std::string_view, std::string>> search_events(std::string_view query);
inline constexpr int kSearchTextIndex = 3;
// A text block (call null) or a tool_use block with "input":{} (its input follows as deltas).
void render_block_start(std::string& out, const ToolCall* call, int index = 0);
void render_ping(std::string& out);
// text_delta, or input_json_delta (partial_json) when tool is true.
void render_block_delta(std::string& out, bool tool, std::string_view piece, int index = 0);
void render_block_stop(std::string& out, int index = 0);
void render_message_delta(std::string& out, std::string_view stop_reason, std::uint64_t output_tokens,
                          bool searched = false);
void render_message_stop(std::string& out);

// POST /v1/messages/count_tokens: {"input_tokens":N}.
void render_input_tokens(std::string& out, std::uint64_t input_tokens);

// {"type":"error","error":{"type","message"}}; type from the status (400 invalid_request_error,
// 401 authentication_error, 404 not_found_error, 429 rate_limit_error, 529 overloaded_error, ...).
void render_error(std::string& out, unsigned status, std::string_view message);
std::string_view error_type(unsigned status);

}  // namespace sim::anthropic
