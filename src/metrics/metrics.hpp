// Stage "account", metrics side: Prometheus counters and histograms of every answered request.
// Each I/O thread records into its own Shard with plain single-writer stores (a relaxed load and
// store, no locked instruction, no sharing between threads); GET /metrics sums the shards and
// adds what other modules own (router, ledger) at scrape time. A new label set (first request of
// a model, deployment, key and status class) is inserted under a lock the scraper also takes;
// later requests find it without one.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace switchyard::metrics {

// A number written by one thread and read by others.
class Cell {
public:
    void add(std::uint64_t n = 1) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

class RealCell {
public:
    void add(double d) { value_.store(value_.load(std::memory_order_relaxed) + d, std::memory_order_relaxed); }
    double get() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0};
};

// Seconds, Prometheus-style cumulative buckets (cumulated when rendered).
inline constexpr std::array<double, 16> kBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                 2.5,   5,    10,    30,   60,  120,  300, 600};

// The gateway's own time per request is mostly well under a millisecond.
inline constexpr std::array<double, 16> kOverheadBuckets{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                         0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                                         0.5,     1,      2.5,     5};

class Histogram {
public:
    explicit Histogram(const std::array<double, 16>& bounds = kBuckets) : bounds_(&bounds) {}
    const std::array<double, 16>& bounds() const { return *bounds_; }
    void observe(double seconds);
    std::uint64_t bucket(std::size_t i) const { return counts_[i].get(); }  // i == size(): +Inf
    std::uint64_t count() const;
    double sum() const { return sum_.get(); }

private:
    const std::array<double, 16>* bounds_;
    std::array<Cell, kBuckets.size() + 1> counts_;
    RealCell sum_;
};

// Why a request was refused before any upstream.
enum class Refusal : std::size_t { auth, model_not_allowed, concurrency, budget, key_rate_limit, model_rate_limit, count };
std::string_view to_string(Refusal refusal);

// The labels of one request's series.
struct Labels {
    std::string model;       // asked for
    std::string deployment;  // "" when none was reached
    int tier = 0;
    std::string key;         // "" without authentication
    std::string status;      // "2xx", "4xx", "5xx", "499"
    bool operator==(const Labels&) const = default;
};

struct Series {
    Cell requests;
    Cell prompt_tokens;
    Cell cached_tokens;  // of the prompt tokens, those the upstream served from its cache
    Cell completion_tokens;
    RealCell cost;
    Histogram duration;  // arrival to last byte
    Histogram ttft;      // upstream time to first byte
    Histogram tpot;      // (duration - ttft) / completion tokens: time per output token
};

// What one answered request contributes.
struct Observation {
    std::string_view model;
    std::string_view deployment;
    int tier = 0;
    std::string_view key;
    int status = 0;
    std::int64_t prompt_tokens = 0;
    std::int64_t cached_tokens = 0;
    std::int64_t completion_tokens = 0;
    double cost = 0;
    double duration_s = 0;
    double ttft_s = -1;
    double overhead_s = -1;  // the gateway's own time (account/account.hpp); -1: not known
};

class Shard {
public:
    void record(const Observation& observation);
    void refused(Refusal why) { refusals_[static_cast<std::size_t>(why)].add(); }
    // Drops the series of a key that is gone (revoked), so that keys made and revoked through the
    // admin API do not add series for ever. On the shard's own thread only (as record()).
    void forget_key(std::string_view key);

    // Calls visit(labels, series) for every series, under the insertion lock.
    template <typename Visit>
    void each(Visit&& visit) const {
        std::lock_guard lock(mutex_);
        for (const auto& [labels, series] : series_) visit(labels, *series);
    }
    std::uint64_t refusals(Refusal why) const { return refusals_[static_cast<std::size_t>(why)].get(); }
    // The gateway's own time per request, over every series of the shard.
    const Histogram& overhead() const { return overhead_; }

private:
    struct Hash {
        std::size_t operator()(const Labels& l) const;
    };
    Series& series(const Observation& observation);

    mutable std::mutex mutex_;
    std::unordered_map<Labels, std::unique_ptr<Series>, Hash> series_;
    // The last series used, so a connection's repeated requests skip the hash lookup.
    Series* last_ = nullptr;
    Labels last_labels_;
    std::array<Cell, static_cast<std::size_t>(Refusal::count)> refusals_;
    Histogram overhead_{kOverheadBuckets};
};

std::string status_class(int status);

// Prometheus text format helpers.
void append_escaped(std::string& out, std::string_view value);  // a label value
void append_number(std::string& out, double value);
// "# HELP name help" and "# TYPE name type" lines.
void append_header(std::string& out, std::string_view name, std::string_view type, std::string_view help);
// "name{labels} value"; `labels` is empty or a whole "{...}".
void append_sample(std::string& out, std::string_view name, std::string_view labels, double value);

}  // namespace switchyard::metrics
