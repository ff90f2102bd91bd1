#include "metrics/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>

namespace switchyard::metrics {

void Histogram::observe(double seconds) {
    const auto it = std::lower_bound(bounds_->begin(), bounds_->end(), seconds);
    counts_[static_cast<std::size_t>(it - bounds_->begin())].add();
    sum_.add(seconds);
}

std::uint64_t Histogram::count() const {
    std::uint64_t n = 0;
    for (const auto& c : counts_) n += c.get();
    return n;
}

std::string_view to_string(Refusal refusal) {
    switch (refusal) {
        case Refusal::auth: return "auth";
        case Refusal::model_not_allowed: return "model_not_allowed";
        case Refusal::concurrency: return "concurrency";
        case Refusal::budget: return "budget";
        case Refusal::key_rate_limit: return "key_rate_limit";
        case Refusal::model_rate_limit: return "model_rate_limit";
        case Refusal::count: break;
    }
    return "other";
}

std::string status_class(int status) {
    if (status == 499) return "499";
    if (status < 100 || status > 599) return "other";
    return std::string(1, static_cast<char>('0' + status / 100)) + "xx";
}

std::size_t Shard::Hash::operator()(const Labels& l) const {
    std::size_t h = std::hash<std::string>()(l.model);
    h = h * 31 + std::hash<std::string>()(l.deployment);
    h = h * 31 + std::hash<std::string>()(l.key);
    h = h * 31 + std::hash<std::string>()(l.status);
    return h * 31 + static_cast<std::size_t>(l.tier);
}

Series& Shard::series(const Observation& o) {
    const std::string status = status_class(o.status);
    if (last_ != nullptr && last_labels_.model == o.model && last_labels_.deployment == o.deployment &&
        last_labels_.tier == o.tier && last_labels_.key == o.key && last_labels_.status == status) {
        return *last_;
    }
    Labels labels{std::string(o.model), std::string(o.deployment), o.tier, std::string(o.key), status};
    // Only this thread inserts, so the lookup needs no lock; the insertion does (the scraper reads).
    auto it = series_.find(labels);
    if (it == series_.end()) {
        std::lock_guard lock(mutex_);
        it = series_.emplace(labels, std::make_unique<Series>()).first;
    }
    last_ = it->second.get();
    last_labels_ = std::move(labels);
    return *last_;
}

void Shard::forget_key(std::string_view key) {
    if (key.empty()) return;
    std::lock_guard lock(mutex_);
    std::erase_if(series_, [&](const auto& entry) { return entry.first.key == key; });
    if (last_labels_.key == key) last_ = nullptr;
}

void Shard::record(const Observation& o) {
    Series& s = series(o);
    s.requests.add();
    if (o.prompt_tokens > 0) s.prompt_tokens.add(static_cast<std::uint64_t>(o.prompt_tokens));
    if (o.cached_tokens > 0) s.cached_tokens.add(static_cast<std::uint64_t>(o.cached_tokens));
    if (o.completion_tokens > 0) s.completion_tokens.add(static_cast<std::uint64_t>(o.completion_tokens));
    if (o.cost > 0) s.cost.add(o.cost);
    s.duration.observe(o.duration_s);
    if (o.overhead_s >= 0) overhead_.observe(o.overhead_s);
    if (o.ttft_s >= 0) {
        s.ttft.observe(o.ttft_s);
        if (o.completion_tokens > 1 && o.duration_s > o.ttft_s) {
            s.tpot.observe((o.duration_s - o.ttft_s) / static_cast<double>(o.completion_tokens - 1));
        }
    }
}

void append_escaped(std::string& out, std::string_view value) {
    for (const char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
}

void append_number(std::string& out, double value) {
    if (std::isinf(value)) {
        out += value > 0 ? "+Inf" : "-Inf";
        return;
    }
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    (void)ec;
    out.append(buffer, end);
}

void append_header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void append_sample(std::string& out, std::string_view name, std::string_view labels, double value) {
    out += name;
    out += labels;
    out += ' ';
    append_number(out, value);
    out += '\n';
}

}  // namespace switchyard::metrics
