// Stage "read" for one caller connection: reads HTTP/1.1 requests with limits on header size,
// header count, body size and read time; answers the gateway's own endpoints; runs model requests
// through the pipeline's stages (proxy(): authenticate, parse, route, admit, forward, account).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <memory>
#include <boost/beast/http.hpp>

#include "core/clock.hpp"
#include "account/account.hpp"
#include "admit/admit.hpp"
#include "core/await.hpp"
#include "core/request_id.hpp"
#include "server/overload.hpp"
#include "core/text.hpp"
#include "http/read.hpp"
#include "http/wire.hpp"
#include "console/console.hpp"
#include "server/admin.hpp"
#include "server/metrics_page.hpp"
#include "server/runtime.hpp"

namespace switchyard::server {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

enum class Route {
    healthz, readyz, models, model, metrics,
    chat, completions, embeddings, responses, messages, count_tokens, input_tokens,  // model requests
    unknown
};

// The model requests, by their route (POST only).
std::optional<parse::Endpoint> endpoint_of(Route route) {
    switch (route) {
        case Route::chat: return parse::Endpoint::chat_completions;
        case Route::completions: return parse::Endpoint::completions;
        case Route::embeddings: return parse::Endpoint::embeddings;
        case Route::responses: return parse::Endpoint::responses;
        case Route::messages: return parse::Endpoint::messages;
        case Route::count_tokens: return parse::Endpoint::count_tokens;
        case Route::input_tokens: return parse::Endpoint::input_tokens;
        default: return std::nullopt;
    }
}

constexpr std::string_view kModelPrefix = "/v1/models/";

// The request's path, without its query string; of an absolute-form target
// ("http://host/v1/models", which RFC 9112 section 3.2.2 has servers accept), its path.
std::string_view path_of(const wire::Request& request) {
    std::string_view path = request.target();
    if (!path.starts_with('/')) {
        const auto scheme = path.find("://");
        if (scheme != std::string_view::npos) {
            const auto slash = path.find('/', scheme + 3);
            path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
        }
    }
    if (const auto query = path.find('?'); query != std::string_view::npos) path = path.substr(0, query);
    return path;
}

// `text` with its %XX escapes decoded (a model's name in a path: "meta-llama%2FLlama-3").
std::string percent_decoded(std::string_view text) {
    const auto hex = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

Route route_of(std::string_view path) {
    if (path == "/v1/chat/completions") return Route::chat;
    if (path == "/v1/completions") return Route::completions;
    if (path == "/v1/embeddings") return Route::embeddings;
    if (path == "/v1/responses") return Route::responses;
    if (path == "/v1/messages") return Route::messages;  // Claude Code adds ?beta=true: the query is not the path
    if (path == "/v1/messages/count_tokens") return Route::count_tokens;
    if (path == "/v1/responses/input_tokens") return Route::input_tokens;
    if (path == "/v1/models") return Route::models;
    if (path.size() > kModelPrefix.size() && path.starts_with(kModelPrefix)) return Route::model;
    if (path == "/healthz") return Route::healthz;
    if (path == "/metrics") return Route::metrics;
    if (path == "/readyz") return Route::readyz;
    return Route::unknown;
}

bool iequals_expect_continue(std::string_view value) { return iequals(value, "100-continue"); }

// The caller's own deadline (x-switchyard-timeout: less time than the upstreams' configured
// total), or none (max).
std::variant<SteadyTime, ApiError> caller_deadline(std::string_view asked) {
    if (asked.empty()) return SteadyTime::max();
    const auto timeout = config::parse_duration(asked);
    if (!timeout || timeout->count() <= 0) {
        return ApiError::invalid_request(
            "x-switchyard-timeout must be a positive duration such as 30s or 1500ms, got '" + std::string(asked) + "'",
            std::nullopt, "invalid_timeout");
    }
    return std::chrono::steady_clock::now() + *timeout;
}

// RAII count of requests in flight, for graceful shutdown.
class InFlight {
public:
    explicit InFlight(std::atomic<std::size_t>& count) : count_(count) {
        count_.fetch_add(1, std::memory_order_relaxed);
    }
    ~InFlight() { count_.fetch_sub(1, std::memory_order_relaxed); }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

private:
    std::atomic<std::size_t>& count_;
};

}  // namespace

// Keeps a Responses answer, with the conversation it ends (the request's input, previous turns
// included), for later previous_response_ids: told before the answer's last bytes go, so that the
// caller's next request finds it.
class ConversationKeeper final : public forward::AnswerSink {
public:
    // `database`: also written to the ledger's database, kept for `ttl` (null: memory only).
    ConversationKeeper(conversation::Store* store, ledger::Ledger* database, std::chrono::seconds ttl,
                       std::string_view body)
        : store_(store), database_(database), ttl_(ttl), body_(body) {}
    void answered(std::string_view answer) override;

private:
    conversation::Store* store_;
    ledger::Ledger* database_;
    std::chrono::seconds ttl_;
    std::string_view body_;
};

class ClientConnection {
public:
    ClientConnection(Worker& worker, tcp::socket socket)
        : worker_(worker), local_(worker.local), socket_(std::move(socket)) {
        worker_.connections.insert(this);
        worker_.shared.open_connections.fetch_add(1, std::memory_order_relaxed);
    }
    ~ClientConnection() {
        worker_.connections.erase(this);
        worker_.shared.open_connections.fetch_sub(1, std::memory_order_relaxed);
    }
    ClientConnection(const ClientConnection&) = delete;
    ClientConnection& operator=(const ClientConnection&) = delete;

