#include "forward/forward.hpp"

#include <sys/socket.h>

#include <boost/container/small_vector.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "core/await.hpp"
#include "core/text.hpp"
#include "http/read.hpp"
#include "http/wire.hpp"
#include "usage/usage.hpp"

namespace switchyard::forward {

namespace http = beast::http;
using Clock = std::chrono::steady_clock;
using upstream::Connection;

// Shared between the forwarding coroutine and the watch on the caller's socket.
struct Watch {
    Connection* active = nullptr;  // the upstream connection in use, closed if the caller leaves
    bool caller_gone = false;
    // The caller was sent the stream's finish (response.completed, message_stop, a finish reason):
    // one that leaves after it read what it wanted (Codex stops reading at response.completed)
    // was answered, not a 499.
    bool answered = false;
    bool done = false;
    bool armed = false;  // the wait on the caller's socket has started
    SteadyTime upstream_deadline = SteadyTime::max();  // of the upstream operation in progress
    bool upstream_timed_out = false;                   // it was cancelled for that deadline
    asio::cancellation_signal stop;
};

namespace {

// The completion of a read or a write on an upstream connection.
using Transferred = void(boost::system::error_code, std::size_t);

// One write to the caller under its write deadline, which the connection's sweep enforces; the
// deadline is armed when the write starts and cleared when it completes:
//
//     auto [ec, sent] = co_await write_to_caller(caller, buffers);
//
// (A deferred operation awaited from the caller's frame: no coroutine frame of its own.)
template <typename Buffers>
auto write_to_caller(CallerSide& caller, const Buffers& buffers) {
    caller.write_deadline = std::chrono::steady_clock::now() + caller.write_timeout;
    return asio::async_write(caller.stream, buffers,
                             asio::deferred([&caller](boost::system::error_code ec, std::size_t sent) {
                                 caller.write_deadline = SteadyTime::max();
                                 return asio::deferred.values(ec, sent);
                             }))(await_tuple);
}

// Waits for the caller's socket to become readable while the request is forwarded (see sweep()).
// A plain completion handler, not a coroutine: one socket wait per request that outlives a sweep.
void watch_caller(asio::ip::tcp::socket& socket, std::shared_ptr<Watch> watch) {
    auto slot = watch->stop.slot();
    socket.async_wait(asio::ip::tcp::socket::wait_read,
                      asio::bind_cancellation_slot(slot, [&socket, watch](const boost::system::error_code& ec) {
                          if (ec || watch->done) return;
                          char byte;
                          const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
                          if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                              watch_caller(socket, watch);
                              return;
                          }
                          // n > 0: the caller pipelined its next request, so it is still there.
                          if (n > 0) return;
                          watch->caller_gone = true;
                          if (watch->active != nullptr) watch->active->close();
                      }));
}

// "upstream 'name'", with its address only when the config allows showing it.
std::string upstream_label(const config::Gateway& config, const config::Upstream& upstream) {
    std::string label = "upstream '" + upstream.name + "'";
    if (config.server.expose_upstream_address) label += " (" + upstream.url.origin() + ")";
    return label;
}

// Bytes of a non-streaming response body copied aside to read its usage; beyond, it is estimated.
constexpr std::size_t kMaxCapture = 8u << 20;

bool is_timeout(const boost::system::error_code& ec) {
    return ec == beast::error::timeout || ec == asio::error::timed_out;
}

// A connection reused from the pool that the upstream had meanwhile closed fails like this,
// before any response byte; such a request is safe to send again on a fresh connection.
bool is_stale_connection_error(const boost::system::error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe || ec == http::error::partial_message;
}

// Caller headers not forwarded: hop-by-hop ones, the caller's credentials (the upstream gets its
// own), and those the gateway sets itself. By Beast's code for the name; the few names it has no
// code for are compared as text.
bool skip_request_header(http::field code, std::string_view name) {
    switch (code) {
        case http::field::authorization:
        case http::field::content_type:
        case http::field::expect:
        case http::field::accept_encoding:
        case http::field::cookie: return true;
        case http::field::unknown:
            return iequals(name, "x-api-key") || iequals(name, "api-key") || iequals(name, "x-request-id");
        default: return wire::is_hop_by_hop(code);
    }
}

// Upstream headers not relayed: hop-by-hop ones and those the gateway sets itself.
bool skip_response_header(http::field code, std::string_view name) {
    switch (code) {
        case http::field::server:
        case http::field::date: return true;
        case http::field::unknown: return iequals(name, "x-request-id") || iequals(name, "x-switchyard-upstream");
        default: return wire::is_hop_by_hop(code);
    }
}

class Limits {
public:
    Limits(const config::Timeouts& timeouts, Clock::time_point start, Clock::time_point caller_deadline)
        : timeouts_(timeouts),
          deadline_(std::min(start + timeouts.total, caller_deadline)),
          caller_bound_(caller_deadline < start + timeouts.total) {}
    // When an operation of `phase` starting `now` must be done by: capped by what remains of the
    // total, and at least 1 ms away so that it fails fast.
    Clock::time_point until(config::Duration phase, Clock::time_point now) const {
        const auto remaining = deadline_ - now;
        return now +
               std::max<Clock::duration>(std::min<Clock::duration>(phase, remaining), std::chrono::milliseconds(1));
    }
    bool total_exceeded() const { return Clock::now() >= deadline_; }
    bool caller_bound() const { return caller_bound_; }  // the caller asked for less than `total`
    const config::Timeouts& timeouts() const { return timeouts_; }

private:
    const config::Timeouts& timeouts_;
    Clock::time_point deadline_;
    bool caller_bound_;
};

std::string duration_text(config::Duration d) {
    if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
    return std::to_string(d.count()) + "ms";
}

route::Verdict verdict_of(int status, bool broken) {
    if (broken || status >= 500) return route::Verdict::failure;
    if (status == 429) return route::Verdict::rate_limited;
    return route::Verdict::success;
}

// How one attempt reaches its upstream: the endpoint it posts to (in the dialect it sends), and
// whether that is another dialect than the caller's. A deployment whose upstream speaks the
// caller's dialect gets the caller's bytes; one that does not gets a translation into the first
// of chat, messages, responses it speaks. Only the answer-generating endpoints are translated:
// legacy completions, embeddings and the token counters go to upstreams that serve them natively.
struct Plan {
    parse::Endpoint endpoint = parse::Endpoint::chat_completions;
    bool translate = false;
    bool servable = true;
};

Plan plan_for(parse::Endpoint endpoint, config::DialectSet speaks) {
    using translate::Dialect;
    const Dialect caller = parse::dialect_of(endpoint);
    if ((speaks & config::dialect_bit(caller)) != 0) return {endpoint, false, true};
    const bool translatable = endpoint == parse::Endpoint::chat_completions || endpoint == parse::Endpoint::responses ||
                              endpoint == parse::Endpoint::messages;
    if (translatable) {
        for (const Dialect dialect : {Dialect::chat, Dialect::messages, Dialect::responses}) {
            if ((speaks & config::dialect_bit(dialect)) != 0) return {parse::generating_endpoint(dialect), true, true};
        }
    }
    return {endpoint, false, false};
}

usage::Usage from_common(const translate::Usage& usage) {
    return {.prompt = usage.input,
            .cached = usage.cached,
            .completion = usage.output,
            .found = usage.found,
            .web_searches = usage.web_searches};
}

// The usage a whole answer body of `dialect` reports.
usage::Usage body_usage(translate::Dialect dialect, std::string_view body) {
    if (dialect == translate::Dialect::chat) return usage::parse_usage(body);
    translate::Response response;
    if (!translate::read_response(dialect, body, response)) return {};
    return from_common(response.usage);
}

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Bytes of an answer translated whole (not streamed) kept to translate; a larger one fails.
constexpr std::size_t kMaxTranslated = 8u << 20;

class Exchange {
public:
    // `overhead_ms`: the gateway's own time before this attempt (for x-switchyard-overhead-ms).
    Exchange(const config::Gateway& config, route::Router& router, const CallerRequest& request, CallerSide& caller,
             Watch& watch, double overhead_ms)
        : config_(config),
          router_(router),
          request_(request),
          caller_(caller),
          watch_(watch),
          scratch_(caller.scratch),
          overhead_ms_(overhead_ms) {
        scratch_.scanner.reset();
        scratch_.stream.reset();
        scratch_.completed.reset();
        scratch_.error.reset();
    }
    // The upstream response's head is in the caller's head arena, reset for the next request.
    ~Exchange() { scratch_.parser.reset(); }
    Exchange(const Exchange&) = delete;
    Exchange& operator=(const Exchange&) = delete;

