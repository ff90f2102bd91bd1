// Upstream base URLs: `http://host:port/prefix` or `https://...`. Parsed once at config load.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard {

struct Url {
    bool tls = false;
    std::string host;         // without brackets for IPv6 literals
    std::uint16_t port = 0;   // explicit or the scheme's default
    std::string path_prefix;  // "" or "/something", never ending in "/" and never ending in "/v1"

    // "host:port" as it belongs in a Host header (default ports omitted).
    std::string host_header() const;
    // "http://host:port" (no path), for logs and, when allowed, error messages.
    std::string origin() const;
};

// Parses an absolute http(s) URL. A trailing "/v1" is dropped from the path because the gateway
// appends the caller's "/v1/..." path; both "http://h:8080" and "https://api.x.com/v1" work.
// Returns the reason on failure.
std::optional<Url> parse_url(std::string_view text, std::string* why);

}  // namespace switchyard