    asio::awaitable<void> run();

    // Draining: a connection waiting for a request ends. Its read is cancelled, not its socket
    // closed: a read that has completed but whose coroutine has not run yet holds a request, which
    // is then served (with Connection: close) instead of forwarded and its answer dropped with the
    // socket. A read still waiting ends with operation_aborted, and the connection closes itself.
    void close_if_idle() {
        if (!idle_) return;
        boost::system::error_code ignored;
        socket_.cancel(ignored);
    }
    // Since when it has been waiting for a request with nothing read (max: it is not).
    SteadyTime waiting_since() const { return waiting_since_; }

    // Called by the worker's sweep: a phase past its deadline has its socket operations
    // cancelled (the waiting coroutine then answers 408, or closes the connection).
    void check_deadline(SteadyTime now) {
        // A request being forwarded: its hang-up watch and upstream deadlines.
        if (watch_) forward::sweep(socket_, watch_, now);
        if (now < deadline_ && now < write_deadline_) return;
        if (now >= deadline_ && reading_) read_timed_out_ = true;
        deadline_ = write_deadline_ = SteadyTime::max();
        boost::system::error_code ignored;
        socket_.cancel(ignored);
    }

private:
    // Reads and answers one request; false when the connection must close afterwards (so must it
    // when keep_alive_ is false after the request). Not a coroutine: a request that arrived whole
    // with the keep-alive read (the usual case) goes to handle() at once, without a frame of its own.
    asio::awaitable<bool> serve_one();
    // The rest of serve_one() for a request that did not arrive whole or is malformed: reads what is
    // missing (within the request read timeout) and answers 408, 413, 431 or 400, or handles it.
    // `fed` is what feeding the parser the buffered bytes ended with.
    asio::awaitable<bool> read_rest(boost::system::error_code fed);
    // The current request's header fields (read_rest() answers a count over the limit).
    std::size_t header_count() const;
    bool too_many_headers() const { return header_count() > limits().max_headers; }
    // What read_rest() answers (nullopt: nothing, or nothing to answer: see its error code):
    // for a read of the head that failed, a head it cannot take, a read of the body that failed.
    std::optional<ApiError> head_read_error(boost::system::error_code ec) const;
    std::optional<ApiError> head_error() const;
    std::optional<ApiError> body_read_error(boost::system::error_code ec) const;
    ApiError too_large() const;                      // 413
    ApiError timed_out(std::string_view what) const;  // 408
    // The request is read whole: whether the connection stays open after it, then handle().
    asio::awaitable<bool> handle_read();
    asio::awaitable<bool> handle(wire::Request& request, bool keep_alive);
    // The gateway's own endpoints (health, models, metrics, admin), 404 and 405.
    asio::awaitable<bool> answer_locally(wire::Request& request, RequestId request_id, bool keep_alive);
    // A model request: authenticate -> parse -> route -> admit -> forward -> account.
    asio::awaitable<bool> proxy(parse::Endpoint endpoint, wire::Request& request);
    // Accounts for a request a stage ended with `error` (giving back what `admission` took) and
    // answers it.
    asio::awaitable<bool> refuse(account::Trace& trace, const ApiError& error,
                                 std::optional<metrics::Refusal> why = std::nullopt,
                                 admit::Admission* admission = nullptr);
    // A model served by engines: starts a stopped one and waits until it is ready (or fails).
    asio::awaitable<std::optional<ApiError>> wait_for_engines(account::Trace& trace, const Generation& generation,
                                                              const config::Model& model, SteadyTime deadline);
    account::Sinks account_sinks() const;
    admit::Context admit_context(const Generation& generation, const config::Model& model) const;
    forward::CallerSide caller_side(account::Trace& trace, forward::UsageSink* usage_sink,
                                    forward::AnswerSink* answer_sink = nullptr);
    // The Responses API's previous_response_id: the stored conversation goes before the request's
    // input (and the body is parsed again), or a 404 when the gateway keeps no such answer.
    // One this instance does not hold in memory (it restarted, or another instance answered) is
    // looked up in the ledger's database, off the I/O thread (the answer that continues it is then
    // kept here as any other).
    asio::awaitable<std::optional<ApiError>> continue_conversation(parse::Endpoint endpoint, std::string& body,
                                                                   std::variant<parse::RequestFacts, ApiError>& parsed);
    // The ledger when kept conversations are written to its database; null otherwise.
    ledger::Ledger* conversation_database() const;
    // A Responses answer is kept for later previous_response_ids (unless the request said store:false).
    bool keeps_answer(parse::Endpoint endpoint, const parse::RequestFacts& facts) const;
    asio::awaitable<bool> respond(const wire::LocalResponse& response, std::string_view request_id, bool keep_alive);
    // Answers with `error` and closes: the rest of the stream cannot be trusted.
    asio::awaitable<bool> reject(ApiError error) {
        const wire::LocalResponse response = wire::error_response(error);
        const RequestId request_id = new_request_id();
        co_await respond(response, request_id, false);
        co_return false;
    }
    asio::awaitable<bool> respond_error(const ApiError& error, std::string_view request_id, bool keep_alive,
                                        ErrorShape shape = ErrorShape::openai) {
        const wire::LocalResponse response = wire::error_response(error, {}, shape);
        co_return co_await respond(response, request_id, keep_alive);
    }

