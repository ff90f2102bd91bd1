#include "account/access_log.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <simdjson.h>

#include <algorithm>
#include <ctime>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/text.hpp"

namespace switchyard::account {

std::unique_ptr<AccessLog> AccessLog::make(const config::AccessLog& config) {
    if (config.path.empty()) return nullptr;
    auto pool = std::make_shared<spdlog::details::thread_pool>(8192, 1);
    std::shared_ptr<spdlog::sinks::sink> sink;
    if (config.path == "stdout") {
        sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    } else {
        sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(config.path, config.max_size, config.max_files);
    }
    // Never blocks the I/O thread that writes: a full queue loses its oldest line (counted).
    auto logger = std::make_shared<spdlog::async_logger>("access", std::move(sink), pool,
                                                         spdlog::async_overflow_policy::overrun_oldest);
    logger->set_pattern("%v");
    logger->set_level(spdlog::level::info);
    logger->flush_on(spdlog::level::info);
    return std::make_unique<AccessLog>(config, std::move(logger), std::move(pool));
}

AccessLog::AccessLog(const config::AccessLog& config, std::shared_ptr<spdlog::logger> logger,
                     std::shared_ptr<spdlog::details::thread_pool> pool)
    : config_(config), logger_(std::move(logger)), pool_(std::move(pool)) {
    if (!config_.content) return;
    for (const auto& redaction : config_.redact) {  // validated by the config loader
        // A replacement is taken literally: "$" would otherwise start a group reference.
        std::string replace;
        for (char c : redaction.replace) replace += c == '$' ? std::string("$$") : std::string(1, c);
        rules_.push_back(Rule{std::regex(redaction.pattern, std::regex::ECMAScript | std::regex::optimize),
                              std::move(replace)});
    }
}

void RecentContent::add(std::string_view request_id, Content content) {
    Entry entry{std::string(request_id), std::move(content)};
    const std::size_t size = entry.bytes();
    if (size > max_bytes_ || max_entries_ == 0) return;
    std::lock_guard lock(mutex_);
    while (!entries_.empty() && (entries_.size() >= max_entries_ || bytes_ + size > max_bytes_)) {
        bytes_ -= entries_.front().bytes();
        entries_.pop_front();
    }
    bytes_ += size;
    entries_.push_back(std::move(entry));
}

std::optional<Content> RecentContent::find(std::string_view request_id) const {
    std::lock_guard lock(mutex_);
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
        if (it->request_id == request_id) return it->content;
    }
    return std::nullopt;
}

std::size_t RecentContent::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

std::size_t RecentContent::bytes() const {
    std::lock_guard lock(mutex_);
    return bytes_;
}

void AccessLog::write(const ledger::Row& row, const Content* content, std::string_view stages) {
    if (content != nullptr && config_.content) {
        Content redacted{redact(content->prompt), redact(content->completion)};
        logger_->info(access_line(row, &redacted, stages));
        recent_.add(row.request_id, std::move(redacted));
    } else {
        logger_->info(access_line(row, nullptr, stages));
    }
    // Every 1024 lines: were lines dropped since? Then said, at most every 10 seconds.
    if ((lines_.fetch_add(1, std::memory_order_relaxed) & 1023) == 1023) warn_when_dropping();
}

std::uint64_t AccessLog::dropped() const { return pool_ ? pool_->overrun_counter() : 0; }

