#include "route/router.hpp"

#include <boost/container/small_vector.hpp>

#include <algorithm>
#include <cmath>
#include <ctime>

#include "core/await.hpp"
#include "core/text.hpp"
#include "route/fair_queue.hpp"

namespace switchyard::route {

using std::chrono::duration_cast;
using std::chrono::nanoseconds;

// One tier of one model: deployments [first, last) of the model's list.
struct Router::Tier {
    const config::Model* model = nullptr;
    unsigned number = 1;
    std::size_t first = 0;
    std::size_t last = 0;
    std::atomic<std::size_t> cursor{0};
    std::mutex weights_mutex;
    std::vector<std::int64_t> weights;  // smooth weighted round-robin state
    std::mutex queue_mutex;
    FairQueue<std::shared_ptr<Waiter>> waiters;  // weighted fair order across keys
    std::atomic<std::size_t> waiting{0};  // waiters.size(), read without the lock
};

// What the router decides with about one deployment. A config reload that keeps the deployment
// as it was (same upstream, breaker and limits) hands it to the new router, so requests in
// flight, an open breaker, a cooldown and the latency average carry over.
struct Router::State {
    State(const config::Breaker& breaker_config, const config::RateLimit& limits, const config::Affinity& affinity,
          SteadyTime now)
        : breaker(breaker_config),
          prefix(PrefixBounds{affinity.entries, affinity.bytes,
                              std::chrono::duration_cast<std::chrono::nanoseconds>(affinity.idle)}) {
        if (limits.any()) limiter = std::make_unique<limit::RateLimiter>(limits, now);
    }
    std::atomic<std::size_t> outstanding{0};
    std::atomic<std::size_t> remote{0};          // requests in flight on other instances of a fleet (src/state)
    std::atomic<SteadyTime::rep> held_until{0};  // a breaker opened on another instance of a fleet
    std::atomic<SteadyTime::rep> cooldown_until{0};
    std::mutex mutex;  // breaker and ewma
    Breaker breaker;
    PeakEwma ewma;
    std::unique_ptr<limit::RateLimiter> limiter;  // the deployment's own rate limit, if any
    PrefixIndex prefix;  // prefix-affinity: what was sent here lately (allocated on first use)
};

// One deployment in this router: where it sits, and its state (see State).
struct Router::Slot {
    Slot(const config::Model& m, const config::Deployment& d, const config::Upstream& u, Tier& t,
         std::shared_ptr<State> s)
        : model(&m),
          deployment(&d),
          upstream(&u),
          tier(&t),
          state(std::move(s)),
          outstanding(state->outstanding),
          remote(state->remote),
          held_until(state->held_until),
          cooldown_until(state->cooldown_until),
          mutex(state->mutex),
          breaker(state->breaker),
          ewma(state->ewma),
          limiter(state->limiter),
          prefix(state->prefix),
          name_hash(parse::hash_bytes(d.name, 0x6e616d65)) {}
    const config::Model* model;
    const config::Deployment* deployment;
    const config::Upstream* upstream;
    Tier* tier;
    std::shared_ptr<State> state;
    std::atomic<std::size_t>& outstanding;
    std::atomic<std::size_t>& remote;
    std::atomic<SteadyTime::rep>& held_until;
    std::atomic<SteadyTime::rep>& cooldown_until;
    std::mutex& mutex;
    Breaker& breaker;
    PeakEwma& ewma;
    std::unique_ptr<limit::RateLimiter>& limiter;
    PrefixIndex& prefix;
    std::uint64_t name_hash;  // its rendezvous-hashing identity: the deployment's name, the same on every instance
};

// A request waiting in a tier's queue; a released slot is handed to it as a lease.
struct Router::Waiter {
    Waiter(asio::any_io_executor executor, double estimate, Hints prompt)
        : timer(std::move(executor)), tokens(estimate), hints(prompt) {
        // Its own copy of the prompt's blocks (~1 KiB): what the queue reads never depends on
        // the waiting request's lifetime.
        if (hints.prefix != nullptr) {
            prefix = *hints.prefix;
            hints.prefix = &prefix;
        }
    }
    Waiter(const Waiter&) = delete;
    Waiter& operator=(const Waiter&) = delete;
    asio::steady_timer timer;
    Lease lease;
    double tokens;  // its estimate, for a deployment's token limit
    Hints hints;    // its prompt's blocks (`prefix`) and session
    parse::PromptPrefix prefix;
    unsigned passed = 0;  // times a slot went to a later waiter whose prefix it held
};

Lease& Lease::operator=(Lease&& other) noexcept {
    if (this != &other) {
        if (router_ != nullptr) router_->release(*this);
        router_ = std::exchange(other.router_, nullptr);
        model_ = other.model_;
        deployment_ = other.deployment_;
        probe_ = other.probe_;
        reported_ = other.reported_;
        fair_client_ = other.fair_client_;
        fair_weight_ = other.fair_weight_;
    }
    return *this;
}

Lease::~Lease() {
    if (router_ != nullptr) router_->release(*this);
}

Router::Router(const config::Gateway& config, const HealthView& health, const Clock& clock, const Router* previous)
    : config_(config),
      health_(health),
      clock_(clock),
      budget_(config.retries),
      counters_(previous != nullptr ? previous->counters_ : std::make_shared<Counters>()) {
    created_ = static_cast<long long>(std::time(nullptr));
    // The state a deployment of the previous router had, if this one is the same deployment.
    const auto inherited = [&](const config::Model& model, const config::Deployment& deployment) {
        std::shared_ptr<State> state;
        if (previous == nullptr) return state;
        const auto found = previous->find(model.name);
        if (!std::holds_alternative<const config::Model*>(found)) return state;
        const config::Model& before = *std::get<const config::Model*>(found);
        for (const auto& old : before.deployments) {
            if (old.name != deployment.name) continue;
            const auto& old_upstream = previous->config_.upstreams[old.upstream];
            const auto& upstream = config.upstreams[deployment.upstream];
            if (old.model == deployment.model && old.limits == deployment.limits &&
                old_upstream.name == upstream.name && old_upstream.url == upstream.url &&
                old_upstream.breaker == upstream.breaker) {
                state = previous->slots_[old.id]->state;
            }
            break;
        }
        return state;
    };
    slots_.resize(config.deployment_count);
    for (const auto& model : config.models) {
        auto& tiers = tiers_.emplace_back();
        for (std::size_t i = 0; i < model.deployments.size(); ++i) {
            const auto& deployment = model.deployments[i];
            if (tiers.empty() || tiers.back()->number != deployment.tier) {
                auto tier = std::make_unique<Tier>();
                tier->model = &model;
                tier->number = deployment.tier;
                tier->first = i;
                tiers.push_back(std::move(tier));
            }
            Tier& tier = *tiers.back();
            tier.last = i + 1;
            tier.weights.push_back(0);
            const auto& upstream = config.upstreams[deployment.upstream];
            auto state = inherited(model, deployment);
            if (!state) {
                // A fleet (state: redis): each instance keeps its share of the deployment's rate limit.
                const std::size_t instances = config.state.url.empty() ? 1 : config.state.instances;
                state = std::make_shared<State>(upstream.breaker,
                                                instances > 1 ? limit::share(deployment.limits, instances)
                                                              : deployment.limits,
                                                model.affinity, clock_.now());
            }
            slots_[deployment.id] = std::make_unique<Slot>(model, deployment, upstream, tier, std::move(state));
        }
        sorted_.push_back(&model);
        ordered_.push_back(&model);
        names_.push_back(model.name);
    }
    models_body_ = models_body([](const config::Model&) { return true; });
    std::sort(sorted_.begin(), sorted_.end(),
              [](const config::Model* a, const config::Model* b) { return a->name < b->name; });
}

Router::~Router() = default;

std::string Router::model_body(const config::Model& model, bool anthropic) const {
    std::string out;
    if (anthropic) {
        const std::time_t created = static_cast<std::time_t>(created_);
        std::tm utc{};
        gmtime_r(&created, &utc);
        char stamp[32];
        std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
        out = R"({"type":"model","id":)";
        append_json_string(out, model.name);
        out += R"(,"display_name":)";
        append_json_string(out, model.name);
        out += R"(,"created_at":")";
        out += stamp;
        out += "\"}";
        return out;
    }
    out = R"({"id":)";
    append_json_string(out, model.name);
    out += R"(,"object":"model","created":)" + std::to_string(created_) + R"(,"owned_by":"switchyard"})";
    return out;
}

