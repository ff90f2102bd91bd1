#include "report/cost.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace switchyard::report {

namespace {

const std::string kNone = "(none)";

bool by_spend(const Group& a, const Group& b) {
    if (a.spend_usd != b.spend_usd) return a.spend_usd > b.spend_usd;
    if (a.requests != b.requests) return a.requests > b.requests;
    return a.name < b.name;
}

bool by_tokens(const Group& a, const Group& b) {
    if (a.tokens.total() != b.tokens.total()) return a.tokens.total() > b.tokens.total();
    return a.name < b.name;
}

std::vector<Group> sorted(const std::map<std::string, Group>& groups, bool (*order)(const Group&, const Group&)) {
    std::vector<Group> out;
    out.reserve(groups.size());
    for (const auto& [name, group] : groups) out.push_back(group);
    std::sort(out.begin(), out.end(), order);
    return out;
}

Group& group_of(std::map<std::string, Group>& groups, const std::string& name) {
    auto [it, inserted] = groups.try_emplace(name);
    if (inserted) it->second.name = name;
    return it->second;
}

// Dollars for a month of tokens at a price (dollars per million).
double cost_of(const pricing::Price& price, const Workload& w) {
    const double cached = std::min(w.cached, w.input);
    return ((w.input - cached) * price.input + cached * price.cached_input + w.output * price.output) / 1e6;
}

}  // namespace

void Group::add(const ledger::Row& row) {
    ++requests;
    if (row.status >= 400) ++failed;
    tokens.prompt += row.prompt_tokens;
    tokens.cached += row.cached_tokens;
    tokens.completion += row.completion_tokens;
    spend_usd += row.cost_usd;
}

std::string Dimension::title() const {
    switch (kind) {
        case Kind::key: return "key";
        case Kind::label: return label.empty() ? "label" : "label:" + label;
        case Kind::model: return "model";
        case Kind::deployment: return "deployment";
        case Kind::tier: return "tier";
    }
    return "key";
}

std::vector<Dimension> default_dimensions() {
    return {{Dimension::Kind::key, {}},
            {Dimension::Kind::label, {}},
            {Dimension::Kind::model, {}},
            {Dimension::Kind::deployment, {}},
            {Dimension::Kind::tier, {}}};
}

