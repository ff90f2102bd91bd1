// Fault names and the JSON view of the knobs.
#include "sim/knobs.hpp"

#include <charconv>
#include <iterator>

#include <fmt/format.h>

#include "sim/json_text.hpp"

namespace sim {

namespace {

std::optional<std::int64_t> parse_count(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

}  // namespace

std::optional<Fault> parse_fault(std::string_view text) {
  if (text == "none" || text.empty()) return Fault{};
  if (text == "429") return Fault{FaultKind::status_429, 0};
  if (text == "500") return Fault{FaultKind::status_500, 0};
  if (text == "503") return Fault{FaultKind::status_503, 0};
  if (text == "reset") return Fault{FaultKind::reset, 0};
  if (text == "hang") return Fault{FaultKind::hang, 0};
  constexpr std::string_view drop = "drop:";
  constexpr std::string_view slow = "slow-headers:";
  if (text.starts_with(drop)) {
    if (auto n = parse_count(text.substr(drop.size()))) return Fault{FaultKind::drop, *n};
  } else if (text.starts_with(slow)) {
    if (auto ms = parse_count(text.substr(slow.size()))) return Fault{FaultKind::slow_headers, *ms};
  }
  return std::nullopt;
}

std::string describe(const Fault& fault) {
  switch (fault.kind) {
    case FaultKind::none: return "none";
    case FaultKind::status_429: return "429";
    case FaultKind::status_500: return "500";
    case FaultKind::status_503: return "503";
    case FaultKind::reset: return "reset";
    case FaultKind::hang: return "hang";
    case FaultKind::drop: return fmt::format("drop:{}", fault.arg);
    case FaultKind::slow_headers: return fmt::format("slow-headers:{}", fault.arg);
  }
  return "none";
}

std::optional<bool> parse_tool_calls(std::string_view text) {
  if (text == "auto") return true;
  if (text == "off") return false;
  return std::nullopt;
}

void render_knobs(std::string& out, const Knobs& knobs) {
  out += "{\"fault\":";
  json::append_string(out, describe(knobs.fault));
  fmt::format_to(std::back_inserter(out),
                 ",\"fault_rate\":{},\"ttft_ms\":{},\"itl_ms\":{},\"tokens\":{},\"healthy\":{},"
                 "\"tool_calls\":\"{}\"}}",
                 knobs.fault_rate, knobs.ttft_ms, knobs.itl_ms, knobs.tokens, knobs.healthy,
                 knobs.auto_tool_calls ? "auto" : "off");
}

}  // namespace sim
