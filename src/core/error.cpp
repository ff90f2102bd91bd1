#include "core/error.hpp"

#include <cstdio>

namespace switchyard {

ApiError ApiError::invalid_request(std::string message, std::optional<std::string> param,
                                   std::optional<std::string> code) {
    return ApiError{400, std::move(message), "invalid_request_error", std::move(param),
                    std::move(code)};
}

ApiError ApiError::not_found(std::string message, std::string code) {
    return ApiError{404, std::move(message), "invalid_request_error", std::nullopt,
                    std::move(code)};
}

ApiError ApiError::upstream(int status, std::string message, std::string code) {
    return ApiError{status, std::move(message), "upstream_error", std::nullopt, std::move(code)};
}

ApiError ApiError::server(std::string message) {
    return ApiError{500, std::move(message), "server_error", std::nullopt, std::nullopt};
}

void append_json_string(std::string& out, std::string_view text) {
    out.push_back('"');
    for (char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char escaped[8];
                    std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
                    out += escaped;
                } else {
                    out.push_back(c);
                }
        }
    }
    out.push_back('"');
}

namespace {
void append_optional(std::string& out, const std::optional<std::string>& value) {
    if (value) {
        append_json_string(out, *value);
    } else {
        out += "null";
    }
}
}  // namespace

std::string to_body(const ApiError& error) {
    std::string out;
    out.reserve(error.message.size() + 96);
    out += R"({"error":{"message":)";
    append_json_string(out, error.message);
    out += R"(,"type":)";
    append_json_string(out, error.type);
    out += R"(,"param":)";
    append_optional(out, error.param);
    out += R"(,"code":)";
    append_optional(out, error.code);
    out += "}}";
    return out;
}

}  // namespace switchyard
