// Renders OpenAI's Responses objects and stream events.
#include "sim/responses.hpp"

#include <fmt/format.h>

#include <iterator>

#include "sim/json_text.hpp"

namespace sim::responses {

namespace {

void append_event_head(std::string& out, std::string_view type, std::uint64_t sequence) {
  out += "{\"type\":\"";
  out += type;
  fmt::format_to(std::back_inserter(out), "\",\"sequence_number\":{}", sequence);
}

// ,"item_id":...,"output_index":0 and, for message text, ,"content_index":0.
void append_position(std::string& out, const Head& head, bool content_index) {
  out += ",\"item_id\":";
  json::append_string(out, head.item_id);
  out += ",\"output_index\":0";
  if (content_index) out += ",\"content_index\":0";
}

void append_part(std::string& out, std::string_view text) {
  out += "{\"type\":\"output_text\",\"annotations\":[],\"text\":";
  json::append_string(out, text);
  out += '}';
}

// The output item; done false: as output_item.added shows it.
void append_item(std::string& out, const Head& head, bool done, std::string_view text) {
  const std::string_view status = done ? "completed" : "in_progress";
  out += "{\"id\":";
  json::append_string(out, head.item_id);
  if (head.call != nullptr) {
    fmt::format_to(std::back_inserter(out), ",\"type\":\"function_call\",\"status\":\"{}\",\"arguments\":", status);
    json::append_string(out, done ? head.call->arguments : std::string_view());
    out += ",\"call_id\":";
    json::append_string(out, head.call->id);
    out += ",\"name\":";
    json::append_string(out, head.call->name);
    out += '}';
    return;
  }
  fmt::format_to(std::back_inserter(out),
                 ",\"type\":\"message\",\"status\":\"{}\",\"role\":\"assistant\",\"content\":[", status);
  if (done) append_part(out, text);
  out += "]}";
}

}  // namespace

void render_response(std::string& out, const Head& head, Status status, std::string_view text, Usage usage) {
  out += "{\"id\":";
  json::append_string(out, head.id);
  const std::string_view name = status == Status::in_progress ? "in_progress"
                                : status == Status::completed ? "completed"
                                                              : "incomplete";
  fmt::format_to(std::back_inserter(out), ",\"object\":\"response\",\"created_at\":{},\"status\":\"{}\",\"error\":null",
                 head.created_at, name);
  out += status == Status::incomplete ? ",\"incomplete_details\":{\"reason\":\"max_output_tokens\"}"
                                      : ",\"incomplete_details\":null";
  out += ",\"instructions\":null,\"model\":";
  json::append_string(out, head.model);
  out += ",\"output\":[";
  if (status != Status::in_progress) append_item(out, head, true, text);
  out += "],\"parallel_tool_calls\":true,\"previous_response_id\":null,\"usage\":";
  if (status == Status::in_progress) {
    out += "null}";
    return;
  }
  fmt::format_to(std::back_inserter(out),
                 "{{\"input_tokens\":{},\"input_tokens_details\":{{\"cached_tokens\":0}},\"output_tokens\":{},"
                 "\"output_tokens_details\":{{\"reasoning_tokens\":0}},\"total_tokens\":{}}}}}",
                 usage.prompt, usage.completion, usage.prompt + usage.completion);
}

void render_response_event(std::string& out, std::string_view type, std::uint64_t sequence, const Head& head,
                           Status status, std::string_view text, Usage usage) {
  append_event_head(out, type, sequence);
  out += ",\"response\":";
  render_response(out, head, status, text, usage);
  out += '}';
}

void render_item_event(std::string& out, std::uint64_t sequence, const Head& head, bool done, std::string_view text) {
  append_event_head(out, done ? "response.output_item.done" : "response.output_item.added", sequence);
  out += ",\"output_index\":0,\"item\":";
  append_item(out, head, done, text);
  out += '}';
}

void render_part_event(std::string& out, std::uint64_t sequence, const Head& head, bool done, std::string_view text) {
  append_event_head(out, done ? "response.content_part.done" : "response.content_part.added", sequence);
  append_position(out, head, true);
  out += ",\"part\":";
  append_part(out, text);
  out += '}';
}

void render_delta(std::string& out, std::uint64_t sequence, const Head& head, std::string_view piece) {
  const bool call = head.call != nullptr;
  append_event_head(out, call ? "response.function_call_arguments.delta" : "response.output_text.delta", sequence);
  append_position(out, head, !call);
  out += ",\"delta\":";
  json::append_string(out, piece);
  if (!call) out += ",\"logprobs\":[]";
  out += '}';
}

void render_done(std::string& out, std::uint64_t sequence, const Head& head, std::string_view text) {
  const bool call = head.call != nullptr;
  append_event_head(out, call ? "response.function_call_arguments.done" : "response.output_text.done", sequence);
  append_position(out, head, !call);
  out += call ? ",\"arguments\":" : ",\"text\":";
  json::append_string(out, text);
  if (!call) out += ",\"logprobs\":[]";
  out += '}';
}

void render_input_tokens(std::string& out, std::uint64_t input_tokens) {
  fmt::format_to(std::back_inserter(out), "{{\"object\":\"response.input_tokens\",\"input_tokens\":{}}}", input_tokens);
}

}  // namespace sim::responses
