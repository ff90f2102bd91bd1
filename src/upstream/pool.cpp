#include "upstream/pool.hpp"

#include <sys/socket.h>

#include "core/await.hpp"

namespace switchyard::upstream {

namespace {
constexpr auto kDnsTtl = std::chrono::seconds(30);
}

Upstream::Upstream(const config::Upstream& config)
    : config_(config),
      host_header_(config.url.host_header()),
      authorization_(config.api_key.empty() || config.type == config::UpstreamType::anthropic ? ""
                                                                                         : "Bearer " + config.api_key) {
    if (!config.url.tls) return;
    tls_context_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    tls_context_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                              asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                              asio::ssl::context::no_tlsv1_1);
    if (config.tls.verify) {
        tls_context_->set_verify_mode(asio::ssl::verify_peer);
        tls_context_->set_default_verify_paths();
        if (!config.tls.ca_file.empty()) tls_context_->load_verify_file(config.tls.ca_file);
    } else {
        tls_context_->set_verify_mode(asio::ssl::verify_none);
    }
}

std::optional<std::vector<tcp::endpoint>> Upstream::cached_endpoints(Clock::time_point now) {
    std::lock_guard lock(dns_mutex_);
    if (endpoints_.empty() || now >= endpoints_expiry_) return std::nullopt;
    return endpoints_;
}

void Upstream::cache_endpoints(std::vector<tcp::endpoint> endpoints, Clock::time_point now) {
    std::lock_guard lock(dns_mutex_);
    endpoints_ = std::move(endpoints);
    endpoints_expiry_ = now + kDnsTtl;
}

Connection::Connection(Upstream& upstream, beast::tcp_stream stream) : upstream_(upstream) {
    plain_.emplace(std::move(stream));
    upstream_.open_connections.fetch_add(1, std::memory_order_relaxed);
}

Connection::Connection(Upstream& upstream, std::unique_ptr<TlsStream> stream)
    : upstream_(upstream), tls_(std::move(stream)) {
    upstream_.open_connections.fetch_add(1, std::memory_order_relaxed);
}

Connection::~Connection() {
    close();
    upstream_.open_connections.fetch_sub(1, std::memory_order_relaxed);
}

beast::tcp_stream& Connection::tcp() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }

bool Connection::peer_closed() {
    auto& socket = tcp().socket();
    if (!socket.is_open()) return true;
    char byte;
    const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    // 0: orderly close; >0: unexpected bytes from an idle upstream; -1/EAGAIN: alive and quiet.
    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

void Connection::close() {
    boost::system::error_code ignored;
    tcp().socket().close(ignored);
}

Pool::Pool(Upstream& upstream, asio::any_io_executor executor)
    : upstream_(upstream), executor_(executor), resolver_(executor) {}

asio::awaitable<std::variant<std::vector<tcp::endpoint>, ConnectError>> Pool::resolve(Clock::time_point deadline) {
    const auto& url = upstream_.config().url;
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(url.host, ec);
    if (!ec) co_return std::vector<tcp::endpoint>{tcp::endpoint(address, url.port)};
    if (auto cached = upstream_.cached_endpoints(Clock::now())) co_return std::move(*cached);

    // async_resolve runs getaddrinfo on Asio's private resolver thread, off the I/O thread; the
    // connect deadline bounds it.
    asio::steady_timer limit(executor_, deadline);
    bool timed_out = false;
    limit.async_wait([&](const boost::system::error_code& wait_ec) {
        if (wait_ec) return;
        timed_out = true;
        resolver_.cancel();
    });
    auto [resolve_ec, results] = co_await resolver_.async_resolve(url.host, std::to_string(url.port), await_tuple);
    limit.cancel();
    if (timed_out) co_return ConnectError{asio::error::timed_out, "dns"};
    if (resolve_ec) co_return ConnectError{resolve_ec, "dns"};
    std::vector<tcp::endpoint> endpoints;
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
    upstream_.cache_endpoints(endpoints, Clock::now());
    co_return endpoints;
}

std::unique_ptr<Connection> Pool::take_idle() {
    const auto now = Clock::now();
    while (!idle_.empty()) {
        std::unique_ptr<Connection> connection = std::move(idle_.back());
        idle_.pop_back();
        const auto idle_for = now - connection->idle_since;
        // A peek costs a system call; a connection idle for less than a second is taken on trust
        // (if the upstream closed it meanwhile, the exchange fails before any response byte and
        // is retried on a fresh connection).
        if (idle_for < upstream_.config().idle_connection_timeout &&
            (idle_for < std::chrono::seconds(1) || !connection->peer_closed())) {
            connection->reused = true;
            return connection;
        }
    }
    return nullptr;
}

asio::awaitable<std::variant<std::unique_ptr<Connection>, ConnectError>> Pool::acquire(bool allow_reuse,
                                                                                       bool bounded) {
    const auto& config = upstream_.config();
    if (allow_reuse) {
        if (auto connection = take_idle()) co_return connection;
    }

    const auto deadline = Clock::now() + config.timeouts.connect;
    if (bounded && upstream_.open_connections.load(std::memory_order_relaxed) >= config.max_connections) {
        // Wait for a request on any thread to give a connection back, up to the connect timeout.
        // (Other threads' releases are not signalled here, hence the short polling interval.)
        asio::steady_timer timer(executor_);
        while (upstream_.open_connections.load(std::memory_order_relaxed) >= config.max_connections) {
            if (Clock::now() >= deadline) {
                co_return ConnectError{make_error_code(boost::system::errc::resource_unavailable_try_again), "limit"};
            }
            timer.expires_after(std::chrono::milliseconds(2));
            co_await timer.async_wait(asio::deferred);
            if (auto connection = take_idle()) co_return connection;
        }
    }

    auto resolved = co_await resolve(deadline);
    if (auto* error = std::get_if<ConnectError>(&resolved)) co_return std::move(*error);
    const auto& endpoints = std::get<std::vector<tcp::endpoint>>(resolved);

    beast::tcp_stream stream(executor_);
    stream.expires_at(deadline);
    auto [connect_ec, endpoint] = co_await stream.async_connect(endpoints, await_tuple_framed);
    if (connect_ec) {
        co_return ConnectError{connect_ec == beast::error::timeout ? asio::error::timed_out : connect_ec, "connect"};
    }
    stream.socket().set_option(tcp::no_delay(true));

    if (!config.url.tls) {
        stream.expires_never();
        co_return std::make_unique<Connection>(upstream_, std::move(stream));
    }

    auto tls = std::make_unique<TlsStream>(std::move(stream), *upstream_.tls_context());
    const std::string& name = config.tls.server_name.empty() ? config.url.host : config.tls.server_name;
    boost::system::error_code not_ip;
    asio::ip::make_address(name, not_ip);
    // SNI carries host names only (RFC 6066); an IP address is verified but not sent.
    if (not_ip && !SSL_set_tlsext_host_name(tls->native_handle(), name.c_str())) {
        co_return ConnectError{boost::system::error_code(static_cast<int>(::ERR_get_error()),
                                                         asio::error::get_ssl_category()),
                               "tls"};
    }
    if (config.tls.verify) tls->set_verify_callback(asio::ssl::host_name_verification(name));
    auto [handshake_ec] = co_await tls->async_handshake(asio::ssl::stream_base::client, await_tuple_framed);
    if (handshake_ec) {
        co_return ConnectError{handshake_ec == beast::error::timeout ? asio::error::timed_out : handshake_ec, "tls"};
    }
    beast::get_lowest_layer(*tls).expires_never();
    co_return std::make_unique<Connection>(upstream_, std::move(tls));
}

void Pool::release(std::unique_ptr<Connection> connection) {
    if (idle_.size() >= upstream_.config().max_idle_connections) return;  // closed by its destructor
    connection->idle_since = Clock::now();
    idle_.push_back(std::move(connection));
}

}  // namespace switchyard::upstream
