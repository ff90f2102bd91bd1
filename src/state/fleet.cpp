#include "state/fleet.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <random>

#include "core/await.hpp"
#include "core/clock.hpp"
#include "metrics/metrics.hpp"

namespace switchyard::state {

std::string_view to_string(Mode mode) {
    switch (mode) {
        case Mode::redis: return "redis";
        case Mode::fail_open: return "fail_open";
        case Mode::fail_closed: return "fail_closed";
    }
    return "redis";
}

namespace {

std::string instance_id() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    std::random_device random;
    char tail[16];
    std::snprintf(tail, sizeof tail, "%08x", random());
    return std::string(host) + ":" + std::to_string(::getpid()) + ":" + tail;
}

std::int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

double parse_double(const Reply& reply) {
    double value = 0;
    if (reply.type == Reply::Type::string) {
        std::from_chars(reply.text.data(), reply.text.data() + reply.text.size(), value);
    } else if (reply.type == Reply::Type::integer) {
        value = static_cast<double>(reply.integer);
    }
    return value;
}

std::string number_text(double value) {
    char out[64];
    std::snprintf(out, sizeof out, "%.10g", value);
    return out;
}

}  // namespace

Fleet::Fleet(const config::Gateway& config, auth::KeyStore& keys)
    : state_(config.state),
      keys_(keys),
      address_(config::parse_redis_url(config.state.url).value_or(config::RedisAddress{})),
      redacted_url_(config::redact_url(config.state.url)),
      instance_(instance_id()),
      limit_sha_(sha1_hex(kLimitScript)),
      sync_sha_(sha1_hex(kSyncScript)) {
    spdlog::info("state: shared through Redis at {} (instance {}, timeout {} ms, {} on failure, {} instances)",
                 redacted_url_, instance_, config.state.timeout.count(), config.state.fail_open ? "open" : "closed",
                 config.state.instances);
}

void Fleet::bind(Binding binding) {
    auto bound = std::make_shared<const Binding>(std::move(binding));
    std::lock_guard lock(mutex_);
    binding_ = std::move(bound);
}

std::shared_ptr<limit::RateLimiter> Fleet::fallback(std::unordered_map<std::string, Fallback>& fallbacks,
                                                    const std::string& name, const config::RateLimit& limits) {
    if (!limits.any()) return nullptr;
    std::lock_guard lock(mutex_);
    Fallback& entry = fallbacks[name];
    if (!entry.limiter || !(entry.limits == limits)) {
        entry.limits = limits;
        entry.limiter = std::make_shared<limit::RateLimiter>(limit::share(limits, state_.instances), system_clock().now());
    }
    return entry.limiter;
}

std::shared_ptr<limit::RateLimiter> Fleet::fallback_model(const config::Model& model) {
    return fallback(model_fallbacks_, model.name, model.limits);
}

void Fleet::forget_key(const std::string& name) {
    std::lock_guard lock(mutex_);
    key_fallbacks_.erase(name);
}

std::size_t Fleet::fallback_limiters() const {
    std::lock_guard lock(mutex_);
    return key_fallbacks_.size() + model_fallbacks_.size();
}

Fleet::~Fleet() = default;

Mode Fleet::mode() const {
    if (up()) return Mode::redis;
    return fail_open() ? Mode::fail_open : Mode::fail_closed;
}

std::unique_ptr<Connection> Fleet::connect(asio::io_context& io) {
    std::vector<std::vector<std::string>> setup{{"SCRIPT", "LOAD", std::string(kLimitScript)},
                                                {"SCRIPT", "LOAD", std::string(kSyncScript)}};
    auto connection = std::make_unique<Connection>(io, address_, state_.timeout, stats_, std::move(setup));
    connection->start();
    auto& thread = threads_[connection.get()];
    thread = std::make_unique<Thread>();
    asio::co_spawn(io, sweep_loop(*connection, *thread), asio::detached);
    return connection;
}

void Fleet::start(asio::io_context& io, Connection& connection) {
    asio::co_spawn(io, sync_loop(connection), asio::detached);
}

