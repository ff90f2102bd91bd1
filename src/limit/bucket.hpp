// A token bucket (equivalently GCRA): `capacity` units refilled continuously at `per_second`. A
// request takes units if the bucket holds them; usage corrected after the fact may take the level
// below zero, so a caller that used more than estimated waits longer next time. Not thread-safe
// (the limiter locks); time is given to every call.
#pragma once

#include <chrono>
#include <optional>

#include "core/clock.hpp"

namespace switchyard::limit {

class Bucket {
public:
    Bucket(double per_second, double capacity, SteadyTime now)
        : rate_(per_second), capacity_(capacity), level_(capacity), updated_(now) {}

    // Takes `amount` (at most the capacity is required to be there) and returns nullopt, or
    // returns how long until it could be taken and takes nothing.
    std::optional<std::chrono::nanoseconds> take(double amount, SteadyTime now);
    // Would `take` succeed? Changes nothing but the refill.
    bool can_take(double amount, SteadyTime now);
    // Gives back (negative) or takes more (positive) after the fact, without limit.
    void adjust(double delta, SteadyTime now);

    double level(SteadyTime now);  // units available now (may be negative)
    double capacity() const { return capacity_; }
    // Time until the bucket is full again.
    std::chrono::nanoseconds until_full(SteadyTime now);

private:
    void refill(SteadyTime now);

    double rate_;
    double capacity_;
    double level_;
    SteadyTime updated_;
};

}  // namespace switchyard::limit
