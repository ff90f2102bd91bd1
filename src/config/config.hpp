// The gateway's configuration: a plain tree of typed structs produced by one YAML parser.
// Every error is reported with its line and column; running code never looks up a string key.
#pragma once

#include <chrono>
#include <cstddef>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/url.hpp"
#include "translate/ir.hpp"

namespace switchyard::config {

using Duration = std::chrono::milliseconds;

// What serves behind an upstream: the type picks the health path, how the key is sent, and the
// dialects it speaks unless `dialects:` says otherwise (default_dialects).
enum class UpstreamType { openai, llama_server, ollama, vllm, anthropic };
std::string_view to_string(UpstreamType type);

// A set of translate::Dialect (bit 1 << dialect): the APIs an upstream serves natively.
using DialectSet = unsigned;
constexpr DialectSet dialect_bit(translate::Dialect dialect) { return 1u << static_cast<unsigned>(dialect); }
// llama-server and vLLM: chat, responses and messages; openai and ollama: chat; anthropic: messages.
DialectSet default_dialects(UpstreamType type);
// The anthropic-version the gateway sends an `anthropic` upstream when the caller sent none.
inline constexpr std::string_view kAnthropicVersion = "2023-06-01";

struct Listener {
    std::string address = "127.0.0.1";
    std::uint16_t port = 8080;  // 0: let the OS choose (tests); the bound port is reported

    bool operator==(const Listener&) const = default;
};

struct Timeouts {
    Duration connect{std::chrono::seconds(5)};
    Duration first_byte{std::chrono::seconds(120)};  // request sent -> response headers
    Duration idle{std::chrono::seconds(60)};         // gap between two body reads
    Duration total{std::chrono::seconds(600)};       // whole exchange

    bool operator==(const Timeouts&) const = default;
};

struct Tls {
    bool verify = true;       // verify the certificate chain and the host name
    std::string ca_file;      // extra CA bundle (PEM); system store otherwise
    std::string server_name;  // SNI and verified name; the URL host by default

    bool operator==(const Tls&) const = default;
};

struct HealthCheck {
    bool enabled = true;
    // From the host's root. By type: llama-server and vLLM "/health", Ollama "/api/version",
    // OpenAI-style "<api base>/models".
    std::string path;
    Duration interval{std::chrono::seconds(5)};
    Duration timeout{std::chrono::seconds(2)};
    std::size_t unhealthy_threshold = 2;  // consecutive failed probes that take it out
    std::size_t healthy_threshold = 1;    // consecutive passed probes that bring it back

    bool operator==(const HealthCheck&) const = default;
};

// Circuit breaker of each deployment on an upstream. Only upstream faults count: connect errors,
// timeouts, 5xx answers and broken responses; a 4xx caused by the caller does not.
struct Breaker {
    bool enabled = true;
    std::size_t consecutive_failures = 5;  // opens after this many failures in a row (0: never)
    double failure_rate = 0.5;             // or when this share of the window's requests failed
    std::size_t min_requests = 20;         // ... once the window holds at least this many
    Duration window{std::chrono::seconds(30)};
    Duration cooldown{std::chrono::seconds(10)};  // open this long, then half-open
    std::size_t half_open_requests = 1;           // probes let through at once when half-open

    bool operator==(const Breaker&) const = default;
};

// A rate limit: `requests` and/or `tokens` per minute, with bursts of up to a minute's worth
// unless `*_burst` says otherwise. 0: no limit.
struct RateLimit {
    std::uint64_t rpm = 0;
    std::uint64_t tpm = 0;
    std::uint64_t rpm_burst = 0;  // 0: rpm
    std::uint64_t tpm_burst = 0;  // 0: tpm
    bool any() const { return rpm > 0 || tpm > 0; }

    bool operator==(const RateLimit&) const = default;
};

// What a local deployment costs to own and run, spread over the tokens it serves.
struct CostModel {
    double hardware_usd = 0;          // purchase price of the machine (or its share of it)
    double lifetime_months = 36;      // amortization period
    double power_watts = 0;           // average draw while serving
    double electricity_usd_per_kwh = 0;
    double ops_usd_per_month = 0;     // hosting, maintenance, people's time
    double tokens_per_month = 0;      // expected tokens served a month, for per-request estimates
    double monthly_usd() const {
        return (lifetime_months > 0 ? hardware_usd / lifetime_months : 0) +
               power_watts / 1000.0 * 24 * 30.4375 * electricity_usd_per_kwh + ops_usd_per_month;
    }

