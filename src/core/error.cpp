#include "core/error.hpp"

#include <simdjson.h>

#include <array>
#include <cstdint>

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
    static constexpr char kHex[] = "0123456789abcdef";
    // Text from the wire (a path, a header, an engine's log) may not be UTF-8: its bytes from 0x80
    // are then escaped one by one (read as Latin-1), so that the JSON stays valid for any reader.
    // The check runs when the first such byte is met (most text written is ASCII: keys, ids, types).
    enum class Utf8 : std::uint8_t { unknown, valid, invalid } utf8 = Utf8::unknown;
    out.push_back('"');
    std::size_t plain_from = 0;  // the start of the run of bytes that need no escape
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte >= 0x20 && byte != '"' && byte != '\\' && byte < 0x80) continue;
        if (byte >= 0x80) {
            if (utf8 == Utf8::unknown) {
                utf8 = simdjson::validate_utf8(text.data(), text.size()) ? Utf8::valid : Utf8::invalid;
            }
            if (utf8 == Utf8::valid) continue;
        }
        out.append(text.data() + plain_from, i - plain_from);
        plain_from = i + 1;
        switch (byte) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                out += "\\u00";
                out.push_back(kHex[byte >> 4]);
                out.push_back(kHex[byte & 0xf]);
        }
    }
    out.append(text.data() + plain_from, text.size() - plain_from);
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

namespace {

// Error types by HTTP status, per API. (A type's status is its first row's: Anthropic's
// overloaded_error is a 529, a timeout a 504.)
struct ErrorTypes {
    int status;
    std::string_view openai;
    std::string_view anthropic;
};

constexpr std::array<ErrorTypes, 12> kErrorTypes{{
    {400, "invalid_request_error", "invalid_request_error"},
    {401, "authentication_error", "authentication_error"},
    {402, "insufficient_quota", "billing_error"},
    {403, "permission_error", "permission_error"},
    {404, "not_found_error", "not_found_error"},
    {413, "invalid_request_error", "request_too_large"},
    {429, "rate_limit_error", "rate_limit_error"},
    {500, "server_error", "api_error"},
    {529, "server_error", "overloaded_error"},
    {503, "server_error", "overloaded_error"},
    {504, "timeout_error", "timeout_error"},
    {408, "timeout_error", "timeout_error"},
}};

}  // namespace

std::string_view openai_error_type(int status) {
    for (const auto& row : kErrorTypes) {
        if (row.status == status) return row.openai;
    }
    return status >= 500 ? "server_error" : "invalid_request_error";
}

std::string_view anthropic_error_type(int status) {
    for (const auto& row : kErrorTypes) {
        if (row.status == status) return row.anthropic;
    }
    return status >= 500 ? "api_error" : "invalid_request_error";
}

bool is_anthropic_error_type(std::string_view type) {
    for (const auto& row : kErrorTypes) {
        if (row.anthropic == type) return true;
    }
    return false;
}

int status_of_error_type(std::string_view type) {
    for (const auto& row : kErrorTypes) {
        if (row.anthropic == type || row.openai == type) return row.status;
    }
    return 500;
}

std::string to_body(const ApiError& error, ErrorShape shape) {
    if (shape == ErrorShape::openai) return to_body(error);
    std::string out;
    out.reserve(error.message.size() + 80);
    out += R"({"type":"error","error":{"type":)";
    // The status's own type, unless the error names a more specific one of Anthropic's (an
    // overloaded_error sent as 503): Anthropic's clients dispatch on the type (not_found_error,
    // authentication_error), where OpenAI's often say invalid_request_error.
    const bool own = is_anthropic_error_type(error.type) && error.type != "invalid_request_error";
    append_json_string(out, own ? std::string_view(error.type) : anthropic_error_type(error.status));
    out += R"(,"message":)";
    append_json_string(out, error.message);
    out += "}}";
    return out;
}

}  // namespace switchyard
