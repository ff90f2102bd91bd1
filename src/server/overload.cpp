#include "server/overload.hpp"

#include <sys/resource.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string_view>

namespace switchyard::server::overload {

std::size_t raise_fd_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
    if (limit.rlim_cur < limit.rlim_max) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    }
    if (limit.rlim_cur == RLIM_INFINITY) return 1u << 20;
    return static_cast<std::size_t>(limit.rlim_cur);
}

std::size_t connection_cap(const config::Server& server, std::size_t fd_limit) {
    if (server.max_connections > 0) return server.max_connections;
    // A reserve for the gateway's own descriptors: upstream connections, Redis and PostgreSQL,
    // health checks, engines' pipes, the ledger and log files, the listeners.
    const std::size_t reserve = std::max<std::size_t>(64, fd_limit / 5);
    return fd_limit > 2 * reserve ? fd_limit - reserve : std::max<std::size_t>(8, fd_limit / 2);
}

void refuse(boost::asio::ip::tcp::socket& socket) {
    static constexpr std::string_view kBody =
        R"({"error":{"message":"the gateway has too many open connections; try again shortly","type":"server_error","param":null,"code":"too_many_connections"}})";
    static const std::string kResponse = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                         "Content-Length: " + std::to_string(kBody.size()) +
                                         "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" + std::string(kBody);
    boost::system::error_code ignored;
    socket.non_blocking(true, ignored);
    // A fresh socket's send buffer takes the whole answer at once; what the caller already sent is
    // read away first where it is there, so that closing does not reset the connection under it.
    socket.write_some(boost::asio::buffer(kResponse), ignored);
    socket.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    char sink[4096];
    while (socket.read_some(boost::asio::buffer(sink), ignored) > 0) {
    }
    socket.close(ignored);
}

void AcceptErrors::failed(const boost::system::error_code& ec, SteadyTime now) {
    total_.fetch_add(1, std::memory_order_relaxed);
    ++unlogged_;
    if (now - last_log_ < std::chrono::seconds(1)) return;
    spdlog::warn("accept failed: {} ({} time{} since the last such line)", ec.message(), unlogged_,
                 unlogged_ == 1 ? "" : "s");
    last_log_ = now;
    unlogged_ = 0;
}

}  // namespace switchyard::server::overload
