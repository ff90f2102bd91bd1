// Counting and the /sim/stats rendering.
#include "sim/ledger.hpp"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "sim/json_text.hpp"

namespace sim {

namespace {

// Bounds the maps against clients that invent model names: past this, new names count as "(other)".
constexpr std::size_t kMaxKeys = 1024;

void append_counts(std::string& out, const std::map<std::string, std::uint64_t, std::less<>>& counts) {
  out += '{';
  bool first = true;
  for (const auto& [key, count] : counts) {
    if (!first) out += ',';
    first = false;
    json::append_string(out, key);
    fmt::format_to(std::back_inserter(out), ":{}", count);
  }
  out += '}';
}

}  // namespace

void Ledger::bump(Counts& counts, std::string_view key) {
  if (auto it = counts.find(key); it != counts.end()) {
    ++it->second;
  } else if (counts.size() < kMaxKeys) {
    counts.emplace(std::string(key), 1);
  } else {
    ++counts["(other)"];
  }
}

void Ledger::count_request(std::string_view endpoint) {
  std::lock_guard lock(mutex_);
  bump(by_endpoint_, endpoint);
}

void Ledger::count_generation(std::string_view endpoint, const boost::beast::http::fields& headers,
                              std::string_view body) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  bump(by_endpoint_, endpoint);
  // Assign into the existing strings so that steady traffic does not allocate here.
  last_header_count_ = 0;
  for (const auto& field : headers) {
    if (last_header_count_ == last_headers_.size()) last_headers_.emplace_back();
    auto& [name, value] = last_headers_[last_header_count_++];
    name.assign(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
    value.assign(field.value());
  }
  last_body_.assign(body);
}

void Ledger::count_model(std::string_view model) {
  std::lock_guard lock(mutex_);
  bump(by_model_, model);
}

void Ledger::reset() {
  requests_ = 0;
  completed_ = 0;
  cancelled_ = 0;
  connections_ = 0;
  faults_ = 0;
  rejected_ = 0;
  prompt_tokens_ = 0;
  completion_tokens_ = 0;
  std::lock_guard lock(mutex_);
  by_endpoint_.clear();
  by_model_.clear();
  last_header_count_ = 0;
  last_body_.clear();
}

void Ledger::render(std::string& out) const {
  const auto load = [](const auto& counter) { return counter.load(std::memory_order_relaxed); };
  fmt::format_to(std::back_inserter(out), "{{\"requests_total\":{},\"in_flight\":{},\"completed\":{},"
                 "\"cancelled\":{},\"faults_injected\":{},\"rejected\":{},\"prompt_tokens_total\":{},"
                 "\"completion_tokens_total\":{},\"connections_total\":{}",
                 load(requests_), load(in_flight_), load(completed_), load(cancelled_), load(faults_),
                 load(rejected_), load(prompt_tokens_), load(completion_tokens_), load(connections_));
  std::lock_guard lock(mutex_);
  out += ",\"by_endpoint\":";
  append_counts(out, by_endpoint_);
  out += ",\"by_model\":";
  append_counts(out, by_model_);
  out += ",\"last_headers\":{";
  // A name sent twice is shown once, its values joined with ", " as HTTP allows.
  std::vector<std::size_t> order(last_header_count_);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [this](std::size_t a, std::size_t b) { return last_headers_[a].first < last_headers_[b].first; });
  for (std::size_t i = 0; i < order.size();) {
    const std::string& name = last_headers_[order[i]].first;
    std::string value = last_headers_[order[i]].second;
    std::size_t j = i + 1;
    for (; j < order.size() && last_headers_[order[j]].first == name; ++j) {
      value += ", ";
      value += last_headers_[order[j]].second;
    }
    if (i > 0) out += ',';
    json::append_string(out, name);
    out += ':';
    json::append_string(out, value);
    i = j;
  }
  out += "},\"last_body\":";
  json::append_string(out, last_body_);
  out += '}';
}

}  // namespace sim
