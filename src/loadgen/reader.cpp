#include "loadgen/reader.hpp"

#include <charconv>

namespace switchyard::loadgen {

namespace {

constexpr std::size_t max_head_bytes = 64 * 1024;

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

bool icontains(std::string_view haystack, std::string_view needle) {
    if (needle.size() > haystack.size()) return false;
    for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
        if (iequals(haystack.substr(i, needle.size()), needle)) return true;
    }
    return false;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

void ResponseParser::reset() {
    state_ = State::head;
    head_.clear();
    error_.clear();
    status_ = 0;
    keep_alive_ = true;
    event_stream_ = false;
    remaining_ = 0;
    size_digits_ = 0;
    line_length_ = 0;
}

ResponseParser::Result ResponseParser::fail(std::string message) {
    state_ = State::failed;
    error_ = std::move(message);
    return Result::error;
}

ResponseParser::Result ResponseParser::eof() {
    if (state_ == State::close_body || state_ == State::done) {
        state_ = State::done;
        return Result::done;
    }
    return fail(state_ == State::head && head_.empty() ? "connection closed before a response"
                                                        : "connection closed in the middle of a response");
}

ResponseParser::Result ResponseParser::parse_head(std::string_view in, std::size_t& consumed) {
    const std::size_t before = head_.size();
    head_.append(in);
    const std::size_t search_from = before >= 3 ? before - 3 : 0;
    const auto end = head_.find("\r\n\r\n", search_from);
    if (end == std::string::npos) {
        consumed = in.size();
        if (head_.size() > max_head_bytes) return fail("response head larger than 64 KiB");
        return Result::need_more;
    }
    consumed = end + 4 - before;
    const std::string_view head(head_.data(), end + 2);

    // Status line: HTTP/1.x NNN reason
    const auto line_end = head.find("\r\n");
    const std::string_view status_line = head.substr(0, line_end);
    if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12) return fail("malformed status line");
    const bool http10 = status_line[7] == '0';
    int code = 0;
    auto [ptr, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, code);
    if (ec != std::errc{} || ptr != status_line.data() + 12) return fail("malformed status line");
    status_ = code;
    keep_alive_ = !http10;

    bool chunked = false;
    std::optional<std::uint64_t> length;
    std::string_view rest = head.substr(line_end + 2);
    while (!rest.empty()) {
        const auto eol = rest.find("\r\n");
        const std::string_view field = rest.substr(0, eol);
        rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 2);
        const auto colon = field.find(':');
        if (colon == std::string_view::npos) continue;
        const std::string_view name = field.substr(0, colon);
        const std::string_view value = trim(field.substr(colon + 1));
        if (iequals(name, "content-length")) {
            std::uint64_t n = 0;
            auto [p, e] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (e != std::errc{} || p != value.data() + value.size()) return fail("malformed Content-Length");
            length = n;
        } else if (iequals(name, "transfer-encoding")) {
            chunked = icontains(value, "chunked");
        } else if (iequals(name, "connection")) {
            if (icontains(value, "close")) keep_alive_ = false;
            if (icontains(value, "keep-alive")) keep_alive_ = true;
        } else if (iequals(name, "content-type")) {
            event_stream_ = icontains(value, "text/event-stream");
        }
    }
    head_.clear();
    if (status_ >= 100 && status_ < 200 && status_ != 101) {  // 100 Continue and friends: wait for the real one
        status_ = 0;
        return Result::need_more;
    }
    if (status_ == 204 || status_ == 304) {
        state_ = State::done;
    } else if (chunked) {
        state_ = State::chunk_size;
        size_digits_ = 0;
        remaining_ = 0;
    } else if (length) {
        remaining_ = *length;
        state_ = remaining_ == 0 ? State::done : State::length_body;
    } else {
        state_ = State::close_body;
        keep_alive_ = false;
    }
    return Result::done;
}

