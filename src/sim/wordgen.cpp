// The word list, hashing and vector generation behind the simulator's deterministic output.
#include "sim/wordgen.hpp"

#include <array>
#include <cmath>

namespace sim {

namespace {

constexpr std::array<std::string_view, 128> kWords = {
    "the",      "a",        "of",       "and",      "to",       "in",       "is",       "that",
    "for",      "it",       "as",       "with",     "was",      "on",       "by",       "this",
    "model",    "token",    "request",  "gateway",  "route",    "server",   "latency",  "stream",
    "switch",   "yard",     "train",    "track",    "signal",   "engine",   "cargo",    "rail",
    "quick",    "brown",    "fox",      "jumps",    "over",     "lazy",     "dog",      "river",
    "mountain", "valley",   "forest",   "ocean",    "cloud",    "storm",    "light",    "shadow",
    "simple",   "complex",  "fast",     "slow",     "bright",   "quiet",    "steady",   "early",
    "answer",   "question", "reason",   "method",   "system",   "network",  "packet",   "buffer",
    "compute",  "memory",   "cache",    "queue",    "thread",   "socket",   "kernel",   "driver",
    "north",    "south",    "east",     "west",     "spring",   "summer",   "autumn",   "winter",
    "red",      "green",    "blue",     "yellow",   "silver",   "golden",   "amber",    "violet",
    "one",      "two",      "three",    "four",     "five",     "six",      "seven",    "eight",
    "build",    "measure",  "learn",    "write",    "read",     "send",     "receive",  "wait",
    "because",  "although", "while",    "after",    "before",   "since",    "until",    "unless",
    "city",     "village",  "harbor",   "bridge",   "tower",    "garden",   "market",   "station",
    "careful",  "honest",   "curious",  "patient",  "eager",    "gentle",   "clever",   "brave",
};

}  // namespace

std::uint64_t fnv1a(std::string_view bytes, std::uint64_t hash) {
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::uint64_t mix(std::uint64_t value) {
  value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ULL;
  value = (value ^ (value >> 27)) * 0x94d049bb133111ebULL;
  return value ^ (value >> 31);
}

std::string_view WordStream::next_word() {
  return kWords[(rng_.next() >> 32) % kWords.size()];
}

void append_words(std::string& text, std::uint64_t seed, std::uint64_t n) {
  WordStream words(seed);
  for (std::uint64_t i = 0; i < n; ++i) {
    if (i > 0) text.push_back(' ');
    text += words.next_word();
  }
}

std::uint64_t count_words(std::string_view text) {
  std::uint64_t words = 0;
  bool in_word = false;
  for (const char c : text) {
    const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

void embedding_vector(std::uint64_t seed, int dims, std::vector<float>& out) {
  out.resize(static_cast<std::size_t>(dims));
  Rng rng(seed);
  double norm = 0;
  std::vector<double> raw(out.size());
  for (auto& x : raw) {
    x = rng.unit() * 2.0 - 1.0;
    norm += x * x;
  }
  norm = std::sqrt(norm);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = norm > 0 ? static_cast<float>(raw[i] / norm) : (i == 0 ? 1.0F : 0.0F);
  }
}

}  // namespace sim
