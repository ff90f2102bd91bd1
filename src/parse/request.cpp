#include "parse/request.hpp"

#include <cstring>

#include "parse/json_locate.hpp"

namespace switchyard::parse {

namespace od = simdjson::ondemand;

std::string_view path_of(Endpoint endpoint) {
    switch (endpoint) {
        case Endpoint::chat_completions: return "/chat/completions";
        case Endpoint::completions: return "/completions";
        case Endpoint::embeddings: return "/embeddings";
        case Endpoint::responses: return "/responses";
        case Endpoint::messages: return "/messages";
        case Endpoint::count_tokens: return "/messages/count_tokens";
        case Endpoint::input_tokens: return "/responses/input_tokens";
    }
    return "";
}

translate::Dialect dialect_of(Endpoint endpoint) {
    switch (endpoint) {
        case Endpoint::responses:
        case Endpoint::input_tokens: return translate::Dialect::responses;
        case Endpoint::messages:
        case Endpoint::count_tokens: return translate::Dialect::messages;
        default: return translate::Dialect::chat;
    }
}

Endpoint generating_endpoint(translate::Dialect dialect) {
    switch (dialect) {
        case translate::Dialect::chat: return Endpoint::chat_completions;
        case translate::Dialect::responses: return Endpoint::responses;
        case translate::Dialect::messages: return Endpoint::messages;
    }
    return Endpoint::chat_completions;
}

bool has_stream_options(Endpoint endpoint) {
    return endpoint == Endpoint::chat_completions || endpoint == Endpoint::completions;
}

ErrorShape error_shape(Endpoint endpoint) {
    return dialect_of(endpoint) == translate::Dialect::messages ? ErrorShape::anthropic : ErrorShape::openai;
}

bool generates(Endpoint endpoint) { return endpoint != Endpoint::count_tokens && endpoint != Endpoint::input_tokens; }

namespace {

std::string_view type_name(od::json_type type) {
    switch (type) {
        case od::json_type::array: return "an array";
        case od::json_type::object: return "an object";
        case od::json_type::number: return "a number";
        case od::json_type::string: return "a string";
        case od::json_type::boolean: return "a boolean";
        case od::json_type::null: return "null";
    }
    return "a value";
}

ApiError wrong_type(std::string_view field, std::string_view expected, od::json_type got) {
    return ApiError::invalid_request("'" + std::string(field) + "' must be " + std::string(expected) + ", got " +
                                         std::string(type_name(got)),
                                     std::string(field), "invalid_type");
}

ApiError malformed(std::string_view body, simdjson::error_code code) {
    if (auto where = locate_json_error(body)) {
        return ApiError::invalid_request("the request body is not valid JSON: " + where->what + " at byte offset " +
                                             std::to_string(where->offset),
                                         std::nullopt, "invalid_json");
    }
    return ApiError::invalid_request(std::string("the request body is not valid JSON: ") +
                                         simdjson::error_message(code),
                                     std::nullopt, "invalid_json");
}

ApiError duplicate(std::string_view field) {
    return ApiError::invalid_request(
        "'" + std::string(field) + "' is given more than once; JSON readers disagree on which one counts",
        std::string(field), "duplicate_parameter");
}

std::string_view trim_end(std::string_view token) {
    while (!token.empty() &&
           (token.back() == ' ' || token.back() == '\t' || token.back() == '\n' || token.back() == '\r')) {
        token.remove_suffix(1);
    }
    return token;
}


// RFC 8259, section 7: the escape at `at` (its backslash) is \" \\ \/ \b \f \n \r \t or \u and four hex
// digits, a lone surrogate (\ud83d) included, as most JSON readers take it. Returns the escape's
// last byte, or nullptr. (Control characters were refused by simdjson's first pass, and a string
// always ends with its closing quote: none of these reads goes past it.)
const char* escape_end(const char* at) {
    ++at;
    if (*at == 'u') {
        for (int i = 0; i < 4; ++i) {
            const char c = *++at;
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return nullptr;
        }
        return at;
    }
    return std::string_view(R"("\/bfnrt)").find(*at) == std::string_view::npos ? nullptr : at;
}

// A string token's escapes (its quotes included; from the closing quote on, ignored).
bool has_valid_escapes(std::string_view token) {
    const char* at = token.data() + 1;
    const char* const end = token.data() + token.size();
    while ((at = static_cast<const char*>(std::memchr(at, '\\', static_cast<std::size_t>(end - at)))) != nullptr) {
        at = escape_end(at);
        if (at == nullptr) return false;
        ++at;
    }
    return true;
}

// A key's escapes, its text starting past its opening quote (keys are short: read byte by byte).
bool key_has_valid_escapes(const char* at) {
    for (; *at != '"'; ++at) {
        if (*at == '\\' && (at = escape_end(at)) == nullptr) return false;
    }
    return true;
}

// Visits every part of a value the gateway does not read: On-Demand checks only what is visited,
// and a body that is not JSON must be refused here rather than forwarded (an upstream might read
// it otherwise than the gateway did).
simdjson::error_code check_value(od::value value, int depth) {
    if (depth > kMaxJsonDepth) return simdjson::DEPTH_ERROR;  // before simdjson's own limit is reached
    od::json_type type{};
    if (auto error = value.type().get(type)) return error;
    switch (type) {
        case od::json_type::object: {
            od::object object;
            if (auto error = value.get_object().get(object)) return error;
            for (auto field_result : object) {
                od::field field;
                if (auto error = std::move(field_result).get(field)) return error;
                if (!key_has_valid_escapes(field.key().raw())) return simdjson::STRING_ERROR;
                if (auto error = check_value(field.value(), depth + 1)) return error;
            }
            return simdjson::SUCCESS;
        }
        case od::json_type::array: {
            od::array array;
            if (auto error = value.get_array().get(array)) return error;
            for (auto element_result : array) {
                od::value element;
                if (auto error = std::move(element_result).get(element)) return error;
                if (auto error = check_value(element, depth + 1)) return error;
            }
            return simdjson::SUCCESS;
        }
        case od::json_type::string: {
            const std::string_view token = trim_end(value.raw_json_token());
            // Consumed, not only looked at: On-Demand skips a string it was not given by taking a
            // ':' after it for a key's ("x":"y":1 would pass). A number's skip is exact.
            od::raw_json_string raw;
            if (auto error = value.get_raw_json_string().get(raw)) return error;
            return has_valid_escapes(token) ? simdjson::SUCCESS : simdjson::STRING_ERROR;
        }
        case od::json_type::number:
            return is_json_number(value.raw_json_token()) ? simdjson::SUCCESS : simdjson::NUMBER_ERROR;
        case od::json_type::boolean: {
            bool flag = false;
            return value.get_bool().get(flag);
        }
        case od::json_type::null: {
            bool null = false;
            if (auto error = value.is_null().get(null)) return error;
            return null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
        }
    }
    return simdjson::TAPE_ERROR;
}

// A number field that must be an integer (or null).
std::optional<ApiError> check_integer(std::string_view body, od::value& value, std::string_view key, od::json_type type,
                                      std::optional<std::int64_t>* out = nullptr) {
    if (type == od::json_type::null) {
        if (auto error = check_value(value, 1)) return malformed(body, error);
        return std::nullopt;
    }
    if (type != od::json_type::number) return wrong_type(key, "an integer", type);
    std::int64_t number = 0;
    if (value.get_int64().get(number) != simdjson::SUCCESS) return wrong_type(key, "an integer", type);
    if (out) *out = number;
    return std::nullopt;
}

// The names an endpoint's body gives the fields the gateway decides with.
struct Fields {
    std::string_view required;         // must be there ("" : nothing is)
    std::string_view input;            // the conversation, when not required
    bool messages = false;             // the conversation is an array of messages (never a string)
    std::string_view max_tokens;       // what caps the answer's length
    std::string_view max_tokens_too;   // its other name
    bool stream_options = false;       // stream_options.include_usage asks for a stream's usage
    bool stateful = false;             // previous_response_id and store
    std::string_view head = {};        // the system prompt outside the conversation (system, instructions)
    bool metadata_key = false;         // metadata.user_id is an affinity key (Anthropic)
};

Fields fields_of(Endpoint endpoint) {
    switch (endpoint) {
        case Endpoint::chat_completions:
            return {"messages", "", true, "max_tokens", "max_completion_tokens", true, false};
        case Endpoint::completions: return {"prompt", "", false, "max_tokens", "", true, false};
        case Endpoint::embeddings: return {"input", "", false, "max_tokens", "max_completion_tokens", false, false};
        case Endpoint::responses:
        case Endpoint::input_tokens: return {"", "input", false, "max_output_tokens", "", false, true, "instructions"};
        case Endpoint::messages: return {"messages", "", true, "max_tokens", "", false, false, "system", true};
        case Endpoint::count_tokens: return {"messages", "", true, "", "", false, false};
    }
    return {};
}

// The model, the field the gateway routes by: its name, and where its literal sits for forward_body.
std::optional<ApiError> read_model(std::string_view body, std::string_view key, od::value& value, od::json_type type,
                                   RequestFacts& facts, bool& seen) {
    if (seen) return duplicate(key);
    if (type != od::json_type::string) return wrong_type(key, "a string", type);
    const std::string_view raw = trim_end(value.raw_json_token());
    std::string_view name;
    if (auto error = value.get_string().get(name)) return malformed(body, error);
    facts.model = std::string(name);
    facts.model_offset = static_cast<std::size_t>(raw.data() - body.data());
    facts.model_length = raw.size();
    seen = true;
    return std::nullopt;
}

// A message's role is system or developer (engines render it first; not a session's own turn).
bool is_system_message(std::string_view message) {
    const auto at = message.find("\"role\"");
    if (at == std::string_view::npos) return false;
    const auto value = message.find('"', message.find(':', at + 6));
    if (value == std::string_view::npos) return false;
    const std::string_view role = message.substr(value);
    return role.starts_with("\"system\"") || role.starts_with("\"developer\"");
}

// A value's bytes as sent: from its first byte to where the iterator stands once it was visited
// (trailing whitespace dropped).
std::string_view value_bytes(const char* start, od::value& value) {
    const char* end = nullptr;
    if (value.current_location().get(end) != simdjson::SUCCESS || end < start) return {};
    std::string_view bytes(start, static_cast<std::size_t>(end - start));
    while (!bytes.empty() && (bytes.back() == ' ' || bytes.back() == '\t' || bytes.back() == '\n' ||
                              bytes.back() == '\r' || bytes.back() == ',')) {
        bytes.remove_suffix(1);
    }
    return bytes;
}

// The conversation (messages, prompt, input): its type, and at least one message where it is a
// list of them. With `prefix`, each message (or the whole prompt) is hashed into it.
std::optional<ApiError> read_conversation(std::string_view body, std::string_view key, od::value& value,
                                          od::json_type type, bool messages, PromptPrefix* prefix) {
    const bool ok =
        messages ? type == od::json_type::array : type == od::json_type::array || type == od::json_type::string;
    if (!ok) return wrong_type(key, messages ? "an array of messages" : "a string or an array", type);
    if (!messages && (prefix == nullptr || type == od::json_type::string)) {
        const std::string_view token = trim_end(value.raw_json_token());
        if (auto error = check_value(value, 1)) return malformed(body, error);
        if (prefix != nullptr) prefix->add_message(token, false);
        return std::nullopt;
    }
    od::array list;
    std::size_t count = 0;
    if (auto error = value.get_array().get(list)) return malformed(body, error);
    for (auto message_result : list) {
        od::value message;
        if (auto error = std::move(message_result).get(message)) return malformed(body, error);
        const char* start = prefix != nullptr ? message.raw_json_token().data() : nullptr;
        if (auto error = check_value(message, 2)) return malformed(body, error);
        if (prefix != nullptr) {
            const std::string_view bytes = value_bytes(start, message);
            prefix->add_message(bytes, is_system_message(bytes));
        }
        ++count;
    }
    if (count == 0 && messages) {
        return ApiError::invalid_request("'" + std::string(key) + "' must contain at least one message",
                                         std::string(key), "invalid_value");
    }
    return std::nullopt;
}

// Part of the prompt's head (tools; system or instructions): checked as any other field, and hashed.
std::optional<ApiError> read_head(std::string_view body, od::value& value, PromptPrefix& prefix, std::size_t which) {
    const char* start = value.raw_json_token().data();
    if (auto error = check_value(value, 1)) return malformed(body, error);
    const std::string_view bytes = value_bytes(start, value);
    prefix.head[which] = hash_bytes(bytes, 0x6865 + which) | 1;
    prefix.head_bytes[which] = static_cast<std::uint32_t>(bytes.size());
    return std::nullopt;
}

// An explicit affinity key: prompt_cache_key (a string), or Anthropic's metadata.user_id.
std::optional<ApiError> read_affinity_key(std::string_view body, std::string_view key, od::value& value,
                                          od::json_type type, PromptPrefix& prefix) {
    if (key == "prompt_cache_key" && type == od::json_type::string) {
        std::string_view text;
        if (auto error = value.get_string().get(text)) return malformed(body, error);
        prefix.set_key(text);
        return std::nullopt;
    }
    if (type != od::json_type::object) {
        if (auto error = check_value(value, 1)) return malformed(body, error);
        return std::nullopt;
    }
    od::object object;
    if (auto error = value.get_object().get(object)) return malformed(body, error);
    for (auto field_result : object) {
        od::field field;
        if (auto error = std::move(field_result).get(field)) return malformed(body, error);
        if (!key_has_valid_escapes(field.key().raw())) return malformed(body, simdjson::STRING_ERROR);
        std::string_view name;
        if (auto error = field.unescaped_key().get(name)) return malformed(body, error);
        od::value inner = field.value();
        od::json_type inner_type{};
        if (auto error = inner.type().get(inner_type)) return malformed(body, error);
        if (name == "user_id" && inner_type == od::json_type::string && !prefix.explicit_key) {
            std::string_view text;
            if (auto error = inner.get_string().get(text)) return malformed(body, error);
            prefix.set_key(text);
            continue;
        }
        if (auto error = check_value(inner, 2)) return malformed(body, error);
    }
    return std::nullopt;
}

std::optional<ApiError> read_stream(std::string_view body, std::string_view key, od::value& value, od::json_type type,
                                    RequestFacts& facts, bool& seen) {
    if (seen) return duplicate(key);
    seen = true;
    if (type == od::json_type::null) {
        if (auto error = check_value(value, 1)) return malformed(body, error);
        return std::nullopt;
    }
    if (type != od::json_type::boolean) return wrong_type(key, "a boolean", type);
    if (auto error = value.get_bool().get(facts.stream)) return malformed(body, error);
    return std::nullopt;
}

// stream_options.include_usage: its value, and where its literal sits for forward_body to set it to true.
std::optional<ApiError> read_include_usage(std::string_view body, od::value flag, RequestFacts& facts) {
    if (facts.include_usage_offset != std::string::npos) return duplicate("stream_options.include_usage");
    od::json_type flag_type{};
    if (auto error = flag.type().get(flag_type)) return malformed(body, error);
    if (flag_type != od::json_type::boolean) {
        return wrong_type("stream_options.include_usage", "a boolean", flag_type);
    }
    facts.include_usage_offset = static_cast<std::size_t>(flag.raw_json_token().data() - body.data());
    facts.include_usage_length = body.compare(facts.include_usage_offset, 4, "true") == 0 ? 4 : 5;
    if (auto error = flag.get_bool().get(facts.include_usage)) return malformed(body, error);
    return std::nullopt;
}

// stream_options: where forward_body can switch a stream's usage on (null, {} or an object to add to).
std::optional<ApiError> read_stream_options(std::string_view body, std::string_view key, od::value& value,
                                            od::json_type type, RequestFacts& facts, bool& seen) {
    if (seen) return duplicate(key);
    seen = true;
    facts.stream_options_offset = static_cast<std::size_t>(value.raw_json_token().data() - body.data());
    if (type == od::json_type::null) {
        if (auto error = check_value(value, 1)) return malformed(body, error);
        facts.stream_options_null = true;
        return std::nullopt;
    }
    if (type != od::json_type::object) return wrong_type(key, "an object", type);
    {
        const auto after = body.find_first_not_of(" \t\r\n", facts.stream_options_offset + 1);
        facts.stream_options_empty = after != std::string::npos && body[after] == '}';
    }
    od::object options;
    if (auto error = value.get_object().get(options)) return malformed(body, error);
    for (auto option_result : options) {
        od::field option;
        if (auto error = std::move(option_result).get(option)) return malformed(body, error);
        std::string_view option_key;
        if (auto error = option.unescaped_key().get(option_key)) return malformed(body, error);
        if (option_key != "include_usage") {
            if (auto error = check_value(option.value(), 2)) return malformed(body, error);
            continue;
        }
        if (auto error = read_include_usage(body, option.value(), facts)) return error;
    }
    return std::nullopt;
}

// Responses: the stored answer this request continues (a string, null or absent; never empty).
std::optional<ApiError> read_previous_response_id(std::string_view body, std::string_view key, od::value& value,
                                                  od::json_type type, RequestFacts& facts) {
    if (!facts.previous_response_id.empty()) return duplicate(key);
    if (type == od::json_type::null) {
        if (auto error = check_value(value, 1)) return malformed(body, error);
        return std::nullopt;
    }
    if (type != od::json_type::string) return wrong_type(key, "a string", type);
    std::string_view id;
    if (auto error = value.get_string().get(id)) return malformed(body, error);
    if (id.empty()) return ApiError::invalid_request("'previous_response_id' is empty", std::string(key));
    facts.previous_response_id = std::string(id);
    return std::nullopt;
}

// Responses: whether the answer may be stored (a boolean or null).
std::optional<ApiError> read_store(std::string_view body, std::string_view key, od::value& value, od::json_type type,
                                   RequestFacts& facts) {
    if (type != od::json_type::boolean && type != od::json_type::null) return wrong_type(key, "a boolean", type);
    if (type == od::json_type::boolean) {
        if (auto error = value.get_bool().get(facts.store)) return malformed(body, error);
    } else if (auto error = check_value(value, 1)) {
        return malformed(body, error);
    }
    return std::nullopt;
}

// A field the gateway does not read: the sampling numbers' type, and JSON's grammar for everything.
std::optional<ApiError> check_other(std::string_view body, std::string_view key, od::value& value, od::json_type type) {
    if ((key == "temperature" || key == "top_p" || key == "presence_penalty" || key == "frequency_penalty") &&
        type != od::json_type::number && type != od::json_type::null) {
        return wrong_type(key, "a number", type);
    }
    if (auto error = check_value(value, 1)) return malformed(body, error);
    return std::nullopt;
}

// Which fields of the root object the walk has met: a second model, stream or stream_options is
// refused, and the model and the endpoint's required field must be there.
struct Seen {
    bool model = false;
    bool required = false;
    bool stream = false;
    bool stream_options = false;
};

}  // namespace

bool is_json_number(std::string_view token) {
    token = trim_end(token);
    std::size_t i = 0;
    const auto digits = [&] {
        const std::size_t start = i;
        while (i < token.size() && token[i] >= '0' && token[i] <= '9') ++i;
        return i > start;
    };
    if (i < token.size() && token[i] == '-') ++i;
    if (i < token.size() && token[i] == '0') {
        ++i;
    } else if (!digits()) {
        return false;
    }
    if (i < token.size() && token[i] == '.') {
        ++i;
        if (!digits()) return false;
    }
    if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
        ++i;
        if (i < token.size() && (token[i] == '+' || token[i] == '-')) ++i;
        if (!digits()) return false;
    }
    return i == token.size();
}

