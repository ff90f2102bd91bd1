// What the I/O threads share (the current generation of the config with its upstreams, health and
// router; keys, engines, ledger, drain state) and what each I/O thread owns alone (its
// io_context, upstream pools, JSON parser, connections). One io_context per thread: a connection
// and its upstream pool live on one thread, no locks.
#pragma once

#include <simdjson.h>
#include <spdlog/logger.h>

#include <boost/asio.hpp>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <memory>
#include <unordered_set>
#include <vector>

#include "account/pricer.hpp"
#include "auth/keys.hpp"
#include "config/config.hpp"
#include "console/data.hpp"
#include "console/samples.hpp"
#include "console/sessions.hpp"
#include "conversation/store.hpp"
#include "engine/supervisor.hpp"
#include "forward/forward.hpp"
#include "ledger/ledger.hpp"
#include "metrics/metrics.hpp"
#include "limit/limiter.hpp"
#include "route/router.hpp"
#include "account/access_log.hpp"
#include "state/fleet.hpp"
#include "upstream/health.hpp"
#include "upstream/pool.hpp"

namespace switchyard::server {

namespace asio = boost::asio;

// Everything built from one version of the config file: upstreams, health checks, router, prices,
// model limits. A reload builds the next generation beside the running one (taking over the state
// of what stayed the same: upstreams and their health, deployments' breakers and requests in
// flight, model limiters) and swaps it in; a request keeps the generation it started with until it
// ends, so none is dropped.
struct Generation {
    Generation(config::Gateway gateway, std::uint64_t generation_number, const engine::Supervisor& engines,
               const Generation* previous);

    const std::uint64_t number;  // 1 at start-up, +1 a reload
    const config::Gateway config;
    std::vector<std::shared_ptr<upstream::Upstream>> upstreams;
    upstream::HealthChecker health;
    engine::EngineHealth routable;  // health checks, and engines only while ready
    route::Router router;
    pricing::Catalog catalog;
    std::vector<std::string> price_warnings;  // deployments without a price (logged when costs are kept)
    account::Pricer pricer;
    std::vector<std::shared_ptr<limit::RateLimiter>> model_limits;  // by model index; null: none
    bool token_limits = false;  // some limit, budget or queue's fair share counts tokens
};

// One I/O thread's side of a generation: its upstream connection pools (kept across a reload for
// upstreams that stayed the same) and its forwarder.
struct Local {
    Local(std::shared_ptr<Generation> current, asio::any_io_executor executor, const Local* previous);

    std::shared_ptr<Generation> generation;
    std::vector<std::shared_ptr<upstream::Pool>> pools;  // one per upstream, same order
    forward::Forwarder forwarder;
};

struct ReloadResult {
    bool ok = false;
    std::uint64_t generation = 0;      // the one serving afterwards
    std::vector<std::string> errors;   // why it was refused ("line 12: ..." for config errors)
    std::string summary;               // what changed, when applied
};

struct Shared {
    explicit Shared(config::Gateway gateway, std::string config_path = {});

    // The config the gateway started with: the engines are bound to it, and what cannot change
    // without a restart (listeners, threads, engines, ledger, access log) is compared with it.
    config::Gateway boot;
    std::vector<config::Engine> engines_as_written;  // boot.engines before ports were picked
    const std::string config_path;                   // re-read on reload; empty: no reload
    engine::Supervisor engines;
    auth::KeyStore keys;  // keys of the current config and of the admin API
    std::unique_ptr<ledger::Ledger> ledger;              // null: no ledger configured
    std::unique_ptr<account::AccessLog> access_log;               // null: off
    // A fleet (`state:`): limits, budgets, concurrency and breaker openings shared in Redis; null:
    // in-process. Process-wide; bound to the current generation's router (Fleet::bind).
    std::unique_ptr<state::Fleet> fleet;
    // Responses API answers kept for previous_response_id; null: none kept.
    std::unique_ptr<conversation::Store> conversations;

    std::shared_ptr<Generation> current() const;
    // Points the fleet's sync at `generation`'s router (at start and after a reload).
    void bind_fleet(const std::shared_ptr<Generation>& generation);
    // Usage is read from responses (and asked for in streams) only when something needs it.
    bool accounting(const Generation& generation) const {
        return ledger != nullptr || access_log != nullptr || generation.token_limits;
    }

    // Reads the config file again and, when it is valid and changes nothing that needs a restart,
    // swaps the new generation in on every I/O thread. Runs off the I/O threads; one at a time.
    ReloadResult reload();
    // Set by the Server: runs `reload()` on its control thread and hands the result back.
    std::function<void(std::function<void(ReloadResult)>)> request_reload;

    // The web console (src/console): its sign-ins, its charts' samples (kept even when it is off,
    // for GET /admin/overview) and the running config's masked text (GET /admin/config).
    console::Sessions console_sessions;
    console::Samples samples;
    console::ConfigText config_text;
    console::ReportCache reports;  // GET /admin/spend and /admin/cost, kept 10 s per query

    std::vector<struct Worker*> workers;  // set by the Server once they exist (for /metrics)

    std::atomic<bool> draining{false};
    std::atomic<std::size_t> in_flight{0};         // requests being read, forwarded or answered
    std::atomic<std::size_t> open_connections{0};  // caller connections
    std::size_t fd_limit = 1024;                    // RLIMIT_NOFILE, raised at start (server/overload)
    std::atomic<std::uint64_t> connections_refused{0};  // answered 503 at the cap
    std::atomic<std::uint64_t> connections_shed{0};     // idle ones closed near the cap
    std::atomic<std::uint64_t> accept_errors{0};
    std::atomic<std::uint64_t> reloads_applied{0};
    std::atomic<std::uint64_t> reloads_refused{0};
    std::atomic<std::int64_t> last_reload_ok_ms{0};  // Unix ms of the last applied reload (or start)

private:
    mutable std::mutex current_mutex_;
    std::shared_ptr<Generation> current_;
    std::mutex reload_mutex_;
};

class ClientConnection;

struct Worker {
    explicit Worker(Shared& shared);

    Shared& shared;
    // Only this thread touches its sockets (others post to it), so the reactor needs no locks.
    asio::io_context io{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
    std::shared_ptr<Local> local;  // the current generation on this thread; replaced on this thread only
    std::unique_ptr<state::Connection> state;  // this thread's Redis connection; null without a fleet
    simdjson::ondemand::parser json;
    std::vector<asio::ip::tcp::acceptor> acceptors;
    std::unordered_set<ClientConnection*> connections;
    std::size_t waiting_connections = 0;  // of those, waiting for a request with nothing read
    metrics::Shard metrics;  // this thread's request series
};

// Serves one caller connection until it closes, times out or the gateway drains.
asio::awaitable<void> serve_connection(Worker& worker, asio::ip::tcp::socket socket);

// Closes the connection if it is waiting for a request (used when draining).
void close_if_idle(ClientConnection& connection);
// Near the connection cap: closes up to `count` of this worker's connections that wait for a
// request, the longest waiting first; returns how many.
std::size_t shed_idle(Worker& worker, std::size_t count);
// Cancels the connection's socket operations if the phase it is in is past its deadline.
void check_deadline(ClientConnection& connection, SteadyTime now);

}  // namespace switchyard::server
