// OpenAI Responses wire shapes the simulator answers POST /v1/responses with: the response object,
// the named server-sent events of a stream (each with "type" and "sequence_number") and the
// input_tokens count. Each function appends JSON text to out; none allocates beyond out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sim/openai.hpp"

namespace sim::responses {

// The fields every event of one response repeats. A simulated response has exactly one output item:
// a message with one output_text part, or a function call.
struct Head {
  std::string_view id;  // resp_...
  std::int64_t created_at = 0;
  std::string_view model;
  std::string_view item_id;  // msg_... or, for a function call, fc_... (call->item_id)
  const ToolCall* call = nullptr;
};

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
