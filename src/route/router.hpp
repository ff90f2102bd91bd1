// Stage "route": picks the deployment that serves one attempt of a request. A model's deployments
// sit in tiers; traffic stays in the lowest tier that has a usable deployment with a free slot.
// Usable means: passing health checks, not cooling down after a 429, circuit breaker letting
// requests through. A deployment over its own rate limit (`limits`) counts as full. Within a tier a strategy orders the candidates (see balance.hpp); each
// deployment has a concurrency limit, and a full tier spills to the next one, queues, or refuses,
// as the model's `overflow` says. A model's fallbacks are tried after all of its own tiers.
//
// The router owns the state it decides with: requests in flight, breakers, cooldowns, latency
// averages, queues and the retry budget. It is shared by every I/O thread (atomics for the hot
// counters, a small lock per deployment for breaker and average) and reads time through an
// injected clock. It knows nothing of HTTP: the forward stage reports each attempt's verdict.
#pragma once

#include <boost/asio.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "limit/limiter.hpp"
#include "parse/prefix.hpp"
#include "route/balance.hpp"
#include "route/prefix_index.hpp"
#include "route/breaker.hpp"
#include "route/retry_budget.hpp"

namespace switchyard::route {

namespace asio = boost::asio;

// Answers "may this upstream take traffic now?"; implemented by the health checker.
class HealthView {
public:
    virtual ~HealthView() = default;
    virtual bool usable(std::size_t upstream) const = 0;
};

class Router;

// One deployment picked for one attempt; holds one of its concurrency slots until destroyed.
class Lease {
public:
    Lease() = default;
    Lease(Lease&& other) noexcept { *this = std::move(other); }
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();

    explicit operator bool() const { return router_ != nullptr; }
    const config::Deployment& deployment() const { return *deployment_; }
    const config::Model& model() const { return *model_; }  // differs from the asked one on fallback
    bool probe() const { return probe_; }  // a half-open breaker's trial request

private:
    friend class Router;
    Lease(Router* router, const config::Model* model, const config::Deployment* deployment, bool probe)
        : router_(router), model_(model), deployment_(deployment), probe_(probe) {}