std::variant<RequestFacts, ApiError> parse_request(Endpoint endpoint, std::string& body, od::parser& parser) {
    if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) {
        body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
    }
    if (body.find_first_not_of(" \t\r\n") == std::string::npos) {
        return ApiError::invalid_request("the request body is empty; send a JSON object", std::nullopt,
                                         "invalid_json");
    }
    const simdjson::padded_string_view input(body.data(), body.size(), body.capacity());
    od::document doc;
    if (auto error = parser.iterate(input).get(doc)) return malformed(body, error);
    od::object root;
    if (auto error = doc.get_object().get(root)) {
        od::json_type type{};
        if (doc.type().get(type) == simdjson::SUCCESS && type != od::json_type::object) {
            return ApiError::invalid_request("the request body must be a JSON object, got " +
                                                 std::string(type_name(type)),
                                             std::nullopt, "invalid_json");
        }
        return malformed(body, error);
    }

    RequestFacts facts;
    facts.root_open = body.find('{');
    Seen seen;
    const Fields names = fields_of(endpoint);
    // Generating endpoints: the prompt's prefix is identified as it is read.
    PromptPrefix* prefix = generates(endpoint) && endpoint != Endpoint::embeddings ? &facts.prefix : nullptr;
    for (auto field_result : root) {
        od::field field;
        if (auto error = std::move(field_result).get(field)) return malformed(body, error);
        std::string_view key;
        if (auto error = field.unescaped_key().get(key)) return malformed(body, error);
        od::value value = field.value();
        od::json_type type{};
        if (auto error = value.type().get(type)) return malformed(body, error);

        // Each family's refusal is returned where it is found: one optional<ApiError> assigned by every
        // branch cost its move-assignment on every field (about 4% more instructions a chat body).
        if (key == "model") {
            if (auto error = read_model(body, key, value, type, facts, seen.model)) return std::move(*error);
        } else if (!key.empty() && (key == names.required || key == names.input)) {
            seen.required = true;
            if (auto error = read_conversation(body, key, value, type, names.messages, prefix)) {
                return std::move(*error);
            }
        } else if (key == "stream") {
            if (auto error = read_stream(body, key, value, type, facts, seen.stream)) return std::move(*error);
        } else if (key == "stream_options" && names.stream_options) {
            if (auto error = read_stream_options(body, key, value, type, facts, seen.stream_options)) {
                return std::move(*error);
            }
        } else if (!key.empty() && (key == names.max_tokens || key == names.max_tokens_too)) {
            if (auto error = check_integer(body, value, key, type, &facts.max_tokens)) return *error;
        } else if (key == "previous_response_id" && names.stateful) {
            if (auto error = read_previous_response_id(body, key, value, type, facts)) return std::move(*error);
        } else if (key == "store" && names.stateful) {
            if (auto error = read_store(body, key, value, type, facts)) return std::move(*error);
        } else if (prefix != nullptr && (key == "tools" || (!names.head.empty() && key == names.head))) {
            if (auto error = read_head(body, value, *prefix, key == "tools" ? 0 : 1)) return std::move(*error);
        } else if (prefix != nullptr && (key == "prompt_cache_key" || (key == "metadata" && names.metadata_key))) {
            if (auto error = read_affinity_key(body, key, value, type, *prefix)) return std::move(*error);
        } else if (key == "n" || key == "seed" || key == "dimensions") {
            if (auto error = check_integer(body, value, key, type)) return *error;
        } else if (auto error = check_other(body, key, value, type)) {
            return std::move(*error);
        }
    }
    // Past the root object, the iterator must be at the end of the input.
    if (const char* rest = nullptr; doc.current_location().get(rest) == simdjson::SUCCESS) {
        return malformed(body, simdjson::TRAILING_CONTENT);
    }
    if (prefix != nullptr) prefix->finish();
    if (!seen.model) {
        return ApiError::invalid_request("you must provide a model parameter", "model", "missing_required_parameter");
    }
    if (!seen.required && !names.required.empty()) {
        return ApiError::invalid_request("missing required parameter: '" + std::string(names.required) + "'",
                                         std::string(names.required), "missing_required_parameter");
    }
    return facts;
}

