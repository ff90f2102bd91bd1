#include "usage/usage.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "core/text.hpp"

namespace switchyard::usage {

namespace od = simdjson::ondemand;

namespace {
// llama-server's `timings`: cache_n prompt tokens reused from its cache, prompt_n processed.
void read_timings(od::value value, Usage& out) {
    od::object timings;
    if (value.get_object().get(timings) != simdjson::SUCCESS) return;
    for (auto field_result : timings) {
        od::field field;
        if (std::move(field_result).get(field)) return;
        std::string_view key;
        if (field.unescaped_key().get(key)) return;
        if (key == "cache_n") {
            std::int64_t n = 0;
            if (field.value().get_int64().get(n) == simdjson::SUCCESS) out.timings_cached = n;
        }
    }
}

void read_usage(od::value value, Usage& out) {
    od::object usage;
    if (value.get_object().get(usage)) return;
    for (auto field_result : usage) {
        od::field field;
        if (std::move(field_result).get(field)) return;
        std::string_view key;
        if (field.unescaped_key().get(key)) return;
        if (key == "prompt_tokens" || key == "input_tokens") {
            if (field.value().get_int64().get(out.prompt) == simdjson::SUCCESS) out.found = true;
        } else if (key == "completion_tokens" || key == "output_tokens") {
            if (field.value().get_int64().get(out.completion) == simdjson::SUCCESS) out.found = true;
        } else if (key == "cache_read_input_tokens") {
            // Anthropic: counted apart from input_tokens, which are only the uncached ones.
            std::int64_t cached = 0;
            if (field.value().get_int64().get(cached) == simdjson::SUCCESS) out.cache_read = cached;
        } else if (key == "prompt_tokens_details") {
            od::object details;
            if (field.value().get_object().get(details) == simdjson::SUCCESS) {
                std::int64_t cached = 0;
                if (details["cached_tokens"].get_int64().get(cached) == simdjson::SUCCESS) out.cached = cached;
            }
        }
    }
}
}  // namespace

Usage parse_usage(std::string_view json) {
    Usage out;
    const auto at = json.find("\"usage\"");
    if (at == std::string_view::npos) return out;
    thread_local od::parser parser;
    thread_local std::string padded;
    padded.assign(json);
    padded.reserve(padded.size() + simdjson::SIMDJSON_PADDING);
    od::document doc;
    if (parser.iterate(padded.data(), padded.size(), padded.capacity()).get(doc)) return out;
    od::object root;
    if (doc.get_object().get(root)) return out;
    for (auto field_result : root) {
        od::field field;
        if (std::move(field_result).get(field)) break;
        std::string_view key;
        if (field.unescaped_key().get(key)) break;
        if (key == "usage") {
            read_usage(field.value(), out);
        } else if (key == "timings") {
            read_timings(field.value(), out);
        }
    }
    return out;
}

void append_completion_text(std::string_view json, std::string& out, std::size_t limit) {
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) return;
    simdjson::dom::array choices;
    if (doc["choices"].get_array().get(choices) != simdjson::SUCCESS) return;
    for (simdjson::dom::element choice : choices) {
        std::string_view piece;
        if (choice["message"]["content"].get_string().get(piece) != simdjson::SUCCESS &&
            choice["delta"]["content"].get_string().get(piece) != simdjson::SUCCESS &&
            choice["text"].get_string().get(piece) != simdjson::SUCCESS) {
            continue;
        }
        if (out.size() >= limit) return;
        out.append(utf8_prefix(piece, limit - out.size()));
    }
}

std::int64_t estimate_tokens(std::string_view text) { return static_cast<std::int64_t>((text.size() + 3) / 4); }

namespace {
// A non-empty string value after `key` ("content":"x", "text":"x").
bool has_text(std::string_view event, std::string_view key) {
    const auto at = event.find(key);
    return at != std::string_view::npos && at + key.size() < event.size() && event[at + key.size()] != '"';
}
}  // namespace

void StreamScanner::event(std::string_view text) {
    strip_this_ = false;
    if (!text.starts_with("data:")) return;
    if (has_text(text, "\"content\":\"") || has_text(text, "\"text\":\"")) {
        ++content_events_;
        if (text_ != nullptr && text_->size() < text_limit_) append_completion_text(text.substr(5), *text_, text_limit_);
    }
    if (text.find("\"usage\":{") == std::string_view::npos && text.find("\"usage\": {") == std::string_view::npos) {
        return;
    }
    std::string_view data = text.substr(5);
    Usage parsed = parse_usage(data);
    if (!parsed.found) return;
    usage_ = parsed;
    // The final usage chunk has no choices; the caller did not ask for it.
    strip_this_ = strip_ && (text.find("\"choices\":[]") != std::string_view::npos);
}

std::size_t StreamScanner::feed(char* buffer, std::size_t& length) {
    std::size_t start = 0;  // of the current event
    std::size_t ready = 0;
    std::size_t i = 0;
    while (i + 1 < length) {
        const void* found = std::memchr(buffer + i, '\n', length - i - 1);
        if (found == nullptr) break;
        const std::size_t nl = static_cast<std::size_t>(static_cast<const char*>(found) - buffer);
        std::size_t end = 0;  // one past the event's blank line
        if (buffer[nl + 1] == '\n') {
            end = nl + 2;
        } else if (buffer[nl + 1] == '\r' && nl + 2 < length && buffer[nl + 2] == '\n') {
            end = nl + 3;
        } else {
            i = nl + 1;
            continue;
        }
        event(std::string_view(buffer + start, end - start));
        if (strip_this_) {
            std::memmove(buffer + start, buffer + end, length - end);
            length -= end - start;
            i = start;
            ready = start;
            continue;
        }
        start = end;
        ready = end;
        i = end;
    }
    return ready;
}

}  // namespace switchyard::usage