std::string Router::models_body(const std::function<bool(const config::Model&)>& keep, bool anthropic) const {
    std::string out = anthropic ? R"({"data":[)" : R"({"object":"list","data":[)";
    const config::Model* first = nullptr;
    const config::Model* last = nullptr;
    for (const config::Model* model : ordered_) {
        if (!keep(*model)) continue;
        if (first != nullptr) out += ',';
        if (first == nullptr) first = model;
        last = model;
        out += model_body(*model, anthropic);
    }
    out += ']';
    if (anthropic) {
        out += R"(,"has_more":false,"first_id":)";
        if (first != nullptr) {
            append_json_string(out, first->name);
        } else {
            out += "null";
        }
        out += R"(,"last_id":)";
        if (last != nullptr) {
            append_json_string(out, last->name);
        } else {
            out += "null";
        }
    }
    out += '}';
    return out;
}

std::variant<const config::Model*, ApiError> Router::find(std::string_view name) const {
    auto it = std::lower_bound(sorted_.begin(), sorted_.end(), name,
                               [](const config::Model* model, std::string_view key) { return model->name < key; });
    if (it == sorted_.end() || (*it)->name != name) return unknown_model(name);
    return *it;
}

bool Router::usable(const Slot& slot, SteadyTime now) const {
    if (!health_.usable(slot.deployment->upstream)) return false;
    if (now.time_since_epoch().count() < slot.cooldown_until.load(std::memory_order_relaxed)) return false;
    if (now.time_since_epoch().count() < slot.held_until.load(std::memory_order_relaxed)) return false;
    std::lock_guard lock(slot.mutex);
    return slot.breaker.allows(now);
}