    bool operator==(const CostModel&) const = default;
};

struct Upstream {
    std::string name;
    UpstreamType type = UpstreamType::openai;
    DialectSet dialects = default_dialects(UpstreamType::openai);  // never empty
    // A request translated to Anthropic's Messages API must say max_tokens: this, when the
    // caller's request has no limit of its own.
    std::int64_t default_max_tokens = 4096;
    Url url;
    std::string api_key;  // already expanded from ${ENV}; never logged
    Timeouts timeouts;
    std::size_t max_connections = 512;     // open connections, all I/O threads together
    std::size_t max_idle_connections = 64;  // kept alive per I/O thread
    Duration idle_connection_timeout{std::chrono::seconds(30)};
    Tls tls;
    HealthCheck health;
    Breaker breaker;
    // A 429 answer takes the upstream's deployments out for its Retry-After, or this long
    // when it gives none.
    Duration rate_limit_cooldown{std::chrono::seconds(5)};
    // Local engines (llama-server, Ollama, vLLM) are priced by `cost`; providers (openai) by the
    // price catalog. `local` overrides the guess from the type.
    bool local = false;
    std::optional<CostModel> cost;
    std::optional<std::size_t> engine;  // set: made for this engine (index into Gateway::engines)

    bool operator==(const Upstream&) const = default;
};

// A local engine process the gateway starts and watches (src/engine, docs/engines.md). Each one
// becomes an upstream of type llama-server named after it, at 127.0.0.1 and the engine's port.
struct Engine {
    std::string name;
    std::vector<std::string> command;  // argv; ${PORT}, ${MODEL} and ${NAME} expanded at start
    std::map<std::string, std::string> env;  // added to the gateway's environment
    std::string workdir;                     // empty: the gateway's
    std::string model;                       // path or name, for ${MODEL}
    // A `switchyard pull` source (hf:ORG/REPO/FILE.gguf, hf:ORG/REPO:QUANT, an https URL): when
    // the store has no model named `model`, the supervisor fetches it as that name before the
    // first start. Empty: the model must be there.
    std::string pull;
    // The models one engine process serves (llama-server's router mode, Ollama); a deployment on
    // this engine must name one of them. Empty: a single-model engine, any name is forwarded.
    std::vector<std::string> models;
    std::uint16_t port = 0;                  // 0: a free loopback port picked at start-up
    std::string gpu;                         // GPU group; empty: none
    bool preload = false;                    // start with the gateway instead of on first request
    std::string ready_path = "/health";      // 200 here means ready
    Duration load_timeout{std::chrono::seconds(120)};
    Duration health_interval{std::chrono::seconds(5)};  // ready_path probed this often while ready; 0: never
    std::size_t unhealthy_threshold = 3;  // failed probes in a row that drain and restart it
    Duration idle_unload{0};                 // stopped after this long without requests; 0: never
    Duration drain_timeout{std::chrono::seconds(30)};  // in-flight requests get this long before a stop
    Duration stop_grace{std::chrono::seconds(10)};     // SIGTERM, then SIGKILL after this
    Duration backoff_base{std::chrono::seconds(1)};    // restart delays: base, 2 base, 4 base ... max
    Duration backoff_max{std::chrono::seconds(60)};
    std::size_t max_restarts = 5;                      // unplanned restarts within `restart_window`...
    Duration restart_window{std::chrono::minutes(10)}; // ... beyond which it is failed
    std::size_t memory_limit = 0;                      // RSS bytes; 0: none
    std::size_t gpu_memory_limit = 0;                  // bytes of GPU memory (nvidia-smi); 0: none
    std::size_t max_waiting = 100;                     // requests waiting for it to load
    std::string log_dir;                               // empty: no log files (output kept in memory only)
    std::size_t log_max_bytes = 10u << 20;             // rotated beyond this
    std::size_t log_files = 3;                         // rotated files kept
    std::size_t upstream = 0;                          // index into Gateway::upstreams

    bool operator==(const Engine&) const = default;
};

struct GpuGroup {
    std::size_t max_loaded = 0;  // engines loading, ready or draining at once; 0: no limit
    std::size_t memory = 0;      // bytes the group's loaded engines may need together (estimated); 0: no budget

