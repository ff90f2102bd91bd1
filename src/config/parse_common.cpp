// The shared readers of every configuration section, and the value syntaxes they accept:
// durations ("250ms", "5s"), sizes ("64KiB"), ${ENV} references.
#include "config/parse_common.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "core/text.hpp"

namespace switchyard::config {

std::string to_string(const Error& error) {
    if (error.line == 0) return error.message;
    return "line " + std::to_string(error.line) + ", column " + std::to_string(error.column) + ": " +
           error.message;
}

EnvLookup process_env() {
    return [](std::string_view name) -> std::optional<std::string> {
        const char* value = std::getenv(std::string(name).c_str());
        if (value == nullptr) return std::nullopt;
        return std::string(value);
    };
}

std::optional<Duration> parse_duration(std::string_view text) {
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || !std::isfinite(value) || value < 0) return std::nullopt;
    const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
    double ms = 0;
    if (unit.empty() || unit == "s") {
        ms = value * 1000;
    } else if (unit == "ms") {
        ms = value;
    } else if (unit == "m") {
        ms = value * 60'000;
    } else if (unit == "h") {
        ms = value * 3'600'000;
    } else {
        return std::nullopt;
    }
    if (ms > 1e12) return std::nullopt;  // ~31 years: surely a typo, and no overflow below
    return Duration(static_cast<Duration::rep>(ms));
}

std::optional<std::size_t> parse_size(std::string_view text) {
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{}) return std::nullopt;
    const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
    static constexpr std::pair<std::string_view, std::uint64_t> kUnits[] = {
        {"", 1},        {"B", 1},          {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30},
        {"KB", 1000},   {"MB", 1000'000},  {"GB", 1000'000'000}};
    for (const auto& [name, factor] : kUnits) {
        if (unit != name) continue;
        if (value > std::numeric_limits<std::size_t>::max() / factor) return std::nullopt;
        return static_cast<std::size_t>(value * factor);
    }
    return std::nullopt;
}

std::string did_you_mean(std::string_view word, std::span<const std::string> names) {
    if (auto guess = closest(word, names)) return "; did you mean '" + *guess + "'?";
    return "";
}

void Reader::error(const YAML::Node& node, std::string message) {
    const YAML::Mark mark = node.IsDefined() ? node.Mark() : YAML::Mark::null_mark();
    if (mark.is_null()) {
        errors.push_back({0, 0, std::move(message)});
    } else {
        errors.push_back({mark.line + 1, mark.column + 1, std::move(message)});
    }
}

bool Reader::expect_map(const YAML::Node& map, std::string_view what, std::initializer_list<std::string> known) {
    if (!map.IsMap()) {
        error(map, std::string(what) + " must be a mapping of keys to values");
        return false;
    }
    const std::vector<std::string> names(known);
    for (auto it = map.begin(); it != map.end(); ++it) {
        const auto key = it->first.as<std::string>();
        if (std::find(names.begin(), names.end(), key) != names.end()) continue;
        error(it->first, "unknown key '" + key + "' in " + std::string(what) + did_you_mean(key, names));
    }
    return true;
}

std::optional<std::string> Reader::scalar(const YAML::Node& map, const char* key) {
    const YAML::Node node = map[key];
    if (!node) return std::nullopt;
    if (node.IsNull()) {
        error(node, std::string("'") + key + "' has no value");
        return std::nullopt;
    }
    if (!node.IsScalar()) {
        error(node, std::string("'") + key + "' must be a single value, not a list or mapping");
        return std::nullopt;
    }
    return expand(node, node.Scalar());
}

std::string Reader::expand(const YAML::Node& node, const std::string& text) {
    return expand_references(node, text, false);
}

std::string Reader::expand_env_only(const YAML::Node& node, const std::string& text) {
    return expand_references(node, text, true);
}

std::string Reader::expand_references(const YAML::Node& node, const std::string& text, bool keep_engine_names) {
    std::string out;
    std::size_t pos = 0;
    while (true) {
        const auto start = text.find("${", pos);
        if (start == std::string::npos) break;
        const auto end = text.find('}', start);
        if (end == std::string::npos) {
            // An engine's argument is passed on as written; elsewhere it is surely a typo.
            if (!keep_engine_names) error(node, "unterminated ${...} environment reference");
            break;
        }
        out.append(text, pos, start - pos);
        std::string name = text.substr(start + 2, end - start - 2);
        if (keep_engine_names && (name == "PORT" || name == "MODEL" || name == "NAME")) {
            out.append(text, start, end + 1 - start);
        } else {
            out += environment_value(node, std::move(name));
        }
        pos = end + 1;
    }
    out.append(text, pos);
    return out;
}

std::string Reader::environment_value(const YAML::Node& node, std::string name) {
    std::optional<std::string> fallback;
    if (const auto sep = name.find(":-"); sep != std::string::npos) {
        fallback = name.substr(sep + 2);
        name.resize(sep);
    }
    if (auto value = env_(name)) return std::move(*value);
    if (fallback) return std::move(*fallback);
    error(node, "environment variable " + name + " is not set (write ${" + name + ":-default} to give a default)");
    return "";
}

void Reader::string(const YAML::Node& map, const char* key, std::string& out) {
    if (auto value = scalar(map, key)) out = std::move(*value);
}

void Reader::boolean(const YAML::Node& map, const char* key, bool& out) {
    auto value = scalar(map, key);
    if (!value) return;
    if (*value == "true" || *value == "yes" || *value == "on") {
        out = true;
    } else if (*value == "false" || *value == "no" || *value == "off") {
        out = false;
    } else {
        error(map[key], std::string("'") + key + "' must be true or false, got '" + *value + "'");
    }
}

void Reader::number(const YAML::Node& map, const char* key, double& out, double min, double max) {
    auto value = scalar(map, key);
    if (!value) return;
    double parsed = 0;
    auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), parsed);
    if (ec != std::errc{} || end != value->data() + value->size() || !std::isfinite(parsed) || parsed < min ||
        parsed > max) {
        std::ostringstream range;
        range << min << " to " << max;
        error(map[key], std::string("'") + key + "' must be a number from " + range.str() + ", got '" + *value + "'");
        return;
    }
    out = parsed;
}

