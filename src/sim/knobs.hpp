// What the simulator does to each generation request: the fault to inject and how often, the
// latencies, the completion length, whether offered tools get called and whether /health reports
// healthy. Flags give the first values,
// POST /sim/config changes them at runtime, and x-sim-* headers override them for one request.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace sim {

enum class FaultKind { none, status_429, status_500, status_503, reset, hang, drop, slow_headers };

struct Fault {
  FaultKind kind = FaultKind::none;
  std::int64_t arg = 0;  // drop: content tokens sent before the cut; slow_headers: milliseconds
};

// Reads none, 429, 500, 503, reset, hang, drop:N or slow-headers:MS; nullopt for anything else.
std::optional<Fault> parse_fault(std::string_view text);
// The inverse of parse_fault.
std::string describe(const Fault& fault);

struct Knobs {
  Fault fault;
  double fault_rate = 1.0;  // chance that a request gets the fault; x-sim-fault always applies
  std::int64_t ttft_ms = 0;
  std::int64_t itl_ms = 0;
  std::int64_t tokens = 16;  // completion length before max_tokens caps it
  bool healthy = true;       // false: GET /health answers 503
  // true ("auto"): a chat, Responses or Messages request that offers tools, and whose last input is
  // not a tool result, is answered with a call of its first tool.
  bool auto_tool_calls = false;
};

// Reads "auto" or "off" (the --tool-calls flag, the tool_calls knob, the x-sim-tool-calls header).
std::optional<bool> parse_tool_calls(std::string_view text);

// Appends the knobs as the JSON object GET/POST /sim/config answer with.
void render_knobs(std::string& out, const Knobs& knobs);

// The current knobs, shared by every I/O thread. Requests take a copy; /sim/config edits under the lock
// so that two concurrent edits do not lose each other's fields.
class KnobBoard {
 public:
  explicit KnobBoard(const Knobs& initial) : knobs_(initial) {}

  Knobs snapshot() const {
    std::lock_guard lock(mutex_);
    return knobs_;
  }

  // edit(Knobs&) returns an optional error; the edited copy is kept only when it returns none.
  template <class Edit>
  auto edit(Edit&& edit_knobs) {
    std::lock_guard lock(mutex_);
    Knobs next = knobs_;
    auto error = edit_knobs(next);
    if (!error) knobs_ = next;
    return error;
  }

 private:
  mutable std::mutex mutex_;
  Knobs knobs_;
};

}  // namespace sim
