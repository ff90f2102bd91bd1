// Service levels from the ledger, beside cost: for each tier and deployment, TTFT and latency
// percentiles, success rate and availability, read from rows one at a time in bounded memory
// (a fixed log-bucketed histogram per measure, not a list of rows).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ledger/row.hpp"

namespace switchyard::report {

// Counts of positive values in log-spaced buckets, each 2% wider than the last, from 0.01 to
// about 10^8 (ms: 10 µs to 28 hours; values outside are clamped into the end buckets). A
// percentile is the geometric middle of the bucket holding its rank, kept inside the smallest and
// largest values seen, so it is within 1% of the exact value of the same rank; the first and the
// last rank are the smallest and the largest values, exactly. About 9 KiB each.
class LogHistogram {
public:
    static constexpr double kLowest = 0.01;
    static constexpr double kGrowth = 1.02;
    static constexpr std::size_t kBuckets = 1164;  // kLowest * kGrowth^kBuckets > 1e8

    void add(double value);
    std::uint64_t count() const { return count_; }
    // The q-quantile (0 < q <= 1): the value of rank ceil(q * count); nullopt when empty.
    std::optional<double> quantile(double q) const;

private:
    std::array<std::uint64_t, kBuckets> buckets_{};
    std::uint64_t count_ = 0;
    double min_ = 0;
    double max_ = 0;
};

// Requests to one tier or deployment, and how they were served.
struct Service {
    std::string name;
    std::uint64_t requests = 0;
    std::uint64_t succeeded = 0;  // status < 400
    double spend_usd = 0;
    std::int64_t tokens = 0;      // prompt and completion
    // Of successful requests: time to the first byte from the upstream (rows that have one) and
    // arrival to the last byte sent.
    std::optional<double> ttft_p50, ttft_p95, ttft_p99;
    std::optional<double> latency_p50, latency_p95, latency_p99;
    // Availability: of the UTC minutes in which it had requests, the share in which at least one
    // succeeded. A minute of only failures counts against it; a minute without traffic does not count.
    std::uint64_t minutes_with_traffic = 0;
    std::uint64_t minutes_serving = 0;
    std::optional<double> success_rate() const;
    std::optional<double> availability() const;
};

// The ledger's rows summed into services, one row at a time, in the order Store::each_row reads
// them (ts_ms ascending; a row out of order only risks counting its minute twice).
class ServiceAggregator {
public:
    void add(const std::string& name, const ledger::Row& row);
    // Sorted by spend, highest first, then name.
    std::vector<Service> finish() const;

private:
    struct State {
        Service service;
        LogHistogram ttft;
        LogHistogram latency;
        std::int64_t minute = INT64_MIN;
        bool minute_served = false;
    };
    std::map<std::string, State> states_;
};

// Spend over time: the period cut into equal buckets (1 minute to 1 week, the smallest that gives
// at most `max_buckets`), spend per bucket for each series (a tier, say).
struct SpendSeries {
    std::int64_t from_ms = 0;
    std::int64_t bucket_ms = 0;
    std::size_t buckets = 0;
    std::map<std::string, std::vector<double>> spend;  // series name -> spend per bucket
    static SpendSeries over(std::int64_t from_ms, std::int64_t to_ms, std::size_t max_buckets = 200);
    void add(const std::string& series, std::int64_t ts_ms, double usd);
};

}  // namespace switchyard::report
