#include "loadgen/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>

namespace switchyard::loadgen {

void Samples::append(const Samples& other) {
    const auto offset = static_cast<std::uint32_t>(itl_ms.size());
    itl_ms.insert(itl_ms.end(), other.itl_ms.begin(), other.itl_ms.end());
    for (RequestRecord r : other.requests) {
        r.itl_begin += offset;
        requests.push_back(r);
    }
}

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(sorted.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(rank));
    const auto hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

Stat describe(std::vector<double> values) {
    Stat s;
    s.count = values.size();
    if (values.empty()) return s;
    std::sort(values.begin(), values.end());
    s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
    double squares = 0;
    for (double v : values) squares += (v - s.mean) * (v - s.mean);
    s.stddev = std::sqrt(squares / static_cast<double>(values.size()));
    s.min = values.front();
    s.max = values.back();
    s.median = percentile(values, 50);
    s.p90 = percentile(values, 90);
    s.p99 = percentile(values, 99);
    return s;
}

std::optional<Objectives> parse_objectives(std::string_view text, std::string* why) {
    Objectives out;
    while (!text.empty()) {
        const auto comma = text.find(',');
        const std::string_view item = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        const auto colon = item.find(':');
        if (colon == std::string_view::npos) {
            *why = "expected METRIC:MS, got '" + std::string(item) + "'";
            return std::nullopt;
        }
        const std::string_view name = item.substr(0, colon);
        const std::string_view number = item.substr(colon + 1);
        double value = 0;
        auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
        if (number.empty() || ec != std::errc{} || end != number.data() + number.size() || value <= 0) {
            *why = "'" + std::string(number) + "' is not a positive number of milliseconds";
            return std::nullopt;
        }
        if (name == "ttft") {
            out.ttft_ms = value;
        } else if (name == "tpot") {
            out.tpot_ms = value;
        } else if (name == "e2el") {
            out.e2el_ms = value;
        } else {
            *why = "unknown objective '" + std::string(name) + "' (ttft, tpot, e2el)";
            return std::nullopt;
        }
    }
    if (out.empty()) {
        *why = "no objectives";
        return std::nullopt;
    }
    return out;
}

std::optional<double> tpot_ms(const RequestRecord& r) {
    if (r.ttft_ms < 0 || r.output_tokens < 2) return std::nullopt;
    return std::max(0.0, r.e2e_ms() - r.ttft_ms) / static_cast<double>(r.output_tokens - 1);
}

bool meets(const RequestRecord& r, const Objectives& objectives) {
    if (!r.ok()) return false;
    const double ttft = r.ttft_ms >= 0 ? r.ttft_ms : r.e2e_ms();
    if (objectives.ttft_ms && ttft > *objectives.ttft_ms) return false;
    if (objectives.tpot_ms) {
        // A request with no TPOT (one token, or not streamed) has no decode phase to judge.
        if (const auto tpot = tpot_ms(r); tpot && *tpot > *objectives.tpot_ms) return false;
    }
    if (objectives.e2el_ms && r.e2e_ms() > *objectives.e2el_ms) return false;
    return true;
}

std::string error_label(const RequestRecord& r) {
    switch (r.error) {
        case ErrorKind::none: return "";
        case ErrorKind::http: return "http " + std::to_string(r.status);
        case ErrorKind::connect: return "connect";
        case ErrorKind::timeout: return "timeout";
        case ErrorKind::closed: return "closed before response";
        case ErrorKind::broken_stream: return "broken stream";
        case ErrorKind::stream_error: return "stream error event";
        case ErrorKind::bad_response: return "bad response";
    }
    return "unknown";
}

Summary summarize(const Samples& samples, const Objectives& objectives) {
    Summary s;
    double first = std::numeric_limits<double>::infinity();
    double last = 0;
    for (const auto& r : samples.requests) {
        if (r.warmup) {
            ++s.warmup;
            continue;
        }
        first = std::min(first, r.start_s);
        last = std::max(last, r.end_s);
        if (!r.ok()) {
            ++s.failed;
            ++s.errors[error_label(r)];
            continue;
        }
        ++s.completed;
        if (!r.usage) ++s.usage_missing;
        s.input_tokens += r.input_tokens;
        s.output_tokens += r.output_tokens;
        s.cached_tokens += r.cached_tokens;
        s.e2el_values.push_back(r.e2e_ms());
        if (r.ttft_ms >= 0) s.ttft_values.push_back(r.ttft_ms);
        if (const auto tpot = tpot_ms(r)) s.tpot_values.push_back(*tpot);
        for (std::uint32_t i = 0; i < r.itl_count; ++i) s.itl_values.push_back(samples.itl_ms[r.itl_begin + i]);
        if (!objectives.empty() && meets(r, objectives)) ++s.good;
    }
    s.duration_s = last > first ? last - first : 0;
    if (s.duration_s > 0) {
        s.request_throughput = static_cast<double>(s.completed) / s.duration_s;
        s.output_throughput = static_cast<double>(s.output_tokens) / s.duration_s;
        s.total_throughput = static_cast<double>(s.input_tokens + s.output_tokens) / s.duration_s;
        if (!objectives.empty()) s.goodput = static_cast<double>(s.good) / s.duration_s;
    } else if (!objectives.empty()) {
        s.goodput = 0;
    }
    s.ttft = describe(s.ttft_values);
    s.tpot = describe(s.tpot_values);
    s.itl = describe(s.itl_values);
    s.e2el = describe(s.e2el_values);
    return s;
}

}  // namespace switchyard::loadgen