    // The server settings of the generation this connection's current request runs with.
    const config::Server& limits() const { return local_->generation->config.server; }
    // How long the connection may wait for its next request: keepalive_timeout, or
    // first_byte_timeout for a new connection while the gateway is near its connection cap.
    config::Duration wait_for_request(bool first) const {
        const std::size_t cap = overload::connection_cap(limits(), worker_.shared.fd_limit);
        if (first && overload::near_cap(worker_.shared.open_connections.load(std::memory_order_relaxed), cap)) {
            return std::min(limits().first_byte_timeout, limits().keepalive_timeout);
        }
        return limits().keepalive_timeout;
    }

    Worker& worker_;
    // The generation the current request started with (a reload swaps the worker's, not this).
    std::shared_ptr<Local> local_;
    tcp::socket socket_;  // plain socket operations: deadlines are swept, not armed per operation
    beast::flat_buffer buffer_;
    std::string head_;
    RequestId request_id_;       // the current request's
    std::string extra_headers_;  // x-ratelimit-* lines for the current response
    std::string capture_;        // a non-streaming body kept to read its usage
    // The body relay buffer, made for the connection's first forwarded request: a connection that
    // only waits (idle keep-alive, a flood of sockets that say nothing) does not hold it.
    static constexpr std::size_t kRelaySize = 16 * 1024;
    std::unique_ptr<char[]> relay_;
    // What serving a request needs (a few KiB: the head arena, the request's parser, the forwarding
    // scratch), made for the connection's first request, as relay_ is for its first forwarded one.
    struct Serving {
        wire::HeadArena head_arena;  // the current request's head and its upstream response's
        std::optional<wire::RequestParser> parser;  // the current request's (its head is in head_arena)
        forward::Scratch scratch;
    };
    std::unique_ptr<Serving> serving_;
    wire::GatewayHeaders named_;                 // what the gateway reads of its head, once it is read
    bool keep_alive_ = false;  // the current request lets the connection take another
    bool idle_ = true;
    // Deadlines, enforced by the worker's sweep (check_deadline) rather than a timer per
    // operation: the keep-alive wait or the request's reading (`reading_`: a 408 is owed), and
    // a write to the caller. Past one, the socket's operations are cancelled rather than the
    // socket closed, so the caller still gets its 408.
    SteadyTime deadline_ = SteadyTime::max();
    SteadyTime write_deadline_ = SteadyTime::max();
    std::shared_ptr<forward::Watch> watch_;  // the request being forwarded (see forward::CallerSide)
    bool reading_ = false;
    bool read_timed_out_ = false;
    SteadyTime waiting_since_ = SteadyTime::max();  // see waiting_since()
    bool head_only_ = false;  // the current request is a HEAD: its answer has no body
    ErrorShape shape_ = ErrorShape::openai;  // the current model request's API's error shape
};

void close_if_idle(ClientConnection& connection) { connection.close_if_idle(); }

std::size_t shed_idle(Worker& worker, std::size_t count) {
    if (count == 0 || worker.waiting_connections == 0) return 0;
    std::vector<ClientConnection*> waiting;
    waiting.reserve(worker.waiting_connections);
    for (ClientConnection* connection : worker.connections) {
        if (connection->waiting_since() != SteadyTime::max()) waiting.push_back(connection);
    }
    count = std::min(count, waiting.size());
    std::partial_sort(waiting.begin(), waiting.begin() + static_cast<std::ptrdiff_t>(count), waiting.end(),
                      [](const ClientConnection* a, const ClientConnection* b) {
                          return a->waiting_since() < b->waiting_since();
                      });
    for (std::size_t i = 0; i < count; ++i) waiting[i]->close_if_idle();
    return count;
}

void check_deadline(ClientConnection& connection, SteadyTime now) { connection.check_deadline(now); }

asio::awaitable<void> ClientConnection::run() {
    bool first = true;
    while (!worker_.shared.draining.load(std::memory_order_relaxed)) {
        idle_ = true;
        local_ = worker_.local;  // between requests: take up a reloaded config
        if (buffer_.size() == 0) {
            const SteadyTime now = std::chrono::steady_clock::now();
            deadline_ = now + wait_for_request(first);
            waiting_since_ = now;
            ++worker_.waiting_connections;
            boost::system::error_code ec;
            std::size_t n = 0;
            if (first) {
                // A new connection waits for its first byte holding no buffer: a flood of sockets
                // that say nothing costs their coroutine frames alone.
                std::tie(ec) = co_await socket_.async_wait(tcp::socket::wait_read, await_tuple);
            }
            if (!ec) std::tie(ec, n) = co_await socket_.async_read_some(buffer_.prepare(4096), await_tuple);
            --worker_.waiting_connections;
            waiting_since_ = SteadyTime::max();
            deadline_ = SteadyTime::max();
            if (ec) break;
            buffer_.commit(n);
        }
        idle_ = false;
        first = false;
        InFlight in_flight(worker_.shared.in_flight);
        if (!co_await serve_one() || !keep_alive_) break;
    }
    idle_ = false;
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    socket_.close(ignored);
}

asio::awaitable<bool> ClientConnection::serve_one() {
    const auto& server = limits();
    // Nothing from the previous request is alive any more; its body's storage is kept for this one.
    if (!serving_) serving_ = std::make_unique<Serving>();
    std::optional<wire::RequestParser>& parser = serving_->parser;
    std::string body = parser ? std::move(parser->get().body()) : std::string();
    body.clear();
    parser.reset();
    serving_->head_arena.reset();
    parser.emplace(std::piecewise_construct, std::make_tuple(),
                   std::make_tuple(wire::ArenaAllocator<char>(serving_->head_arena)));
    parser->get().body() = std::move(body);
    parser->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(server.max_header_bytes, UINT32_MAX)));
    parser->body_limit(server.max_body_bytes);
    read_timed_out_ = false;
    keep_alive_ = false;
    head_only_ = false;
    // Usually the whole request is in the buffer already (the keep-alive wait read it).
    const boost::system::error_code fed = wire::feed(buffer_, *parser, wire::ReadUntil::message);
    named_ = parser->is_header_done() ? wire::gateway_headers(parser->get().base()) : wire::GatewayHeaders{};
    if (fed || too_many_headers() || named_.transfer_encoding.present()) return read_rest(fed);
    return handle_read();
}