void Fleet::note(bool ok, std::string_view why) {
    if (ok) {
        if (!up_.exchange(true)) {
            mode_changes_.fetch_add(1);
            down_logged_.store(false);
            spdlog::info("state: Redis at {} answers; mode redis (limits, budgets, concurrency and breakers shared)",
                         redacted_url_);
        }
        return;
    }
    const bool was_up = up_.exchange(false);
    if (down_logged_.exchange(true)) return;  // said once until Redis answers again
    if (was_up) mode_changes_.fetch_add(1);
    spdlog::warn("state: Redis at {} unavailable ({}); mode {}: {}", redacted_url_, why, to_string(mode()),
                 fail_open() ? "each instance enforces its own share (limit / " +
                                   std::to_string(state_.instances) + ") of every limit"
                             : std::string("requests that need shared limits or budgets are refused with 503"));
}

std::string Fleet::limit_key(const Limit& limit) const {
    std::string key = state_.prefix;
    key += ":rl:";
    key += limit.scope;
    key += ':';
    key += limit.name;
    return key;
}

asio::awaitable<Result> Fleet::eval(Connection& connection, const std::string& sha, std::string_view script,
                                    std::vector<std::string_view>& args) {
    args[0] = "EVALSHA";
    args[1] = sha;
    const std::span<const std::string_view> command(args);  // (named: GCC 12 and temporaries in co_await)
    Result result = co_await connection.call(command);
    if (result.ok() && result.reply->is_error() && result.reply->text.starts_with("NOSCRIPT")) {
        // Redis lost its scripts (restarted, or SCRIPT FLUSH): send the text, which loads it again.
        args[0] = "EVAL";
        args[1] = script;
        result = co_await connection.call(command);
    }
    co_return result;
}

std::size_t Fleet::lease_size(std::span<const Limit> limits, double tokens, std::size_t instances,
                              std::size_t max) {
    double k = static_cast<double>(max);
    const double divisor = 8.0 * static_cast<double>(std::max<std::size_t>(1, instances));
    for (const auto& limit : limits) {
        const auto& l = *limit.limits;
        if (l.rpm > 0) k = std::min(k, static_cast<double>(l.rpm_burst > 0 ? l.rpm_burst : l.rpm) / divisor);
        if (l.tpm > 0 && tokens > 0) {
            k = std::min(k, static_cast<double>(l.tpm_burst > 0 ? l.tpm_burst : l.tpm) / divisor / tokens);
        }
    }
    return static_cast<std::size_t>(std::max(1.0, std::floor(k)));
}

Fleet::Lease& Fleet::lease_for(Connection& connection, Thread& thread, const Ask& ask, std::size_t i, SteadyTime now) {
    auto [it, fresh] = thread.leases.try_emplace(ask.keys[i]);
    Lease& lease = it->second;
    if (fresh) lease.limits = limit_arguments(ask.configs[i]);
    if (!fresh && !lease.refilling && lease.expires <= now) give_back(connection, ask.keys[i], lease);
    return lease;
}

asio::awaitable<bool> Fleet::fetch(Connection& connection, Thread& thread, const Ask& ask, std::size_t k,
                                   AdmitReply& parsed, std::string& why) {
    // Requests of this thread that find these leases short wait for this call instead of making
    // their own.
    const auto executor = co_await asio::this_coro::executor;
    auto done = std::make_shared<asio::steady_timer>(executor, asio::steady_timer::time_point::max());
    const SteadyTime now = system_clock().now();
    for (std::size_t i = 0; i < ask.n; ++i) {
        Lease& lease = lease_for(connection, thread, ask, i, now);
        lease.refilling = true;
        lease.refilled = done;
    }
    const std::string count = std::to_string(ask.n);
    const std::string requests_text = std::to_string(k);
    const std::string tokens_text = number_text(ask.tokens * static_cast<double>(k));
    std::vector<std::string_view> args{"", "", count};
    for (std::size_t i = 0; i < ask.n; ++i) args.emplace_back(ask.keys[i]);
    args.emplace_back("admit");
    args.emplace_back(requests_text);
    args.emplace_back(tokens_text);
    std::array<std::array<std::string, 4>, 2> numbers;
    for (std::size_t i = 0; i < ask.n; ++i) {
        numbers[i] = limit_arguments(ask.configs[i]);
        args.insert(args.end(), numbers[i].begin(), numbers[i].end());
    }
    std::vector<const config::RateLimit*> configs;
    for (std::size_t i = 0; i < ask.n; ++i) configs.push_back(&ask.configs[i]);

    const Result result = co_await eval(connection, limit_sha_, kLimitScript, args);
    const bool ok = result.ok() && !result.reply->is_error() && parse_admit_reply(*result.reply, configs, parsed);
    if (!ok) {
        why = !result.ok()                ? result.unavailable
              : result.reply->is_error() ? "Redis error: " + result.reply->text
                                         : std::string("an unexpected reply to the limit script");
    }
    // The leases may have been given back (and erased) by the sweeper meanwhile: look them up again.
    const SteadyTime later = system_clock().now();
    for (std::size_t i = 0; i < ask.n; ++i) {
        Lease& lease = lease_for(connection, thread, ask, i, later);
        if (lease.refilled == done) {
            lease.refilling = false;
            lease.refilled.reset();
        }
        if (ok && parsed.allowed) {
            if (lease.requests <= 0 && lease.tokens <= 0) lease.expires = later + kLeaseTtl;
            if (ask.configs[i].rpm > 0) lease.requests += static_cast<double>(k);
            if (ask.configs[i].tpm > 0) lease.tokens += ask.tokens * static_cast<double>(k);
            lease.snapshot = parsed.snapshots[i];
        }
    }
    done->cancel();
    co_return ok;
}