    enum class Result {
        done,                    // the response went to the caller (perhaps cut short: broken())
        stale,                   // a reused connection the upstream had closed: send again
        failed_before_response,  // nothing reached the caller; error() says why
        retry_status,            // a 5xx or 429 head, withheld from the caller to retry elsewhere
        unserved,                // the deployment cannot take this request (its dialect); error() says why
    };

    // One request/response on `connection` to the leased deployment; writes everything to the
    // caller except an error that happened before the response began (left in `error()`), and,
    // when `may_retry`, a 5xx or 429 answer.
    asio::awaitable<Result> run(Connection& connection, route::Lease& lease, upstream::Upstream& upstream,
                                Outcome& outcome, bool may_retry);

    const ApiError& error() const { return *scratch_.error; }  // after a failure
    bool reusable() const { return reusable_; }
    bool broken() const { return broken_; }  // the response broke after it began
    std::chrono::nanoseconds first_byte() const { return first_byte_; }
    std::optional<std::chrono::seconds> retry_after() const { return retry_after_; }
    // When the upstream's part of the exchange ended (its last byte read, or its failure); `now`
    // when it has not ended before the exchange did.
    Clock::time_point upstream_end(Clock::time_point now) const {
        return upstream_end_ != Clock::time_point{} ? upstream_end_ : now;
    }

private:
    // How the response's body comes and goes.
    struct Framing {
        bool chunked = false;       // to the caller (not a Content-Length body)
        bool event_stream = false;  // text/event-stream
        bool add_usage = false;     // the gateway asked the stream for its usage
        bool translated = false;    // the answer is translated into the caller's dialect
    };
    // The request body in the dialect of plan_.endpoint (the caller's as read once, then written):
    // an error the caller gets if no other deployment takes the request.
    std::optional<ApiError> translate_request(const config::Deployment& deployment, const upstream::Upstream& upstream);
    // The body relay of a translated answer: a stream event by event, any other body whole.
    asio::awaitable<Result> relay_translated(Connection& connection, route::Lease& lease, upstream::Upstream& upstream,
                                             Outcome& outcome, const Limits& limits, Framing framing);
    // A translated answer that is not a stream: read whole, then translated and sent.
    asio::awaitable<Result> relay_whole_translated(Connection& connection, route::Lease& lease,
                                                   upstream::Upstream& upstream, Outcome& outcome,
                                                   const Limits& limits);
    // The next body bytes into `into` (at most `room`): how many; 0 with read_ec set, or at the end,
    // or at wake_ (woke(): nothing read, no error, not at the end).
    asio::awaitable<std::size_t> read_body(Connection& connection, char* into, std::size_t room, const Limits& limits,
                                           boost::system::error_code& read_ec);
    // A whole translated answer (in scratch_.out) from the upstream's body (caller_.capture): the
    // status the caller gets, or nullopt when the body is not an answer (error() says so).
    std::optional<int> translate_whole(const upstream::Upstream& upstream, int status);
    // The head of a translated answer: the gateway's headers, not the upstream's.
    void build_translated_head(const route::Lease& lease, int status, std::string_view content_type,
                               std::optional<std::size_t> length);
    // Headers every forwarded answer carries (request id, deployment, tier, rate limits, overhead).
    void add_gateway_headers(const route::Lease& lease);
    // Before a body read: when it wakes for a stream's keep-alive (never when `on` is false).
    void arm_keepalive(bool on) {
        const config::Duration every = config_.server.stream_keepalive;
        wake_ = on && every.count() > 0 ? std::max(last_bytes_, last_keepalive_) + every : Clock::time_point::max();
    }
    bool woke(std::size_t got, const boost::system::error_code& read_ec) const {
        return got == 0 && !read_ec && !scratch_.parser->is_done();
    }
    // The upstream has been silent for server.stream_keepalive: the caller's dialect's keep-alive
    // event, with the head the first time (a translated answer's, built here). False when the
    // caller could not be written to.
    asio::awaitable<bool> send_keepalive(route::Lease& lease, Outcome& outcome, bool& head_sent, bool translated);
    // Bytes were written to the caller: if the stream's finish was among them, it has its answer.
    void note_answered() {
        if (scratch_.stream && scratch_.stream->finished()) watch_.answered = true;
    }
    // A write to the caller failed: it went away (the watch closes the upstream connection).
    void caller_left(Outcome& outcome, const boost::system::error_code& ec) {
        watch_.caller_gone = true;
        outcome.caller_reusable = false;
        outcome.error = "caller went away: " + ec.message();
    }
    // The answer sent whole (`body`), or the stream's final answer, to caller_.answer.
    void keep(std::string_view body) {
        if (scratch_.completed) {
            scratch_.completed->finish();
            caller_.answer->answered(scratch_.completed->response());
        } else {
            caller_.answer->answered(body);
        }
    }
    // The response head is read: an upstream failure, a status withheld to retry elsewhere, or
    // (nullopt) the caller's head built and the body to relay.
    std::optional<Result> accept_head(const upstream::Upstream& upstream, route::Lease& lease, Outcome& outcome,
                                      bool may_retry, Framing& framing);
    // The body, from the upstream to the caller, until its end, a failure or the caller leaving.
    asio::awaitable<Result> relay(Connection& connection, route::Lease& lease, upstream::Upstream& upstream,
                                  Outcome& outcome, const Limits& limits, Framing framing);
    // What relay() does with a body as it passes, decided from its head (start_looking).
    struct Looking {
        bool capture = false;      // a whole body copied aside (caller_.capture) for its usage
        bool keep_answer = false;  // a successful answer is told to caller_.answer
    };
    Looking start_looking(const Outcome& outcome, const Framing& framing);
    // What was read (`got` new bytes after `carry` unsent ones at `data`) is looked at before it
    // goes: a stream's usage and content events, a body captured for its usage, the time to first
    // token. Returns how many bytes may go now (a stream's unfinished last event waits); `length`
    // (carry + got) shrinks when a usage event the caller did not ask for is cut out.
    std::size_t look_at(const Looking& looking, char* data, std::size_t carry, std::size_t got, bool done, bool broke,
                        std::size_t& length);
    // The answer's end, settled before its last bytes go to the caller: what the caller does next
    // finds the deployment's verdict (a half-open breaker closed, a latency observed) and the key's
    // budget taken.
    void settle_answer(route::Lease& lease, Outcome& outcome, bool captured);
    // A relayed response broke after it began (error() says how): a stream is ended with an error
    // event, any other body cut by closing the caller's connection.
    asio::awaitable<void> end_broken(Outcome& outcome, const Framing& framing, bool captured);
    // Body bytes the upstream connection's buffer already holds, parsed into the relay buffer (at
    // most `room`; no I/O): how many. A parse error goes to `read_ec`.
    std::size_t take_buffered(Connection& connection, std::size_t room, boost::system::error_code& read_ec);
    // The pieces of one write to the caller (head the first time, a chunk, the last chunk), in
    // scratch_.pieces: how many.
    std::size_t compose_write(bool head_sent, bool chunked, bool done, const char* data, std::size_t send,
                              const wire::ChunkHeader& chunk_header);

    // An upstream operation's deadline, enforced by the caller connection's sweep (see sweep()).
    void start_deadline(Clock::time_point deadline) {
        watch_.upstream_timed_out = false;
        watch_.upstream_deadline = deadline;
    }
    // Ends it; an operation cancelled for it reports a timeout.
    void end_deadline(boost::system::error_code& ec) {
        watch_.upstream_deadline = SteadyTime::max();
        if (ec && watch_.upstream_timed_out) ec = beast::error::timeout;
    }

