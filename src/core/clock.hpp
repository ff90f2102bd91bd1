// Time as an injected dependency: the modules that decide with time (breakers, retry budgets,
// cooldowns, latency averages) read it through `Clock`, so their tests advance a `ManualClock`
// instead of sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace switchyard {

using SteadyTime = std::chrono::steady_clock::time_point;

class Clock {
public:
    virtual ~Clock() = default;
    virtual SteadyTime now() const = 0;
};

// The process's monotonic clock.
class SystemClock final : public Clock {
public:
    SteadyTime now() const override { return std::chrono::steady_clock::now(); }
};

const Clock& system_clock();

// Wall-clock time, Unix milliseconds: for what is recorded (ledger rows, expiry dates kept in a
// database), never for deciding (that is Clock's).
std::int64_t unix_ms();

// A clock that moves only when told; safe to read from several threads.
class ManualClock final : public Clock {
public:
    explicit ManualClock(SteadyTime start = SteadyTime{} + std::chrono::hours(1)) : ns_(start.time_since_epoch().count()) {}
    SteadyTime now() const override { return SteadyTime(SteadyTime::duration(ns_.load())); }
    void advance(std::chrono::nanoseconds by) { ns_ += by.count(); }

private:
    std::atomic<SteadyTime::rep> ns_;
};

}  // namespace switchyard
