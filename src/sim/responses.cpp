// Renders OpenAI's Responses objects and stream events.
#include "sim/responses.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "sim/anthropic.hpp"
#include "sim/json_text.hpp"

namespace sim::responses {

namespace {

void append_event_head(std::string& out, std::string_view type, std::uint64_t sequence) {
  out += "{\"type\":\"";
  out += type;
  fmt::format_to(std::back_inserter(out), "\",\"sequence_number\":{}", sequence);
}

// The message's (or call's) place in the output: after the web search's, when there was one.
int output_index(const Head& head) { return head.search_query.empty() ? 0 : 1; }

// ,"item_id":...,"output_index":N and, for message text, ,"content_index":0.
void append_position(std::string& out, const Head& head, bool content_index) {
  out += ",\"item_id\":";
  json::append_string(out, head.item_id);
  fmt::format_to(std::back_inserter(out), ",\"output_index\":{}", output_index(head));
  if (content_index) out += ",\"content_index\":0";
}

// Characters, as OpenAI's annotation indices count them (Unicode code points).
std::size_t chars(std::string_view text) {
  std::size_t n = 0;
  for (const char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

// The url_citation of the text after kLeadIn: the first page found.
void append_annotation(std::string& out, const Head& head, std::string_view text) {
  const auto page = anthropic::search_pages(head.search_query).front();
  fmt::format_to(std::back_inserter(out), R"({{"type":"url_citation","start_index":{},"end_index":{},"url":)",
                 std::min(chars(kLeadIn), chars(text)), chars(text));
  json::append_string(out, page.url);
  out += ",\"title\":";
  json::append_string(out, page.title);
  out += '}';
}

void append_part(std::string& out, const Head& head, std::string_view text, bool done) {
  out += "{\"type\":\"output_text\",\"annotations\":[";
  if (done && !head.search_query.empty()) append_annotation(out, head, text);
  out += "],\"text\":";
  json::append_string(out, text);
  out += '}';
}

void append_search_item(std::string& out, const Head& head, bool done) {
  out += "{\"id\":";
  json::append_string(out, head.search_id);
  out += ",\"type\":\"web_search_call\",\"status\":";
  out += done ? "\"completed\"" : "\"in_progress\"";
  if (done) {
    out += ",\"action\":{\"type\":\"search\",\"query\":";
    json::append_string(out, head.search_query);
    if (head.include_sources) {
      out += ",\"sources\":[";
      const auto pages = anthropic::search_pages(head.search_query);
      for (std::size_t i = 0; i < pages.size(); ++i) {
        if (i > 0) out += ',';
        out += "{\"type\":\"url\",\"url\":";
        json::append_string(out, pages[i].url);
        out += '}';
      }
      out += ']';
    }
    out += '}';
  }
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
  if (done) append_part(out, head, text, true);
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
  if (status != Status::in_progress) {
    if (!head.search_query.empty()) {
      append_search_item(out, head, true);
      out += ',';
    }
    append_item(out, head, true, text);
  }
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
  fmt::format_to(std::back_inserter(out), ",\"output_index\":{},\"item\":", output_index(head));
  append_item(out, head, done, text);
  out += '}';
}

void render_part_event(std::string& out, std::uint64_t sequence, const Head& head, bool done, std::string_view text) {
  append_event_head(out, done ? "response.content_part.done" : "response.content_part.added", sequence);
  append_position(out, head, true);
  out += ",\"part\":";
  append_part(out, head, text, done);
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

std::vector<std::pair<std::string_view, std::string>> search_events(const Head& head, std::uint64_t& sequence) {
  std::vector<std::pair<std::string_view, std::string>> events;
  std::string s;
  append_event_head(s, "response.output_item.added", sequence++);
  s += ",\"output_index\":0,\"item\":";
  append_search_item(s, head, false);
  events.emplace_back("response.output_item.added", s + "}");
  for (std::string_view type : {"response.web_search_call.in_progress", "response.web_search_call.searching",
                                "response.web_search_call.completed"}) {
    s.clear();
    append_event_head(s, type, sequence++);
    s += ",\"output_index\":0,\"item_id\":";
    json::append_string(s, head.search_id);
    events.emplace_back(type, s + "}");
  }
  s.clear();
  append_event_head(s, "response.output_item.done", sequence++);
  s += ",\"output_index\":0,\"item\":";
  append_search_item(s, head, true);
  events.emplace_back("response.output_item.done", s + "}");
  return events;
}

void render_annotation_event(std::string& out, std::uint64_t sequence, const Head& head, std::string_view text) {
  append_event_head(out, "response.output_text.annotation.added", sequence);
  append_position(out, head, true);
  out += ",\"annotation_index\":0,\"annotation\":";
  append_annotation(out, head, text);
  out += '}';
}

void render_input_tokens(std::string& out, std::uint64_t input_tokens) {
  fmt::format_to(std::back_inserter(out), "{{\"object\":\"response.input_tokens\",\"input_tokens\":{}}}", input_tokens);
}

}  // namespace sim::responses
