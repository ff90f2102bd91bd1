#include "server/access_log.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <ctime>

#include "core/error.hpp"

namespace switchyard::server {

std::shared_ptr<spdlog::logger> make_access_log(const config::AccessLog& config) {
    if (config.path.empty()) return nullptr;
    spdlog::init_thread_pool(8192, 1);
    std::shared_ptr<spdlog::sinks::sink> sink;
    if (config.path == "stdout") {
        sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    } else {
        sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(config.path, config.max_size, config.max_files);
    }
    auto logger = std::make_shared<spdlog::async_logger>("access", std::move(sink), spdlog::thread_pool(),
                                                         spdlog::async_overflow_policy::block);
    logger->set_pattern("%v");
    logger->set_level(spdlog::level::info);
    logger->flush_on(spdlog::level::info);
    return logger;
}

std::string access_line(const ledger::Row& row) {
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
    number("retries", row.retries);
    boolean("fallback", row.fallback);
    text("error", row.error);
    out += '}';
    return out;
}

}  // namespace switchyard::server
