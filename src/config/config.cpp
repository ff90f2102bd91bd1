#include "config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "core/digest.hpp"
#include "core/text.hpp"

namespace switchyard::config {

std::string_view to_string(UpstreamType type) {
    switch (type) {
        case UpstreamType::openai: return "openai";
        case UpstreamType::llama_server: return "llama-server";
        case UpstreamType::ollama: return "ollama";
        case UpstreamType::vllm: return "vllm";
    }
    return "openai";
}

std::string_view to_string(Strategy strategy) {
    switch (strategy) {
        case Strategy::round_robin: return "round-robin";
        case Strategy::weighted: return "weighted";
        case Strategy::least_outstanding: return "least-outstanding";
        case Strategy::latency: return "latency";
    }
    return "round-robin";
}

std::string_view to_string(Overflow overflow) {
    switch (overflow) {
        case Overflow::spill: return "spill";
        case Overflow::queue: return "queue";
        case Overflow::reject: return "reject";
    }
    return "spill";
}

const Model* Gateway::find_model(std::string_view name) const {
    for (const auto& model : models) {
        if (model.name == name) return &model;
    }
    return nullptr;
}

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

std::optional<RedisAddress> parse_redis_url(std::string_view url) {
    constexpr std::string_view scheme = "redis://";
    if (!url.starts_with(scheme)) return std::nullopt;
    std::string_view rest = url.substr(scheme.size());
    RedisAddress out;
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
        const std::string_view userinfo = rest.substr(0, at);
        rest = rest.substr(at + 1);
        if (const auto colon = userinfo.find(':'); colon != std::string_view::npos) {
            out.user = std::string(userinfo.substr(0, colon));
            out.password = std::string(userinfo.substr(colon + 1));
        } else {
            out.password = std::string(userinfo);  // redis://secret@host: the password alone
        }
    }
    std::string_view hostport = rest;
    if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
        hostport = rest.substr(0, slash);
        const std::string_view db = rest.substr(slash + 1);
        if (!db.empty()) {
            auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), out.db);
            if (ec != std::errc{} || end != db.data() + db.size() || out.db > 1000) return std::nullopt;
        }
    }
    std::string_view port;
    if (hostport.starts_with('[')) {
        const auto close = hostport.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        out.host = std::string(hostport.substr(1, close - 1));
        const std::string_view after = hostport.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':') return std::nullopt;
            port = after.substr(1);
        }
    } else if (const auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
        out.host = std::string(hostport.substr(0, colon));
        port = hostport.substr(colon + 1);
    } else {
        out.host = std::string(hostport);
    }
    if (out.host.empty()) return std::nullopt;
    if (!port.empty()) {
        unsigned value = 0;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) return std::nullopt;
        out.port = static_cast<std::uint16_t>(value);
    }
    return out;
}

std::string redact_url(std::string_view url) {
    const auto scheme = url.find("://");
    if (scheme == std::string_view::npos) return std::string(url);
    const auto start = scheme + 3;
    const auto at = url.rfind('@');
    if (at == std::string_view::npos || at < start) return std::string(url);
    const std::string_view userinfo = url.substr(start, at - start);
    std::string out(url.substr(0, start));
    if (const auto colon = userinfo.find(':'); colon != std::string_view::npos) {
        out += userinfo.substr(0, colon + 1);
    }
    out += "****";
    out += url.substr(at);
    return out;
}

namespace {

// Walks the YAML tree and fills the structs, collecting every error with its place.
class Parser {
public:
    explicit Parser(const EnvLookup& env) : env_(env) {}

    std::vector<Error> errors;

    void error(const YAML::Node& node, std::string message) {
        const YAML::Mark mark = node.IsDefined() ? node.Mark() : YAML::Mark::null_mark();
        if (mark.is_null()) {
            errors.push_back({0, 0, std::move(message)});
        } else {
            errors.push_back({mark.line + 1, mark.column + 1, std::move(message)});
        }
    }

    // Reports keys of `map` not in `known`, suggesting the closest known key.
    bool expect_map(const YAML::Node& map, std::string_view what, std::initializer_list<std::string> known) {
        if (!map.IsMap()) {
            error(map, std::string(what) + " must be a mapping of keys to values");
            return false;
        }
        const std::vector<std::string> names(known);
        for (auto it = map.begin(); it != map.end(); ++it) {
            const auto key = it->first.as<std::string>();
            if (std::find(names.begin(), names.end(), key) != names.end()) continue;
            std::string message = "unknown key '" + key + "' in " + std::string(what);
            if (auto guess = closest(key, names)) message += "; did you mean '" + *guess + "'?";
            error(it->first, std::move(message));
        }
        return true;
    }

