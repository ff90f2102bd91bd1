// Stage "parse": reads the few facts the gateway decides with (model, stream, usage options) from
// an OpenAI request body with simdjson On-Demand, checks the types of the fields it knows, and
// remembers where the model name sits so forwarding can rewrite it without re-serializing.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/error.hpp"
#include "parse/prefix.hpp"
#include "translate/ir.hpp"

namespace switchyard::parse {

// The model endpoints a caller may post to; each belongs to one dialect (see translate/ir.hpp).
enum class Endpoint {
    chat_completions,  // OpenAI Chat Completions
    completions,       // OpenAI legacy completions (chat dialect family, never translated)
    embeddings,        // OpenAI embeddings (likewise)
    responses,         // OpenAI Responses
    messages,          // Anthropic Messages
    count_tokens,      // Anthropic's /v1/messages/count_tokens
    input_tokens,      // OpenAI's /v1/responses/input_tokens
};
std::string_view path_of(Endpoint endpoint);  // "/chat/completions", ... (below the API base)
translate::Dialect dialect_of(Endpoint endpoint);
// The endpoint that generates answers in `dialect` (chat_completions, responses, messages).
Endpoint generating_endpoint(translate::Dialect dialect);
// Endpoints that generate (and may stream) an answer, as opposed to counting tokens.
bool generates(Endpoint endpoint);
// Endpoints whose body can ask a stream for its usage (stream_options.include_usage: chat and
// legacy completions); forward_body's `add_usage` applies to these alone.
bool has_stream_options(Endpoint endpoint);
// The error shape the endpoint's callers read: Anthropic's for messages and count_tokens.
ErrorShape error_shape(Endpoint endpoint);

struct RequestFacts {
    std::string model;
    std::size_t model_offset = 0;  // the model's JSON string literal, quotes included, in the body
    std::size_t model_length = 0;
    bool stream = false;
    bool include_usage = false;  // stream_options.include_usage
    std::optional<std::int64_t> max_tokens;  // max_tokens, max_completion_tokens or max_output_tokens
    // Responses: the stored answer this request continues, and whether its answer may be stored.
    std::string previous_response_id;
    bool store = true;
    // Where usage reporting could be switched on in the body (see forward_body).
    std::size_t root_open = 0;                      // the root object's '{'
    std::size_t stream_options_offset = std::string::npos;  // its value's first byte ('{' or 'n' of null)
    bool stream_options_null = false;
    bool stream_options_empty = false;              // {} (whitespace aside)
    std::size_t include_usage_offset = std::string::npos;   // the literal true/false
    std::size_t include_usage_length = 0;
    PromptPrefix prefix;  // generating endpoints: the prompt's identity for prefix affinity
};

// Whether `token` (trailing whitespace aside) is a number by RFC 8259's grammar (section 6),
// whatever its range: what a number means is the upstream's business.
bool is_json_number(std::string_view token);

// `body` gets simdjson's padding reserved (capacity only; its size and bytes are unchanged).
// `parser` is reused across requests on one thread.
std::variant<RequestFacts, ApiError> parse_request(Endpoint endpoint, std::string& body,
                                                   simdjson::ondemand::parser& parser);

// The body to forward, as pieces of the caller's bytes and a few inserted ones: the model literal
// replaced by `model` (when it differs), and, with `add_usage`, stream_options.include_usage set
// to true (inserted, or a false literal replaced) so the upstream reports the usage of a stream.
// Everything else is the caller's bytes, unchanged. Views point into `body` and into this object.
struct ForwardBody {
    std::array<std::string_view, 5> parts{};
    std::size_t count = 0;
    std::string model_literal;
    std::size_t size() const {
        std::size_t n = 0;
        for (std::size_t i = 0; i < count; ++i) n += parts[i].size();
        return n;
    }
};
void forward_body(ForwardBody& out, std::string_view body, const RequestFacts& facts, std::string_view model,
                  bool add_usage);

}  // namespace switchyard::parse
