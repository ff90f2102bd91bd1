// Stage "accept/parse" for one caller connection: reads HTTP/1.1 requests with limits on header
// size, header count, body size and read time; answers the gateway's own endpoints; hands model
// requests to parse -> route -> forward.
#include <spdlog/spdlog.h>

#include <array>
#include <boost/beast/http.hpp>

#include "core/await.hpp"
#include "core/request_id.hpp"
#include "usage/usage.hpp"
#include "core/text.hpp"
#include "http/read.hpp"
#include "http/wire.hpp"
#include "server/access_log.hpp"
#include "server/admin.hpp"
#include "server/metrics_page.hpp"
#include "server/runtime.hpp"

namespace switchyard::server {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

enum class Route { healthz, readyz, models, model, metrics, chat, completions, embeddings, unknown };

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
    if (path == "/v1/models") return Route::models;
    if (path.size() > kModelPrefix.size() && path.starts_with(kModelPrefix)) return Route::model;
    if (path == "/healthz") return Route::healthz;
    if (path == "/metrics") return Route::metrics;
    if (path == "/readyz") return Route::readyz;
    return Route::unknown;
}

bool iequals_expect_continue(std::string_view value) { return iequals(value, "100-continue"); }

// A key's (empty `model`) or a model's rate limit refused the request.
ApiError rate_limit_error(std::string_view model, const limit::Refusal& refusal) {
    ApiError error{429,
                   (model.empty() ? std::string("rate limit reached for this key: ")
                                  : "rate limit reached for model '" + std::string(model) + "': ") +
                       std::string(refusal.which) + " per minute; retry in " + limit::reset_text(refusal.retry_after),
                   "rate_limit_error", std::nullopt, "rate_limit_exceeded"};
    error.retry_after =
        std::max<long>(1, static_cast<long>(std::chrono::ceil<std::chrono::seconds>(refusal.retry_after).count()));
    return error;
}

// Fail-closed (`state.on_failure: closed`) while Redis is unreachable.
ApiError state_unavailable_error() {
    ApiError error{503,
                   "the shared rate limit and budget store (Redis) is unavailable and this gateway is configured to "
                   "refuse requests that need it (state.on_failure: closed); retry shortly",
                   "server_error", std::nullopt, "state_unavailable"};
    error.retry_after = 1;
    return error;
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
    // The request is read whole: whether the connection stays open after it, then handle().
    asio::awaitable<bool> handle_read();
    asio::awaitable<bool> handle(wire::Request& request, bool keep_alive);
    // The gateway's own endpoints (health, models, metrics, admin), 404 and 405.
    asio::awaitable<bool> answer_locally(wire::Request& request, RequestId request_id, bool keep_alive);
    // A model request: parse -> authenticate -> admit -> route -> forward -> account.
    asio::awaitable<bool> proxy(parse::Endpoint endpoint, wire::Request& request, const wire::GatewayHeaders& named,
                                RequestId request_id, bool keep_alive);
    asio::awaitable<bool> respond(const wire::LocalResponse& response, std::string_view request_id, bool keep_alive);
    // Answers with `error` and closes: the rest of the stream cannot be trusted.
    asio::awaitable<bool> reject(ApiError error) {
        const wire::LocalResponse response = wire::error_response(error);
        const RequestId request_id = new_request_id();
        co_await respond(response, request_id, false);
        co_return false;
    }
    asio::awaitable<bool> respond_error(const ApiError& error, std::string_view request_id, bool keep_alive) {
        const wire::LocalResponse response = wire::error_response(error);
        co_return co_await respond(response, request_id, keep_alive);
    }

    // The server settings of the generation this connection's current request runs with.
    const config::Server& limits() const { return local_->generation->config.server; }

    Worker& worker_;
    // The generation the current request started with (a reload swaps the worker's, not this).
    std::shared_ptr<Local> local_;
    tcp::socket socket_;  // plain socket operations: deadlines are swept, not armed per operation
    beast::flat_buffer buffer_;
    std::string head_;
    std::string extra_headers_;  // x-ratelimit-* lines for the current response
    std::string capture_;        // a non-streaming body kept to read its usage
    std::array<char, 16 * 1024> relay_{};
    wire::HeadArena head_arena_;  // the current request's head and its upstream response's
    std::optional<wire::RequestParser> parser_;  // the current request's (its head is in head_arena_)
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
    forward::Scratch scratch_;
    bool reading_ = false;
    bool read_timed_out_ = false;
    bool head_only_ = false;  // the current request is a HEAD: its answer has no body
};