asio::awaitable<void> Fleet::refill_ahead(Connection& connection, Thread& thread, Ask ask, std::size_t k) {
    AdmitReply parsed;
    std::string why;
    const bool ok = co_await fetch(connection, thread, ask, k, parsed, why);
    if (ok) note(true, {});  // a failure is noticed (and counted) by the request that needs Redis next
}

asio::awaitable<Verdict> Fleet::admit(Connection& connection, std::span<const Limit> limits, double tokens) {
    Verdict verdict;
    Thread& thread = *threads_.at(&connection);
    Ask ask;
    ask.n = std::min<std::size_t>(limits.size(), 2);
    ask.tokens = tokens;
    for (std::size_t i = 0; i < ask.n; ++i) {
        ask.keys[i] = limit_key(limits[i]);
        ask.configs[i] = *limits[i].limits;
    }
    const std::size_t k = lease_size(limits, tokens, state_.instances, state_.max_lease);
    // Takes this request from the leases, if they hold it; refills them ahead of time when they
    // run low, so that requests rarely wait for Redis.
    const auto take = [&](bool ahead) -> bool {
        const SteadyTime now = system_clock().now();
        bool covered = true;
        bool low = false;
        bool refilling = false;
        std::array<Lease*, 2> leases{};
        for (std::size_t i = 0; i < ask.n; ++i) {
            Lease& lease = lease_for(connection, thread, ask, i, now);
            leases[i] = &lease;
            const auto& l = ask.configs[i];
            covered = covered && (l.rpm == 0 || lease.requests >= 1) && (l.tpm == 0 || lease.tokens >= tokens);
            low = low || (l.rpm > 0 && lease.requests < static_cast<double>(k) / 2 + 1) ||
                  (l.tpm > 0 && lease.tokens < tokens * (static_cast<double>(k) / 2 + 1));
            refilling = refilling || lease.refilling;
        }
        if (!covered) return false;
        for (std::size_t i = 0; i < ask.n; ++i) {
            Lease& lease = *leases[i];
            if (ask.configs[i].rpm > 0) lease.requests -= 1;
            if (ask.configs[i].tpm > 0) lease.tokens -= tokens;
            limit::Snapshot s = lease.snapshot;
            s.remaining_requests += static_cast<std::uint64_t>(std::max(0.0, std::floor(lease.requests)));
            s.remaining_tokens += static_cast<std::uint64_t>(std::max(0.0, std::floor(lease.tokens)));
            verdict.snapshots.push_back(s);
        }
        if (ahead && low && !refilling && k > 1 && up()) {
            asio::co_spawn(io_of(connection), refill_ahead(connection, thread, ask, k), asio::detached);
        }
        return true;
    };
    for (int attempt = 0; attempt < 3; ++attempt) {
        if (take(true)) co_return verdict;  // from the leases: no Redis call
        std::shared_ptr<asio::steady_timer> wait_on;
        for (std::size_t i = 0; i < ask.n && !wait_on; ++i) {
            auto it = thread.leases.find(ask.keys[i]);
            if (it != thread.leases.end() && it->second.refilling) wait_on = it->second.refilled;
        }
        if (!wait_on) break;
        co_await wait_on->async_wait(await_tuple);  // another request's call
    }

    AdmitReply parsed;
    std::string why;
    std::size_t size = k;
    while (true) {
        const bool ok = co_await fetch(connection, thread, ask, size, parsed, why);
        if (!ok) {
            verdict.kind = Verdict::Kind::unavailable;
            verdict.why = why;
            note(false, why);
            fallbacks_.fetch_add(1, std::memory_order_relaxed);
            co_return verdict;
        }
        note(true, {});
        if (parsed.allowed) {
            if (take(false)) co_return verdict;
            // Others of this thread took the lease meanwhile: try again for this request alone.
        } else if (size == 1) {
            break;
        }
        size = 1;  // a whole lease did not fit: try for this request alone
    }
    verdict.kind = Verdict::Kind::refused;
    verdict.refused = parsed.refused;
    verdict.refusal = parsed.refusal;
    const SteadyTime now = system_clock().now();
    for (std::size_t i = 0; i < ask.n; ++i) {
        const Lease& lease = lease_for(connection, thread, ask, i, now);
        limit::Snapshot s = parsed.snapshots[i];
        s.remaining_requests += static_cast<std::uint64_t>(std::max(0.0, std::floor(lease.requests)));
        s.remaining_tokens += static_cast<std::uint64_t>(std::max(0.0, std::floor(lease.tokens)));
        verdict.snapshots.push_back(s);
    }
    co_return verdict;
}