FairClient fair_client(const config::Model& model, const config::Key* key) {
    if (key == nullptr) return {};
    if (!model.fair_label.empty()) {
        if (const auto label = key->labels.find(model.fair_label); label != key->labels.end()) {
            const auto weight = model.fair_weights.find(label->second);
            return {parse::hash_bytes(label->second, parse::hash_bytes(model.fair_label, 0x6c6162656c)),
                    weight != model.fair_weights.end() ? weight->second : 1.0};
        }
    }
    return {parse::hash_bytes(key->name, 0x6b6579), key->weight};
}

namespace {
// Whole seconds from `now` to `until`, rounded up.
long long seconds_until(SteadyTime until, SteadyTime now) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
    return std::max<long long>(0, (left + 999) / 1000);
}

bool contains(std::span<const std::size_t> ids, std::size_t id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// Takes one of the deployment's concurrency slots if it has one free.
bool take_slot(std::atomic<std::size_t>& outstanding, std::size_t limit, std::size_t remote) {
    if (limit == 0) {
        outstanding.fetch_add(1);
        return true;
    }
    limit = remote >= limit ? 0 : limit - remote;
    std::size_t current = outstanding.load();
    while (current < limit) {
        if (outstanding.compare_exchange_weak(current, current + 1)) return true;
    }
    return false;
}
}  // namespace

// prefix-affinity: the share of a prompt a deployment must hold for its match to count.
constexpr double kMinMatch = 0.5;