void forward_body(ForwardBody& out, std::string_view body, const RequestFacts& facts, std::string_view model,
                  bool add_usage) {
    struct Edit {
        std::size_t offset;
        std::size_t erase;
        std::string_view insert;
    };
    std::array<Edit, 2> edits{};
    std::size_t n = 0;
    out.count = 0;
    out.model_literal.clear();
    if (model != facts.model) {
        append_json_string(out.model_literal, model);
        edits[n++] = Edit{facts.model_offset, facts.model_length, out.model_literal};
    }
    if (add_usage && !facts.include_usage) {
        if (facts.include_usage_offset != std::string::npos) {
            edits[n++] = Edit{facts.include_usage_offset, facts.include_usage_length, "true"};
        } else if (facts.stream_options_offset == std::string::npos) {
            edits[n++] = Edit{facts.root_open + 1, 0, R"("stream_options":{"include_usage":true},)"};
        } else if (facts.stream_options_null) {
            edits[n++] = Edit{facts.stream_options_offset, 4, R"({"include_usage":true})"};
        } else {
            edits[n++] = Edit{facts.stream_options_offset + 1, 0,
                              facts.stream_options_empty ? R"("include_usage":true)" : R"("include_usage":true,)"};
        }
    }
    if (n == 2 && edits[1].offset < edits[0].offset) std::swap(edits[0], edits[1]);
    std::size_t at = 0;
    for (std::size_t i = 0; i < n; ++i) {
        out.parts[out.count++] = body.substr(at, edits[i].offset - at);
        out.parts[out.count++] = edits[i].insert;
        at = edits[i].offset + edits[i].erase;
    }
    out.parts[out.count++] = body.substr(at);
}

}  // namespace switchyard::parse
