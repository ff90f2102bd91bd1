#include "loadgen/client.hpp"

#include <openssl/ssl.h>

#include <charconv>
#include <stdexcept>

#include "core/await.hpp"

namespace switchyard::loadgen {

Target make_target(const TargetOptions& options) {
    std::string why;
    auto url = parse_url(options.base_url, &why);
    if (!url) throw std::runtime_error("base URL '" + options.base_url + "' " + why);
    Target target;
    target.url = *url;

    asio::io_context io;
    tcp::resolver resolver(io);
    boost::system::error_code ec;
    const auto results = resolver.resolve(url->host, std::to_string(url->port), ec);
    if (ec) throw std::runtime_error("cannot resolve '" + url->host + "': " + ec.message());
    for (const auto& entry : results) target.endpoints.push_back(entry.endpoint());
    if (target.endpoints.empty()) throw std::runtime_error("'" + url->host + "' has no address");

    if (url->tls) {
        target.tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
        target.verify = !options.insecure;
        if (options.insecure) {
            target.tls->set_verify_mode(asio::ssl::verify_none);
        } else {
            boost::system::error_code tls_ec;
            if (options.ca_file.empty()) {
                target.tls->set_default_verify_paths(tls_ec);
            } else {
                target.tls->load_verify_file(options.ca_file, tls_ec);
            }
            if (tls_ec) throw std::runtime_error("cannot load CA certificates: " + tls_ec.message());
            target.tls->set_verify_mode(asio::ssl::verify_peer);
        }
    }

    std::string& head = target.head_prefix;
    head = "POST " + url->api_base + options.path + " HTTP/1.1\r\nHost: " + url->host_header() +
           "\r\nUser-Agent: switchyard-bench/0.1\r\nAccept: text/event-stream, application/json\r\n"
           "Content-Type: application/json\r\n";
    if (!options.api_key.empty()) head += "Authorization: Bearer " + options.api_key + "\r\n";
    for (const auto& header : options.headers) head += header + "\r\n";
    head += "Content-Length: ";
    return target;
}

Connection::Connection(asio::io_context& io, const Target& target) : io_(io), target_(target) {}

bool Connection::is_open() const {
    if (tls_) return tls_->lowest_layer().is_open();
    return plain_ && plain_->is_open();
}

void Connection::close() {
    boost::system::error_code ignored;
    if (tls_) tls_->lowest_layer().close(ignored);
    if (plain_) plain_->close(ignored);
}

void Connection::expire() {
    timed_out = true;
    close();
}

asio::awaitable<boost::system::error_code> Connection::connect() {
    close();
    tls_.reset();
    plain_.reset();
    tcp::socket* socket = nullptr;
    if (target_.tls) {
        tls_.emplace(io_, *target_.tls);
        socket = &tls_->next_layer();
    } else {
        plain_.emplace(io_);
        socket = &*plain_;
    }
    auto [ec, endpoint] = co_await asio::async_connect(*socket, target_.endpoints, await_tuple);
    if (ec) co_return ec;
    socket->set_option(tcp::no_delay(true), ec);
    if (tls_) {
        const std::string& host = target_.url.host;
        boost::system::error_code address_ec;
        asio::ip::make_address(host, address_ec);
        if (address_ec) SSL_set_tlsext_host_name(tls_->native_handle(), host.c_str());  // SNI for names only
        if (target_.verify) tls_->set_verify_callback(asio::ssl::host_name_verification(host));
        auto [handshake_ec] = co_await tls_->async_handshake(asio::ssl::stream_base::client, await_tuple);
        if (handshake_ec) co_return handshake_ec;
    }
    co_return boost::system::error_code{};
}

namespace {

double ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

void take_usage(RequestRecord& record, const Usage& usage) {
    record.usage = true;
    record.input_tokens = usage.prompt_tokens;
    record.output_tokens = usage.completion_tokens;
    record.cached_tokens = usage.cached_tokens;
}

}  // namespace

// One attempt's response as its bytes arrive: the HTTP framing, then the stream's events (first
// token, the gaps between tokens, usage) or the whole body. It lives in exchange's coroutine
// frame and reuses the connection's Scratch: nothing of its own is allocated per request.
struct Connection::ResponseRead {
    Scratch& x;
    const Context& ctx;
    RequestRecord& record;
    const Clock::time_point start;
    Clock::time_point now{};  // when the bytes being fed arrived
    Clock::time_point last_token{};
    bool any_bytes = false;
    bool stream_error = false;

    ResponseRead(Scratch& scratch, const Context& context, RequestRecord& request, Clock::time_point started)
        : x(scratch), ctx(context), record(request), start(started) {
        x.parser.reset();
        x.sse.reset();
        x.response_body.clear();
    }

    void on_event(std::string_view data) {
        const ChunkFacts facts = inspect_chunk(data);
        if (facts.done) return;  // a clean end of the HTTP body is enough; [DONE] is not required
        if (facts.error) {
            stream_error = true;
            return;
        }
        if (facts.token) {
            if (record.ttft_ms < 0) {
                record.ttft_ms = ms_between(start, now);
            } else {
                ctx.itl_ms->push_back(static_cast<float>(ms_between(last_token, now)));
                ++record.itl_count;
            }
            last_token = now;
            if (ctx.collect_reply) x.reply.append(raw_text(data));
        }
        if (facts.usage) {
            if (const auto usage = ctx.usage->read(data)) take_usage(record, *usage);
        }
    }

    void on_body(std::string_view bytes) {
        if (x.parser.status() == 200 && x.parser.event_stream()) {
            x.sse.feed(bytes, [this](std::string_view data) { on_event(data); });
        } else if (x.response_body.size() < 16 * 1024 * 1024) {
            x.response_body.append(bytes);
        }
    }

