#include "limit/bucket.hpp"

#include <algorithm>
#include <cmath>

namespace switchyard::limit {

void Bucket::refill(SteadyTime now) {
    if (now <= updated_) return;
    const double elapsed = std::chrono::duration<double>(now - updated_).count();
    level_ = std::min(capacity_, level_ + elapsed * rate_);
    updated_ = now;
}

double Bucket::level(SteadyTime now) {
    refill(now);
    return level_;
}

bool Bucket::can_take(double amount, SteadyTime now) {
    refill(now);
    return level_ >= std::min(amount, capacity_);
}

std::optional<std::chrono::nanoseconds> Bucket::take(double amount, SteadyTime now) {
    refill(now);
    const double needed = std::min(amount, capacity_);
    if (level_ >= needed) {
        level_ -= amount;
        return std::nullopt;
    }
    const double seconds = rate_ > 0 ? (needed - level_) / rate_ : 3600.0;
    return std::chrono::nanoseconds(static_cast<std::int64_t>(std::ceil(seconds * 1e9)));
}

void Bucket::adjust(double delta, SteadyTime now) {
    refill(now);
    level_ = std::min(capacity_, level_ - delta);
}

std::chrono::nanoseconds Bucket::until_full(SteadyTime now) {
    refill(now);
    if (level_ >= capacity_ || rate_ <= 0) return {};
    return std::chrono::nanoseconds(static_cast<std::int64_t>(std::ceil((capacity_ - level_) / rate_ * 1e9)));
}

}  // namespace switchyard::limit