void Fleet::correct(Connection& connection, std::span<const Limit> limits, double delta, double requests) {
    if (delta == 0 && requests == 0) return;
    Thread& thread = *threads_.at(&connection);
    for (const auto& limit : limits) {
        const double tokens = limit.limits->tpm > 0 ? delta : 0;
        const double returned = limit.limits->rpm > 0 ? requests : 0;
        if (tokens == 0 && returned == 0) continue;
        auto [it, fresh] = thread.leases.try_emplace(limit_key(limit));
        if (fresh) {
            it->second.limits = limit_arguments(*limit.limits);
            it->second.expires = system_clock().now() + kLeaseTtl;
        }
        it->second.tokens -= tokens;
        it->second.requests += returned;
    }
}

void Fleet::give_back(Connection& connection, const std::string& key, Lease& lease) {
    const double requests = std::max(0.0, std::floor(lease.requests));
    const double tokens = lease.tokens;
    lease.requests = 0;
    lease.tokens = 0;
    if (requests == 0 && tokens == 0) return;
    const std::string requests_text = number_text(-requests);
    const std::string tokens_text = number_text(-tokens);
    std::vector<std::string_view> args{"EVALSHA", limit_sha_, "1", key, "correct", requests_text, tokens_text};
    args.insert(args.end(), lease.limits.begin(), lease.limits.end());
    connection.send(args);  // lost if Redis is away: the limit is then a little looser or tighter
}

asio::awaitable<void> Fleet::sweep_loop(Connection& connection, Thread& thread) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (!stopping_.load()) {
        timer.expires_after(kLeaseTtl);
        co_await timer.async_wait(await_tuple);
        const SteadyTime now = system_clock().now();
        for (auto it = thread.leases.begin(); it != thread.leases.end();) {
            if (it->second.expires <= now && !it->second.refilling) {
                give_back(connection, it->first, it->second);
                it = thread.leases.erase(it);
            } else {
                ++it;
            }
        }
    }
}

void Fleet::spend(auth::KeyEntry& key, double usd, std::time_t now) {
    key.budget.spend(usd, now);
    if (!key.budget.any() || usd <= 0) return;
    const std::string base = state_.prefix + ":spend:" + key.policy.name + ":";
    std::lock_guard lock(mutex_);
    unsent_spend_[base + day_text(now)] += usd;
    unsent_spend_[base + month_text(now)] += usd;
}

std::shared_ptr<limit::RateLimiter> Fleet::fallback_key(const auth::KeyEntry& key) {
    return fallback(key_fallbacks_, key.policy.name, key.policy.limits);
}

asio::awaitable<void> Fleet::sync_loop(Connection& connection) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    // The first connection takes a moment: do not report Redis down before it had the chance.
    timer.expires_after(std::chrono::milliseconds(100));
    co_await timer.async_wait(await_tuple);
    while (!stopping_.load()) {
        try {
            co_await sync_once(connection);
        } catch (const std::exception& e) {
            spdlog::error("state: sync failed: {}", e.what());
        }
        timer.expires_after(state_.sync_interval);
        co_await timer.async_wait(await_tuple);
    }
}

