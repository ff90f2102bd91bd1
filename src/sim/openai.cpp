// Renders the OpenAI response objects with fmt and careful string escaping.
#include "sim/openai.hpp"

#include <cstring>
#include <iterator>

#include <fmt/format.h>

#include "sim/json_text.hpp"
#include "sim/wordgen.hpp"

namespace sim {

namespace {

void append_usage(std::string& out, Usage usage) {
  fmt::format_to(std::back_inserter(out),
                 "{{\"prompt_tokens\":{},\"completion_tokens\":{},\"total_tokens\":{}}}", usage.prompt,
                 usage.completion, usage.prompt + usage.completion);
}

void append_stamp(std::string& out, const Stamp& stamp, std::string_view object) {
  out += "{\"id\":";
  json::append_string(out, stamp.id);
  fmt::format_to(std::back_inserter(out), ",\"object\":\"{}\",\"created\":{},\"model\":", object, stamp.created);
  json::append_string(out, stamp.model);
}

void append_nullable(std::string& out, std::string_view value) {
  if (value.empty()) {
    out += "null";
  } else {
    json::append_string(out, value);
  }
}

void append_base64(std::string& out, const unsigned char* bytes, std::size_t size) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const unsigned v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (const std::size_t rest = size - i; rest > 0) {
    const unsigned v = (bytes[i] << 16) | (rest == 2 ? bytes[i + 1] << 8 : 0);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
}

}  // namespace

void render_chat_completion(std::string& out, const Stamp& stamp, std::string_view content,
                            std::string_view finish_reason, Usage usage) {
  append_stamp(out, stamp, "chat.completion");
  out += ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":";
  json::append_string(out, content);
  out += "},\"logprobs\":null,\"finish_reason\":";
  json::append_string(out, finish_reason);
  out += "}],\"usage\":";
  append_usage(out, usage);
  out += '}';
}

void render_chat_tool_completion(std::string& out, const Stamp& stamp, const ToolCall& call, Usage usage) {
  append_stamp(out, stamp, "chat.completion");
  out += ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":";
  json::append_string(out, call.id);
  out += ",\"type\":\"function\",\"function\":{\"name\":";
  json::append_string(out, call.name);
  out += ",\"arguments\":";
  json::append_string(out, call.arguments);
  out += "}}]},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],\"usage\":";
  append_usage(out, usage);
  out += '}';
}

void render_text_completion(std::string& out, const Stamp& stamp, std::string_view text,
                            std::string_view finish_reason, Usage usage) {
  append_stamp(out, stamp, "text_completion");
  out += ",\"choices\":[{\"text\":";
  json::append_string(out, text);
  out += ",\"index\":0,\"logprobs\":null,\"finish_reason\":";
  json::append_string(out, finish_reason);
  out += "}],\"usage\":";
  append_usage(out, usage);
  out += '}';
}

void render_chat_chunk(std::string& out, const Stamp& stamp, Delta delta, std::string_view value,
                       bool null_usage) {
  append_stamp(out, stamp, "chat.completion.chunk");
  out += ",\"choices\":[{\"index\":0,\"delta\":";
  switch (delta) {
    case Delta::role:
      out += "{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null";
      break;
    case Delta::content:
      out += "{\"content\":";
      json::append_string(out, value);
      out += "},\"logprobs\":null,\"finish_reason\":null";
      break;
    case Delta::finish:
      out += "{},\"logprobs\":null,\"finish_reason\":";
      json::append_string(out, value);
      break;
  }
  out += "}]";
  if (null_usage) out += ",\"usage\":null";
  out += '}';
}

void render_chat_tool_chunk(std::string& out, const Stamp& stamp, const ToolCall& call, bool opening,
                            std::string_view arguments, bool null_usage) {
  append_stamp(out, stamp, "chat.completion.chunk");
  out += ",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,";
  if (opening) {
    out += "\"id\":";
    json::append_string(out, call.id);
    out += ",\"type\":\"function\",\"function\":{\"name\":";
    json::append_string(out, call.name);
    out += ",\"arguments\":\"\"}";
  } else {
    out += "\"function\":{\"arguments\":";
    json::append_string(out, arguments);
    out += '}';
  }
  out += "}]},\"logprobs\":null,\"finish_reason\":null}]";
  if (null_usage) out += ",\"usage\":null";
  out += '}';
}

void render_text_chunk(std::string& out, const Stamp& stamp, std::string_view text,
                       std::string_view finish_reason, bool null_usage) {
  append_stamp(out, stamp, "text_completion");
  out += ",\"choices\":[{\"text\":";
  json::append_string(out, text);
  out += ",\"index\":0,\"logprobs\":null,\"finish_reason\":";
  append_nullable(out, finish_reason);
  out += "}]";
  if (null_usage) out += ",\"usage\":null";
  out += '}';
}

void render_usage_chunk(std::string& out, const Stamp& stamp, std::string_view object, Usage usage) {
  append_stamp(out, stamp, object);
  out += ",\"choices\":[],\"usage\":";
  append_usage(out, usage);
  out += '}';
}

void render_embeddings(std::string& out, const EmbeddingRequest& request, int dims,
                       std::vector<float>& scratch) {
  out += "{\"object\":\"list\",\"data\":[";
  std::uint64_t tokens = 0;
  for (std::size_t i = 0; i < request.inputs.size(); ++i) {
    const EmbeddingInput& input = request.inputs[i];
    tokens += input.tokens;
    embedding_vector(input.seed, dims, scratch);
    if (i > 0) out += ',';
    fmt::format_to(std::back_inserter(out), "{{\"object\":\"embedding\",\"index\":{},\"embedding\":", i);
    if (request.base64) {
      // OpenAI's base64 form: the float32 values, little-endian, base64-encoded.
      static_assert(sizeof(float) == 4);
      std::vector<unsigned char> bytes(scratch.size() * sizeof(float));
      std::memcpy(bytes.data(), scratch.data(), bytes.size());
      out += '"';
      append_base64(out, bytes.data(), bytes.size());
      out += '"';
    } else {
      out += '[';
      for (std::size_t d = 0; d < scratch.size(); ++d) {
        if (d > 0) out += ',';
        fmt::format_to(std::back_inserter(out), "{}", scratch[d]);
      }
      out += ']';
    }
    out += '}';
  }
  out += "],\"model\":";
  json::append_string(out, request.model);
  fmt::format_to(std::back_inserter(out), ",\"usage\":{{\"prompt_tokens\":{},\"total_tokens\":{}}}}}", tokens,
                 tokens);
}

void render_model(std::string& out, std::string_view id, std::int64_t created) {
  out += "{\"id\":";
  json::append_string(out, id);
  fmt::format_to(std::back_inserter(out), ",\"object\":\"model\",\"created\":{},\"owned_by\":\"switchyard-sim\"}}",
                 created);
}

void render_models(std::string& out, std::span<const std::string> ids, std::int64_t created) {
  out += "{\"object\":\"list\",\"data\":[";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ',';
    render_model(out, ids[i], created);
  }
  out += "]}";
}

void render_error(std::string& out, std::string_view message, std::string_view type, std::string_view param,
                  std::string_view code) {
  out += "{\"error\":{\"message\":";
  json::append_string(out, message);
  out += ",\"type\":";
  json::append_string(out, type);
  out += ",\"param\":";
  append_nullable(out, param);
  out += ",\"code\":";
  append_nullable(out, code);
  out += "}}";
}

}  // namespace sim
