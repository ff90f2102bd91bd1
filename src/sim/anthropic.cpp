// Renders Anthropic's Messages objects and stream events.
#include "sim/anthropic.hpp"

#include <fmt/format.h>

#include <iterator>

#include "sim/json_text.hpp"

namespace sim::anthropic {

namespace {

// The cache fields are always zero: the simulator has no prompt cache.
void append_usage(std::string& out, std::uint64_t input_tokens, std::uint64_t output_tokens) {
  fmt::format_to(std::back_inserter(out),
                 "{{\"input_tokens\":{},\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
                 "\"output_tokens\":{}}}",
                 input_tokens, output_tokens);
}

void append_head(std::string& out, std::string_view id, std::string_view model) {
  out += "{\"id\":";
  json::append_string(out, id);
  out += ",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
  json::append_string(out, model);
}

}  // namespace

void render_message(std::string& out, std::string_view id, std::string_view model, std::string_view text,
                    const ToolCall* call, std::string_view stop_reason, Usage usage) {
  append_head(out, id, model);
  if (call != nullptr) {
    out += ",\"content\":[{\"type\":\"tool_use\",\"id\":";
    json::append_string(out, call->id);
    out += ",\"name\":";
    json::append_string(out, call->name);
    out += ",\"input\":";
    out += call->arguments;  // checked to be a JSON object before it got here
    out += "}]";
  } else {
    out += ",\"content\":[{\"type\":\"text\",\"text\":";
    json::append_string(out, text);
    out += "}]";
  }
  out += ",\"stop_reason\":";
  json::append_string(out, stop_reason);
  out += ",\"stop_sequence\":null,\"usage\":";
  append_usage(out, usage.prompt, usage.completion);
  out += '}';
}

void render_message_start(std::string& out, std::string_view id, std::string_view model, std::uint64_t input_tokens) {
  out += "{\"type\":\"message_start\",\"message\":";
  append_head(out, id, model);
  // output_tokens 0 here: the total comes with message_delta, so a reader that adds both counts right.
  out += ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":";
  append_usage(out, input_tokens, 0);
  out += "}}";
}

void render_block_start(std::string& out, const ToolCall* call) {
  if (call == nullptr) {
    out += R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})";
    return;
  }
  out += R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":)";
  json::append_string(out, call->id);
  out += ",\"name\":";
  json::append_string(out, call->name);
  out += ",\"input\":{}}}";
}

void render_ping(std::string& out) { out += R"({"type":"ping"})"; }

void render_block_delta(std::string& out, bool tool, std::string_view piece) {
  out += tool ? R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":)"
              : R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":)";
  json::append_string(out, piece);
  out += "}}";
}

void render_block_stop(std::string& out) { out += R"({"type":"content_block_stop","index":0})"; }

void render_message_delta(std::string& out, std::string_view stop_reason, std::uint64_t output_tokens) {
  out += R"({"type":"message_delta","delta":{"stop_reason":)";
  json::append_string(out, stop_reason);
  fmt::format_to(std::back_inserter(out), ",\"stop_sequence\":null}},\"usage\":{{\"output_tokens\":{}}}}}",
                 output_tokens);
}

void render_message_stop(std::string& out) { out += R"({"type":"message_stop"})"; }

void render_input_tokens(std::string& out, std::uint64_t input_tokens) {
  fmt::format_to(std::back_inserter(out), "{{\"input_tokens\":{}}}", input_tokens);
}

std::string_view error_type(unsigned status) {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 405:
      return "invalid_request_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 529:
      return "overloaded_error";
    default:
      return "api_error";
  }
}

void render_error(std::string& out, unsigned status, std::string_view message) {
  out += R"({"type":"error","error":{"type":")";
  out += error_type(status);
  out += "\",\"message\":";
  json::append_string(out, message);
  out += "}}";
}

}  // namespace sim::anthropic