    void fail(const upstream::Upstream& upstream, const boost::system::error_code& ec, std::string_view phase,
              const Limits& limits, config::Duration phase_limit) {
        const std::string where = upstream_label(config_, upstream.config());
        if (is_timeout(ec)) {
            const bool total = limits.total_exceeded();
            std::string what;
            if (total && limits.caller_bound()) {
                what = " did not finish within the timeout the caller asked for";
            } else if (total) {
                what = " exceeded the total timeout of " + duration_text(limits.timeouts().total);
            } else {
                what = " did not " + std::string(phase) + " within " + duration_text(phase_limit);
            }
            scratch_.error = ApiError::upstream(504, where + what, "upstream_timeout");
        } else {
            scratch_.error = ApiError::upstream(502, where + " failed to " + std::string(phase) + ": " + ec.message(),
                                                "upstream_error");
        }
    }

    // Ends a relayed stream that broke with an SSE event carrying error(), then the last chunk;
    // false when the caller could not be written to. (Its own coroutine: it is rare, and its
    // buffers would make run()'s frame larger.)
    asio::awaitable<bool> end_stream_with_error();

    // One pass over the response head (Beast's lookup by field searches its tree by name): its
    // Content-Type and Retry-After, and false for a response framed with a transfer coding other
    // than chunked alone ("gzip, chunked", "chunked, chunked", "gzip" until the close), whose body
    // would reach the caller still encoded, without the field that says how: an upstream failure
    // instead (error() says which).
    bool read_head(const upstream::Upstream& upstream, const wire::ResponseParser& parser,
                   std::string_view& content_type, std::string_view& retry_after);

    void build_upstream_head(const upstream::Upstream& upstream, std::size_t body_size);
    using ResponseParser = wire::ResponseParser;
    void build_response_head(const ResponseParser& parser, const route::Lease& lease,
                             bool chunked);
    // The response's usage into `outcome`: as the upstream reported it (the stream's usage event,
    // or the `captured` body's), else estimated. (A member, not a lambda: run()'s frame keeps the
    // captures of a lambda.)
    void settle_usage(Outcome& outcome, bool captured) const;

    const config::Gateway& config_;
    route::Router& router_;
    const CallerRequest& request_;
    CallerSide& caller_;
    Watch& watch_;
    // What run() keeps across its waits: in the caller connection's scratch (see Scratch).
    Scratch& scratch_;
    bool reusable_ = false;
    bool broken_ = false;
    double overhead_ms_;
    Clock::time_point start_{};
    Clock::time_point upstream_end_{};
    bool upstream_request_id_ = false;   // the upstream's head, relayed, has a request-id
    Clock::time_point last_bytes_{};     // the last bytes read from the upstream
    Clock::time_point last_keepalive_{};  // the last keep-alive event sent to the caller
    Clock::time_point wake_ = Clock::time_point::max();  // see arm_keepalive()
    std::chrono::nanoseconds first_byte_{};
    std::optional<std::chrono::seconds> retry_after_;
    Plan plan_;
};

// Retry-After in seconds (the HTTP-date form is rare from LLM APIs and taken as absent).
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value) {
    long seconds = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc{} || end != value.data() + value.size() || seconds < 0) return std::nullopt;
    return std::chrono::seconds(std::min(seconds, 3600L));
}

bool Exchange::read_head(const upstream::Upstream& upstream, const wire::ResponseParser& parser,
                         std::string_view& content_type, std::string_view& retry_after) {
    wire::TransferEncoding codings;
    std::string_view first;  // the first Transfer-Encoding field's value, for the message
    for (const auto& field : parser.get()) {
        switch (field.name()) {
            case http::field::content_type:
                if (content_type.data() == nullptr) content_type = field.value();
                break;
            case http::field::retry_after:
                if (retry_after.data() == nullptr) retry_after = field.value();
                break;
            case http::field::transfer_encoding:
                if (!codings.present()) first = field.value();
                codings.add(field.value());
                break;
            default:
                break;
        }
    }
    const auto verdict = codings.verdict();
    if (verdict == wire::TransferEncoding::Verdict::none || verdict == wire::TransferEncoding::Verdict::chunked) {
        return true;
    }
    std::string message = upstream_label(config_, upstream.config()) + " answered with Transfer-Encoding '";
    message += utf8_prefix(first, 64);
    message += "', which the gateway does not decode (only chunked is relayed)";
    scratch_.error = ApiError::upstream(502, std::move(message), "upstream_error");
    return false;
}

void Exchange::build_upstream_head(const upstream::Upstream& upstream, std::size_t body_size) {
    std::string& head = caller_.head;
    head.clear();
    head += "POST ";
    head += upstream.config().url.api_base;
    head += parse::path_of(plan_.endpoint);
    head += " HTTP/1.1\r\n";
    wire::add_header(head, "Host", upstream.host_header());
    wire::add_header(head, "Content-Type", "application/json");
    wire::add_header(head, "Content-Length", body_size);
    if (!upstream.authorization().empty()) wire::add_header(head, "Authorization", upstream.authorization());
    wire::add_header(head, "x-request-id", request_.request_id);
    bool has_version = false;
    for (const auto& field : request_.headers) {
        if (skip_request_header(field.name(), field.name_string())) continue;
        has_version = has_version || iequals(field.name_string(), "anthropic-version");
        wire::add_header(head, field.name_string(), field.value());
    }
    // Anthropic's API takes its key as x-api-key, and needs the version of the API spoken.
    if (upstream.config().type == config::UpstreamType::anthropic) {
        if (!upstream.config().api_key.empty()) wire::add_header(head, "x-api-key", upstream.config().api_key);
        if (!has_version) wire::add_header(head, "anthropic-version", config::kAnthropicVersion);
    }
    wire::end_headers(head);
}

asio::awaitable<bool> Exchange::end_stream_with_error() {
    // A chat stream ends with an error event OpenAI's clients raise; the other dialects' streams
    // with their own (Anthropic's `event: error`, Responses' `response.failed`).
    const translate::Dialect caller = parse::dialect_of(request_.endpoint);
    std::string event;
    if (caller == translate::Dialect::chat) {
        event = "data: " + to_body(*scratch_.error) + "\n\n";
    } else {
        translate::Arena arena;
        translate::make_writer(caller, scratch_.answer)->fail(translate::from_api_error(*scratch_.error, arena), event);
    }
    const wire::ChunkHeader event_header(event.size());
    const std::array<asio::const_buffer, 4> tail{asio::buffer(event_header.view()), asio::buffer(event),
                                                 asio::buffer(wire::kCrlf), asio::buffer(wire::kLastChunk)};
    auto [ec, sent] = co_await write_to_caller(caller_, tail);
    co_return !ec;
}

void Exchange::build_response_head(const ResponseParser& parser,
                                   const route::Lease& lease, bool chunked) {
    std::string& head = caller_.head;
    const auto& response = parser.get();
    wire::start_response(head, static_cast<int>(response.result_int()));
    upstream_request_id_ = false;
    for (const auto& field : response) {
        const std::string_view name = field.name_string();
        if (skip_response_header(field.name(), name)) continue;
        // (Anthropic's id of its request, relayed to an Anthropic client: see add_gateway_headers.)
        upstream_request_id_ = upstream_request_id_ || iequals(name, "request-id");
        wire::add_header(head, name, field.value());
    }
    if (chunked) {
        wire::add_header(head, "Transfer-Encoding", "chunked");
    } else if (auto length = parser.content_length()) {
        wire::add_header(head, "Content-Length", static_cast<std::size_t>(*length));
    } else {
        wire::add_header(head, "Content-Length", std::size_t{0});
    }
    add_gateway_headers(lease);
}

