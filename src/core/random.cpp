#include "core/random.hpp"

#include <random>

namespace switchyard {

std::uint64_t next_random() {
    thread_local std::uint64_t state = std::random_device{}() | (std::uint64_t{std::random_device{}()} << 32);
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

}  // namespace switchyard
