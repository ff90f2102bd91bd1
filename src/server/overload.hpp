// Caller connections under pressure. The gateway raises its file-descriptor limit to the hard limit
// at start and caps the caller connections it keeps open (server.max_connections; by default the
// descriptor limit less a reserve for its own connections to upstreams, Redis, PostgreSQL, health
// checks and files). Near the cap (90%) each I/O thread closes its idle keep-alive connections,
// oldest first, down to 80%, and a new connection must send its first request within
// server.first_byte_timeout; at the cap a new connection is answered 503 and closed at once instead
// of waiting in the kernel's backlog. Accept failures are counted and logged at most once a second.
#pragma once

#include <boost/asio.hpp>

#include <cstddef>
#include <cstdint>

#include "config/config.hpp"
#include "core/clock.hpp"

namespace switchyard::server::overload {

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit in force afterwards.
std::size_t raise_fd_limit();

// The caller connections one instance keeps open at most.
std::size_t connection_cap(const config::Server& server, std::size_t fd_limit);

// Near the cap: shed idle connections, shorten the wait for a new connection's first request.
inline bool near_cap(std::size_t open, std::size_t cap) { return open * 10 >= cap * 9; }
// How many idle connections shedding closes to bring `open` down to 80% of the cap.
inline std::size_t to_shed(std::size_t open, std::size_t cap) {
    const std::size_t low = cap * 8 / 10;
    return open > low ? open - low : 0;
}

// Answers a connection past the cap with a 503 (Retry-After: 1) and closes it, without waiting.
void refuse(boost::asio::ip::tcp::socket& socket);

// Accept failures (out of file descriptors, the network): counted, and logged at most once a
// second with how many there were since the last line.
class AcceptErrors {
public:
    explicit AcceptErrors(std::atomic<std::uint64_t>& total) : total_(total) {}
    void failed(const boost::system::error_code& ec, SteadyTime now);

private:
    std::atomic<std::uint64_t>& total_;
    SteadyTime last_log_{};
    std::uint64_t unlogged_ = 0;
};

}  // namespace switchyard::server::overload
