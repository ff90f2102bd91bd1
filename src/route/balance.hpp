// Balancing within one tier: each strategy puts the tier's usable deployments in the order the
// router tries them (the first with a free slot serves). Pure functions of the candidates and of
// the randomness or cursor they are given, so their distributions are unit-tested exactly.
//
//   round-robin        rotate by a shared cursor
//   weighted           smooth weighted round-robin (nginx's): over any run of sum(weights)
//                      picks, each deployment gets exactly its weight, interleaved
//   least-outstanding  fewest requests in flight first; ties rotate
//   latency            power of two choices on peak-EWMA time to first token x (in flight + 1)
//   prefix-affinity    the deployment holding the longest prefix of the prompt (its prefix index),
//                      unless it has more than `margin` requests in flight beyond the least loaded;
//                      no match: the session's rendezvous-hash choice among those under a bounded
//                      load; no session: least-outstanding
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/clock.hpp"
#include "core/random.hpp"

namespace switchyard::route {

struct Candidate {
    std::size_t index = 0;        // the deployment's place in its model's list
    std::size_t outstanding = 0;  // requests in flight on it
    double latency_ms = 0;        // its peak-EWMA time to first token (0: not measured yet)
    unsigned weight = 1;
    std::uint32_t matched = 0;     // prefix-affinity: prompt bytes of the longest prefix it holds
    std::uint64_t rendezvous = 0;  // prefix-affinity: the session's rendezvous score there (0: no session)
};

void order_round_robin(std::span<Candidate> candidates, std::size_t cursor);
void order_least_outstanding(std::span<Candidate> candidates, std::size_t cursor);
// `random` is a fresh 64-bit random number; two candidates are drawn from it.
void order_latency(std::span<Candidate> candidates, std::uint64_t random);
double latency_score(const Candidate& candidate);

// How prefix-affinity chose the first candidate.
enum class AffinityChoice {
    matched,     // the longest held prefix
    overridden,  // a prefix was held, but by a deployment loaded beyond the margin: least-outstanding
    hashed,      // no prefix held: the session's rendezvous choice under the bounded load
    least,       // no prefix, no session: least-outstanding
};
// Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam, 2018) done as rendezvous
// hashing: candidates are ranked by their `rendezvous` score and the first whose load after taking
// the request stays within ceil(load_factor x (requests in flight + 1) / candidates) is chosen.
AffinityChoice order_prefix_affinity(std::span<Candidate> candidates, std::size_t margin, double load_factor,
                                     std::size_t cursor);

// Smooth weighted round-robin over a tier. `current` holds one running weight per deployment of
// the tier (indexed by Candidate::index - first) and persists between calls; candidates that are
// not usable now are simply absent and keep their running weight.
void order_weighted(std::span<Candidate> candidates, std::span<std::int64_t> current, std::size_t first);

// Peak-sensitive exponentially weighted moving average (Finagle's peak EWMA): a sample above the
// average replaces it at once, one below decays it with time constant `tau`, so a deployment that
// turns slow is avoided immediately and trusted again gradually.
class PeakEwma {
public:
    explicit PeakEwma(std::chrono::nanoseconds tau = std::chrono::seconds(10)) : tau_(tau) {}
    void observe(double sample_ms, SteadyTime now);
    double value() const { return value_; }

private:
    std::chrono::nanoseconds tau_;
    double value_ = 0;
    SteadyTime last_{};
    bool seen_ = false;
};

using switchyard::next_random;  // core/random.hpp

}  // namespace switchyard::route