void close_if_idle(ClientConnection& connection) { connection.close_if_idle(); }

void check_deadline(ClientConnection& connection, SteadyTime now) { connection.check_deadline(now); }

asio::awaitable<void> ClientConnection::run() {
    while (!worker_.shared.draining.load(std::memory_order_relaxed)) {
        idle_ = true;
        local_ = worker_.local;  // between requests: take up a reloaded config
        if (buffer_.size() == 0) {
            deadline_ = std::chrono::steady_clock::now() + limits().keepalive_timeout;
            auto [ec, n] = co_await socket_.async_read_some(buffer_.prepare(4096), await_tuple);
            deadline_ = SteadyTime::max();
            if (ec) break;
            buffer_.commit(n);
        }
        idle_ = false;
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
    std::string body = parser_ ? std::move(parser_->get().body()) : std::string();
    body.clear();
    parser_.reset();
    head_arena_.reset();
    parser_.emplace(std::piecewise_construct, std::make_tuple(),
                    std::make_tuple(wire::ArenaAllocator<char>(head_arena_)));
    parser_->get().body() = std::move(body);
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(server.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(server.max_body_bytes);
    read_timed_out_ = false;
    keep_alive_ = false;
    head_only_ = false;
    // Usually the whole request is in the buffer already (the keep-alive wait read it).
    const boost::system::error_code fed = wire::feed(buffer_, *parser_, wire::ReadUntil::message);
    named_ = parser_->is_header_done() ? wire::gateway_headers(parser_->get().base()) : wire::GatewayHeaders{};
    if (fed || too_many_headers() || named_.transfer_encoding.present()) return read_rest(fed);
    return handle_read();
}

asio::awaitable<bool> ClientConnection::handle_read() {
    // (The parser's flags say what request.keep_alive() would find by looking up Connection.)
    // An HTTP/1.0 request with a Transfer-Encoding is served, but its framing cannot be trusted
    // for another one (RFC 9112, section 6.1).
    keep_alive_ = parser_->keep_alive() && !worker_.shared.draining.load(std::memory_order_relaxed) &&
                  !(named_.transfer_encoding.present() && parser_->get().version() < 11);
    return handle(parser_->get(), keep_alive_);
}

std::size_t ClientConnection::header_count() const { return named_.count; }

asio::awaitable<bool> ClientConnection::read_rest(boost::system::error_code fed) {
    const auto& server = limits();
    wire::RequestParser& parser = *parser_;
    const auto too_large = [&] {
        return ApiError{413,
                        "the request body exceeds the limit of " + std::to_string(server.max_body_bytes) + " bytes",
                        "invalid_request_error", std::nullopt, "body_too_large"};
    };
    const auto timed_out = [&](std::string_view what) {
        return ApiError{408,
                        std::string(what) + " was not received within " +
                            std::to_string(server.request_read_timeout.count()) + " ms",
                        "invalid_request_error", std::nullopt, "request_timeout"};
    };
    reading_ = true;
    deadline_ = std::chrono::steady_clock::now() + server.request_read_timeout;
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
        if (head_ec == http::error::header_limit) {
            ApiError error{431,
                           "request headers exceed the limit of " + std::to_string(server.max_header_bytes) + " bytes",
                           "invalid_request_error", std::nullopt, "headers_too_large"};
            co_return co_await reject(std::move(error));
        }
        if (head_ec == http::error::body_limit) {
            ApiError error = too_large();
            co_return co_await reject(std::move(error));
        }
        if (read_timed_out_) {
            ApiError error = timed_out("the request");
            co_return co_await reject(std::move(error));
        }
        if (head_ec == http::error::end_of_stream || head_ec == asio::error::eof ||
            head_ec == asio::error::connection_reset || head_ec == asio::error::operation_aborted ||
            head_ec == asio::error::bad_descriptor) {
            co_return false;
        }
        if (head_ec) {
            ApiError error =
                ApiError::invalid_request("malformed HTTP request: " + head_ec.message(), std::nullopt, "bad_http");
            co_return co_await reject(std::move(error));
        }
        fed = http::error::need_more;  // the head is read; the body may not be
    }

    auto& request = parser.get();
    named_ = wire::gateway_headers(request.base());
    if (too_many_headers()) {
        ApiError error{431,
                       "the request has " + std::to_string(header_count()) + " headers; the limit is " +
                           std::to_string(server.max_headers),
                       "invalid_request_error", std::nullopt, "too_many_headers"};
        co_return co_await reject(std::move(error));
    }
    switch (named_.transfer_encoding.verdict()) {
        case wire::TransferEncoding::Verdict::faulty: {
            ApiError error = ApiError::invalid_request(
                "the request's Transfer-Encoding must end with chunked, applied once; the length of its body "
                "cannot be determined",
                std::nullopt, "bad_transfer_encoding");
            co_return co_await reject(std::move(error));
        }
        case wire::TransferEncoding::Verdict::unsupported: {
            ApiError error{501,
                           "the transfer coding '" + std::string(named_.transfer_encoding.unsupported().substr(0, 64)) +
                               "' is not supported; send the body as it is, with Content-Length or "
                               "Transfer-Encoding: chunked",
                           "invalid_request_error", std::nullopt, "unsupported_transfer_encoding"};
            co_return co_await reject(std::move(error));
        }
        default: break;
    }
    if (auto length = parser.content_length(); length && *length > server.max_body_bytes) {
        ApiError error = too_large();
        co_return co_await reject(std::move(error));
    }
    if (!parser.is_done()) {
        boost::system::error_code body_ec = fed;
        if (body_ec == http::error::need_more) {
            if (iequals_expect_continue(request[http::field::expect])) {
                static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
                auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(kContinue), await_tuple);
                if (ec) co_return false;
            }
            body_ec = co_await wire::async_read_into(socket_, buffer_, parser, wire::ReadUntil::message);
        }
        if (body_ec == http::error::body_limit) {
            ApiError error = too_large();
            co_return co_await reject(std::move(error));
        }
        if (read_timed_out_) {
            ApiError error = timed_out("the request body");
            co_return co_await reject(std::move(error));
        }
        // A body that breaks HTTP's framing (a bad chunk) is answered; one cut short by the caller
        // closing, or by the connection failing, has no one to answer.
        if (body_ec.category() == http::make_error_code(http::error::bad_chunk).category() &&
            body_ec != http::error::partial_message && body_ec != http::error::end_of_stream) {
            ApiError error = ApiError::invalid_request("malformed HTTP request body: " + body_ec.message(),
                                                       std::nullopt, "bad_http");
            co_return co_await reject(std::move(error));
        }
        if (body_ec) co_return false;
    }
    deadline_ = SteadyTime::max();
    reading_ = false;
    co_return co_await handle_read();
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
    const wire::GatewayHeaders& headers = named_;
    RequestId request_id = request_id_from(headers.request_id);
    if (request.method() == http::verb::post) {
        switch (route_of(path_of(request))) {
            case Route::chat: return proxy(parse::Endpoint::chat_completions, request, headers, request_id, keep_alive);
            case Route::completions: return proxy(parse::Endpoint::completions, request, headers, request_id, keep_alive);
            case Route::embeddings: return proxy(parse::Endpoint::embeddings, request, headers, request_id, keep_alive);
            default: break;
        }
    }
    return answer_locally(request, request_id, keep_alive);
}