// What one sync sends to Redis and reads back, in the sync script's order: budget entries, then
// deployments' requests in flight, then breaker openings.
struct Fleet::SyncRound {
    struct BudgetEntry {
        std::string key;
        double add = 0;   // spend not yet added in Redis
        double seed = 0;  // what this instance knows was spent, should Redis have nothing
        long ttl = 0;
    };
    std::time_t now = 0;
    SteadyTime steady_now{};
    std::vector<BudgetEntry> budget;
    std::vector<std::shared_ptr<auth::KeyEntry>> budget_keys;  // the (day, month) pairs first in `budget`
    std::vector<std::size_t> limited;   // deployment ids with a concurrency limit...
    std::vector<std::string> counts;    // ... and their requests in flight here
    std::vector<std::size_t> breakers;  // deployment ids with a breaker...
    std::vector<std::string> publish;   // ... and the cooldown (ms) of one that opened here since the last sync, or 0

    std::size_t replies() const { return budget.size() + limited.size() + breakers.size(); }
};

namespace {

struct DeploymentOf {
    const config::Model* model = nullptr;
    const config::Deployment* deployment = nullptr;
};

DeploymentOf find_deployment(const config::Gateway& config, std::size_t id) {
    for (const auto& model : config.models) {
        for (const auto& deployment : model.deployments) {
            if (deployment.id == id) return {&model, &deployment};
        }
    }
    return {};
}

}  // namespace

asio::awaitable<bool> Fleet::sync_once(Connection& connection) {
    // Deployments are read from (and fed back to) the router of the current config generation.
    const std::shared_ptr<const Binding> binding = sync_binding();
    if (!binding) co_return true;
    const config::Gateway& config = *binding->config;
    route::Router& router = *binding->router;
    SyncRound round;
    round.now = std::time(nullptr);
    collect_budgets(round);
    collect_deployments(round, config, router);
    const Result result = co_await send_sync(connection, config, round);
    if (!result.ok() || result.reply->type != Reply::Type::array || result.reply->elements.size() != round.replies()) {
        sync_failed(round, config, router, result);
        co_return false;
    }
    note(true, {});
    last_sync_ms_.store(unix_ms());
    apply_sync(round, router, result.reply->elements);
    co_return true;
}

std::shared_ptr<const Fleet::Binding> Fleet::sync_binding() {
    std::shared_ptr<const Binding> binding;
    {
        std::lock_guard lock(mutex_);
        binding = binding_;
    }
    if (!binding || synced_binding_ == binding) return binding;
    // A new generation: start from its breakers' counts, so that none looks newly opened.
    synced_binding_ = binding;
    breaker_opened_.assign(binding->config->deployment_count, 0);
    for (std::size_t id = 0; id < binding->config->deployment_count; ++id) {
        breaker_opened_[id] = binding->router->status(id).breaker_opened;
    }
    return binding;
}

// Budgets: a (day, month) pair of entries per key with a budget, then unsent spend of other days
// or keys (a day that just ended, a key revoked).
void Fleet::collect_budgets(SyncRound& round) {
    std::map<std::string, double> unsent;
    {
        std::lock_guard lock(mutex_);
        unsent.swap(unsent_spend_);
    }
    const std::string day = day_text(round.now);
    const std::string month = month_text(round.now);
    constexpr long kDayTtl = 2 * 86400;
    constexpr long kMonthTtl = 32 * 86400;
    const auto take = [&](const std::string& name) {
        const auto it = unsent.find(name);
        if (it == unsent.end()) return 0.0;
        const double value = it->second;
        unsent.erase(it);
        return value;
    };
    for (auto& key : keys_.list()) {
        if (!key->budget.any()) continue;
        const std::string base = state_.prefix + ":spend:" + key->policy.name + ":";
        SyncRound::BudgetEntry today{base + day, 0, 0, kDayTtl};
        today.add = take(today.key);
        today.seed = std::max(0.0, key->budget.spent_today(round.now) - today.add);
        SyncRound::BudgetEntry this_month{base + month, 0, 0, kMonthTtl};
        this_month.add = take(this_month.key);
        this_month.seed = std::max(0.0, key->budget.spent_this_month(round.now) - this_month.add);
        round.budget.push_back(std::move(today));
        round.budget.push_back(std::move(this_month));
        round.budget_keys.push_back(key);
    }
    for (const auto& [name, usd] : unsent) {
        const bool day_key = name.size() - name.rfind(':') - 1 == 10;  // ...:YYYY-MM-DD, or ...:YYYY-MM
        round.budget.push_back(SyncRound::BudgetEntry{name, usd, 0, day_key ? kDayTtl : kMonthTtl});
    }
}