asio::awaitable<bool> ClientConnection::handle_read() {
    // (The parser's flags say what request.keep_alive() would find by looking up Connection.)
    // An HTTP/1.0 request with a Transfer-Encoding is served, but its framing cannot be trusted
    // for another one (RFC 9112, section 6.1).
    const wire::RequestParser& parser = *serving_->parser;
    keep_alive_ = parser.keep_alive() && !worker_.shared.draining.load(std::memory_order_relaxed) &&
                  !(named_.transfer_encoding.present() && parser.get().version() < 11);
    return handle(serving_->parser->get(), keep_alive_);
}

std::size_t ClientConnection::header_count() const { return named_.count; }

asio::awaitable<bool> ClientConnection::read_rest(boost::system::error_code fed) {
    wire::RequestParser& parser = *serving_->parser;
    reading_ = true;
    deadline_ = std::chrono::steady_clock::now() + limits().request_read_timeout;
    struct StopDeadline {
        ClientConnection& connection;
        ~StopDeadline() {
            connection.deadline_ = SteadyTime::max();
            connection.reading_ = false;
        }
    } stop_deadline{*this};
    if (!parser.is_header_done()) {
        boost::system::error_code head_ec = fed;
        if (head_ec == http::error::need_more) {
            head_ec = co_await wire::async_read_into(socket_, buffer_, parser, wire::ReadUntil::header);
        }
        if (auto error = head_read_error(head_ec)) co_return co_await reject(std::move(*error));
        if (head_ec) co_return false;  // the caller left, or its connection failed
        fed = http::error::need_more;  // the head is read; the body may not be
    }
    named_ = wire::gateway_headers(parser.get().base());
    if (auto error = head_error()) co_return co_await reject(std::move(*error));
    if (!parser.is_done()) {
        boost::system::error_code body_ec = fed;
        if (body_ec == http::error::need_more) {
            if (iequals_expect_continue(parser.get()[http::field::expect])) {
                static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
                auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(kContinue), await_tuple);
                if (ec) co_return false;
            }
            body_ec = co_await wire::async_read_into(socket_, buffer_, parser, wire::ReadUntil::message);
        }
        if (auto error = body_read_error(body_ec)) co_return co_await reject(std::move(*error));
        if (body_ec) co_return false;  // cut short by the caller closing, or the connection failing
    }
    deadline_ = SteadyTime::max();
    reading_ = false;
    co_return co_await handle_read();
}