ResponseParser::Result ResponseParser::chunk_framing(char c) {
    switch (state_) {
        case State::chunk_size: {
            const int v = hex_value(c);
            if (v >= 0) {
                if (++size_digits_ > 15) return fail("chunk size too large");
                remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(v);
            } else if (c == ';' || c == ' ' || c == '\t' || c == '\r') {
                if (size_digits_ == 0) return fail("malformed chunk size");
                state_ = State::chunk_ext;
            } else if (c == '\n') {
                if (size_digits_ == 0) return fail("malformed chunk size");
                state_ = remaining_ == 0 ? State::trailer : State::chunk_data;
                line_length_ = 0;
            } else {
                return fail("malformed chunk size");
            }
            return Result::need_more;
        }
        case State::chunk_ext:
            if (c == '\n') {
                state_ = remaining_ == 0 ? State::trailer : State::chunk_data;
                line_length_ = 0;
            }
            return Result::need_more;
        case State::chunk_data_end:
            if (c == '\n') {
                state_ = State::chunk_size;
                size_digits_ = 0;
                remaining_ = 0;
            } else if (c != '\r' || ++line_length_ > 1) {
                return fail("missing CRLF after chunk data");
            }
            return Result::need_more;
        case State::trailer:
            if (c == '\n') {
                if (line_length_ == 0) state_ = State::done;
                line_length_ = 0;
            } else if (c != '\r') {
                ++line_length_;
            }
            return Result::need_more;
        default: return fail("parser misuse");
    }
}

void SseParser::reset() {
    partial_.clear();
    data_.clear();
    has_data_ = false;
}

namespace {

// Position just after `"key"` followed by optional spaces, ':' and optional spaces; npos if `key`
// (with its quotes) does not start at `at` as an object key.
std::size_t after_colon(std::string_view json, std::size_t at, std::size_t key_size) {
    std::size_t i = at + key_size;
    while (i < json.size() && (json[i] == ' ' || json[i] == '\t')) ++i;
    if (i >= json.size() || json[i] != ':') return std::string_view::npos;
    ++i;
    while (i < json.size() && (json[i] == ' ' || json[i] == '\t')) ++i;
    return i;
}

// True when some `"key": "<non-empty>"` occurs in `json`.
bool has_nonempty_string(std::string_view json, std::string_view quoted_key) {
    for (auto at = json.find(quoted_key); at != std::string_view::npos; at = json.find(quoted_key, at + 1)) {
        if (at > 0 && json[at - 1] == '\\') continue;  // inside a string
        const auto v = after_colon(json, at, quoted_key.size());
        if (v != std::string_view::npos && v + 1 < json.size() && json[v] == '"' && json[v + 1] != '"') return true;
    }
    return false;
}

}  // namespace

ChunkFacts inspect_chunk(std::string_view data) {
    ChunkFacts facts;
    while (!data.empty() && (data.back() == ' ' || data.back() == '\r' || data.back() == '\n')) data.remove_suffix(1);
    if (data == "[DONE]") {
        facts.done = true;
        return facts;
    }
    facts.token = has_nonempty_string(data, "\"content\"") || has_nonempty_string(data, "\"text\"") ||
                  has_nonempty_string(data, "\"reasoning_content\"") || has_nonempty_string(data, "\"reasoning\"");
    for (auto at = data.find("\"usage\""); at != std::string_view::npos; at = data.find("\"usage\"", at + 1)) {
        if (at > 0 && data[at - 1] == '\\') continue;
        const auto v = after_colon(data, at, 7);
        if (v != std::string_view::npos && v < data.size() && data[v] == '{') {
            facts.usage = true;
            break;
        }
    }
    const auto error_at = data.find("\"error\"");
    if (error_at != std::string_view::npos && data.find_first_not_of(" \t{") == error_at) facts.error = true;
    return facts;
}

