#include "admit/admit.hpp"

#include <chrono>
#include <ctime>

#include "usage/usage.hpp"

namespace switchyard::admit {

namespace {

// A key's (empty `model`) or a model's rate limit refused the request.
ApiError rate_limit_error(std::string_view model, const limit::Refusal& refusal) {
    ApiError error{429,
                   (model.empty() ? std::string("rate limit reached for this key: ")
                                  : "rate limit reached for model '" + std::string(model) + "': ") +
                       std::string(refusal.which) + " per minute; retry in " + limit::reset_text(refusal.retry_after),
                   "rate_limit_error", std::nullopt, "rate_limit_exceeded"};
    error.retry_after =
        std::max<long>(1, static_cast<long>(std::chrono::ceil<std::chrono::seconds>(refusal.retry_after).count()));
    return error;
}

// Fail-closed (`state.on_failure: closed`) while Redis is unreachable.
ApiError state_unavailable_error() {
    ApiError error{503,
                   "the shared rate limit and budget store (Redis) is unavailable and this gateway is configured to "
                   "refuse requests that need it (state.on_failure: closed); retry shortly",
                   "server_error", std::nullopt, "state_unavailable"};
    error.retry_after = 1;
    return error;
}

ApiError model_not_allowed_error(const config::Model& model) {
    return ApiError{403, "this key may not use model '" + model.name + "'", "permission_error", "model",
                    "model_not_allowed"};
}

ApiError concurrency_error(std::size_t limit) {
    ApiError error{429, "this key already has " + std::to_string(limit) + " requests in flight, its limit",
                   "rate_limit_error", std::nullopt, "concurrency_limit_exceeded"};
    error.retry_after = 1;
    return error;
}

}  // namespace

Admission& Admission::operator=(Admission&& other) noexcept {
    if (this == &other) return *this;
    give_back();
    key_ = std::move(other.key_);
    key_limiter_ = other.key_limiter_;
    model_limiter_ = other.model_limiter_;
    key_limiter_owner_ = std::move(other.key_limiter_owner_);
    model_limiter_owner_ = std::move(other.model_limiter_owner_);
    fleet_ = other.fleet_;
    state_ = other.state_;
    fleet_limits_ = other.fleet_limits_;
    fleet_count_ = other.fleet_count_;
    clock_ = other.clock_;
    estimated_ = other.estimated_;
    open_ = other.open_;
    spent_ = other.spent_;
    other.open_ = false;
    other.key_.reset();
    return *this;
}

void Admission::correct(double delta) {
    if (key_limiter_ != nullptr || model_limiter_ != nullptr) {
        const SteadyTime now = clock_->now();
        if (key_limiter_ != nullptr) key_limiter_->correct(delta, now);
        if (model_limiter_ != nullptr) model_limiter_->correct(delta, now);
    }
    if (fleet_count_ > 0) fleet_->correct(*state_, std::span<const state::Limit>(fleet_limits_.data(), fleet_count_), delta);
}

void Admission::settle(double used_tokens, double cost) {
    if (!open_) return;
    open_ = false;
    correct(used_tokens - estimated_);
    if (key_ && cost > 0) spend(cost);
    if (key_) key_->in_flight.fetch_sub(1);
    key_.reset();
}

void Admission::give_back() {
    if (!open_) return;
    open_ = false;
    if (key_limiter_ != nullptr || model_limiter_ != nullptr) {
        const SteadyTime now = clock_->now();
        if (key_limiter_ != nullptr) key_limiter_->give_back(estimated_, now);
        if (model_limiter_ != nullptr) model_limiter_->give_back(estimated_, now);
    }
    if (fleet_count_ > 0) {
        fleet_->correct(*state_, std::span<const state::Limit>(fleet_limits_.data(), fleet_count_), -estimated_, 1);
    }
    if (key_) key_->in_flight.fetch_sub(1);
    key_.reset();
}

void Admission::spend(double cost) {
    if (spent_ || !key_) return;
    spent_ = true;
    if (fleet_ != nullptr) {
        fleet_->spend(*key_, cost, std::time(nullptr));  // here at once, the other instances within a sync
    } else {
        key_->budget.spend(cost, std::time(nullptr));
    }
}

double estimate_tokens(parse::Endpoint endpoint, std::string_view body, const parse::RequestFacts& facts) {
    const double generated =
        endpoint == parse::Endpoint::embeddings ? 0.0 : static_cast<double>(facts.max_tokens.value_or(256));
    return static_cast<double>(usage::estimate_tokens(body)) + generated;
}

asio::awaitable<std::variant<Admission, Refused>> admit(const Context& context, std::shared_ptr<auth::KeyEntry> key,
                                                        const config::Model& model, double estimated,
                                                        std::string& headers) {
    // What is taken goes into `admission` as it is taken: a refusal further on gives it back.
    Admission admission;
    admission.clock_ = &context.clock;
    admission.estimated_ = estimated;
    admission.fleet_ = context.fleet;
    admission.state_ = context.state;

    // The key: its models, requests in flight and budget.
    if (key) {
        if (!key->allows(model.name)) co_return Refused{model_not_allowed_error(model), metrics::Refusal::model_not_allowed};
        const std::size_t limit = key->policy.max_concurrent;
        if (key->in_flight.fetch_add(1) >= limit && limit > 0) {
            key->in_flight.fetch_sub(1);
            co_return Refused{concurrency_error(limit), metrics::Refusal::concurrency};
        }
        admission.key_ = key;
        admission.open_ = true;
        if (auto over = key->budget.check(std::time(nullptr))) co_return Refused{std::move(*over), metrics::Refusal::budget};
    }

    // Rate limits: a fleet's in Redis (the key's and the model's both or neither; when Redis
    // cannot answer, fail-open falls back to this instance's share in-process), else in-process.
    limit::RateLimiter* key_limiter = key && key->limiter.any() ? &key->limiter : nullptr;
    limit::RateLimiter* model_limiter = context.model_limiter.get();
    std::shared_ptr<limit::RateLimiter> key_fallback, model_fallback;  // fail-open: the fleet's, held
    if (context.fleet != nullptr) {
        state::Fleet& fleet = *context.fleet;
        std::array<state::Limit, 2> limits{};
        std::size_t count = 0;
        if (key && key->policy.limits.any()) limits[count++] = {"key", key->policy.name, &key->policy.limits};
        if (model.limits.any()) limits[count++] = {"model", model.name, &model.limits};
        const bool needs_budget = key && key->budget.any();
        if ((count > 0 || needs_budget) && !fleet.fail_open() && !context.state->connected()) {
            co_return Refused{state_unavailable_error(), std::nullopt};
        }
        if (count > 0) {
            const state::Verdict verdict =
                co_await fleet.admit(*context.state, std::span<const state::Limit>(limits.data(), count), estimated);
            if (verdict.kind == state::Verdict::Kind::unavailable) {
                if (!fleet.fail_open()) co_return Refused{state_unavailable_error(), std::nullopt};
                key_fallback = key ? fleet.fallback_key(*key) : nullptr;
                model_fallback = fleet.fallback_model(model);
                key_limiter = key_fallback.get();
                model_limiter = model_fallback.get();
            } else {
                key_limiter = nullptr;
                model_limiter = nullptr;
                if (key && key->policy.limits.any()) limit::append_headers(headers, verdict.snapshots.front());
                if (verdict.kind == state::Verdict::Kind::refused) {
                    const bool by_key = limits[verdict.refused].scope == "key";
                    co_return Refused{rate_limit_error(by_key ? std::string_view() : std::string_view(model.name),
                                                       verdict.refusal),
                                      by_key ? metrics::Refusal::key_rate_limit : metrics::Refusal::model_rate_limit};
                }
                admission.fleet_limits_ = limits;
                admission.fleet_count_ = count;
                admission.open_ = true;
            }
        }
    }
    const SteadyTime now = key_limiter != nullptr || model_limiter != nullptr ? context.clock.now() : SteadyTime{};
    if (key_limiter != nullptr) {
        const auto refusal = key_limiter->admit(estimated, now);
        limit::append_headers(headers, key_limiter->snapshot(now));
        if (refusal) co_return Refused{rate_limit_error({}, *refusal), metrics::Refusal::key_rate_limit};
        admission.key_limiter_ = key_limiter;
        admission.key_limiter_owner_ = std::move(key_fallback);
        admission.open_ = true;
    }
    if (model_limiter != nullptr) {
        if (const auto refusal = model_limiter->admit(estimated, now)) {
            co_return Refused{rate_limit_error(model.name, *refusal), metrics::Refusal::model_rate_limit};
        }
        admission.model_limiter_ = model_limiter;
        admission.model_limiter_owner_ = model_fallback ? std::move(model_fallback) : context.model_limiter;
        admission.open_ = true;
    }
    co_return std::move(admission);
}

}  // namespace switchyard::admit
