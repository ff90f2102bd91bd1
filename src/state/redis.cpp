#include "state/redis.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <boost/container/small_vector.hpp>

#include "core/await.hpp"

namespace switchyard::state {

namespace {

Reply convert(const redisReply& r) {
    Reply out;
    switch (r.type) {
        case REDIS_REPLY_STRING: out.type = Reply::Type::string; break;
        case REDIS_REPLY_ARRAY: out.type = Reply::Type::array; break;
        case REDIS_REPLY_INTEGER: out.type = Reply::Type::integer; break;
        case REDIS_REPLY_STATUS: out.type = Reply::Type::status; break;
        case REDIS_REPLY_ERROR: out.type = Reply::Type::error; break;
        default: out.type = Reply::Type::nil; break;
    }
    if (r.type == REDIS_REPLY_INTEGER) out.integer = r.integer;
    if ((r.type == REDIS_REPLY_STRING || r.type == REDIS_REPLY_STATUS || r.type == REDIS_REPLY_ERROR) && r.str) {
        out.text.assign(r.str, r.len);
    }
    if (r.type == REDIS_REPLY_ARRAY) {
        out.elements.reserve(r.elements);
        for (std::size_t i = 0; i < r.elements; ++i) out.elements.push_back(convert(*r.element[i]));
    }
    return out;
}

}  // namespace

// The socket of one hiredis context as Asio sees it. Waits in flight hold it, so it outlives the
// context; `alive` turns false when hiredis lets the socket go.
struct Connection::Watch {
    Watch(asio::io_context& io, int fd, redisAsyncContext* ac) : descriptor(io, fd), context(ac) {}
    asio::posix::stream_descriptor descriptor;
    redisAsyncContext* context;
    bool alive = true;
    bool want_read = false;
    bool want_write = false;
    bool reading = false;  // an async_wait for reading is in flight
    bool writing = false;
};

// One call waiting for its reply (or its deadline).
struct Connection::Pending {
    explicit Pending(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    bool done = false;
    std::optional<Reply> reply;
};

struct ConnectionHooks {
    using Watch = Connection::Watch;
    using Pending = Connection::Pending;