void Exchange::add_gateway_headers(const route::Lease& lease) {
    std::string& head = caller_.head;
    wire::add_header(head, "x-request-id", request_.request_id);
    // Anthropic's SDKs read the id as `request-id` (an upstream's own, relayed, comes first).
    if (!upstream_request_id_ && parse::error_shape(request_.endpoint) == ErrorShape::anthropic) {
        wire::add_header(head, "request-id", request_.request_id);
    }
    wire::add_header(head, "x-switchyard-upstream", lease.deployment().name);
    wire::add_header(head, "x-switchyard-tier", lease.deployment().tier);
    head += request_.extra_headers;
    if (&lease.model() != request_.model) wire::add_header(head, "x-switchyard-model", lease.model().name);
    if (request_.report_overhead) {
        char digits[32];
        std::snprintf(digits, sizeof digits, "%.3f", overhead_ms_);
        wire::add_header(head, "x-switchyard-overhead-ms", std::string_view(digits));
    }
    if (!request_.keep_alive) wire::add_header(head, "Connection", "close");
    wire::end_headers(head);
}

void Exchange::build_translated_head(const route::Lease& lease, int status, std::string_view content_type,
                                     std::optional<std::size_t> length) {
    std::string& head = caller_.head;
    wire::start_response(head, status);
    wire::add_header(head, "Content-Type", content_type);
    if (length) {
        wire::add_header(head, "Content-Length", *length);
    } else {
        wire::add_header(head, "Transfer-Encoding", "chunked");
        wire::add_header(head, "Cache-Control", "no-cache");
    }
    wire::add_header(head, "x-switchyard-translated",
                     std::string(translate::to_string(parse::dialect_of(plan_.endpoint))) + "->" +
                         std::string(translate::to_string(parse::dialect_of(request_.endpoint))));
    add_gateway_headers(lease);
}

std::optional<ApiError> Exchange::translate_request(const config::Deployment& deployment,
                                                    const upstream::Upstream& upstream) {
    std::unique_ptr<translate::Request>& read = scratch_.request;
    if (!read) {
        read = std::make_unique<translate::Request>();
        if (auto error = translate::read_request(parse::dialect_of(request_.endpoint), request_.body, *read)) {
            read.reset();
            return error;
        }
    }
    const config::Upstream& config = upstream.config();
    // The provider's web search has no chat form: to an upstream that also speaks a dialect that
    // carries it (OpenAI's Responses, Anthropic's Messages), the request goes in that one.
    if (read->offers_web_search() && plan_.endpoint == parse::Endpoint::chat_completions) {
        for (const translate::Dialect dialect : {translate::Dialect::responses, translate::Dialect::messages}) {
            if ((config.dialects & config::dialect_bit(dialect)) != 0) {
                plan_.endpoint = parse::generating_endpoint(dialect);
                break;
            }
        }
    }
    const translate::WriteOptions options{
        .model = deployment.model,
        .default_max_tokens = config.default_max_tokens,
        .stream_usage = true,
        .top_k = config.type == config::UpstreamType::llama_server || config.type == config::UpstreamType::vllm};
    scratch_.translated.clear();
    if (auto error = translate::write_request(parse::dialect_of(plan_.endpoint), *read, options, scratch_.translated)) {
        error->message = "cannot send this request to deployment '" + deployment.name + "' (" +
                         std::string(translate::to_string(parse::dialect_of(plan_.endpoint))) + " API): " +
                         error->message;
        return error;
    }
    return std::nullopt;
}

void Exchange::settle_usage(Outcome& outcome, bool captured) const {
    // Counting tokens generates nothing and is billed nothing.
    if (!request_.account_usage || !parse::generates(request_.endpoint)) return;
    const std::optional<usage::StreamScanner>& scanner = scratch_.scanner;
    const std::optional<translate::StreamTranslator>& stream = scratch_.stream;
    usage::Usage found = scanner ? scanner->usage() : stream ? from_common(stream->usage()) : usage::Usage{};
    if (captured && !found.found) found = body_usage(parse::dialect_of(plan_.endpoint), caller_.capture);
    if (!found.found && outcome.status / 100 == 2) {
        // No usage from the upstream (or the stream broke before it): estimate, and say so.
        found.prompt = usage::estimate_tokens(request_.body);
        found.completion = scanner  ? scanner->content_events()
                           : stream ? stream->content_events()
                                    : usage::estimate_tokens(caller_.capture);
        outcome.usage_estimated = true;
    } else if (stream && !stream->finished() && found.completion < stream->content_events()) {
        // A stream that ended before its last usage (cut, or the caller left): Anthropic's gave its
        // input tokens at its start, but what was generated is counted by its deltas.
        found.completion = stream->content_events();
        outcome.usage_estimated = true;
    }
    outcome.usage = found;
    if (first_byte_.count() > 0) outcome.ttft_ms = std::chrono::duration<double, std::milli>(first_byte_).count();
}

asio::awaitable<Exchange::Result> Exchange::run(Connection& connection, route::Lease& lease,
                                                upstream::Upstream& upstream, Outcome& outcome, bool may_retry) {
    const config::Deployment& deployment = lease.deployment();
    const auto& timeouts = upstream.config().timeouts;
    start_ = Clock::now();
    const Limits limits(timeouts, start_, request_.deadline);

    // Send: the head, then the body with only the model name replaced and, when the gateway
    // accounts for usage, a stream's usage asked for; or the body translated into a dialect the
    // upstream speaks.
    plan_ = plan_for(request_.endpoint, upstream.config().dialects);
    if (!plan_.servable) {
        scratch_.error = ApiError::invalid_request(
            "deployment '" + deployment.name + "' does not serve " + std::string(parse::path_of(request_.endpoint)) +
                " (upstream type " + std::string(config::to_string(upstream.config().type)) + ")",
            std::nullopt, "unsupported_endpoint");
        co_return Result::unserved;
    }
    const bool add_usage = !plan_.translate && request_.account_usage && request_.facts.stream &&
                           !request_.facts.include_usage && parse::has_stream_options(request_.endpoint);
    parse::ForwardBody& body = scratch_.body;
    if (plan_.translate) {
        if (auto error = translate_request(deployment, upstream)) {
            scratch_.error = std::move(*error);
            co_return Result::unserved;
        }
        body.count = 1;
        body.parts[0] = scratch_.translated;
    } else {
        parse::forward_body(body, request_.body, request_.facts, deployment.model, add_usage);
    }
    scratch_.answer = {.model = request_.facts.model,
                       .now = unix_now(),
                       .id_seed = request_.request_id,
                       .stream_usage = request_.facts.include_usage,
                       .request = scratch_.request.get()};
    build_upstream_head(upstream, body.size());
    auto& request_buffers = scratch_.request_buffers;
    request_buffers = {asio::buffer(caller_.head)};
    for (std::size_t i = 0; i < body.count; ++i) request_buffers[i + 1] = asio::buffer(body.parts[i]);
    start_deadline(limits.until(timeouts.first_byte, start_));  // for the write and the response head
    auto [write_ec, written] = co_await connection.on_socket<Transferred>(
        [&](auto& stream, auto handler) { asio::async_write(stream, request_buffers, std::move(handler)); });
    if (write_ec) {
        end_deadline(write_ec);
        if (connection.reused && is_stale_connection_error(write_ec)) co_return Result::stale;
        fail(upstream, write_ec, "accept the request", limits, timeouts.first_byte);
        co_return Result::failed_before_response;
    }

    // Receive the head.
    ResponseParser& parser = scratch_.parser.emplace(std::piecewise_construct, std::make_tuple(),
                                                     std::make_tuple(wire::ArenaAllocator<char>(caller_.head_arena)));
    parser.header_limit(64 * 1024);
    parser.body_limit(boost::none);
    boost::system::error_code head_ec;
    while ((head_ec = wire::feed(connection.buffer, parser, wire::ReadUntil::header)) == http::error::need_more) {
        auto [read_ec, n] = co_await connection.on_socket<Transferred>([&](auto& stream, auto handler) {
            stream.async_read_some(connection.buffer.prepare(wire::read_size(connection.buffer)), std::move(handler));
        });
        head_ec = wire::take_read(connection.buffer, parser, read_ec, n);
        if (head_ec) break;
    }
    end_deadline(head_ec);
    last_bytes_ = Clock::now();
    if (head_ec) {
        if (connection.reused && !parser.got_some() && is_stale_connection_error(head_ec)) co_return Result::stale;
        fail(upstream, head_ec, "send response headers", limits, timeouts.first_byte);
        co_return Result::failed_before_response;
    }

    Framing framing;
    if (const auto result = accept_head(upstream, lease, outcome, may_retry, framing)) co_return *result;
    framing.add_usage = add_usage;
    co_return co_await relay(connection, lease, upstream, outcome, limits, framing);
}

