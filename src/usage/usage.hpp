// Token usage of a response, as the upstream reports it: the `usage` object of a JSON body, or of
// the final chunk of a stream (asked for with stream_options.include_usage, see
// parse::forward_body). `StreamScanner` reads a relayed SSE stream event by event in the relay
// buffer itself (no copy, no allocation): it finds the usage chunk, removes it when the caller
// did not ask for it, and counts content events, from which a stream cut short is estimated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace switchyard::usage {

struct Usage {
    std::int64_t prompt = 0;
    std::int64_t cached = 0;  // prompt_tokens_details.cached_tokens
    std::int64_t completion = 0;
    bool found = false;       // reported by the upstream (else estimated)
    // Prompt-cache reuse reported otherwise (for the hit ratio only; costs go by `cached`):
    std::int64_t cache_read = -1;      // Anthropic's cache_read_input_tokens (not in `prompt`)
    std::int64_t timings_cached = -1;  // llama-server's timings.cache_n (in `prompt`)
    std::int64_t web_searches = 0;     // searches the provider's web search tool ran (billed apart)
    // Prompt tokens served from the upstream's cache, whichever way it said so.
    std::int64_t cached_prompt() const {
        if (cached > 0) return cached;
        if (cache_read > 0) return cache_read;
        return timings_cached > 0 ? timings_cached : 0;
    }
};

// The `usage` object in a JSON text (a whole body, or one event's data); found=false when absent
// or null.
Usage parse_usage(std::string_view json);

// The generated text of a completion body or of one stream event's data: choices' message.content,
// delta.content or text, appended to `out` up to `limit` bytes in all.
void append_completion_text(std::string_view json, std::string& out, std::size_t limit);

// Rough token counts for when an upstream reports none: about four bytes a token of JSON text.
std::int64_t estimate_tokens(std::string_view text);

class StreamScanner {
public:
    explicit StreamScanner(bool strip_usage_event) : strip_(strip_usage_event) {}

    // `buffer[0, length)` holds relayed stream bytes; `[0, scanned)` of them were looked at before
    // (an unfinished event). Returns how many bytes from the start are complete events ready to
    // send; a usage event to strip has been cut out of them (the rest moved down), and `length`
    // is updated to the bytes still in the buffer. The unfinished tail stays after the ready ones.
    std::size_t feed(char* buffer, std::size_t& length);

    const Usage& usage() const { return usage_; }
    std::int64_t content_events() const { return content_events_; }

    // Also collect the text of the content events into `sink`, up to `limit` bytes (for an
    // access log that keeps completions; each content event is then parsed).
    void keep_text(std::string* sink, std::size_t limit) {
        text_ = sink;
        text_limit_ = limit;
    }

private:
    void event(std::string_view text);

    std::string* text_ = nullptr;
    std::size_t text_limit_ = 0;
    bool strip_;
    bool strip_this_ = false;
    Usage usage_;
    std::int64_t content_events_ = 0;
};

}  // namespace switchyard::usage