ApiError ClientConnection::too_large() const {
    return ApiError{413, "the request body exceeds the limit of " + std::to_string(limits().max_body_bytes) + " bytes",
                    "invalid_request_error", std::nullopt, "body_too_large"};
}

ApiError ClientConnection::timed_out(std::string_view what) const {
    return ApiError{408,
                    std::string(what) + " was not received within " +
                        std::to_string(limits().request_read_timeout.count()) + " ms",
                    "invalid_request_error", std::nullopt, "request_timeout"};
}

std::optional<ApiError> ClientConnection::head_read_error(boost::system::error_code ec) const {
    if (ec == http::error::header_limit) {
        return ApiError{431,
                        "request headers exceed the limit of " + std::to_string(limits().max_header_bytes) + " bytes",
                        "invalid_request_error", std::nullopt, "headers_too_large"};
    }
    if (ec == http::error::body_limit) return too_large();
    if (read_timed_out_) return timed_out("the request");
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) {
        return std::nullopt;
    }
    if (ec) return ApiError::invalid_request("malformed HTTP request: " + ec.message(), std::nullopt, "bad_http");
    return std::nullopt;
}

std::optional<ApiError> ClientConnection::head_error() const {
    if (too_many_headers()) {
        return ApiError{431,
                        "the request has " + std::to_string(header_count()) + " headers; the limit is " +
                            std::to_string(limits().max_headers),
                        "invalid_request_error", std::nullopt, "too_many_headers"};
    }
    switch (named_.transfer_encoding.verdict()) {
        case wire::TransferEncoding::Verdict::faulty:
            return ApiError::invalid_request(
                "the request's Transfer-Encoding must end with chunked, applied once; the length of its body "
                "cannot be determined",
                std::nullopt, "bad_transfer_encoding");
        case wire::TransferEncoding::Verdict::unsupported:
            return ApiError{501,
                            "the transfer coding '" + std::string(named_.transfer_encoding.unsupported().substr(0, 64)) +
                                "' is not supported; send the body as it is, with Content-Length or "
                                "Transfer-Encoding: chunked",
                            "invalid_request_error", std::nullopt, "unsupported_transfer_encoding"};
        default: break;
    }
    if (auto length = serving_->parser->content_length(); length && *length > limits().max_body_bytes) return too_large();
    return std::nullopt;
}

std::optional<ApiError> ClientConnection::body_read_error(boost::system::error_code ec) const {
    if (ec == http::error::body_limit) return too_large();
    if (read_timed_out_) return timed_out("the request body");
    // A body that breaks HTTP's framing (a bad chunk) is answered; one cut short by the caller
    // closing, or by the connection failing, has no one to answer.
    if (ec.category() == http::make_error_code(http::error::bad_chunk).category() &&
        ec != http::error::partial_message && ec != http::error::end_of_stream) {
        return ApiError::invalid_request("malformed HTTP request body: " + ec.message(), std::nullopt, "bad_http");
    }
    return std::nullopt;
}

asio::awaitable<bool> ClientConnection::respond(const wire::LocalResponse& response, std::string_view request_id,
                                                bool keep_alive) {
    const std::string bytes = wire::serialize(response, request_id, keep_alive);
    // The answer to HEAD is the head GET would have had (its Content-Length included), alone.
    const std::string_view out =
        head_only_ ? std::string_view(bytes).substr(0, bytes.find("\r\n\r\n") + 4) : std::string_view(bytes);
    write_deadline_ = std::chrono::steady_clock::now() + limits().request_read_timeout;
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(out), await_tuple);
    write_deadline_ = SteadyTime::max();
    co_return !ec;
}

// Not a coroutine: a model request becomes proxy()'s coroutine at once, without a frame of its own.
asio::awaitable<bool> ClientConnection::handle(wire::Request& request, bool keep_alive) {
    request_id_ = request_id_from(named_.request_id);
    if (request.method() == http::verb::post) {
        if (const auto endpoint = endpoint_of(route_of(path_of(request)))) return proxy(*endpoint, request);
    }
    return answer_locally(request, request_id_, keep_alive);
}

