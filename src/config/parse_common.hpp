// What every section of the configuration is read with (internal to src/config): the error
// collector that gives each error its line and column, ${ENV} expansion through the injectable
// lookup, and the typed readers (numbers, booleans, durations, sizes, choices, rate limits).
#pragma once

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace switchyard::config {

// "; did you mean 'x'?" when one of `names` is close to `word`, else "".
std::string did_you_mean(std::string_view word, std::span<const std::string> names);

// Reads typed values out of the YAML tree and collects every error with its place.
class Reader {
public:
    explicit Reader(const EnvLookup& env) : env_(env) {}

    std::vector<Error> errors;

    void error(const YAML::Node& node, std::string message);

    // Reports keys of `map` not in `known`, suggesting the closest known key.
    bool expect_map(const YAML::Node& map, std::string_view what, std::initializer_list<std::string> known);

    // The scalar at `map[key]` with ${ENV} references expanded; nullopt if absent or invalid.
    std::optional<std::string> scalar(const YAML::Node& map, const char* key);

    // `text` with every ${NAME} and ${NAME:-default} replaced from the environment.
    std::string expand(const YAML::Node& node, const std::string& text);
    // The same, but ${PORT}, ${MODEL} and ${NAME} stay for the engine supervisor (unless the
    // environment sets them, which it must not for these).
    std::string expand_env_only(const YAML::Node& node, const std::string& text);

    void string(const YAML::Node& map, const char* key, std::string& out);
    void boolean(const YAML::Node& map, const char* key, bool& out);
    void number(const YAML::Node& map, const char* key, double& out, double min, double max);
    void duration(const YAML::Node& map, const char* key, Duration& out);
    // A duration that may be 0 (for "never").
    void duration_or_zero(const YAML::Node& map, const char* key, Duration& out);
    void size(const YAML::Node& map, const char* key, std::size_t& out);
    // {rpm, tpm, rpm_burst, tpm_burst}
    void rate_limit(const YAML::Node& node, RateLimit& out);

    template <typename Int>
    void integer(const YAML::Node& map, const char* key, Int& out, std::uint64_t min, std::uint64_t max) {
        auto value = scalar(map, key);
        if (!value) return;
        std::uint64_t parsed = 0;
        auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), parsed);
        if (ec != std::errc{} || end != value->data() + value->size() || parsed < min || parsed > max) {
            error(map[key], std::string("'") + key + "' must be a whole number from " + std::to_string(min) +
                                " to " + std::to_string(max) + ", got '" + *value + "'");
            return;
        }
        out = static_cast<Int>(parsed);
    }

    // One of `names` (the text each enum value is written as), reported with the closest.
    template <typename Enum>
    void choice(const YAML::Node& map, const char* key, Enum& out,
                std::initializer_list<std::pair<std::string_view, Enum>> names) {
        auto value = scalar(map, key);
        if (!value) return;
        std::vector<std::string> known;
        for (const auto& [name, e] : names) {
            if (*value == name) {
                out = e;
                return;
            }
            known.emplace_back(name);
        }
        std::string message = "'" + std::string(key) + "' must be one of ";
        for (std::size_t i = 0; i < known.size(); ++i) message += (i ? ", " : "") + known[i];
        message += ", got '" + *value + "'" + did_you_mean(*value, known);
        error(map[key], std::move(message));
    }

    // The `name` a list item (a key, model, engine or upstream) was given must be there and be
    // unlike every name in `taken`: "<missing>" or "<kind> name 'x' is used twice<note>".
    void check_name(const YAML::Node& item, const std::string& name, std::set<std::string>& taken,
                    const char* missing, const char* kind, const char* note = "");

private:
    std::string expand_references(const YAML::Node& node, const std::string& text, bool keep_engine_names);
    // ${NAME} or ${NAME:-default}; "" (and an error) when NAME is not set and there is no default.
    std::string environment_value(const YAML::Node& node, std::string name);

    const EnvLookup& env_;
};

}  // namespace switchyard::config