void AccessLog::warn_when_dropping() {
    const std::uint64_t dropped_now = dropped();
    const std::uint64_t told = dropped_told_.load(std::memory_order_relaxed);
    if (dropped_now <= told) return;
    const std::int64_t now = unix_ms();
    std::int64_t next = next_warning_ms_.load(std::memory_order_relaxed);
    if (now < next || !next_warning_ms_.compare_exchange_strong(next, now + 10'000)) return;
    dropped_told_.store(dropped_now, std::memory_order_relaxed);
    spdlog::warn("access log: {} lines dropped ({} since start): its writer cannot keep up with {}; every request "
                 "is still in the ledger",
                 dropped_now - told, dropped_now, config_.path);
}

std::string AccessLog::redact(std::string_view text) const {
    std::string out(text);
    for (const auto& rule : rules_) {
        out = std::regex_replace(out, rule.pattern, rule.replace);
    }
    if (out.size() > config_.max_content_bytes) {
        out.resize(utf8_prefix(out, config_.max_content_bytes).size());
        out += "…";
    }
    return out;
}

namespace {

void append_limited(std::string& out, std::string_view piece, std::size_t limit) {
    if (out.size() < limit) out.append(utf8_prefix(piece, limit - out.size()));
}

// A string, or the strings of an array (prompts, inputs), one per line.
void append_strings(std::string& out, simdjson::dom::element value, std::size_t limit) {
    std::string_view text;
    if (value.get_string().get(text) == simdjson::SUCCESS) {
        append_limited(out, text, limit);
        return;
    }
    simdjson::dom::array items;
    if (value.get_array().get(items) != simdjson::SUCCESS) return;
    for (simdjson::dom::element item : items) {
        if (item.get_string().get(text) != simdjson::SUCCESS) continue;  // token ids are not text
        if (!out.empty()) append_limited(out, "\n", limit);
        append_limited(out, text, limit);
    }
}

}  // namespace

std::string prompt_text(parse::Endpoint endpoint, std::string_view body, std::size_t limit) {
    std::string out;
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS) return out;
    if (endpoint == parse::Endpoint::completions) {
        simdjson::dom::element prompt;
        if (doc["prompt"].get(prompt) == simdjson::SUCCESS) append_strings(out, prompt, limit);
        return out;
    }
    if (endpoint == parse::Endpoint::embeddings) {
        simdjson::dom::element input;
        if (doc["input"].get(input) == simdjson::SUCCESS) append_strings(out, input, limit);
        return out;
    }
    simdjson::dom::array messages;
    if (doc["messages"].get_array().get(messages) != simdjson::SUCCESS) return out;
    for (simdjson::dom::element message : messages) {
        std::string_view role;
        if (message["role"].get_string().get(role) != simdjson::SUCCESS) role = "?";
        if (!out.empty()) append_limited(out, "\n", limit);
        append_limited(out, role, limit);
        append_limited(out, ": ", limit);
        simdjson::dom::element content;
        if (message["content"].get(content) != simdjson::SUCCESS) continue;
        std::string_view text;
        if (content.get_string().get(text) == simdjson::SUCCESS) {
            append_limited(out, text, limit);
            continue;
        }
        simdjson::dom::array parts;  // [{"type":"text","text":...}, {"type":"image_url",...}]
        if (content.get_array().get(parts) != simdjson::SUCCESS) continue;
        for (simdjson::dom::element part : parts) {
            if (part["text"].get_string().get(text) == simdjson::SUCCESS) append_limited(out, text, limit);
        }
    }
    return out;
}

std::string access_line(const ledger::Row& row, const Content* content, std::string_view stages) {
    std::string out;
    out.reserve(512);
    char time[40];
    const std::time_t seconds = static_cast<std::time_t>(row.ts_ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    const std::size_t n = std::strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(time + n, sizeof time - n, ".%03dZ", static_cast<int>(row.ts_ms % 1000));
    const auto field = [&](std::string_view name) {
        out += out.empty() ? "{\"" : ",\"";
        out += name;
        out += "\":";
    };
    const auto text = [&](std::string_view name, std::string_view value) {
        field(name);
        append_json_string(out, value);
    };
    const auto number = [&](std::string_view name, double value) {
        field(name);
        char digits[32];
        std::snprintf(digits, sizeof digits, "%.10g", value);
        out += digits;
    };
    const auto boolean = [&](std::string_view name, bool value) {
        field(name);
        out += value ? "true" : "false";
    };
    text("time", time);
    text("request_id", row.request_id);
    text("key", row.key);
    field("labels");
    out += row.labels.empty() ? "{}" : row.labels;
    text("model", row.model);
    text("served_model", row.served_model);
    text("deployment", row.deployment);
    number("tier", row.tier);
    number("status", row.status);
    boolean("stream", row.stream);
    number("prompt_tokens", static_cast<double>(row.prompt_tokens));
    number("cached_tokens", static_cast<double>(row.cached_tokens));
    number("completion_tokens", static_cast<double>(row.completion_tokens));
    boolean("usage_estimated", row.usage_estimated);
    number("cost_usd", row.cost_usd);
    number("ttft_ms", row.ttft_ms);
    number("duration_ms", row.total_ms);
    number("overhead_ms", row.overhead_ms);
    number("retries", row.retries);
    boolean("fallback", row.fallback);
    text("error", row.error);
    if (!stages.empty()) {
        field("stages");
        out += stages;
    }
    if (content != nullptr) {
        text("prompt", content->prompt);
        text("completion", content->completion);
    }
    out += '}';
    return out;
}

}  // namespace switchyard::account