void Reader::duration(const YAML::Node& map, const char* key, Duration& out) {
    auto value = scalar(map, key);
    if (!value) return;
    if (auto parsed = parse_duration(*value); parsed && parsed->count() > 0) {
        out = *parsed;
    } else {
        error(map[key], std::string("'") + key + "' must be a positive duration such as 500ms, 30s, 5m or 1h, got '" +
                            *value + "'");
    }
}

void Reader::duration_or_zero(const YAML::Node& map, const char* key, Duration& out) {
    auto value = scalar(map, key);
    if (!value) return;
    if (auto parsed = parse_duration(*value); parsed && parsed->count() >= 0) {
        out = *parsed;
    } else {
        error(map[key], std::string("'") + key + "' must be a duration such as 0, 30s, 5m or 1h, got '" + *value + "'");
    }
}

void Reader::size(const YAML::Node& map, const char* key, std::size_t& out) {
    auto value = scalar(map, key);
    if (!value) return;
    if (auto parsed = parse_size(*value); parsed && *parsed > 0) {
        out = *parsed;
    } else {
        error(map[key], std::string("'") + key + "' must be a positive size such as 65536, 64KiB or 8MiB, got '" +
                            *value + "'");
    }
}

void Reader::rate_limit(const YAML::Node& node, RateLimit& out) {
    if (!expect_map(node, "'limits'", {"rpm", "tpm", "rpm_burst", "tpm_burst"})) return;
    integer(node, "rpm", out.rpm, 0, 1'000'000'000);
    integer(node, "tpm", out.tpm, 0, 1'000'000'000'000);
    integer(node, "rpm_burst", out.rpm_burst, 0, 1'000'000'000);
    integer(node, "tpm_burst", out.tpm_burst, 0, 1'000'000'000'000);
}

void Reader::check_name(const YAML::Node& item, const std::string& name, std::set<std::string>& taken,
                        const char* missing, const char* kind, const char* note) {
    if (name.empty()) {
        error(item, missing);
    } else if (!taken.insert(name).second) {
        error(item["name"], std::string(kind) + " name '" + name + "' is used twice" + note);
    }
}

}  // namespace switchyard::config
