#include "translate/dialect.hpp"

#include <array>

#include "translate/dialects/dialects.hpp"
#include "translate/json.hpp"

namespace switchyard::translate {

std::string_view to_string(Dialect dialect) {
    switch (dialect) {
        case Dialect::chat: return "chat";
        case Dialect::responses: return "responses";
        case Dialect::messages: return "messages";
    }
    return "?";
}

// Dispatch: each function goes to the dialect's namespace (dialects/*.cpp).
#define SWITCHYARD_DISPATCH(CALL)                   \
    switch (dialect) {                              \
        case Dialect::chat: return chat::CALL;      \
        case Dialect::responses: return responses::CALL; \
        case Dialect::messages: return messages::CALL;   \
    }                                               \
    return chat::CALL

std::optional<ApiError> read_request(Dialect dialect, std::string_view body, Request& out) {
    SWITCHYARD_DISPATCH(read_request(body, out));
}

std::optional<ApiError> write_request(Dialect dialect, const Request& request, const WriteOptions& options,
                                      std::string& out) {
    SWITCHYARD_DISPATCH(write_request(request, options, out));
}

bool read_response(Dialect dialect, std::string_view body, Response& out) {
    SWITCHYARD_DISPATCH(read_response(body, out));
}

void write_response(Dialect dialect, const Response& response, const AnswerOptions& options, std::string& out) {
    SWITCHYARD_DISPATCH(write_response(response, options, out));
}

bool read_error(Dialect dialect, std::string_view body, int status, Error& out) {
    SWITCHYARD_DISPATCH(read_error(body, status, out));
}

void write_error(Dialect dialect, const Error& error, std::string& out) { SWITCHYARD_DISPATCH(write_error(error, out)); }

std::string_view keepalive_event(Dialect dialect) {
    return dialect == Dialect::messages ? "event: ping\ndata: {\"type\": \"ping\"}\n\n" : ": keep-alive\n\n";
}

std::unique_ptr<StreamReader> make_reader(Dialect dialect, simdjson::ondemand::parser& parser) {
    SWITCHYARD_DISPATCH(make_reader(parser));
}

std::unique_ptr<StreamWriter> make_writer(Dialect dialect, const AnswerOptions& options) {
    SWITCHYARD_DISPATCH(make_writer(options));
}

#undef SWITCHYARD_DISPATCH

Error from_api_error(const ApiError& error, Arena& arena) {
    const auto literal = [&](std::string_view text) {
        std::string out;
        append_json_string(out, text);
        return arena.keep(std::move(out));
    };
    Error out;
    out.status = error.status;
    out.type = literal(error.type);
    out.message = literal(error.message);
    if (error.code) out.code = literal(*error.code);
    if (error.param) out.param = literal(*error.param);
    return out;
}

// --- Stop reasons: one row a reason, each dialect's word for it ------------------------------

namespace {

struct StopWords {
    Stop stop;
    std::string_view chat;
    std::string_view messages;
    std::string_view responses;  // an incomplete answer's reason; "" for a completed one
};

constexpr std::array<StopWords, 7> kStops{{
    {Stop::end_turn, "stop", "end_turn", ""},
    {Stop::max_tokens, "length", "max_tokens", "max_output_tokens"},
    {Stop::stop_sequence, "stop", "stop_sequence", ""},
    {Stop::tool_use, "tool_calls", "tool_use", ""},
    {Stop::content_filter, "content_filter", "refusal", "content_filter"},
    {Stop::pause, "stop", "pause_turn", ""},
    {Stop::unknown, "stop", "end_turn", ""},
}};

std::string_view word_in(const StopWords& row, Dialect dialect) {
    switch (dialect) {
        case Dialect::chat: return row.chat;
        case Dialect::messages: return row.messages;
        case Dialect::responses: return row.responses;
    }
    return row.chat;
}


}  // namespace

std::string_view stop_word(Dialect dialect, Stop stop) {
    for (const auto& row : kStops) {
        if (row.stop == stop) return word_in(row, dialect);
    }
    return word_in(kStops.back(), dialect);
}

Stop stop_of(Dialect dialect, std::string_view word) {
    if (word.empty()) return dialect == Dialect::responses ? Stop::end_turn : Stop::unknown;
    if (dialect == Dialect::chat && word == "function_call") return Stop::tool_use;  // the legacy name
    for (const auto& row : kStops) {
        if (word_in(row, dialect) == word) return row.stop;
    }
    return Stop::unknown;
}

std::string_view error_type(Dialect dialect, int status) {
    return dialect == Dialect::messages ? anthropic_error_type(status) : openai_error_type(status);
}

}  // namespace switchyard::translate
