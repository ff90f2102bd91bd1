// The circuit breaker of one deployment: closed (traffic flows), open (no traffic for a cooldown),
// half-open (a few probes go through; the first success closes it, a failure opens it again).
// It opens on `consecutive_failures` failures in a row, or when the failures of a sliding window
// reach `failure_rate` of at least `min_requests` requests. Not thread-safe (the router locks);
// every call is given the time, so tests drive it with no clock at all.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "config/config.hpp"
#include "core/clock.hpp"

namespace switchyard::route {

class Breaker {
public:
    enum class State { closed, open, half_open };
    enum class Admit { no, yes, probe };

    explicit Breaker(const config::Breaker& config) : config_(config) {}

    // Would `admit` let a request through now? Changes nothing.
    bool allows(SteadyTime now) const;
    // Lets a request through or not; a `probe` must end with `record` or `abandon`.
    Admit admit(SteadyTime now);
    // The verdict on a request that was admitted: success or an upstream fault.
    void record(bool success, bool probe, SteadyTime now);
    // A probe that ended with no verdict (the caller left, or the upstream answered 4xx/429).
    void abandon(bool probe);

    State state(SteadyTime now) const;
    SteadyTime open_until() const { return open_until_; }
    std::uint64_t times_opened() const { return times_opened_; }

private:
    static constexpr std::size_t kBuckets = 10;
    struct Bucket {
        std::int64_t start = -1;  // bucket index since the epoch; -1: unused
        std::uint32_t requests = 0;
        std::uint32_t failures = 0;
    };

    void open(SteadyTime now);
    Bucket& bucket(SteadyTime now);
    void window_totals(SteadyTime now, std::uint64_t& requests, std::uint64_t& failures) const;
    std::int64_t bucket_index(SteadyTime now) const;

    const config::Breaker config_;  // a copy: the breaker may outlive the config (reloads)
    State state_ = State::closed;
    SteadyTime open_until_{};
    std::size_t consecutive_ = 0;
    std::size_t probes_ = 0;  // in flight while half-open
    std::uint64_t times_opened_ = 0;
    std::array<Bucket, kBuckets> buckets_{};
};

}  // namespace switchyard::route
