#include "report/command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

#include "config/config.hpp"
#include "ledger/store.hpp"
#include "loadgen/bench.hpp"
#include "report/cost.hpp"
#include "report/format.hpp"
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

Hardware from_cost_model(const std::string& name, const config::CostModel& cost) {
    Hardware h;
    h.name = name;
    h.hardware_usd = cost.hardware_usd;
    h.lifetime_months = cost.lifetime_months;
    h.power_watts = cost.power_watts;
    h.electricity_usd_per_kwh = cost.electricity_usd_per_kwh;
    h.ops_usd_per_month = cost.ops_usd_per_month;
    return h;
}

// The flags that override a cost model's fields; true when any was given.
bool apply_overrides(const CostOptions& o, Hardware& h) {
    bool any = false;
    auto set = [&](double flag, double& field) {
        if (flag >= 0) {
            field = flag;
            any = true;
        }
    };
    set(o.hardware_usd, h.hardware_usd);
    set(o.lifetime_months, h.lifetime_months);
    set(o.power_watts, h.power_watts);
    set(o.electricity_usd_per_kwh, h.electricity_usd_per_kwh);
    set(o.ops_usd_per_month, h.ops_usd_per_month);
    return any;
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

// The prices the comparison used that are older than --max-price-age, each warned about on stderr.
void check_price_ages(const CostOptions& o, std::int64_t today, const std::vector<CloudModel>& used,
                      CostReport& report) {
    for (const auto& cloud : used) {
        auto stale = stale_price(cloud.name, cloud.price, today, o.max_price_age_days);
        if (!stale) continue;
        std::cerr << "switchyard cost: warning: the price of " << stale->model << " is dated " << stale->date << " ("
                  << stale->age_days << " days old, more than " << o.max_price_age_days
                  << "); check it against its source" << (stale->source.empty() ? "" : " " + stale->source)
                  << " or give a newer catalog with --prices\n";
        report.stale_prices.push_back(std::move(*stale));
    }
}

int write_report(const CostOptions& o, const CostReport& report, const std::string& only) {
    std::ofstream file;
    if (!o.output_path.empty()) {
        file.open(o.output_path);
        if (!file) {
            std::cerr << "switchyard cost: cannot write " << o.output_path << "\n";
            return 1;
        }
    }
    std::ostream& out = o.output_path.empty() ? std::cout : file;
    if (o.format == "json") {
        out << to_json(report);
    } else if (o.format == "markdown") {
        out << to_markdown(report);
    } else if (o.format == "html") {
        out << to_html(report);
    } else if (o.format == "csv") {
        out << to_csv(report, only);
    } else {
        print_table(out, report);
    }
    out.flush();
    if (!out) {
        std::cerr << "switchyard cost: writing the report failed\n";
        return 1;
    }
    return 0;
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
    return write_report(o, report, "");
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
std::string only_dimension(const CostOptions& o, const std::vector<Dimension>& dimensions) {
    return !o.by.empty() && dimensions.size() == 1 &&
                   !(dimensions[0].kind == Dimension::Kind::label && dimensions[0].label.empty())
               ? dimensions[0].title()
               : std::string();
}

// --from and --to (default: this UTC month until now); nullopt once the problem is on stderr.
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
    for (const auto& [model, value] : gateway.prices.models) {
        catalog->set(model, {value[0], value[1], value[2], "config", o.config_path});
    }
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

// A choice the comparison made, and where it came from (shown among the report's inputs).
struct Chosen {
    std::string name;
    std::string origin;
};

// The all-cloud model: the flag, else the cloud model that carried the most tokens, else a default.
Chosen all_cloud_model(const CostOptions& o, const Usage& usage, const pricing::Catalog& catalog) {
    Chosen cloud{o.cloud_model, "flag"};
    if (cloud.name.empty()) {
        for (const auto& group : usage.cloud_models) {
            if (catalog.find(group.name)) {
                cloud = {group.name, "most used cloud model in the ledger"};
                break;
            }
        }
    }
    if (cloud.name.empty()) {
        cloud = {catalog.find("gpt-4o-mini") ? "gpt-4o-mini" : catalog.entries().begin()->first, "default"};
    }
    return cloud;
}

// The cost models of the config's local upstreams, flags on top, by upstream.
std::map<std::string, Hardware> local_cost_models(const CostOptions& o, const config::Gateway& gateway) {
    std::map<std::string, Hardware> local_hardware;
    for (const auto& upstream : gateway.upstreams) {
        if (!upstream.local || !upstream.cost) continue;
        Hardware h = from_cost_model(upstream.name, *upstream.cost);
        apply_overrides(o, h);
        local_hardware.emplace(upstream.name, h);
    }
    return local_hardware;
}

struct LocalMachine {
    std::optional<Hardware> hardware;
    std::string origin;
};

// The local machine: the cost model of the local upstream that served most, else the config's
// first, else the flags alone (none without them).
LocalMachine local_machine(const CostOptions& o, const config::Gateway& gateway, const Usage& usage,
                           const std::map<std::string, Hardware>& local_hardware) {
    LocalMachine local;
    for (const auto& group : usage.local_upstreams) {
        if (auto it = local_hardware.find(group.name); it != local_hardware.end()) {
            local = {it->second, "config, upstream " + group.name + " (most local tokens)"};
            break;
        }
    }
    if (!local.hardware) {
        for (const auto& upstream : gateway.upstreams) {
            if (auto it = local_hardware.find(upstream.name); it != local_hardware.end()) {
                local = {it->second, "config, upstream " + upstream.name};
                break;
            }
        }
    }
    if (!local.hardware) {
        Hardware h;
        h.name = "local";
        if (apply_overrides(o, h)) local = {h, "flags"};
    } else if (o.hardware_usd >= 0 || o.lifetime_months >= 0 || o.power_watts >= 0 ||
               o.electricity_usd_per_kwh >= 0 || o.ops_usd_per_month >= 0) {
        local.origin += ", flags on top";
    }
    return local;
}

struct Throughput {
    double tokens_per_second = 0;
    std::string origin;
};

// Tokens per second per local machine: the flag, else what the ledger shows, else a default.
Throughput local_throughput(const CostOptions& o, const Usage& usage) {
    if (o.local_throughput <= 0) {
        if (const auto observed = usage.local_tokens_per_second()) {
            return {*observed, "ledger: local tokens per busy second"};
        }
        return {kDefaultLocalThroughput, "default (no local traffic in the ledger)"};
    }
    return {o.local_throughput, "flag"};
}

// What the comparison was computed from, and where each came from.
void add_ledger_inputs(CostReport& report, const CostOptions& o, const Period& period, const std::string& prices,
                       const Chosen& cloud, const Throughput& throughput, double utilization,
                       const LocalMachine& local) {
    report.inputs.push_back({"period days", period.days(), ""});
    report.inputs.push_back({"scale to a month", period.days() > 0 ? kDaysPerMonth / period.days() : 0, ""});
    report.inputs.push_back({"price catalog", std::nullopt, prices});
    report.inputs.push_back({"cloud model", std::nullopt, cloud.name + " (" + cloud.origin + ")"});
    report.inputs.push_back(
        {"local throughput", throughput.tokens_per_second, "tokens/s per machine, " + throughput.origin});
    report.inputs.push_back({"utilization", utilization, o.utilization > 0 ? "flag" : "default"});
    if (local.hardware) {
        const Hardware& h = *local.hardware;
        report.inputs.push_back({"hardware_usd", h.hardware_usd, local.origin});
        report.inputs.push_back({"lifetime_months", h.lifetime_months, local.origin});
        report.inputs.push_back({"power_watts", h.power_watts, local.origin});
        report.inputs.push_back({"electricity_usd_per_kwh", h.electricity_usd_per_kwh, local.origin});
        report.inputs.push_back({"ops_usd_per_month", h.ops_usd_per_month, local.origin});
    } else {
        report.inputs.push_back({"local cost model", std::nullopt,
                                 "none: set upstreams[].cost in the config or --hardware-usd and friends"});
    }
}

// The hybrid as recorded, with the payback of its machines' purchase against the reference.
Option recorded_hybrid(const Usage& usage, const std::map<std::string, Hardware>& local_hardware,
                       double reference_monthly_usd) {
    Option recorded = hybrid_option(usage, local_hardware);
    if (recorded.purchase_usd > 0) {
        recorded.payback_months = payback_months(recorded.purchase_usd, reference_monthly_usd,
                                                 recorded.running_monthly_usd + recorded.cloud_monthly_usd);
    }
    return recorded;
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
    const std::string only = only_dimension(o, *dimensions);
    const auto period = ledger_period(o);
    if (!period) return 2;
    // Prices: --prices, else the config's catalog, else the default one.
    std::string prices = !o.prices_file.empty() ? o.prices_file : gateway.prices.catalog;
    if (prices.empty()) prices = default_prices_file();
    const auto catalog = ledger_catalog(o, gateway, prices);
    if (!catalog) return 1;

    CostReport report;
    auto usage = read_ledger(gateway.ledger.url, *period, *dimensions, report.source);
    if (!usage) return 1;
    report.repricing = reprice(usage->total.tokens, *catalog, usage->total.spend_usd);
    const Workload workload = monthly_workload(usage->total.tokens, period->days());

    const Chosen cloud = all_cloud_model(o, *usage, *catalog);
    const pricing::Price* cloud_price = catalog->find(cloud.name);
    if (!cloud_price) {
        std::cerr << "switchyard cost: --cloud-model '" << cloud.name << "' is not in the price catalog " << prices << "\n";
        return 2;
    }
    const auto today = today_ms(o);
    if (!today) return 2;
    check_price_ages(o, *today, {{cloud.name, *cloud_price}}, report);
    const std::map<std::string, Hardware> local_hardware = local_cost_models(o, gateway);
    const LocalMachine local = local_machine(o, gateway, *usage, local_hardware);
    const auto throughput = local_throughput(o, *usage);
    const double utilization = o.utilization > 0 ? o.utilization : 0.5;

    const std::string all_cloud = "all cloud (" + cloud.name + ")";
    std::vector<Hardware> owned;
    if (local.hardware) {
        Hardware machine = *local.hardware;
        machine.name = "all local (" + machine.name + ")";
        machine.tokens_per_second = throughput.tokens_per_second;
        owned.push_back(machine);
    }
    report.comparison = compare(workload, {{all_cloud, *cloud_price}}, {}, owned, utilization, all_cloud);
    add_option(report.comparison, recorded_hybrid(*usage, local_hardware, report.comparison.reference_monthly_usd));
    add_ledger_inputs(report, o, *period, prices, cloud, throughput, utilization, local);
    // The years table spans the local machine's lifetime (the cost model's default 36 months without one).
    const int years = o.years > 0 ? o.years : years_of(local.hardware ? local.hardware->lifetime_months : 36);
    report.years = years_view(report.comparison, years);
    report.inputs.push_back({"years", static_cast<double>(years), o.years > 0 ? "flag" : "local machine lifetime"});
    report.usage = std::move(*usage);
    return write_report(o, report, only);
}

}  // namespace

int run_cost(const CostOptions& options) {
    if (options.scenario_path.empty() == options.config_path.empty()) {
        std::cerr << "switchyard cost: give either --config (report on the ledger) or --scenario (plan without one)\n";
        return 2;
    }
    if (options.utilization > 1) {
        std::cerr << "switchyard cost: --utilization must be in (0, 1]\n";
        return 2;
    }
    return options.scenario_path.empty() ? run_ledger(options) : run_scenario(options);
}

}  // namespace switchyard::report