Router::Take Router::take(Tier& tier, std::span<const std::size_t> tried, SteadyTime now, Lease& out, double tokens,
                          Hints hints, bool matched_only) {
    const config::Model& model = *tier.model;
    const bool affinity = model.strategy == config::Strategy::prefix_affinity;
    const parse::PromptPrefix* prefix = affinity ? hints.prefix : nullptr;
    const std::uint64_t session = hints.session != 0 ? hints.session : prefix != nullptr ? prefix->session : 0;
    boost::container::small_vector<Candidate, 8> candidates;
    for (std::size_t i = tier.first; i < tier.last; ++i) {
        Slot& slot = *slots_[model.deployments[i].id];
        if (contains(tried, slot.deployment->id)) continue;
        if (!usable(slot, now)) {
            // An engine failing its health checks has restarted or will: what it held is gone.
            if (affinity && slot.prefix.size() > 0 && !health_.usable(slot.deployment->upstream)) {
                slot.prefix.forget();
                counters_->affinity_forgotten.fetch_add(1, std::memory_order_relaxed);
            }
            continue;
        }
        double latency = 0;
        if (model.strategy == config::Strategy::latency) {
            std::lock_guard lock(slot.mutex);
            latency = slot.ewma.value();
        }
        Candidate candidate{i, slot.outstanding.load(std::memory_order_relaxed), latency, slot.deployment->weight};
        if (prefix != nullptr && prefix->count > 0) {
            candidate.matched = slot.prefix.match(std::span(prefix->blocks.data(), prefix->count),
                                                  std::span(prefix->ends.data(), prefix->count), now);
            // A match of less than half the prompt (a system prompt every session shares, held by
            // whichever replica saw it first) does not choose: the session's hash does, as
            // SGLang's cache-aware router does below its cache_threshold of 0.5.
            if (static_cast<double>(candidate.matched) < kMinMatch * prefix->ends[prefix->count - 1]) {
                candidate.matched = 0;
            }
        }
        if (affinity && session != 0) candidate.rendezvous = parse::mix64(session ^ slot.name_hash) | 1;
        candidates.push_back(candidate);
    }
    if (candidates.empty()) return Take::none_usable;

    std::span<Candidate> list(candidates.data(), candidates.size());
    AffinityChoice choice = AffinityChoice::least;
    switch (model.strategy) {
        case config::Strategy::round_robin:
            order_round_robin(list, tier.cursor.fetch_add(1, std::memory_order_relaxed));
            break;
        case config::Strategy::least_outstanding:
            order_least_outstanding(list, tier.cursor.fetch_add(1, std::memory_order_relaxed));
            break;
        case config::Strategy::latency: order_latency(list, next_random()); break;
        case config::Strategy::weighted: {
            std::lock_guard lock(tier.weights_mutex);
            order_weighted(list, tier.weights, tier.first);
            break;
        }
        case config::Strategy::prefix_affinity:
            choice = order_prefix_affinity(list, model.affinity.margin, model.affinity.load_factor,
                                           tier.cursor.fetch_add(1, std::memory_order_relaxed));
            break;
    }
    if (matched_only) {
        if (choice != AffinityChoice::matched) return Take::full;
        list = list.first(1);
    }
    for (const Candidate& candidate : list) {
        Slot& slot = *slots_[model.deployments[candidate.index].id];
        Breaker::Admit admit;
        {
            std::lock_guard lock(slot.mutex);
            admit = slot.breaker.admit(now);
            if (admit == Breaker::Admit::no) continue;
            if (!take_slot(slot.outstanding, slot.deployment->max_concurrency, slot.remote.load(std::memory_order_relaxed))) {
                slot.breaker.abandon(admit == Breaker::Admit::probe);
                continue;
            }
            if (slot.limiter && slot.limiter->admit(tokens, now)) {  // over its rate limit: full
                slot.outstanding.fetch_sub(1);
                slot.breaker.abandon(admit == Breaker::Admit::probe);
                continue;
            }
        }
        out = Lease(this, &model, slot.deployment, admit == Breaker::Admit::probe);
        if (affinity) {
            // A held prefix whose deployment was full counts as overridden (by load).
            const bool first = &candidate == list.data();
            if (choice == AffinityChoice::matched && first) counters_->affinity_matched.fetch_add(1, std::memory_order_relaxed);
            if (choice == AffinityChoice::overridden || (choice == AffinityChoice::matched && !first)) {
                counters_->affinity_overridden.fetch_add(1, std::memory_order_relaxed);
            }
            if (choice == AffinityChoice::hashed) counters_->affinity_hashed.fetch_add(1, std::memory_order_relaxed);
        }
        if (prefix != nullptr && prefix->count > 0) {
            slot.prefix.insert(std::span(prefix->blocks.data(), prefix->count),
                               std::span(prefix->ends.data(), prefix->count), now);
        }
        return Take::leased;
    }
    return Take::full;
}