asio::awaitable<bool> ClientConnection::answer_locally(wire::Request& request, RequestId request_id, bool keep_alive) {
    const std::string_view path = path_of(request);
    const Route route = route_of(path);
    // HEAD is GET without the body, as every HTTP server must (RFC 9110, section 9.1).
    const bool is_get = request.method() == http::verb::get || request.method() == http::verb::head;
    head_only_ = request.method() == http::verb::head;
    Shared& shared = worker_.shared;
    Generation& generation = *local_->generation;

    if (path.starts_with("/admin/")) {
        const AdminRequest admin_request{request.method_string(), path, request.body(),
                                         request[http::field::authorization]};
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
            std::shared_ptr<auth::KeyEntry> key;
            if (shared.keys.required()) {
                const std::string_view presented =
                    auth::presented_key(request[http::field::authorization], named_.api_key);
                if (!presented.empty()) key = shared.keys.find(presented);
                if (!key) {
                    const ApiError error = presented.empty() ? auth::missing_key_error() : auth::invalid_key_error();
                    co_return co_await respond_error(error, request_id, keep_alive);
                }
            }
            const route::Router& router = generation.router;
            wire::LocalResponse response;
            if (route == Route::models) {
                response.body = key ? router.models_body([&](const config::Model& m) { return key->allows(m.name); })
                                    : router.models_body();
                co_return co_await respond(response, request_id, keep_alive);
            }
            const std::string name = percent_decoded(path.substr(kModelPrefix.size()));
            auto found = router.find(name);
            if (auto* error = std::get_if<ApiError>(&found))
                co_return co_await respond_error(*error, request_id, keep_alive);
            const config::Model& model = *std::get<const config::Model*>(found);
            if (key && !key->allows(model.name)) {
                const ApiError error{403, "this key may not use model '" + model.name + "'", "permission_error",
                                     "model", "model_not_allowed"};
                co_return co_await respond_error(error, request_id, keep_alive);
            }
            response.body = router.model_body(model);
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
            break;  // POST went to proxy() (see handle()): any other method is not allowed
        case Route::unknown: {
            ApiError error = ApiError::not_found("Invalid URL (" + std::string(request.method_string()) + " " +
                                                     std::string(path) + "); see GET /v1/models for what is served",
                                                 "unknown_url");
            co_return co_await respond_error(error, request_id, keep_alive);
        }
    }
    const bool post_route = route == Route::chat || route == Route::completions || route == Route::embeddings;
    ApiError error{405,
                   "Method " + std::string(request.method_string()) + " is not allowed on " + std::string(path) +
                       "; use " + (post_route ? "POST" : "GET"),
                   "invalid_request_error", std::nullopt, "method_not_allowed"};
    wire::LocalResponse response = wire::error_response(error);
    response.allow = post_route ? "POST" : "GET, HEAD";
    co_return co_await respond(response, request_id, keep_alive);
}

