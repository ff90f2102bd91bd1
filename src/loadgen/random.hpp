// Seeded randomness for `switchyard bench`: a small fast generator (xoshiro256**) and the length
// distributions of synthetic prompts and completions. Sampling is implemented here rather than with
// <random>'s distributions, whose output differs between standard libraries, so one --seed gives
// the same workload everywhere.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard::loadgen {

class Rng {
public:
    explicit Rng(std::uint64_t seed);
    // A generator for stream `stream` of `seed` (one per request, session or thread), independent
    // of the order in which streams are used.
    static Rng derive(std::uint64_t seed, std::uint64_t stream);

    std::uint64_t next();
    double uniform();                                            // [0, 1)
    std::uint64_t below(std::uint64_t n);                        // [0, n), n > 0
    std::int64_t between(std::int64_t lo, std::int64_t hi);      // [lo, hi]
    double normal(double mean, double stddev);                   // Box-Muller
    double exponential(double rate);                             // mean 1 / rate

private:
    std::uint64_t s_[4];
};

// A distribution of lengths in tokens: "N" (fixed), "uniform:LO:HI", "normal:MEAN:STDDEV",
// "exponential:MEAN". Samples are whole numbers, at least `min` (normal and exponential are
// clamped).
class LengthDistribution {
public:
    enum class Kind { fixed, uniform, normal, exponential };

    static std::optional<LengthDistribution> parse(std::string_view text, std::string* why);
    static LengthDistribution fixed_at(std::uint32_t n);

    std::uint32_t sample(Rng& rng) const;
    double mean() const;
    Kind kind() const { return kind_; }
    std::string describe() const;
    void set_min(std::uint32_t min) { min_ = min; }

private:
    Kind kind_ = Kind::fixed;
    double a_ = 0;
    double b_ = 0;
    std::uint32_t min_ = 1;
};

}  // namespace switchyard::loadgen
