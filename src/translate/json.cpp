#include "translate/json.hpp"

#include <charconv>
#include <cstdio>
#include <cstring>

#include "core/digest.hpp"
#include "core/error.hpp"

namespace switchyard::translate::json {

Writer& Writer::open(char c) {
    comma();
    out_ += c;
    need_comma_ = false;
    return *this;
}

Writer& Writer::close(char c) {
    out_ += c;
    need_comma_ = true;
    return *this;
}

Writer& Writer::key(std::string_view name) {
    // One append for the comma, the quoted name and the colon (names are the code's own, short).
    char text[64];
    if (name.size() + 4 > sizeof text) {
        comma();
        out_ += '"';
        out_ += name;
        out_ += "\":";
    } else {
        std::size_t n = 0;
        if (need_comma_) text[n++] = ',';
        text[n++] = '"';
        std::memcpy(text + n, name.data(), name.size());
        n += name.size();
        text[n++] = '"';
        text[n++] = ':';
        out_.append(text, n);
    }
    need_comma_ = false;
    return *this;
}

Writer& Writer::raw(Json value) {
    comma();
    out_ += value;
    need_comma_ = true;
    return *this;
}

Writer& Writer::text(std::string_view plain) {
    comma();
    append_json_string(out_, plain);
    need_comma_ = true;
    return *this;
}

Writer& Writer::number(std::int64_t value) {
    comma();
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
    (void)ec;
    out_.append(digits, end);
    need_comma_ = true;
    return *this;
}

Writer& Writer::real(double value) {
    comma();
    char digits[32];
    std::snprintf(digits, sizeof digits, "%.17g", value);
    out_ += digits;
    need_comma_ = true;
    return *this;
}

Writer& Writer::boolean(bool value) {
    comma();
    out_ += value ? "true" : "false";
    need_comma_ = true;
    return *this;
}

Writer& Writer::null() {
    comma();
    out_ += "null";
    need_comma_ = true;
    return *this;
}

namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool read_hex4(std::string_view s, std::size_t at, unsigned& out) {
    if (at + 4 > s.size()) return false;
    out = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        const int d = hex_digit(s[at + i]);
        if (d < 0) return false;
        out = out * 16 + static_cast<unsigned>(d);
    }
    return true;
}

void append_utf8(std::string& out, unsigned code) {
    if (code < 0x80) {
        out += static_cast<char>(code);
    } else if (code < 0x800) {
        out += static_cast<char>(0xC0 | (code >> 6));
        out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
        out += static_cast<char>(0xE0 | (code >> 12));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (code >> 18));
        out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
    }
}

}  // namespace

std::string text_of(Json literal) {
    std::string out;
    if (literal.size() < 2 || literal.front() != '"') return out;
    const std::string_view inner = literal.substr(1, literal.rfind('"') - 1);
    out.reserve(inner.size());
    for (std::size_t i = 0; i < inner.size(); ++i) {
        const char c = inner[i];
        if (c != '\\' || i + 1 >= inner.size()) {
            out += c;
            continue;
        }
        const char e = inner[++i];
        switch (e) {
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'u': {
                unsigned code = 0;
                if (!read_hex4(inner, i + 1, code)) {
                    out += "\\u";
                    break;
                }
                i += 4;
                unsigned low = 0;
                if (code >= 0xD800 && code < 0xDC00 && i + 2 < inner.size() && inner[i + 1] == '\\' &&
                    inner[i + 2] == 'u' && read_hex4(inner, i + 3, low) && low >= 0xDC00 && low < 0xE000) {
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                    i += 6;
                } else if (code >= 0xD800 && code < 0xE000) {
                    code = 0xFFFD;  // a lone surrogate
                }
                append_utf8(out, code);
                break;
            }
            default: out += e; break;  // \" \\ \/
        }
    }
    return out;
}

bool is(Json literal, std::string_view plain) {
    return literal.size() == plain.size() + 2 && literal.front() == '"' && literal.back() == '"' &&
           literal.substr(1, plain.size()) == plain;
}