std::optional<Exchange::Result> Exchange::accept_head(const upstream::Upstream& upstream, route::Lease& lease,
                                                      Outcome& outcome, bool may_retry, Framing& framing) {
    const ResponseParser& parser = *scratch_.parser;
    std::string_view content_type;
    std::string_view retry_after;
    if (!read_head(upstream, parser, content_type, retry_after)) return Result::failed_before_response;
    framing.chunked = !parser.content_length().has_value() && !parser.is_done();
    framing.event_stream = content_type.starts_with("text/event-stream");
    outcome.status = static_cast<int>(parser.get().result_int());
    if (outcome.status == 429) retry_after_ = parse_retry_after(retry_after);
    if (may_retry && (outcome.status >= 500 || outcome.status == 429)) {
        const std::string where = upstream_label(config_, upstream.config());
        scratch_.error = outcome.status == 429
                             ? ApiError::upstream(429, where + " is rate-limiting requests", "upstream_rate_limited")
                             : ApiError::upstream(502, where + " answered HTTP " + std::to_string(outcome.status),
                                                  "upstream_error");
        if (outcome.status == 429 && retry_after_) scratch_.error->retry_after = retry_after_->count();
        return Result::retry_status;  // the connection is dropped with its unread body
    }
    // A 429 or a 5xx passed on settles the deployment's verdict (its cooldown, its breaker) before the
    // caller sees any of it: the caller's next request, perhaps on another I/O thread, finds it.
    if (outcome.status == 429 || outcome.status >= 500) {
        router_.report(lease, verdict_of(outcome.status, false), {}, retry_after_);
    }
    framing.translated = plan_.translate;
    if (!framing.translated) build_response_head(parser, lease, framing.chunked);
    return std::nullopt;
}

std::size_t Exchange::take_buffered(Connection& connection, std::size_t room, boost::system::error_code& read_ec) {
    ResponseParser& parser = *scratch_.parser;
    while (!parser.is_done() && connection.buffer.size() > 0 && parser.get().body().size > 0) {
        boost::system::error_code put_ec;
        const std::size_t used = parser.put(connection.buffer.data(), put_ec);
        connection.buffer.consume(used);
        if (put_ec == http::error::need_more || put_ec == http::error::need_buffer) break;
        if (put_ec) {
            read_ec = put_ec;
            break;
        }
        if (used == 0) break;
    }
    return room - parser.get().body().size;
}

std::size_t Exchange::compose_write(bool head_sent, bool chunked, bool done, const char* data, std::size_t send,
                                    const wire::ChunkHeader& chunk_header) {
    auto& pieces = scratch_.pieces;
    pieces = {};
    std::size_t n = 0;
    if (!head_sent) pieces[n++] = asio::buffer(caller_.head);
    if (send > 0) {
        if (chunked) pieces[n++] = asio::buffer(chunk_header.view());
        pieces[n++] = asio::buffer(data, send);
        if (chunked) pieces[n++] = asio::buffer(wire::kCrlf);
    }
    if (done && chunked) pieces[n++] = asio::buffer(wire::kLastChunk);
    return n;
}

asio::awaitable<Exchange::Result> Exchange::relay(Connection& connection, route::Lease& lease,
                                                  upstream::Upstream& upstream, Outcome& outcome, const Limits& limits,
                                                  Framing framing) {
    // Relay the body as it arrives: parse what is buffered into the caller's relay buffer and read
    // from the upstream only when that yields nothing, so events that arrived together leave in
    // one write. No allocation per event.
    //
    // When the gateway accounts for usage, a stream goes out in whole SSE events (an unfinished one
    // waits at the start of the buffer for its end) so that the usage event can be read, and cut
    // when the caller did not ask for it; another body is copied aside to read its usage.
    if (framing.translated) co_return co_await relay_translated(connection, lease, upstream, outcome, limits, framing);
    const Looking looking = start_looking(outcome, framing);
    char* const data = caller_.relay.data();
    const std::size_t capacity = caller_.relay.size();
    bool head_sent = false;
    std::size_t carry = 0;  // unsent bytes at the start of the buffer: an unfinished event
    // A keep-alive event may go between the stream's events, never inside one.
    const bool may_keepalive = framing.event_stream && framing.chunked && outcome.status / 100 == 2;
    bool between_events = true;
    while (true) {
        boost::system::error_code read_ec;
        arm_keepalive(may_keepalive && between_events);
        const std::size_t got = co_await read_body(connection, data + carry, capacity - carry, limits, read_ec);
        if (woke(got, read_ec)) {
            if (!co_await send_keepalive(lease, outcome, head_sent, false)) co_return Result::done;
            continue;
        }
        const bool done = scratch_.parser->is_done() && !read_ec;
        if (read_ec && !head_sent && got == 0) {
            fail(upstream, read_ec, "send the response body", limits, limits.timeouts().idle);
            co_return Result::failed_before_response;
        }
        if (done || read_ec) upstream_end_ = Clock::now();  // the upstream's part is over

        std::size_t length = carry + got;
        const std::size_t send = look_at(looking, data, carry, got, done, static_cast<bool>(read_ec), length);
        if (done) {
            if (looking.keep_answer) keep(caller_.capture);
            settle_answer(lease, outcome, looking.capture);
        }
        const wire::ChunkHeader chunk_header(send);
        if (compose_write(head_sent, framing.chunked, done, data, send, chunk_header) > 0) {
            auto [caller_ec, sent] = co_await write_to_caller(caller_, scratch_.pieces);
            if (caller_ec) {
                caller_left(outcome, caller_ec);
                settle_usage(outcome, looking.capture);
                co_return Result::done;
            }
            note_answered();
            head_sent = true;
            if (send > 0) {
                const std::string_view sent_bytes(data, send);
                between_events = sent_bytes.ends_with("\n\n") || sent_bytes.ends_with("\r\n\r\n");
            }
        }
        carry = length - send;
        if (carry > 0) std::memmove(data, data + send, carry);
        if (done) break;
        if (read_ec) {
            // The response broke after it began.
            fail(upstream, read_ec, "finish the response", limits, limits.timeouts().idle);
            co_await end_broken(outcome, framing, looking.capture);
            co_return Result::done;
        }
    }
    reusable_ = scratch_.parser->keep_alive() && connection.buffer.size() == 0;
    co_return Result::done;
}

Exchange::Looking Exchange::start_looking(const Outcome& outcome, const Framing& framing) {
    // A stream relayed unchanged is read for its usage: a chat stream in place (StreamScanner),
    // another dialect's by its reader.
    if (request_.account_usage && framing.event_stream) {
        const translate::Dialect dialect = parse::dialect_of(request_.endpoint);
        if (dialect == translate::Dialect::chat) {
            scratch_.scanner.emplace(framing.add_usage);
            if (caller_.stream_text != nullptr) scratch_.scanner->keep_text(caller_.stream_text, caller_.stream_text_limit);
        } else {
            scratch_.stream.emplace(dialect, std::nullopt, caller_.json, scratch_.answer);
        }
    }
    Looking looking;
    looking.keep_answer = caller_.answer != nullptr && outcome.status / 100 == 2;
    looking.capture =
        (request_.account_usage || looking.keep_answer) && !framing.event_stream && outcome.status / 100 == 2;
    if (looking.capture) caller_.capture.clear();
    if (looking.keep_answer && framing.event_stream) scratch_.completed.emplace();
    return looking;
}

