// Stage "translate": each dialect's reader and writer of requests, answers, errors and streams,
// to and from the common form (ir.hpp). Pure: bytes in, bytes out, no I/O, no clock; a stream's
// state lives in its reader or writer between calls. The forward stage uses them when a request
// goes to an upstream that does not speak the caller's dialect: the request body is read with the
// caller's dialect and written with the upstream's; the answer, whole or streamed, the other way.
//
// One file per dialect implements the functions below for it (dialects/chat.cpp,
// dialects/responses.cpp, dialects/messages.cpp); this header's functions dispatch on `Dialect`.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "translate/ir.hpp"

namespace switchyard::translate {

// --- Requests -------------------------------------------------------------------------------

// Reads a request body of `dialect` into `out` (which must be empty). `body` has passed the parse
// stage (valid JSON, an object, `model` a string) and must outlive `out`. A request this dialect's
// API would refuse, or that the gateway cannot translate, gets a 400 in OpenAI's fields (the caller's
// dialect shapes it later), naming the field (`param`).
std::optional<ApiError> read_request(Dialect dialect, std::string_view body, Request& out);

struct WriteOptions {
    std::string_view model;                 // the upstream's name of the model (plain text)
    std::int64_t default_max_tokens = 4096; // messages requires max_tokens: used when the request has none
    bool stream_usage = true;               // chat: ask a stream for its usage (stream_options)
    bool top_k = false;                     // chat: the upstream takes top_k (llama-server, vLLM)
};

// Writes `request` as a body of `dialect` into `out` (appended). A part or field the dialect cannot
// express, when dropping it would change the answer (an Unmapped with changes_meaning, `n` > 1 to
// Anthropic, a document to chat), is a 400 naming it; a harmless one is dropped.
std::optional<ApiError> write_request(Dialect dialect, const Request& request, const WriteOptions& options,
                                      std::string& out);

// --- Whole answers --------------------------------------------------------------------------

// Reads a successful (2xx) answer body of `dialect`. False when it is not one (the caller then gets
// a 502 naming the upstream).
bool read_response(Dialect dialect, std::string_view body, Response& out);

struct AnswerOptions {
    std::string_view model;    // the model name the caller asked for (plain text), when the source has none
    std::int64_t now = 0;      // Unix seconds, for `created` fields the source did not have
    std::string_view id_seed;  // the request id: ids the writer makes are derived from it
    bool stream_usage = true;  // chat: the caller asked for the stream's usage chunk (include_usage)
    // The caller's request as read (its tools' kinds: a Responses custom tool's calls), or null.
    const Request* request = nullptr;
};

// Writes `response` as an answer body of `dialect` into `out` (appended).
void write_response(Dialect dialect, const Response& response, const AnswerOptions& options, std::string& out);

// --- Errors ---------------------------------------------------------------------------------

// Reads an upstream's error body of `dialect` (`status` its HTTP status). False when the body is
// not an error of that shape (then the status alone speaks).
bool read_error(Dialect dialect, std::string_view body, int status, Error& out);

// Writes `error` as an error body of `dialect` (appended): OpenAI's {"error":{...}} for chat and
// responses, Anthropic's {"type":"error","error":{...}} for messages, with the type the dialect's
// API gives that status when the source's type has no equivalent.
void write_error(Dialect dialect, const Error& error, std::string& out);

// The gateway's own error (core/error.hpp) as the common form, for write_error.
Error from_api_error(const ApiError& error, Arena& arena);

// --- Streams --------------------------------------------------------------------------------

// Receives what a reader makes of a stream.
class EventSink {
public:
    virtual void on(const Event& event) = 0;

protected:
    ~EventSink() = default;
};

// Reads one dialect's stream, event by event. Each call is given one whole SSE event (its `event:`
// name, or empty, and its `data:` lines joined) and calls `sink` for what it means. Views in the
// events it makes are valid during the call only. No allocation per event once warm.
class StreamReader {
public:
    virtual ~StreamReader() = default;
    // `data` has simdjson::SIMDJSON_PADDING readable bytes after its end.
    virtual void event(std::string_view name, std::string_view data, EventSink& sink) = 0;
    // The upstream's stream ended (cleanly or not): closes what is open, as far as it can be.
    virtual void end(EventSink& sink) = 0;
    // What the stream reported of usage so far (found=false: nothing yet).
    virtual const Usage& usage() const = 0;
};

// Writes one dialect's stream. Each event's bytes (whole SSE events, `event:` lines where the
// dialect has them) are appended to `out`. Keeps what later events must repeat (a Responses
// stream's final response object holds every output item whole); no allocation per event once
// its buffers have grown.
class StreamWriter {
public:
    virtual ~StreamWriter() = default;
    virtual void write(const Event& event, std::string& out) = 0;
    // A gateway-side failure after the stream began (the upstream broke, timed out): the dialect's
    // in-stream error, then its end.
    virtual void fail(const Error& error, std::string& out) = 0;
    // Something to send while the upstream is silent for long (before the first token of a long
    // prompt): Anthropic's `event: ping`, an SSE comment line elsewhere.
    virtual void keepalive(std::string& out) = 0;
};

// What a writer's keepalive() appends: for a stream relayed unchanged, which has no writer.
std::string_view keepalive_event(Dialect dialect);

// `parser` is the thread's, reused for every event.
std::unique_ptr<StreamReader> make_reader(Dialect dialect, simdjson::ondemand::parser& parser);
std::unique_ptr<StreamWriter> make_writer(Dialect dialect, const AnswerOptions& options);

// --- Mapping tables -------------------------------------------------------------------------

// A stop reason in `dialect`'s words ("stop", "end_turn", ...); for responses, the finish word
// used by an incomplete answer's reason ("max_output_tokens", "content_filter") or "".
std::string_view stop_word(Dialect dialect, Stop stop);
Stop stop_of(Dialect dialect, std::string_view word);

// The error type `dialect`'s API gives an HTTP status ("rate_limit_error", "overloaded_error"...);
// the other way, status_of_error_type in core/error.hpp.
std::string_view error_type(Dialect dialect, int status);

}  // namespace switchyard::translate