    bool operator==(const GpuGroup&) const = default;
};

struct Deployment {
    std::string name;             // shown in x-switchyard-upstream; the upstream's name by default
    std::size_t upstream = 0;     // index into Gateway::upstreams
    std::string model;            // the upstream's own model name
    unsigned tier = 1;            // traffic stays in the lowest tier that can take it
    unsigned weight = 1;          // share within its tier under the weighted strategy
    std::size_t max_concurrency = 0;  // requests at once (an engine's parallel slots); 0: no limit
    RateLimit limits;             // what the deployment may be sent; over it, it counts as full
    std::size_t id = 0;           // index among every deployment of every model (set by the loader)

    bool operator==(const Deployment&) const = default;
};

// How a request picks among the usable deployments of one tier.
enum class Strategy { round_robin, weighted, least_outstanding, latency, prefix_affinity };

// strategy: prefix-affinity (route/balance.hpp): how far load may override a prefix match, and the
// bounds of each deployment's prefix index (route/prefix_index.hpp).
struct Affinity {
    std::size_t margin = 2;            // the matching deployment wins unless it has more than this many
                                       // requests in flight beyond the least loaded one
    double load_factor = 1.25;         // a session's first turn: rendezvous hashing with loads bounded
                                       // to this times the tier's average
    std::size_t entries = 65536;       // blocks remembered per deployment (32 bytes each)
    std::size_t bytes = 64u << 20;     // prompt bytes remembered per deployment (its engine's cache)
    Duration idle{std::chrono::minutes(30)};  // a block not sent there since counts as evicted
    double fair_slack = 2048;          // a queue: tokens (/ weight) by which a key ahead of the least
                                       // served one may still take a freed slot holding its prefix

    bool operator==(const Affinity&) const = default;
};
std::string_view to_string(Strategy strategy);

// What a request does when every usable deployment of a tier is at its concurrency limit.
enum class Overflow {
    spill,   // go on to the next tier (waiting in the queue only when every tier is full)
    queue,   // wait for a slot in this tier, up to the queue's size and timeout
    reject,  // 429 at once
};
std::string_view to_string(Overflow overflow);

struct Model {
    std::string name;  // the public name callers use
    std::vector<Deployment> deployments;  // sorted by tier (stable: config order within a tier)
    Strategy strategy = Strategy::round_robin;
    Overflow overflow = Overflow::spill;
    std::size_t queue_size = 0;  // requests waiting for a slot; 0: none wait (default 100 with queue)
    Duration queue_timeout{std::chrono::seconds(30)};
    Affinity affinity;  // strategy: prefix-affinity
    std::vector<std::string> fallbacks;  // other models tried, in order, when this one cannot serve
    std::vector<std::size_t> fallback_index;  // the same, as indexes into Gateway::models
    RateLimit limits;  // all callers together
    // Fair share in the queue (route/fair_queue.hpp): across keys (empty), or across the values of
    // this key label (`queue.fair_by: label:team`), each value weighted by `fair_weights` (1 when
    // not listed); a key without the label is a group of its own, with its own weight.
    std::string fair_label;
    std::map<std::string, double> fair_weights;

    bool operator==(const Model&) const = default;
};

// A caller's API key and what it may do.
struct Key {
    std::string name;                // unique; shown in logs, metrics and the ledger as the key id
    std::string sha256;              // hex digest of the key; the key itself is never kept
    std::vector<std::string> models; // allowed models; empty: all
    RateLimit limits;
    std::size_t max_concurrent = 0;  // requests in flight at once; 0: no limit
    double budget_daily = 0;         // dollars per UTC day; 0: none
    double budget_monthly = 0;       // dollars per UTC calendar month; 0: none
    std::map<std::string, std::string> labels;  // team, user...: in the ledger and reports
    // Scheduling on local capacity (src/route): never sent past a model's first tier (refused
    // instead of spilled); batch requests wait for the first tier rather than spill.
    bool local_only = false;
    bool batch = false;  // priority: batch (default interactive)
    double weight = 1;   // its share of a tier's queue against other keys (fair share, route/fair_queue.hpp)
    // May sign in to the web console (src/console): "viewer" (read only) or "admin"; empty: no.
    std::string role;

    bool operator==(const Key&) const = default;
};

struct Auth {
    bool required = false;   // true when keys or a master key are configured
    std::string master_key_sha256;  // guards /admin/*; empty: no admin API

