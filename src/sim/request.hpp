// Reading request bodies: the few fields of a chat, completion or embedding request the simulator needs,
// and POST /sim/config edits, parsed with simdjson on demand. Bad input comes back as an Invalid value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/knobs.hpp"

namespace sim {

// A request body copied into storage followed by the zeroed tail simdjson reads past the end;
// one per connection, reused from request to request.
class PaddedBody {
 public:
  static constexpr std::size_t kPadding = 64;  // >= SIMDJSON_PADDING, checked in request.cpp

  void assign(std::string_view body);
  const char* data() const { return bytes_.data(); }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return bytes_.size(); }

 private:
  std::string bytes_;
  std::size_t size_ = 0;
};

// Why a body was refused, for the OpenAI error object (param empty -> null).
struct Invalid {
  std::string message;
  std::string param;
};

// A chat, text completion, Responses or Messages request, reduced to what the simulator acts on.
struct Generation {
  std::string model;
  bool stream = false;
  bool include_usage = false;                // stream_options.include_usage
  std::optional<std::int64_t> max_tokens;    // the smaller of max_tokens and max_completion_tokens;
                                             // max_output_tokens (Responses), max_tokens (Messages)
  std::uint64_t prompt_tokens = 0;           // see count rule in docs/simulator.md
  std::uint64_t seed = 0;                    // from (model, prompt text): picks the completion words
  // The first tool the request offers (the one --tool-calls auto calls) and arguments for it built
  // from its JSON schema; tool_name empty: no tools.
  std::string tool_name;
  std::string tool_arguments;
  // The request offers the provider's web search: Anthropic's server tool (web_search_20250305)
  // or OpenAI's Responses tool (web_search). Responses: include asks for the pages it found.
  bool web_search_tool = false;
  bool include_sources = false;
  // The last input is a tool result (chat role "tool", Responses function_call_output, Messages
  // tool_result blocks): its text, which the answer echoes.
  bool tool_result = false;
  std::string tool_result_text;
  // The prompt's texts (messages, prompt strings), one per line: what --answers rules match.
  std::string prompt_text;
};

std::optional<Invalid> parse_chat(const PaddedBody& body, Generation& out);
std::optional<Invalid> parse_completion(const PaddedBody& body, Generation& out);
// POST /v1/responses; for_count: POST /v1/responses/input_tokens, where model and input are optional.
std::optional<Invalid> parse_responses(const PaddedBody& body, Generation& out, bool for_count);
// POST /v1/messages (Anthropic); for_count: /v1/messages/count_tokens, where max_tokens is not read.
// The messages of Invalid follow Anthropic's ("max_tokens: Field required").
std::optional<Invalid> parse_messages(const PaddedBody& body, Generation& out, bool for_count);

// True when text is a complete JSON object (the x-sim-tool-arguments header).
bool is_json_object(std::string_view text);

struct EmbeddingInput {
  std::uint64_t seed = 0;    // hash of the text or token ids
  std::uint64_t tokens = 0;  // words of a text, or number of token ids
};

struct EmbeddingRequest {
  std::string model;
  std::vector<EmbeddingInput> inputs;
  std::optional<int> dimensions;
  bool base64 = false;  // encoding_format "base64"
};

std::optional<Invalid> parse_embeddings(const PaddedBody& body, EmbeddingRequest& out);

// Applies a POST /sim/config body to knobs: any of fault, fault_rate, ttft_ms, itl_ms, tokens, healthy,
// tool_calls.
std::optional<std::string> parse_config(const PaddedBody& body, Knobs& knobs);

}  // namespace sim
