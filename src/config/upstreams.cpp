// The `upstreams` section (each API the gateway forwards to: its type, URL and key, timeouts,
// connection pool, TLS, health checks, circuit breaker and cost) and the `retries` section (how
// a failed attempt moves on to another deployment).
#include <array>
#include <fstream>

#include "config/sections.hpp"

namespace switchyard::config {

std::string_view to_string(UpstreamType type) {
    switch (type) {
        case UpstreamType::openai: return "openai";
        case UpstreamType::llama_server: return "llama-server";
        case UpstreamType::ollama: return "ollama";
        case UpstreamType::vllm: return "vllm";
        case UpstreamType::anthropic: return "anthropic";
    }
    return "openai";
}

DialectSet default_dialects(UpstreamType type) {
    using translate::Dialect;
    switch (type) {
        case UpstreamType::llama_server:
        case UpstreamType::vllm:
            return dialect_bit(Dialect::chat) | dialect_bit(Dialect::responses) | dialect_bit(Dialect::messages);
        case UpstreamType::anthropic: return dialect_bit(Dialect::messages);
        case UpstreamType::openai:
        case UpstreamType::ollama: return dialect_bit(Dialect::chat);
    }
    return dialect_bit(Dialect::chat);
}

namespace {

void read_type(Reader& in, const YAML::Node& item, UpstreamType& out) {
    auto type = in.scalar(item, "type");
    if (!type) return;
    if (*type == "openai") {
        out = UpstreamType::openai;
    } else if (*type == "llama-server" || *type == "llama.cpp") {
        out = UpstreamType::llama_server;
    } else if (*type == "ollama") {
        out = UpstreamType::ollama;
    } else if (*type == "vllm") {
        out = UpstreamType::vllm;
    } else if (*type == "anthropic") {
        out = UpstreamType::anthropic;
    } else {
        in.error(item["type"],
                 "upstream type '" + *type + "' is not one of openai, llama-server, ollama, vllm, anthropic");
    }
}

// `dialects: [chat, responses, messages]`: the APIs the upstream serves natively, in place of its
// type's (a provider whose Responses API is there, an Ollama release that serves the others).
const std::array<std::string, 3> kDialectNames{"chat", "responses", "messages"};

void read_dialects(Reader& in, const YAML::Node& item, DialectSet& out) {
    const YAML::Node node = item["dialects"];
    if (!node) return;
    if (!node.IsSequence() || node.size() == 0) {
        in.error(node, "'dialects' must be a non-empty list of chat, responses, messages");
        return;
    }
    DialectSet set = 0;
    for (const auto& entry : node) {
        const std::string name = entry.IsScalar() ? entry.Scalar() : "";
        bool known = false;
        for (std::size_t d = 0; d < translate::kDialects; ++d) {
            const auto dialect = static_cast<translate::Dialect>(d);
            if (name == translate::to_string(dialect)) {
                set |= dialect_bit(dialect);
                known = true;
            }
        }
        if (!known) {
            in.error(entry, "dialect '" + name + "' is not one of chat, responses, messages" +
                                did_you_mean(name, kDialectNames));
        }
    }
    if (set != 0) out = set;
}

void read_base_url(Reader& in, const YAML::Node& item, Upstream& upstream) {
    if (auto base_url = in.scalar(item, "base_url")) {
        std::string why;
        if (auto url = parse_url(*base_url, &why)) {
            upstream.url = std::move(*url);
        } else {
            in.error(item["base_url"], "base_url '" + *base_url + "' " + why);
        }
    } else if (!item["base_url"]) {
        in.error(item, "upstream '" + upstream.name + "' needs a 'base_url' such as http://127.0.0.1:8080");
    }
}

void read_timeouts(Reader& in, const YAML::Node& node, Timeouts& out) {
    if (!in.expect_map(node, "'timeouts'", {"connect", "first_byte", "idle", "total"})) return;
    in.duration(node, "connect", out.connect);
    in.duration(node, "first_byte", out.first_byte);
    in.duration(node, "idle", out.idle);
    in.duration(node, "total", out.total);
}

void read_tls(Reader& in, const YAML::Node& node, Tls& out) {
    if (!in.expect_map(node, "'tls'", {"verify", "ca_file", "server_name"})) return;
    in.boolean(node, "verify", out.verify);
    in.string(node, "ca_file", out.ca_file);
    in.string(node, "server_name", out.server_name);
    if (!out.ca_file.empty() && !std::ifstream(out.ca_file)) {
        in.error(node["ca_file"], "ca_file '" + out.ca_file + "' cannot be read");
    }
}

// The health path by type: llama-server and vLLM "/health", Ollama "/api/version", OpenAI-style
// "<api base>/models".
std::string default_health_path(const Upstream& upstream) {
    switch (upstream.type) {
        case UpstreamType::llama_server:
        case UpstreamType::vllm: return "/health";
        case UpstreamType::ollama: return "/api/version";
        case UpstreamType::anthropic:
        case UpstreamType::openai: return upstream.url.api_base + "/models";
    }
    return upstream.url.api_base + "/models";
}

void read_health(Reader& in, const YAML::Node& node, HealthCheck& out) {
    if (!in.expect_map(node, "'health'",
                       {"enabled", "path", "interval", "timeout", "unhealthy_threshold", "healthy_threshold"})) {
        return;
    }
    in.boolean(node, "enabled", out.enabled);
    in.string(node, "path", out.path);
    in.duration(node, "interval", out.interval);
    in.duration(node, "timeout", out.timeout);
    in.integer(node, "unhealthy_threshold", out.unhealthy_threshold, 1, 100);
    in.integer(node, "healthy_threshold", out.healthy_threshold, 1, 100);
    if (!out.path.starts_with("/")) in.error(node["path"], "health path must start with '/'");
}

void read_breaker(Reader& in, const YAML::Node& node, Breaker& out) {
    if (!in.expect_map(node, "'breaker'",
                       {"enabled", "consecutive_failures", "failure_rate", "min_requests", "window", "cooldown",
                        "half_open_requests"})) {
        return;
    }
    in.boolean(node, "enabled", out.enabled);
    in.integer(node, "consecutive_failures", out.consecutive_failures, 0, 1'000'000);
    in.number(node, "failure_rate", out.failure_rate, 0, 1);
    in.integer(node, "min_requests", out.min_requests, 1, 1'000'000);
    in.duration(node, "window", out.window);
    in.duration(node, "cooldown", out.cooldown);
    in.integer(node, "half_open_requests", out.half_open_requests, 1, 1000);
}

std::optional<Upstream> read_upstream(Reader& in, const YAML::Node& item, std::set<std::string>& names) {
    if (!in.expect_map(item, "an upstream",
                       {"name", "type", "base_url", "api_key", "timeouts", "max_connections", "max_idle_connections",
                        "idle_connection_timeout", "tls", "health", "breaker", "rate_limit_cooldown", "local",
                        "cost", "dialects", "default_max_tokens"})) {
        return std::nullopt;
    }
    Upstream upstream;
    in.string(item, "name", upstream.name);
    in.check_name(item, upstream.name, names, "an upstream needs a 'name'", "upstream");
    read_type(in, item, upstream.type);
    upstream.dialects = default_dialects(upstream.type);
    read_dialects(in, item, upstream.dialects);
    in.integer(item, "default_max_tokens", upstream.default_max_tokens, 1, 10'000'000);
    read_base_url(in, item, upstream);
    in.string(item, "api_key", upstream.api_key);
    if (const YAML::Node timeouts = item["timeouts"]) read_timeouts(in, timeouts, upstream.timeouts);
    in.integer(item, "max_connections", upstream.max_connections, 1, 1'000'000);
    in.integer(item, "max_idle_connections", upstream.max_idle_connections, 0, 1'000'000);
    in.duration(item, "idle_connection_timeout", upstream.idle_connection_timeout);
    if (const YAML::Node tls = item["tls"]) read_tls(in, tls, upstream.tls);
    upstream.health.path = default_health_path(upstream);
    if (const YAML::Node health = item["health"]) read_health(in, health, upstream.health);
    if (const YAML::Node breaker = item["breaker"]) read_breaker(in, breaker, upstream.breaker);
    in.duration(item, "rate_limit_cooldown", upstream.rate_limit_cooldown);
    upstream.local = upstream.type != UpstreamType::openai && upstream.type != UpstreamType::anthropic;
    in.boolean(item, "local", upstream.local);
    if (const YAML::Node cost = item["cost"]) {
        upstream.cost.emplace();
        read_cost_model(in, cost, *upstream.cost);
    }
    return upstream;
}

}  // namespace

void read_upstreams(Reader& in, const YAML::Node& node, Gateway& out) {
    if (!node || !node.IsSequence() || node.size() == 0) {
        in.error(node, "'upstreams' must be a non-empty list; each upstream needs a name and a base_url");
        return;
    }
    std::set<std::string> names;
    for (const auto& item : node) {
        if (auto upstream = read_upstream(in, item, names)) out.upstreams.push_back(std::move(*upstream));
    }
}

void read_retries(Reader& in, const YAML::Node& node, Retries& out) {
    if (!in.expect_map(node, "'retries'",
                       {"attempts", "backoff_base", "backoff_max", "budget_ratio", "budget_min_per_second",
                        "budget_window"})) {
        return;
    }
    in.integer(node, "attempts", out.attempts, 1, 10);
    in.duration(node, "backoff_base", out.backoff_base);
    in.duration(node, "backoff_max", out.backoff_max);
    in.number(node, "budget_ratio", out.budget_ratio, 0, 1);
    in.number(node, "budget_min_per_second", out.budget_min_per_second, 0, 1e6);
    in.duration(node, "budget_window", out.budget_window);
}

}  // namespace switchyard::config