    bool operator==(const Auth&) const = default;
};

struct Ledger {
    std::string url;  // "sqlite:PATH" (or a bare path) or "postgres://..."; empty: no ledger
    Duration flush_interval{std::chrono::seconds(1)};
    std::size_t queue_size = 100'000;  // rows waiting to be written; beyond, rows are counted as dropped
    std::size_t batch_size = 1000;
    // Where rows the database cannot take wait (src/ledger/spool.hpp). The parser fills it in: the
    // SQLite file's directory, or /var/lib/switchyard for PostgreSQL. Empty: no spool (rows wait
    // in memory only, up to queue_size).
    std::string spool_dir;
    std::size_t spool_max_bytes = std::size_t{1} << 30;  // this instance's spool file, at most
    // A database call with no answer by then is given up (its connection dropped) and its rows
    // spooled: a hung server holds the writer no longer than this. Zero: wait for ever.
    Duration write_timeout{std::chrono::seconds(10)};
    // API keys made, changed or revoked through another instance on the same database are read
    // this often and applied here. Zero: only at start.
    Duration key_sync{std::chrono::seconds(5)};

    bool operator==(const Ledger&) const = default;
};

// State shared by a fleet of gateway instances in Redis (src/state, docs/deploy.md): key and model
// rate limits, budgets' spend, deployments' requests in flight and breaker openings. Empty url:
// everything stays in-process.
struct State {
    std::string url;  // redis://[:password@]host[:port][/db]; already expanded from ${ENV}; never logged
    Duration timeout{std::chrono::milliseconds(50)};  // per Redis call; past it the call fails at once
    bool fail_open = true;   // Redis down: each instance enforces its share (limit / instances)
    std::size_t instances = 1;  // expected instance count, for fail-open shares and deployment limits
    Duration sync_interval{std::chrono::seconds(1)};  // budgets, concurrency and breakers are synced this often
    std::string prefix = "switchyard";  // of every Redis key, so fleets can share one Redis
    std::size_t max_lease = 64;  // requests an I/O thread takes from a limit in Redis at once; 1: one call per request

    bool operator==(const State&) const = default;
};

// A pattern cut out of logged prompts and completions: a built-in one by `name` (email, api_key,
// credit_card, phone, ipv4) or a regular expression (ECMAScript) of the user's.
struct Redaction {
    std::string name;     // the built-in's name, or "custom"
    std::string pattern;  // the regular expression (filled in for built-ins too)
    std::string replace;  // what a match becomes; "[REDACTED:<name>]" by default

    bool operator==(const Redaction&) const = default;
};

// One JSON line per request; see account/access_log.hpp.
struct AccessLog {
    std::string path;                   // "stdout" or a file; empty: off
    std::size_t max_size = 100u << 20;  // the file is rotated past this
    std::size_t max_files = 5;          // rotated files kept
    bool content = false;               // also log prompts and completions (redacted)
    std::size_t max_content_bytes = 4096;  // each, after redaction; the rest is cut
    std::vector<Redaction> redact;      // applied in order; email, api_key and credit_card by default

    bool operator==(const AccessLog&) const = default;
};

// The built-in redaction named `name`, if there is one.
std::optional<Redaction> builtin_redaction(std::string_view name);

struct Prices {
    std::string catalog;  // the price catalog file; empty: data/prices.yaml next to the binary's source
    std::map<std::string, std::array<double, 3>> models;  // overrides: input, cached input, output per million

    bool operator==(const Prices&) const = default;
};

// Retries: a failed attempt moves to another deployment while nothing has reached the caller.
struct Retries {
    std::size_t attempts = 3;  // attempts per request, the first included
    Duration backoff_base{std::chrono::milliseconds(25)};  // full jitter in [0, base * 2^(n-1)]
    Duration backoff_max{std::chrono::seconds(1)};
    double budget_ratio = 0.2;      // retries at most this share of requests over the window...
    double budget_min_per_second = 5;  // ... plus this many per second, so low traffic can retry
    Duration budget_window{std::chrono::seconds(10)};

