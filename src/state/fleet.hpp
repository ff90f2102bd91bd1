// State shared by a fleet of gateway instances behind one load balancer (`state: redis://...`,
// docs/deploy.md). What is shared, and how fresh:
//   - key and model rate limits: GCRA in Redis (state/scripts.hpp), atomic, so the instances
//     together admit no more than the limit. Each I/O thread takes its requests and tokens from
//     Redis in leases: one script call takes k requests and k times the request's estimated
//     tokens from every limit of the request (the key's and the model's, all or none), and the
//     next k - 1 requests are admitted from the lease without a Redis call (a half-used lease is
//     refilled in the background, one call in flight per thread and limit). k is at most
//     burst / (8 x instances) of every limit (1 for tight limits: a call per request) and at most
//     `state.max_lease` (64); what a lease has not used after kLeaseTtl is given back, and token corrections are
//     settled against the lease, then with Redis when it is given back;
//   - budgets: spend is added to per-key, per-UTC-day and -month totals in Redis every
//     `sync_interval`, and the totals read back at the same time, off the request path; a spend
//     is seen by every instance within two sync intervals;
//   - requests in flight per deployment (max_concurrency): each instance publishes its count with
//     a heartbeat expiry every sync interval, and counts the others' against the limit;
//   - breaker openings: published with their cooldown as expiry, and held by the other instances
//     as a cooldown, within a sync interval;
//   - deployment rate limits stay per instance, each enforcing its share (limit / instances);
//   - web console sessions: kept in Redis with their TTL by src/console (sessions.hpp).
// When Redis does not answer within `timeout`, the request goes on at once: fail-open, each
// instance enforces its own share of each limit in-process; fail-closed, requests that need
// shared state are refused with 503. Recovery is automatic (connections reconnect with backoff).
// One Connection per I/O thread; the Fleet itself is shared and thread-safe.
#pragma once

#include <boost/asio.hpp>

#include <atomic>
#include <chrono>
#include <ctime>
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/keys.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "limit/limiter.hpp"
#include "route/router.hpp"
#include "state/redis.hpp"
#include "state/scripts.hpp"

namespace switchyard::state {

enum class Mode { redis, fail_open, fail_closed };
std::string_view to_string(Mode mode);

// One rate limit a request is admitted against: ("key", name) or ("model", name).
struct Limit {
    std::string_view scope;
    std::string_view name;
    const config::RateLimit* limits = nullptr;
};

struct Verdict {
    enum class Kind { allowed, refused, unavailable };
    Kind kind = Kind::allowed;
    std::size_t refused = 0;  // index of the refusing limit
    limit::Refusal refusal;
    std::vector<limit::Snapshot> snapshots;  // one per limit (allowed or refused)
    std::string why;                         // unavailable: what went wrong
};

class Fleet {
public:
    Fleet(const config::Gateway& config, auth::KeyStore& keys);
    ~Fleet();
    Fleet(const Fleet&) = delete;
    Fleet& operator=(const Fleet&) = delete;

    const config::State& config() const { return state_; }

    // The config generation whose router the sync reads and feeds (requests in flight, breaker
    // openings): set at start and after each config reload. `owner` keeps `config` and `router`
    // alive while a sync uses them.
    struct Binding {
        std::shared_ptr<const void> owner;
        const config::Gateway* config = nullptr;
        route::Router* router = nullptr;
    };
    void bind(Binding binding);
    bool fail_open() const { return state_.fail_open; }
    bool up() const { return up_.load(std::memory_order_relaxed); }
    Mode mode() const;

    // A connection for one I/O thread (started; reconnects by itself).
    std::unique_ptr<Connection> connect(asio::io_context& io);
    // Runs the sync loop on `io` with `connection` (the first I/O thread's).
    void start(asio::io_context& io, Connection& connection);
    void stop() { stopping_.store(true); }

    // Takes one request and `tokens` from every limit, all or none (from this thread's leases, or
    // from Redis).
    asio::awaitable<Verdict> admit(Connection& connection, std::span<const Limit> limits, double tokens);
    // Gives back or takes more tokens after the fact (settled with the lease, no Redis call), and
    // gives back `requests` (a request admitted that never reached an upstream).
    void correct(Connection& connection, std::span<const Limit> limits, double delta, double requests = 0);

    // How long a lease keeps what it has not used.
    static constexpr std::chrono::milliseconds kLeaseTtl{250};
    // Requests a lease takes at once for these limits (see above): at least 1, at most `max`.
    static std::size_t lease_size(std::span<const Limit> limits, double tokens, std::size_t instances,
                                  std::size_t max);
    // A key's spend: kept locally at once, sent to Redis with the next sync.
    void spend(auth::KeyEntry& key, double usd, std::time_t now);

