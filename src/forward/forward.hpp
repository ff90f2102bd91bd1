// Stages "forward" and "relay": sends the caller's request to a deployment over a pooled
// keep-alive connection, then relays the upstream's response to the caller as it arrives: SSE
// events are written chunk by chunk from one reused buffer. When the deployment's upstream speaks
// the caller's API (dialect), the body's bytes go unchanged but for the model name; otherwise the
// request is translated into a dialect it speaks and the answer, whole or event by event, back
// into the caller's (stage "translate", src/translate). An attempt that fails before anything reached the caller (connect error,
// timeout, reset, 5xx or 429) is retried on another deployment the router picks, with
// exponential backoff and full jitter, within the retry budget; each attempt's verdict goes back
// to the router. Failures that cannot be retried become 502/504 errors naming the upstream, or an
// SSE error event once a stream has begun.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "core/error.hpp"
#include "http/read.hpp"
#include "parse/request.hpp"
#include "conversation/store.hpp"
#include "route/router.hpp"
#include "translate/stream.hpp"
#include "usage/usage.hpp"
#include "upstream/pool.hpp"

namespace switchyard::forward {

namespace asio = boost::asio;
namespace beast = boost::beast;

// The caller's request, as the connection read and parsed it.
struct CallerRequest {
    parse::Endpoint endpoint;
    const std::string& body;
    const parse::RequestFacts& facts;
    const wire::Fields& headers;
    std::string_view request_id;
    bool keep_alive = true;
    const config::Model* model = nullptr;     // the model the caller asked for
    SteadyTime deadline = SteadyTime::max();  // the caller's own timeout, if it asked for one
    bool account_usage = false;               // read the usage of the response (ask for it in streams)
    double estimated_tokens = 0;              // for deployments with token limits
    std::string_view extra_headers;           // header lines added to a forwarded response (rate limits)
    // When the request arrived, and how long it waited for capacity before the forward stage (an
    // engine starting): with `report_overhead`, a forwarded response's head says how much of the
    // time before it was the gateway's own (x-switchyard-overhead-ms).
    std::chrono::steady_clock::time_point arrived{};
    std::chrono::nanoseconds waited_before{};
    bool report_overhead = false;
    // The caller's key's scheduling policy (route::Hints): first tier only, waiting rather than
    // spilling, and the key itself, whose fair share of a tier's queue the router works out.
    bool local_only = false;
    bool batch = false;
    const config::Key* key = nullptr;
};

// Told a response's usage once the whole of it is read, just before its last bytes go to the
// caller: what must be settled before the caller can send its next request (a key's budget).
class UsageSink {
public:
    virtual void settled(const config::Deployment& deployment, const usage::Usage& usage) = 0;

protected:
    ~UsageSink() = default;
};

// Told a successful answer just before its last bytes go to the caller (so that the caller's next
// request finds what it left): the whole body, or a Responses stream's final response object.
class AnswerSink {
public:
    virtual void answered(std::string_view answer) = 0;

protected:
    ~AnswerSink() = default;
};

// What forwarding a request keeps across its waits, reused by every request on a caller
// connection: kept out of the forwarder's coroutine frames, which are allocated per request and
// which Asio's per-thread cache recycles only under 1 KiB. Reset by each attempt.
struct Scratch {
    std::optional<wire::ResponseParser> parser;  // the upstream response's
    parse::ForwardBody body;                     // the forwarded body's pieces
    std::array<asio::const_buffer, 6> request_buffers{};
    std::optional<usage::StreamScanner> scanner;
    std::array<asio::const_buffer, 5> pieces{};  // of a write to the caller
    std::optional<ApiError> error;               // why the attempt failed
    // Translation (the upstream speaks another dialect than the caller): the request as read in
    // the caller's dialect (once per request), the body written in the upstream's, and the stream
    // translator or, for a stream relayed unchanged in a dialect other than chat, its reader (for
    // the usage).
    std::unique_ptr<translate::Request> request;
    std::string translated;
    std::optional<translate::StreamTranslator> stream;
    std::string out;  // translated bytes for the caller
    translate::AnswerOptions answer;
    std::optional<conversation::CompletedCapture> completed;  // a Responses stream's final answer
};

// The caller's side: where the response goes, and the buffers reused for every request on it.
struct CallerSide {
    asio::ip::tcp::socket& stream;
    std::string& head;           // response head scratch
    std::span<char> relay;       // body relay buffer
    config::Duration write_timeout;
    // When the write in progress must be done by (max: none). The connection's owner enforces it
    // (a sweep per I/O thread, not a timer per write): past it, the caller's socket is cancelled.
    SteadyTime& write_deadline;
    // The request's watch, while it is forwarded: the connection's owner passes it to sweep() a
    // few times per shortest timeout. Cleared when the request ends.
    std::shared_ptr<struct Watch>& watch;
    std::string& capture;        // a non-streaming body copied aside for its usage
    std::string* stream_text;    // set: collect a stream's generated text here (access log content)
    std::size_t stream_text_limit;
    UsageSink* usage_sink;       // set (with account_usage): see UsageSink
    wire::HeadArena& head_arena;  // where the upstream response's head is kept
    Scratch& scratch;
    simdjson::ondemand::parser& json;  // the I/O thread's, for translated answers
    // Set: told a successful answer (for the Responses API's stored conversations).
    class AnswerSink* answer = nullptr;
};

struct Outcome {
    int status = 0;
    bool caller_reusable = true;  // the caller's connection can take another request
    const config::Deployment* deployment = nullptr;  // the last one tried
    const config::Model* served_by = nullptr;         // its model: another than asked on fallback
    unsigned attempts = 0;
    std::string error;            // what went wrong, for logs; empty on success
    usage::Usage usage;           // with account_usage: as reported, or estimated
    bool usage_estimated = false;
    double ttft_ms = -1;          // upstream time to the first body byte of the answer that was sent
    bool stream = false;
    // Time spent on upstreams, every attempt from connecting (or taking a pooled connection) to its
    // last byte read; and waiting for capacity: a deployment's queue, the pauses between attempts.
    // The rest of the request's time is the gateway's own (account/account.hpp).
    std::chrono::nanoseconds upstream_time{};
    std::chrono::nanoseconds waited{};
};

struct Watch;

// Called by the caller connection's sweep while `watch`'s request is forwarded, instead of timers
// armed per operation:
//   - the first call starts waiting for the caller's socket to become readable (so quick requests
//     cost no socket wait at all): a caller that closed its connection makes the upstream
//     connection close at once, freeing the engine's slot; one that pipelined its next request is
//     still there;
//   - past the deadline of the upstream operation in progress (first byte, idle), that operation
//     is cancelled and reported as a timeout.
void sweep(asio::ip::tcp::socket& caller, const std::shared_ptr<Watch>& watch, SteadyTime now);

// Token counting (/v1/messages/count_tokens, /v1/responses/input_tokens) for a model none of
// whose deployments (fallbacks included) counts natively: the gateway answers with its estimate
// (about four bytes of the request a token), in the dialect's shape, and the outcome says so.
bool counts_natively(const config::Gateway& config, const config::Model& model, parse::Endpoint endpoint);
asio::awaitable<Outcome> answer_count_estimate(const CallerRequest& request, CallerSide caller);

class Forwarder {
public:
    Forwarder(const config::Gateway& config, route::Router& router, std::vector<std::shared_ptr<upstream::Pool>>& pools)
        : config_(config), router_(router), pools_(pools) {}

    // Serves `request` from the deployments the router picks for its model, retrying as above.
    // Closes the upstream connection at once if the caller goes away meanwhile.
    asio::awaitable<Outcome> run(const CallerRequest& request, CallerSide caller);

private:
    asio::awaitable<Outcome> attempts(const CallerRequest& request, CallerSide& caller, Watch& watch);
    // Whether another attempt may start (within the attempts allowed, the retry budget and the
    // deadline); counts the retry or the exhausted budget.
    bool may_try_again(const CallerRequest& request, unsigned attempt);

    const config::Gateway& config_;
    route::Router& router_;
    std::vector<std::shared_ptr<upstream::Pool>>& pools_;
};

}  // namespace switchyard::forward
