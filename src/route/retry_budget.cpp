#include "route/retry_budget.hpp"

#include <algorithm>

namespace switchyard::route {

namespace {
std::int64_t width_ns(const config::Retries& config) {
    return std::max<std::int64_t>(
        1, std::chrono::duration_cast<std::chrono::nanoseconds>(config.budget_window).count() / 10);
}
}  // namespace

RetryBudget::Bucket& RetryBudget::bucket(SteadyTime now) {
    const std::int64_t index =
        std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count() / width_ns(config_);
    Bucket& b = buckets_[static_cast<std::size_t>(index) % kBuckets];
    if (b.start != index) b = Bucket{index, 0, 0};
    return b;
}

bool RetryBudget::allowed(SteadyTime now) {
    const std::int64_t current =
        std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count() / width_ns(config_);
    std::uint64_t requests = 0;
    std::uint64_t retries = 0;
    for (const auto& b : buckets_) {
        if (b.start < 0 || b.start <= current - static_cast<std::int64_t>(kBuckets)) continue;
        requests += b.requests;
        retries += b.retries;
    }
    const double seconds = std::chrono::duration<double>(config_.budget_window).count();
    const double limit = config_.budget_ratio * static_cast<double>(requests) + config_.budget_min_per_second * seconds;
    return static_cast<double>(retries) + 1 <= limit;
}

void RetryBudget::on_request(SteadyTime now) {
    std::lock_guard lock(mutex_);
    ++bucket(now).requests;
}

bool RetryBudget::can_retry(SteadyTime now) {
    std::lock_guard lock(mutex_);
    return allowed(now);
}

bool RetryBudget::try_retry(SteadyTime now) {
    std::lock_guard lock(mutex_);
    if (!allowed(now)) return false;
    ++bucket(now).retries;
    return true;
}

}  // namespace switchyard::route
