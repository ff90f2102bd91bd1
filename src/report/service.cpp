#include "report/service.hpp"

#include <algorithm>
#include <cmath>

namespace switchyard::report {

namespace {

std::size_t bucket_of(double value) {
    if (!(value > LogHistogram::kLowest)) return 0;
    const double index = std::floor(std::log(value / LogHistogram::kLowest) / std::log(LogHistogram::kGrowth));
    if (index >= static_cast<double>(LogHistogram::kBuckets - 1)) return LogHistogram::kBuckets - 1;
    return static_cast<std::size_t>(index);
}

}  // namespace

void LogHistogram::add(double value) {
    if (!std::isfinite(value) || value < 0) return;
    if (count_ == 0) {
        min_ = max_ = value;
    } else {
        min_ = std::min(min_, value);
        max_ = std::max(max_, value);
    }
    ++buckets_[bucket_of(value)];
    ++count_;
}

std::optional<double> LogHistogram::quantile(double q) const {
    if (count_ == 0) return std::nullopt;
    q = std::clamp(q, 0.0, 1.0);
    const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
    // The smallest and the largest are known exactly (and are what the end buckets hold, unbounded).
    if (rank == 1) return min_;
    if (rank >= count_) return max_;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
        seen += buckets_[i];
        if (seen >= rank) {
            const double middle = kLowest * std::pow(kGrowth, static_cast<double>(i) + 0.5);
            return std::clamp(middle, min_, max_);
        }
    }
    return max_;
}

std::optional<double> Service::success_rate() const {
    if (requests == 0) return std::nullopt;
    return static_cast<double>(succeeded) / static_cast<double>(requests);
}

std::optional<double> Service::availability() const {
    if (minutes_with_traffic == 0) return std::nullopt;
    return static_cast<double>(minutes_serving) / static_cast<double>(minutes_with_traffic);
}

void ServiceAggregator::add(const std::string& name, const ledger::Row& row) {
    auto [it, inserted] = states_.try_emplace(name);
    State& s = it->second;
    if (inserted) s.service.name = name;
    Service& service = s.service;
    ++service.requests;
    service.spend_usd += row.cost_usd;
    service.tokens += row.prompt_tokens + row.completion_tokens;
    const bool ok = row.status > 0 && row.status < 400;
    const std::int64_t minute = row.ts_ms >= 0 ? row.ts_ms / 60'000 : (row.ts_ms - 59'999) / 60'000;
    if (minute != s.minute) {
        ++service.minutes_with_traffic;
        s.minute = minute;
        s.minute_served = false;
    }
    if (ok) {
        ++service.succeeded;
        if (!s.minute_served) {
            ++service.minutes_serving;
            s.minute_served = true;
        }
        if (row.ttft_ms >= 0) s.ttft.add(row.ttft_ms);
        s.latency.add(row.total_ms);
    }
}

std::vector<Service> ServiceAggregator::finish() const {
    std::vector<Service> out;
    out.reserve(states_.size());
    for (const auto& [name, s] : states_) {
        Service service = s.service;
        service.ttft_p50 = s.ttft.quantile(0.50);
        service.ttft_p95 = s.ttft.quantile(0.95);
        service.ttft_p99 = s.ttft.quantile(0.99);
        service.latency_p50 = s.latency.quantile(0.50);
        service.latency_p95 = s.latency.quantile(0.95);
        service.latency_p99 = s.latency.quantile(0.99);
        out.push_back(std::move(service));
    }
    std::sort(out.begin(), out.end(), [](const Service& a, const Service& b) {
        if (a.spend_usd != b.spend_usd) return a.spend_usd > b.spend_usd;
        if (a.requests != b.requests) return a.requests > b.requests;
        return a.name < b.name;
    });
    return out;
}

SpendSeries SpendSeries::over(std::int64_t from_ms, std::int64_t to_ms, std::size_t max_buckets) {
    SpendSeries out;
    out.from_ms = from_ms;
    const std::int64_t span = std::max<std::int64_t>(1, to_ms - from_ms);
    constexpr std::int64_t kMinute = 60'000;
    const std::int64_t sizes[] = {kMinute,         5 * kMinute,      15 * kMinute,      60 * kMinute,
                                  6 * 60 * kMinute, 24 * 60 * kMinute, 7 * 24 * 60 * kMinute};
    out.bucket_ms = sizes[std::size(sizes) - 1];
    for (const auto size : sizes) {
        if (static_cast<std::size_t>((span + size - 1) / size) <= std::max<std::size_t>(1, max_buckets)) {
            out.bucket_ms = size;
            break;
        }
    }
    out.buckets = static_cast<std::size_t>((span + out.bucket_ms - 1) / out.bucket_ms);
    return out;
}

void SpendSeries::add(const std::string& series, std::int64_t ts_ms, double usd) {
    if (buckets == 0 || ts_ms < from_ms) return;
    const auto index = static_cast<std::size_t>((ts_ms - from_ms) / bucket_ms);
    if (index >= buckets) return;
    auto [it, inserted] = spend.try_emplace(series);
    if (inserted) it->second.assign(buckets, 0.0);
    it->second[index] += usd;
}

}  // namespace switchyard::report
