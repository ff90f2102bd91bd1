// Small text helpers shared by config errors and routing errors ("did you mean ...?").
#pragma once

#include <cstddef>
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

}  // namespace switchyard
