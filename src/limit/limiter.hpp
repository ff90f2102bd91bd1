// Stage "admit": rate limits (requests and tokens per minute, token buckets) and budgets (dollars
// per UTC day and month). A limit is checked before a request is forwarded, with its tokens
// estimated from the prompt and max_tokens, and corrected from the real usage afterwards. The
// same RateLimiter serves a key, a model (all callers together) and a deployment (the router asks
// it before leasing, so a deployment over its limit counts as full and traffic spills).
// Thread-safe; every call is given the time.
#pragma once

#include <chrono>
#include <ctime>
#include <mutex>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "limit/bucket.hpp"

namespace switchyard::limit {

// What OpenAI's x-ratelimit-* headers say.
struct Snapshot {
    std::uint64_t limit_requests = 0;  // 0: no request limit
    std::uint64_t remaining_requests = 0;
    std::chrono::nanoseconds reset_requests{};
    std::uint64_t limit_tokens = 0;
    std::uint64_t remaining_tokens = 0;
    std::chrono::nanoseconds reset_tokens{};
};

struct Refusal {
    std::string which;  // "requests" or "tokens"
    std::chrono::nanoseconds retry_after{};
};

class RateLimiter {
public:
    RateLimiter(const config::RateLimit& limits, SteadyTime now);

    bool any() const { return requests_.has_value() || tokens_.has_value(); }
    // Takes one request and `tokens` tokens, both or neither.
    std::optional<Refusal> admit(double tokens, SteadyTime now);
    // Would admit() succeed? Changes nothing.
    bool can_admit(double tokens, SteadyTime now);
    // The real usage differed from the estimate by `delta` tokens (positive: more were used).
    void correct(double delta, SteadyTime now);
    // An admitted request that never reached an upstream: its request and `tokens` come back.
    void give_back(double tokens, SteadyTime now);
    Snapshot snapshot(SteadyTime now);

private:
    const config::RateLimit limits_;
    std::mutex mutex_;
    std::optional<Bucket> requests_;
    std::optional<Bucket> tokens_;
};

// One instance's share of a limit enforced by `instances` instances together (rounded up, at least 1).
config::RateLimit share(const config::RateLimit& limits, std::size_t instances);

// Appends the x-ratelimit-* header lines for `snapshot` to `head`.
void append_headers(std::string& head, const Snapshot& snapshot);
// "1s", "6m0s", "250ms": OpenAI's format for x-ratelimit-reset-*.
std::string reset_text(std::chrono::nanoseconds d);

// A key's spend against its daily and monthly budgets (UTC calendar days and months).
class Budget {
public:
    Budget(double daily, double monthly) : daily_(daily), monthly_(monthly) {}
    bool any() const { return daily_ > 0 || monthly_ > 0; }
    // Spend already recorded (from the ledger at start-up).
    void load(double today, double this_month, std::time_t now);
    // A refusal naming the budget that is spent and when it resets, if one is.
    std::optional<ApiError> check(std::time_t now);
    void spend(double usd, std::time_t now);
    double spent_today(std::time_t now);
    double spent_this_month(std::time_t now);

private:
    void roll(std::time_t now);

    double daily_;
    double monthly_;
    std::mutex mutex_;
    long day_ = -1;    // days since the epoch, UTC
    long month_ = -1;  // year * 12 + month, UTC
    double today_ = 0;
    double month_spent_ = 0;
};

// Start of the UTC day / month containing `now`, as Unix seconds.
std::time_t utc_day_start(std::time_t now);
std::time_t utc_month_start(std::time_t now);
std::time_t utc_next_month_start(std::time_t now);

}  // namespace switchyard::limit