// Requests in flight on deployments with a concurrency limit; breakers that opened here.
void Fleet::collect_deployments(SyncRound& round, const config::Gateway& config, route::Router& router) {
    round.steady_now = system_clock().now();
    for (const auto& model : config.models) {
        for (const auto& deployment : model.deployments) {
            const route::DeploymentStatus status = router.status(deployment.id);
            if (deployment.max_concurrency > 0) {
                round.limited.push_back(deployment.id);
                round.counts.push_back(std::to_string(status.outstanding));
            }
            const auto& upstream = config.upstreams[deployment.upstream];
            if (upstream.breaker.enabled) {
                round.breakers.push_back(deployment.id);
                long long ms = 0;
                if (status.breaker_opened > breaker_opened_[deployment.id] &&
                    status.breaker == route::Breaker::State::open) {
                    ms = upstream.breaker.cooldown.count();
                }
                breaker_opened_[deployment.id] = status.breaker_opened;
                round.publish.push_back(std::to_string(ms));
            }
        }
    }
}

// The sync script's call: KEYS are the round's Redis keys; ARGV this instance, the heartbeat,
// the three counts, then each key's numbers.
asio::awaitable<Result> Fleet::send_sync(Connection& connection, const config::Gateway& config,
                                         const SyncRound& round) {
    const auto deployment_key = [&](const char* kind, std::size_t id) {
        const DeploymentOf found = find_deployment(config, id);
        if (!found.deployment) return std::string();
        return state_.prefix + ":" + kind + ":" + found.model->name + "/" + found.deployment->name;
    };
    std::vector<std::string> names;   // keys, in order
    std::vector<std::string> values;  // numbers, in order
    for (const auto& entry : round.budget) {
        names.push_back(entry.key);
        values.push_back(number_text(entry.add));
        values.push_back(number_text(entry.seed));
        values.push_back(std::to_string(entry.ttl));
    }
    for (std::size_t i = 0; i < round.limited.size(); ++i) {
        names.push_back(deployment_key("inflight", round.limited[i]));
        values.push_back(round.counts[i]);
    }
    for (std::size_t i = 0; i < round.breakers.size(); ++i) {
        names.push_back(deployment_key("breaker", round.breakers[i]));
        values.push_back(round.publish[i]);
    }
    const std::string key_count = std::to_string(names.size());
    const std::string heartbeat = std::to_string(3 * state_.sync_interval.count());
    const std::string nb = std::to_string(round.budget.size());
    const std::string nc = std::to_string(round.limited.size());
    const std::string nk = std::to_string(round.breakers.size());
    std::vector<std::string_view> args{"", "", key_count};
    for (const auto& name : names) args.emplace_back(name);
    args.emplace_back(instance_);
    args.emplace_back(heartbeat);
    args.emplace_back(nb);
    args.emplace_back(nc);
    args.emplace_back(nk);
    for (const auto& value : values) args.emplace_back(value);
    co_return co_await eval(connection, sync_sha_, kSyncScript, args);
}

// Keeps the spend for the next try; shared counts are unknown: fail-open gives this instance its
// share of each concurrency limit, fail-closed none of it.
void Fleet::sync_failed(const SyncRound& round, const config::Gateway& config, route::Router& router,
                        const Result& result) {
    {
        std::lock_guard lock(mutex_);
        for (const auto& entry : round.budget) {
            if (entry.add > 0) unsent_spend_[entry.key] += entry.add;
        }
    }
    for (std::size_t id : round.limited) {
        const DeploymentOf found = find_deployment(config, id);
        const std::size_t limit = found.deployment ? found.deployment->max_concurrency : 0;
        const std::size_t share = fail_open() ? (limit + state_.instances - 1) / state_.instances : 0;
        router.set_remote_outstanding(id, limit - std::min(limit, std::max<std::size_t>(share, fail_open() ? 1 : 0)));
    }
    const std::string why = !result.ok()                ? result.unavailable
                            : result.reply->is_error() ? "Redis error: " + result.reply->text
                                                       : std::string("an unexpected reply to the sync script");
    note(false, why);
}

