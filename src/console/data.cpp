#include "console/data.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>

#include "core/error.hpp"
#include "ledger/row.hpp"
#include "ledger/store.hpp"
#include "parse/request.hpp"
#include "report/ledger.hpp"
#include "server/runtime.hpp"

namespace switchyard::console {

namespace {

constexpr std::string_view kMask = "********";

// A field whose value is a secret: one of its words (split at '_' and '-') names one.
bool secret_field(std::string name) {
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    if (name.ends_with("_sha256")) return false;  // a digest, not the secret
    std::size_t start = 0;
    while (start <= name.size()) {
        const auto end = std::min(name.find_first_of("_-", start), name.size());
        const std::string_view word = std::string_view(name).substr(start, end - start);
        for (const char* secret : {"key", "apikey", "secret", "password", "passwd", "token", "authorization",
                                   "credential", "credentials"}) {
            if (word == secret) return true;
        }
        start = end + 1;
    }
    return false;
}

bool only_variable(const std::string& value) {
    return value.size() > 3 && value.starts_with("${") && value.ends_with("}") &&
           value.find_first_of("${}", 2) == value.size() - 1;
}

// "scheme://user:password@host" -> "scheme://user:********@host".
std::string without_url_password(const std::string& value) {
    const auto scheme = value.find("://");
    if (scheme == std::string::npos) return value;
    const auto at = value.find('@', scheme + 3);
    const auto slash = value.find('/', scheme + 3);
    if (at == std::string::npos || (slash != std::string::npos && slash < at)) return value;
    const auto colon = value.find(':', scheme + 3);
    if (colon == std::string::npos || colon > at) return value.substr(0, scheme + 3) + std::string(kMask) + value.substr(at);
    return value.substr(0, colon + 1) + std::string(kMask) + value.substr(at);
}

// A plain YAML scalar that reads the same as a JSON number, true or false ("8080", "0.5", "true"),
// not "1s", "0x10" or "yes".
bool plain_json_literal(std::string_view text) {
    return text == "true" || text == "false" || parse::is_json_number(text);
}

void to_json(std::string& out, const YAML::Node& node, bool mask) {
    switch (node.Type()) {
        case YAML::NodeType::Map: {
            out += '{';
            bool first = true;
            for (auto it = node.begin(); it != node.end(); ++it) {
                if (!first) out += ',';
                first = false;
                const std::string name = it->first.IsScalar() ? it->first.Scalar() : "?";
                append_json_string(out, name);
                out += ':';
                to_json(out, it->second, mask || secret_field(name) || name == "headers");
            }
            out += '}';
            return;
        }
        case YAML::NodeType::Sequence: {
            out += '[';
            for (std::size_t i = 0; i < node.size(); ++i) {
                if (i) out += ',';
                to_json(out, node[i], mask);
            }
            out += ']';
            return;
        }
        case YAML::NodeType::Scalar: {
            const std::string& value = node.Scalar();
            if (mask && !only_variable(value)) {
                append_json_string(out, kMask);
            } else if (node.Tag() == "?" && plain_json_literal(value)) {
                out += value;  // written unquoted in the file: a number or a boolean, shown as one
            } else {
                append_json_string(out, without_url_password(value));
            }
            return;
        }
        default: out += "null"; return;
    }
}

int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string percent_decode(std::string_view text, bool plus_is_space) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (plus_is_space && text[i] == '+') {
            out += ' ';
        } else if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
            out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

namespace {

std::int64_t number_or(std::string_view text, std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
    if (text.empty()) return fallback;
    std::int64_t value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return fallback;
        value = value * 10 + (c - '0');
        if (value > hi) return hi;
    }
    return std::clamp(value, lo, hi);
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void append_double(std::string& out, double value) {
    char text[40];
    std::snprintf(text, sizeof text, "%.6f", value);
    out += text;
}

void append_row(std::string& out, const ledger::Row& row) {
    out += "{\"ts_ms\":" + std::to_string(row.ts_ms) + ",\"request_id\":";
    append_json_string(out, row.request_id);
    const std::pair<const char*, const std::string*> texts[] = {{"key", &row.key},
                                                               {"model", &row.model},
                                                               {"served_model", &row.served_model},
                                                               {"deployment", &row.deployment},
                                                               {"upstream", &row.upstream},
                                                               {"error", &row.error}};
    for (const auto& [name, value] : texts) {
        out += ",\"";
        out += name;
        out += "\":";
        append_json_string(out, *value);
    }
    out += ",\"labels\":";
    out += row.labels.empty() ? "{}" : row.labels;  // stored as a JSON object by the gateway
    out += ",\"tier\":" + std::to_string(row.tier) + ",\"local\":" + (row.local ? "true" : "false") +
           ",\"status\":" + std::to_string(row.status) + ",\"stream\":" + (row.stream ? "true" : "false") +
           ",\"prompt_tokens\":" + std::to_string(row.prompt_tokens) +
           ",\"cached_tokens\":" + std::to_string(row.cached_tokens) +
           ",\"completion_tokens\":" + std::to_string(row.completion_tokens) +
           ",\"usage_estimated\":" + (row.usage_estimated ? "true" : "false") + ",\"cost_usd\":";
    append_double(out, row.cost_usd);
    out += ",\"ttft_ms\":";
    if (row.ttft_ms < 0) out += "null"; else append_double(out, row.ttft_ms);
    out += ",\"total_ms\":";
    append_double(out, row.total_ms);
    out += ",\"overhead_ms\":";
    if (row.overhead_ms < 0) out += "null"; else append_double(out, row.overhead_ms);
    out += ",\"retries\":" + std::to_string(row.retries) + ",\"fallback\":" + (row.fallback ? "true" : "false") + "}";
}

bool status_matches(std::string_view wanted, int status) {
    if (wanted.empty()) return true;
    if (wanted == "error") return status >= 400;
    if (wanted.size() == 3 && wanted[1] == 'x' && wanted[2] == 'x') return status / 100 == wanted[0] - '0';
    return std::to_string(status) == wanted;
}

wire::LocalResponse json_response(std::string body) {
    wire::LocalResponse response;
    response.body = std::move(body);
    return response;
}

wire::LocalResponse ledger_failed(std::exception_ptr failure) {
    const std::string what = ledger::Ledger::what_failed(failure);
    return wire::error_response(
        ApiError{503, "the ledger could not be read: " + what, "server_error", std::nullopt, "ledger_unavailable"});
}

// GET /admin/requests: the newest `limit` rows of the last `minutes` that match, newest first.
boost::asio::awaitable<wire::LocalResponse> requests(server::Shared& shared, std::string_view query) {
    if (!shared.ledger) co_return json_response(R"({"object":"list","ledger":false,"data":[]})");
    struct Filter {
        std::string key, model, deployment, status;
        std::size_t limit = 100;
        std::int64_t from_ms = 0, to_ms = 0;
    };
    auto filter = std::make_shared<Filter>();
    filter->key = query_value(query, "key");
    filter->model = query_value(query, "model");
    filter->deployment = query_value(query, "deployment");
    filter->status = query_value(query, "status");
    filter->limit = static_cast<std::size_t>(number_or(query_value(query, "limit"), 100, 1, 500));
    filter->to_ms = now_ms() + 1;
    filter->from_ms = filter->to_ms - number_or(query_value(query, "minutes"), 60, 1, 7 * 24 * 60) * 60'000;
    auto rows = std::make_shared<std::deque<ledger::Row>>();
    std::function<void(ledger::Store&)> read = [filter, rows](ledger::Store& store) {
        store.each_row(filter->from_ms, filter->to_ms, [&](const ledger::Row& row) {
            if (!filter->key.empty() && row.key != filter->key) return;
            if (!filter->model.empty() && row.model != filter->model) return;
            if (!filter->deployment.empty() && row.deployment != filter->deployment) return;
            if (!status_matches(filter->status, row.status)) return;
            rows->push_back(row);
            if (rows->size() > filter->limit) rows->pop_front();
        });
    };
    const auto failure = co_await shared.ledger->run(std::move(read));
    if (failure) co_return ledger_failed(failure);
    std::string body = R"({"object":"list","ledger":true,"data":[)";
    for (auto it = rows->rbegin(); it != rows->rend(); ++it) {
        if (it != rows->rbegin()) body += ',';
        append_row(body, *it);
    }
    body += "]}";
    co_return json_response(std::move(body));
}

// GET /admin/requests/{id}: the last row of that request id in the last day.
boost::asio::awaitable<wire::LocalResponse> request_detail(server::Shared& shared, std::string id) {
    if (!shared.ledger) {
        co_return wire::error_response(ApiError::not_found("no ledger is configured", "ledger_disabled"));
    }
    auto found = std::make_shared<std::optional<ledger::Row>>();
    const std::int64_t to = now_ms() + 1;
    std::function<void(ledger::Store&)> read = [found, id, to](ledger::Store& store) {
        store.each_row(to - 86'400'000, to, [&](const ledger::Row& row) {
            if (row.request_id == id) *found = row;
        });
    };
    const auto failure = co_await shared.ledger->run(std::move(read));
    if (failure) co_return ledger_failed(failure);
    if (!*found) co_return wire::error_response(ApiError::not_found("no request '" + id + "' in the ledger's last day",
                                                                    "request_not_found"));
    std::string body;
    append_row(body, **found);
    // What it said and got, as the access log kept it (redacted), while the log still holds it.
    if (shared.access_log && shared.access_log->content()) {
        if (const auto content = shared.access_log->recent_content(id)) {
            body.pop_back();  // the row's closing brace
            body += R"(,"prompt":)";
            append_json_string(body, content->prompt);
            body += R"(,"completion":)";
            append_json_string(body, content->completion);
            body += '}';
        }
    }
    co_return json_response(std::move(body));
}

struct Total {
    std::uint64_t requests = 0, errors = 0;
    std::int64_t prompt_tokens = 0, completion_tokens = 0;
    double cost_usd = 0;
    void add(const ledger::Row& row) {
        ++requests;
        if (row.status >= 400) ++errors;
        prompt_tokens += row.prompt_tokens;
        completion_tokens += row.completion_tokens;
        cost_usd += row.cost_usd;
    }
};

void append_totals(std::string& out, const char* name, const std::map<std::string, Total>& totals) {
    out += ",\"";
    out += name;
    out += "\":[";
    bool first = true;
    for (const auto& [label, total] : totals) {
        if (!first) out += ',';
        first = false;
        out += "{\"name\":";
        append_json_string(out, label);
        out += ",\"requests\":" + std::to_string(total.requests) + ",\"errors\":" + std::to_string(total.errors) +
               ",\"prompt_tokens\":" + std::to_string(total.prompt_tokens) +
               ",\"completion_tokens\":" + std::to_string(total.completion_tokens) + ",\"cost_usd\":";
        append_double(out, total.cost_usd);
        out += '}';
    }
    out += ']';
}

// GET /admin/spend?hours=N: totals by key, label ("team=research"), model, tier and local/cloud.
boost::asio::awaitable<wire::LocalResponse> spend(server::Shared& shared, std::string_view query) {
    if (!shared.ledger) co_return json_response(R"({"ledger":false})");
    struct Spend {
        std::map<std::string, Total> by_key, by_label, by_model, by_tier, by_locality;
        Total all;
    };
    auto spent = std::make_shared<Spend>();
    const std::int64_t to = now_ms() + 1;
    const std::int64_t from = to - number_or(query_value(query, "hours"), 24, 1, 24 * 93) * 3'600'000;
    std::function<void(ledger::Store&)> read = [spent, from, to](ledger::Store& store) {
        store.each_row(from, to, [&](const ledger::Row& row) {
            spent->all.add(row);
            spent->by_key[row.key].add(row);
            if (row.labels.size() > 2) {  // not "{}"
                for (const auto& [name, value] : report::parse_labels(row.labels)) spent->by_label[name + "=" + value].add(row);
            }
            spent->by_model[row.model].add(row);
            spent->by_tier[row.tier ? "tier " + std::to_string(row.tier) : "none"].add(row);
            spent->by_locality[row.deployment.empty() ? "none" : row.local ? "local" : "cloud"].add(row);
        });
    };
    const auto failure = co_await shared.ledger->run(std::move(read));
    if (failure) co_return ledger_failed(failure);
    std::string body = "{\"ledger\":true,\"from_ms\":" + std::to_string(from) + ",\"to_ms\":" + std::to_string(to);
    append_totals(body, "total", {{"all", spent->all}});
    append_totals(body, "by_key", spent->by_key);
    append_totals(body, "by_label", spent->by_label);
    append_totals(body, "by_model", spent->by_model);
    append_totals(body, "by_tier", spent->by_tier);
    append_totals(body, "by_locality", spent->by_locality);
    body += '}';
    co_return json_response(std::move(body));
}

// A whole number in [lo, hi], else nullopt (a query parameter that must be one when given).
std::optional<std::int64_t> whole_number(std::string_view text, std::int64_t lo, std::int64_t hi) {
    if (text.empty() || text.size() > 18) return std::nullopt;
    std::int64_t value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + (c - '0');
    }
    if (value < lo || value > hi) return std::nullopt;
    return value;
}

void append_group(std::string& out, const report::Group& group) {
    out += "{\"requests\":" + std::to_string(group.requests) + ",\"failed\":" + std::to_string(group.failed) +
           ",\"prompt_tokens\":" + std::to_string(group.tokens.prompt) +
           ",\"cached_tokens\":" + std::to_string(group.tokens.cached) +
           ",\"completion_tokens\":" + std::to_string(group.tokens.completion) + ",\"spend_usd\":";
    append_double(out, group.spend_usd);
    out += '}';
}

// The body of GET /admin/cost: the period's usage, the monthly comparison ("monthly", as in
// `switchyard cost --format json`), its curves for the charts, stale prices and the inputs.
std::string cost_body(const report::CostReport& report, std::int64_t hours) {
    const report::Usage& usage = *report.usage;
    std::string out = "{\"ledger\":true,\"hours\":" + std::to_string(hours) +
                      ",\"from_ms\":" + std::to_string(usage.period.from_ms) +
                      ",\"to_ms\":" + std::to_string(usage.period.to_ms) + ",\"source\":";
    append_json_string(out, report.source);
    out += ",\"totals\":";
    append_group(out, usage.total);
    out += ",\"local\":";
    append_group(out, usage.local);
    out += ",\"cloud\":";
    append_group(out, usage.cloud);
    out += ",\"monthly\":" + report::monthly_json(report.comparison);
    out += ",\"curves\":" + report::curves_json(report::cost_curves(report.comparison, 120));
    out += ",\"stale_prices\":[";
    for (std::size_t i = 0; i < report.stale_prices.size(); ++i) {
        const report::StalePrice& p = report.stale_prices[i];
        if (i) out += ',';
        out += "{\"model\":";
        append_json_string(out, p.model);
        out += ",\"date\":";
        append_json_string(out, p.date);
        out += ",\"age_days\":" + std::to_string(p.age_days) + ",\"source\":";
        append_json_string(out, p.source);
        out += '}';
    }
    out += "],\"inputs\":[";
    for (std::size_t i = 0; i < report.inputs.size(); ++i) {
        const report::Input& input = report.inputs[i];
        if (i) out += ',';
        out += "{\"name\":";
        append_json_string(out, input.name);
        out += ",\"value\":";
        if (input.number) {
            out += report::plain_number(*input.number);
        } else {
            out += "null";
        }
        out += ",\"note\":";
        append_json_string(out, input.text);
        out += '}';
    }
    out += "]}";
    return out;
}

// A number in [lo, hi] (or (0, hi] when `above_zero`), else nullopt.
std::optional<double> real_number(const std::string& text, double lo, double hi, bool above_zero = false) {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !(value >= lo && value <= hi)) return std::nullopt;
    if (above_zero && !(value > 0)) return std::nullopt;
    return value;
}

// The report's parameters from the query (see docs/observability.md); an error names the bad one.
std::optional<ApiError> read_cost_query(std::string_view query, report::CostOptions& o, std::int64_t& hours,
                                        std::optional<report::Period>& period, std::string& format,
                                        std::optional<std::int64_t>& today_ms) {
    const auto bad = [](const std::string& name, const std::string& what, const std::string& text) {
        return ApiError::invalid_request("'" + name + "' must be " + what + ", got '" + text + "'", name,
                                         "invalid_" + name);
    };
    if (const std::string text = query_value(query, "hours"); !text.empty()) {
        const auto parsed = whole_number(text, 1, 24 * 93);
        if (!parsed) return bad("hours", "a whole number of hours from 1 to 2232 (93 days)", text);
        hours = *parsed;
    }
    const std::string from = query_value(query, "from_ms"), to = query_value(query, "to_ms");
    if (!from.empty() || !to.empty()) {
        const auto from_ms = whole_number(from, 0, INT64_MAX / 2), to_ms = whole_number(to, 0, INT64_MAX / 2);
        if (!from_ms) return bad("from_ms", "Unix milliseconds (with to_ms)", from);
        if (!to_ms || *to_ms <= *from_ms) return bad("to_ms", "Unix milliseconds after from_ms", to);
        period = report::Period{*from_ms, *to_ms};
    }
    format = query_value(query, "format");
    if (!format.empty() && format != "table" && format != "csv" && format != "json" && format != "markdown" &&
        format != "html") {
        return bad("format", "table, csv, json, markdown or html", format);
    }
    o.by = query_value(query, "by");
    o.cloud_model = query_value(query, "cloud_model");
    struct Real {
        const char* name;
        double* out;
        double lo, hi;
        bool above_zero;
        const char* what;
    };
    const Real reals[] = {
        {"utilization", &o.utilization, 0, 1, true, "a number in (0, 1]"},
        {"local_throughput", &o.local_throughput, 0, 1e12, true, "a positive number of tokens a second"},
        {"hardware_usd", &o.hardware_usd, 0, 1e12, false, "a price in US dollars"},
        {"lifetime_months", &o.lifetime_months, 0.1, 1200, false, "a number of months from 0.1 to 1200"},
        {"power_watts", &o.power_watts, 0, 1e9, false, "a number of watts"},
        {"electricity_usd_per_kwh", &o.electricity_usd_per_kwh, 0, 1e6, false, "a price in US dollars"},
        {"ops_usd_per_month", &o.ops_usd_per_month, 0, 1e12, false, "a price in US dollars"},
    };
    for (const Real& real : reals) {
        const std::string text = query_value(query, real.name);
        if (text.empty()) continue;
        const auto value = real_number(text, real.lo, real.hi, real.above_zero);
        if (!value) return bad(real.name, real.what, text);
        *real.out = *value;
    }
    if (const std::string text = query_value(query, "years"); !text.empty()) {
        const auto parsed = whole_number(text, 1, 50);
        if (!parsed) return bad("years", "a whole number from 1 to 50", text);
        o.years = static_cast<int>(*parsed);
    }
    if (const std::string text = query_value(query, "max_price_age"); !text.empty()) {
        const auto parsed = whole_number(text, 0, 100'000);
        if (!parsed) return bad("max_price_age", "a whole number of days", text);
        o.max_price_age_days = static_cast<int>(*parsed);
    }
    if (const std::string text = query_value(query, "today_ms"); !text.empty()) {
        today_ms = whole_number(text, 0, INT64_MAX / 2);
        if (!today_ms) return bad("today_ms", "Unix milliseconds", text);
    }
    return std::nullopt;
}

// GET /admin/cost: `switchyard cost`'s ledger mode over the last `hours` (24 by default) or
// [from_ms, to_ms): the same report/ledger arithmetic, read and computed on the ledger's thread.
// Without `format`, the console's JSON (cost_body); with it, the report as `switchyard cost
// --format F` writes it (what `switchyard cost --url` asks for), grouped by `by`.
boost::asio::awaitable<wire::LocalResponse> cost(server::Shared& shared, std::string_view query) {
    if (!shared.ledger) co_return json_response(R"({"ledger":false})");
    struct Job {
        report::CostOptions options;
        std::shared_ptr<server::Generation> generation;  // its config and catalog, read on the ledger's thread
        report::Period period;
        std::vector<report::Dimension> dimensions;
        std::int64_t today_ms = 0;
        std::optional<report::CostReport> report;
        std::optional<ApiError> refused;
    };
    auto job = std::make_shared<Job>();
    std::int64_t hours = 24;
    std::optional<report::Period> period;
    std::string format;
    std::optional<std::int64_t> today;
    if (auto refused = read_cost_query(query, job->options, hours, period, format, today)) {
        co_return wire::error_response(*refused);
    }
    if (!format.empty() && report::report_writer() == nullptr) {
        co_return wire::error_response(ApiError{501, "this build of the gateway cannot write cost reports", "server_error",
                                                std::nullopt, "report_unavailable"});
    }
    if (!format.empty()) {
        if (job->options.by.empty()) {
            job->dimensions = report::default_dimensions();
        } else {
            std::string why;
            auto parsed = report::parse_dimensions(job->options.by, &why);
            if (!parsed) co_return wire::error_response(ApiError::invalid_request("'by': " + why, "by", "invalid_by"));
            job->dimensions = std::move(*parsed);
        }
    }
    job->generation = shared.current();
    job->today_ms = today.value_or(now_ms());
    if (period) {
        job->period = *period;
        hours = (period->to_ms - period->from_ms + 3'599'999) / 3'600'000;
    } else {
        job->period.to_ms = now_ms() + 1;
        job->period.from_ms = job->period.to_ms - hours * 3'600'000;
    }
    const std::string config_source = shared.config_path.empty() ? "config" : shared.config_path;
    std::function<void(ledger::Store&)> compute = [job, config_source](ledger::Store& store) {
        const config::Gateway& gateway = job->generation->config;
        pricing::Catalog catalog = job->generation->catalog;
        report::add_config_prices(catalog, gateway, config_source);
        if (catalog.empty()) {
            job->refused = ApiError{503, "no price catalog is loaded (set prices.catalog)", "server_error", std::nullopt,
                                    "prices_unavailable"};
            return;
        }
        if (!job->options.cloud_model.empty() && !catalog.find(job->options.cloud_model)) {
            job->refused = ApiError::invalid_request(
                "the cloud model '" + job->options.cloud_model + "' is not in the price catalog", "cloud_model",
                "model_not_found");
            return;
        }
        const std::string prices = gateway.prices.catalog.empty() ? "data/prices.yaml" : gateway.prices.catalog;
        report::Aggregator aggregator(job->period, job->dimensions);
        store.each_row(job->period.from_ms, job->period.to_ms, [&](const ledger::Row& row) { aggregator.add(row); });
        report::LedgerReport built = report::ledger_report(job->options, gateway, catalog, prices, aggregator.finish(),
                                                           store.describe(), job->today_ms);
        job->report = std::move(built.report);
        if (!job->report) job->refused = ApiError{500, built.error, "server_error", std::nullopt, "cost_failed"};
    };
    const auto failure = co_await shared.ledger->run(std::move(compute));
    if (failure) co_return ledger_failed(failure);
    if (job->refused) co_return wire::error_response(*job->refused);
    if (format.empty()) co_return json_response(cost_body(*job->report, hours));
    wire::LocalResponse response;
    response.body = report::report_writer()(*job->report, format, report::only_dimension(job->options.by, job->dimensions));
    response.content_type = format == "json"   ? "application/json"
                            : format == "html" ? "text/html; charset=utf-8"
                            : format == "csv"  ? "text/csv; charset=utf-8"
                                               : "text/plain; charset=utf-8";
    co_return response;
}

}  // namespace

std::string query_value(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        const auto eq = pair.find('=');
        if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1), true);
    }
    return {};
}

