// The JSON endpoints behind the console's pages that the admin API did not have (the admin API
// serves them too, under /admin/, for scripts and `switchyard` commands; docs/observability.md):
//   GET /admin/overview[?since=MS]     the traffic samples of the last hours (console/samples.hpp)
//   GET /admin/requests[?key=&model=&deployment=&status=&minutes=&limit=]   recent ledger rows
//   GET /admin/requests/{request id}   one request's ledger row (the last day), with its prompt
//                                      and completion when the access log keeps content (redacted
//                                      as there; the latest 1,000 requests)
//   GET /admin/spend[?hours=24]         spend by key, label (name=value), model, tier and local/cloud
//                                       over the period
//   GET /admin/cost[?hours=24&cloud_model=&utilization=]   `switchyard cost`'s comparison of all
//                                       cloud, all local and the hybrid over the period (report/ledger);
//                                       with format= (from_ms, to_ms, by and the cost model's
//                                       overrides too), the whole report as `switchyard cost --url`
//                                       prints it
//   GET /admin/config                   the running configuration, secrets masked, and its generation
// Spend and cost answers are kept for 10 s per query (ReportCache).
#pragma once

#include <boost/asio.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "http/wire.hpp"

namespace switchyard::server {
struct Shared;
}

namespace switchyard::console {

// The text of the configuration the current generation was read from, as masked JSON; set at
// start and by each applied reload (off the I/O threads), read by GET /admin/config.
class ConfigText {
public:
    void set(std::uint64_t generation, const std::string& yaml);
    std::string json() const;  // {"generation":N,"config":{...}}

private:
    mutable std::mutex mutex_;
    std::string json_ = R"({"generation":0,"config":null})";
};

// The answers of GET /admin/spend and /admin/cost, which read the whole period from the ledger on
// its writer thread (where rows wait meanwhile). One is kept per query and served while it is
// younger than kFresh and the ledger has written no row since (`version`: its rows written), or
// younger than kMinFresh whatever was written; while it is being read again, the one kept is
// served. However many consoles poll a period, the ledger reads it at most about once a second
// under traffic and once per kFresh without. At most kEntries queries are kept, the least recently
// asked going first. Time comes from the caller.
class ReportCache {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr auto kFresh = std::chrono::seconds(10);
    static constexpr auto kMinFresh = std::chrono::seconds(1);
    static constexpr auto kReadTimeout = std::chrono::seconds(60);  // a read taking longer is tried again
    static constexpr std::size_t kEntries = 32;

    // The answer to serve for `key` now, or nullopt: the caller reads it, then put()s it with the
    // version it saw before reading (or abandon()s, when the read failed).
    std::optional<std::string> get_or_begin(const std::string& key, Clock::time_point now, std::uint64_t version);
    void put(const std::string& key, std::string body, Clock::time_point now, std::uint64_t version);
    void abandon(const std::string& key);

private:
    struct Entry {
        std::string body;
        bool has_body = false;
        std::uint64_t version = 0;
        Clock::time_point read_at{};      // when body was read
        Clock::time_point reading_since{};  // a read under way (time_point{}: none)
        Clock::time_point asked_at{};
    };
    std::mutex mutex_;
    std::map<std::string, Entry, std::less<>> entries_;
};

// The YAML text as JSON, every scalar a string, secrets replaced by "********" (values of fields
// named like key, secret, password, token or authorization, and of upstream headers, unless the
// value is only a ${VARIABLE} reference; passwords in URLs). Invalid YAML gives null.
std::string masked_config_json(std::string_view yaml);

// The endpoint for `method` and `path` (query removed; `query` without '?'), or nullopt when it is
// none of the above.
boost::asio::awaitable<std::optional<wire::LocalResponse>> data(server::Shared& shared, std::string_view method,
                                                                std::string path, std::string query);

// `text` with its %XX escapes decoded (and '+' as a space in a query).
std::string percent_decode(std::string_view text, bool plus_is_space);

// One query parameter's value, percent-decoded; empty when absent.
std::string query_value(std::string_view query, std::string_view name);

}  // namespace switchyard::console
