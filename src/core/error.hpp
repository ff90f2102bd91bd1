// Errors as values: every expected failure on the request path (bad input, no route, upstream
// refused or timed out) is an `ApiError` with an HTTP status and the OpenAI error fields.
// One function, `to_body`, turns it into the `{"error":{...}}` JSON the caller receives.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace switchyard {

struct ApiError {
    ApiError() = default;
    ApiError(int status_, std::string message_, std::string type_ = "invalid_request_error",
             std::optional<std::string> param_ = {}, std::optional<std::string> code_ = {})
        : status(status_), message(std::move(message_)), type(std::move(type_)), param(std::move(param_)),
          code(std::move(code_)) {}

    int status = 500;
    std::string message;
    std::string type = "invalid_request_error";  // OpenAI's error.type
    std::optional<std::string> param;            // the offending field, if any
    std::optional<std::string> code;             // machine-readable code, if any
    std::optional<long> retry_after;             // seconds, sent as Retry-After (429, 503)

    static ApiError invalid_request(std::string message, std::optional<std::string> param = {},
                                    std::optional<std::string> code = {});
    static ApiError not_found(std::string message, std::string code);
    static ApiError upstream(int status, std::string message, std::string code);
    static ApiError server(std::string message);
};

// `{"error":{"message":...,"type":...,"param":...,"code":...}}`
std::string to_body(const ApiError& error);

// Which API's error shape a caller reads: OpenAI's (chat completions, responses, embeddings) or
// Anthropic's (messages).
enum class ErrorShape : unsigned char { openai, anthropic };
// `error` in `shape`: to_body() above, or Anthropic's `{"type":"error","error":{"type","message"}}`
// with Anthropic's type for the status when the error's own type is not one of Anthropic's.
std::string to_body(const ApiError& error, ErrorShape shape);

// The error type each API gives an HTTP status ("rate_limit_error", "overloaded_error", ...), and
// the status of a type (an error inside an Anthropic stream carries only its type).
std::string_view openai_error_type(int status);
std::string_view anthropic_error_type(int status);
bool is_anthropic_error_type(std::string_view type);
int status_of_error_type(std::string_view type);

// Appends `text` as a JSON string literal (quotes included) to `out`.
void append_json_string(std::string& out, std::string_view text);

}  // namespace switchyard