    // Fail-open: this instance's share of a key's or a model's limits, in-process. A request holds
    // its limiter until it ends (a revoked key's is forgotten meanwhile).
    std::shared_ptr<limit::RateLimiter> fallback_key(const auth::KeyEntry& key);
    std::shared_ptr<limit::RateLimiter> fallback_model(const config::Model& model);
    // A revoked key: its fail-open limiter goes (requests still in flight keep theirs).
    void forget_key(const std::string& name);
    std::size_t fallback_limiters() const;  // fail-open limiters held, by key and by model (tests)

    // Records a Redis outcome: logs and counts mode changes.
    void note(bool ok, std::string_view why);

    // Prometheus text for /metrics.
    void render_metrics(std::string& out) const;

    ConnectionStats& stats() { return stats_; }

private:
    struct Lease {
        double requests = 0;  // taken from Redis, not used yet
        double tokens = 0;    // may be negative: more used than taken
        SteadyTime expires{};
        limit::Snapshot snapshot;          // Redis' answer when it was last filled
        std::array<std::string, 4> limits;  // the script's arguments for it
        bool refilling = false;             // a script call for it is in flight
        std::shared_ptr<asio::steady_timer> refilled;  // cancelled when that call is done
    };
    // One I/O thread's leases, by Redis key; only that thread touches them.
    struct Thread {
        std::unordered_map<std::string, Lease> leases;
    };
    // One request's limits, copied (a key may be revoked while a call is in flight).
    struct Ask {
        std::size_t n = 0;
        std::array<std::string, 2> keys;
        std::array<config::RateLimit, 2> configs{};
        double tokens = 0;
    };

    Lease& lease_for(Connection& connection, Thread& thread, const Ask& ask, std::size_t i, SteadyTime now);
    // Takes k requests (and k x ask.tokens) from every limit in Redis into this thread's leases.
    asio::awaitable<bool> fetch(Connection& connection, Thread& thread, const Ask& ask, std::size_t k,
                                AdmitReply& parsed, std::string& why);
    asio::awaitable<void> refill_ahead(Connection& connection, Thread& thread, Ask ask, std::size_t k);
    static asio::io_context& io_of(Connection& connection) { return connection.io(); }

    asio::awaitable<void> sweep_loop(Connection& connection, Thread& thread);
    // Gives a lease's unused requests and tokens back to Redis (or pays its token debt).
    void give_back(Connection& connection, const std::string& key, Lease& lease);
    asio::awaitable<void> sync_loop(Connection& connection);
    asio::awaitable<bool> sync_once(Connection& connection);
    // One sync's parts, in order (fleet.cpp).
    struct SyncRound;
    std::shared_ptr<const Binding> sync_binding();
    void collect_budgets(SyncRound& round);
    void collect_deployments(SyncRound& round, const config::Gateway& config, route::Router& router);
    asio::awaitable<Result> send_sync(Connection& connection, const config::Gateway& config, const SyncRound& round);
    void sync_failed(const SyncRound& round, const config::Gateway& config, route::Router& router,
                     const Result& result);
    void apply_sync(const SyncRound& round, route::Router& router, const std::vector<Reply>& elements);
    asio::awaitable<Result> eval(Connection& connection, const std::string& sha, std::string_view script,
                                 std::vector<std::string_view>& args);
    std::string limit_key(const Limit& limit) const;

    const config::State state_;
    auth::KeyStore& keys_;
    const config::RedisAddress address_;
    const std::string redacted_url_;
    const std::string instance_;  // host:pid:random, this instance's id in shared counts
    const std::string limit_sha_;
    const std::string sync_sha_;
    ConnectionStats stats_;
    std::atomic<bool> up_{false};
    std::atomic<bool> down_logged_{false};
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> mode_changes_{0};
    std::atomic<std::uint64_t> fallbacks_{0};  // requests admitted or refused without Redis
    std::atomic<std::int64_t> last_sync_ms_{0};

    // Made by connect() before the I/O threads run; read-only after.
    std::unordered_map<const Connection*, std::unique_ptr<Thread>> threads_;
    mutable std::mutex mutex_;  // the maps below and the binding
    std::shared_ptr<const Binding> binding_;
    // Fail-open limiters by key and by model name, with the limits they were made for (a reload
    // may change them).
    struct Fallback {
        config::RateLimit limits;
        std::shared_ptr<limit::RateLimiter> limiter;
    };
    std::unordered_map<std::string, Fallback> key_fallbacks_;
    std::unordered_map<std::string, Fallback> model_fallbacks_;
    std::shared_ptr<limit::RateLimiter> fallback(std::unordered_map<std::string, Fallback>& fallbacks,
                                                 const std::string& name, const config::RateLimit& limits);
    std::shared_ptr<const Binding> synced_binding_;  // the one breaker_opened_ was read from (sync thread only)
    std::map<std::string, double> unsent_spend_;  // Redis key -> dollars not yet added there
    std::vector<std::uint64_t> breaker_opened_;   // by deployment id: times opened, as last seen (sync thread only)
};

}  // namespace switchyard::state
