#include "state/scripts.hpp"

#include <openssl/evp.h>

#include <cmath>
#include <cstdio>
#include <ctime>

#include "core/text.hpp"

namespace switchyard::state {

const std::string_view kLimitScript = R"lua(
-- switchyard: GCRA rate limits (src/state/scripts.hpp)
-- KEYS[i]: limit i, a string "R T": the requests' and the tokens' TAT, in microseconds of Redis' TIME
-- ARGV[1]: 'admit' or 'correct'; ARGV[2]: requests, ARGV[3]: tokens (admit: what to take;
--   correct: what to give back, negative, or take more, positive, without limit)
-- ARGV[4 + 4(i-1) ..]: limit i's request interval (us; 0: none), request burst, token interval, token burst
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local requests = tonumber(ARGV[2])
local tokens = tonumber(ARGV[3])
local n = #KEYS
local R, T, RI, RB, TI, TB = {}, {}, {}, {}, {}, {}
for i = 1, n do
  local a = 4 * i
  RI[i], RB[i], TI[i], TB[i] = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local r, t = now, now
  local v = redis.call('GET', KEYS[i])
  if v then
    local a, b = string.match(v, '^(%d+) (%d+)$')
    if a then
      r = math.max(tonumber(a), now)
      t = math.max(tonumber(b), now)
    end
  end
  R[i], T[i] = r, t
end
local function store(i, r, t, ri, ti)
  local last = now
  if ri > 0 and r > last then last = r end
  if ti > 0 and t > last then last = t end
  redis.call('SET', KEYS[i], string.format('%.0f %.0f', r, t), 'PX', math.floor((last - now) / 1000) + 1000)
end
if ARGV[1] == 'correct' then
  for i = 1, n do
    local ri, ti = RI[i], TI[i]
    if ri > 0 or ti > 0 then
      local r, t = R[i], T[i]
      if ri > 0 then r = math.max(now, r + requests * ri) end
      if ti > 0 then t = math.max(now, t + tokens * ti) end
      store(i, r, t, ri, ti)
    end
  end
  return 1
end
local ok, who, which, over = 1, 0, 0, 0
local R2, T2 = {}, {}
for i = 1, n do
  local ri, rb, ti, tb = RI[i], RB[i], TI[i], TB[i]
  local r, t = R[i], T[i]
  R2[i], T2[i] = r, t
  if ok == 1 and ri > 0 then
    local o = r + math.min(requests, rb) * ri - now - rb * ri
    if o > 0 then ok, who, which, over = 0, i, 1, o end
    R2[i] = r + requests * ri
  end
  if ok == 1 and ti > 0 then
    local o = t + math.min(tokens, tb) * ti - now - tb * ti
    if o > 0 then ok, who, which, over = 0, i, 2, o end
    T2[i] = t + tokens * ti
  end
end
local result = {ok, who, which, math.ceil(over / 1000)}
for i = 1, n do
  local ri, rb, ti, tb = RI[i], RB[i], TI[i], TB[i]
  local r, t = R[i], T[i]
  if ok == 1 then
    r, t = R2[i], T2[i]
    store(i, r, t, ri, ti)
  end
  local rr, tr = 0, 0
  if ri > 0 then rr = math.max(0, math.floor(rb - (r - now) / ri)) end
  if ti > 0 then tr = math.max(0, math.floor(tb - (t - now) / ti)) end
  result[#result + 1] = rr
  result[#result + 1] = math.ceil((r - now) / 1000)
  result[#result + 1] = tr
  result[#result + 1] = math.ceil((t - now) / 1000)
end
return result
)lua";

const std::string_view kSyncScript = R"lua(
-- switchyard: fleet sync (src/state/fleet.hpp): budgets' spend, requests in flight, breakers
-- ARGV[1]: this instance's id; ARGV[2]: heartbeat (ms); ARGV[3..5]: budget, concurrency and breaker entries
-- budget entry i (KEYS[i]): ARGV add, seed, ttl (s): adds this instance's unsent spend; a missing
--   key (new, or lost with Redis) starts from `seed`, what this instance knew before the add
-- concurrency entry j: a hash of instance -> "count:expiry ms"; ARGV: this instance's count
-- breaker entry k: ARGV: open for this many ms more (0: nothing to publish)
-- returns the spend totals (strings), the other instances' counts, the breakers' PTTL (ms)
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local me, beat = ARGV[1], tonumber(ARGV[2])
local nb, nc, nk = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local a = 6
local out = {}
for i = 1, nb do
  local key = KEYS[i]
  local add, seed, ttl = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  if redis.call('EXISTS', key) == 0 and seed > 0 then redis.call('SET', key, ARGV[a + 1]) end
  if add > 0 then redis.call('INCRBYFLOAT', key, ARGV[a]) end
  if add > 0 or seed > 0 then redis.call('EXPIRE', key, ttl) end
  a = a + 3
  out[#out + 1] = redis.call('GET', key) or '0'
end
for j = 1, nc do
  local key = KEYS[nb + j]
  redis.call('HSET', key, me, string.format('%d:%d', tonumber(ARGV[a]), now + beat))
  a = a + 1
  local fields = redis.call('HGETALL', key)
  local others = 0
  for f = 1, #fields, 2 do
    local count, expires = string.match(fields[f + 1], '^(%d+):(%d+)$')
    if count == nil or tonumber(expires) < now then
      redis.call('HDEL', key, fields[f])
    elseif fields[f] ~= me then
      others = others + tonumber(count)
    end
  end
  redis.call('PEXPIRE', key, beat)
  out[#out + 1] = others
end
for k = 1, nk do
  local key = KEYS[nb + nc + k]
  local publish = tonumber(ARGV[a])
  a = a + 1
  if publish > 0 and redis.call('PTTL', key) < publish then redis.call('SET', key, me, 'PX', publish) end
  out[#out + 1] = redis.call('PTTL', key)
end
return out
)lua";

std::string sha1_hex(std::string_view text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha1(), nullptr);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
        out += kHex[digest[i] >> 4];
        out += kHex[digest[i] & 15];
    }
    return out;
}

std::array<std::string, 4> limit_arguments(const config::RateLimit& limits) {
    const auto interval = [](std::uint64_t per_minute) -> std::string {
        return per_minute == 0 ? "0" : std::to_string(60e6 / static_cast<double>(per_minute));
    };
    const auto burst = [](std::uint64_t per_minute, std::uint64_t burst_) {
        return std::to_string(burst_ > 0 ? burst_ : per_minute);
    };
    return {interval(limits.rpm), burst(limits.rpm, limits.rpm_burst), interval(limits.tpm),
            burst(limits.tpm, limits.tpm_burst)};
}

bool parse_admit_reply(const Reply& reply, const std::vector<const config::RateLimit*>& limits, AdmitReply& out) {
    if (reply.type != Reply::Type::array || reply.elements.size() != 4 + 4 * limits.size()) return false;
    for (const auto& element : reply.elements) {
        if (element.type != Reply::Type::integer) return false;
    }
    const auto at = [&](std::size_t i) { return reply.elements[i].integer; };
    out.allowed = at(0) == 1;
    out.snapshots.clear();
    if (!out.allowed) {
        if (at(1) < 1 || static_cast<std::size_t>(at(1)) > limits.size() || (at(2) != 1 && at(2) != 2)) return false;
        out.refused = static_cast<std::size_t>(at(1) - 1);
        out.refusal.which = at(2) == 1 ? "requests" : "tokens";
        out.refusal.retry_after = std::chrono::milliseconds(std::max<std::int64_t>(1, at(3)));
    }
    for (std::size_t i = 0; i < limits.size(); ++i) {
        const std::size_t base = 4 + 4 * i;
        limit::Snapshot s;
        if (limits[i]->rpm > 0) {
            s.limit_requests = limits[i]->rpm;
            s.remaining_requests = static_cast<std::uint64_t>(std::max<std::int64_t>(0, at(base)));
            s.reset_requests = std::chrono::milliseconds(std::max<std::int64_t>(0, at(base + 1)));
        }
        if (limits[i]->tpm > 0) {
            s.limit_tokens = limits[i]->tpm;
            s.remaining_tokens = static_cast<std::uint64_t>(std::max<std::int64_t>(0, at(base + 2)));
            s.reset_tokens = std::chrono::milliseconds(std::max<std::int64_t>(0, at(base + 3)));
        }
        out.snapshots.push_back(s);
    }
    return true;
}

std::string day_text(std::time_t now) { return utc_format(now, "%Y-%m-%d"); }

std::string month_text(std::time_t now) { return utc_format(now, "%Y-%m"); }

}  // namespace switchyard::state