    Router* router_ = nullptr;
    const config::Model* model_ = nullptr;
    const config::Deployment* deployment_ = nullptr;
    bool probe_ = false;
    bool reported_ = false;
    // Granted from the tier's fair queue, which charged its client the estimate / weight:
    // correct_tokens() then charges the difference (fair_weight_ 0: not charged).
    std::uint64_t fair_client_ = 0;
    double fair_weight_ = 0;
};

// What a request offers the prefix-affinity strategy: its prompt's blocks and its session (the
// x-session-id header's hash, when set, overrides the prompt's own).
struct Hints {
    const parse::PromptPrefix* prefix = nullptr;
    std::uint64_t session = 0;
    bool local_only = false;  // the caller's key: only each model's first tier, refused rather than spilled
    bool batch = false;       // the caller's key: waits for the first tier rather than spill
    // Who the request counts as in a tier's queue, and with what weight: with `key`, a queue
    // works them out for its own model (fair_client(): the asked one's or a fallback's fair_by);
    // without a key, as given (0 and 1: unauthenticated).
    std::uint64_t client = 0;
    double weight = 1;
    const config::Key* key = nullptr;  // the caller's key, if any
};

// Who a request counts as in `model`'s queue, and with what weight (Hints::client, ::weight): its
// key, or the key's value of the model's `queue.fair_by` label (a key without the label is a group
// of its own); 0 and 1 without a key.
struct FairClient {
    std::uint64_t client = 0;
    double weight = 1;
};
FairClient fair_client(const config::Model& model, const config::Key* key);

// How an attempt ended, as far as the deployment's health goes.
enum class Verdict {
    success,       // an answer that is not an upstream fault (2xx, or a 4xx the caller caused)
    failure,       // an upstream fault: connect error, timeout, 5xx, reset, broken response
    rate_limited,  // 429: the deployment cools down for Retry-After
    none,          // no verdict (the caller left first)
};

// What happened, for metrics and tests; monotonic.
struct Counters {
    std::atomic<std::uint64_t> spills{0};          // served by a tier after a full one
    std::atomic<std::uint64_t> fallbacks{0};       // served by a fallback model
    std::atomic<std::uint64_t> queued{0};          // waited in a queue
    std::atomic<std::uint64_t> queue_timeouts{0};
    std::atomic<std::uint64_t> rejected{0};        // refused with 429: full, queue full
    std::atomic<std::uint64_t> retries{0};
    std::atomic<std::uint64_t> budget_exhausted{0};  // a retry refused by the budget
    // prefix-affinity: how the deployment was chosen (see AffinityChoice)
    std::atomic<std::uint64_t> affinity_matched{0};
    std::atomic<std::uint64_t> affinity_overridden{0};
    std::atomic<std::uint64_t> affinity_hashed{0};
    std::atomic<std::uint64_t> affinity_forgotten{0};
    std::atomic<std::uint64_t> held_back{0};  // batch or local_only requests that waited instead of spilling  // a deployment's index dropped (engine down or failing)
};

struct DeploymentStatus {
    std::string_view model;
    std::string_view name;
    unsigned tier = 1;
    std::size_t outstanding = 0;
    Breaker::State breaker = Breaker::State::closed;
    std::uint64_t breaker_opened = 0;
    bool healthy = true;
    bool cooling_down = false;
    double latency_ms = 0;
    std::size_t prefix_blocks = 0;  // prefix-affinity: blocks in its index
    std::size_t prefix_bytes = 0;   // and the prompt bytes they stand for
};

class Router {
public:
    // `previous`: the router this one replaces on a config reload; deployments that stay the same
    // keep their state (requests in flight, breaker, cooldown, latency), and the counters go on.
    Router(const config::Gateway& config, const HealthView& health, const Clock& clock = system_clock(),
           const Router* previous = nullptr);
    ~Router();
    Router(const Router&) = delete;
    Router& operator=(const Router&) = delete;

    // The model a caller named, or the 404 listing what is served and the closest name.
    std::variant<const config::Model*, ApiError> find(std::string_view model) const;

    // A deployment of `model` or of its fallbacks for one attempt, skipping those in `tried`
    // (deployment ids). Waits in a tier's queue when the model says so, at most until `deadline`.
    // Errors: 429 when full (with Retry-After), 503 when nothing is usable.
    // `tokens` is the request's estimated tokens, for deployments with a token limit.
    asio::awaitable<std::variant<Lease, ApiError>> acquire(const config::Model& model,
                                                           std::span<const std::size_t> tried,
                                                           SteadyTime deadline, double tokens = 0);
    // acquire() in two steps, so that the common case costs no coroutine: pick() leases a
    // deployment at once or names the queue to wait in (must_wait()); wait() then waits there.
    struct Tier;  // (defined in router.cpp)
    class Pick {
    public:
        bool must_wait() const { return queue_ != nullptr; }
        std::variant<Lease, ApiError>& result() { return result_; }  // when !must_wait()

    private:
        friend class Router;
        Pick(std::variant<Lease, ApiError> result, Tier* queue) : result_(std::move(result)), queue_(queue) {}
        std::variant<Lease, ApiError> result_;
        Tier* queue_;
        Hints hints_;
        double tokens_ = 0;
    };
    Pick pick(const config::Model& model, std::span<const std::size_t> tried, double tokens = 0, Hints hints = {});
    asio::awaitable<std::variant<Lease, ApiError>> wait(const Pick& pick, SteadyTime deadline);
    // The same without waiting: a full tier that would queue is refused instead.
    std::variant<Lease, ApiError> try_acquire(const config::Model& model, std::span<const std::size_t> tried,
                                              double tokens = 0);
    // A leased attempt used `delta` more tokens than estimated (negative: fewer): the deployment's
    // token limit, and the fair queue's counter of the client when the queue granted the lease,
    // count what was used.
    void correct_tokens(const Lease& lease, double delta);

