// Deterministic stand-ins for a model: completion words drawn from a fixed list by a PRNG seeded from
// the request, prompt-token estimates, and unit-norm embedding vectors derived from a hash of the input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sim {

inline constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;

// FNV-1a over bytes, continuing from hash.
std::uint64_t fnv1a(std::string_view bytes, std::uint64_t hash = kFnvOffset);
// The splitmix64 finalizer: spreads the bits of a hash.
std::uint64_t mix(std::uint64_t value);

// splitmix64: small, fast and good enough for picking words and faking vectors.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() { return mix(state_ += 0x9e3779b97f4a7c15ULL); }
  // Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t state_;
};

// The completion text of one request: word after word from the fixed list.
class WordStream {
 public:
  explicit WordStream(std::uint64_t seed) : rng_(seed) {}
  std::string_view next_word();

 private:
  Rng rng_;
};

// Appends n tokens to text: words separated by one space (token i > 0 is " word").
void append_words(std::string& text, std::uint64_t seed, std::uint64_t n);

// Whitespace-separated words in text: the prompt-token estimate for one piece of text.
std::uint64_t count_words(std::string_view text);

// Fills out with dims floats of a deterministic unit-norm vector for the given seed.
void embedding_vector(std::uint64_t seed, int dims, std::vector<float>& out);

}  // namespace sim
