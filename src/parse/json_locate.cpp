#include "parse/json_locate.hpp"

#include <cctype>

namespace switchyard::parse {

namespace {

class Scanner {
public:
    explicit Scanner(std::string_view text) : text_(text) {}

    std::optional<JsonSyntaxError> run() {
        skip_space();
        if (!value(0)) return error_;
        skip_space();
        if (pos_ != text_.size()) return fail("unexpected data after the JSON value");
        return std::nullopt;
    }

private:
    bool fail_bool(std::string what) {
        error_ = JsonSyntaxError{pos_, std::move(what)};
        return false;
    }
    std::optional<JsonSyntaxError> fail(std::string what) { return JsonSyntaxError{pos_, std::move(what)}; }

    bool at_end() const { return pos_ >= text_.size(); }
    char peek() const { return text_[pos_]; }

    void skip_space() {
        while (!at_end() && (peek() == ' ' || peek() == '\n' || peek() == '\r' || peek() == '\t')) ++pos_;
    }

    bool value(int depth) {
        if (depth > kMaxJsonDepth) return fail_bool("nesting is too deep");
        if (at_end()) return fail_bool("unexpected end of input, expected a value");
        switch (peek()) {
            case '{': return object(depth);
            case '[': return array(depth);
            case '"': return string();
            case 't': return literal("true");
            case 'f': return literal("false");
            case 'n': return literal("null");
            default:
                if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return number();
                return fail_bool(std::string("unexpected character '") + peek() + "', expected a value");
        }
    }

    bool literal(std::string_view word) {
        if (text_.substr(pos_, word.size()) != word) {
            return fail_bool("invalid literal, expected '" + std::string(word) + "'");
        }
        pos_ += word.size();
        return true;
    }

    bool digits() {
        const std::size_t start = pos_;
        while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
        return pos_ > start;
    }

    bool number() {
        if (peek() == '-') ++pos_;
        if (at_end()) return fail_bool("unexpected end of input inside a number");
        if (peek() == '0') {
            ++pos_;
        } else if (!digits()) {
            return fail_bool("invalid number");
        }
        if (!at_end() && peek() == '.') {
            ++pos_;
            if (!digits()) return fail_bool("expected digits after the decimal point");
        }
        if (!at_end() && (peek() == 'e' || peek() == 'E')) {
            ++pos_;
            if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
            if (!digits()) return fail_bool("expected digits in the exponent");
        }
        return true;
    }

    bool string() {
        StringScan scan = scan_json_string(text_.substr(pos_));
        if (scan.error) {
            pos_ += scan.error->offset;
            return fail_bool(std::move(scan.error->what));
        }
        pos_ += scan.length;
        return true;
    }

    bool array(int depth) {
        ++pos_;
        skip_space();
        if (!at_end() && peek() == ']') {
            ++pos_;
            return true;
        }
        while (true) {
            skip_space();
            if (!value(depth + 1)) return false;
            skip_space();
            if (at_end()) return fail_bool("unexpected end of input, expected ',' or ']'");
            if (peek() == ']') {
                ++pos_;
                return true;
            }
            if (peek() != ',') return fail_bool("expected ',' or ']' in an array");
            ++pos_;
        }
    }

    bool object(int depth) {
        ++pos_;
        skip_space();
        if (!at_end() && peek() == '}') {
            ++pos_;
            return true;
        }
        while (true) {
            skip_space();
            if (at_end()) return fail_bool("unexpected end of input, expected an object key");
            if (peek() != '"') return fail_bool("expected a double-quoted object key");
            if (!string()) return false;
            skip_space();
            if (at_end() || peek() != ':') return fail_bool("expected ':' after an object key");
            ++pos_;
            skip_space();
            if (!value(depth + 1)) return false;
            skip_space();
            if (at_end()) return fail_bool("unexpected end of input, expected ',' or '}'");
            if (peek() == '}') {
                ++pos_;
                return true;
            }
            if (peek() != ',') return fail_bool("expected ',' or '}' in an object");
            ++pos_;
        }
    }

    std::string_view text_;
    std::size_t pos_ = 0;
    JsonSyntaxError error_;
};

}  // namespace

StringScan scan_json_string(std::string_view text) {
    const auto fail = [](std::size_t at, std::string what) { return StringScan{0, JsonSyntaxError{at, std::move(what)}}; };
    std::size_t pos = 1;  // past the opening quote
    bool ascii = true;
    while (pos < text.size()) {
        const auto c = static_cast<unsigned char>(text[pos]);
        if (c == '"') return StringScan{pos + 1, std::nullopt, ascii};
        if (c >= 0x80) ascii = false;
        if (c < 0x20) return fail(pos, "control character inside a string (escape it)");
        if (c == '\\') {
            ++pos;
            if (pos >= text.size()) break;
            const char e = text[pos];
            if (e == 'u') {
                for (int i = 0; i < 4; ++i) {
                    ++pos;
                    if (pos >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[pos]))) {
                        return fail(pos, "invalid \\u escape in a string");
                    }
                }
            } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
                return fail(pos, std::string("invalid escape '\\") + e + "' in a string");
            }
        }
        ++pos;
    }
    return fail(text.size(), "unterminated string");
}

std::optional<JsonSyntaxError> locate_json_error(std::string_view text) { return Scanner(text).run(); }

}  // namespace switchyard::parse
