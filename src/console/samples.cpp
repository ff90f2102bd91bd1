#include "console/samples.hpp"

#include <cstdio>
#include <unordered_map>

#include "core/await.hpp"
#include "metrics/metrics.hpp"
#include "server/runtime.hpp"

namespace switchyard::console {

namespace {

void append_number(std::string& out, double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.6g", value);
    out += text;
}

void append_sample(std::string& out, const Sample& s) {
    out += "{\"t\":" + std::to_string(s.t_ms) + ",\"seconds\":";
    append_number(out, s.seconds);
    out += ",\"requests\":" + std::to_string(s.requests) + ",\"errors\":" + std::to_string(s.errors) +
           ",\"client_errors\":" + std::to_string(s.client_errors) + ",\"local\":" + std::to_string(s.local) +
           ",\"cloud\":" + std::to_string(s.cloud) + ",\"prompt_tokens\":" + std::to_string(s.prompt_tokens) +
           ",\"completion_tokens\":" + std::to_string(s.completion_tokens) + ",\"cost_usd\":";
    append_number(out, s.cost_usd);
    const std::pair<const char*, double> timings[] = {{"p50_ms", s.p50_ms},
                                                     {"p95_ms", s.p95_ms},
                                                     {"p99_ms", s.p99_ms},
                                                     {"ttft_p50_ms", s.ttft_p50_ms},
                                                     {"ttft_p95_ms", s.ttft_p95_ms}};
    for (const auto& [name, value] : timings) {
        out += ",\"";
        out += name;
        out += "\":";
        if (value < 0) {
            out += "null";
        } else {
            append_number(out, value);
        }
    }
    out += ",\"in_flight\":" + std::to_string(s.in_flight) + ",\"connections\":" + std::to_string(s.connections) + "}";
}

}  // namespace

double quantile_ms(const std::array<std::uint64_t, 17>& counts, const std::array<double, 16>& bounds, double q) {
    std::uint64_t total = 0;
    for (const auto c : counts) total += c;
    if (total == 0) return -1;
    const double rank = q * static_cast<double>(total);
    double below = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
        const double here = static_cast<double>(counts[i]);
        if (below + here >= rank && here > 0) {
            if (i == bounds.size()) return bounds.back() * 1000;  // +Inf: the highest bound, as Prometheus
            const double lower = i == 0 ? 0 : bounds[i - 1];
            const double upper = bounds[i];
            return (lower + (upper - lower) * ((rank - below) / here)) * 1000;
        }
        below += here;
    }
    return bounds.back() * 1000;
}

Samples::Samples(std::size_t capacity) : capacity_(capacity) { ring_.reserve(capacity_); }

void Samples::add(const Totals& now, std::int64_t t_ms, std::size_t in_flight, std::size_t connections) {
    std::lock_guard lock(mutex_);
    if (!have_last_) {
        have_last_ = true;
        last_ = now;
        last_ms_ = t_ms;
        day_ = t_ms / 86'400'000;
        return;
    }
    Sample s;
    s.t_ms = t_ms;
    s.seconds = static_cast<double>(t_ms - last_ms_) / 1000;
    const auto delta = [](std::uint64_t a, std::uint64_t b) { return a >= b ? a - b : 0; };
    s.requests = delta(now.requests, last_.requests);
    s.errors = delta(now.errors, last_.errors);
    s.client_errors = delta(now.client_errors, last_.client_errors);
    s.local = delta(now.local, last_.local);
    s.cloud = delta(now.cloud, last_.cloud);
    s.prompt_tokens = delta(now.prompt_tokens, last_.prompt_tokens);
    s.completion_tokens = delta(now.completion_tokens, last_.completion_tokens);
    s.cost_usd = now.cost_usd > last_.cost_usd ? now.cost_usd - last_.cost_usd : 0;
    std::array<std::uint64_t, 17> duration{};
    std::array<std::uint64_t, 17> ttft{};
    for (std::size_t i = 0; i < duration.size(); ++i) {
        duration[i] = delta(now.duration[i], last_.duration[i]);
        ttft[i] = delta(now.ttft[i], last_.ttft[i]);
    }
    s.p50_ms = quantile_ms(duration, metrics::kBuckets, 0.5);
    s.p95_ms = quantile_ms(duration, metrics::kBuckets, 0.95);
    s.p99_ms = quantile_ms(duration, metrics::kBuckets, 0.99);
    s.ttft_p50_ms = quantile_ms(ttft, metrics::kBuckets, 0.5);
    s.ttft_p95_ms = quantile_ms(ttft, metrics::kBuckets, 0.95);
    s.in_flight = in_flight;
    s.connections = connections;
    const std::int64_t day = t_ms / 86'400'000;
    if (day != day_) {
        day_ = day;
        spend_today_ = 0;
    }
    spend_today_ += s.cost_usd;
    last_ = now;
    last_ms_ = t_ms;
    if (ring_.size() < capacity_) {
        ring_.push_back(s);
    } else {
        ring_[next_] = s;
        next_ = (next_ + 1) % capacity_;
    }
}

