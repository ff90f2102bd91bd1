// The simulator's counters, read by tests through GET /sim/stats to assert where traffic went and
// what the gateway forwarded. Plain counters are relaxed atomics; the maps and the copy of the last
// generation request sit behind one mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http/fields.hpp>

namespace sim {

class Ledger {
 public:
  // A request to a path that is not a generation endpoint (by_endpoint only).
  void count_request(std::string_view endpoint);
  // A generation request (chat, completions, embeddings) as it arrived, before any check: counts it
  // and keeps its headers and body as last_headers / last_body.
  void count_generation(std::string_view endpoint, const boost::beast::http::fields& headers,
                        std::string_view body);
  void count_model(std::string_view model);

  void count_completed() { completed_.fetch_add(1, std::memory_order_relaxed); }
  void count_cancelled() { cancelled_.fetch_add(1, std::memory_order_relaxed); }
  void count_connection() { connections_.fetch_add(1, std::memory_order_relaxed); }
  void count_fault() { faults_.fetch_add(1, std::memory_order_relaxed); }
  void count_rejected() { rejected_.fetch_add(1, std::memory_order_relaxed); }
  void add_prompt_tokens(std::uint64_t n) { prompt_tokens_.fetch_add(n, std::memory_order_relaxed); }
  void add_completion_tokens(std::uint64_t n) { completion_tokens_.fetch_add(n, std::memory_order_relaxed); }

  // Holds one generation request in in_flight for its lifetime.
  class InFlight {
   public:
    explicit InFlight(Ledger& ledger) : ledger_(ledger) { ledger_.in_flight_.fetch_add(1, std::memory_order_relaxed); }
    ~InFlight() { ledger_.in_flight_.fetch_sub(1, std::memory_order_relaxed); }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

   private:
    Ledger& ledger_;
  };

  // Zeroes every counter except in_flight, which counts requests still running.
  void reset();
  // Appends the /sim/stats JSON object.
  void render(std::string& out) const;

 private:
  using Counts = std::map<std::string, std::uint64_t, std::less<>>;
  static void bump(Counts& counts, std::string_view key);

  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::uint64_t> completed_{0};
  std::atomic<std::uint64_t> cancelled_{0};
  std::atomic<std::uint64_t> connections_{0};  // accepted connections (keep-alive reuse shows here)
  std::atomic<std::uint64_t> faults_{0};
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::uint64_t> prompt_tokens_{0};
  std::atomic<std::uint64_t> completion_tokens_{0};

  mutable std::mutex mutex_;
  Counts by_endpoint_;
  Counts by_model_;
  std::vector<std::pair<std::string, std::string>> last_headers_;  // names lower-cased
  std::size_t last_header_count_ = 0;  // entries of last_headers_ in use; the rest keep their capacity
  std::string last_body_;
};

}  // namespace sim
