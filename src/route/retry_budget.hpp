// The retry budget (as in Finagle and Linkerd): retries may add at most `ratio` of the requests
// seen over a sliding window, plus `min_per_second` so that light traffic can still retry. A
// failing fleet then sees at most (1 + ratio) times its normal load, not attempts times it.
// Thread-safe; time is given to every call.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>

#include "config/config.hpp"
#include "core/clock.hpp"

namespace switchyard::route {

class RetryBudget {
public:
    explicit RetryBudget(const config::Retries& config) : config_(config) {}

    void on_request(SteadyTime now);
    // Is there budget for one more retry? Changes nothing.
    bool can_retry(SteadyTime now);
    // Spends one retry if the budget allows it.
    bool try_retry(SteadyTime now);

private:
    static constexpr std::size_t kBuckets = 10;
    struct Bucket {
        std::int64_t start = -1;
        std::uint64_t requests = 0;
        std::uint64_t retries = 0;
    };
    Bucket& bucket(SteadyTime now);
    bool allowed(SteadyTime now);

    const config::Retries& config_;
    std::mutex mutex_;
    std::array<Bucket, kBuckets> buckets_{};
};

}  // namespace switchyard::route