Router::Selection Router::select(const config::Model& model, std::span<const std::size_t> tried, bool may_wait,
                                 double tokens, Hints hints) {
    const SteadyTime now = clock_.now();
    Tier* first_full = nullptr;
    // local_only and batch keys stay in each model's first tier, and wait there when it is full.
    const bool first_tier_only = hints.local_only || hints.batch;
    const auto try_model = [&](const config::Model& m, bool fallback) -> std::optional<Selection> {
        const auto& tiers = tiers_[static_cast<std::size_t>(&m - config_.models.data())];
        for (std::size_t t = 0; t < tiers.size(); ++t) {
            Tier* tier = tiers[t].get();
            if (t > 0 && first_tier_only) break;
            Lease lease;
            switch (take(*tier, tried, now, lease, tokens, hints)) {
                case Take::leased:
                    if (fallback) counters_->fallbacks.fetch_add(1, std::memory_order_relaxed);
                    if (first_full != nullptr) counters_->spills.fetch_add(1, std::memory_order_relaxed);
                    return Selection{std::move(lease)};
                case Take::none_usable: break;
                case Take::full:
                    if (first_full == nullptr) first_full = tier;
                    if (m.overflow == config::Overflow::reject || (m.overflow == config::Overflow::queue && !may_wait)) {
                        counters_->rejected.fetch_add(1, std::memory_order_relaxed);
                        return Selection{full_error(*tier, "every usable deployment is at its concurrency limit",
                                                    "deployments_saturated")};
                    }
                    if (m.overflow == config::Overflow::queue) return Selection{ApiError{}, tier};
                    // A batch or local_only request waits for this tier instead of spilling.
                    if (first_tier_only && may_wait && m.queue_size > 0) {
                        counters_->held_back.fetch_add(1, std::memory_order_relaxed);
                        return Selection{ApiError{}, tier};
                    }
                    break;  // spill to the next tier
            }
        }
        return std::nullopt;
    };
    if (auto selection = try_model(model, false)) return std::move(*selection);
    for (const std::size_t index : model.fallback_index) {
        if (auto selection = try_model(config_.models[index], true)) return std::move(*selection);
    }
    if (first_full != nullptr) {
        if (may_wait && first_full->model->queue_size > 0) return Selection{ApiError{}, first_full};
        counters_->rejected.fetch_add(1, std::memory_order_relaxed);
        return Selection{full_error(*first_full, "every usable deployment of every tier is at its concurrency limit",
                                    "deployments_saturated")};
    }
    if (first_tier_only) return Selection{first_tier_error(model, tried, hints.local_only)};
    return Selection{unusable_error(model, tried)};
}

ApiError Router::first_tier_error(const config::Model& model, std::span<const std::size_t> tried,
                                  bool local_only) const {
    ApiError error = unusable_error(model, tried);
    std::string message = local_only ? "this key is local_only: its requests are never sent past a model's first tier"
                                     : "this key's priority is batch: its requests wait for a model's first tier "
                                       "rather than spill to a later one";
    message += ", and no deployment of model '" + model.name + "' in its first tier can take the request now";
    error.status = 503;
    error.type = "server_error";
    error.message = std::move(message);
    error.code = local_only ? "local_only_unavailable" : "batch_unavailable";
    return error;
}

bool Router::has_alternative(const config::Model& model, std::span<const std::size_t> tried) const {
    std::optional<SteadyTime> now;  // read once, and only when there is an untried deployment
    const auto any = [&](const config::Model& m) {
        for (const auto& deployment : m.deployments) {
            if (contains(tried, deployment.id)) continue;
            if (!now) now = clock_.now();
            if (usable(*slots_[deployment.id], *now)) return true;
        }
        return false;
    };
    if (any(model)) return true;
    for (const std::size_t index : model.fallback_index) {
        if (any(config_.models[index])) return true;
    }
    return false;
}

std::variant<Lease, ApiError> Router::try_acquire(const config::Model& model, std::span<const std::size_t> tried,
                                                  double tokens) {
    return select(model, tried, false, tokens).result;
}

void Router::correct_tokens(const Lease& lease, double delta) {
    if (!lease) return;
    Slot& slot = *slots_[lease.deployment_->id];
    if (slot.limiter) slot.limiter->correct(delta, clock_.now());
    if (lease.fair_weight_ > 0) {
        std::lock_guard lock(slot.tier->queue_mutex);
        slot.tier->waiters.credit(lease.fair_client_, delta / lease.fair_weight_);
    }
}

Router::Pick Router::pick(const config::Model& model, std::span<const std::size_t> tried, double tokens, Hints hints) {
    Selection selection = select(model, tried, true, tokens, hints);
    Pick pick(std::move(selection.result), selection.wait_in);
    pick.hints_ = hints;
    pick.tokens_ = tokens;
    return pick;
}

asio::awaitable<std::variant<Lease, ApiError>> Router::wait(const Pick& pick, SteadyTime deadline) {
    return wait(*pick.queue_, deadline, pick.tokens_, pick.hints_);
}