asio::awaitable<bool> ClientConnection::answer_locally(wire::Request& request, RequestId request_id, bool keep_alive) {
    const std::string_view path = path_of(request);
    const Route route = route_of(path);
    // HEAD is GET without the body, as every HTTP server must (RFC 9110, section 9.1).
    const bool is_get = request.method() == http::verb::get || request.method() == http::verb::head;
    head_only_ = request.method() == http::verb::head;
    Shared& shared = worker_.shared;
    Generation& generation = *local_->generation;

    if (console::serves(shared.boot.console, path)) {
        const std::string_view target = request.target();
        const auto mark = target.find('?');
        const console::Request console_request{
            request.method_string(),
            path,
            mark == std::string_view::npos ? std::string_view() : target.substr(mark + 1),
            request.body(),
            request[http::field::cookie],
            request[http::field::if_none_match],
            request[http::field::origin],
            request[http::field::host],
            request["sec-fetch-site"],
            request["x-csrf-token"],
            worker_.state.get()};
        console::Reply reply = co_await console::serve(shared, console_request);
        reply.response.extra_headers = reply.headers;
        co_return co_await respond(reply.response, request_id, keep_alive);
    }
    if (path.starts_with("/admin/")) {
        const std::string_view target = request.target();
        const auto mark = target.find('?');
        const AdminRequest admin_request{request.method_string(), path, request.body(),
                                         request[http::field::authorization],
                                         mark == std::string_view::npos ? std::string_view() : target.substr(mark + 1)};
        const wire::LocalResponse response = co_await admin(shared, admin_request);
        co_return co_await respond(response, request_id, keep_alive);
    }

    switch (route) {
        case Route::metrics: {
            if (!is_get) break;
            wire::LocalResponse response;
            response.body = render_metrics(shared);
            response.content_type = "text/plain; version=0.0.4; charset=utf-8";
            co_return co_await respond(response, request_id, keep_alive);
        }
        case Route::models:
        case Route::model: {
            if (!is_get) break;
            // With keys, as OpenAI's: a key is needed, and the list holds the models it may use.
            // Anthropic's clients (Claude Code's model discovery) send anthropic-version.
            const bool anthropic = !named_.anthropic_version.empty();
            const ErrorShape shape = anthropic ? ErrorShape::anthropic : ErrorShape::openai;
            auto authenticated = auth::authenticate(shared.keys, request[http::field::authorization], named_.api_key);
            if (auto* error = std::get_if<ApiError>(&authenticated)) {
                co_return co_await respond_error(*error, request_id, keep_alive, shape);
            }
            const std::shared_ptr<auth::KeyEntry>& key = std::get<0>(authenticated);
            const route::Router& router = generation.router;
            wire::LocalResponse response;
            if (route == Route::models) {
                response.body = key || anthropic
                                    ? router.models_body(
                                          [&](const config::Model& m) { return !key || key->allows(m.name); }, anthropic)
                                    : router.models_body();
                co_return co_await respond(response, request_id, keep_alive);
            }
            const std::string name = percent_decoded(path.substr(kModelPrefix.size()));
            auto found = router.find(name);
            if (auto* error = std::get_if<ApiError>(&found))
                co_return co_await respond_error(*error, request_id, keep_alive, shape);
            const config::Model& model = *std::get<const config::Model*>(found);
            if (key && !key->allows(model.name)) {
                const ApiError error{403, "this key may not use model '" + model.name + "'", "permission_error",
                                     "model", "model_not_allowed"};
                co_return co_await respond_error(error, request_id, keep_alive, shape);
            }
            response.body = router.model_body(model, anthropic);
            co_return co_await respond(response, request_id, keep_alive);
        }
        case Route::healthz:
        case Route::readyz: {
            if (!is_get) break;
            wire::LocalResponse response;
            if (route == Route::healthz) {
                response.body = R"({"status":"ok"})";
            } else {
                if (shared.draining.load()) {
                    response = wire::error_response(
                        ApiError{503, "the gateway is shutting down", "server_error", std::nullopt, "draining"});
                } else if (!generation.health.any_usable()) {
                    response = wire::error_response(
                        ApiError{503, "no upstream is usable", "server_error", std::nullopt, "no_healthy_upstream"});
                } else {
                    response.body = R"({"status":"ready"})";
                }
            }
            co_return co_await respond(response, request_id, keep_alive);
        }
        case Route::chat:
        case Route::completions:
        case Route::embeddings:
        case Route::responses:
        case Route::messages:
        case Route::count_tokens:
        case Route::input_tokens:
            break;  // POST went to proxy() (see handle()): any other method is not allowed
        case Route::unknown: {
            ApiError error = ApiError::not_found("Invalid URL (" + std::string(request.method_string()) + " " +
                                                     std::string(path) + "); see GET /v1/models for what is served",
                                                 "unknown_url");
            co_return co_await respond_error(error, request_id, keep_alive);
        }
    }
    const bool post_route = endpoint_of(route).has_value();
    ApiError error{405,
                   "Method " + std::string(request.method_string()) + " is not allowed on " + std::string(path) +
                       "; use " + (post_route ? "POST" : "GET"),
                   "invalid_request_error", std::nullopt, "method_not_allowed"};
    wire::LocalResponse response = wire::error_response(error);
    response.allow = post_route ? "POST" : "GET, HEAD";
    co_return co_await respond(response, request_id, keep_alive);
}

