#include "route/balance.hpp"

#include <algorithm>
#include <cmath>

namespace switchyard::route {

void order_round_robin(std::span<Candidate> candidates, std::size_t cursor) {
    if (candidates.empty()) return;
    std::rotate(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(cursor % candidates.size()),
                candidates.end());
}

void order_least_outstanding(std::span<Candidate> candidates, std::size_t cursor) {
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const Candidate& a, const Candidate& b) { return a.outstanding < b.outstanding; });
    // The cursor takes turns among those tied for the fewest.
    std::size_t tied = 0;
    while (tied < candidates.size() && candidates[tied].outstanding == candidates[0].outstanding) ++tied;
    order_round_robin(candidates.first(tied), cursor);
}

double latency_score(const Candidate& candidate) {
    // 1 ms floor: an unmeasured deployment still counts its requests in flight.
    return (candidate.latency_ms + 1.0) * static_cast<double>(candidate.outstanding + 1);
}

void order_latency(std::span<Candidate> candidates, std::uint64_t random) {
    const std::size_t n = candidates.size();
    if (n < 2) return;
    const std::size_t first = static_cast<std::size_t>(random % n);
    std::size_t second = static_cast<std::size_t>((random >> 32) % (n - 1));
    if (second >= first) ++second;
    const std::size_t winner = latency_score(candidates[second]) < latency_score(candidates[first]) ? second : first;
    std::swap(candidates[0], candidates[winner]);
    // The rest, should the winner be full: best score first.
    std::stable_sort(candidates.begin() + 1, candidates.end(), [](const Candidate& a, const Candidate& b) {
        return latency_score(a) < latency_score(b);
    });
}

AffinityChoice order_prefix_affinity(std::span<Candidate> candidates, std::size_t margin, double load_factor,
                                     std::size_t cursor) {
    if (candidates.empty()) return AffinityChoice::least;
    order_least_outstanding(candidates, cursor);  // the order should the first choice be full
    const std::size_t least = candidates[0].outstanding;
    const auto to_front = [&](std::size_t i) {
        std::rotate(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(i),
                    candidates.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    };
    std::size_t best = candidates.size();
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        if (candidates[i].matched == 0) continue;
        // Equal matches (a system prompt every replica holds) go by the session's hash.
        if (best == candidates.size() || candidates[i].matched > candidates[best].matched ||
            (candidates[i].matched == candidates[best].matched &&
             candidates[i].rendezvous > candidates[best].rendezvous)) {
            best = i;
        }
    }
    if (best < candidates.size()) {
        if (candidates[best].outstanding > least + margin) return AffinityChoice::overridden;
        to_front(best);
        return AffinityChoice::matched;
    }
    if (candidates[0].rendezvous == 0) return AffinityChoice::least;
    std::size_t total = 0;
    for (const Candidate& c : candidates) total += c.outstanding;
    const double bound = std::ceil(load_factor * static_cast<double>(total + 1) / static_cast<double>(candidates.size()));
    std::size_t chosen = candidates.size();
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        if (static_cast<double>(candidates[i].outstanding + 1) > bound) continue;
        if (chosen == candidates.size() || candidates[i].rendezvous > candidates[chosen].rendezvous) chosen = i;
    }
    if (chosen < candidates.size()) to_front(chosen);
    return AffinityChoice::hashed;
}

void order_weighted(std::span<Candidate> candidates, std::span<std::int64_t> current, std::size_t first) {
    if (candidates.empty()) return;
    std::int64_t total = 0;
    std::size_t best = 0;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        std::int64_t& weight = current[candidates[i].index - first];
        weight += candidates[i].weight;
        total += candidates[i].weight;
        if (weight > current[candidates[best].index - first]) best = i;
    }
    current[candidates[best].index - first] -= total;
    std::swap(candidates[0], candidates[best]);
    // The rest, should the pick be full: by running weight, highest first.
    std::stable_sort(candidates.begin() + 1, candidates.end(), [&](const Candidate& a, const Candidate& b) {
        return current[a.index - first] > current[b.index - first];
    });
}

void PeakEwma::observe(double sample_ms, SteadyTime now) {
    if (!seen_) {
        value_ = sample_ms;
        last_ = now;
        seen_ = true;
        return;
    }
    const double elapsed = std::chrono::duration<double>(std::max(now - last_, SteadyTime::duration::zero())).count();
    last_ = now;
    if (sample_ms > value_) {
        value_ = sample_ms;
        return;
    }
    const double w = std::exp(-elapsed / std::chrono::duration<double>(tau_).count());
    value_ = value_ * w + sample_ms * (1 - w);
}

}  // namespace switchyard::route
