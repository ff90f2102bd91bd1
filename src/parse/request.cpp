#include "parse/request.hpp"

#include "parse/json_locate.hpp"

namespace switchyard::parse {

namespace od = simdjson::ondemand;

std::string_view path_of(Endpoint endpoint) {
    switch (endpoint) {
        case Endpoint::chat_completions: return "/chat/completions";
        case Endpoint::completions: return "/completions";
        case Endpoint::embeddings: return "/embeddings";
    }
    return "";
}

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

// A number field that must be an integer (or null).
std::optional<ApiError> check_integer(od::value& value, std::string_view key, od::json_type type,
                                      std::optional<std::int64_t>* out = nullptr) {
    if (type == od::json_type::null) return std::nullopt;
    if (type != od::json_type::number) return wrong_type(key, "an integer", type);
    std::int64_t number = 0;
    if (value.get_int64().get(number) != simdjson::SUCCESS) return wrong_type(key, "an integer", type);
    if (out) *out = number;
    return std::nullopt;
}

}  // namespace

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
    bool have_model = false;
    bool have_required = false;
    const std::string_view required = endpoint == Endpoint::chat_completions ? "messages"
                                      : endpoint == Endpoint::completions    ? "prompt"
                                                                             : "input";
    for (auto field_result : root) {
        od::field field;
        if (auto error = std::move(field_result).get(field)) return malformed(body, error);
        std::string_view key;
        if (auto error = field.unescaped_key().get(key)) return malformed(body, error);
        od::value value = field.value();
        od::json_type type{};
        if (auto error = value.type().get(type)) return malformed(body, error);

        if (key == "model") {
            if (type != od::json_type::string) return wrong_type(key, "a string", type);
            std::string_view raw = value.raw_json_token();
            while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' ||
                                    raw.back() == '\t')) {
                raw.remove_suffix(1);
            }
            std::string_view name;
            if (auto error = value.get_string().get(name)) return malformed(body, error);
            facts.model = std::string(name);
            facts.model_offset = static_cast<std::size_t>(raw.data() - body.data());
            facts.model_length = raw.size();
            have_model = true;
        } else if (key == required) {
            have_required = true;
            const bool ok = endpoint == Endpoint::chat_completions
                                ? type == od::json_type::array
                                : type == od::json_type::array || type == od::json_type::string;
            if (!ok) {
                return wrong_type(key, endpoint == Endpoint::chat_completions ? "an array of messages"
                                                                              : "a string or an array",
                                  type);
            }
            if (endpoint == Endpoint::chat_completions) {
                od::array messages;
                std::size_t count = 0;
                if (auto error = value.get_array().get(messages)) return malformed(body, error);
                if (auto error = messages.count_elements().get(count)) return malformed(body, error);
                if (count == 0) {
                    return ApiError::invalid_request("'messages' must contain at least one message", "messages",
                                                     "invalid_value");
                }
            }
        } else if (key == "stream") {
            if (type == od::json_type::null) continue;
            if (type != od::json_type::boolean) return wrong_type(key, "a boolean", type);
            if (auto error = value.get_bool().get(facts.stream)) return malformed(body, error);
        } else if (key == "stream_options") {
            facts.stream_options_offset = static_cast<std::size_t>(value.raw_json_token().data() - body.data());
            if (type == od::json_type::null) {
                facts.stream_options_null = true;
                continue;
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
                if (option_key != "include_usage") continue;
                od::value flag = option.value();
                od::json_type flag_type{};
                if (auto error = flag.type().get(flag_type)) return malformed(body, error);
                if (flag_type != od::json_type::boolean) {
                    return wrong_type("stream_options.include_usage", "a boolean", flag_type);
                }
                facts.include_usage_offset = static_cast<std::size_t>(flag.raw_json_token().data() - body.data());
                facts.include_usage_length = body.compare(facts.include_usage_offset, 4, "true") == 0 ? 4 : 5;
                if (auto error = flag.get_bool().get(facts.include_usage)) return malformed(body, error);
            }
        } else if (key == "max_tokens" || key == "max_completion_tokens") {
            if (auto error = check_integer(value, key, type, &facts.max_tokens)) return *error;
        } else if (key == "n" || key == "seed" || key == "dimensions") {
            if (auto error = check_integer(value, key, type)) return *error;
        } else if (key == "temperature" || key == "top_p" || key == "presence_penalty" ||
                   key == "frequency_penalty") {
            if (type != od::json_type::number && type != od::json_type::null) {
                return wrong_type(key, "a number", type);
            }
        }
    }
    // Past the root object, the iterator must be at the end of the input.
    if (const char* rest = nullptr; doc.current_location().get(rest) == simdjson::SUCCESS) {
        return malformed(body, simdjson::TRAILING_CONTENT);
    }
    if (!have_model) {
        return ApiError::invalid_request("you must provide a model parameter", "model", "missing_required_parameter");
    }
    if (!have_required) {
        return ApiError::invalid_request("missing required parameter: '" + std::string(required) + "'",
                                         std::string(required), "missing_required_parameter");
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
