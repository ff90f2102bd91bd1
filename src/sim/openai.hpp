// OpenAI wire shapes the simulator answers with: completion objects, stream chunks, embeddings, the
// model list and error objects. Each function appends JSON text to out; none allocates beyond out.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/request.hpp"

namespace sim {

struct Usage {
  std::uint64_t prompt = 0;
  std::uint64_t completion = 0;
};

// The fields every completion object and chunk of one response repeats.
struct Stamp {
  std::string_view id;  // chatcmpl-... or cmpl-...
  std::int64_t created = 0;
  std::string_view model;
};

// A tool call the simulator answers with, in any dialect.
struct ToolCall {
  std::string_view id;         // call_... (chat; Responses call_id) or toolu_... (Messages)
  std::string_view item_id;    // Responses: the fc_... id of the output item
  std::string_view name;
  std::string_view arguments;  // a JSON object's text
};

void render_chat_completion(std::string& out, const Stamp& stamp, std::string_view content,
                            std::string_view finish_reason, Usage usage);
// A chat completion whose message is the tool call (content null, finish_reason "tool_calls").
void render_chat_tool_completion(std::string& out, const Stamp& stamp, const ToolCall& call, Usage usage);
void render_text_completion(std::string& out, const Stamp& stamp, std::string_view text,
                            std::string_view finish_reason, Usage usage);

// One chat.completion.chunk. Exactly one of: role (the opening chunk), content, finish_reason.
enum class Delta { role, content, finish };
void render_chat_chunk(std::string& out, const Stamp& stamp, Delta delta, std::string_view value,
                       bool null_usage);
// One chat.completion.chunk of a streamed tool call: opening, the call's id, type, name and empty
// arguments; else a piece of the arguments.
void render_chat_tool_chunk(std::string& out, const Stamp& stamp, const ToolCall& call, bool opening,
                            std::string_view arguments, bool null_usage);
// One text_completion chunk; finish_reason empty -> null.
void render_text_chunk(std::string& out, const Stamp& stamp, std::string_view text,
                       std::string_view finish_reason, bool null_usage);
// The closing chunk of stream_options.include_usage: empty choices and the usage object.
void render_usage_chunk(std::string& out, const Stamp& stamp, std::string_view object, Usage usage);

void render_embeddings(std::string& out, const EmbeddingRequest& request, int dims,
                       std::vector<float>& scratch);

void render_model(std::string& out, std::string_view id, std::int64_t created);
void render_models(std::string& out, std::span<const std::string> ids, std::int64_t created);

// {"error":{"message","type","param","code"}}; param and code empty -> null.
void render_error(std::string& out, std::string_view message, std::string_view type,
                  std::string_view param, std::string_view code);

}  // namespace sim