    // The scalar at `map[key]` with ${ENV} references expanded; nullopt if absent or invalid.
    std::optional<std::string> scalar(const YAML::Node& map, const char* key) {
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

    void string(const YAML::Node& map, const char* key, std::string& out) {
        if (auto value = scalar(map, key)) out = std::move(*value);
    }

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

    void boolean(const YAML::Node& map, const char* key, bool& out) {
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

    void number(const YAML::Node& map, const char* key, double& out, double min, double max) {
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
        message += ", got '" + *value + "'";
        if (auto guess = closest(*value, known)) message += "; did you mean '" + *guess + "'?";
        error(map[key], std::move(message));
    }

    void duration(const YAML::Node& map, const char* key, Duration& out) {
        auto value = scalar(map, key);
        if (!value) return;
        if (auto parsed = parse_duration(*value); parsed && parsed->count() > 0) {
            out = *parsed;
        } else {
            error(map[key], std::string("'") + key + "' must be a positive duration such as 500ms, 30s, 5m or 1h, got '" +
                                *value + "'");
        }
    }

    void size(const YAML::Node& map, const char* key, std::size_t& out) {
        auto value = scalar(map, key);
        if (!value) return;
        if (auto parsed = parse_size(*value); parsed && *parsed > 0) {
            out = *parsed;
        } else {
            error(map[key], std::string("'") + key + "' must be a positive size such as 65536, 64KiB or 8MiB, got '" +
                                *value + "'");
        }
    }

    Gateway gateway(const YAML::Node& root) {
        Gateway out;
        if (!root || root.IsNull()) {
            error(root, "the configuration is empty");
            return out;
        }
        if (!expect_map(root, "the top level",
                        {"listeners", "server", "upstreams", "engines", "gpu_groups", "models", "retries", "auth",
                         "keys", "ledger", "state", "prices", "access_log"})) {
            return out;
        }
        listeners(root["listeners"], out);
        if (const YAML::Node node = root["server"]) server(node, out.server);
        if (const YAML::Node node = root["retries"]) retries(node, out.retries);
        if (root["upstreams"] || !root["engines"]) upstreams(root["upstreams"], out);
        if (const YAML::Node node = root["gpu_groups"]) gpu_groups(node, out);
        if (const YAML::Node node = root["engines"]) engines(node, out);
        models(root["models"], out);
        if (const YAML::Node node = root["auth"]) auth(node, out.auth);
        if (const YAML::Node node = root["keys"]) keys(node, out);
        if (const YAML::Node node = root["ledger"]) ledger(node, out.ledger);
        if (const YAML::Node node = root["state"]) state(node, out.state);
        if (const YAML::Node node = root["prices"]) prices(node, out.prices);
        if (const YAML::Node node = root["access_log"]) access_log(node, out.access_log);
        if (!out.keys.empty() || !out.auth.master_key_sha256.empty()) out.auth.required = true;
        return out;
    }

private:
    std::string expand(const YAML::Node& node, const std::string& text) {
        std::string out;
        std::size_t pos = 0;
        while (true) {
            const auto start = text.find("${", pos);
            if (start == std::string::npos) break;
            const auto end = text.find('}', start);
            if (end == std::string::npos) {
                error(node, "unterminated ${...} environment reference");
                break;
            }
            out.append(text, pos, start - pos);
            std::string name = text.substr(start + 2, end - start - 2);
            std::optional<std::string> fallback;
            if (const auto sep = name.find(":-"); sep != std::string::npos) {
                fallback = name.substr(sep + 2);
                name.resize(sep);
            }
            if (auto value = env_(name)) {
                out += *value;
            } else if (fallback) {
                out += *fallback;
            } else {
                error(node, "environment variable " + name + " is not set (write ${" + name +
                                ":-default} to give a default)");
            }
            pos = end + 1;
        }
        out.append(text, pos);
        return out;
    }

    void listeners(const YAML::Node& node, Gateway& out) {
        if (!node) {
            out.listeners.push_back({});
            return;
        }
        if (!node.IsSequence() || node.size() == 0) {
            error(node, "'listeners' must be a non-empty list of {address, port}");
            return;
        }
        for (const auto& item : node) {
            Listener listener;
            if (expect_map(item, "a listener", {"address", "port"})) {
                string(item, "address", listener.address);
                integer(item, "port", listener.port, 0, 65535);
            }
            out.listeners.push_back(std::move(listener));
        }
    }

    void server(const YAML::Node& node, Server& out) {
        if (!expect_map(node, "'server'",
                        {"io_threads", "max_body_bytes", "max_header_bytes", "max_headers",
                         "request_read_timeout", "keepalive_timeout", "shutdown_grace",
                         "expose_upstream_address", "metrics"})) {
            return;
        }
        integer(node, "io_threads", out.io_threads, 1, 256);
        size(node, "max_body_bytes", out.max_body_bytes);
        size(node, "max_header_bytes", out.max_header_bytes);
        integer(node, "max_headers", out.max_headers, 1, 10000);
        duration(node, "request_read_timeout", out.request_read_timeout);
        duration(node, "keepalive_timeout", out.keepalive_timeout);
        duration(node, "shutdown_grace", out.shutdown_grace);
        boolean(node, "expose_upstream_address", out.expose_upstream_address);
        boolean(node, "metrics", out.metrics);
    }

    void retries(const YAML::Node& node, Retries& out) {
        if (!expect_map(node, "'retries'",
                        {"attempts", "backoff_base", "backoff_max", "budget_ratio", "budget_min_per_second",
                         "budget_window"})) {
            return;
        }
        integer(node, "attempts", out.attempts, 1, 10);
        duration(node, "backoff_base", out.backoff_base);
        duration(node, "backoff_max", out.backoff_max);
        number(node, "budget_ratio", out.budget_ratio, 0, 1);
        number(node, "budget_min_per_second", out.budget_min_per_second, 0, 1e6);
        duration(node, "budget_window", out.budget_window);
    }

    // {rpm, tpm, rpm_burst, tpm_burst}
    void rate_limit(const YAML::Node& node, RateLimit& out) {
        if (!expect_map(node, "'limits'", {"rpm", "tpm", "rpm_burst", "tpm_burst"})) return;
        integer(node, "rpm", out.rpm, 0, 1'000'000'000);
        integer(node, "tpm", out.tpm, 0, 1'000'000'000'000);
        integer(node, "rpm_burst", out.rpm_burst, 0, 1'000'000'000);
        integer(node, "tpm_burst", out.tpm_burst, 0, 1'000'000'000'000);
    }

    // A secret given in the file (usually ${ENV}), kept only as its SHA-256.
    void secret_digest(const YAML::Node& map, const char* key, const char* digest_key, std::string& out) {
        if (auto secret = scalar(map, key)) {
            if (secret->size() < 8) {
                error(map[key], std::string("'") + key + "' is too short to be a secret (at least 8 characters)");
            } else {
                out = sha256_hex(*secret);
            }
        }
        if (auto digest = scalar(map, digest_key)) {
            const bool hex = digest->size() == 64 && digest->find_first_not_of("0123456789abcdef") == std::string::npos;
            if (!hex) {
                error(map[digest_key], std::string("'") + digest_key + "' must be 64 lower-case hex digits (sha256sum of the key)");
            } else if (!out.empty()) {
                error(map[digest_key], std::string("give either '") + key + "' or '" + digest_key + "', not both");
            } else {
                out = *digest;
            }
        }
    }

    void auth(const YAML::Node& node, Auth& out) {
        if (!expect_map(node, "'auth'", {"required", "master_key", "master_key_sha256"})) return;
        boolean(node, "required", out.required);
        secret_digest(node, "master_key", "master_key_sha256", out.master_key_sha256);
    }

    void keys(const YAML::Node& node, Gateway& out) {
        if (!node.IsSequence()) {
            error(node, "'keys' must be a list of {name, key, ...}");
            return;
        }
        std::set<std::string> names;
        std::set<std::string> digests;
        std::vector<std::string> model_names;
        for (const auto& model : out.models) model_names.push_back(model.name);
        for (const auto& item : node) {
            Key key;
            if (!expect_map(item, "a key",
                            {"name", "key", "key_sha256", "models", "limits", "max_concurrent", "budget", "labels"})) {
                continue;
            }
            string(item, "name", key.name);
            if (key.name.empty()) {
                error(item, "a key needs a 'name' (its id in logs, metrics and the ledger)");
            } else if (!names.insert(key.name).second) {
                error(item["name"], "key name '" + key.name + "' is used twice");
            }
            secret_digest(item, "key", "key_sha256", key.sha256);
            if (key.sha256.empty() && !item["key"] && !item["key_sha256"]) {
                error(item, "key '" + key.name + "' needs 'key' (usually ${SOME_ENV_VAR}) or 'key_sha256'");
            } else if (!key.sha256.empty() && !digests.insert(key.sha256).second) {
                error(item, "key '" + key.name + "' has the same secret as another key");
            }
            if (const YAML::Node models = item["models"]) {
                if (!models.IsSequence()) {
                    error(models, "'models' must be a list of model names");
                } else {
                    for (const auto& m : models) {
                        const std::string name = m.IsScalar() ? m.Scalar() : "";
                        if (std::find(model_names.begin(), model_names.end(), name) == model_names.end()) {
                            std::string message = "key '" + key.name + "' allows unknown model '" + name + "'";
                            if (auto guess = closest(name, model_names)) message += "; did you mean '" + *guess + "'?";
                            error(m, std::move(message));
                        } else {
                            key.models.push_back(name);
                        }
                    }
                }
            }
            if (const YAML::Node limits = item["limits"]) rate_limit(limits, key.limits);
            integer(item, "max_concurrent", key.max_concurrent, 0, 1'000'000);
            if (const YAML::Node budget = item["budget"]) {
                if (expect_map(budget, "'budget'", {"daily", "monthly"})) {
                    number(budget, "daily", key.budget_daily, 0, 1e9);
                    number(budget, "monthly", key.budget_monthly, 0, 1e12);
                }
            }
            if (const YAML::Node labels = item["labels"]) {
                if (!labels.IsMap()) {
                    error(labels, "'labels' must be a mapping such as {team: research, user: alice}");
                } else {
                    for (auto it = labels.begin(); it != labels.end(); ++it) {
                        key.labels[it->first.as<std::string>()] = it->second.IsScalar() ? it->second.Scalar() : "";
                    }
                }
            }
            out.keys.push_back(std::move(key));
        }
    }

    void ledger(const YAML::Node& node, Ledger& out) {
        const bool short_form = node.IsScalar();
        if (short_form) {
            out.url = expand(node, node.Scalar());
        } else {
            if (!expect_map(node, "'ledger'", {"url", "flush_interval", "queue_size", "batch_size"})) return;
            string(node, "url", out.url);
            duration(node, "flush_interval", out.flush_interval);
            integer(node, "queue_size", out.queue_size, 1, 100'000'000);
            integer(node, "batch_size", out.batch_size, 1, 1'000'000);
        }
        if (!out.url.empty() && !out.url.starts_with("postgres://") && !out.url.starts_with("postgresql://") &&
            out.url.find("://") != std::string::npos) {
            error(short_form ? node : node["url"], "ledger url must be a file path, sqlite:PATH or postgres://...");
        }
    }

    // `state: redis://...` or a mapping with url, timeout, on_failure, instances, sync_interval, prefix.
    void state(const YAML::Node& node, State& out) {
        const bool short_form = node.IsScalar();
        if (short_form) {
            out.url = expand(node, node.Scalar());
        } else {
            if (!expect_map(node, "'state'",
                            {"url", "timeout", "on_failure", "instances", "sync_interval", "prefix", "max_lease"})) {
                return;
            }
            string(node, "url", out.url);
            duration(node, "timeout", out.timeout);
            choice(node, "on_failure", out.fail_open, {{"open", true}, {"closed", false}});
            integer(node, "instances", out.instances, 1, 10'000);
            duration(node, "sync_interval", out.sync_interval);
            string(node, "prefix", out.prefix);
            integer(node, "max_lease", out.max_lease, 1, 10'000);
            if (!node["url"]) error(node, "'state' needs a 'url' (redis://host:port)");
        }
        const YAML::Node place = short_form ? node : node["url"];
        if (!out.url.empty() && !out.url.starts_with("redis://")) {
            error(place, "state url must be redis://[:password@]host[:port][/db]");
            out.url.clear();
        } else if (!out.url.empty() && !parse_redis_url(out.url)) {
            error(place, "state url is not a valid redis://[:password@]host[:port][/db] address");
            out.url.clear();
        }
        if (out.prefix.empty() || out.prefix.find_first_of(" \t\r\n") != std::string::npos) {
            error(short_form ? node : node["prefix"], "'prefix' must be a non-empty word without spaces");
        }
    }

    void access_log(const YAML::Node& node, AccessLog& out) {
        if (node.IsScalar()) {
            out.path = expand(node, node.Scalar());
            return;
        }
        if (!expect_map(node, "'access_log'",
                        {"path", "max_size", "max_files", "content", "max_content_bytes", "redact"})) {
            return;
        }
        string(node, "path", out.path);
        size(node, "max_size", out.max_size);
        integer(node, "max_files", out.max_files, 1, 1000);
        boolean(node, "content", out.content);
        size(node, "max_content_bytes", out.max_content_bytes);
        out.redact.clear();
        const YAML::Node redact = node["redact"];
        if (!redact) {
            for (const char* name : {"email", "api_key", "credit_card"}) out.redact.push_back(*builtin_redaction(name));
            return;
        }
        if (!redact.IsSequence()) {
            error(redact, "'access_log.redact' must be a list of built-in names (email, api_key, credit_card, phone, "
                          "ipv4) or {pattern, replace} mappings");
            return;
        }
        for (const YAML::Node& item : redact) {
            if (item.IsScalar()) {
                if (auto builtin = builtin_redaction(item.Scalar())) {
                    out.redact.push_back(std::move(*builtin));
                } else {
                    error(item, "unknown redaction '" + item.Scalar() +
                                    "'; built-in ones are email, api_key, credit_card, phone and ipv4, or give "
                                    "{pattern: REGEX, replace: TEXT}");
                }
                continue;
            }
            if (!expect_map(item, "a redaction", {"pattern", "replace"})) continue;
            Redaction custom{"custom", "", "[REDACTED]"};
            string(item, "pattern", custom.pattern);
            string(item, "replace", custom.replace);
            if (custom.pattern.empty()) {
                error(item, "a redaction needs a 'pattern' (a regular expression)");
                continue;
            }
            try {
                std::regex compiled(custom.pattern, std::regex::ECMAScript);
            } catch (const std::regex_error& e) {
                error(item["pattern"], "'" + custom.pattern + "' is not a valid regular expression: " + e.what());
                continue;
            }
            out.redact.push_back(std::move(custom));
        }
    }

    void prices(const YAML::Node& node, Prices& out) {
        if (!expect_map(node, "'prices'", {"catalog", "models"})) return;
        string(node, "catalog", out.catalog);
        if (!out.catalog.empty() && !std::ifstream(out.catalog)) {
            error(node["catalog"], "price catalog '" + out.catalog + "' cannot be read");
        }
        if (const YAML::Node models = node["models"]) {
            if (!models.IsMap()) {
                error(models, "'prices.models' must map model names to {input, cached_input, output}");
                return;
            }
            for (auto it = models.begin(); it != models.end(); ++it) {
                const YAML::Node price = it->second;
                if (!expect_map(price, "a price", {"input", "cached_input", "output"})) continue;
                std::array<double, 3> value{-1, -1, -1};
                number(price, "input", value[0], 0, 1e6);
                number(price, "cached_input", value[1], 0, 1e6);
                number(price, "output", value[2], 0, 1e6);
                if (value[0] < 0 || value[2] < 0) {
                    error(price, "a price needs 'input' and 'output' (dollars per million tokens)");
                    continue;
                }
                if (value[1] < 0) value[1] = value[0];
                out.models[it->first.as<std::string>()] = value;
            }
        }
    }

    void cost_model(const YAML::Node& node, CostModel& out) {
        if (!expect_map(node, "'cost'",
                        {"hardware_usd", "lifetime_months", "power_watts", "electricity_usd_per_kwh",
                         "ops_usd_per_month", "tokens_per_month"})) {
            return;
        }
        number(node, "hardware_usd", out.hardware_usd, 0, 1e9);
        number(node, "lifetime_months", out.lifetime_months, 0.1, 1200);
        number(node, "power_watts", out.power_watts, 0, 1e7);
        number(node, "electricity_usd_per_kwh", out.electricity_usd_per_kwh, 0, 100);
        number(node, "ops_usd_per_month", out.ops_usd_per_month, 0, 1e9);
        number(node, "tokens_per_month", out.tokens_per_month, 0, 1e18);
    }

    void breaker(const YAML::Node& node, Breaker& out) {
        if (!expect_map(node, "'breaker'",
                        {"enabled", "consecutive_failures", "failure_rate", "min_requests", "window", "cooldown",
                         "half_open_requests"})) {
            return;
        }
        boolean(node, "enabled", out.enabled);
        integer(node, "consecutive_failures", out.consecutive_failures, 0, 1'000'000);
        number(node, "failure_rate", out.failure_rate, 0, 1);
        integer(node, "min_requests", out.min_requests, 1, 1'000'000);
        duration(node, "window", out.window);
        duration(node, "cooldown", out.cooldown);
        integer(node, "half_open_requests", out.half_open_requests, 1, 1000);
    }

    void gpu_groups(const YAML::Node& node, Gateway& out) {
        if (!node.IsMap()) {
            error(node, "'gpu_groups' must map group names to {max_loaded}");
            return;
        }
        for (auto it = node.begin(); it != node.end(); ++it) {
            GpuGroup group;
            if (expect_map(it->second, "a GPU group", {"max_loaded"})) {
                integer(it->second, "max_loaded", group.max_loaded, 0, 1000);
            }
            out.gpu_groups[it->first.as<std::string>()] = group;
        }
    }

    // A duration that may be 0 (for "never").
    void duration_or_zero(const YAML::Node& map, const char* key, Duration& out) {
        auto value = scalar(map, key);
        if (!value) return;
        if (auto parsed = parse_duration(*value); parsed && parsed->count() >= 0) {
            out = *parsed;
        } else {
            error(map[key], std::string("'") + key + "' must be a duration such as 0, 30s, 5m or 1h, got '" + *value + "'");
        }
    }

    void engines(const YAML::Node& node, Gateway& out) {
        if (!node.IsSequence() || node.size() == 0) {
            error(node, "'engines' must be a non-empty list of {name, command, ...}");
            return;
        }
        std::set<std::string> names;
        for (const auto& upstream : out.upstreams) names.insert(upstream.name);
        std::set<std::uint16_t> ports;
        for (const auto& item : node) {
            Engine engine;
            if (!expect_map(item, "an engine",
                            {"name", "command", "env", "workdir", "model", "models", "port", "gpu", "preload", "ready_path",
                             "load_timeout", "health_interval", "unhealthy_threshold", "idle_unload", "drain_timeout", "stop_grace", "restart", "memory_limit",
                             "gpu_memory_limit", "max_waiting", "log", "max_loaded"})) {
                continue;
            }
            string(item, "name", engine.name);
            if (engine.name.empty()) {
                error(item, "an engine needs a 'name'");
            } else if (!names.insert(engine.name).second) {
                error(item["name"], "engine name '" + engine.name + "' is used twice (engines and upstreams share names)");
            }
            const YAML::Node command = item["command"];
            if (!command || !command.IsSequence() || command.size() == 0) {
                error(command ? command : item, "engine '" + engine.name +
                                                    "' needs a 'command': a list such as [llama-server, -m, "
                                                    "${MODEL}, --port, ${PORT}]");
            } else {
                for (const auto& arg : command) {
                    if (!arg.IsScalar()) {
                        error(arg, "each 'command' item must be a single string");
                        continue;
                    }
                    engine.command.push_back(expand_env_only(arg, arg.Scalar()));
                }
            }
            if (const YAML::Node env = item["env"]) {
                if (!env.IsMap()) {
                    error(env, "'env' must map variable names to values");
                } else {
                    for (auto it = env.begin(); it != env.end(); ++it) {
                        engine.env[it->first.as<std::string>()] =
                            it->second.IsScalar() ? expand_env_only(it->second, it->second.Scalar()) : "";
                    }
                }
            }
            string(item, "workdir", engine.workdir);
            string(item, "model", engine.model);
            engine_models(item["models"], engine);
            integer(item, "port", engine.port, 1, 65535);
            if (engine.port != 0 && !ports.insert(engine.port).second) {
                error(item["port"], "port " + std::to_string(engine.port) + " is given to two engines");
            }
            string(item, "gpu", engine.gpu);
            boolean(item, "preload", engine.preload);
            string(item, "ready_path", engine.ready_path);
            if (!engine.ready_path.starts_with("/")) error(item["ready_path"], "'ready_path' must start with '/'");
            duration(item, "load_timeout", engine.load_timeout);
            duration_or_zero(item, "health_interval", engine.health_interval);
            integer(item, "unhealthy_threshold", engine.unhealthy_threshold, 1, 100);
            duration_or_zero(item, "idle_unload", engine.idle_unload);
            duration(item, "drain_timeout", engine.drain_timeout);
            duration(item, "stop_grace", engine.stop_grace);
            if (const YAML::Node restart = item["restart"]) {
                if (expect_map(restart, "'restart'", {"backoff_base", "backoff_max", "max_restarts", "window"})) {
                    duration(restart, "backoff_base", engine.backoff_base);
                    duration(restart, "backoff_max", engine.backoff_max);
                    integer(restart, "max_restarts", engine.max_restarts, 0, 1'000'000);
                    duration(restart, "window", engine.restart_window);
                    if (engine.backoff_max < engine.backoff_base) {
                        error(restart, "'backoff_max' must not be shorter than 'backoff_base'");
                    }
                }
            }
            size(item, "memory_limit", engine.memory_limit);
            size(item, "gpu_memory_limit", engine.gpu_memory_limit);
            integer(item, "max_waiting", engine.max_waiting, 0, 1'000'000);
            if (const YAML::Node log = item["log"]) {
                if (expect_map(log, "'log'", {"dir", "max_size", "files"})) {
                    string(log, "dir", engine.log_dir);
                    size(log, "max_size", engine.log_max_bytes);
                    integer(log, "files", engine.log_files, 1, 100);
                }
            }
            if (item["max_loaded"]) {
                // Shorthand for a GPU group of this engine's own limit.
                GpuGroup group;
                integer(item, "max_loaded", group.max_loaded, 0, 1000);
                if (engine.gpu.empty()) {
                    error(item["max_loaded"], "'max_loaded' needs a 'gpu' group to apply to");
                } else {
                    auto& existing = out.gpu_groups[engine.gpu];
                    if (existing.max_loaded == 0 || group.max_loaded < existing.max_loaded) existing = group;
                }
            }
            if (!engine.gpu.empty() && !out.gpu_groups.contains(engine.gpu)) out.gpu_groups[engine.gpu] = GpuGroup{};

            // The engine's upstream: llama-server's API on loopback. The port is filled in at
            // start-up when the supervisor picks one; health checks are the supervisor's job.
            Upstream upstream;
            upstream.name = engine.name;
            upstream.type = UpstreamType::llama_server;
            std::string ignored;
            upstream.url = *parse_url("http://127.0.0.1:" + std::to_string(engine.port == 0 ? 1 : engine.port), &ignored);
            upstream.health.enabled = false;
            upstream.health.path = engine.ready_path;
            upstream.local = true;
            upstream.engine = out.engines.size();
            engine.upstream = out.upstreams.size();
            out.upstreams.push_back(std::move(upstream));
            out.engines.push_back(std::move(engine));
        }
    }

    // `models: [a, b]`: the names one engine process serves, each once.
    void engine_models(const YAML::Node& node, Engine& engine) {
        if (!node) return;
        if (!node.IsSequence() || node.size() == 0) {
            error(node, "engine '" + engine.name + "': 'models' must be a non-empty list of model names");
            return;
        }
        for (const auto& name : node) {
            if (!name.IsScalar() || name.Scalar().empty()) {
                error(name, "each item of 'models' must be a model name");
            } else if (std::find(engine.models.begin(), engine.models.end(), name.Scalar()) != engine.models.end()) {
                error(name, "engine '" + engine.name + "' lists model '" + name.Scalar() + "' twice");
            } else {
                engine.models.push_back(name.Scalar());
            }
        }
    }

    // ${ENV} references are expanded, but ${PORT}, ${MODEL} and ${NAME} stay for the supervisor
    // (unless the environment sets them, which it must not for these).
    std::string expand_env_only(const YAML::Node& node, const std::string& text) {
        std::string out;
        std::size_t pos = 0;
        while (true) {
            const auto start = text.find("${", pos);
            if (start == std::string::npos) break;
            const auto end = text.find('}', start);
            if (end == std::string::npos) break;
            const std::string name = text.substr(start + 2, end - start - 2);
            out.append(text, pos, start - pos);
            if (name == "PORT" || name == "MODEL" || name == "NAME") {
                out.append(text, start, end + 1 - start);
            } else {
                out += expand(node, text.substr(start, end + 1 - start));
            }
            pos = end + 1;
        }
        out.append(text, pos);
        return out;
    }

    void upstreams(const YAML::Node& node, Gateway& out) {
        if (!node || !node.IsSequence() || node.size() == 0) {
            error(node, "'upstreams' must be a non-empty list; each upstream needs a name and a base_url");
            return;
        }
        std::set<std::string> names;
        for (const auto& item : node) {
            Upstream upstream;
            if (!expect_map(item, "an upstream",
                            {"name", "type", "base_url", "api_key", "timeouts", "max_connections",
                             "max_idle_connections", "idle_connection_timeout", "tls", "health", "breaker",
                             "rate_limit_cooldown", "local", "cost"})) {
                continue;
            }
            string(item, "name", upstream.name);
            if (upstream.name.empty()) {
                error(item, "an upstream needs a 'name'");
            } else if (!names.insert(upstream.name).second) {
                error(item["name"], "upstream name '" + upstream.name + "' is used twice");
            }
            if (auto type = scalar(item, "type")) {
                if (*type == "openai") {
                    upstream.type = UpstreamType::openai;
                } else if (*type == "llama-server" || *type == "llama.cpp") {
                    upstream.type = UpstreamType::llama_server;
                } else if (*type == "ollama") {
                    upstream.type = UpstreamType::ollama;
                } else if (*type == "vllm") {
                    upstream.type = UpstreamType::vllm;
                } else {
                    error(item["type"], "upstream type '" + *type +
                                            "' is not one of openai, llama-server, ollama, vllm");
                }
            }
            if (auto base_url = scalar(item, "base_url")) {
                std::string why;
                if (auto url = parse_url(*base_url, &why)) {
                    upstream.url = std::move(*url);
                } else {
                    error(item["base_url"], "base_url '" + *base_url + "' " + why);
                }
            } else if (!item["base_url"]) {
                error(item, "upstream '" + upstream.name + "' needs a 'base_url' such as http://127.0.0.1:8080");
            }
            string(item, "api_key", upstream.api_key);
            if (const YAML::Node t = item["timeouts"]) {
                if (expect_map(t, "'timeouts'", {"connect", "first_byte", "idle", "total"})) {
                    duration(t, "connect", upstream.timeouts.connect);
                    duration(t, "first_byte", upstream.timeouts.first_byte);
                    duration(t, "idle", upstream.timeouts.idle);
                    duration(t, "total", upstream.timeouts.total);
                }
            }
            integer(item, "max_connections", upstream.max_connections, 1, 1'000'000);
            integer(item, "max_idle_connections", upstream.max_idle_connections, 0, 1'000'000);
            duration(item, "idle_connection_timeout", upstream.idle_connection_timeout);
            if (const YAML::Node tls = item["tls"]) {
                if (expect_map(tls, "'tls'", {"verify", "ca_file", "server_name"})) {
                    boolean(tls, "verify", upstream.tls.verify);
                    string(tls, "ca_file", upstream.tls.ca_file);
                    string(tls, "server_name", upstream.tls.server_name);
                    if (!upstream.tls.ca_file.empty() && !std::ifstream(upstream.tls.ca_file)) {
                        error(tls["ca_file"], "ca_file '" + upstream.tls.ca_file + "' cannot be read");
                    }
                }
            }
            switch (upstream.type) {
                case UpstreamType::llama_server:
                case UpstreamType::vllm: upstream.health.path = "/health"; break;
                case UpstreamType::ollama: upstream.health.path = "/api/version"; break;
                case UpstreamType::openai: upstream.health.path = upstream.url.api_base + "/models"; break;
            }
            if (const YAML::Node health = item["health"]) {
                if (expect_map(health, "'health'",
                               {"enabled", "path", "interval", "timeout", "unhealthy_threshold", "healthy_threshold"})) {
                    boolean(health, "enabled", upstream.health.enabled);
                    string(health, "path", upstream.health.path);
                    duration(health, "interval", upstream.health.interval);
                    duration(health, "timeout", upstream.health.timeout);
                    integer(health, "unhealthy_threshold", upstream.health.unhealthy_threshold, 1, 100);
                    integer(health, "healthy_threshold", upstream.health.healthy_threshold, 1, 100);
                    if (!upstream.health.path.starts_with("/")) {
                        error(health["path"], "health path must start with '/'");
                    }
                }
            }
            if (const YAML::Node b = item["breaker"]) breaker(b, upstream.breaker);
            duration(item, "rate_limit_cooldown", upstream.rate_limit_cooldown);
            upstream.local = upstream.type != UpstreamType::openai;
            boolean(item, "local", upstream.local);
            if (const YAML::Node cost = item["cost"]) {
                upstream.cost.emplace();
                cost_model(cost, *upstream.cost);
            }
            out.upstreams.push_back(std::move(upstream));
        }
    }

    void models(const YAML::Node& node, Gateway& out) {
        if (!node || !node.IsSequence() || node.size() == 0) {
            error(node, "'models' must be a non-empty list; each model needs a name and deployments");
            return;
        }
        std::vector<std::string> upstream_names;
        for (const auto& upstream : out.upstreams) upstream_names.push_back(upstream.name);
        std::set<std::string> names;
        for (const auto& item : node) {
            Model model;
            if (!expect_map(item, "a model",
                            {"name", "deployments", "strategy", "overflow", "queue", "fallbacks", "limits"})) {
                continue;
            }
            string(item, "name", model.name);
            choice(item, "strategy", model.strategy,
                   {{"round-robin", Strategy::round_robin},
                    {"weighted", Strategy::weighted},
                    {"least-outstanding", Strategy::least_outstanding},
                    {"latency", Strategy::latency}});
            choice(item, "overflow", model.overflow,
                   {{"spill", Overflow::spill}, {"queue", Overflow::queue}, {"reject", Overflow::reject}});
            if (model.overflow == Overflow::queue) model.queue_size = 100;
            if (const YAML::Node queue = item["queue"]) {
                if (expect_map(queue, "'queue'", {"size", "timeout"})) {
                    integer(queue, "size", model.queue_size, 0, 1'000'000);
                    duration(queue, "timeout", model.queue_timeout);
                }
            }
            if (const YAML::Node limits = item["limits"]) rate_limit(limits, model.limits);
            std::vector<YAML::Node> fallback_nodes;
            if (const YAML::Node fallbacks = item["fallbacks"]) {
                if (!fallbacks.IsSequence()) {
                    error(fallbacks, "'fallbacks' must be a list of model names");
                } else {
                    for (const auto& fallback : fallbacks) {
                        if (!fallback.IsScalar()) {
                            error(fallback, "each fallback must be a model name");
                            continue;
                        }
                        model.fallbacks.push_back(expand(fallback, fallback.Scalar()));
                        fallback_nodes.push_back(fallback);
                    }
                }
            }
            if (model.name.empty()) {
                error(item, "a model needs a 'name' (the public name callers send)");
            } else if (!names.insert(model.name).second) {
                error(item["name"], "model name '" + model.name + "' is used twice");
            }
            const YAML::Node deployments = item["deployments"];
            if (!deployments || !deployments.IsSequence() || deployments.size() == 0) {
                error(deployments ? deployments : item,
                      "model '" + model.name + "' needs a non-empty 'deployments' list of {upstream, model}");
                continue;
            }
            for (const auto& d : deployments) {
                Deployment deployment;
                if (!expect_map(d, "a deployment",
                                {"name", "upstream", "engine", "model", "tier", "weight", "max_concurrency",
                                 "limits"})) {
                    continue;
                }
                std::string upstream;
                string(d, "upstream", upstream);
                std::string engine;
                string(d, "engine", engine);
                integer(d, "tier", deployment.tier, 1, 100);
                integer(d, "weight", deployment.weight, 1, 1'000'000);
                integer(d, "max_concurrency", deployment.max_concurrency, 0, 1'000'000);
                if (const YAML::Node limits = d["limits"]) rate_limit(limits, deployment.limits);
                string(d, "model", deployment.model);
                string(d, "name", deployment.name);
                const auto found = std::find(upstream_names.begin(), upstream_names.end(), upstream);
                const Engine* on_engine = nullptr;
                if (!engine.empty()) {
                    // An engine's upstream has the engine's name.
                    std::vector<std::string> engine_names;
                    for (const auto& e : out.engines) engine_names.push_back(e.name);
                    const auto e = std::find(engine_names.begin(), engine_names.end(), engine);
                    if (!upstream.empty()) {
                        error(d["engine"], "a deployment names either an 'upstream' or an 'engine', not both");
                    } else if (e == engine_names.end()) {
                        std::string message = "deployment refers to unknown engine '" + engine + "'";
                        if (auto guess = closest(engine, engine_names)) message += "; did you mean '" + *guess + "'?";
                        error(d["engine"], std::move(message));
                    } else {
                        on_engine = &out.engines[static_cast<std::size_t>(e - engine_names.begin())];
                        deployment.upstream = on_engine->upstream;
                    }
                    upstream = engine;
                } else if (upstream.empty()) {
                    error(d, "a deployment needs an 'upstream' or an 'engine'");
                } else if (found == upstream_names.end()) {
                    std::string message = "deployment refers to unknown upstream '" + upstream + "'";
                    if (auto guess = closest(upstream, upstream_names)) message += "; did you mean '" + *guess + "'?";
                    error(d["upstream"], std::move(message));
                } else if (out.upstreams[static_cast<std::size_t>(found - upstream_names.begin())].engine) {
                    error(d["upstream"], "'" + upstream + "' is an engine: write 'engine: " + upstream + "'");
                } else {
                    deployment.upstream = static_cast<std::size_t>(found - upstream_names.begin());
                }
                if (deployment.model.empty()) deployment.model = model.name;
                if (on_engine) engine_serves(*on_engine, d, deployment.model);
                if (deployment.name.empty()) deployment.name = upstream;
                model.deployments.push_back(std::move(deployment));
            }
            std::stable_sort(model.deployments.begin(), model.deployments.end(),
                             [](const Deployment& a, const Deployment& b) { return a.tier < b.tier; });
            out.models.push_back(std::move(model));
            fallback_nodes_.push_back(std::move(fallback_nodes));
        }
        resolve_fallbacks(out);
        for (auto& model : out.models) {
            for (auto& deployment : model.deployments) deployment.id = out.deployment_count++;
        }
    }

    // A deployment on an engine that lists its models must name one of them (its `model`, or the
    // public name when it gives none).
    void engine_serves(const Engine& engine, const YAML::Node& deployment, const std::string& name) {
        if (engine.models.empty() ||
            std::find(engine.models.begin(), engine.models.end(), name) != engine.models.end()) {
            return;
        }
        std::string message = "engine '" + engine.name + "' does not serve model '" + name + "' (its models: ";
        for (std::size_t i = 0; i < engine.models.size(); ++i) message += (i ? ", " : "") + engine.models[i];
        message += ")";
        if (auto guess = closest(name, engine.models)) message += "; did you mean '" + *guess + "'?";
        if (!deployment["model"]) message += "; name one with 'model:'";
        error(deployment["model"] ? deployment["model"] : deployment["engine"], std::move(message));
    }

    // Fallbacks name other models; each must exist and a model may not fall back to itself.
    void resolve_fallbacks(Gateway& out) {
        std::vector<std::string> names;
        for (const auto& model : out.models) names.push_back(model.name);
        for (std::size_t m = 0; m < out.models.size(); ++m) {
            auto& model = out.models[m];
            for (std::size_t f = 0; f < model.fallbacks.size(); ++f) {
                const std::string& fallback = model.fallbacks[f];
                const YAML::Node& where = fallback_nodes_[m][f];
                const auto found = std::find(names.begin(), names.end(), fallback);
                if (found == names.end()) {
                    std::string message = "model '" + model.name + "' falls back to unknown model '" + fallback + "'";
                    if (auto guess = closest(fallback, names)) message += "; did you mean '" + *guess + "'?";
                    error(where, std::move(message));
                } else if (*found == model.name) {
                    error(where, "model '" + model.name + "' cannot fall back to itself");
                } else {
                    model.fallback_index.push_back(static_cast<std::size_t>(found - names.begin()));
                }
            }
        }
    }

    std::vector<std::vector<YAML::Node>> fallback_nodes_;  // per model, where each fallback was written

    const EnvLookup& env_;
};

}  // namespace

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

LoadResult load_string(std::string_view yaml, const EnvLookup& env) {
    LoadResult result;
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml));
    } catch (const YAML::Exception& e) {
        result.errors.push_back({e.mark.line + 1, e.mark.column + 1, "YAML syntax error: " + e.msg});
        return result;
    }
    Parser parser(env);
    try {
        Gateway gateway = parser.gateway(root);
        result.errors = std::move(parser.errors);
        if (result.errors.empty()) result.gateway = std::move(gateway);
    } catch (const YAML::Exception& e) {
        result.errors = std::move(parser.errors);
        result.errors.push_back({e.mark.line + 1, e.mark.column + 1, e.msg});
    }
    std::stable_sort(result.errors.begin(), result.errors.end(),
                     [](const Error& a, const Error& b) { return a.line < b.line; });
    return result;
}

LoadResult load_file(const std::string& path, const EnvLookup& env) {
    std::ifstream in(path);
    if (!in) {
        LoadResult result;
        result.errors.push_back({0, 0, "cannot read config file '" + path + "'"});
        return result;
    }
    std::stringstream text;
    text << in.rdbuf();
    return load_string(text.str(), env);
}

}  // namespace switchyard::config