std::string_view raw_text(std::string_view json) {
    for (std::string_view key : {std::string_view("\"content\""), std::string_view("\"text\"")}) {
        for (auto at = json.find(key); at != std::string_view::npos; at = json.find(key, at + 1)) {
            if (at > 0 && json[at - 1] == '\\') continue;
            const auto v = after_colon(json, at, key.size());
            if (v == std::string_view::npos || v >= json.size() || json[v] != '"') continue;
            std::size_t i = v + 1;
            while (i < json.size() && json[i] != '"') i += json[i] == '\\' ? 2 : 1;
            if (i >= json.size()) return {};
            return json.substr(v + 1, i - v - 1);
        }
    }
    return {};
}

simdjson::padded_string_view UsageReader::pad(std::string_view json) {
    if (buffer_.capacity() < json.size() + simdjson::SIMDJSON_PADDING) buffer_.reserve(json.size() + simdjson::SIMDJSON_PADDING);
    buffer_.assign(json);
    return simdjson::padded_string_view(buffer_.data(), buffer_.size(), buffer_.capacity());
}

std::optional<Usage> UsageReader::read(std::string_view json) {
    namespace od = simdjson::ondemand;
    od::document doc;
    if (parser_.iterate(pad(json)).get(doc) != simdjson::SUCCESS) return std::nullopt;
    od::object root;
    if (doc.get_object().get(root) != simdjson::SUCCESS) return std::nullopt;
    od::object usage;
    if (root.find_field_unordered("usage").get_object().get(usage) != simdjson::SUCCESS) return std::nullopt;
    Usage out;
    bool any = false;
    for (auto field : usage) {
        std::string_view key;
        if (field.unescaped_key().get(key) != simdjson::SUCCESS) return std::nullopt;
        od::value value = field.value();
        std::uint64_t n = 0;
        if (key == "prompt_tokens" || key == "completion_tokens" || key == "prompt_cache_hit_tokens") {
            if (value.get_uint64().get(n) != simdjson::SUCCESS) continue;
            if (key == "prompt_tokens") {
                out.prompt_tokens = static_cast<std::uint32_t>(n);
                any = true;
            } else if (key == "completion_tokens") {
                out.completion_tokens = static_cast<std::uint32_t>(n);
                any = true;
            } else if (out.cached_tokens == 0) {
                out.cached_tokens = static_cast<std::uint32_t>(n);
            }
        } else if (key == "prompt_tokens_details") {
            od::object details;
            if (value.get_object().get(details) != simdjson::SUCCESS) continue;
            if (details.find_field_unordered("cached_tokens").get_uint64().get(n) == simdjson::SUCCESS) {
                out.cached_tokens = static_cast<std::uint32_t>(n);
            }
        }
    }
    if (!any) return std::nullopt;
    return out;
}

std::string_view UsageReader::message_text(std::string_view json) {
    namespace od = simdjson::ondemand;
    od::document doc;
    if (parser_.iterate(pad(json)).get(doc) != simdjson::SUCCESS) return {};
    od::array choices;
    if (doc.find_field_unordered("choices").get_array().get(choices) != simdjson::SUCCESS) return {};
    for (auto choice_result : choices) {
        od::object choice;
        if (choice_result.get_object().get(choice) != simdjson::SUCCESS) return {};
        std::string_view token;
        od::object message;
        if (choice.find_field_unordered("message").get_object().get(message) == simdjson::SUCCESS) {
            if (message.find_field_unordered("content").raw_json_token().get(token) != simdjson::SUCCESS) return {};
        } else if (choice.find_field_unordered("text").raw_json_token().get(token) != simdjson::SUCCESS) {
            return {};
        }
        while (!token.empty() && token.back() != '"') token.remove_suffix(1);
        if (token.size() < 2 || token.front() != '"') return {};
        // The token points into buffer_, which stays valid until the next call.
        return token.substr(1, token.size() - 2);
    }
    return {};
}

}  // namespace switchyard::loadgen
