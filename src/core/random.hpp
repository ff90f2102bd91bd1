// A small fast random generator (splitmix64), one per thread: for balancing decisions, retry
// jitter and request ids, where speed matters and unpredictability to an attacker does not.
#pragma once

#include <cstdint>

namespace switchyard {

std::uint64_t next_random();

}  // namespace switchyard
