// The console's live charts' data: a bounded ring of samples of the gateway's traffic, one every
// `interval` (console.sample_interval, 5 s by default), `capacity` of them (3 h at 5 s). A timer on
// the first I/O thread reads the per-thread metrics shards (the counters GET /metrics reads) and
// stores the difference from the last reading; the model request path is not touched.
#pragma once

#include <array>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace switchyard::server {
struct Shared;
}

namespace switchyard::console {

// Counters summed over every shard, since the gateway started.
struct Totals {
    std::uint64_t requests = 0;
    std::uint64_t errors = 0;         // 5xx
    std::uint64_t client_errors = 0;  // 4xx and 499
    std::uint64_t local = 0;          // served by a local engine (upstream `local`)
    std::uint64_t cloud = 0;          // served by any other upstream
    std::uint64_t prompt_tokens = 0;
    std::uint64_t completion_tokens = 0;
    double cost_usd = 0;
    std::array<std::uint64_t, 17> duration{};  // histogram buckets (not cumulated); [16]: +Inf
    std::array<std::uint64_t, 17> ttft{};
};

// One interval's traffic.
struct Sample {
    std::int64_t t_ms = 0;  // end of the interval, Unix ms
    double seconds = 0;     // the interval's length
    std::uint64_t requests = 0, errors = 0, client_errors = 0, local = 0, cloud = 0;
    std::uint64_t prompt_tokens = 0, completion_tokens = 0;
    double cost_usd = 0;
    double p50_ms = -1, p95_ms = -1, p99_ms = -1;  // latency (arrival to last byte); -1: no request
    double ttft_p50_ms = -1, ttft_p95_ms = -1;
    std::size_t in_flight = 0, connections = 0;
};

// The quantile `q` of a histogram's counts (per bucket, not cumulated; bounds in seconds), in ms,
// interpolated within its bucket as Prometheus' histogram_quantile does; -1 when empty.
double quantile_ms(const std::array<std::uint64_t, 17>& counts, const std::array<double, 16>& bounds, double q);

class Samples {
public:
    explicit Samples(std::size_t capacity = 2160);

    // Adds the interval from the last reading to `now` (the first call only records `now`).
    void add(const Totals& now, std::int64_t t_ms, std::size_t in_flight, std::size_t connections);
    // {"interval_s":..,"capacity":..,"samples":[..],"spend_today_usd":..,"totals":{..}}: the samples
    // newer than `since_ms`.
    std::string json(double interval_s, std::int64_t since_ms) const;

private:
    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::vector<Sample> ring_;
    std::size_t next_ = 0;  // where the next sample goes once the ring is full
    bool have_last_ = false;
    Totals last_;
    std::int64_t last_ms_ = 0;
    double spend_today_ = 0;  // since UTC midnight (or the start, if later)
    std::int64_t day_ = -1;
};

// Reads the shards of `shared`'s workers.
Totals read_totals(server::Shared& shared);
// Every `interval`, until the gateway drains: Samples::add from read_totals.
boost::asio::awaitable<void> sample_loop(server::Shared& shared, std::chrono::milliseconds interval);

}  // namespace switchyard::console
