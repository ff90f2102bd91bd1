// Stage "translate", JSON helpers shared by the dialects: a writer that appends JSON to a string
// (commas placed for it), and the few conversions of raw values the dialects need (a string literal
// to its text, an object to a string literal of its text and back, literals joined).
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "translate/ir.hpp"

namespace switchyard::translate::json {

// Appends JSON to `out`. Values and keys are written in order; the writer puts the commas.
class Writer {
public:
    explicit Writer(std::string& out) : out_(out) {}

    Writer& object() { return open('{'); }
    Writer& end_object() { return close('}'); }
    Writer& array() { return open('['); }
    Writer& end_array() { return close(']'); }
    Writer& key(std::string_view name);    // a plain name, written as it is between quotes
    Writer& raw(Json value);               // a raw JSON value (must not be empty)
    Writer& text(std::string_view plain);  // plain text, escaped into a string literal
    Writer& number(std::int64_t value);
    Writer& real(double value);
    Writer& boolean(bool value);
    Writer& null();

    // `"name":value` when `value` is not empty (an absent field is left out).
    Writer& field(std::string_view name, Json value) {
        if (!value.empty()) key(name).raw(value);
        return *this;
    }
    Writer& field_text(std::string_view name, std::string_view plain) { return key(name).text(plain); }

    std::string& out() { return out_; }

private:
    Writer& open(char c);
    Writer& close(char c);
    void comma() {
        if (need_comma_) out_ += ',';
    }

    std::string& out_;
    bool need_comma_ = false;
};

// A string literal's text, unescaped (for comparisons and for text that must be rebuilt). An
// empty or non-string `literal` gives "".
std::string text_of(Json literal);
// `literal` is the string literal of exactly `plain` (no unescaping needed for plain ASCII names).
bool is(Json literal, std::string_view plain);

// `value` (any JSON, e.g. an Anthropic tool `input` object) as a string literal of its text (an
// OpenAI `arguments` string). Appended to `out`.
void append_as_string(Json value, std::string& out);
// The JSON text inside string literal `literal` (an OpenAI `arguments` string), when it is a JSON
// object; else nullopt-like: returns false. `out` receives the object text.
bool string_to_object(Json literal, std::string& out);

// Two string literals joined as one, with plain `separator` between their texts ("a" + "\n" +
// "b" -> "a\nb"), kept in `arena`.
Json join(Json a, std::string_view separator, Json b, Arena& arena);

// The data: URL of a part's base64 `data` ("data:<media type, else fallback_type>;base64,...",
// plain text), as OpenAI's image and file parts take it.
std::string data_url(const Part& part, std::string_view fallback_type);
// A fresh id for an item the writer makes ("msg_", "fc_", "toolu_" + 24 characters derived from
// `seed` and `n`), deterministic for a given seed.
std::string make_id(std::string_view prefix, std::string_view seed, std::size_t n);

// Counting characters in escaped text (a string literal's inside, quotes left out) as OpenAI's
// annotation indices count them, in Unicode code points: an escape is one, \uD83D\uDE00 (a
// surrogate pair) one, a UTF-8 sequence one.
std::size_t next_char(std::string_view escaped, std::size_t i);  // where the character at byte i ends
std::size_t chars_of(std::string_view escaped);
// The byte of `escaped` where its character number `chars` starts (its size when past the end).
std::size_t byte_of_char(std::string_view escaped, std::size_t chars);
// The characters of string literal `literal`'s text.
std::size_t text_length(Json literal);

// The raw JSON of an On-Demand value (any type), trimmed of the whitespace after it.
simdjson::simdjson_result<std::string_view> raw(simdjson::ondemand::value value);

// --- Walking On-Demand values: each field or element once, in the order they stand ----------
//
// `on` returns bool (false stops the walk) or a simdjson::error_code (an error stops it and is
// returned); the walk returns the same type: false, or the error, for a value of the wrong type, a
// malformed one, or the first `on` that stopped.

namespace walk {
template <typename R>
R stopped(simdjson::error_code error) {
    if constexpr (std::is_same_v<R, bool>) {
        (void)error;
        return false;
    } else {
        return error;
    }
}
template <typename R>
R finished() {
    if constexpr (std::is_same_v<R, bool>) {
        return true;
    } else {
        return simdjson::SUCCESS;
    }
}
inline bool stops(bool result) { return !result; }
inline bool stops(simdjson::error_code result) { return result != simdjson::SUCCESS; }
}  // namespace walk

// on(key, value) for each field of `object` (its key unescaped).
template <typename On>
auto each_field(simdjson::ondemand::object object, On&& on) {
    using R = std::invoke_result_t<On&, std::string_view, simdjson::ondemand::value>;
    for (auto result : object) {
        simdjson::ondemand::field field;
        if (auto error = std::move(result).get(field)) return walk::stopped<R>(error);
        std::string_view key;
        if (auto error = field.unescaped_key().get(key)) return walk::stopped<R>(error);
        R r = on(key, field.value());
        if (walk::stops(r)) return r;
    }
    return walk::finished<R>();
}

template <typename On>
auto each_field(simdjson::ondemand::value value, On&& on) {
    using R = std::invoke_result_t<On&, std::string_view, simdjson::ondemand::value>;
    simdjson::ondemand::object object;
    if (auto error = value.get_object().get(object)) return walk::stopped<R>(error);
    return each_field(object, on);
}

template <typename On>
auto each_field(simdjson::ondemand::document& document, On&& on) {
    using R = std::invoke_result_t<On&, std::string_view, simdjson::ondemand::value>;
    simdjson::ondemand::object object;
    if (auto error = document.get_object().get(object)) return walk::stopped<R>(error);
    return each_field(object, on);
}

// on(element) or on(element, index) for each element of array `value`.
template <typename On>
auto each_element(simdjson::ondemand::value value, On&& on) {
    constexpr bool indexed = std::is_invocable_v<On&, simdjson::ondemand::value, std::size_t>;
    using R = typename std::conditional_t<indexed, std::invoke_result<On&, simdjson::ondemand::value, std::size_t>,
                                          std::invoke_result<On&, simdjson::ondemand::value>>::type;
    simdjson::ondemand::array array;
    if (auto error = value.get_array().get(array)) return walk::stopped<R>(error);
    std::size_t index = 0;
    for (auto result : array) {
        simdjson::ondemand::value element;
        if (auto error = std::move(result).get(element)) return walk::stopped<R>(error);
        R r = [&] {
            if constexpr (indexed) {
                return on(element, index++);
            } else {
                return on(element);
            }
        }();
        if (walk::stops(r)) return r;
    }
    return walk::finished<R>();
}

}  // namespace switchyard::translate::json
