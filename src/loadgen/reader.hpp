// Incremental readers for what an OpenAI-compatible server sends back to `switchyard bench`: the
// HTTP/1.1 response framing (status, headers, Content-Length / chunked / until-close bodies), the
// server-sent events inside a streamed body, and the few facts taken from each event. Bytes may be
// split anywhere between reads; nothing here does I/O, and steady-state use allocates nothing.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard::loadgen {

class ResponseParser {
public:
    enum class Result { need_more, done, error };

    // Prepares for the next response on the connection.
    void reset();

    // Consumes a prefix of `in` (sets `consumed`), calling `on_body(std::string_view)` with decoded
    // body bytes. `done` once the whole response has been read; bytes after it are left unconsumed.
    template <typename OnBody>
    Result feed(std::string_view in, std::size_t& consumed, OnBody&& on_body);
    // The peer closed the connection: ends a body delimited by the close, else an error.
    Result eof();

    int status() const { return status_; }
    bool keep_alive() const { return keep_alive_; }
    bool event_stream() const { return event_stream_; }
    bool head_complete() const { return state_ > State::head; }
    const std::string& error() const { return error_; }

private:
    enum class State { head, length_body, close_body, chunk_size, chunk_ext, chunk_data, chunk_data_end, trailer, done,
                       failed };
    Result parse_head(std::string_view in, std::size_t& consumed);
    Result fail(std::string message);
    Result chunk_framing(char c);

    State state_ = State::head;
    std::string head_;
    std::string error_;
    int status_ = 0;
    bool keep_alive_ = true;
    bool event_stream_ = false;
    std::uint64_t remaining_ = 0;
    std::size_t size_digits_ = 0;
    std::size_t line_length_ = 0;
};

// Server-sent events: calls `on_data(std::string_view)` with the data of each complete event (data
// lines joined by '\n'); comments and other fields are skipped.
class SseParser {
public:
    void reset();
    template <typename OnData>
    void feed(std::string_view body, OnData&& on_data);
    // End of the body: dispatches an event whose blank line never came.
    template <typename OnData>
    void finish(OnData&& on_data);

private:
    template <typename OnData>
    void line(std::string_view text, OnData& on_data);
    std::string partial_;
    std::string data_;
    bool has_data_ = false;
};

// What one streamed chunk carries, found without parsing the JSON.
struct ChunkFacts {
    bool done = false;   // "data: [DONE]"
    bool token = false;  // a non-empty content, text, reasoning or reasoning_content string
    bool usage = false;  // a "usage" object (not null)
    bool error = false;  // an {"error": ...} event
};
ChunkFacts inspect_chunk(std::string_view data);

// The raw (still JSON-escaped) text of the first "content" or "text" string in `json`, or empty.
std::string_view raw_text(std::string_view json);

struct Usage {
    std::uint32_t prompt_tokens = 0;
    std::uint32_t completion_tokens = 0;
    std::uint32_t cached_tokens = 0;  // prompt_tokens_details.cached_tokens or prompt_cache_hit_tokens
};

// Reads the top-level "usage" object of a response or chunk with simdjson On-Demand. One per thread.
class UsageReader {
public:
    std::optional<Usage> read(std::string_view json);
    // The raw text of choices[0].message.content (chat) or choices[0].text (completions) of a
    // non-streaming response, for multi-turn sessions.
    std::string_view message_text(std::string_view json);

private:
    simdjson::padded_string_view pad(std::string_view json);
    simdjson::ondemand::parser parser_;
    std::string buffer_;
};

// ---------------------------------------------------------------------------------------------

template <typename OnBody>
ResponseParser::Result ResponseParser::feed(std::string_view in, std::size_t& consumed, OnBody&& on_body) {
    consumed = 0;
    while (consumed < in.size() || state_ == State::done) {
        switch (state_) {
            case State::head: {
                std::size_t used = 0;
                const Result r = parse_head(in.substr(consumed), used);
                consumed += used;
                if (r != Result::done) return r;
                break;
            }
            case State::length_body: {
                const std::size_t take = static_cast<std::size_t>(
                    std::min<std::uint64_t>(remaining_, in.size() - consumed));
                if (take > 0) on_body(in.substr(consumed, take));
                consumed += take;
                remaining_ -= take;
                if (remaining_ == 0) state_ = State::done;
                break;
            }
            case State::close_body:
                on_body(in.substr(consumed));
                consumed = in.size();
                return Result::need_more;
            case State::chunk_data: {
                const std::size_t take = static_cast<std::size_t>(
                    std::min<std::uint64_t>(remaining_, in.size() - consumed));
                if (take > 0) on_body(in.substr(consumed, take));
                consumed += take;
                remaining_ -= take;
                if (remaining_ == 0) {
                    state_ = State::chunk_data_end;
                    line_length_ = 0;
                }
                break;
            }
            case State::done: return Result::done;
            case State::failed: return Result::error;
            default: {
                const Result r = chunk_framing(in[consumed]);
                ++consumed;
                if (r == Result::error) return r;
                break;
            }
        }
    }
    return state_ == State::done ? Result::done : Result::need_more;
}

template <typename OnData>
void SseParser::line(std::string_view text, OnData& on_data) {
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.empty()) {
        if (has_data_) {
            on_data(std::string_view(data_));
            data_.clear();
            has_data_ = false;
        }
        return;
    }
    if (!text.starts_with("data:")) return;  // comments, event:, id:, retry:
    text.remove_prefix(5);
    if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    if (has_data_) data_.push_back('\n');
    data_.append(text);
    has_data_ = true;
}

template <typename OnData>
void SseParser::feed(std::string_view body, OnData&& on_data) {
    while (!body.empty()) {
        const auto newline = body.find('\n');
        if (newline == std::string_view::npos) {
            partial_.append(body);
            return;
        }
        if (partial_.empty()) {
            line(body.substr(0, newline), on_data);
        } else {
            partial_.append(body.substr(0, newline));
            line(std::string_view(partial_), on_data);
            partial_.clear();
        }
        body.remove_prefix(newline + 1);
    }
}

template <typename OnData>
void SseParser::finish(OnData&& on_data) {
    if (!partial_.empty()) {
        std::string last;
        last.swap(partial_);
        line(std::string_view(last), on_data);
    }
    line(std::string_view(), on_data);
}

}  // namespace switchyard::loadgen
