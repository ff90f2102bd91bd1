#include "http/wire.hpp"

#include <charconv>
#include <cstring>

#include "core/text.hpp"
#include "http/read.hpp"

namespace switchyard::wire {

std::string_view reason_phrase(int status) {
    switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 204: return "No Content";
        case 304: return "Not Modified";
        case 308: return "Permanent Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 413: return "Payload Too Large";
        case 415: return "Unsupported Media Type";
        case 422: return "Unprocessable Entity";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

void start_response(std::string& out, int status) {
    out.clear();
    out += "HTTP/1.1 ";
    char digits[8];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, status);
    (void)ec;
    out.append(digits, end);
    out += ' ';
    out += reason_phrase(status);
    out += kCrlf;
}

void add_header(std::string& out, std::string_view name, std::string_view value) {
    // One resize and plain copies, rather than four appends that each check the capacity.
    const std::size_t at = out.size();
    out.resize(at + name.size() + value.size() + 4);
    char* p = out.data() + at;
    std::memcpy(p, name.data(), name.size());
    p += name.size();
    *p++ = ':';
    *p++ = ' ';
    std::memcpy(p, value.data(), value.size());
    p += value.size();
    *p++ = '\r';
    *p = '\n';
}

void add_header(std::string& out, std::string_view name, std::size_t value) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
    (void)ec;
    add_header(out, name, std::string_view(digits, static_cast<std::size_t>(end - digits)));
}

void end_headers(std::string& out) { out += kCrlf; }

std::string serialize(const LocalResponse& response, std::string_view request_id, bool keep_alive) {
    std::string out;
    out.reserve(response.body.size() + 256);
    start_response(out, response.status);
    add_header(out, "Content-Type", response.content_type);
    add_header(out, "Content-Length", response.body.size());
    add_header(out, "x-request-id", request_id);
    if (response.anthropic) add_header(out, "request-id", request_id);
    if (!response.upstream.empty()) add_header(out, "x-switchyard-upstream", response.upstream);
    if (!response.allow.empty()) add_header(out, "Allow", response.allow);
    if (response.retry_after) add_header(out, "Retry-After", static_cast<std::size_t>(*response.retry_after));
    out += response.extra_headers;
    if (!keep_alive) add_header(out, "Connection", "close");
    end_headers(out);
    out += response.body;
    return out;
}

LocalResponse error_response(const ApiError& error, std::string_view upstream, ErrorShape shape) {
    LocalResponse response;
    response.status = error.status;
    response.body = to_body(error, shape);
    response.upstream = upstream;
    response.retry_after = error.retry_after;
    response.anthropic = shape == ErrorShape::anthropic;
    return response;
}

ChunkHeader::ChunkHeader(std::size_t size) {
    auto [end, ec] = std::to_chars(bytes.data(), bytes.data() + bytes.size() - 2, size, 16);
    (void)ec;
    end[0] = '\r';
    end[1] = '\n';
    length = static_cast<std::size_t>(end + 2 - bytes.data());
}

bool is_hop_by_hop(boost::beast::http::field name) {
    using boost::beast::http::field;
    switch (name) {
        case field::connection:
        case field::keep_alive:
        case field::proxy_connection:
        case field::proxy_authenticate:
        case field::proxy_authorization:
        case field::te:
        case field::trailer:
        case field::transfer_encoding:
        case field::upgrade:
        case field::content_length:
        case field::host: return true;
        default: return false;
    }
}

void TransferEncoding::add(std::string_view value) {
    ++fields_;
    while (!value.empty()) {
        const std::size_t comma = value.find(',');
        std::string_view element = value.substr(0, comma);
        value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
        element = element.substr(0, element.find(';'));  // transfer parameters
        while (!element.empty() && (element.front() == ' ' || element.front() == '\t')) element.remove_prefix(1);
        while (!element.empty() && (element.back() == ' ' || element.back() == '\t')) element.remove_suffix(1);
        if (element.empty()) continue;  // empty list elements are allowed and mean nothing
        ++codings_;
        last_chunked_ = iequals(element, "chunked");
        if (last_chunked_) {
            ++chunked_;
        } else if (other_.empty()) {
            other_ = element;
        }
    }
}

TransferEncoding::Verdict TransferEncoding::verdict() const {
    if (fields_ == 0) return Verdict::none;
    if (codings_ == 0 || !last_chunked_ || chunked_ > 1) return Verdict::faulty;
    if (!other_.empty()) return Verdict::unsupported;
    return Verdict::chunked;
}

GatewayHeaders gateway_headers(const Fields& fields) {
    GatewayHeaders found;
    for (const auto& field : fields) {
        ++found.count;
        if (field.name() == boost::beast::http::field::transfer_encoding) {
            found.transfer_encoding.add(field.value());
            continue;
        }
        if (field.name() != boost::beast::http::field::unknown) continue;
        const std::string_view name = field.name_string();
        if (iequals(name, "x-request-id")) {
            found.request_id = field.value();
        } else if (iequals(name, "x-api-key")) {
            found.api_key = field.value();
        } else if (iequals(name, "anthropic-version")) {
            found.anthropic_version = field.value();
        } else if (iequals(name, "x-switchyard-timeout")) {
            found.timeout = field.value();
        } else if (iequals(name, "x-switchyard-debug")) {
            found.debug = field.value() == "1" || iequals(field.value(), "true");
        }
    }
    return found;
}

}  // namespace switchyard::wire