std::string Samples::json(double interval_s, std::int64_t since_ms) const {
    std::lock_guard lock(mutex_);
    std::string out = "{\"interval_s\":";
    append_number(out, interval_s);
    out += ",\"capacity\":" + std::to_string(capacity_) + ",\"spend_today_usd\":";
    append_number(out, spend_today_);
    out += ",\"totals\":{\"requests\":" + std::to_string(last_.requests) +
           ",\"errors\":" + std::to_string(last_.errors) + ",\"client_errors\":" + std::to_string(last_.client_errors) +
           ",\"local\":" + std::to_string(last_.local) + ",\"cloud\":" + std::to_string(last_.cloud) +
           ",\"prompt_tokens\":" + std::to_string(last_.prompt_tokens) +
           ",\"completion_tokens\":" + std::to_string(last_.completion_tokens) + ",\"cost_usd\":";
    append_number(out, last_.cost_usd);
    out += "},\"samples\":[";
    bool first = true;
    for (std::size_t i = 0; i < ring_.size(); ++i) {  // oldest first
        const Sample& s = ring_[(next_ + i) % ring_.size()];
        if (s.t_ms <= since_ms) continue;
        if (!first) out += ',';
        first = false;
        append_sample(out, s);
    }
    out += "]}";
    return out;
}

Totals read_totals(server::Shared& shared) {
    Totals totals;
    const auto generation = shared.current();
    std::unordered_map<std::string_view, bool> local;  // deployment name -> its upstream is local
    for (const auto& model : generation->config.models) {
        for (const auto& deployment : model.deployments) {
            local[deployment.name] = generation->config.upstreams[deployment.upstream].local;
        }
    }
    for (const server::Worker* worker : shared.workers) {
        worker->metrics.each([&](const metrics::Labels& labels, const metrics::Series& series) {
            const std::uint64_t n = series.requests.get();
            totals.requests += n;
            if (labels.status == "5xx") totals.errors += n;
            if (labels.status == "4xx" || labels.status == "499") totals.client_errors += n;
            if (!labels.deployment.empty()) {
                const auto it = local.find(labels.deployment);
                (it != local.end() && it->second ? totals.local : totals.cloud) += n;
            }
            totals.prompt_tokens += series.prompt_tokens.get();
            totals.completion_tokens += series.completion_tokens.get();
            totals.cost_usd += series.cost.get();
            for (std::size_t i = 0; i < totals.duration.size(); ++i) {
                totals.duration[i] += series.duration.bucket(i);
                totals.ttft[i] += series.ttft.bucket(i);
            }
        });
    }
    return totals;
}

boost::asio::awaitable<void> sample_loop(server::Shared& shared, std::chrono::milliseconds interval) {
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
    auto next = std::chrono::steady_clock::now();
    while (!shared.draining.load()) {
        const auto t_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
        shared.samples.add(read_totals(shared), t_ms, shared.in_flight.load(), shared.open_connections.load());
        next += interval;
        timer.expires_at(next);
        co_await timer.async_wait(await_tuple);
    }
}

}  // namespace switchyard::console