    // Could another attempt find a deployment now (one not in `tried`, usable, with a free slot
    // or a queue to wait in)? A hint for deciding to retry; changes nothing.
    bool has_alternative(const config::Model& model, std::span<const std::size_t> tried) const;

    // The verdict on a leased attempt: feeds its breaker, latency average and cooldown.
    void report(Lease& lease, Verdict verdict, std::chrono::nanoseconds first_byte = {},
                std::optional<std::chrono::seconds> retry_after = std::nullopt);

    // A fleet (src/state): requests the other instances have in flight on a deployment, counted
    // against its max_concurrency; and a breaker opened elsewhere, which keeps the deployment out
    // until `until` (reported as "circuit opened by another instance").
    void set_remote_outstanding(std::size_t deployment_id, std::size_t count);
    void hold(std::size_t deployment_id, SteadyTime until);

    RetryBudget& retry_budget() { return budget_; }
    Counters& counters() { return *counters_; }
    const Clock& clock() const { return clock_; }
    DeploymentStatus status(std::size_t deployment_id) const;
    std::size_t queued(const config::Model& model) const;  // requests waiting in its tiers' queues

    // The OpenAI `/v1/models` list body.
    const std::string& models_body() const { return models_body_; }
    // The same list of only the models `keep(model)` is true for (those a caller's key may use);
    // with `anthropic`, in Anthropic's shape ({data:[{type:"model",id,display_name,created_at}],
    // has_more,first_id,last_id}) for callers that send anthropic-version.
    std::string models_body(const std::function<bool(const config::Model&)>& keep, bool anthropic = false) const;
    // One model's object, as `/v1/models/{model}` answers it.
    std::string model_body(const config::Model& model, bool anthropic = false) const;
    ApiError unknown_model(std::string_view model) const;

private:
    friend class Lease;
    struct State;
    struct Slot;
    struct Waiter;
    enum class Take { leased, none_usable, full };
    struct Selection {
        std::variant<Lease, ApiError> result;
        Tier* wait_in = nullptr;  // set: queue in this tier instead
    };

    Selection select(const config::Model& model, std::span<const std::size_t> tried, bool may_wait, double tokens,
                     Hints hints = {});
    // Leases the first deployment with a free slot in the strategy's order; `matched_only`: when
    // prefix affinity chose a deployment by a held prefix, that one or none.
    Take take(Tier& tier, std::span<const std::size_t> tried, SteadyTime now, Lease& out, double tokens = 0,
              Hints hints = {}, bool matched_only = false);
    bool usable(const Slot& slot, SteadyTime now) const;
    asio::awaitable<std::variant<Lease, ApiError>> wait(Tier& tier, SteadyTime deadline, double tokens = 0,
                                                        Hints hints = {});
    void release(Lease& lease);
    void dispatch(Tier& tier);
    static void charged(Lease& lease, const Hints& hints);
    ApiError full_error(const Tier& tier, std::string_view why, std::string code) const;
    ApiError unusable_error(const config::Model& model, std::span<const std::size_t> tried) const;
    ApiError first_tier_error(const config::Model& model, std::span<const std::size_t> tried, bool local_only) const;

    const config::Gateway& config_;
    const HealthView& health_;
    const Clock& clock_;
    std::vector<std::unique_ptr<Slot>> slots_;                // by deployment id
    std::vector<std::vector<std::unique_ptr<Tier>>> tiers_;   // by model index, lowest tier first
    std::vector<const config::Model*> sorted_;                // by name, for find()
    std::vector<std::string> names_;
    std::vector<const config::Model*> ordered_;  // as configured, for the /v1/models list
    long long created_ = 0;                      // the models' "created" (the router's start)
    std::string models_body_;
    RetryBudget budget_;
    std::shared_ptr<Counters> counters_;
};

}  // namespace switchyard::route
