#include "route/breaker.hpp"

#include <algorithm>

namespace switchyard::route {

std::int64_t Breaker::bucket_index(SteadyTime now) const {
    const auto width = std::max<std::int64_t>(
        1, std::chrono::duration_cast<std::chrono::nanoseconds>(config_.window).count() / kBuckets);
    return std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count() / width;
}

Breaker::Bucket& Breaker::bucket(SteadyTime now) {
    const std::int64_t index = bucket_index(now);
    Bucket& b = buckets_[static_cast<std::size_t>(index) % kBuckets];
    if (b.start != index) b = Bucket{index, 0, 0};
    return b;
}

void Breaker::window_totals(SteadyTime now, std::uint64_t& requests, std::uint64_t& failures) const {
    const std::int64_t current = bucket_index(now);
    requests = failures = 0;
    for (const auto& b : buckets_) {
        if (b.start < 0 || b.start <= current - static_cast<std::int64_t>(kBuckets)) continue;
        requests += b.requests;
        failures += b.failures;
    }
}

Breaker::State Breaker::state(SteadyTime now) const {
    if (state_ == State::open && now >= open_until_) return State::half_open;
    return state_;
}

bool Breaker::allows(SteadyTime now) const {
    if (!config_.enabled) return true;
    switch (state(now)) {
        case State::closed: return true;
        case State::open: return false;
        case State::half_open: return probes_ < config_.half_open_requests;
    }
    return true;
}

Breaker::Admit Breaker::admit(SteadyTime now) {
    if (!config_.enabled) return Admit::yes;
    if (state_ == State::open && now >= open_until_) {
        state_ = State::half_open;
        probes_ = 0;
    }
    switch (state_) {
        case State::closed: return Admit::yes;
        case State::open: return Admit::no;
        case State::half_open:
            if (probes_ >= config_.half_open_requests) return Admit::no;
            ++probes_;
            return Admit::probe;
    }
    return Admit::no;
}

void Breaker::open(SteadyTime now) {
    state_ = State::open;
    open_until_ = now + config_.cooldown;
    consecutive_ = 0;
    probes_ = 0;
    buckets_.fill(Bucket{});
    ++times_opened_;
}

void Breaker::record(bool success, bool probe, SteadyTime now) {
    if (!config_.enabled) return;
    if (probe) {
        if (state_ != State::half_open) return;  // already decided by another probe
        if (probes_ > 0) --probes_;
        if (success) {
            state_ = State::closed;
            consecutive_ = 0;
            buckets_.fill(Bucket{});
        } else {
            open(now);
        }
        return;
    }
    // A request admitted while closed that ends after the breaker opened says nothing new.
    if (state_ != State::closed) return;
    Bucket& b = bucket(now);
    ++b.requests;
    if (success) {
        consecutive_ = 0;
        return;
    }
    ++b.failures;
    ++consecutive_;
    if (config_.consecutive_failures > 0 && consecutive_ >= config_.consecutive_failures) {
        open(now);
        return;
    }
    if (config_.failure_rate > 0) {
        std::uint64_t requests = 0;
        std::uint64_t failures = 0;
        window_totals(now, requests, failures);
        if (requests >= config_.min_requests &&
            static_cast<double>(failures) >= config_.failure_rate * static_cast<double>(requests)) {
            open(now);
        }
    }
}

void Breaker::abandon(bool probe) {
    if (probe && state_ == State::half_open && probes_ > 0) --probes_;
}

}  // namespace switchyard::route