std::string masked_config_json(std::string_view yaml) {
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml));
    } catch (const YAML::Exception&) {
        return "null";
    }
    std::string out;
    to_json(out, root, false);
    return out;
}

std::optional<std::string> ReportCache::get_or_begin(const std::string& key, Clock::time_point now,
                                                     std::uint64_t version) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
        if (entries_.size() >= kEntries) {
            entries_.erase(std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
                return a.second.asked_at < b.second.asked_at;
            }));
        }
        it = entries_.emplace(key, Entry{}).first;
    }
    Entry& entry = it->second;
    entry.asked_at = now;
    const auto age = now - entry.read_at;
    if (entry.has_body && (age < kMinFresh || (age < kFresh && version == entry.version))) return entry.body;
    const bool reading = entry.reading_since != Clock::time_point{} && now - entry.reading_since < kReadTimeout;
    if (reading && entry.has_body) return entry.body;  // stale, until the read under way ends
    if (!reading) entry.reading_since = now;
    return std::nullopt;
}

void ReportCache::put(const std::string& key, std::string body, Clock::time_point now, std::uint64_t version) {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(key);
    if (it == entries_.end()) return;  // dropped meanwhile
    it->second.body = std::move(body);
    it->second.has_body = true;
    it->second.version = version;
    it->second.read_at = now;
    it->second.reading_since = {};
}

