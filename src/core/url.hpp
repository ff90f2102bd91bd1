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
    // The OpenAI API base path, like the OpenAI SDKs' base_url: "/v1" when the URL has no path,
    // else the path as written without a trailing "/" ("/v1beta/openai" for Gemini).
    std::string api_base;

    // "host:port" as it belongs in a Host header (default ports omitted).
    std::string host_header() const;
    // "http://host:port" (no path), for logs and, when allowed, error messages.
    std::string origin() const;

    bool operator==(const Url&) const = default;
};

// Parses an absolute http(s) URL. The gateway sends "/chat/completions" and the like to
// `api_base`, so "http://h:8080" and "https://api.openai.com/v1" both reach ".../v1/chat/completions".
// Returns the reason on failure.
std::optional<Url> parse_url(std::string_view text, std::string* why);

// `text` percent-encoded (RFC 3986): its unreserved characters (letters, digits, - . _ ~) and those
// in `keep` ("/" for a path) as they are, every other byte as %XX. Header-only: the model store,
// which does not link the core, uses it too.
inline std::string percent_encode(std::string_view text, std::string_view keep = {}) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                                c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved || keep.find(c) != std::string_view::npos) {
            out += c;
        } else {
            const auto byte = static_cast<unsigned char>(c);
            out += '%';
            out += kHex[byte >> 4];
            out += kHex[byte & 15];
        }
    }
    return out;
}

}  // namespace switchyard
