#include "report/ledger.hpp"

#include <atomic>
#include <map>

namespace switchyard::report {

namespace {

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

}  // namespace

void add_config_prices(pricing::Catalog& catalog, const config::Gateway& gateway, const std::string& config_source) {
    for (const auto& [model, value] : gateway.prices.models) {
        catalog.set(model, {value[0], value[1], value[2], "config", config_source});
    }
}

LedgerReport ledger_report(const CostOptions& o, const config::Gateway& gateway, const pricing::Catalog& catalog,
                           const std::string& prices, Usage usage, std::string source, std::int64_t today_ms) {
    LedgerReport out;
    if (catalog.empty()) {
        out.error = "the price catalog " + prices + " has no prices";
        return out;
    }
    CostReport report;
    report.source = std::move(source);
    const Period period = usage.period;
    report.repricing = reprice(usage.total.tokens, catalog, usage.total.spend_usd);
    const Workload workload = monthly_workload(usage.total.tokens, period.days());

    const Chosen cloud = all_cloud_model(o, usage, catalog);
    const pricing::Price* cloud_price = catalog.find(cloud.name);
    if (!cloud_price) {
        out.error = "the cloud model '" + cloud.name + "' is not in the price catalog " + prices;
        return out;
    }
    if (auto stale = stale_price(cloud.name, *cloud_price, today_ms, o.max_price_age_days)) {
        report.stale_prices.push_back(std::move(*stale));
    }
    const std::map<std::string, Hardware> local_hardware = local_cost_models(o, gateway);
    const LocalMachine local = local_machine(o, gateway, usage, local_hardware);
    const auto throughput = local_throughput(o, usage);
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
    add_option(report.comparison, recorded_hybrid(usage, local_hardware, report.comparison.reference_monthly_usd));
    add_ledger_inputs(report, o, period, prices, cloud, throughput, utilization, local);
    // The years table spans the local machine's lifetime (the cost model's default 36 months without one).
    const int years = o.years > 0 ? o.years : years_of(local.hardware ? local.hardware->lifetime_months : 36);
    report.years = years_view(report.comparison, years);
    report.inputs.push_back({"years", static_cast<double>(years), o.years > 0 ? "flag" : "local machine lifetime"});
    report.usage = std::move(usage);
    out.report = std::move(report);
    return out;
}

namespace {
std::atomic<ReportWriter> g_report_writer{nullptr};
}  // namespace

void set_report_writer(ReportWriter writer) { g_report_writer.store(writer); }
ReportWriter report_writer() { return g_report_writer.load(); }

std::string only_dimension(std::string_view by, const std::vector<Dimension>& dimensions) {
    return !by.empty() && dimensions.size() == 1 &&
                   !(dimensions[0].kind == Dimension::Kind::label && dimensions[0].label.empty())
               ? dimensions[0].title()
               : std::string();
}

}  // namespace switchyard::report