void ReportCache::abandon(const std::string& key) {
    std::lock_guard lock(mutex_);
    if (const auto it = entries_.find(key); it != entries_.end()) it->second.reading_since = {};
}

void ConfigText::set(std::uint64_t generation, const std::string& yaml) {
    std::string json = "{\"generation\":" + std::to_string(generation) + ",\"config\":" + masked_config_json(yaml) + "}";
    std::lock_guard lock(mutex_);
    json_ = std::move(json);
}

std::string ConfigText::json() const {
    std::lock_guard lock(mutex_);
    return json_;
}

boost::asio::awaitable<std::optional<wire::LocalResponse>> data(server::Shared& shared, std::string_view method,
                                                                std::string path, std::string query) {
    if (method != "GET" && method != "HEAD") co_return std::nullopt;
    if (path == "/admin/overview") {
        const double interval_s = static_cast<double>(shared.boot.console.sample_interval.count()) / 1000;
        std::string body = shared.samples.json(interval_s, number_or(query_value(query, "since"), 0, 0, INT64_MAX));
        body.pop_back();
        body += ",\"generation\":" + std::to_string(shared.current()->number) +
                ",\"in_flight\":" + std::to_string(shared.in_flight.load()) +
                ",\"connections\":" + std::to_string(shared.open_connections.load()) +
                ",\"console_sessions\":" + std::to_string(shared.console_sessions.size()) + "}";
        co_return json_response(std::move(body));
    }
    if (path == "/admin/requests") co_return co_await requests(shared, query);
    if (path.starts_with("/admin/requests/")) co_return co_await request_detail(shared, percent_decode(path.substr(16), false));
    // A report in one of `switchyard cost`'s formats is asked for by the command, now and then:
    // not kept.
    if (path == "/admin/cost" && !query_value(query, "format").empty()) co_return co_await cost(shared, query);
    if (path == "/admin/spend" || path == "/admin/cost") {
        const std::string key = path + '?' + query;
        const std::uint64_t version = shared.ledger ? shared.ledger->stats().written : 0;
        if (auto kept = shared.reports.get_or_begin(key, ReportCache::Clock::now(), version)) {
            co_return json_response(std::move(*kept));
        }
        wire::LocalResponse response;
        if (path == "/admin/spend") {
            response = co_await spend(shared, query);
        } else {
            response = co_await cost(shared, query);
        }
        if (response.status == 200) {
            shared.reports.put(key, response.body, ReportCache::Clock::now(), version);
        } else {
            shared.reports.abandon(key);
        }
        co_return response;
    }
    if (path == "/admin/config") co_return json_response(shared.config_text.json());
    co_return std::nullopt;
}

}  // namespace switchyard::console
