// Stages "forward" and "relay": sends the caller's request to a deployment over a pooled
// keep-alive connection (the body's bytes unchanged but for the model name), then relays the
// upstream's response to the caller as it arrives: SSE events are written chunk by chunk from
// one reused buffer. Connect failures move on to the next candidate deployment; failures after
// that become 502/504 errors naming the upstream, or an SSE error event once a stream has begun.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "parse/request.hpp"
#include "upstream/pool.hpp"

namespace switchyard::forward {

namespace asio = boost::asio;
namespace beast = boost::beast;

// The caller's request, as the connection read and parsed it.
struct CallerRequest {
    parse::Endpoint endpoint;
    const std::string& body;
    const parse::RequestFacts& facts;
    const beast::http::fields& headers;
    std::string_view request_id;
    bool keep_alive = true;
};

// The caller's side: where the response goes, and the buffers reused for every request on it.
struct CallerSide {
    beast::tcp_stream& stream;
    std::string& head;           // response head scratch
    std::span<char> relay;       // body relay buffer
    config::Duration write_timeout;
};

struct Outcome {
    int status = 0;
    bool caller_reusable = true;  // the caller's connection can take another request
    const config::Deployment* deployment = nullptr;
    std::string error;            // what went wrong, for logs; empty on success
};

class Forwarder {
public:
    Forwarder(const config::Gateway& config, std::vector<std::unique_ptr<upstream::Pool>>& pools)
        : config_(config), pools_(pools) {}

    // Forwards to the first candidate that accepts a connection. Closes the upstream connection
    // at once if the caller goes away meanwhile.
    asio::awaitable<Outcome> run(const CallerRequest& request, std::span<const config::Deployment* const> candidates,
                                 CallerSide caller);

private:
    const config::Gateway& config_;
    std::vector<std::unique_ptr<upstream::Pool>>& pools_;
};

}  // namespace switchyard::forward
