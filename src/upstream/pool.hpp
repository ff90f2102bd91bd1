// Upstream connections: per upstream, shared state (TLS context, DNS cache, open-connection count)
// and, per I/O thread, a pool of idle keep-alive connections. Plain TCP or TLS with certificate
// and host-name verification and SNI. DNS is resolved by Asio's resolver thread, never on an I/O
// thread, and cached briefly.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "config/config.hpp"
#include "core/await.hpp"

namespace switchyard::upstream {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// What every I/O thread shares about one upstream.
class Upstream {
public:
    explicit Upstream(const config::Upstream& config);
    Upstream(const Upstream&) = delete;
    Upstream& operator=(const Upstream&) = delete;

    const config::Upstream& config() const { return config_; }
    asio::ssl::context* tls_context() { return tls_context_.get(); }
    const std::string& host_header() const { return host_header_; }
    // "Bearer <key>", or empty when the upstream needs no key or takes it otherwise (Anthropic's
    // x-api-key: config().api_key). Never logged.
    const std::string& authorization() const { return authorization_; }

    // Open connections, all threads together (bounded by config().max_connections).
    std::atomic<std::size_t> open_connections{0};
    // Set by the health checker; kept here so that a config reload which keeps this upstream
    // keeps what its checks found.
    std::atomic<bool> healthy{true};

    // Cached DNS answer; empty or expired means "resolve again".
    std::optional<std::vector<tcp::endpoint>> cached_endpoints(Clock::time_point now);
    void cache_endpoints(std::vector<tcp::endpoint> endpoints, Clock::time_point now);

private:
    const config::Upstream config_;  // a copy: the upstream may outlive the config it came from
    std::unique_ptr<asio::ssl::context> tls_context_;
    std::string host_header_;
    std::string authorization_;
    std::mutex dns_mutex_;
    std::vector<tcp::endpoint> endpoints_;
    Clock::time_point endpoints_expiry_{};
};

// One connection to an upstream, plain or TLS, with its read buffer.
class Connection {
public:
    Connection(Upstream& upstream, beast::tcp_stream stream);
    Connection(Upstream& upstream, std::unique_ptr<TlsStream> stream);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    beast::tcp_stream& tcp();
    // Runs `f(stream)` on the plain or the TLS stream; `f` returns the same type for both.
    template <typename F>
    decltype(auto) visit(F&& f) {
        if (tls_) return f(*tls_);
        return f(*plain_);
    }
    // An operation to await with the results as a tuple: `start(stream, handler)` starts it on the
    // TLS stream or, for a plain connection, on the bare socket (no Beast timeout bookkeeping per
    // operation: the forwarder's deadlines are enforced by the caller connection's sweep). One
    // operation type for both streams, started from the awaiting coroutine's frame (await_tuple).
    template <typename Signature, typename Start>
    auto on_socket(Start start) {
        auto token = await_tuple;
        return asio::async_initiate<decltype(token), Signature>(
            [this, start](auto handler) mutable {
                if (tls_) {
                    start(*tls_, std::move(handler));
                } else {
                    start(plain_->socket(), std::move(handler));
                }
            },
            token);
    }

    // True when a reused idle connection has been closed by the peer meanwhile.
    bool peer_closed();
    void close();

    beast::flat_buffer buffer;
    Clock::time_point idle_since{};
    bool reused = false;

private:
    Upstream& upstream_;
    std::optional<beast::tcp_stream> plain_;
    std::unique_ptr<TlsStream> tls_;
};

struct ConnectError {
    boost::system::error_code code;
    std::string stage;  // "dns", "connect", "tls", "limit"
};

// Idle keep-alive connections to one upstream, owned by one I/O thread (no locking).
class Pool {
public:
    Pool(Upstream& upstream, asio::any_io_executor executor);
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    Upstream& upstream() { return upstream_; }

    // An idle connection if one is alive, else a new one (bounded by the connect timeout). A
    // `bounded` acquire waits while the upstream has max_connections open; health probes are not.
    asio::awaitable<std::variant<std::unique_ptr<Connection>, ConnectError>> acquire(bool allow_reuse = true,
                                                                                     bool bounded = true);
    // An idle connection that is alive, if there is one (acquire()'s first step, without the
    // coroutine).
    std::unique_ptr<Connection> take_idle();
    // Returns a connection whose last exchange completed cleanly and may be reused.
    void release(std::unique_ptr<Connection> connection);

    std::size_t idle_count() const { return idle_.size(); }

private:
    asio::awaitable<std::variant<std::vector<tcp::endpoint>, ConnectError>> resolve(Clock::time_point deadline);

    Upstream& upstream_;
    asio::any_io_executor executor_;
    tcp::resolver resolver_;
    std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace switchyard::upstream