std::size_t Exchange::look_at(const Looking& looking, char* data, std::size_t carry, std::size_t got, bool done,
                              bool broke, std::size_t& length) {
    std::optional<usage::StreamScanner>& scanner = scratch_.scanner;
    std::optional<translate::StreamTranslator>& reader = scratch_.stream;
    std::size_t send = length;
    if (scanner) {
        const std::size_t ready = scanner->feed(data, length);
        // At the end, or when one event fills the buffer, everything goes as it is.
        send = (done || broke || length == caller_.relay.size()) ? length : ready;
    } else if (reader) {
        reader->feed(std::string_view(data + carry, got), scratch_.out);  // (read only: writes nothing)
        if (done) reader->end(scratch_.out);
    } else if (looking.capture && caller_.capture.size() < kMaxCapture) {
        caller_.capture.append(data + carry, got);
    }
    // Time to first token: a stream's first content event when it is read event by event, else
    // the first body byte.
    const std::int64_t content_events = scanner ? scanner->content_events() : reader ? reader->content_events() : 0;
    if (first_byte_.count() == 0 && (done || ((scanner || reader) ? content_events > 0 : got > 0))) {
        first_byte_ = upstream_end(Clock::now()) - start_;
    }
    if (scratch_.completed) scratch_.completed->feed(std::string_view(data, send));
    return send;
}

void Exchange::settle_answer(route::Lease& lease, Outcome& outcome, bool captured) {
    router_.report(lease, verdict_of(outcome.status, false), first_byte_, retry_after_);
    settle_usage(outcome, captured);
    if (caller_.usage_sink != nullptr && request_.account_usage) {
        caller_.usage_sink->settled(lease.deployment(), outcome.usage);
    }
}

asio::awaitable<void> Exchange::end_broken(Outcome& outcome, const Framing& framing, bool captured) {
    broken_ = true;
    outcome.error = scratch_.error->message;
    settle_usage(outcome, captured);
    // A stream ends with an SSE error event the clients raise; any other body can only be cut by
    // closing the connection.
    // (No co_await inside a condition: GCC 12 miscompiles it.)
    bool ended = false;
    if (framing.chunked && framing.event_stream) ended = co_await end_stream_with_error();
    if (!ended) outcome.caller_reusable = false;
}

asio::awaitable<bool> Exchange::send_keepalive(route::Lease& lease, Outcome& outcome, bool& head_sent,
                                               bool translated) {
    if (translated && !head_sent) build_translated_head(lease, outcome.status, "text/event-stream", std::nullopt);
    const std::string_view event = translate::keepalive_event(parse::dialect_of(request_.endpoint));
    const wire::ChunkHeader chunk_header(event.size());
    compose_write(head_sent, true, false, event.data(), event.size(), chunk_header);
    auto [caller_ec, sent] = co_await write_to_caller(caller_, scratch_.pieces);
    if (caller_ec) {
        caller_left(outcome, caller_ec);
        settle_usage(outcome, false);
        co_return false;
    }
    head_sent = true;
    last_keepalive_ = Clock::now();
    co_return true;
}

asio::awaitable<std::size_t> Exchange::read_body(Connection& connection, char* into, std::size_t room,
                                                 const Limits& limits, boost::system::error_code& read_ec) {
    ResponseParser& parser = *scratch_.parser;
    if (parser.is_done()) co_return 0;
    parser.get().body().data = into;
    parser.get().body().size = room;
    while (true) {
        const std::size_t got = take_buffered(connection, room, read_ec);
        if (got > 0 || parser.is_done() || read_ec) co_return got;
        // The upstream's idle timeout counts from the last bytes it sent, however often the read
        // wakes for a keep-alive.
        const Clock::time_point idle_end = limits.until(limits.timeouts().idle, last_bytes_);
        const bool may_wake = wake_ < idle_end;
        start_deadline(std::min(idle_end, wake_));
        auto [ec, n] = co_await connection.on_socket<Transferred>([&](auto& stream, auto handler) {
            stream.async_read_some(connection.buffer.prepare(16 * 1024), std::move(handler));
        });
        end_deadline(ec);
        connection.buffer.commit(n);
        if (n > 0) last_bytes_ = Clock::now();
        if (ec == beast::error::timeout && may_wake && Clock::now() < idle_end) co_return 0;  // woke
        if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
            boost::system::error_code eof_ec;
            parser.put_eof(eof_ec);
            if (eof_ec) read_ec = eof_ec;
            if (!parser.is_done() && !read_ec) read_ec = ec;
            co_return 0;
        }
        if (ec) {
            read_ec = ec;
            co_return 0;
        }
    }
}

std::optional<int> Exchange::translate_whole(const upstream::Upstream& upstream, int status) {
    const translate::Dialect from = parse::dialect_of(plan_.endpoint);
    const translate::Dialect to = parse::dialect_of(request_.endpoint);
    std::string& out = scratch_.out;
    out.clear();
    if (status / 100 == 2) {
        translate::Response response;
        if (!translate::read_response(from, caller_.capture, response)) {
            scratch_.error = ApiError::upstream(502,
                                                upstream_label(config_, upstream.config()) + " answered a body that is not a " +
                                                    std::string(translate::to_string(from)) + " API answer",
                                                "upstream_error");
            return std::nullopt;
        }
        translate::write_response(to, response, scratch_.answer, out);
        return status;
    }
    // An error: in the caller's shape, with the status its API gives it (Anthropic's 529 overloaded
    // is a 503 to an OpenAI client).
    translate::Error error;
    translate::Arena arena;
    if (!translate::read_error(from, caller_.capture, status, error)) {
        error = translate::from_api_error(
            ApiError::upstream(status, upstream_label(config_, upstream.config()) + " answered HTTP " +
                                           std::to_string(status), "upstream_error"),
            arena);
    }
    if (status == 529 && to != translate::Dialect::messages) status = 503;
    error.status = status;
    translate::write_error(to, error, out);
    return status;
}

asio::awaitable<Exchange::Result> Exchange::relay_translated(Connection& connection, route::Lease& lease,
                                                             upstream::Upstream& upstream, Outcome& outcome,
                                                             const Limits& limits, Framing framing) {
    // A stream goes event by event through the translator (each read's events leave in one chunk);
    // any other answer is read whole, then translated, so a failure before its end can still be
    // retried elsewhere.
    if (!framing.event_stream || outcome.status / 100 != 2) {
        co_return co_await relay_whole_translated(connection, lease, upstream, outcome, limits);
    }
    char* const data = caller_.relay.data();
    const std::size_t capacity = caller_.relay.size();
    std::string& out = scratch_.out;
    translate::StreamTranslator& translator = scratch_.stream.emplace(
        parse::dialect_of(plan_.endpoint), parse::dialect_of(request_.endpoint), caller_.json, scratch_.answer);
    if (caller_.answer != nullptr) scratch_.completed.emplace();
    bool head_sent = false;
    while (true) {
        boost::system::error_code read_ec;
        arm_keepalive(true);
        const std::size_t got = co_await read_body(connection, data, capacity, limits, read_ec);
        if (woke(got, read_ec)) {
            if (!co_await send_keepalive(lease, outcome, head_sent, true)) co_return Result::done;
            continue;
        }
        const bool done = scratch_.parser->is_done() && !read_ec;
        if (done || read_ec) upstream_end_ = Clock::now();
        out.clear();
        translator.feed(std::string_view(data, got), out);
        if (done) translator.end(out);
        if (read_ec && !head_sent && out.empty()) {
            fail(upstream, read_ec, "send the response body", limits, limits.timeouts().idle);
            co_return Result::failed_before_response;
        }
        if (read_ec) {
            // The stream broke after it began: the caller's dialect's error event ends it.
            fail(upstream, read_ec, "finish the response", limits, limits.timeouts().idle);
            broken_ = true;
            outcome.error = scratch_.error->message;
            translate::Arena arena;
            translator.fail(translate::from_api_error(*scratch_.error, arena), out);
        }
        if (first_byte_.count() == 0 && (done || translator.content_events() > 0)) {
            first_byte_ = upstream_end(Clock::now()) - start_;
        }
        if (!head_sent) build_translated_head(lease, outcome.status, "text/event-stream", std::nullopt);
        if (scratch_.completed) scratch_.completed->feed(out);
        if (done) {
            if (caller_.answer != nullptr) keep(std::string_view());
            settle_answer(lease, outcome, false);
        }
        const wire::ChunkHeader chunk_header(out.size());
        if (compose_write(head_sent, true, done || read_ec, out.data(), out.size(), chunk_header) > 0) {
            auto [caller_ec, sent] = co_await write_to_caller(caller_, scratch_.pieces);
            if (caller_ec) caller_left(outcome, caller_ec);
            if (!caller_ec) note_answered();
            if (caller_ec || read_ec) {
                settle_usage(outcome, false);
                co_return Result::done;
            }
            head_sent = true;
        }
        if (done) break;
    }
    reusable_ = scratch_.parser->keep_alive() && connection.buffer.size() == 0;
    co_return Result::done;
}

