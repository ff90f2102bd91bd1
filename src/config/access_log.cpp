// The `access_log` section: the JSON line per request, its rotation, and what is cut out of the
// prompts and completions it may carry (built-in and custom redactions).
#include <regex>

#include "config/sections.hpp"

namespace switchyard::config {

std::optional<Redaction> builtin_redaction(std::string_view name) {
    struct Builtin {
        std::string_view name;
        std::string_view pattern;
    };
    static constexpr Builtin kBuiltins[] = {
        {"email", R"([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})"},
        // OpenAI/Anthropic-style secret keys, bearer tokens, AWS access key ids.
        {"api_key", R"((sk|pk|rk)-[A-Za-z0-9_-]{16,}|[Bb]earer [A-Za-z0-9._~+/=-]{16,}|AKIA[0-9A-Z]{16})"},
        {"credit_card", R"(\b(?:\d[ -]?){12,18}\d\b)"},
        {"phone", R"(\+?\d{1,3}[ .-]?\(?\d{2,4}\)?[ .-]?\d{3,4}[ .-]?\d{3,4}\b)"},
        {"ipv4", R"(\b(?:\d{1,3}\.){3}\d{1,3}\b)"},
    };
    for (const auto& builtin : kBuiltins) {
        if (builtin.name == name) {
            return Redaction{std::string(name), std::string(builtin.pattern), "[REDACTED:" + std::string(name) + "]"};
        }
    }
    return std::nullopt;
}

namespace {

// A built-in redaction's name, or a {pattern, replace} mapping with a valid regular expression.
std::optional<Redaction> read_redaction(Reader& in, const YAML::Node& item) {
    if (item.IsScalar()) {
        if (auto builtin = builtin_redaction(item.Scalar())) return builtin;
        in.error(item, "unknown redaction '" + item.Scalar() +
                           "'; built-in ones are email, api_key, credit_card, phone and ipv4, or give "
                           "{pattern: REGEX, replace: TEXT}");
        return std::nullopt;
    }
    if (!in.expect_map(item, "a redaction", {"pattern", "replace"})) return std::nullopt;
    Redaction custom{"custom", "", "[REDACTED]"};
    in.string(item, "pattern", custom.pattern);
    in.string(item, "replace", custom.replace);
    if (custom.pattern.empty()) {
        in.error(item, "a redaction needs a 'pattern' (a regular expression)");
        return std::nullopt;
    }
    try {
        std::regex compiled(custom.pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
        in.error(item["pattern"], "'" + custom.pattern + "' is not a valid regular expression: " + e.what());
        return std::nullopt;
    }
    return custom;
}

}  // namespace

// `access_log: PATH` or a mapping with path, rotation, content and redact.
void read_access_log(Reader& in, const YAML::Node& node, AccessLog& out) {
    if (node.IsScalar()) {
        out.path = in.expand(node, node.Scalar());
        return;
    }
    if (!in.expect_map(node, "'access_log'",
                       {"path", "max_size", "max_files", "content", "max_content_bytes", "redact"})) {
        return;
    }
    in.string(node, "path", out.path);
    in.size(node, "max_size", out.max_size);
    in.integer(node, "max_files", out.max_files, 1, 1000);
    in.boolean(node, "content", out.content);
    in.size(node, "max_content_bytes", out.max_content_bytes);
    out.redact.clear();
    const YAML::Node redact = node["redact"];
    if (!redact) {
        for (const char* name : {"email", "api_key", "credit_card"}) out.redact.push_back(*builtin_redaction(name));
        return;
    }
    if (!redact.IsSequence()) {
        in.error(redact, "'access_log.redact' must be a list of built-in names (email, api_key, credit_card, phone, "
                         "ipv4) or {pattern, replace} mappings");
        return;
    }
    for (const YAML::Node& item : redact) {
        if (auto redaction = read_redaction(in, item)) out.redact.push_back(std::move(*redaction));
    }
}

}  // namespace switchyard::config
