// HTTP/1.1 bytes on the wire: status lines, header blocks and chunk framing, written into
// reusable strings so the hot path serializes without Beast's field containers.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/field.hpp>

#include "core/error.hpp"

namespace switchyard::wire {

std::string_view reason_phrase(int status);

// Starts `out` (cleared first) with "HTTP/1.1 <status> <reason>\r\n".
void start_response(std::string& out, int status);
void add_header(std::string& out, std::string_view name, std::string_view value);
void add_header(std::string& out, std::string_view name, std::size_t value);
void end_headers(std::string& out);

// A whole response carrying a JSON body, with the headers every gateway response has.
struct LocalResponse {
    int status = 200;
    std::string body;
    std::string_view content_type = "application/json";
    std::string_view allow;     // for 405
    std::string_view upstream;  // x-switchyard-upstream, when a deployment was involved
    std::optional<long> retry_after;  // seconds
    std::string_view extra_headers;   // whole header lines, e.g. x-ratelimit-*
    // For an Anthropic client: the request id also as `request-id`, the header Anthropic's API
    // and SDKs use (beside x-request-id).
    bool anthropic = false;
};
std::string serialize(const LocalResponse& response, std::string_view request_id, bool keep_alive);
// `error` in the caller's API's shape (core/error.hpp).
LocalResponse error_response(const ApiError& error, std::string_view upstream = {},
                             ErrorShape shape = ErrorShape::openai);

// The "<hex size>\r\n" line that starts a chunk of `size` bytes.
struct ChunkHeader {
    std::array<char, 20> bytes{};
    std::size_t length = 0;
    explicit ChunkHeader(std::size_t size);
    std::string_view view() const { return {bytes.data(), length}; }
};
inline constexpr std::string_view kCrlf = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

// Hop-by-hop headers and those the gateway sets itself; never copied from one side to the other.
// By the code Beast's parser gave the header's name (every one of them has a code of its own).
bool is_hop_by_hop(boost::beast::http::field name);

}  // namespace switchyard::wire