void append_as_string(Json value, std::string& out) { append_json_string(out, value); }

bool string_to_object(Json literal, std::string& out) {
    out = text_of(literal);
    const simdjson::padded_string padded(out);
    simdjson::dom::parser parser;
    simdjson::dom::element element;
    if (parser.parse(padded).get(element) != simdjson::SUCCESS) return false;
    return element.type() == simdjson::dom::element_type::OBJECT;
}

Json join(Json a, std::string_view separator, Json b, Arena& arena) {
    if (a.size() < 2) return b;
    if (b.size() < 2) return a;
    std::string joined(a.substr(0, a.size() - 1));  // without its closing quote
    std::string sep;
    append_json_string(sep, separator);
    joined += sep.substr(1, sep.size() - 2);
    joined += b.substr(1);  // without its opening quote
    return arena.keep(std::move(joined));
}

std::string make_id(std::string_view prefix, std::string_view seed, std::size_t n) {
    char input[256];
    std::string_view hashed;
    char digits[24];
    const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
    (void)ec;
    const std::string_view number(digits, static_cast<std::size_t>(end - digits));
    std::string long_input;
    if (seed.size() + 1 + number.size() <= sizeof input) {  // the usual case: no allocation
        std::memcpy(input, seed.data(), seed.size());
        input[seed.size()] = '/';
        std::memcpy(input + seed.size() + 1, number.data(), number.size());
        hashed = std::string_view(input, seed.size() + 1 + number.size());
    } else {
        long_input.append(seed).append(1, '/').append(number);
        hashed = long_input;
    }
    const Sha256 digest = sha256(hashed);
    std::string id;
    id.reserve(prefix.size() + 24);
    id += prefix;
    append_hex(id, digest.data(), 12);  // 24 hex digits
    return id;
}

std::string data_url(const Part& part, std::string_view fallback_type) {
    std::string url = "data:";
    url += part.media_type.empty() ? std::string(fallback_type) : text_of(part.media_type);
    url += ";base64,";
    url += text_of(part.data);
    return url;
}

std::size_t next_char(std::string_view in, std::size_t i) {
    if (in[i] == '\\' && i + 1 < in.size()) {
        if (in[i + 1] != 'u' || i + 5 >= in.size()) return i + 2;
        const bool high = (in[i + 2] == 'd' || in[i + 2] == 'D') &&
                          std::string_view("89abAB").find(in[i + 3]) != std::string_view::npos;
        i += 6;
        if (high && i + 5 < in.size() && in[i] == '\\' && in[i + 1] == 'u') i += 6;  // its low half
        return i;
    }
    ++i;
    while (i < in.size() && (static_cast<unsigned char>(in[i]) & 0xC0) == 0x80) ++i;  // a UTF-8 sequence's rest
    return i;
}

std::size_t chars_of(std::string_view in) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < in.size(); i = next_char(in, i)) ++n;
    return n;
}

std::size_t byte_of_char(std::string_view in, std::size_t chars) {
    std::size_t i = 0;
    for (; chars > 0 && i < in.size(); --chars) i = next_char(in, i);
    return i;
}

std::size_t text_length(Json literal) {
    return literal.size() >= 2 && literal.front() == '"' ? chars_of(literal.substr(1, literal.size() - 2)) : 0;
}

simdjson::simdjson_result<std::string_view> raw(simdjson::ondemand::value value) {
    simdjson::ondemand::json_type type;
    if (auto error = value.type().get(type)) return error;
    std::string_view text;
    if (type == simdjson::ondemand::json_type::object) {
        simdjson::ondemand::object object;
        if (auto error = value.get_object().get(object)) return error;
        if (auto error = object.raw_json().get(text)) return error;
    } else if (type == simdjson::ondemand::json_type::array) {
        simdjson::ondemand::array array;
        if (auto error = value.get_array().get(array)) return error;
        if (auto error = array.raw_json().get(text)) return error;
    } else {
        text = value.raw_json_token();
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    return text;
}

}  // namespace switchyard::translate::json