std::optional<std::vector<Dimension>> parse_dimensions(std::string_view text, std::string* why) {
    std::vector<Dimension> out;
    while (true) {
        const auto comma = text.find(',');
        std::string_view part = text.substr(0, comma);
        while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
        while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
        Dimension d;
        if (part == "key") {
            d.kind = Dimension::Kind::key;
        } else if (part == "model") {
            d.kind = Dimension::Kind::model;
        } else if (part == "deployment") {
            d.kind = Dimension::Kind::deployment;
        } else if (part == "tier") {
            d.kind = Dimension::Kind::tier;
        } else if (part == "label" || part == "labels") {
            d.kind = Dimension::Kind::label;
        } else if (part.starts_with("label:") && part.size() > 6) {
            d.kind = Dimension::Kind::label;
            d.label = std::string(part.substr(6));
        } else {
            if (why) {
                *why = "unknown grouping '" + std::string(part) +
                       "': expected key, label, label:NAME, model, deployment or tier";
            }
            return std::nullopt;
        }
        out.push_back(std::move(d));
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return out;
}

std::map<std::string, std::string> parse_labels(std::string_view json) {
    std::map<std::string, std::string> out;
    if (json.size() <= 2) return out;  // "", "{}"
    thread_local simdjson::dom::parser parser;
    simdjson::dom::object object;
    if (parser.parse(json.data(), json.size()).get(object) != simdjson::SUCCESS) return out;
    for (auto [name, value] : object) {
        std::string_view text;
        if (value.get_string().get(text) == simdjson::SUCCESS) {
            out.emplace(std::string(name), std::string(text));
        } else {
            out.emplace(std::string(name), simdjson::to_string(value));
        }
    }
    return out;
}

std::optional<StalePrice> stale_price(const std::string& model, const pricing::Price& price, std::int64_t today_ms,
                                      int max_age_days) {
    // YYYY-MM-DD only: days since 1970 by the civil calendar (Hinnant's days_from_civil).
    if (price.date.size() != 10 || price.date[4] != '-' || price.date[7] != '-') return std::nullopt;
    int y = 0, m = 0, d = 0;
    for (std::size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u}) {
        if (price.date[i] < '0' || price.date[i] > '9') return std::nullopt;
    }
    y = std::stoi(price.date.substr(0, 4));
    m = std::stoi(price.date.substr(5, 2));
    d = std::stoi(price.date.substr(8, 2));
    if (m < 1 || m > 12 || d < 1 || d > 31) return std::nullopt;
    const std::int64_t yy = y - (m <= 2);
    const std::int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    const auto yoe = static_cast<unsigned>(yy - era * 400);
    const unsigned doy = static_cast<unsigned>((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1);
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    const std::int64_t day = era * 146097 + static_cast<std::int64_t>(doe) - 719468;
    const std::int64_t today = today_ms >= 0 ? today_ms / kMsPerDay : (today_ms - kMsPerDay + 1) / kMsPerDay;
    const auto age = static_cast<int>(today - day);
    if (age <= max_age_days) return std::nullopt;
    return StalePrice{model, price.date, price.source, age};
}

const std::string& row_model(const ledger::Row& row) { return row.served_model.empty() ? row.model : row.served_model; }

std::optional<double> Usage::local_tokens_per_second() const {
    if (local_busy_seconds <= 0 || local.tokens.total() <= 0) return std::nullopt;
    return static_cast<double>(local.tokens.total()) / local_busy_seconds;
}

Aggregator::Aggregator(Period period, std::vector<Dimension> dimensions)
    : period_(period), dimensions_(std::move(dimensions)), groups_(dimensions_.size()) {
    usage_.period = period;
    usage_.spend_by_tier = SpendSeries::over(period.from_ms, period.to_ms);
}

void Aggregator::add(const ledger::Row& row) {
    if (!period_.contains(row.ts_ms)) return;
    usage_.total.add(row);
    {
        const std::string tier = row.tier == 0 ? kNone : std::to_string(row.tier);
        tiers_.add(tier, row);
        deployments_.add(row.deployment.empty() ? kNone : row.deployment, row);
        usage_.spend_by_tier.add(tier, row.ts_ms, row.cost_usd);
    }
    (row.local ? usage_.local : usage_.cloud).add(row);
    if (row.local) {
        group_of(local_upstreams_, row.upstream.empty() ? kNone : row.upstream).add(row);
        if (!row.deployment.empty()) {
            const auto end = row.ts_ms + static_cast<std::int64_t>(std::max(0.0, row.total_ms));
            auto [it, first] = local_busy_.try_emplace(row.deployment, Busy{row.ts_ms, end, 0});
            Busy& busy = it->second;
            if (!first) {
                if (row.ts_ms <= busy.end_ms && row.ts_ms >= busy.start_ms) {
                    busy.end_ms = std::max(busy.end_ms, end);  // overlaps the current run
                } else {
                    busy.closed_ms += busy.end_ms - busy.start_ms;  // a new run (or a row out of order)
                    busy.start_ms = row.ts_ms;
                    busy.end_ms = end;
                }
            }
        }
    } else {
        group_of(cloud_models_, row_model(row).empty() ? kNone : row_model(row)).add(row);
    }
    std::optional<std::map<std::string, std::string>> labels;
    for (std::size_t i = 0; i < dimensions_.size(); ++i) {
        const Dimension& d = dimensions_[i];
        switch (d.kind) {
            case Dimension::Kind::key: group_of(groups_[i], row.key.empty() ? kNone : row.key).add(row); break;
            case Dimension::Kind::model:
                group_of(groups_[i], row_model(row).empty() ? kNone : row_model(row)).add(row);
                break;
            case Dimension::Kind::deployment:
                group_of(groups_[i], row.deployment.empty() ? kNone : row.deployment).add(row);
                break;
            case Dimension::Kind::tier:
                group_of(groups_[i], row.tier == 0 ? kNone : std::to_string(row.tier)).add(row);
                break;
            case Dimension::Kind::label: {
                if (!labels) labels = parse_labels(row.labels);
                if (!d.label.empty()) {
                    const auto it = labels->find(d.label);
                    group_of(groups_[i], it == labels->end() ? kNone : it->second).add(row);
                } else {
                    for (const auto& [name, value] : *labels) group_of(labels_[name], value).add(row);
                }
                break;
            }
        }
    }
}

Usage Aggregator::finish() {
    for (std::size_t i = 0; i < dimensions_.size(); ++i) {
        const Dimension& d = dimensions_[i];
        if (d.kind == Dimension::Kind::label && d.label.empty()) {
            // One table per label name; rows without that label under "(none)", so each sums to the total.
            for (auto& [name, groups] : labels_) {
                Group none = named_group(kNone);
                none.requests = usage_.total.requests;
                none.failed = usage_.total.failed;
                none.tokens = usage_.total.tokens;
                none.spend_usd = usage_.total.spend_usd;
                for (const auto& [value, group] : groups) {
                    none.requests -= group.requests;
                    none.failed -= group.failed;
                    none.tokens.prompt -= group.tokens.prompt;
                    none.tokens.cached -= group.tokens.cached;
                    none.tokens.completion -= group.tokens.completion;
                    none.spend_usd -= group.spend_usd;
                }
                auto breakdown = Breakdown{"label:" + name, sorted(groups, by_spend)};
                if (none.requests > 0 && !groups.contains(kNone)) {
                    if (std::abs(none.spend_usd) < 1e-12) none.spend_usd = 0;
                    breakdown.groups.push_back(none);
                    std::sort(breakdown.groups.begin(), breakdown.groups.end(), by_spend);
                }
                usage_.breakdowns.push_back(std::move(breakdown));
            }
            continue;
        }
        usage_.breakdowns.push_back({d.title(), sorted(groups_[i], by_spend)});
    }
    usage_.cloud_models = sorted(cloud_models_, by_tokens);
    usage_.local_upstreams = sorted(local_upstreams_, by_tokens);
    usage_.service_by_tier = tiers_.finish();
    usage_.service_by_deployment = deployments_.finish();
    double busy_ms = 0;
    for (const auto& [deployment, busy] : local_busy_) {
        busy_ms += static_cast<double>(busy.closed_ms + busy.end_ms - busy.start_ms);
    }
    usage_.local_busy_seconds = busy_ms / 1000.0;
    return std::move(usage_);
}

std::vector<Repriced> reprice(const Tokens& tokens, const pricing::Catalog& catalog, double actual_usd) {
    std::vector<Repriced> out;
    for (const auto& [model, price] : catalog.entries()) {
        Repriced r{model, price,
                   price.cost(static_cast<std::uint64_t>(std::max<std::int64_t>(tokens.prompt, 0)),
                              static_cast<std::uint64_t>(std::max<std::int64_t>(tokens.cached, 0)),
                              static_cast<std::uint64_t>(std::max<std::int64_t>(tokens.completion, 0))),
                   std::nullopt};
        if (actual_usd > 0) r.ratio = r.cost_usd / actual_usd;
        out.push_back(std::move(r));
    }
    std::sort(out.begin(), out.end(), [](const Repriced& a, const Repriced& b) {
        if (a.cost_usd != b.cost_usd) return a.cost_usd < b.cost_usd;
        return a.model < b.model;
    });
    return out;
}

Workload monthly_workload(const Tokens& tokens, double period_days) {
    const double scale = period_days > 0 ? kDaysPerMonth / period_days : 0;
    return {static_cast<double>(tokens.prompt) * scale, static_cast<double>(tokens.cached) * scale,
            static_cast<double>(tokens.completion) * scale};
}

std::optional<double> machines_needed(double tokens_per_month, double tokens_per_second, double utilization) {
    if (tokens_per_second <= 0 || utilization <= 0) return std::nullopt;
    if (tokens_per_month <= 0) return 0.0;
    double n = tokens_per_month / (tokens_per_second * kSecondsPerMonth * utilization);
    // 2.0000000001 machines is two: floating error must not buy a machine.
    if (const double r = std::round(n); std::abs(n - r) < 1e-9 * std::max(1.0, r)) n = r;
    return std::max(1.0, std::ceil(n));
}

BreakEven break_even(double machine_monthly_usd, double capacity_tokens_per_month, double cloud_usd_per_token) {
    BreakEven out;
    if (cloud_usd_per_token <= 0) return out;
    const double volume = machine_monthly_usd / cloud_usd_per_token;
    // Past one machine's capacity each further machine costs as much again: if a full machine
    // costs more than the cloud for its tokens, owning never catches up.
    if (capacity_tokens_per_month > 0 && volume > capacity_tokens_per_month * (1 + 1e-12)) return out;
    out.tokens_per_month = volume;
    return out;
}

std::optional<double> payback_months(double purchase_usd, double cloud_monthly_usd, double running_monthly_usd) {
    const double saving = cloud_monthly_usd - running_monthly_usd;
    if (saving <= 0) return std::nullopt;
    return purchase_usd / saving;
}

std::optional<double> Option::usd_per_million(double tokens) const {
    if (tokens <= 0 || ((kind == "rental" || kind == "owned") && !machines)) return std::nullopt;
    return monthly_usd / tokens * 1e6;
}

namespace {

bool priced(const Option& o) { return o.kind == "cloud" || o.kind == "hybrid" || o.machines.has_value(); }

void sort_options(std::vector<Option>& options) {
    std::stable_sort(options.begin(), options.end(), [](const Option& a, const Option& b) {
        if (priced(a) != priced(b)) return priced(a);
        if (!priced(a)) return false;
        return a.monthly_usd < b.monthly_usd;
    });
}

}  // namespace

Comparison compare(const Workload& workload, const std::vector<CloudModel>& clouds,
                   const std::vector<Rental>& rentals, const std::vector<Hardware>& owned, double utilization,
                   const std::string& reference) {
    Comparison out;
    out.workload = workload;
    out.utilization = utilization;
    const CloudModel* ref = clouds.empty() ? nullptr : &clouds.front();
    for (const auto& cloud : clouds) {
        if (cloud.name == reference) ref = &cloud;
    }
    double ref_monthly = 0;
    if (ref) {
        out.reference = ref->name;
        ref_monthly = cost_of(ref->price, workload);
        if (workload.total() > 0) {
            out.reference_usd_per_token = ref_monthly / workload.total();
        } else {
            // No traffic to take a mix from: assume three prompt tokens per completion token.
            out.reference_usd_per_token = (0.75 * ref->price.input + 0.25 * ref->price.output) / 1e6;
        }
    }
    out.reference_monthly_usd = ref_monthly;
    for (const auto& cloud : clouds) {
        Option o;
        o.name = cloud.name;
        o.kind = "cloud";
        o.monthly_usd = cost_of(cloud.price, workload);
        o.cloud_monthly_usd = o.monthly_usd;
        out.options.push_back(std::move(o));
    }
    auto machine_option = [&](Option& o, double tokens_per_second, double machine_monthly) {
        o.machine_monthly_usd = machine_monthly;
        o.machines = machines_needed(workload.total(), tokens_per_second, utilization);
        if (!o.machines) {
            o.note = "no throughput (tokens_per_second) given";
            return;
        }
        o.capacity_tokens_per_month = tokens_per_second * kSecondsPerMonth * utilization;
        o.monthly_usd = *o.machines * machine_monthly;
        if (ref) {
            o.break_even_tokens_per_month =
                break_even(machine_monthly, o.capacity_tokens_per_month, out.reference_usd_per_token).tokens_per_month;
        }
    };
    for (const auto& rental : rentals) {
        Option o;
        o.name = rental.name;
        o.kind = "rental";
        machine_option(o, rental.tokens_per_second, rental.monthly_usd());
        if (o.machines) {
            o.note = fmt::format("per machine: ${:.2f}/h around the clock", rental.usd_per_hour);
            o.running_monthly_usd = o.monthly_usd;
        }
        out.options.push_back(std::move(o));
    }
    for (const auto& hardware : owned) {
        Option o;
        o.name = hardware.name;
        o.kind = "owned";
        machine_option(o, hardware.tokens_per_second, hardware.monthly_usd());
        if (o.machines) {
            o.note = fmt::format("per machine: hardware ${:.2f} + power ${:.2f} + ops ${:.2f}",
                                 hardware.amortization_monthly(), hardware.power_monthly(), hardware.ops_usd_per_month);
            o.purchase_usd = *o.machines * hardware.hardware_usd;
            o.running_monthly_usd = *o.machines * hardware.running_monthly();
            if (ref) o.payback_months = payback_months(o.purchase_usd, ref_monthly, *o.machines * hardware.running_monthly());
        }
        out.options.push_back(std::move(o));
    }
    sort_options(out.options);
    return out;
}

Option hybrid_option(const Usage& usage, const std::map<std::string, Hardware>& local_hardware) {
    const double days = usage.period.days();
    const double scale = days > 0 ? kDaysPerMonth / days : 0;
    Option o;
    o.name = "hybrid (as recorded)";
    o.kind = "hybrid";
    const double cloud = usage.cloud.spend_usd * scale;
    double local = 0;
    double machines = 0;
    for (const auto& upstream : usage.local_upstreams) {
        if (const auto it = local_hardware.find(upstream.name); it != local_hardware.end()) {
            local += it->second.monthly_usd();
            o.running_monthly_usd += it->second.running_monthly();
            o.purchase_usd += it->second.hardware_usd;
            machines += 1;
        } else {
            // No cost model: what its rows cost is all there is to go on, counted as running cost.
            local += upstream.spend_usd * scale;
            o.running_monthly_usd += upstream.spend_usd * scale;
        }
    }
    o.monthly_usd = cloud + local;
    o.cloud_monthly_usd = cloud;
    if (machines > 0) o.machines = machines;
    o.note = fmt::format("cloud ${:.2f} + local ${:.2f}", cloud, local);
    // The share of the tokens local engines actually served (rows marked local against the rest).
    if (const auto total = usage.total.tokens.total(); total > 0) {
        o.local_share = static_cast<double>(usage.local.tokens.total()) / static_cast<double>(total);
        o.note += fmt::format("; local served {:.1f}% of the tokens", *o.local_share * 100);
    }
    return o;
}

void add_option(Comparison& comparison, Option option) {
    comparison.options.push_back(std::move(option));
    sort_options(comparison.options);
}

HybridMachine hybrid_machine(const Hardware& hardware) {
    return {hardware.name, hardware.monthly_usd(), hardware.running_monthly(), hardware.hardware_usd,
            hardware.tokens_per_second};
}

HybridMachine hybrid_machine(const Rental& rental) {
    return {rental.name, rental.monthly_usd(), rental.monthly_usd(), 0, rental.tokens_per_second};
}

Option hybrid_plan_option(const HybridPlan& plan, const Workload& workload, double utilization,
                          double reference_monthly_usd) {
    Option o;
    o.name = plan.name;
    o.kind = "hybrid";
    o.overflow = plan.overflow.name;
    o.machine_monthly_usd = plan.machine.monthly_usd;
    const double capacity = plan.machine.tokens_per_second * kSecondsPerMonth * utilization;
    o.capacity_tokens_per_month = capacity;
    const double total = workload.total();
    double share = 0;
    if (plan.local_share) {
        share = std::clamp(*plan.local_share, 0.0, 1.0);
        o.machines = machines_needed(share * total, plan.machine.tokens_per_second, utilization);
    } else {
        o.machines = std::max(0.0, plan.machines.value_or(0));
        share = total > 0 ? std::min(1.0, *o.machines * capacity / total) : 0;
    }
    if (!o.machines) {
        o.note = "no throughput (tokens_per_second) given";
        return o;
    }
    const Workload overflow{workload.input * (1 - share), workload.cached * (1 - share), workload.output * (1 - share)};
    o.local_share = share;
    o.cloud_monthly_usd = cost_of(plan.overflow.price, overflow);
    o.running_monthly_usd = *o.machines * plan.machine.running_monthly_usd;
    o.monthly_usd = *o.machines * plan.machine.monthly_usd + o.cloud_monthly_usd;
    o.purchase_usd = *o.machines * plan.machine.hardware_usd;
    if (o.purchase_usd > 0) {
        o.payback_months =
            payback_months(o.purchase_usd, reference_monthly_usd, o.running_monthly_usd + o.cloud_monthly_usd);
    }
    o.note = fmt::format("{:g} x {} (${:.2f}) for {:.1f}% + {:.1f}% at {} (${:.2f})", *o.machines, plan.machine.name,
                         plan.machine.monthly_usd, share * 100, (1 - share) * 100, plan.overflow.name,
                         o.cloud_monthly_usd);
    return o;
}

std::optional<double> monthly_at(const Option& o, const Comparison& cmp, double volume) {
    volume = std::max(0.0, volume);
    const double total = cmp.workload.total();
    if (o.kind == "cloud") {
        if (total <= 0) {
            if (o.name != cmp.reference) return std::nullopt;
            return reference_at(cmp, volume);
        }
        return o.monthly_usd / total * volume;
    }
    if (o.kind == "rental" || o.kind == "owned") {
        if (!o.machines || o.capacity_tokens_per_month <= 0) return std::nullopt;
        if (volume <= 0) return 0.0;
        double n = volume / o.capacity_tokens_per_month;
        if (const double r = std::round(n); std::abs(n - r) < 1e-9 * std::max(1.0, r)) n = r;
        return std::max(1.0, std::ceil(n)) * o.machine_monthly_usd;
    }
    // Hybrid: the machines' part is fixed; the overflow grows with the tokens past the local ones.
    const double fixed = o.monthly_usd - o.cloud_monthly_usd;
    const double share = o.local_share.value_or(0);
    const double local_tokens = share * total;
    const double overflow_tokens = (1 - share) * total;
    double rate = cmp.reference_usd_per_token;
    if (overflow_tokens > 0 && o.cloud_monthly_usd > 0) rate = o.cloud_monthly_usd / overflow_tokens;
    return fixed + rate * std::max(0.0, volume - local_tokens);
}

double reference_at(const Comparison& cmp, double volume) { return cmp.reference_usd_per_token * std::max(0.0, volume); }

std::optional<double> break_even_volume(const Option& o, const Comparison& cmp, double limit) {
    if (o.kind == "cloud" || cmp.reference.empty() || limit <= 0) return std::nullopt;
    if (o.kind == "rental" || o.kind == "owned") {
        if (o.break_even_tokens_per_month && *o.break_even_tokens_per_month <= limit) return o.break_even_tokens_per_month;
        return std::nullopt;
    }
    if (o.monthly_usd - o.cloud_monthly_usd <= 0) return std::nullopt;  // no machines: nothing to recover
    auto gap = [&](double v) -> std::optional<double> {
        const auto cost = monthly_at(o, cmp, v);
        if (!cost) return std::nullopt;
        return *cost - reference_at(cmp, v);
    };
    constexpr int kSteps = 2000;
    double previous = 0;
    for (int i = 1; i <= kSteps; ++i) {
        const double v = limit * i / kSteps;
        const auto g = gap(v);
        if (!g) return std::nullopt;
        if (*g <= 0) {
            double lo = previous, hi = v;  // gap(lo) > 0 >= gap(hi)
            for (int k = 0; k < 100 && hi - lo > 1e-9 * hi; ++k) {
                const double mid = (lo + hi) / 2;
                if (*gap(mid) <= 0) {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            return hi;
        }
        previous = v;
    }
    return std::nullopt;
}

int years_of(double lifetime_months) {
    if (!(lifetime_months > 0)) return 1;
    // 36.0000001 months is three years: floating error must not add a year.
    return std::max(1, static_cast<int>(std::ceil(lifetime_months / 12 - 1e-9)));
}

namespace {

OptionYears option_years(const Option& o, double reference_monthly_usd, int years) {
    OptionYears out;
    out.name = o.name;
    out.kind = o.kind;
    const double avoided = 12 * (reference_monthly_usd - o.cloud_monthly_usd);
    const double running = 12 * o.running_monthly_usd;
    double cumulative = 0;
    for (int year = 1; year <= years; ++year) {
        YearCost y;
        y.year = year;
        y.purchase_usd = year == 1 ? o.purchase_usd : 0;
        y.running_usd = running;
        y.cloud_avoided_usd = avoided;
        y.saving_usd = avoided - running - y.purchase_usd;
        cumulative += y.saving_usd;
        y.cumulative_saving_usd = cumulative;
        out.total.purchase_usd += y.purchase_usd;
        out.total.running_usd += y.running_usd;
        out.total.cloud_avoided_usd += y.cloud_avoided_usd;
        out.total.saving_usd += y.saving_usd;
        out.years.push_back(y);
    }
    out.total.cumulative_saving_usd = cumulative;
    if (o.purchase_usd > 0) {
        if (const auto months = payback_months(o.purchase_usd, reference_monthly_usd,
                                               o.running_monthly_usd + o.cloud_monthly_usd)) {
            // Paid back during month ceil(months); 7.0000001 is month 7.
            double month = *months;
            if (const double r = std::round(month); std::abs(month - r) < 1e-9 * std::max(1.0, r)) month = r;
            out.payback_month = std::max(1.0, std::ceil(month));
        }
    }
    return out;
}

}  // namespace

YearsView years_view(const Comparison& comparison, int years) {
    YearsView out;
    out.years = std::max(1, years);
    out.reference = comparison.reference;
    if (comparison.reference.empty()) return out;
    for (const auto& o : comparison.options) {
        if (o.name == comparison.reference || !priced(o)) continue;
        out.options.push_back(option_years(o, comparison.reference_monthly_usd, out.years));
    }
    return out;
}


std::string plain_number(double value) {
    if (!std::isfinite(value)) return "0";
    std::string text = fmt::format("{:.8f}", value);
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
    if (text == "-0") text = "0";
    return text;
}

namespace {

std::string json_quoted(std::string_view text) {
    std::string out;
    append_json_string(out, text);
    return out;
}

std::string optional_number(const std::optional<double>& value) { return value ? plain_number(*value) : "null"; }

}  // namespace

std::string monthly_json(const Comparison& cmp) {
    std::string out = fmt::format(
        "{{\n    \"days_per_month\": {},\n    \"tokens\": {{\"input\": {}, \"cached\": {}, \"output\": {}}},\n"
        "    \"utilization\": {},\n    \"reference\": {},\n    \"reference_usd_per_million\": {},\n    \"options\": [",
        plain_number(kDaysPerMonth), plain_number(cmp.workload.input), plain_number(cmp.workload.cached), plain_number(cmp.workload.output),
        plain_number(cmp.utilization), cmp.reference.empty() ? "null" : json_quoted(cmp.reference),
        plain_number(cmp.reference_usd_per_token * 1e6));
    for (std::size_t i = 0; i < cmp.options.size(); ++i) {
        const Option& o = cmp.options[i];
        const bool machine = o.kind == "rental" || o.kind == "owned";
        out += fmt::format(
            "{}\n      {{\"name\": {}, \"kind\": {}, \"monthly_usd\": {}, \"usd_per_million\": {}, \"machines\": {}, "
            "\"machine_monthly_usd\": {}, \"capacity_tokens_per_month\": {}, \"purchase_usd\": {}, "
            "\"break_even_tokens_per_month\": {}, \"payback_months\": {}, \"note\": {}, \"local_share\": {}, "
            "\"overflow_model\": {}, \"overflow_usd\": {}}}",
            i ? "," : "", json_quoted(o.name), json_quoted(o.kind),
            (machine && !o.machines) ? "null" : plain_number(o.monthly_usd), optional_number(o.usd_per_million(cmp.workload.total())),
            optional_number(o.machines), machine ? plain_number(o.machine_monthly_usd) : "null",
            machine ? plain_number(o.capacity_tokens_per_month) : "null",
            o.kind == "owned" || o.kind == "hybrid" ? plain_number(o.purchase_usd) : "null",
            optional_number(o.break_even_tokens_per_month), optional_number(o.payback_months), json_quoted(o.note),
            optional_number(o.local_share), o.overflow.empty() ? "null" : json_quoted(o.overflow),
            o.overflow.empty() ? "null" : plain_number(o.cloud_monthly_usd));
    }
    out += "\n    ]\n  }";
    return out;
}

CostCurves cost_curves(const Comparison& cmp, int samples) {
    CostCurves curves;
    const double volume = cmp.workload.total();
    double limit = volume > 0 ? 2 * volume : 0;
    for (const auto& o : cmp.options) {
        if (o.break_even_tokens_per_month) limit = std::max(limit, 1.5 * *o.break_even_tokens_per_month);
    }
    if (limit <= 0) limit = 1e6;
    curves.limit_tokens_per_month = limit;
    curves.volume_tokens_per_month = std::max(0.0, volume);
    samples = std::max(samples, 1);
    for (const auto& o : cmp.options) {
        if (!monthly_at(o, cmp, volume)) continue;
        CostLine line;
        line.name = o.name;
        line.kind = o.kind;
        std::vector<double> xs;
        for (int i = 0; i <= samples; ++i) xs.push_back(limit * i / samples);
        if ((o.kind == "rental" || o.kind == "owned") && o.capacity_tokens_per_month > 0 &&
            limit / o.capacity_tokens_per_month <= 400) {
            // The steps where one more machine is bought, drawn square.
            for (double k = 1; k * o.capacity_tokens_per_month < limit; ++k) {
                xs.push_back(k * o.capacity_tokens_per_month);
                xs.push_back(k * o.capacity_tokens_per_month * (1 + 1e-9));
            }
            std::sort(xs.begin(), xs.end());
        }
        for (const double x : xs) {
            if (const auto y = monthly_at(o, cmp, x)) line.points.emplace_back(x, *y);
        }
        if (const auto be = break_even_volume(o, cmp, limit)) {
            line.break_even_tokens_per_month = *be;
            line.break_even_usd = reference_at(cmp, *be);
        }
        curves.lines.push_back(std::move(line));
    }
    return curves;
}

std::string curves_json(const CostCurves& curves) {
    std::string out = "{\"limit_tokens_per_month\": " + plain_number(curves.limit_tokens_per_month) +
                      ", \"volume_tokens_per_month\": " + plain_number(curves.volume_tokens_per_month) +
                      ", \"lines\": [";
    for (std::size_t i = 0; i < curves.lines.size(); ++i) {
        const CostLine& line = curves.lines[i];
        out += fmt::format("{}{{\"name\": {}, \"kind\": {}, \"break_even_tokens_per_month\": {}, "
                           "\"break_even_usd\": {}, \"points\": [",
                           i ? ", " : "", json_quoted(line.name), json_quoted(line.kind),
                           optional_number(line.break_even_tokens_per_month), optional_number(line.break_even_usd));
        for (std::size_t j = 0; j < line.points.size(); ++j) {
            if (j) out += ',';
            out += '[' + plain_number(line.points[j].first) + ',' + plain_number(line.points[j].second) + ']';
        }
        out += "]}";
    }
    out += "]}";
    return out;
}

}  // namespace switchyard::report