asio::awaitable<std::variant<Lease, ApiError>> Router::acquire(const config::Model& model,
                                                               std::span<const std::size_t> tried,
                                                               SteadyTime deadline, double tokens) {
    Selection selection = select(model, tried, true, tokens);
    if (selection.wait_in == nullptr) co_return std::move(selection.result);
    co_return co_await wait(*selection.wait_in, deadline, tokens);
}

asio::awaitable<std::variant<Lease, ApiError>> Router::wait(Tier& tier, SteadyTime deadline, double tokens,
                                                            Hints hints) {
    const config::Model& model = *tier.model;
    if (hints.key != nullptr) {  // grouped by this tier's model's fair_by (a fallback may have its own)
        const FairClient fair = fair_client(model, hints.key);
        hints.client = fair.client;
        hints.weight = fair.weight;
    }
    auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor, tokens, hints);
    {
        std::lock_guard lock(tier.queue_mutex);
        tier.waiting.fetch_add(1);
        // A slot freed since the tier was found full is taken now (release() checks `waiting`
        // after freeing, so either it sees this waiter or this sees its slot).
        Lease lease;
        const Take taken = take(tier, {}, clock_.now(), lease, tokens, hints);
        if (taken != Take::full || tier.waiters.size() >= model.queue_size) {
            tier.waiting.fetch_sub(1);
            if (taken == Take::leased) co_return std::move(lease);
            if (taken == Take::none_usable) co_return unusable_error(model, {});
            counters_->rejected.fetch_add(1, std::memory_order_relaxed);
            co_return full_error(tier, "its queue is full (" + std::to_string(model.queue_size) + " requests waiting)",
                                 "queue_full");
        }
        tier.waiters.push(hints.client, std::max(tokens, 1.0), hints.weight, waiter);
    }
    counters_->queued.fetch_add(1, std::memory_order_relaxed);
    // Queue timers run on real time; the deadline is the caller's, so both are steady_clock.
    // A freed slot is handed over by dispatch() and cancels the timer at once; the waiter also
    // looks again every kRecheck, for a deployment that recovered (breaker closed, cooldown or
    // rate limit over), which frees no slot and so wakes nobody.
    constexpr auto kRecheck = std::chrono::milliseconds(100);
    const auto until = std::min(std::chrono::steady_clock::now() + model.queue_timeout, deadline);
    while (true) {
        waiter->timer.expires_at(std::min(until, std::chrono::steady_clock::now() + kRecheck));
        auto [ec] = co_await waiter->timer.async_wait(await_tuple);
        (void)ec;  // a grant (cancelled) or a recheck: the queue says which
        std::lock_guard lock(tier.queue_mutex);
        if (waiter->lease) co_return std::move(waiter->lease);
        Lease lease;
        const bool leased = take(tier, {}, clock_.now(), lease, tokens, hints) == Take::leased;
        if (!leased && std::chrono::steady_clock::now() < until) continue;
        if (tier.waiters.erase(waiter, leased)) tier.waiting.fetch_sub(1);
        if (leased) {
            charged(lease, hints);
            co_return std::move(lease);
        }
        break;
    }
    counters_->queue_timeouts.fetch_add(1, std::memory_order_relaxed);
    const auto waited = duration_cast<std::chrono::milliseconds>(model.queue_timeout).count();
    co_return full_error(tier, "no slot became free within the queue timeout of " + std::to_string(waited) + " ms",
                         "queue_timeout");
}

// prefix-affinity in a queue: how many waiters a freed slot is offered to, oldest first, before
// the fairest takes it, and how often one may be passed over for a later waiter whose prompt the
// freed deployment held before it takes any free slot.
constexpr std::size_t kAffinityWindow = 64;
constexpr unsigned kMaxPassed = 8;

// A lease the fair queue granted, charging `hints.client` its estimate / weight.
void Router::charged(Lease& lease, const Hints& hints) {
    lease.fair_client_ = hints.client;
    lease.fair_weight_ = std::max(hints.weight, 1e-9);
}