    bool operator==(const Retries&) const = default;
};

struct Server {
    unsigned io_threads = 2;
    std::size_t max_body_bytes = 8u << 20;
    std::size_t max_header_bytes = 16u << 10;
    std::size_t max_headers = 100;
    Duration request_read_timeout{std::chrono::seconds(30)};
    Duration keepalive_timeout{std::chrono::seconds(75)};
    Duration shutdown_grace{std::chrono::seconds(30)};
    bool expose_upstream_address = false;  // put the upstream's URL in error messages
    bool metrics = true;                   // record request series for GET /metrics
    // Every forwarded response says the gateway's own time (x-switchyard-overhead-ms) and the
    // access log has per-stage times, as for requests that send x-switchyard-debug: 1.
    bool debug = false;
    // Responses API answers kept for previous_response_id (src/conversation): at most this many
    // bytes in all (0: none kept), each for at most this long.
    std::size_t responses_store_bytes = 64u << 20;
    Duration responses_store_ttl{std::chrono::hours(1)};
    // With a ledger, kept answers are written to its database too (ledger/ledger.hpp), so that a
    // restart, or another instance on the same database, still continues them within the ttl.
    bool responses_store_persist = true;
    // A stream whose upstream is silent this long (a long prompt before its first token) gets the
    // caller's dialect's keep-alive event (Anthropic's ping, an SSE comment elsewhere); 0: never.
    Duration stream_keepalive{std::chrono::seconds(10)};
    // Caller connections kept open at most (0: the file-descriptor limit less a reserve; see
    // server/overload.hpp), and how long a new one may take to send its first request when the
    // gateway is near that cap (otherwise keepalive_timeout).
    std::size_t max_connections = 0;
    Duration first_byte_timeout{std::chrono::seconds(5)};

    bool operator==(const Server&) const = default;
};

// The web console (src/console, docs/observability.md): served on the listeners under `path`.
// Read at start; a reload that changes it is refused (applied only by a restart).
struct Console {
    bool enabled = true;
    std::string path = "/ui/";                          // starts and ends with '/'
    Duration session_ttl{std::chrono::hours(8)};        // a sign-in lasts this long
    std::size_t max_sessions = 1000;                    // beyond, the oldest session is ended
    bool secure_cookie = false;                         // Secure on the cookie (behind a TLS proxy)
    // The charts' samples: one per interval, kept for 3 hours (console/samples.hpp).
    Duration sample_interval{std::chrono::seconds(5)};

    bool operator==(const Console&) const = default;
};

struct Gateway {
    std::vector<Listener> listeners;
    Server server;
    std::vector<Upstream> upstreams;
    std::vector<Engine> engines;
    std::map<std::string, GpuGroup> gpu_groups;
    std::string models_dir;        // the model store (src/models); empty: $SWITCHYARD_MODELS_DIR or the XDG default
    std::size_t host_memory = 0;   // bytes engines without a GPU group may need together (estimated); 0: no budget
    std::vector<Model> models;
    Retries retries;
    Auth auth;
    std::vector<Key> keys;
    Ledger ledger;
    State state;
    AccessLog access_log;
    Prices prices;
    Console console;
    std::size_t deployment_count = 0;  // every model's deployments together

    const Model* find_model(std::string_view name) const;
};

struct Error {
    int line = 0;    // 1-based; 0 when the error is not tied to a place
    int column = 0;  // 1-based
    std::string message;
};
std::string to_string(const Error& error);

struct LoadResult {
    std::optional<Gateway> gateway;  // set only when there are no errors
    std::vector<Error> errors;
};

// Looks an environment variable up; injectable for tests.
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;
EnvLookup process_env();

LoadResult load_string(std::string_view yaml, const EnvLookup& env = process_env());
LoadResult load_file(const std::string& path, const EnvLookup& env = process_env());

// "250ms", "5s", "2m", "1h" or a bare number of seconds.
std::optional<Duration> parse_duration(std::string_view text);
// A redis://[[user]:password@]host[:port][/db] address (host may be [IPv6]).
struct RedisAddress {
    std::string host;
    std::uint16_t port = 6379;
    std::string user;      // empty: the default user
    std::string password;  // empty: no AUTH
    unsigned db = 0;
};
std::optional<RedisAddress> parse_redis_url(std::string_view url);
// The URL with its password replaced by "****", for logs and metrics.
std::string redact_url(std::string_view url);

// "512", "64KiB", "8MiB", "1GiB" (also KB/MB/GB as powers of 1000).
std::optional<std::size_t> parse_size(std::string_view text);

}  // namespace switchyard::config
