// Stage "translate", streams: a relayed stream's bytes, however the upstream's reads cut them,
// split into server-sent events (SseSplitter), read with the upstream's dialect and, when the caller
// speaks another, written in the caller's (StreamTranslator). A stream relayed unchanged is still
// read, for its usage. Pure: bytes in, bytes out.
#pragma once

#include <simdjson.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "translate/dialect.hpp"

namespace switchyard::translate {

// Splits SSE bytes into events (WHATWG's event stream format: lines ended by LF, CRLF or CR; an
// empty line ends an event; `event:` names it, `data:` lines are joined with LF; comments and
// other fields are skipped). Keeps an unfinished line or event between calls.
class SseSplitter {
public:
    // Calls on(name, data) for each event completed by `bytes`; `data` has SIMDJSON_PADDING readable
    // bytes after it and is valid during the call only.
    template <typename On>
    void feed(std::string_view bytes, On&& on) {
        while (!bytes.empty()) {
            std::string_view line;
            if (!take_line(bytes, line)) return;  // the rest waits in pending_
            if (line.empty()) {
                dispatch(on);
            } else {
                field(line);
            }
        }
    }
    // The stream ended: an event not ended by its blank line still counts, if it has data.
    template <typename On>
    void finish(On&& on) {
        if (!pending_.empty()) {
            const std::string line = std::move(pending_);
            pending_.clear();
            field(line);
        }
        dispatch(on);
    }

private:
    // The next whole line of `bytes` (a line begun in an earlier call joined to its end), without its
    // end; false when `bytes` ends inside a line (kept).
    bool take_line(std::string_view& bytes, std::string_view& line);
    void field(std::string_view line);
    template <typename On>
    void dispatch(On&& on) {
        if (has_data_) {
            data_.reserve(data_.size() + simdjson::SIMDJSON_PADDING);
            on(std::string_view(name_), std::string_view(data_));
        }
        name_.clear();
        data_.clear();
        has_data_ = false;
    }

    std::string pending_;    // a line not ended yet
    std::string joined_;     // pending_ and its end, while the line is handled
    bool skip_lf_ = false;   // the last line ended with CR: an LF right after belongs to it
    std::string name_;
    std::string data_;
    bool has_data_ = false;
};

class StreamTranslator final : EventSink {
public:
    // From the upstream's dialect `from` to the caller's `to`; without `to`, the stream is only
    // read (its usage), the caller getting its bytes unchanged. `parser` and what `options` views
    // must outlive the translator.
    StreamTranslator(Dialect from, std::optional<Dialect> to, simdjson::ondemand::parser& parser,
                     const AnswerOptions& options);

    // The next bytes from the upstream; what the caller gets for them is appended to `out`.
    void feed(std::string_view bytes, std::string& out);
    // The upstream ended its stream (with its last chunk, or by closing).
    void end(std::string& out);
    // The gateway ends the stream with `error` (the upstream broke or timed out).
    void fail(const Error& error, std::string& out);

    const Usage& usage() const { return reader_->usage(); }
    // Deltas of text, reasoning and arguments so far: a stream cut before its usage is estimated
    // from them.
    std::int64_t content_events() const { return content_events_; }
    bool finished() const { return finished_; }  // the model stopped (a finish event came)
    bool failed() const { return failed_; }      // the upstream's stream carried an error

private:
    void on(const Event& event) override;

    SseSplitter splitter_;
    std::unique_ptr<StreamReader> reader_;
    std::unique_ptr<StreamWriter> writer_;  // null: read only
    std::string* out_ = nullptr;            // where on() writes, during feed() and end()
    std::int64_t content_events_ = 0;
    bool finished_ = false;
    bool failed_ = false;
    bool done_ = false;
};

}  // namespace switchyard::translate