void Router::dispatch(Tier& tier) {
    std::lock_guard lock(tier.queue_mutex);
    const config::Model& model = *tier.model;
    const bool affinity = model.strategy == config::Strategy::prefix_affinity;
    while (!tier.waiters.empty()) {
        Lease lease;
        const SteadyTime now = clock_.now();
        std::size_t at = tier.waiters.size();
        if (affinity) {
            // A freed slot goes first to the oldest waiter (within the fair order's slack) whose
            // prompt is held by a deployment with a free slot; else to the fairest waiter, on any.
            // A waiter passed over kMaxPassed times takes any free slot in the first round (in
            // the manner of DLPM: Cao et al., "Locality-aware Fair Scheduling in LLM Serving", 2025).
            boost::container::small_vector<Waiter*, 16> passed;
            at = tier.waiters.find_within(model.affinity.fair_slack, kAffinityWindow,
                                          [&](const std::shared_ptr<Waiter>& w) {
                                              const bool held = w->passed < kMaxPassed;
                                              if (take(tier, {}, now, lease, w->tokens, w->hints, held) == Take::leased) return true;
                                              passed.push_back(w.get());
                                              return false;
                                          });
            if (at != tier.waiters.size()) {
                for (Waiter* w : passed) ++w->passed;
            }
        }
        if (at == tier.waiters.size()) {
            at = tier.waiters.next();
            const Waiter& w = *tier.waiters.at(at);
            if (take(tier, {}, now, lease, w.tokens, w.hints) != Take::leased) return;
        }
        std::shared_ptr<Waiter> waiter = tier.waiters.pop(at);
        tier.waiting.fetch_sub(1);
        charged(lease, waiter->hints);
        waiter->lease = std::move(lease);
        asio::post(waiter->timer.get_executor(), [waiter] { waiter->timer.cancel(); });
    }
}

void Router::release(Lease& lease) {
    Slot& slot = *slots_[lease.deployment_->id];
    lease.router_ = nullptr;
    if (lease.probe_ && !lease.reported_) {
        std::lock_guard lock(slot.mutex);
        slot.breaker.abandon(true);
    }
    slot.outstanding.fetch_sub(1);
    if (slot.tier->waiting.load() > 0) dispatch(*slot.tier);
}

void Router::report(Lease& lease, Verdict verdict, std::chrono::nanoseconds first_byte,
                    std::optional<std::chrono::seconds> retry_after) {
    if (!lease || lease.reported_) return;
    lease.reported_ = true;
    Slot& slot = *slots_[lease.deployment_->id];
    const SteadyTime now = clock_.now();
    std::lock_guard lock(slot.mutex);
    switch (verdict) {
        case Verdict::success:
            slot.breaker.record(true, lease.probe_, now);
            if (first_byte.count() > 0) slot.ewma.observe(std::chrono::duration<double, std::milli>(first_byte).count(), now);
            break;
        case Verdict::failure:
            slot.breaker.record(false, lease.probe_, now);
            // A connection refused or reset, a 5xx: the engine may have restarted and lost its cache.
            if (slot.prefix.size() > 0) {
                slot.prefix.forget();
                counters_->affinity_forgotten.fetch_add(1, std::memory_order_relaxed);
            }
            break;
        case Verdict::rate_limited: {
            slot.breaker.abandon(lease.probe_);
            const auto pause = retry_after ? duration_cast<nanoseconds>(*retry_after)
                                           : duration_cast<nanoseconds>(slot.upstream->rate_limit_cooldown);
            slot.cooldown_until.store((now + pause).time_since_epoch().count(), std::memory_order_relaxed);
            break;
        }
        case Verdict::none: slot.breaker.abandon(lease.probe_); break;
    }
}

void Router::set_remote_outstanding(std::size_t deployment_id, std::size_t count) {
    slots_.at(deployment_id)->remote.store(count, std::memory_order_relaxed);
}

void Router::hold(std::size_t deployment_id, SteadyTime until) {
    auto& cooldown = slots_.at(deployment_id)->held_until;
    const auto value = until.time_since_epoch().count();
    auto current = cooldown.load();
    while (current < value && !cooldown.compare_exchange_weak(current, value)) {
    }
}

