// The `state` section: the Redis a fleet of gateways shares its limits, spend and breakers
// through, and the redis:// address syntax.
#include <charconv>

#include "config/sections.hpp"

namespace switchyard::config {

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

// `state: redis://...` or a mapping with url, timeout, on_failure, instances, sync_interval, prefix.
void read_state(Reader& in, const YAML::Node& node, State& out) {
    const bool short_form = node.IsScalar();
    if (short_form) {
        out.url = in.expand(node, node.Scalar());
    } else {
        if (!in.expect_map(node, "'state'",
                           {"url", "timeout", "on_failure", "instances", "sync_interval", "prefix", "max_lease"})) {
            return;
        }
        in.string(node, "url", out.url);
        in.duration(node, "timeout", out.timeout);
        in.choice(node, "on_failure", out.fail_open, {{"open", true}, {"closed", false}});
        in.integer(node, "instances", out.instances, 1, 10'000);
        in.duration(node, "sync_interval", out.sync_interval);
        in.string(node, "prefix", out.prefix);
        in.integer(node, "max_lease", out.max_lease, 1, 10'000);
        if (!node["url"]) in.error(node, "'state' needs a 'url' (redis://host:port)");
    }
    const YAML::Node place = short_form ? node : node["url"];
    if (!out.url.empty() && !out.url.starts_with("redis://")) {
        in.error(place, "state url must be redis://[:password@]host[:port][/db]");
        out.url.clear();
    } else if (!out.url.empty() && !parse_redis_url(out.url)) {
        in.error(place, "state url is not a valid redis://[:password@]host[:port][/db] address");
        out.url.clear();
    }
    if (out.prefix.empty() || out.prefix.find_first_of(" \t\r\n") != std::string::npos) {
        in.error(short_form ? node : node["prefix"], "'prefix' must be a non-empty word without spaces");
    }
}

}  // namespace switchyard::config