// The request path, one stage a line: authenticate -> parse -> route -> admit -> (engines) ->
// forward and relay -> account. Each stage is one call into its module and gives a value or the
// error the caller gets; a request a stage ends is accounted for by refuse().
asio::awaitable<bool> ClientConnection::proxy(parse::Endpoint endpoint, wire::Request& request) {
    const std::shared_ptr<Local> local = local_;  // kept until the request is accounted for
    Generation& generation = *local->generation;
    std::string& body = request.body();
    const bool debug = named_.debug || limits().debug;
    shape_ = parse::error_shape(endpoint);
    account::Trace trace(account_sinks(), request_id_, debug);
    extra_headers_.clear();

    auto key = auth::authenticate(worker_.shared.keys, request[http::field::authorization], named_.api_key);
    if (auto* error = std::get_if<ApiError>(&key)) co_return co_await refuse(trace, *error, metrics::Refusal::auth);
    trace.authenticated(std::get<0>(key).get());
    trace.ended(account::Stage::authenticate);

    auto parsed = parse::parse_request(endpoint, body, worker_.json);
    if (auto* error = std::get_if<ApiError>(&parsed)) co_return co_await refuse(trace, *error);
    if (auto error = co_await continue_conversation(endpoint, body, parsed)) {
        co_return co_await refuse(trace, *error);
    }
    const auto& facts = std::get<parse::RequestFacts>(parsed);
    trace.parsed(endpoint, body, facts);
    trace.ended(account::Stage::parse);

    auto routed = generation.router.find(facts.model);
    if (auto* error = std::get_if<ApiError>(&routed)) co_return co_await refuse(trace, *error);
    const config::Model& model = *std::get<const config::Model*>(routed);
    trace.routed();
    auto deadline = caller_deadline(named_.timeout);
    if (auto* error = std::get_if<ApiError>(&deadline)) co_return co_await refuse(trace, *error);
    trace.ended(account::Stage::route);

    const double estimated = admit::estimate_tokens(endpoint, body, facts);
    auto admitted = co_await admit::admit(admit_context(generation, model), std::get<0>(key), model, estimated,
                                          extra_headers_);
    if (auto* refused = std::get_if<admit::Refused>(&admitted)) {
        co_return co_await refuse(trace, refused->error, refused->why);
    }
    admit::Admission& admission = std::get<admit::Admission>(admitted);
    trace.ended(account::Stage::admit);

    if (!worker_.shared.engines.empty()) {
        auto engine_error = co_await wait_for_engines(trace, generation, model, std::get<SteadyTime>(deadline));
        if (engine_error) co_return co_await refuse(trace, *engine_error, std::nullopt, &admission);
        trace.ended(account::Stage::engines);
    }

    account::BudgetCharge charge(admission, generation.pricer);
    const config::Key* key_policy = std::get<0>(key) ? &std::get<0>(key)->policy : nullptr;
    const forward::CallerRequest caller{.endpoint = endpoint,
                                        .body = body,
                                        .facts = facts,
                                        .headers = request.base(),
                                        .request_id = request_id_,
                                        .keep_alive = keep_alive_,
                                        .model = &model,
                                        .deadline = std::get<SteadyTime>(deadline),
                                        .account_usage = worker_.shared.accounting(generation),
                                        .estimated_tokens = estimated,
                                        .extra_headers = extra_headers_,
                                        .arrived = trace.arrived(),
                                        .waited_before = trace.waited_so_far(),
                                        .report_overhead = debug,
                                        .local_only = key_policy != nullptr && key_policy->local_only,
                                        .batch = key_policy != nullptr && key_policy->batch,
                                        .key = key_policy};
    const bool estimate = !parse::generates(endpoint) && !forward::counts_natively(generation.config, model, endpoint);
    forward::Outcome outcome;
    if (estimate) {
        outcome = co_await forward::answer_count_estimate(caller, caller_side(trace, nullptr));
    } else {
        ConversationKeeper keeper(worker_.shared.conversations.get(), conversation_database(),
                                  std::chrono::duration_cast<std::chrono::seconds>(limits().responses_store_ttl), body);
        outcome = co_await local->forwarder.run(
            caller, caller_side(trace, admission.charges_budget() ? &charge : nullptr,
                                keeps_answer(endpoint, facts) ? &keeper : nullptr));
    }
    trace.ended(account::Stage::forward);

    trace.served({outcome, generation.config, generation.pricer, model, capture_, admission});
    co_return outcome.caller_reusable;
}

asio::awaitable<bool> ClientConnection::refuse(account::Trace& trace, const ApiError& error,
                                               std::optional<metrics::Refusal> why, admit::Admission* admission) {
    trace.refused(error, why, admission);
    wire::LocalResponse response = wire::error_response(error, {}, shape_);
    response.extra_headers = extra_headers_;
    co_return co_await respond(response, request_id_, keep_alive_);
}