asio::awaitable<Exchange::Result> Exchange::relay_whole_translated(Connection& connection, route::Lease& lease,
                                                                   upstream::Upstream& upstream, Outcome& outcome,
                                                                   const Limits& limits) {
    char* const data = caller_.relay.data();
    const std::size_t capacity = caller_.relay.size();
    caller_.capture.clear();
    while (true) {
        boost::system::error_code read_ec;
        const std::size_t got = co_await read_body(connection, data, capacity, limits, read_ec);
        if (read_ec) {
            upstream_end_ = Clock::now();
            fail(upstream, read_ec, "send the response body", limits, limits.timeouts().idle);
            co_return Result::failed_before_response;
        }
        if (caller_.capture.size() + got > kMaxTranslated) {
            scratch_.error = ApiError::upstream(
                502, upstream_label(config_, upstream.config()) + " answered more than " +
                         std::to_string(kMaxTranslated >> 20) + " MiB, the most the gateway translates whole",
                "upstream_error");
            co_return Result::failed_before_response;
        }
        caller_.capture.append(data, got);
        if (scratch_.parser->is_done()) break;
    }
    upstream_end_ = Clock::now();
    first_byte_ = upstream_end_ - start_;
    const std::optional<int> status = translate_whole(upstream, outcome.status);
    if (!status) co_return Result::failed_before_response;
    const std::string& out = scratch_.out;
    build_translated_head(lease, *status, "application/json", out.size());
    if (caller_.answer != nullptr && *status / 100 == 2) caller_.answer->answered(out);
    // Settled with the upstream's status; the caller may get another (Anthropic's 529 is a 503).
    settle_answer(lease, outcome, true);
    outcome.status = *status;
    const std::array<asio::const_buffer, 2> pieces{asio::buffer(caller_.head), asio::buffer(out)};
    auto [caller_ec, sent] = co_await write_to_caller(caller_, pieces);
    if (caller_ec) caller_left(outcome, caller_ec);
    reusable_ = scratch_.parser->keep_alive() && connection.buffer.size() == 0;
    co_return Result::done;
}

asio::awaitable<Outcome> write_error(CallerSide& caller, const CallerRequest& request, const ApiError& error,
                                     std::string_view upstream_name) {
    Outcome outcome;
    outcome.status = error.status;
    outcome.error = error.message;
    const std::string bytes = wire::serialize(
        wire::error_response(error, upstream_name, parse::error_shape(request.endpoint)), request.request_id,
        request.keep_alive);
    auto [ec, sent] = co_await write_to_caller(caller, asio::buffer(bytes));
    if (ec) outcome.caller_reusable = false;
    co_return outcome;
}

ApiError connect_failure(const config::Gateway& config, const config::Upstream& up,
                         const upstream::ConnectError& connect_error) {
    const std::string where = upstream_label(config, up);
    if (connect_error.stage == "limit") {
        return ApiError::upstream(
            503, where + " has all of its " + std::to_string(up.max_connections) + " connections busy",
            "upstream_saturated");
    }
    if (is_timeout(connect_error.code)) {
        return ApiError::upstream(504, where + " did not accept a connection within " + duration_text(up.timeouts.connect),
                                  "upstream_timeout");
    }
    return ApiError::upstream(
        502, where + " is unreachable (" + connect_error.stage + ": " + connect_error.code.message() + ")",
        "upstream_unavailable");
}

// The pause before retry number `retry` (1-based): full jitter over an exponential ceiling.
Clock::duration backoff(const config::Retries& retries, unsigned retry) {
    const auto base = std::chrono::duration_cast<std::chrono::nanoseconds>(retries.backoff_base);
    const auto cap = std::chrono::duration_cast<std::chrono::nanoseconds>(retries.backoff_max);
    auto ceiling = base * (std::int64_t{1} << std::min(retry - 1, 20u));
    ceiling = std::min(ceiling, cap);
    if (ceiling.count() <= 0) return {};
    return std::chrono::nanoseconds(static_cast<std::int64_t>(route::next_random() % static_cast<std::uint64_t>(ceiling.count())));
}

// Where a request's time went in the forward stage, over its attempts.
struct Spent {
    std::chrono::nanoseconds upstream{};
    std::chrono::nanoseconds waited{};
    void into(Outcome& outcome) const {
        outcome.upstream_time = upstream;
        outcome.waited = waited;
    }
    // The gateway's own time from the request's arrival to `now`.
    double overhead_ms(const CallerRequest& request, Clock::time_point now) const {
        if (!request.report_overhead) return 0;
        const auto own = (now - request.arrived) - upstream - waited - request.waited_before;
        return std::max(0.0, std::chrono::duration<double, std::milli>(own).count());
    }
};

// What the attempts so far leave for the next, and for the answer when none serves.
struct Tries {
    boost::container::small_vector<std::size_t, 4> tried;  // deployments, by id
    std::optional<ApiError> last_error;
    const config::Deployment* last_deployment = nullptr;
    const config::Model* last_model = nullptr;
    unsigned attempt = 0;
    Spent spent;

    void begin(const route::Lease& lease) {
        tried.push_back(lease.deployment().id);
        last_deployment = &lease.deployment();
        last_model = &lease.model();
        ++attempt;
    }
    // The outcome of the attempt in progress, before its exchange.
    Outcome outcome() const {
        Outcome outcome;
        outcome.deployment = last_deployment;
        outcome.served_by = last_model;
        outcome.attempts = attempt;
        return outcome;
    }
    // The caller went away between attempts.
    Outcome gone() const {
        Outcome outcome = this->outcome();
        spent.into(outcome);
        outcome.status = 499;
        outcome.caller_reusable = false;
        outcome.error = "caller went away";
        return outcome;
    }
};

// An exchange that ended (not stale) is settled with the router and the pool: true when `outcome`
// is the answer (the caller has it), false to try elsewhere (tries.last_error says why).
bool settle(route::Router& router, Exchange::Result result, const Exchange& exchange, const CallerRequest& request,
            route::Lease& lease, upstream::Pool& pool, std::unique_ptr<Connection>& connection, const Outcome& outcome,
            Tries& tries) {
    switch (result) {
        case Exchange::Result::done:
            // (A no-op when the exchange reported already: every response but a broken one.)
            router.report(lease, verdict_of(outcome.status, exchange.broken()), exchange.first_byte(),
                          exchange.retry_after());
            if (request.account_usage) {
                const double used = static_cast<double>(outcome.usage.prompt + outcome.usage.completion);
                router.correct_tokens(lease, used - request.estimated_tokens);
            }
            if (exchange.reusable()) pool.release(std::move(connection));
            return true;
        case Exchange::Result::retry_status:
            router.report(lease, verdict_of(outcome.status, false), {}, exchange.retry_after());
            break;
        case Exchange::Result::failed_before_response: router.report(lease, route::Verdict::failure); break;
        case Exchange::Result::unserved:
            // Nothing was sent: the deployment is not at fault, and the connection is as it was.
            router.report(lease, route::Verdict::none);
            pool.release(std::move(connection));
            break;
        case Exchange::Result::stale: break;
    }
    tries.last_error = exchange.error();
    return false;
}

}  // namespace

bool counts_natively(const config::Gateway& config, const config::Model& model, parse::Endpoint endpoint) {
    const config::DialectSet wanted = config::dialect_bit(parse::dialect_of(endpoint));
    const auto any_counts = [&](const config::Model& m) {
        return std::any_of(m.deployments.begin(), m.deployments.end(), [&](const config::Deployment& deployment) {
            return (config.upstreams[deployment.upstream].dialects & wanted) != 0;
        });
    };
    if (any_counts(model)) return true;
    return std::any_of(model.fallback_index.begin(), model.fallback_index.end(),
                       [&](std::size_t index) { return any_counts(config.models[index]); });
}

