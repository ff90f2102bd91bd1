// Renders Anthropic's Messages objects and stream events.
#include "sim/anthropic.hpp"

#include <fmt/format.h>

#include <iterator>

#include "sim/json_text.hpp"

namespace sim::anthropic {

namespace {

// The cache fields are always zero: the simulator has no prompt cache.
void append_usage(std::string& out, std::uint64_t input_tokens, std::uint64_t output_tokens, bool searched = false) {
  fmt::format_to(std::back_inserter(out),
                 "{{\"input_tokens\":{},\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
                 "\"output_tokens\":{}",
                 input_tokens, output_tokens);
  if (searched) out += R"(,"server_tool_use":{"web_search_requests":1})";
  out += '}';
}

constexpr std::string_view kSearchId = "srvtoolu_01sim";
constexpr std::string_view kLeadIn = "According to the search, ";

void append_server_tool_use(std::string& out, bool whole, std::string_view query) {
  out += R"({"type":"server_tool_use","id":")";
  out += kSearchId;
  out += R"(","name":"web_search","input":{)";
  if (whole) {
    out += R"("query":)";
    json::append_string(out, query);
  }
  out += "}}";
}

void append_search_result(std::string& out, std::string_view query) {
  out += R"({"type":"web_search_tool_result","tool_use_id":")";
  out += kSearchId;
  out += R"(","content":[)";
  const auto pages = search_pages(query);
  for (std::size_t i = 0; i < pages.size(); ++i) {
    if (i > 0) out += ',';
    out += R"({"type":"web_search_result","url":)";
    json::append_string(out, pages[i].url);
    out += R"(,"title":)";
    json::append_string(out, pages[i].title);
    out += R"(,"encrypted_content":"RW5jcnlwdGVkIHBhZ2U=","page_age":"December 1, 2026"})";
  }
  out += "]}";
}

void append_citation(std::string& out, std::string_view query) {
  const auto pages = search_pages(query);
  out += R"({"type":"web_search_result_location","url":)";
  json::append_string(out, pages[0].url);
  out += R"(,"title":)";
  json::append_string(out, pages[0].title);
  out += R"(,"encrypted_index":"RW5jcnlwdGVkIGluZGV4","cited_text":"A passage of the first page."})";
}

void append_head(std::string& out, std::string_view id, std::string_view model) {
  out += "{\"id\":";
  json::append_string(out, id);
  out += ",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
  json::append_string(out, model);
}

}  // namespace

std::vector<Page> search_pages(std::string_view query) {
  return {{"https://search.example/1", "First result for " + std::string(query)},
          {"https://search.example/2", "Second result for " + std::string(query)}};
}

void render_message(std::string& out, std::string_view id, std::string_view model, std::string_view text,
                    const ToolCall* call, std::string_view stop_reason, Usage usage, std::string_view search_query) {
  append_head(out, id, model);
  const bool searched = !search_query.empty() && call == nullptr;
  if (searched) {
    out += ",\"content\":[";
    append_server_tool_use(out, true, search_query);
    out += ',';
    append_search_result(out, search_query);
    out += R"(,{"type":"text","text":)";
    json::append_string(out, kLeadIn);
    out += R"(},{"type":"text","text":)";
    json::append_string(out, text);
    out += R"(,"citations":[)";
    append_citation(out, search_query);
    out += "]}]";
  } else if (call != nullptr) {
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
  append_usage(out, usage.prompt, usage.completion, searched);
  out += '}';
}

std::vector<std::pair<std::string_view, std::string>> search_events(std::string_view query) {
  std::vector<std::pair<std::string_view, std::string>> events;
  auto add = [&](std::string_view name, std::string payload) { events.emplace_back(name, std::move(payload)); };
  std::string s = R"({"type":"content_block_start","index":0,"content_block":)";
  append_server_tool_use(s, false, query);
  add("content_block_start", s + "}");
  // The input in two pieces, cut inside the query's string as Anthropic's may be.
  std::string input = R"({"query": )";
  json::append_string(input, query);
  input += '}';
  const std::size_t half = input.size() / 2;
  for (std::string_view piece : {std::string_view(input).substr(0, half), std::string_view(input).substr(half)}) {
    s = R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":)";
    json::append_string(s, piece);
    add("content_block_delta", s + "}}");
  }
  add("content_block_stop", R"({"type":"content_block_stop","index":0})");
  s = R"({"type":"content_block_start","index":1,"content_block":)";
  append_search_result(s, query);
  add("content_block_start", s + "}");
  add("content_block_stop", R"({"type":"content_block_stop","index":1})");
  add("content_block_start", R"({"type":"content_block_start","index":2,"content_block":{"type":"text","text":""}})");
  s = R"({"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":)";
  json::append_string(s, kLeadIn);
  add("content_block_delta", s + "}}");
  add("content_block_stop", R"({"type":"content_block_stop","index":2})");
  add("content_block_start",
      R"({"type":"content_block_start","index":3,"content_block":{"citations":[],"type":"text","text":""}})");
  s = R"({"type":"content_block_delta","index":3,"delta":{"type":"citations_delta","citation":)";
  append_citation(s, query);
  add("content_block_delta", s + "}}");
  return events;
}

void render_message_start(std::string& out, std::string_view id, std::string_view model, std::uint64_t input_tokens) {
  out += "{\"type\":\"message_start\",\"message\":";
  append_head(out, id, model);
  // output_tokens 0 here: the total comes with message_delta, so a reader that adds both counts right.
  out += ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":";
  append_usage(out, input_tokens, 0);
  out += "}}";
}

void render_block_start(std::string& out, const ToolCall* call, int index) {
  if (call == nullptr) {
    fmt::format_to(std::back_inserter(out), R"({{"type":"content_block_start","index":{},"content_block":{{"type":"text","text":""}}}})",
                   index);
    return;
  }
  fmt::format_to(std::back_inserter(out), R"({{"type":"content_block_start","index":{},"content_block":{{"type":"tool_use","id":)",
                 index);
  json::append_string(out, call->id);
  out += ",\"name\":";
  json::append_string(out, call->name);
  out += ",\"input\":{}}}";
}

void render_ping(std::string& out) { out += R"({"type":"ping"})"; }

void render_block_delta(std::string& out, bool tool, std::string_view piece, int index) {
  fmt::format_to(std::back_inserter(out), R"({{"type":"content_block_delta","index":{},"delta":{{"type":)", index);
  out += tool ? R"("input_json_delta","partial_json":)" : R"("text_delta","text":)";
  json::append_string(out, piece);
  out += "}}";
}

void render_block_stop(std::string& out, int index) {
  fmt::format_to(std::back_inserter(out), R"({{"type":"content_block_stop","index":{}}})", index);
}

void render_message_delta(std::string& out, std::string_view stop_reason, std::uint64_t output_tokens, bool searched) {
  out += R"({"type":"message_delta","delta":{"stop_reason":)";
  json::append_string(out, stop_reason);
  fmt::format_to(std::back_inserter(out), ",\"stop_sequence\":null}},\"usage\":{{\"output_tokens\":{}", output_tokens);
  if (searched) out += R"(,"server_tool_use":{"web_search_requests":1})";
  out += "}}";
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
