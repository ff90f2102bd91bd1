// Stage "parse": reads the few facts the gateway decides with (model, stream, usage options) from
// an OpenAI request body with simdjson On-Demand, checks the types of the fields it knows, and
// remembers where the model name sits so forwarding can rewrite it without re-serializing.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/error.hpp"

namespace switchyard::parse {

enum class Endpoint { chat_completions, completions, embeddings };
std::string_view path_of(Endpoint endpoint);  // "/chat/completions", ... (below the API base)

struct RequestFacts {
    std::string model;
    std::size_t model_offset = 0;  // the model's JSON string literal, quotes included, in the body
    std::size_t model_length = 0;
    bool stream = false;
    bool include_usage = false;  // stream_options.include_usage
    std::optional<std::int64_t> max_tokens;
};

// `body` gets simdjson's padding reserved (capacity only; its size and bytes are unchanged).
// `parser` is reused across requests on one thread.
std::variant<RequestFacts, ApiError> parse_request(Endpoint endpoint, std::string& body,
                                                   simdjson::ondemand::parser& parser);

// `body` with the model literal replaced by `model` as a JSON string: (prefix, literal, suffix).
struct RewrittenBody {
    std::string_view prefix;
    std::string model_literal;
    std::string_view suffix;
    std::size_t size() const { return prefix.size() + model_literal.size() + suffix.size(); }
};
RewrittenBody rewrite_model(std::string_view body, const RequestFacts& facts, std::string_view model);

}  // namespace switchyard::parse
