// A Redis connection for one I/O thread: hiredis' asynchronous API driven by the thread's own
// io_context (the socket is watched with async_wait; hiredis reads and writes it when Asio says
// it is ready), so no call ever blocks the thread. Commands issued before the next write are
// pipelined in one write. Every call has a deadline: past it, or when the connection is lost, the
// caller gets "unavailable" at once and the connection is dropped and made again in the
// background with backoff (50 ms doubling to 2 s). Not thread-safe: use it from its thread only.
#pragma once

#include <boost/asio.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

struct redisAsyncContext;

namespace switchyard::state {

namespace asio = boost::asio;

// A reply, copied out of hiredis.
struct Reply {
    enum class Type { string, array, integer, nil, status, error };
    Type type = Type::nil;
    std::int64_t integer = 0;
    std::string text;  // string, status, error
    std::vector<Reply> elements;

    bool is_error() const { return type == Type::error; }
};

// A call's outcome: the reply, or why Redis could not answer (not connected, deadline passed,
// connection lost). An error reply from Redis is a reply.
struct Result {
    std::optional<Reply> reply;
    std::string unavailable;  // set when there is no reply
    bool ok() const { return reply.has_value(); }
};

// Counters shared by every connection of the process (for /metrics).
struct ConnectionStats {
    std::atomic<std::uint64_t> calls{0};
    std::atomic<std::uint64_t> timeouts{0};      // calls past their deadline
    std::atomic<std::uint64_t> errors{0};        // calls that found no connection or lost it, error replies
    std::atomic<std::uint64_t> connects{0};      // connections made (the first ones included)
    std::atomic<std::uint64_t> disconnects{0};   // connections lost or dropped
};

class Connection {
public:
    // `setup` commands are sent first on every new connection (SCRIPT LOAD ...), after AUTH and
    // SELECT; their replies are checked and logged.
    Connection(asio::io_context& io, config::RedisAddress address, config::Duration timeout, ConnectionStats& stats,
               std::vector<std::vector<std::string>> setup = {});
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    void start();  // connects in the background
    void stop();   // disconnects and stays so

    bool connected() const { return state_ == State::connected; }
    asio::io_context& io() { return io_; }

    // Sends a command and waits for its reply, at most the timeout.
    asio::awaitable<Result> call(std::span<const std::string_view> argv);
    // Sends a command whose reply nobody waits for (an error reply is counted). False when not
    // connected (nothing was sent).
    bool send(std::span<const std::string_view> argv);

private:
    enum class State { idle, resolving, connecting, connected, waiting, stopped };
    struct Watch;
    struct Pending;
    friend struct ConnectionHooks;

    void connect();
    void connect_to(const std::string& ip);
    void on_connected(bool ok);
    void on_disconnected();
    // Drops the connection (all pending calls fail) and schedules a new one.
    void drop(std::string_view why);
    void schedule_reconnect();
    void release_context();

    asio::io_context& io_;
    const config::RedisAddress address_;
    const config::Duration timeout_;
    ConnectionStats& stats_;
    const std::vector<std::vector<std::string>> setup_;
    State state_ = State::idle;
    redisAsyncContext* context_ = nullptr;
    std::shared_ptr<Watch> watch_;
    asio::steady_timer retry_timer_;
    asio::steady_timer connect_timer_;
    asio::ip::tcp::resolver resolver_;
    std::chrono::milliseconds backoff_{50};
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace switchyard::state
