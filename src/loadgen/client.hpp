// The HTTP side of `switchyard bench`: the target (base URL resolved once, TLS context, the
// request head every request shares) and one keep-alive connection, plain or TLS, that sends a
// request and times its answer as the bytes arrive: first token, every gap between tokens, the
// usage the server reports, and how it failed if it did. Runs on one thread's io_context.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/url.hpp"
#include "loadgen/metrics.hpp"
#include "loadgen/reader.hpp"

namespace switchyard::loadgen {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Target {
    Url url;
    std::vector<tcp::endpoint> endpoints;
    std::shared_ptr<asio::ssl::context> tls;  // null for http
    bool verify = true;                       // check the certificate chain and host name
    // "POST <path> HTTP/1.1\r\nHost: ...\r\n...Content-Length: " (the length and the blank line follow).
    std::string head_prefix;
};

struct TargetOptions {
    std::string base_url;
    std::string path;           // "/chat/completions" or "/completions", appended to the API base
    std::string api_key;        // empty: no Authorization header
    std::vector<std::string> headers;  // "Name: value"
    bool insecure = false;      // skip TLS certificate and host name verification
    std::string ca_file;        // PEM CA certificates to trust instead of the system's
};

// Parses the URL, resolves the host (blocking, once) and prepares TLS. Throws std::runtime_error
// with a message fit for the user.
Target make_target(const TargetOptions& options);

// Per-connection buffers, reused for every request on it.
struct Scratch {
    std::string head;
    std::string body;           // the request body
    std::string response_body;  // a non-streamed response
    std::string reply;          // the assistant's text, when a multi-turn session needs it
    std::string error;          // why the last request failed, when not an HTTP status (a system error, a parse error)
    ResponseParser parser;
    SseParser sse;
};

class Connection {
public:
    Connection(asio::io_context& io, const Target& target);
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    bool is_open() const;
    void close();

    // Sends the request in `scratch` (head and body) and reads the whole response into `record`.
    // Opens the connection first if needed, and resends once on a fresh connection when a reused
    // one turns out to have been closed by the server before answering.
    struct Context {
        Clock::time_point t0;             // the run's start, for RequestRecord times
        std::chrono::nanoseconds timeout;  // whole request, enforced by Worker's sweep through deadline
        UsageReader* usage;
        std::vector<float>* itl_ms;       // gaps are appended here
        bool collect_reply = false;
    };
    asio::awaitable<void> exchange(Scratch& scratch, const Context& context, RequestRecord& record);

    // For the timeout sweep: a request is in progress until `deadline`.
    bool busy = false;
    bool timed_out = false;
    Clock::time_point deadline{};
    // Closes the socket of a request past its deadline (called by the sweep).
    void expire();

private:
    asio::awaitable<boost::system::error_code> connect();
    // exchange's steps; none of them a coroutine, so a request costs one coroutine frame.
    struct ResponseRead;
    enum class ReadEnd { more, whole, failed, resend };
    void begin(Scratch& scratch, const Context& context, RequestRecord& record, Clock::time_point start);
    void begin_attempt(Scratch& scratch, const Context& context, RequestRecord& record, std::uint32_t itl_begin);
    ReadEnd take(ResponseRead& response, std::size_t n);  // n bytes just read into buffer_
    ReadEnd read_failed(ResponseRead& response, boost::system::error_code read_ec, bool may_resend);
    template <typename F>
    decltype(auto) visit(F&& f) {
        if (tls_) return f(*tls_);
        return f(*plain_);
    }

    asio::io_context& io_;
    const Target& target_;
    std::optional<tcp::socket> plain_;
    std::optional<asio::ssl::stream<tcp::socket>> tls_;
    std::array<char, 16 * 1024> buffer_;
};

}  // namespace switchyard::loadgen