// The fleet's totals: each key's spend today and this month, the other instances' requests in
// flight, and breakers opened elsewhere (held here for their cooldown).
void Fleet::apply_sync(const SyncRound& round, route::Router& router, const std::vector<Reply>& elements) {
    for (std::size_t i = 0; i < round.budget_keys.size(); ++i) {
        auto& key = *round.budget_keys[i];
        const double today = parse_double(elements[2 * i]);
        const double this_month = parse_double(elements[2 * i + 1]);
        key.budget.load(std::max(today, key.budget.spent_today(round.now)),
                        std::max(this_month, key.budget.spent_this_month(round.now)), round.now);
    }
    for (std::size_t i = 0; i < round.limited.size(); ++i) {
        const auto& element = elements[round.budget.size() + i];
        router.set_remote_outstanding(round.limited[i], element.type == Reply::Type::integer
                                                            ? static_cast<std::size_t>(std::max<std::int64_t>(0, element.integer))
                                                            : 0);
    }
    for (std::size_t i = 0; i < round.breakers.size(); ++i) {
        const auto& element = elements[round.budget.size() + round.limited.size() + i];
        if (element.type == Reply::Type::integer && element.integer > 0) {
            router.hold(round.breakers[i], round.steady_now + std::chrono::milliseconds(element.integer));
        }
    }
}

void Fleet::render_metrics(std::string& out) const {
    const auto header = [&](std::string_view name, std::string_view type, std::string_view help) {
        metrics::append_header(out, name, type, help);
    };
    const auto sample = [&](std::string_view name, std::string_view labels, double value) {
        metrics::append_sample(out, name, labels, value);
    };
    header("switchyard_state_redis_up", "gauge", "1 when the last Redis call of this instance succeeded.");
    sample("switchyard_state_redis_up", "", up() ? 1 : 0);
    header("switchyard_state_mode", "gauge",
           "The state mode in force: redis (shared), fail_open (own share in-process) or fail_closed (refusing).");
    const Mode now = mode();
    for (const Mode m : {Mode::redis, Mode::fail_open, Mode::fail_closed}) {
        const std::string labels = "{mode=\"" + std::string(to_string(m)) + "\"}";
        sample("switchyard_state_mode", labels, m == now ? 1 : 0);
    }
    header("switchyard_state_fallback_limiters", "gauge",
           "Fail-open limiters held in-process (by key and by model), made when Redis did not answer.");
    sample("switchyard_state_fallback_limiters", "", static_cast<double>(fallback_limiters()));
    header("switchyard_state_redis_calls_total", "counter", "Redis commands sent.");
    sample("switchyard_state_redis_calls_total", "", static_cast<double>(stats_.calls.load()));
    header("switchyard_state_redis_timeouts_total", "counter", "Redis calls with no reply within state.timeout.");
    sample("switchyard_state_redis_timeouts_total", "", static_cast<double>(stats_.timeouts.load()));
    header("switchyard_state_redis_errors_total", "counter",
           "Redis calls that found no connection, lost it, or got an error reply.");
    sample("switchyard_state_redis_errors_total", "", static_cast<double>(stats_.errors.load()));
    header("switchyard_state_redis_connects_total", "counter", "Redis connections made (reconnections included).");
    sample("switchyard_state_redis_connects_total", "", static_cast<double>(stats_.connects.load()));
    header("switchyard_state_fallback_requests_total", "counter",
           "Requests whose shared rate limits could not be checked in Redis (handled by on_failure).");
    sample("switchyard_state_fallback_requests_total", "", static_cast<double>(fallbacks_.load()));
    header("switchyard_state_mode_changes_total", "counter", "Changes between Redis reachable and unreachable.");
    sample("switchyard_state_mode_changes_total", "", static_cast<double>(mode_changes_.load()));
    header("switchyard_state_last_sync_timestamp_seconds", "gauge",
           "When budgets, concurrency and breakers were last synced with Redis (Unix time; 0: never).");
    sample("switchyard_state_last_sync_timestamp_seconds", "", static_cast<double>(last_sync_ms_.load()) / 1000.0);
}

}  // namespace switchyard::state