asio::awaitable<std::optional<ApiError>> ClientConnection::wait_for_engines(account::Trace& trace,
                                                                          const Generation& generation,
                                                                          const config::Model& model,
                                                                          SteadyTime deadline) {
    const auto started = std::chrono::steady_clock::now();
    auto engine_error = co_await worker_.shared.engines.wait_ready(model, generation.config.upstreams, deadline);
    trace.waited(std::chrono::steady_clock::now() - started);
    co_return engine_error;
}

account::Sinks ClientConnection::account_sinks() const {
    Shared& shared = worker_.shared;
    return {limits().metrics ? &worker_.metrics : nullptr, shared.ledger.get(), shared.access_log.get()};
}

admit::Context ClientConnection::admit_context(const Generation& generation, const config::Model& model) const {
    const std::size_t index = static_cast<std::size_t>(&model - generation.config.models.data());
    return {worker_.shared.fleet.get(), worker_.state.get(), generation.model_limits[index], system_clock()};
}

forward::CallerSide ClientConnection::caller_side(account::Trace& trace, forward::UsageSink* usage_sink,
                                                 forward::AnswerSink* answer_sink) {
    if (!relay_) relay_ = std::make_unique_for_overwrite<char[]>(kRelaySize);
    return {socket_,        head_,      std::span<char>(relay_.get(), kRelaySize), limits().request_read_timeout,
            write_deadline_, watch_,    capture_,   trace.completion(),
            trace.content_limit(), usage_sink, serving_->head_arena, serving_->scratch,
            worker_.json,   answer_sink};
}

asio::awaitable<std::optional<ApiError>> ClientConnection::continue_conversation(
    parse::Endpoint endpoint, std::string& body, std::variant<parse::RequestFacts, ApiError>& parsed) {
    const std::string previous = std::get<parse::RequestFacts>(parsed).previous_response_id;
    if (previous.empty() || (endpoint != parse::Endpoint::responses && endpoint != parse::Endpoint::input_tokens)) {
        co_return std::nullopt;
    }
    conversation::Store* store = worker_.shared.conversations.get();
    std::optional<std::string> prior = store != nullptr ? store->get(previous) : std::nullopt;
    if (!prior) {
        if (ledger::Ledger* database = conversation_database()) {
            auto found = std::make_shared<std::optional<std::string>>();
            const std::int64_t now_ms = unix_ms();
            std::function<void(ledger::Store&)> load = [found, previous, now_ms](ledger::Store& ledger_store) {
                *found = ledger_store.load_conversation(previous, now_ms);
            };
            const std::exception_ptr failure = co_await database->run(std::move(load));
            if (failure) {
                spdlog::warn("looking up previous_response_id '{}' in the ledger's database failed: {}", previous,
                             ledger::Ledger::what_failed(failure));
                co_return ApiError{503,
                                   "The conversation of previous_response_id could not be looked up: the gateway's "
                                   "database is unavailable. Try again, or send the whole input.",
                                   "server_error", std::string("previous_response_id"), std::string("store_unavailable")};
            }
            prior = std::move(*found);  // (not put in memory: its age there would start again)
        }
    }
    if (!prior) co_return conversation::not_found(previous);
    body = conversation::continue_from(body, *prior);
    parsed = parse::parse_request(endpoint, body, worker_.json);
    if (const auto* error = std::get_if<ApiError>(&parsed)) co_return *error;
    co_return std::nullopt;
}

ledger::Ledger* ClientConnection::conversation_database() const {
    if (worker_.shared.conversations == nullptr || !limits().responses_store_persist) return nullptr;
    return worker_.shared.ledger.get();
}

bool ClientConnection::keeps_answer(parse::Endpoint endpoint, const parse::RequestFacts& facts) const {
    return endpoint == parse::Endpoint::responses && facts.store && worker_.shared.conversations != nullptr;
}

void ConversationKeeper::answered(std::string_view answer) {
    const auto output = conversation::output_of(answer);
    if (store_ == nullptr || !output || output->id.empty()) return;
    const auto input = conversation::input_items(body_);
    std::string items = conversation::conversation(input ? *input : "[]", output->items);
    if (database_ != nullptr) {
        const std::int64_t expires_ms = unix_ms() + std::chrono::duration_cast<std::chrono::milliseconds>(ttl_).count();
        database_->keep_conversation(ledger::StoredConversation{output->id, items, expires_ms});
    }
    store_->put(output->id, std::move(items));
}

asio::awaitable<void> serve_connection(Worker& worker, tcp::socket socket) {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    ClientConnection connection(worker, std::move(socket));
    try {
        co_await connection.run();
    } catch (const std::exception& e) {
        spdlog::error("connection ended by an unexpected error: {}", e.what());
    }
}

}  // namespace switchyard::server