asio::awaitable<bool> ClientConnection::proxy(parse::Endpoint endpoint, wire::Request& request,
                                              const wire::GatewayHeaders& named, RequestId request_id,
                                              bool keep_alive) {
    Shared& shared = worker_.shared;
    const std::shared_ptr<Local> local = local_;  // kept until the request is accounted for
    Generation& generation = *local->generation;
    const auto arrived = std::chrono::steady_clock::now();
    std::string& body = request.body();

    // What the ledger and the access log will say about this request, filled in as it goes.
    ledger::Row row;
    const bool keep_row = shared.ledger != nullptr || shared.access_log != nullptr;
    const std::int64_t arrived_ms =
        keep_row ? std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count()
                 : 0;
    std::string_view asked_model;  // once parsed
    std::string_view key_name;     // once authenticated
    // Prompt and completion, only for an access log that keeps them.
    const bool keep_content = shared.access_log != nullptr && shared.access_log->content();
    const std::size_t content_limit = keep_content ? 2 * shared.access_log->max_content_bytes() + 64 : 0;
    Content content;
    const auto emit = [&] {
        if (shared.access_log) shared.access_log->write(row, keep_content ? &content : nullptr);
        if (shared.ledger) shared.ledger->record(std::move(row));
    };
    const auto refuse = [&](const ApiError& error, std::string_view headers = {},
                            std::optional<metrics::Refusal> why = std::nullopt) -> asio::awaitable<bool> {
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - arrived).count();
        metrics::Observation observation;
        observation.model = asked_model;
        observation.key = key_name;
        observation.status = error.status;
        observation.duration_s = elapsed;
        if (limits().metrics) {
            worker_.metrics.record(observation);
            if (why) worker_.metrics.refused(*why);
        }
        if (keep_row) {
            row.ts_ms = arrived_ms;
            row.request_id = std::string(request_id);
            row.status = error.status;
            row.error = error.message;
            row.total_ms = elapsed * 1000;
            emit();
        }
        wire::LocalResponse response = wire::error_response(error);
        response.extra_headers = headers;
        co_return co_await respond(response, request_id, keep_alive);
    };

    // Authenticate.
    std::shared_ptr<auth::KeyEntry> key;
    if (shared.keys.required()) {
        const std::string_view presented = auth::presented_key(request[http::field::authorization], named.api_key);
        // (Errors are named before co_await: GCC 12 mishandles temporaries inside one.)
        if (presented.empty()) {
            const ApiError error = auth::missing_key_error();
            co_return co_await refuse(error, {}, metrics::Refusal::auth);
        }
        key = shared.keys.find(presented);
        if (!key) {
            const ApiError error = auth::invalid_key_error();
            co_return co_await refuse(error, {}, metrics::Refusal::auth);
        }
        key_name = key->policy.name;
        if (keep_row) {
            row.key = key->policy.name;
            row.labels = key->labels_json;
        }
    }

    // Parse and route.
    auto parsed = parse::parse_request(endpoint, body, worker_.json);
    if (auto* error = std::get_if<ApiError>(&parsed)) co_return co_await refuse(*error);
    const auto& facts = std::get<parse::RequestFacts>(parsed);
    asked_model = facts.model;
    if (keep_content) content.prompt = prompt_text(endpoint, body, content_limit);
    if (keep_row) {
        row.model = facts.model;
        row.stream = facts.stream;
    }
    auto routed = generation.router.find(facts.model);
    if (auto* error = std::get_if<ApiError>(&routed)) co_return co_await refuse(*error);
    const config::Model* model = std::get<const config::Model*>(routed);

    // A caller may ask for less time than the upstreams' configured total.
    SteadyTime deadline = SteadyTime::max();
    if (const auto asked = named.timeout; !asked.empty()) {
        const auto timeout = config::parse_duration(asked);
        if (!timeout || timeout->count() <= 0) {
            ApiError error = ApiError::invalid_request(
                "x-switchyard-timeout must be a positive duration such as 30s or 1500ms, got '" + std::string(asked) +
                    "'",
                std::nullopt, "invalid_timeout");
            co_return co_await refuse(error);
        }
        deadline = std::chrono::steady_clock::now() + *timeout;
    }

    // Admit: the key's models, requests in flight, budget and rate limits, then the model's limits.
    // Tokens are estimated now (about 4 bytes a prompt token, plus max_tokens) and corrected from
    // the real usage afterwards.
    const double estimated = static_cast<double>(usage::estimate_tokens(body)) +
                             (endpoint == parse::Endpoint::embeddings ? 0.0
                                                                      : static_cast<double>(facts.max_tokens.value_or(256)));
    const std::time_t wall_now = std::time(nullptr);
    struct InFlightKey {
        std::shared_ptr<auth::KeyEntry> key;
        ~InFlightKey() {
            if (key) key->in_flight.fetch_sub(1);
        }
    } in_flight_key;
    extra_headers_.clear();
    if (key) {
        if (!key->allows(model->name)) {
            const ApiError error{403, "this key may not use model '" + model->name + "'", "permission_error", "model",
                                 "model_not_allowed"};
            co_return co_await refuse(error, {}, metrics::Refusal::model_not_allowed);
        }
        if (key->in_flight.fetch_add(1) >= key->policy.max_concurrent && key->policy.max_concurrent > 0) {
            key->in_flight.fetch_sub(1);
            ApiError error{429,
                           "this key already has " + std::to_string(key->policy.max_concurrent) +
                               " requests in flight, its limit",
                           "rate_limit_error", std::nullopt, "concurrency_limit_exceeded"};
            error.retry_after = 1;
            co_return co_await refuse(error, {}, metrics::Refusal::concurrency);
        }
        in_flight_key.key = key;
        if (auto over = key->budget.check(wall_now)) co_return co_await refuse(*over, {}, metrics::Refusal::budget);
    }
    const std::size_t model_index = static_cast<std::size_t>(model - generation.config.models.data());
    limit::RateLimiter* key_limiter = key && key->limiter.any() ? &key->limiter : nullptr;
    limit::RateLimiter* model_limiter = generation.model_limits[model_index].get();
    // A fleet (`state:`): the key's and the model's limits are taken in Redis, both or neither;
    // when Redis cannot answer, fail-open falls back to this instance's share in-process.
    std::array<state::Limit, 2> fleet_limits{};
    std::size_t fleet_count = 0;
    if (shared.fleet) {
        if (key && key->policy.limits.any()) fleet_limits[fleet_count++] = {"key", key->policy.name, &key->policy.limits};
        if (model->limits.any()) fleet_limits[fleet_count++] = {"model", model->name, &model->limits};
        const bool needs_budget = key && key->budget.any();
        if ((fleet_count > 0 || needs_budget) && !shared.fleet->fail_open() && !worker_.state->connected()) {
            const ApiError error = state_unavailable_error();
            co_return co_await refuse(error);
        }
        if (fleet_count > 0) {
            const std::span<const state::Limit> asked(fleet_limits.data(), fleet_count);
            const state::Verdict verdict = co_await shared.fleet->admit(*worker_.state, asked, estimated);
            if (verdict.kind == state::Verdict::Kind::unavailable) {
                fleet_count = 0;
                if (!shared.fleet->fail_open()) {
                    const ApiError error = state_unavailable_error();
                    co_return co_await refuse(error);
                }
                key_limiter = key ? shared.fleet->fallback_key(*key) : nullptr;
                model_limiter = shared.fleet->fallback_model(*model);
            } else {
                key_limiter = nullptr;
                model_limiter = nullptr;
                if (key && key->policy.limits.any()) limit::append_headers(extra_headers_, verdict.snapshots.front());
                if (verdict.kind == state::Verdict::Kind::refused) {
                    const bool by_key = fleet_limits[verdict.refused].scope == "key";
                    ApiError error = rate_limit_error(by_key ? std::string_view() : std::string_view(model->name),
                                                      verdict.refusal);
                    const std::string_view headers = extra_headers_;
                    const metrics::Refusal why =
                        by_key ? metrics::Refusal::key_rate_limit : metrics::Refusal::model_rate_limit;
                    co_return co_await refuse(error, headers, why);
                }
            }
        }
    }
    const SteadyTime now = key_limiter != nullptr || model_limiter != nullptr ? system_clock().now() : SteadyTime{};
    if (key_limiter != nullptr) {
        const auto refusal = key_limiter->admit(estimated, now);
        limit::append_headers(extra_headers_, key_limiter->snapshot(now));
        if (refusal) {
            ApiError error = rate_limit_error({}, *refusal);
            const std::string_view headers = extra_headers_;
            co_return co_await refuse(error, headers, metrics::Refusal::key_rate_limit);
        }
    }
    if (model_limiter != nullptr) {
        if (const auto refusal = model_limiter->admit(estimated, now)) {
            if (key_limiter != nullptr) key_limiter->correct(-estimated, now);  // not served: give it back
            ApiError error = rate_limit_error(model->name, *refusal);
            const std::string_view headers = extra_headers_;
            co_return co_await refuse(error, headers, metrics::Refusal::model_rate_limit);
        }
    }
    const std::span<const state::Limit> fleet_taken(fleet_limits.data(), fleet_count);

    // A model served by engines: start a stopped one and wait until it is ready.
    if (!shared.engines.empty()) {
        const auto engine_error = co_await shared.engines.wait_ready(*model, generation.config.upstreams, deadline);
        if (engine_error) {
            const SteadyTime failed_at = system_clock().now();
            if (key_limiter != nullptr) key_limiter->correct(-estimated, failed_at);
            if (model_limiter != nullptr) model_limiter->correct(-estimated, failed_at);
            if (!fleet_taken.empty()) shared.fleet->correct(*worker_.state, fleet_taken, -estimated);
            co_return co_await refuse(*engine_error);
        }
    }

    // Forward and relay.
    const forward::CallerRequest caller_request{.endpoint = endpoint,
                                                .body = body,
                                                .facts = facts,
                                                .headers = request.base(),
                                                .request_id = request_id,
                                                .keep_alive = keep_alive,
                                                .model = model,
                                                .deadline = deadline,
                                                .account_usage = shared.accounting(generation),
                                                .estimated_tokens = estimated,
                                                .extra_headers = extra_headers_};
    // A budget is spent before the response's last bytes reach the caller, so that its next
    // request, on whichever connection and thread, sees it.
    struct SpendBudget final : forward::UsageSink {
        SpendBudget(auth::KeyEntry* entry, const account::Pricer& prices, state::Fleet* shared_state)
            : key(entry), pricer(prices), fleet(shared_state) {}
        void settled(const config::Deployment& deployment, const usage::Usage& usage) override {
            const double cost = pricer.cost(deployment, usage);
            if (cost > 0) spend(cost);
        }
        void spend(double cost) {
            if (spent) return;
            spent = true;
            if (fleet != nullptr) {
                fleet->spend(*key, cost, std::time(nullptr));  // here at once, the other instances within a sync
            } else {
                key->budget.spend(cost, std::time(nullptr));
            }
        }
        auth::KeyEntry* key;
        const account::Pricer& pricer;
        state::Fleet* fleet;
        bool spent = false;
    } spend_budget{key.get(), generation.pricer, shared.fleet.get()};
    const bool settle_budget = key && key->budget.any();
    const forward::CallerSide caller_side{socket_,
                                          head_,
                                          relay_,
                                          limits().request_read_timeout,
                                          write_deadline_,
                                          watch_,
                                          capture_,
                                          keep_content ? &content.completion : nullptr,
                                          content_limit,
                                          settle_budget ? &spend_budget : nullptr,
                                          head_arena_,
                                          scratch_};
    const forward::Outcome outcome = co_await local->forwarder.run(caller_request, caller_side);
    if (!outcome.error.empty()) {
        spdlog::warn("request {} model={} deployment={} status={}: {}", request_id.view(), facts.model,
                     outcome.deployment ? outcome.deployment->name : "-", outcome.status, outcome.error);
    }

    if (keep_content && !outcome.stream && outcome.status / 100 == 2) {
        usage::append_completion_text(capture_, content.completion, content_limit);
    }

    // Account: tokens, cost, limits corrected, budget spent, the ledger row.
    const usage::Usage& used = outcome.usage;
    const double tokens = static_cast<double>(used.prompt + used.completion);
    const double cost = outcome.deployment != nullptr ? generation.pricer.cost(*outcome.deployment, used) : 0.0;
    const SteadyTime done_at = key_limiter != nullptr || model_limiter != nullptr ? system_clock().now() : SteadyTime{};
    if (key_limiter != nullptr) key_limiter->correct(tokens - estimated, done_at);
    if (key && cost > 0) spend_budget.spend(cost);  // unless spent before the response's end
    if (model_limiter != nullptr) model_limiter->correct(tokens - estimated, done_at);
    if (!fleet_taken.empty()) shared.fleet->correct(*worker_.state, fleet_taken, tokens - estimated);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - arrived).count();
    metrics::Observation observation;
    observation.model = asked_model;
    if (outcome.deployment != nullptr) {
        observation.deployment = outcome.deployment->name;
        observation.tier = static_cast<int>(outcome.deployment->tier);
    }
    observation.key = key_name;
    observation.status = outcome.status;
    observation.prompt_tokens = used.prompt;
    observation.completion_tokens = used.completion;
    observation.cost = cost;
    observation.duration_s = elapsed;
    observation.ttft_s = outcome.ttft_ms >= 0 ? outcome.ttft_ms / 1000 : -1;
    if (limits().metrics) worker_.metrics.record(observation);
    if (keep_row) {
        row.ts_ms = arrived_ms;
        row.request_id = std::string(request_id);
        if (outcome.deployment != nullptr) {
            const auto& upstream = generation.config.upstreams[outcome.deployment->upstream];
            row.deployment = outcome.deployment->name;
            row.upstream = upstream.name;
            row.tier = static_cast<int>(outcome.deployment->tier);
            row.local = upstream.local;
            if (outcome.status / 100 == 2 && outcome.served_by != nullptr) row.served_model = outcome.served_by->name;
        }
        row.status = outcome.status;
        row.prompt_tokens = used.prompt;
        row.cached_tokens = used.cached;
        row.completion_tokens = used.completion;
        row.usage_estimated = outcome.usage_estimated;
        row.cost_usd = cost;
        row.ttft_ms = outcome.ttft_ms;
        row.total_ms = elapsed * 1000;
        row.retries = outcome.attempts > 0 ? static_cast<int>(outcome.attempts) - 1 : 0;
        row.fallback = outcome.served_by != nullptr && outcome.served_by != model;
        row.error = outcome.error;
        emit();
    }
    co_return outcome.caller_reusable;
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
