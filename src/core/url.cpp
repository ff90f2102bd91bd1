#include "core/url.hpp"

#include <charconv>

namespace switchyard {

std::string Url::host_header() const {
    std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (port != (tls ? 443 : 80)) out += ":" + std::to_string(port);
    return out;
}

std::string Url::origin() const { return (tls ? "https://" : "http://") + host_header(); }

std::optional<Url> parse_url(std::string_view text, std::string* why) {
    auto fail = [&](const char* reason) -> std::optional<Url> {
        if (why) *why = reason;
        return std::nullopt;
    };
    Url url;
    if (text.starts_with("http://")) {
        text.remove_prefix(7);
    } else if (text.starts_with("https://")) {
        url.tls = true;
        text.remove_prefix(8);
    } else {
        return fail("must start with http:// or https://");
    }
    const auto path_start = text.find_first_of("/?#");
    std::string_view authority = text.substr(0, path_start);
    std::string_view path = path_start == std::string_view::npos ? "" : text.substr(path_start);
    if (path.find_first_of("?#") != std::string_view::npos) {
        return fail("must not contain a query or fragment");
    }
    if (authority.find('@') != std::string_view::npos) {
        return fail("must not contain credentials; use api_key");
    }
    std::string_view port_text;
    if (authority.starts_with("[")) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return fail("has an unterminated IPv6 address");
        url.host = std::string(authority.substr(1, close - 1));
        std::string_view rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return fail("has garbage after the IPv6 address");
            port_text = rest.substr(1);
        }
    } else {
        const auto colon = authority.rfind(':');
        url.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    }
    if (url.host.empty()) return fail("has no host");
    if (!port_text.empty()) {
        unsigned value = 0;
        auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
        if (ec != std::errc{} || end != port_text.data() + port_text.size() || value == 0 ||
            value > 65535) {
            return fail("has an invalid port");
        }
        url.port = static_cast<std::uint16_t>(value);
    } else {
        url.port = url.tls ? 443 : 80;
    }
    while (path.ends_with("/")) path.remove_suffix(1);
    url.api_base = path.empty() ? "/v1" : std::string(path);
    return url;
}

}  // namespace switchyard
