// What the I/O threads share (the validated config, upstreams, health, router, drain state) and
// what each I/O thread owns alone (its io_context, upstream pools, JSON parser, connections).
// One io_context per thread: a connection and its upstream pool live on one thread, no locks.
#pragma once

#include <simdjson.h>
#include <spdlog/logger.h>

#include <boost/asio.hpp>

#include <atomic>
#include <memory>
#include <unordered_set>
#include <vector>

#include "account/pricer.hpp"
#include "auth/keys.hpp"
#include "config/config.hpp"
#include "engine/supervisor.hpp"
#include "forward/forward.hpp"
#include "ledger/ledger.hpp"
#include "metrics/metrics.hpp"
#include "limit/limiter.hpp"
#include "route/router.hpp"
#include "state/fleet.hpp"
#include "upstream/health.hpp"
#include "upstream/pool.hpp"

namespace switchyard::server {

namespace asio = boost::asio;

struct Shared {
    explicit Shared(config::Gateway gateway);

    config::Gateway config;
    engine::Supervisor engines;  // before the upstreams: it gives engines their ports
    std::vector<std::unique_ptr<upstream::Upstream>> upstreams;
    upstream::HealthChecker health;
    engine::EngineHealth routable;  // health checks, and engines only while ready
    route::Router router;
    auth::KeyStore keys;
    pricing::Catalog catalog;
    std::vector<std::string> price_warnings;  // deployments without a price (logged when costs are kept)
    account::Pricer pricer;
    std::vector<std::unique_ptr<limit::RateLimiter>> model_limits;  // by model index; null: none
    std::unique_ptr<ledger::Ledger> ledger;                          // null: no ledger configured
    std::shared_ptr<spdlog::logger> access_log;                      // null: off
    std::unique_ptr<state::Fleet> fleet;                             // null: no `state:` (in-process)
    // Usage is read from responses (and asked for in streams) only when something needs it.
    bool accounting = false;

    std::vector<struct Worker*> workers;  // set by the Server once they exist (for /metrics)

    std::atomic<bool> draining{false};
    std::atomic<std::size_t> in_flight{0};         // requests being read, forwarded or answered
    std::atomic<std::size_t> open_connections{0};  // caller connections
};

class ClientConnection;

struct Worker {
    explicit Worker(Shared& shared);

    Shared& shared;
    // Only this thread touches its sockets (others post to it), so the reactor needs no locks.
    asio::io_context io{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
    std::unique_ptr<state::Connection> state;  // this thread's Redis connection; null without a fleet
    std::vector<std::unique_ptr<upstream::Pool>> pools;  // one per upstream, same order
    forward::Forwarder forwarder;
    simdjson::ondemand::parser json;
    std::vector<asio::ip::tcp::acceptor> acceptors;
    std::unordered_set<ClientConnection*> connections;
    metrics::Shard metrics;  // this thread's request series
};

// Serves one caller connection until it closes, times out or the gateway drains.
asio::awaitable<void> serve_connection(Worker& worker, asio::ip::tcp::socket socket);

// Closes the connection if it is waiting for a request (used when draining).
void close_if_idle(ClientConnection& connection);

}  // namespace switchyard::server
