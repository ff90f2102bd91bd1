#include "limit/limiter.hpp"

#include <cmath>
#include <cstdio>

#include "core/text.hpp"
#include "http/wire.hpp"

namespace switchyard::limit {

RateLimiter::RateLimiter(const config::RateLimit& limits, SteadyTime now) : limits_(limits) {
    if (limits.rpm > 0) {
        const double burst = static_cast<double>(limits.rpm_burst > 0 ? limits.rpm_burst : limits.rpm);
        requests_.emplace(static_cast<double>(limits.rpm) / 60.0, burst, now);
    }
    if (limits.tpm > 0) {
        const double burst = static_cast<double>(limits.tpm_burst > 0 ? limits.tpm_burst : limits.tpm);
        tokens_.emplace(static_cast<double>(limits.tpm) / 60.0, burst, now);
    }
}

std::optional<Refusal> RateLimiter::admit(double tokens, SteadyTime now) {
    std::lock_guard lock(mutex_);
    if (requests_ && !requests_->can_take(1, now)) return Refusal{"requests", *requests_->take(1, now)};
    if (tokens_) {
        if (auto wait = tokens_->take(tokens, now)) return Refusal{"tokens", *wait};
    }
    if (requests_) requests_->take(1, now);
    return std::nullopt;
}

bool RateLimiter::can_admit(double tokens, SteadyTime now) {
    std::lock_guard lock(mutex_);
    return (!requests_ || requests_->can_take(1, now)) && (!tokens_ || tokens_->can_take(tokens, now));
}

void RateLimiter::correct(double delta, SteadyTime now) {
    if (!tokens_ || delta == 0) return;
    std::lock_guard lock(mutex_);
    tokens_->adjust(delta, now);
}

void RateLimiter::give_back(double tokens, SteadyTime now) {
    std::lock_guard lock(mutex_);
    if (requests_) requests_->adjust(-1, now);
    if (tokens_ && tokens != 0) tokens_->adjust(-tokens, now);
}

Snapshot RateLimiter::snapshot(SteadyTime now) {
    std::lock_guard lock(mutex_);
    Snapshot s;
    if (requests_) {
        s.limit_requests = limits_.rpm;
        s.remaining_requests = static_cast<std::uint64_t>(std::max(0.0, std::floor(requests_->level(now))));
        s.reset_requests = requests_->until_full(now);
    }
    if (tokens_) {
        s.limit_tokens = limits_.tpm;
        s.remaining_tokens = static_cast<std::uint64_t>(std::max(0.0, std::floor(tokens_->level(now))));
        s.reset_tokens = tokens_->until_full(now);
    }
    return s;
}

config::RateLimit share(const config::RateLimit& limits, std::size_t instances) {
    if (instances <= 1) return limits;
    const auto part = [instances](std::uint64_t n) -> std::uint64_t {
        return n == 0 ? 0 : std::max<std::uint64_t>(1, (n + instances - 1) / instances);
    };
    return config::RateLimit{.rpm = part(limits.rpm),
                             .tpm = part(limits.tpm),
                             .rpm_burst = part(limits.rpm_burst),
                             .tpm_burst = part(limits.tpm_burst)};
}

std::string reset_text(std::chrono::nanoseconds d) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    char out[48];
    if (ms < 1000) {
        std::snprintf(out, sizeof out, "%lldms", static_cast<long long>(ms));
    } else if (ms < 60'000) {
        std::snprintf(out, sizeof out, "%gs", std::round(static_cast<double>(ms) / 100.0) / 10.0);
    } else {
        std::snprintf(out, sizeof out, "%lldm%llds", static_cast<long long>(ms / 60'000),
                      static_cast<long long>((ms % 60'000) / 1000));
    }
    return out;
}

void append_headers(std::string& head, const Snapshot& s) {
    if (s.limit_requests > 0) {
        wire::add_header(head, "x-ratelimit-limit-requests", static_cast<std::size_t>(s.limit_requests));
        wire::add_header(head, "x-ratelimit-remaining-requests", static_cast<std::size_t>(s.remaining_requests));
        wire::add_header(head, "x-ratelimit-reset-requests", reset_text(s.reset_requests));
    }
    if (s.limit_tokens > 0) {
        wire::add_header(head, "x-ratelimit-limit-tokens", static_cast<std::size_t>(s.limit_tokens));
        wire::add_header(head, "x-ratelimit-remaining-tokens", static_cast<std::size_t>(s.remaining_tokens));
        wire::add_header(head, "x-ratelimit-reset-tokens", reset_text(s.reset_tokens));
    }
}

std::time_t utc_day_start(std::time_t now) { return now - now % 86400; }

std::time_t utc_month_start(std::time_t now) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    tm.tm_mday = 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    return timegm(&tm);
}

std::time_t utc_next_month_start(std::time_t now) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    tm.tm_mday = 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    if (++tm.tm_mon == 12) {
        tm.tm_mon = 0;
        ++tm.tm_year;
    }
    return timegm(&tm);
}

namespace {
long month_index(std::time_t now) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    return (tm.tm_year + 1900L) * 12 + tm.tm_mon;
}

std::string utc_text(std::time_t t) { return utc_format(t, "%Y-%m-%d %H:%M UTC"); }

std::string dollars(double usd) {
    char out[32];
    std::snprintf(out, sizeof out, "$%.2f", usd);
    return out;
}
}  // namespace

void Budget::roll(std::time_t now) {
    const long day = static_cast<long>(now / 86400);
    const long month = month_index(now);
    if (day != day_) {
        day_ = day;
        today_ = 0;
    }
    if (month != month_) {
        month_ = month;
        month_spent_ = 0;
    }
}

void Budget::load(double today, double this_month, std::time_t now) {
    std::lock_guard lock(mutex_);
    roll(now);
    today_ = today;
    month_spent_ = this_month;
}

std::optional<ApiError> Budget::check(std::time_t now) {
    std::lock_guard lock(mutex_);
    roll(now);
    const auto refuse = [&](const char* which, double limit, double spent, std::time_t reset) {
        ApiError error{429,
                       std::string("the key's ") + which + " budget of " + dollars(limit) + " is spent (" +
                           dollars(spent) + " so far); it resets at " + utc_text(reset),
                       "insufficient_quota", std::nullopt, "budget_exceeded"};
        error.retry_after = static_cast<long>(reset - now);
        return error;
    };
    if (monthly_ > 0 && month_spent_ >= monthly_) return refuse("monthly", monthly_, month_spent_, utc_next_month_start(now));
    if (daily_ > 0 && today_ >= daily_) return refuse("daily", daily_, today_, utc_day_start(now) + 86400);
    return std::nullopt;
}

void Budget::spend(double usd, std::time_t now) {
    std::lock_guard lock(mutex_);
    roll(now);
    today_ += usd;
    month_spent_ += usd;
}

double Budget::spent_today(std::time_t now) {
    std::lock_guard lock(mutex_);
    roll(now);
    return today_;
}

double Budget::spent_this_month(std::time_t now) {
    std::lock_guard lock(mutex_);
    roll(now);
    return month_spent_;
}

}  // namespace switchyard::limit
