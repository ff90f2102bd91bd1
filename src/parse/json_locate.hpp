// Finds where a malformed JSON text goes wrong, for error messages. Only runs on the error path:
// the hot path validates with simdjson, which says that a body is bad but not where.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard::parse {

// Values nested deeper than this (the root value at depth 0) are refused, by this locator and by
// parse_request, below simdjson's own limit of 1024 (which its debug builds assert on).
inline constexpr int kMaxJsonDepth = 1000;

struct JsonSyntaxError {
    std::size_t offset = 0;  // byte offset of the first offending byte (or of the end)
    std::string what;        // "expected ':' after an object key", ...
};

// nullopt when the text is well-formed JSON (one value, optional surrounding whitespace).
std::optional<JsonSyntaxError> locate_json_error(std::string_view text);

// The JSON string literal `text` starts with (at its opening quote): its length, both quotes
// included, or where (offset in `text`) and why it is not a valid one: a control character, a bad
// escape, no closing quote. UTF-8 is not checked. No allocation unless it fails.
struct StringScan {
    std::size_t length = 0;
    std::optional<JsonSyntaxError> error;
    bool ascii = true;  // no byte from 0x80 (then the literal needs no UTF-8 check)
};
StringScan scan_json_string(std::string_view text);

}  // namespace switchyard::parse
