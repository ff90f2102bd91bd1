// The Lua scripts the fleet runs in Redis, and the pure functions that build their arguments and
// read their replies (unit-tested without Redis).
//
// Rate limits use GCRA: each limit keeps, per dimension (requests, tokens), a theoretical arrival
// time (TAT) in microseconds of Redis' own clock (TIME), so instances' clocks never matter. With
// emission interval T = 60 s / per-minute limit and burst B, a cost n is admitted when
// max(TAT, now) + min(n, B)·T − now ≤ B·T, and then TAT = max(TAT, now) + n·T: the same
// arithmetic as the in-process token bucket (capacity B, refill 1/T), a level of B − (TAT − now)/T.
// One script call takes a request and its estimated tokens from every limit it names (the key's
// and the model's) atomically: all of them or none.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "limit/limiter.hpp"
#include "state/redis.hpp"

namespace switchyard::state {

extern const std::string_view kLimitScript;  // admit / correct
extern const std::string_view kSyncScript;   // budgets, concurrency, breakers
std::string sha1_hex(std::string_view text);

// The four numbers a limit is described by in the script's arguments: request interval (µs),
// request burst, token interval (µs), token burst; an interval of 0 means no limit.
std::array<std::string, 4> limit_arguments(const config::RateLimit& limits);

// What the admit script said.
struct AdmitReply {
    bool allowed = false;
    std::size_t refused = 0;  // index of the limit that refused (when not allowed)
    limit::Refusal refusal;   // which ("requests" or "tokens") and the wait
    std::vector<limit::Snapshot> snapshots;  // one per limit, after the call
};
// Reads the admit script's reply for `limits` (in the order they were given); false when the
// reply does not have the expected shape.
bool parse_admit_reply(const Reply& reply, const std::vector<const config::RateLimit*>& limits, AdmitReply& out);

// Redis key names.
std::string day_text(std::time_t now);    // "2026-11-25" (UTC)
std::string month_text(std::time_t now);  // "2026-11" (UTC)

}  // namespace switchyard::state