    // A whole response: its status, and the end of its stream or its body's usage.
    void finish() {
        record.status = static_cast<std::uint16_t>(x.parser.status());
        if (record.status != 200) {
            record.error = ErrorKind::http;
            return;
        }
        if (x.parser.event_stream()) {
            x.sse.finish([this](std::string_view data) { on_event(data); });
            if (stream_error) record.error = ErrorKind::stream_error;
            return;
        }
        if (const auto usage = ctx.usage->read(x.response_body)) {
            take_usage(record, *usage);
        } else if (inspect_chunk(x.response_body).error) {
            record.error = ErrorKind::stream_error;
        }
        if (ctx.collect_reply) x.reply.assign(ctx.usage->message_text(x.response_body));
    }
};

void Connection::begin(Scratch& x, const Context& ctx, RequestRecord& record, Clock::time_point start) {
    record.start_s = std::chrono::duration<double>(start - ctx.t0).count();
    busy = true;
    timed_out = false;
    deadline = start + ctx.timeout;
    x.head.assign(target_.head_prefix);
    char digits[24];
    const auto [digits_end, digits_ec] = std::to_chars(digits, digits + sizeof digits, x.body.size());
    (void)digits_ec;
    x.head.append(digits, digits_end);
    x.head += "\r\n\r\n";
}

void Connection::begin_attempt(Scratch& x, const Context& ctx, RequestRecord& record, std::uint32_t itl_begin) {
    const double start_s = record.start_s;
    const bool warmup = record.warmup;
    const double due_s = record.due_s;
    record = RequestRecord{};
    record.start_s = start_s;
    record.due_s = due_s;
    record.warmup = warmup;
    record.itl_begin = itl_begin;
    ctx.itl_ms->resize(itl_begin);
    x.reply.clear();
    x.error.clear();
}

Connection::ReadEnd Connection::take(ResponseRead& response, std::size_t n) {
    Scratch& x = response.x;
    response.any_bytes = true;
    std::string_view input(buffer_.data(), n);
    std::size_t consumed = 0;
    const auto result = x.parser.feed(input, consumed, [&](std::string_view bytes) { response.on_body(bytes); });
    if (result == ResponseParser::Result::error) {
        response.record.error = ErrorKind::bad_response;
        x.error = x.parser.error();
        close();
        return ReadEnd::failed;
    }
    if (result != ResponseParser::Result::done) return ReadEnd::more;
    if (consumed != input.size() || !x.parser.keep_alive()) close();  // no pipelining: stray bytes
    return ReadEnd::whole;
}

Connection::ReadEnd Connection::read_failed(ResponseRead& response, boost::system::error_code read_ec,
                                            bool may_resend) {
    Scratch& x = response.x;
    RequestRecord& record = response.record;
    const bool eof = read_ec == asio::error::eof || read_ec == asio::ssl::error::stream_truncated;
    close();
    if (eof && x.parser.eof() == ResponseParser::Result::done) return ReadEnd::whole;
    if (!response.any_bytes && may_resend && !timed_out) return ReadEnd::resend;
    if (timed_out) {
        record.error = ErrorKind::timeout;
    } else if (!x.parser.head_complete()) {
        record.error = ErrorKind::closed;
    } else {
        record.error = ErrorKind::broken_stream;
    }
    record.status = static_cast<std::uint16_t>(x.parser.status());
    x.error = x.parser.error().empty() || read_ec != asio::error::eof ? read_ec.message() : x.parser.error();
    return ReadEnd::failed;
}

asio::awaitable<void> Connection::exchange(Scratch& x, const Context& ctx, RequestRecord& record) {
    const auto start = Clock::now();
    begin(x, ctx, record, start);
    const std::array<asio::const_buffer, 2> request{asio::buffer(x.head), asio::buffer(x.body)};
    const auto itl_begin = static_cast<std::uint32_t>(ctx.itl_ms->size());

    for (int attempt = 0;; ++attempt) {
        const bool reused = is_open();
        // A reused keep-alive connection the server closed before answering: once more on a new one.
        const bool may_resend = reused && attempt == 0;
        begin_attempt(x, ctx, record, itl_begin);
        if (!reused) {
            const auto connect_ec = co_await connect();
            if (connect_ec) {
                record.error = timed_out ? ErrorKind::timeout : ErrorKind::connect;
                x.error = connect_ec.message();
                close();
                break;
            }
        }
        auto [write_ec, written] = co_await visit(
            [&](auto& stream) { return asio::async_write(stream, request, await_tuple_framed); });
        (void)written;
        if (write_ec) {
            close();
            if (may_resend && !timed_out) continue;
            record.error = timed_out ? ErrorKind::timeout : ErrorKind::closed;
            x.error = write_ec.message();
            break;
        }

        ResponseRead response(x, ctx, record, start);
        ReadEnd end = ReadEnd::more;
        while (end == ReadEnd::more) {
            auto [read_ec, n] = co_await visit([&](auto& stream) {
                return stream.async_read_some(asio::buffer(buffer_), await_tuple_framed);
            });
            response.now = Clock::now();
            end = read_ec ? read_failed(response, read_ec, may_resend) : take(response, n);
        }
        if (end == ReadEnd::resend) continue;
        record.end_s = std::chrono::duration<double>(response.now - ctx.t0).count();
        if (end == ReadEnd::whole) response.finish();
        break;
    }
    if (record.end_s == 0) record.end_s = std::chrono::duration<double>(Clock::now() - ctx.t0).count();
    busy = false;
}

}  // namespace switchyard::loadgen