asio::awaitable<Outcome> answer_count_estimate(const CallerRequest& request, CallerSide caller) {
    Outcome outcome;  // (no usage: counting generates nothing and is billed nothing)
    outcome.status = 200;
    wire::LocalResponse response;
    response.body = request.endpoint == parse::Endpoint::input_tokens ? R"({"object":"response.input_tokens",)" : "{";
    response.body += R"("input_tokens":)" + std::to_string(usage::estimate_tokens(request.body)) + "}";
    response.extra_headers = "x-switchyard-estimated: true\r\n";
    response.anthropic = parse::error_shape(request.endpoint) == ErrorShape::anthropic;
    const std::string bytes = wire::serialize(response, request.request_id, request.keep_alive);
    auto [ec, sent] = co_await write_to_caller(caller, asio::buffer(bytes));
    if (ec) outcome.caller_reusable = false;
    co_return outcome;
}

void sweep(asio::ip::tcp::socket& caller, const std::shared_ptr<Watch>& watch, SteadyTime now) {
    if (watch->done) return;
    if (!watch->armed) {
        watch->armed = true;
        watch_caller(caller, watch);
    }
    if (now >= watch->upstream_deadline && watch->active != nullptr) {
        watch->upstream_timed_out = true;
        watch->upstream_deadline = SteadyTime::max();
        boost::system::error_code ignored;
        watch->active->tcp().socket().cancel(ignored);
    }
}

asio::awaitable<Outcome> Forwarder::run(const CallerRequest& request, CallerSide caller) {
    // The request as read for translation views this request's body: never a previous one's.
    caller.scratch.request.reset();
    auto watch = std::make_shared<Watch>();
    caller.watch = watch;  // swept by the connection's owner while the request lasts
    Outcome outcome = co_await attempts(request, caller, *watch);
    caller.watch.reset();
    watch->done = true;
    watch->stop.emit(asio::cancellation_type::terminal);
    if (watch->caller_gone && watch->answered) {
        outcome.caller_reusable = false;  // it has the whole answer: served, with the upstream's status
        outcome.error.clear();
    } else if (watch->caller_gone) {
        outcome.status = 499;  // nginx's "client closed request"
        outcome.caller_reusable = false;
        outcome.error = "caller went away; upstream request closed";
    }
    co_return outcome;
}

namespace {
// What the prefix-affinity strategy decides with: the prompt's blocks, and the caller's session
// header (x-session-id) when it sent one, which outweighs the body's own keys.
route::Hints route_hints(const CallerRequest& request) {
    route::Hints hints{&request.facts.prefix, 0, request.local_only, request.batch};
    hints.key = request.key;
    if (auto it = request.headers.find("x-session-id"); it != request.headers.end() && !it->value().empty()) {
        const std::string_view value(it->value().data(), it->value().size());
        hints.session = parse::hash_bytes(value, 0x6b6579) | 1;
    }
    return hints;
}
}  // namespace

asio::awaitable<Outcome> Forwarder::attempts(const CallerRequest& request, CallerSide& caller, Watch& watch) {
    route::RetryBudget& budget = router_.retry_budget();
    budget.on_request(router_.clock().now());
    Tries tries;
    // Each way out of the loop but a response gives up with the last error (one co_await of
    // write_error: each would keep its result in this coroutine's frame).
    while (true) {
        if (tries.attempt > 0) {
            // Another attempt: only within the attempts allowed, the budget and the deadline.
            if (!may_try_again(request, tries.attempt)) break;
            const auto pause =
                std::min<Clock::duration>(backoff(config_.retries, tries.attempt), request.deadline - Clock::now());
            if (pause > Clock::duration::zero()) {
                const auto paused = Clock::now();
                asio::steady_timer timer(co_await asio::this_coro::executor, pause);
                co_await timer.async_wait(await_tuple);
                tries.spent.waited += Clock::now() - paused;
            }
            if (watch.caller_gone) co_return tries.gone();
        }
        route::Router::Pick pick = router_.pick(*request.model, tries.tried, request.estimated_tokens,
                                                route_hints(request));
        std::variant<route::Lease, ApiError> picked;
        if (pick.must_wait()) {
            const auto queued = Clock::now();
            picked = co_await router_.wait(pick, request.deadline);
            tries.spent.waited += Clock::now() - queued;
        } else {
            picked = std::move(pick.result());
        }
        if (auto* error = std::get_if<ApiError>(&picked)) {
            // After a failed attempt the upstream's error says more than "nothing else is left".
            if (!tries.last_error) tries.last_error = std::move(*error);
            break;
        }
        route::Lease lease = std::move(std::get<route::Lease>(picked));
        tries.begin(lease);
        if (watch.caller_gone) co_return tries.gone();

        upstream::Pool& pool = *pools_[lease.deployment().upstream];
        bool allow_reuse = true;
        bool retry = false;
        const auto attempt_start = Clock::now();
        const double overhead_ms = tries.spent.overhead_ms(request, attempt_start);
        for (int connect_try = 0; connect_try < 2 && !retry; ++connect_try) {
            std::variant<std::unique_ptr<Connection>, upstream::ConnectError> acquired =
                allow_reuse ? pool.take_idle() : nullptr;
            if (std::get<std::unique_ptr<Connection>>(acquired) == nullptr) acquired = co_await pool.acquire(false);
            if (auto* connect_error = std::get_if<upstream::ConnectError>(&acquired)) {
                tries.spent.upstream += Clock::now() - attempt_start;
                router_.report(lease, connect_error->stage == "limit" ? route::Verdict::none : route::Verdict::failure);
                tries.last_error = connect_failure(config_, pool.upstream().config(), *connect_error);
                retry = true;  // nothing was sent
                break;
            }
            auto connection = std::move(std::get<std::unique_ptr<Connection>>(acquired));
            if (watch.caller_gone) co_return tries.gone();
            Outcome outcome = tries.outcome();
            const bool may_retry = tries.attempt < config_.retries.attempts &&
                                   router_.has_alternative(*request.model, tries.tried) &&
                                   budget.can_retry(router_.clock().now());
            Exchange exchange(config_, router_, request, caller, watch, overhead_ms);
            watch.active = connection.get();
            const auto result = co_await exchange.run(*connection, lease, pool.upstream(), outcome, may_retry);
            watch.active = nullptr;
            if (result == Exchange::Result::stale) {
                allow_reuse = false;
                continue;
            }
            tries.spent.upstream += exchange.upstream_end(Clock::now()) - attempt_start;
            tries.spent.into(outcome);
            if (watch.caller_gone) {
                router_.report(lease, route::Verdict::none);
                co_return outcome;  // Forwarder::run marks it 499
            }
            if (settle(router_, result, exchange, request, lease, pool, connection, outcome, tries)) co_return outcome;
            retry = true;
        }
        if (!retry) {
            // Two stale connections in a row: the upstream keeps closing them.
            tries.spent.upstream += Clock::now() - attempt_start;
            router_.report(lease, route::Verdict::failure);
            tries.last_error = ApiError::upstream(
                502, upstream_label(config_, pool.upstream().config()) + " closed the connection before answering",
                "upstream_error");
        }
    }
    // (Named first: GCC 12 mishandles temporaries of a conditional inside a co_await expression.)
    const std::string_view name = tries.last_deployment != nullptr ? std::string_view(tries.last_deployment->name) : "";
    Outcome failed = co_await write_error(caller, request, *tries.last_error, name);
    failed.deployment = tries.last_deployment;
    failed.served_by = tries.last_model;
    failed.attempts = tries.attempt;
    tries.spent.into(failed);
    co_return failed;
}

bool Forwarder::may_try_again(const CallerRequest& request, unsigned attempt) {
    if (attempt >= config_.retries.attempts || Clock::now() >= request.deadline) return false;
    if (!router_.retry_budget().try_retry(router_.clock().now())) {
        router_.counters().budget_exhausted.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    router_.counters().retries.fetch_add(1, std::memory_order_relaxed);
    return true;
}

}  // namespace switchyard::forward