DeploymentStatus Router::status(std::size_t deployment_id) const {
    const Slot& slot = *slots_.at(deployment_id);
    const SteadyTime now = clock_.now();
    DeploymentStatus status;
    status.model = slot.model->name;
    status.name = slot.deployment->name;
    status.tier = slot.deployment->tier;
    status.outstanding = slot.outstanding.load();
    status.healthy = health_.usable(slot.deployment->upstream);
    status.cooling_down = now.time_since_epoch().count() < slot.cooldown_until.load();
    std::lock_guard lock(slot.mutex);
    status.breaker = slot.breaker.state(now);
    status.breaker_opened = slot.breaker.times_opened();
    status.latency_ms = slot.ewma.value();
    status.prefix_blocks = slot.prefix.size();
    status.prefix_bytes = status.prefix_blocks > 0 ? slot.prefix.bytes() : 0;
    return status;
}

std::size_t Router::queued(const config::Model& model) const {
    std::size_t n = 0;
    for (const auto& tier : tiers_[static_cast<std::size_t>(&model - config_.models.data())]) n += tier->waiting.load();
    return n;
}

ApiError Router::full_error(const Tier& tier, std::string_view why, std::string code) const {
    ApiError error{429,
                   "model '" + tier.model->name + "' is at capacity: tier " + std::to_string(tier.number) + ": " +
                       std::string(why) + "; retry shortly",
                   "rate_limit_error", std::nullopt, std::move(code)};
    error.retry_after = 1;
    return error;
}

ApiError Router::unusable_error(const config::Model& model, std::span<const std::size_t> tried) const {
    const SteadyTime now = clock_.now();
    std::string reasons;
    bool only_rate_limited = true;
    long long retry_after = 0;  // the soonest any of them may take traffic again
    const auto soonest = [&](long long seconds) {
        retry_after = retry_after == 0 ? seconds : std::min(retry_after, seconds);
    };
    const auto describe = [&](const config::Model& m) {
        for (const auto& deployment : m.deployments) {
            const Slot& slot = *slots_[deployment.id];
            if (!reasons.empty()) reasons += "; ";
            reasons += deployment.name + ": ";
            const auto cooldown = slot.cooldown_until.load();
            if (contains(tried, deployment.id)) {
                reasons += "failed in this request";
                only_rate_limited = false;
            } else if (!health_.usable(deployment.upstream)) {
                reasons += "failing health checks";
                only_rate_limited = false;
            } else if (now.time_since_epoch().count() < cooldown) {
                const auto left = seconds_until(SteadyTime(SteadyTime::duration(cooldown)), now);
                reasons += "rate-limited by the upstream for " + std::to_string(left) + " s more";
                soonest(left);
            } else if (now.time_since_epoch().count() < slot.held_until.load()) {
                only_rate_limited = false;
                const auto left = seconds_until(SteadyTime(SteadyTime::duration(slot.held_until.load())), now);
                reasons += "circuit opened by another instance for " + std::to_string(left) + " s more";
                soonest(left);
            } else {
                only_rate_limited = false;
                std::lock_guard lock(slot.mutex);
                if (slot.breaker.state(now) == Breaker::State::open) {
                    const auto left = seconds_until(slot.breaker.open_until(), now);
                    reasons += "circuit open for " + std::to_string(left) + " s more";
                    soonest(left);
                } else {
                    reasons += "circuit half-open, probing";
                }
            }
        }
    };
    describe(model);
    for (const std::size_t index : model.fallback_index) describe(config_.models[index]);
    ApiError error;
    if (only_rate_limited) {
        // Every deployment asked us to slow down: pass that on, with the soonest Retry-After.
        error = ApiError{429, "model '" + model.name + "' is rate-limited by its upstreams (" + reasons + ")",
                         "rate_limit_error", std::nullopt, "upstream_rate_limited"};
    } else {
        error = ApiError{503, "no deployment of model '" + model.name + "' can take the request now (" + reasons + ")",
                         "server_error", std::nullopt, "no_usable_deployment"};
    }
    error.retry_after = std::max<long long>(1, retry_after);
    return error;
}

ApiError Router::unknown_model(std::string_view model) const {
    std::string message = "The model '" + std::string(model) + "' does not exist or is not served here.";
    if (auto guess = closest(model, names_)) message += " Did you mean '" + *guess + "'?";
    message += " Available models: ";
    for (std::size_t i = 0; i < names_.size(); ++i) {
        if (i > 0) message += ", ";
        message += names_[i];
    }
    message += ".";
    ApiError error = ApiError::not_found(std::move(message), "model_not_found");
    error.param = "model";
    return error;
}

}  // namespace switchyard::route
