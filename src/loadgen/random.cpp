#include "loadgen/random.hpp"

#include <charconv>
#include <cmath>
#include <numbers>
#include <vector>

namespace switchyard::loadgen {

namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Rng::Rng(std::uint64_t seed) {
    for (auto& word : s_) word = splitmix64(seed);
}

Rng Rng::derive(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t mix = seed ^ (stream * 0xd1b54a32d192ed03ULL + 0x8cb92ba72f3d8dd7ULL);
    return Rng(splitmix64(mix));
}

std::uint64_t Rng::next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

std::uint64_t Rng::below(std::uint64_t n) {
    // Rejection of the lowest (2^64 mod n) values keeps the modulo unbiased.
    const std::uint64_t threshold = (0 - n) % n;
    std::uint64_t x = next();
    while (x < threshold) x = next();
    return x % n;
}

std::int64_t Rng::between(std::int64_t lo, std::int64_t hi) {
    if (hi <= lo) return lo;
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
}

double Rng::normal(double mean, double stddev) {
    double u1 = uniform();
    while (u1 <= 0) u1 = uniform();
    const double u2 = uniform();
    return mean + stddev * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

double Rng::exponential(double rate) { return -std::log(1.0 - uniform()) / rate; }

std::optional<LengthDistribution> LengthDistribution::parse(std::string_view text, std::string* why) {
    auto fail = [&](std::string reason) -> std::optional<LengthDistribution> {
        if (why) *why = std::move(reason);
        return std::nullopt;
    };
    std::vector<std::string_view> parts;
    std::string_view rest = text;
    while (true) {
        const auto colon = rest.find(':');
        parts.push_back(rest.substr(0, colon));
        if (colon == std::string_view::npos) break;
        rest.remove_prefix(colon + 1);
    }
    std::vector<double> numbers;
    const std::size_t first_number = parts.size() == 1 ? 0 : 1;
    for (std::size_t i = first_number; i < parts.size(); ++i) {
        double value = 0;
        auto [end, ec] = std::from_chars(parts[i].data(), parts[i].data() + parts[i].size(), value);
        if (parts[i].empty() || ec != std::errc{} || end != parts[i].data() + parts[i].size() || value < 0) {
            return fail("'" + std::string(parts[i]) + "' is not a non-negative number");
        }
        numbers.push_back(value);
    }
    LengthDistribution d;
    if (parts.size() == 1) {
        d.kind_ = Kind::fixed;
        d.a_ = std::floor(numbers[0]);
        return d;
    }
    const std::string_view kind = parts[0];
    if (kind == "fixed" && numbers.size() == 1) {
        d.kind_ = Kind::fixed;
        d.a_ = std::floor(numbers[0]);
    } else if (kind == "uniform" && numbers.size() == 2) {
        if (numbers[1] < numbers[0]) return fail("uniform:LO:HI needs LO <= HI");
        d.kind_ = Kind::uniform;
        d.a_ = std::floor(numbers[0]);
        d.b_ = std::floor(numbers[1]);
    } else if (kind == "normal" && numbers.size() == 2) {
        d.kind_ = Kind::normal;
        d.a_ = numbers[0];
        d.b_ = numbers[1];
    } else if ((kind == "exponential" || kind == "exp") && numbers.size() == 1) {
        if (numbers[0] <= 0) return fail("exponential:MEAN needs MEAN > 0");
        d.kind_ = Kind::exponential;
        d.a_ = numbers[0];
    } else {
        return fail("expected N, fixed:N, uniform:LO:HI, normal:MEAN:STDDEV or exponential:MEAN, got '" +
                    std::string(text) + "'");
    }
    return d;
}

LengthDistribution LengthDistribution::fixed_at(std::uint32_t n) {
    LengthDistribution d;
    d.a_ = n;
    return d;
}

std::uint32_t LengthDistribution::sample(Rng& rng) const {
    double value = a_;
    switch (kind_) {
        case Kind::fixed: break;
        case Kind::uniform:
            value = static_cast<double>(rng.between(static_cast<std::int64_t>(a_), static_cast<std::int64_t>(b_)));
            break;
        case Kind::normal: value = std::round(rng.normal(a_, b_)); break;
        case Kind::exponential: value = std::round(rng.exponential(1.0 / a_)); break;
    }
    if (value < min_) value = min_;
    if (value > 4e9) value = 4e9;
    return static_cast<std::uint32_t>(value);
}

double LengthDistribution::mean() const {
    switch (kind_) {
        case Kind::fixed: return a_;
        case Kind::uniform: return (a_ + b_) / 2;
        case Kind::normal:
        case Kind::exponential: return a_;
    }
    return a_;
}

std::string LengthDistribution::describe() const {
    auto num = [](double v) {
        char buf[32];
        const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
        (void)ec;
        return std::string(buf, end);
    };
    switch (kind_) {
        case Kind::fixed: return num(a_);
        case Kind::uniform: return "uniform:" + num(a_) + ":" + num(b_);
        case Kind::normal: return "normal:" + num(a_) + ":" + num(b_);
        case Kind::exponential: return "exponential:" + num(a_);
    }
    return "";
}

}  // namespace switchyard::loadgen