    static void arm_read(const std::shared_ptr<Watch>& w) {
        if (w->reading || !w->alive || !w->want_read) return;
        w->reading = true;
        w->descriptor.async_wait(asio::posix::descriptor_base::wait_read, [w](const boost::system::error_code& ec) {
            w->reading = false;
            if (ec || !w->alive || !w->want_read) return;
            redisAsyncHandleRead(w->context);
            arm_read(w);
        });
    }
    static void arm_write(const std::shared_ptr<Watch>& w) {
        if (w->writing || !w->alive || !w->want_write) return;
        w->writing = true;
        w->descriptor.async_wait(asio::posix::descriptor_base::wait_write, [w](const boost::system::error_code& ec) {
            w->writing = false;
            if (ec || !w->alive || !w->want_write) return;
            redisAsyncHandleWrite(w->context);
            arm_write(w);
        });
    }
    static Connection& owner(void* privdata) { return *static_cast<Connection*>(privdata); }
    static void add_read(void* privdata) {
        if (auto& w = owner(privdata).watch_) {
            w->want_read = true;
            arm_read(w);
        }
    }
    static void del_read(void* privdata) {
        if (auto& w = owner(privdata).watch_) w->want_read = false;
    }
    static void add_write(void* privdata) {
        if (auto& w = owner(privdata).watch_) {
            w->want_write = true;
            arm_write(w);
        }
    }
    static void del_write(void* privdata) {
        if (auto& w = owner(privdata).watch_) w->want_write = false;
    }
    // hiredis is about to close the socket and free the context.
    static void cleanup(void* privdata) {
        Connection& c = owner(privdata);
        if (auto w = std::move(c.watch_)) {
            w->alive = false;
            w->descriptor.release();  // cancels the waits; hiredis closes the descriptor itself
        }
    }
    static void on_connect(const redisAsyncContext* ac, int status) {
        Connection& c = *static_cast<Connection*>(ac->data);
        if (ac != c.context_) return;
        c.on_connected(status == REDIS_OK);
    }
    static void on_disconnect(const redisAsyncContext* ac, int /*status*/) {
        Connection& c = *static_cast<Connection*>(ac->data);
        if (ac != c.context_) return;  // dropped by us: already handled
        c.on_disconnected();
    }
    static void on_reply(redisAsyncContext* /*ac*/, void* reply, void* privdata) {
        const std::unique_ptr<std::shared_ptr<Pending>> holder(static_cast<std::shared_ptr<Pending>*>(privdata));
        Pending& p = **holder;
        if (p.done) return;  // its caller gave up
        p.done = true;
        if (reply != nullptr) p.reply = convert(*static_cast<redisReply*>(reply));
        p.timer.cancel();
    }
    static void on_ignored_reply(redisAsyncContext* ac, void* reply, void* /*privdata*/) {
        auto* r = static_cast<redisReply*>(reply);
        if (r != nullptr && r->type == REDIS_REPLY_ERROR) {
            Connection& c = *static_cast<Connection*>(ac->data);
            c.stats_.errors.fetch_add(1, std::memory_order_relaxed);
            spdlog::debug("state: Redis refused a command: {}", std::string_view(r->str, r->len));
        }
    }
    static void on_setup_reply(redisAsyncContext* ac, void* reply, void* privdata) {
        auto* r = static_cast<redisReply*>(reply);
        if (r == nullptr || r->type != REDIS_REPLY_ERROR) return;
        Connection& c = *static_cast<Connection*>(ac->data);
        if (ac != c.context_) return;
        c.stats_.errors.fetch_add(1, std::memory_order_relaxed);
        spdlog::error("state: Redis refused {} on connecting: {}", static_cast<const char*>(privdata),
                      std::string_view(r->str, r->len));
        c.drop("setup refused");
    }
};

Connection::Connection(asio::io_context& io, config::RedisAddress address, config::Duration timeout,
                       ConnectionStats& stats, std::vector<std::vector<std::string>> setup)
    : io_(io),
      address_(std::move(address)),
      timeout_(timeout),
      stats_(stats),
      setup_(std::move(setup)),
      retry_timer_(io),
      connect_timer_(io),
      resolver_(io) {}

Connection::~Connection() {
    *alive_ = false;
    stop();
}

void Connection::start() {
    if (state_ == State::idle) connect();
}

void Connection::stop() {
    state_ = State::stopped;
    retry_timer_.cancel();
    connect_timer_.cancel();
    resolver_.cancel();
    release_context();
}

void Connection::release_context() {
    if (context_ == nullptr) return;
    redisAsyncContext* ac = context_;
    context_ = nullptr;
    redisAsyncFree(ac);  // fails every pending call (no reply), then the cleanup hook
}

void Connection::connect() {
    if (state_ == State::stopped) return;
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address(address_.host, ec);
    if (!ec) {
        connect_to(ip.to_string());
        return;
    }
    // A host name: resolved off the thread (Asio's resolver), never with a blocking lookup here.
    state_ = State::resolving;
    resolver_.async_resolve(
        address_.host, std::to_string(address_.port),
        [this, alive = alive_](const boost::system::error_code& error, const asio::ip::tcp::resolver::results_type& results) {
            if (!*alive || state_ != State::resolving) return;
            if (error || results.empty()) {
                spdlog::debug("state: cannot resolve the Redis host: {}", error ? error.message() : "no address");
                state_ = State::waiting;
                schedule_reconnect();
                return;
            }
            connect_to(results.begin()->endpoint().address().to_string());
        });
}

void Connection::connect_to(const std::string& ip) {
    redisAsyncContext* ac = redisAsyncConnect(ip.c_str(), address_.port);
    if (ac == nullptr || ac->err) {
        spdlog::debug("state: cannot connect to Redis: {}", ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        state_ = State::waiting;
        schedule_reconnect();
        return;
    }
    context_ = ac;
    ac->data = this;
    watch_ = std::make_shared<Watch>(io_, ac->c.fd, ac);
    ac->ev.data = this;
    ac->ev.addRead = &ConnectionHooks::add_read;
    ac->ev.delRead = &ConnectionHooks::del_read;
    ac->ev.addWrite = &ConnectionHooks::add_write;
    ac->ev.delWrite = &ConnectionHooks::del_write;
    ac->ev.cleanup = &ConnectionHooks::cleanup;
    state_ = State::connecting;
    redisAsyncSetConnectCallback(ac, &ConnectionHooks::on_connect);
    redisAsyncSetDisconnectCallback(ac, &ConnectionHooks::on_disconnect);
    // Queued now, written first once connected: nothing else can come before them.
    if (!address_.password.empty()) {
        static char kAuth[] = "AUTH";
        if (address_.user.empty()) {
            redisAsyncCommand(ac, &ConnectionHooks::on_setup_reply, kAuth, "AUTH %b", address_.password.data(),
                              address_.password.size());
        } else {
            redisAsyncCommand(ac, &ConnectionHooks::on_setup_reply, kAuth, "AUTH %b %b", address_.user.data(),
                              address_.user.size(), address_.password.data(), address_.password.size());
        }
    }
    if (address_.db != 0) {
        static char kSelect[] = "SELECT";
        redisAsyncCommand(ac, &ConnectionHooks::on_setup_reply, kSelect, "SELECT %u", address_.db);
    }
    for (const auto& command : setup_) {
        static char kSetup[] = "a setup command";
        boost::container::small_vector<const char*, 8> argv;
        boost::container::small_vector<std::size_t, 8> lengths;
        for (const auto& arg : command) {
            argv.push_back(arg.data());
            lengths.push_back(arg.size());
        }
        redisAsyncCommandArgv(ac, &ConnectionHooks::on_setup_reply, kSetup, static_cast<int>(argv.size()), argv.data(),
                              lengths.data());
    }
    connect_timer_.expires_after(std::max<config::Duration>(timeout_ * 10, std::chrono::seconds(1)));
    connect_timer_.async_wait([this, alive = alive_](const boost::system::error_code& error) {
        if (error || !*alive || state_ != State::connecting) return;
        drop("connect timed out");
    });
}

void Connection::on_connected(bool ok) {
    connect_timer_.cancel();
    if (ok) {
        state_ = State::connected;
        backoff_ = std::chrono::milliseconds(50);
        stats_.connects.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    // hiredis frees the context after this callback.
    spdlog::debug("state: cannot connect to Redis: {}", context_ ? context_->errstr : "");
    context_ = nullptr;
    state_ = State::waiting;
    schedule_reconnect();
}

void Connection::on_disconnected() {
    // hiredis frees the context after this callback.
    context_ = nullptr;
    stats_.disconnects.fetch_add(1, std::memory_order_relaxed);
    if (state_ == State::stopped) return;
    state_ = State::waiting;
    schedule_reconnect();
}

void Connection::drop(std::string_view why) {
    if (context_ == nullptr) return;
    spdlog::debug("state: dropping the Redis connection: {}", why);
    if (state_ == State::connected) stats_.disconnects.fetch_add(1, std::memory_order_relaxed);
    state_ = State::waiting;
    release_context();
    schedule_reconnect();
}

void Connection::schedule_reconnect() {
    if (state_ == State::stopped) return;
    retry_timer_.expires_after(backoff_);
    backoff_ = std::min<std::chrono::milliseconds>(backoff_ * 2, std::chrono::seconds(2));
    retry_timer_.async_wait([this, alive = alive_](const boost::system::error_code& error) {
        if (error || !*alive || state_ != State::waiting) return;
        connect();
    });
}

namespace {

bool issue(redisAsyncContext* ac, std::span<const std::string_view> argv, redisCallbackFn* fn, void* privdata) {
    boost::container::small_vector<const char*, 24> args;
    boost::container::small_vector<std::size_t, 24> lengths;
    for (const auto& arg : argv) {
        args.push_back(arg.data());
        lengths.push_back(arg.size());
    }
    return redisAsyncCommandArgv(ac, fn, privdata, static_cast<int>(args.size()), args.data(), lengths.data()) ==
           REDIS_OK;
}

}  // namespace

asio::awaitable<Result> Connection::call(std::span<const std::string_view> argv) {
    stats_.calls.fetch_add(1, std::memory_order_relaxed);
    if (state_ != State::connected) {
        stats_.errors.fetch_add(1, std::memory_order_relaxed);
        co_return Result{std::nullopt, "not connected"};
    }
    auto pending = std::make_shared<Pending>(io_);
    pending->timer.expires_after(timeout_);
    auto* holder = new std::shared_ptr<Pending>(pending);
    if (!issue(context_, argv, &ConnectionHooks::on_reply, holder)) {
        delete holder;
        stats_.errors.fetch_add(1, std::memory_order_relaxed);
        co_return Result{std::nullopt, "the connection is closing"};
    }
    co_await pending->timer.async_wait(await_tuple);
    if (!pending->done) {
        pending->done = true;
        stats_.timeouts.fetch_add(1, std::memory_order_relaxed);
        // A stalled connection: drop it, so the calls behind this one fail now rather than each
        // at its own deadline, and make a fresh one.
        drop("a reply took longer than the timeout");
        co_return Result{std::nullopt, "no reply within " + std::to_string(timeout_.count()) + " ms"};
    }
    if (!pending->reply) {
        stats_.errors.fetch_add(1, std::memory_order_relaxed);
        co_return Result{std::nullopt, "the connection was lost"};
    }
    if (pending->reply->is_error()) stats_.errors.fetch_add(1, std::memory_order_relaxed);
    co_return Result{std::move(pending->reply), {}};
}

bool Connection::send(std::span<const std::string_view> argv) {
    stats_.calls.fetch_add(1, std::memory_order_relaxed);
    if (state_ != State::connected || !issue(context_, argv, &ConnectionHooks::on_ignored_reply, nullptr)) {
        stats_.errors.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    return true;
}

}  // namespace switchyard::state
