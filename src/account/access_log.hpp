// Stage "account", log side. The JSON access log: one line per request on the model endpoints
// (request id, key name — never the key —, model, deployment, tier, status, tokens, cost, timings,
// the gateway's own time, retries, fallback, error; per-stage times for a debug request), to
// stdout or to a size-rotated file, written by spdlog's background thread (never on an I/O
// thread's time beyond formatting the line: when the writer falls 8192 lines behind, a slow disk
// or a blocked stdout, the oldest waiting lines are dropped and counted rather than the request
// waiting; the ledger keeps every request regardless). Prompts and completions are logged only with
// `access_log.content`, then redacted (emails, API keys, card numbers by default, or the user's
// patterns) and cut to `max_content_bytes` each.
#pragma once

#include <spdlog/logger.h>

#include <spdlog/async_logger.h>
#include <spdlog/details/thread_pool.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "ledger/row.hpp"
#include "parse/request.hpp"

namespace switchyard::account {

// What a request said and what it got back, for an access log that keeps content.
struct Content {
    std::string prompt;
    std::string completion;
};

// The redacted content of the latest requests, newest kept, for the console's request detail (GET
// /admin/requests/{id}): at most `max_entries` requests and `max_bytes` of text; the oldest go
// first. Written on the I/O threads (one short lock per request, only when content is logged).
class RecentContent {
public:
    RecentContent(std::size_t max_entries, std::size_t max_bytes) : max_entries_(max_entries), max_bytes_(max_bytes) {}

    void add(std::string_view request_id, Content content);
    // The newest content kept for `request_id`, if it is still kept.
    std::optional<Content> find(std::string_view request_id) const;
    std::size_t size() const;
    std::size_t bytes() const;

private:
    struct Entry {
        std::string request_id;
        Content content;
        std::size_t bytes() const { return request_id.size() + content.prompt.size() + content.completion.size(); }
    };
    const std::size_t max_entries_, max_bytes_;
    mutable std::mutex mutex_;
    std::deque<Entry> entries_;  // oldest first
    std::size_t bytes_ = 0;
};

class AccessLog {
public:
    // How much content the console can show: the last 1,000 requests, 16 MiB of text at most.
    static constexpr std::size_t kRecentEntries = 1000;
    static constexpr std::size_t kRecentBytes = std::size_t{16} << 20;

    // Null when the config turns the log off.
    static std::unique_ptr<AccessLog> make(const config::AccessLog& config);

    bool content() const { return config_.content; }
    std::size_t max_content_bytes() const { return config_.max_content_bytes; }
    // One line for `row`; `content` (redacted here) when the log keeps content; `stages`, a JSON
    // object of per-stage times, when not empty.
    void write(const ledger::Row& row, const Content* content, std::string_view stages = {});
    void flush() { logger_->flush(); }
    // Lines dropped because the writer was 8192 lines behind (for /metrics).
    std::uint64_t dropped() const;

    // `text` with every redaction applied, then cut to max_content_bytes (on a UTF-8 boundary).
    std::string redact(std::string_view text) const;
    // The content logged (redacted) for a recent request, when the log keeps content.
    std::optional<Content> recent_content(std::string_view request_id) const { return recent_.find(request_id); }

    // `pool`: the writer's queue, whose overruns dropped() counts (null: none counted).
    AccessLog(const config::AccessLog& config, std::shared_ptr<spdlog::logger> logger,
              std::shared_ptr<spdlog::details::thread_pool> pool = nullptr);

private:
    struct Rule {
        std::regex pattern;
        std::string replace;
    };
    void warn_when_dropping();

    config::AccessLog config_;
    std::shared_ptr<spdlog::logger> logger_;
    std::shared_ptr<spdlog::details::thread_pool> pool_;
    std::vector<Rule> rules_;
    RecentContent recent_{kRecentEntries, kRecentBytes};
    std::atomic<std::uint64_t> lines_{0};
    std::atomic<std::uint64_t> dropped_told_{0};
    std::atomic<std::int64_t> next_warning_ms_{0};
};

// The line for `row` (and its content and stage times, as given).
std::string access_line(const ledger::Row& row, const Content* content = nullptr, std::string_view stages = {});

// The text a caller sent: chat messages ("role: content" per line, text parts of multi-part
// contents), a completion's prompt(s) or an embedding's input(s); at most `limit` bytes.
std::string prompt_text(parse::Endpoint endpoint, std::string_view body, std::size_t limit);

}  // namespace switchyard::account
