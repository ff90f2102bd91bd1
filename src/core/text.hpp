// Small text helpers: "did you mean ...?" for config and routing errors, comparisons, UTF-8 cuts, UTC
// times.
#pragma once

#include <cstddef>
#include <ctime>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace switchyard {

// Edit distance (adjacent transpositions count as one edit), case-insensitive.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if one is close enough to be a plausible typo
// (distance at most a third of the longer word, and at least one edit allowed).
std::optional<std::string> closest(std::string_view word, std::span<const std::string> candidates);

bool iequals(std::string_view a, std::string_view b);

// `t` formatted by strftime's `format` in UTC (at most 63 characters).
std::string utc_format(std::time_t t, const char* format);

// The longest prefix of `text` of at most `limit` bytes that does not cut a UTF-8 sequence.
inline std::string_view utf8_prefix(std::string_view text, std::size_t limit) {
    if (text.size() <= limit) return text;
    while (limit > 0 && (static_cast<unsigned char>(text[limit]) & 0xC0) == 0x80) --limit;
    return text.substr(0, limit);
}

}  // namespace switchyard
