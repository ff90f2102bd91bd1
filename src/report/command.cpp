#include "report/command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

#include "config/config.hpp"
#include "core/url.hpp"
#include "engine/ps.hpp"
#include "ledger/store.hpp"
#include "loadgen/bench.hpp"
#include "report/cost.hpp"
#include "report/format.hpp"
#include "report/ledger.hpp"
#include "report/scenario.hpp"

namespace switchyard::report {

namespace {

using loadgen::default_prices_file;

std::optional<pricing::Catalog> load_catalog(const std::string& path) {
    if (path.empty()) {
        std::cerr << "switchyard cost: no price catalog found (data/prices.yaml); give one with --prices\n";
        return std::nullopt;
    }
    auto loaded = pricing::load_catalog_file(path);
    if (!loaded.catalog) {
        for (const auto& error : loaded.errors) std::cerr << path << ": " << error << "\n";
        return std::nullopt;
    }
    return std::move(*loaded.catalog);
}

// "today" for the prices' age: --today, else the system clock. nullopt once the problem is on stderr.
std::optional<std::int64_t> today_ms(const CostOptions& o) {
    if (o.today.empty()) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
    const auto parsed = parse_utc(o.today);
    if (!parsed) std::cerr << "switchyard cost: --today: expected YYYY-MM-DD, got '" << o.today << "'\n";
    return parsed;
}

// Warns on stderr about a price the comparison used that is older than --max-price-age.
void warn_stale(const CostOptions& o, const StalePrice& stale) {
    std::cerr << "switchyard cost: warning: the price of " << stale.model << " is dated " << stale.date << " ("
              << stale.age_days << " days old, more than " << o.max_price_age_days
              << "); check it against its source" << (stale.source.empty() ? "" : " " + stale.source)
              << " or give a newer catalog with --prices\n";
}

// The prices the comparison used that are older than --max-price-age, each warned about on stderr.
void check_price_ages(const CostOptions& o, std::int64_t today, const std::vector<CloudModel>& used,
                      CostReport& report) {
    for (const auto& cloud : used) {
        auto stale = stale_price(cloud.name, cloud.price, today, o.max_price_age_days);
        if (!stale) continue;
        warn_stale(o, *stale);
        report.stale_prices.push_back(std::move(*stale));
    }
}

// The report's text to --output, else stdout; the exit status.
int write_output(const CostOptions& o, const std::string& text) {
    std::ofstream file;
    if (!o.output_path.empty()) {
        file.open(o.output_path);
        if (!file) {
            std::cerr << "switchyard cost: cannot write " << o.output_path << "\n";
            return 1;
        }
    }
    std::ostream& out = o.output_path.empty() ? std::cout : file;
    out << text;
    out.flush();
    if (!out) {
        std::cerr << "switchyard cost: writing the report failed\n";
        return 1;
    }
    return 0;
}

int emit_report(const CostOptions& o, const CostReport& report, const std::string& only) {
    return write_output(o, write_report(report, o.format, only));
}

int run_scenario(const CostOptions& o) {
    auto loaded = load_scenario_file(o.scenario_path);
    if (!loaded.scenario) {
        for (const auto& error : loaded.errors) std::cerr << o.scenario_path << ": " << error << "\n";
        return 1;
    }
    Scenario& scenario = *loaded.scenario;
    if (o.utilization > 0) scenario.utilization = o.utilization;
    std::string prices = o.prices_file;
    if (prices.empty() && !scenario.prices.empty()) {
        prices = scenario.prices;
        // A relative path is taken from the scenario file's folder when it is not found from here.
        std::error_code ec;
        const auto beside = std::filesystem::path(o.scenario_path).parent_path() / prices;
        if (!std::filesystem::exists(prices, ec) && std::filesystem::exists(beside, ec)) prices = beside.string();
    }
    if (prices.empty()) prices = default_prices_file();
    pricing::Catalog catalog;
    const bool needs_catalog = std::any_of(scenario.cloud.begin(), scenario.cloud.end(),
                                           [](const CloudChoice& c) { return !c.price; });
    if (needs_catalog) {
        auto loaded_catalog = load_catalog(prices);
        if (!loaded_catalog) return 1;
        catalog = std::move(*loaded_catalog);
    }
    std::vector<std::string> errors;
    const auto cloud = resolve_cloud(scenario, catalog, errors);
    if (!cloud) {
        for (const auto& error : errors) std::cerr << o.scenario_path << ": " << error << "\n";
        return 1;
    }
    CostReport report;
    report.mode = "scenario";
    report.source = o.scenario_path;
    report.comparison = compare(scenario, *cloud);
    const auto today = today_ms(o);
    if (!today) return 2;
    check_price_ages(o, *today, *cloud, report);
    const int years = o.years > 0 ? o.years : scenario_years(scenario);
    report.years = years_view(report.comparison, years);
    if (needs_catalog) report.inputs.push_back({"price catalog", std::nullopt, prices});
    report.inputs.push_back({"years", static_cast<double>(years),
                             o.years > 0 ? "flag" : scenario.years > 0 ? "scenario" : "longest owned lifetime"});
    return emit_report(o, report, "");
}

// --by: the dimensions to break the usage down by (all of them when not given); nullopt once the
// problem is on stderr.
std::optional<std::vector<Dimension>> ledger_dimensions(const CostOptions& o) {
    if (o.by.empty()) return default_dimensions();
    std::string why;
    auto parsed = parse_dimensions(o.by, &why);
    if (!parsed) {
        std::cerr << "switchyard cost: --by: " << why << "\n";
        return std::nullopt;
    }
    return parsed;
}

// The one dimension --by asked for, which the CSV output is limited to ("" : all of them).
std::optional<Period> ledger_period(const CostOptions& o) {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    Period period{month_start_utc(now_ms), now_ms};
    if (!o.from.empty()) {
        const auto from = parse_utc(o.from);
        if (!from) {
            std::cerr << "switchyard cost: --from: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z, got '" << o.from << "'\n";
            return std::nullopt;
        }
        period.from_ms = *from;
        if (o.to.empty()) period.to_ms = std::max(now_ms, *from);
    }
    if (!o.to.empty()) {
        const auto to = parse_utc(o.to, true);
        if (!to) {
            std::cerr << "switchyard cost: --to: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z, got '" << o.to << "'\n";
            return std::nullopt;
        }
        period.to_ms = *to;
    }
    if (period.to_ms <= period.from_ms) {
        std::cerr << "switchyard cost: the period is empty: " << format_utc(period.from_ms) << " to "
                  << format_utc(period.to_ms) << "\n";
        return std::nullopt;
    }
    return period;
}

// The catalog at `prices` with the config's models on top; nullopt once the problem is on stderr.
std::optional<pricing::Catalog> ledger_catalog(const CostOptions& o, const config::Gateway& gateway,
                                               const std::string& prices) {
    auto catalog = load_catalog(prices);
    if (!catalog) return std::nullopt;
    add_config_prices(*catalog, gateway, o.config_path);
    return catalog;
}

// The period's rows of the ledger at `url`, summed; nullopt once the problem is on stderr.
std::optional<Usage> read_ledger(const std::string& url, const Period& period,
                                 const std::vector<Dimension>& dimensions, std::string& source) {
    const bool postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if (!postgres) {
        const std::string path = url.starts_with("sqlite:") ? url.substr(7) : url;
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) {
            std::cerr << "switchyard cost: the ledger " << path << " does not exist (yet)\n";
            return std::nullopt;
        }
    }
    Aggregator aggregator(period, dimensions);
    try {
        auto store = ledger::open_store(url);
        source = store->describe();
        store->each_row(period.from_ms, period.to_ms, [&](const ledger::Row& row) { aggregator.add(row); });
    } catch (const std::exception& e) {
        std::cerr << "switchyard cost: cannot read the ledger: " << e.what() << "\n";
        return std::nullopt;
    }
    return aggregator.finish();
}

int run_ledger(const CostOptions& o) {
    const auto loaded = config::load_file(o.config_path);
    if (!loaded.gateway) {
        for (const auto& error : loaded.errors) std::cerr << o.config_path << ": " << config::to_string(error) << "\n";
        return 1;
    }
    const config::Gateway& gateway = *loaded.gateway;
    if (gateway.ledger.url.empty()) {
        std::cerr << o.config_path << ": the configuration has no 'ledger' to report on\n";
        return 1;
    }
    const auto dimensions = ledger_dimensions(o);
    if (!dimensions) return 2;
    const std::string only = only_dimension(o.by, *dimensions);
    const auto period = ledger_period(o);
    if (!period) return 2;
    // Prices: --prices, else the config's catalog, else the default one.
    std::string prices = !o.prices_file.empty() ? o.prices_file : gateway.prices.catalog;
    if (prices.empty()) prices = default_prices_file();
    const auto catalog = ledger_catalog(o, gateway, prices);
    if (!catalog) return 1;

    std::string source;
    auto usage = read_ledger(gateway.ledger.url, *period, *dimensions, source);
    if (!usage) return 1;
    const auto today = today_ms(o);
    if (!today) return 2;
    LedgerReport built = ledger_report(o, gateway, *catalog, prices, std::move(*usage), std::move(source), *today);
    if (!built.report) {
        std::cerr << "switchyard cost: " << built.error << (o.cloud_model.empty() ? "" : " (--cloud-model)") << "\n";
        return 2;
    }
    for (const auto& stale : built.report->stale_prices) warn_stale(o, stale);
    const CostReport& report = *built.report;
    return emit_report(o, report, only);
}

// --url: the running gateway computes the report on its own ledger, prices and config (GET
// /admin/cost with format=), so the numbers are those of the console's Spend page; the period,
// groupings and cost model overrides are the flags', checked here first.
int run_remote(const CostOptions& o) {
    if (!o.prices_file.empty()) {
        std::cerr << "switchyard cost: --prices does not apply with --url: the gateway prices with its own catalog\n";
        return 2;
    }
    const auto dimensions = ledger_dimensions(o);
    if (!dimensions) return 2;
    const auto period = ledger_period(o);
    if (!period) return 2;
    std::string path = "/admin/cost?format=" + percent_encode(o.format) + "&from_ms=" + std::to_string(period->from_ms) +
                       "&to_ms=" + std::to_string(period->to_ms);
    const auto add = [&path](std::string_view name, const std::string& value) {
        if (!value.empty()) path.append("&").append(name).append("=").append(percent_encode(value));
    };
    const auto add_number = [&add](std::string_view name, double value) {
        if (value >= 0) add(name, plain_number(value));
    };
    add("by", o.by);
    add("cloud_model", o.cloud_model);
    if (o.utilization > 0) add_number("utilization", o.utilization);
    add_number("local_throughput", o.local_throughput);
    add_number("hardware_usd", o.hardware_usd);
    add_number("lifetime_months", o.lifetime_months);
    add_number("power_watts", o.power_watts);
    add_number("electricity_usd_per_kwh", o.electricity_usd_per_kwh);
    add_number("ops_usd_per_month", o.ops_usd_per_month);
    if (o.years > 0) add("years", std::to_string(o.years));
    add("max_price_age", std::to_string(o.max_price_age_days));
    if (!o.today.empty()) {
        const auto today = today_ms(o);
        if (!today) return 2;
        add("today_ms", std::to_string(*today));
    }
    std::string body;
    if (const int failed = engine::admin_get(o.url, o.key_env, "cost", path, body, std::chrono::seconds(300))) {
        return failed;
    }
    return write_output(o, body);
}

}  // namespace

int run_cost(const CostOptions& options) {
    const int sources = (options.config_path.empty() ? 0 : 1) + (options.scenario_path.empty() ? 0 : 1) +
                        (options.url.empty() ? 0 : 1);
    if (sources != 1) {
        std::cerr << "switchyard cost: give one of --config (report on the ledger), --url (ask a running gateway) "
                     "or --scenario (plan without a ledger)\n";
        return 2;
    }
    if (options.utilization > 1) {
        std::cerr << "switchyard cost: --utilization must be in (0, 1]\n";
        return 2;
    }
    if (!options.url.empty()) return run_remote(options);
    return options.scenario_path.empty() ? run_ledger(options) : run_scenario(options);
}

}  // namespace switchyard::report
