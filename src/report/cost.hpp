// The arithmetic of `switchyard cost`: ledger rows summed by key, label, model, deployment and tier;
// the same tokens priced under every catalog model; and the monthly cost of cloud, rented and owned
// hardware with the break-even point. Pure functions of rows and numbers: no files, no clock.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/row.hpp"
#include "pricing/catalog.hpp"
#include "report/service.hpp"

namespace switchyard::report {

// A price older than a set age: `switchyard cost` warns about each one it used.
struct StalePrice {
    std::string model;
    std::string date;  // YYYY-MM-DD, as the catalog gives it
    std::string source;
    int age_days = 0;
};
// The price's age in whole days at `today_ms`, when its date is older than `max_age_days`; nullopt
// when it is not, or when its date is not a YYYY-MM-DD date (a config's or a scenario's own price).
std::optional<StalePrice> stale_price(const std::string& model, const pricing::Price& price, std::int64_t today_ms,
                                      int max_age_days);

// A month is a twelfth of a Julian year, as in config::CostModel::monthly_usd (about 30.44 days).
inline constexpr double kDaysPerMonth = 365.25 / 12;
inline constexpr double kHoursPerMonth = kDaysPerMonth * 24;
inline constexpr double kSecondsPerMonth = kHoursPerMonth * 3600;
inline constexpr std::int64_t kMsPerDay = 86'400'000;

struct Tokens {
    std::int64_t prompt = 0;      // cached ones included, as OpenAI reports them
    std::int64_t cached = 0;
    std::int64_t completion = 0;
    std::int64_t total() const { return prompt + completion; }
    void add(const Tokens& other) {
        prompt += other.prompt;
        cached += other.cached;
        completion += other.completion;
    }
};

// Requests, tokens and spend of one group of rows (one key, one model, everything...).
struct Group {
    std::string name;
    std::uint64_t requests = 0;
    std::uint64_t failed = 0;  // status >= 400 (499: the caller left)
    Tokens tokens;
    double spend_usd = 0;
    void add(const ledger::Row& row);
};
inline Group named_group(std::string name) {
    Group group;
    group.name = std::move(name);
    return group;
}

// What rows are grouped by. `label` with an empty name stands for every label name found.
struct Dimension {
    enum class Kind { key, label, model, deployment, tier };
    Kind kind = Kind::key;
    std::string label;  // for Kind::label: the label's name ("team"); empty: each label name
    std::string title() const;  // "key", "label:team", "model", "deployment", "tier"
};
// The default grouping: key, every label, model, deployment, tier.
std::vector<Dimension> default_dimensions();
// Parses "key,label:team,model" (also "label" for every label). nullopt with `why` on an unknown name.
std::optional<std::vector<Dimension>> parse_dimensions(std::string_view text, std::string* why);

// A label set as the ledger stores it ({"team":"research"}); an empty map for "{}", "" or bad JSON.
std::map<std::string, std::string> parse_labels(std::string_view json);

struct Breakdown {
    std::string dimension;      // Dimension::title() of what was grouped by
    std::vector<Group> groups;  // most spend first, then name
};

// [from_ms, to_ms), Unix milliseconds.
struct Period {
    std::int64_t from_ms = 0;
    std::int64_t to_ms = 0;
    double days() const { return static_cast<double>(to_ms - from_ms) / static_cast<double>(kMsPerDay); }
    bool contains(std::int64_t ts_ms) const { return ts_ms >= from_ms && ts_ms < to_ms; }
};

// A period's rows, summed.
struct Usage {
    Period period;
    Group total = named_group("total");
    std::vector<Breakdown> breakdowns;  // one per dimension asked for, in the order asked
    Group local = named_group("local");            // rows served by local engines
    Group cloud = named_group("cloud");            // the other rows
    // Seconds during which a local deployment had at least one request in flight, summed over the
    // local deployments: the busy time behind `local` tokens (for the observed throughput).
    double local_busy_seconds = 0;
    std::vector<Group> cloud_models;    // cloud rows by served model, most tokens first
    std::vector<Group> local_upstreams; // local rows by upstream, most tokens first
    // Measured service per tier and per deployment ("(none)": rows that reached none), and the
    // spend over the period by tier.
    std::vector<Service> service_by_tier;
    std::vector<Service> service_by_deployment;
    SpendSeries spend_by_tier;
    // Local tokens per busy second (one deployment = one machine); nullopt without local traffic.
    std::optional<double> local_tokens_per_second() const;
};

// Sums rows one at a time (the ledger is read as a stream, oldest first, as Store::each_row gives
// it); rows outside the period are skipped. Memory grows with the number of groups, not of rows.
class Aggregator {
public:
    Aggregator(Period period, std::vector<Dimension> dimensions);
    void add(const ledger::Row& row);
    Usage finish();

private:
    // The run of overlapping requests a local deployment is in, and the busy time before it.
    struct Busy {
        std::int64_t start_ms = 0;
        std::int64_t end_ms = 0;
        std::int64_t closed_ms = 0;
    };
    Period period_;
    std::vector<Dimension> dimensions_;
    Usage usage_;
    std::vector<std::map<std::string, Group>> groups_;             // per dimension (not label-all)
    std::map<std::string, std::map<std::string, Group>> labels_;   // label name -> value -> group
    std::map<std::string, Group> cloud_models_;
    std::map<std::string, Group> local_upstreams_;
    std::map<std::string, Busy> local_busy_;                        // per local deployment
    ServiceAggregator tiers_;
    ServiceAggregator deployments_;
};

// The model a row is counted under: the one that served, else the one asked for.
const std::string& row_model(const ledger::Row& row);

// This period's tokens priced under one catalog model.
struct Repriced {
    std::string model;
    pricing::Price price;
    double cost_usd = 0;
    std::optional<double> ratio;  // cost / actual spend; nullopt when nothing was spent
};
// Every catalog model, cheapest first (then by name).
std::vector<Repriced> reprice(const Tokens& tokens, const pricing::Catalog& catalog, double actual_usd);

// A month of traffic: `input` includes `cached`.
struct Workload {
    double input = 0;
    double cached = 0;
    double output = 0;
    double total() const { return input + output; }
};
// The period's tokens scaled to a month (kDaysPerMonth / period days).
Workload monthly_workload(const Tokens& tokens, double period_days);

// A machine one owns: the config's cost model plus what it can serve.
struct Hardware {
    std::string name;
    double hardware_usd = 0;
    double lifetime_months = 36;
    double power_watts = 0;               // average draw, around the clock
    double electricity_usd_per_kwh = 0;
    double ops_usd_per_month = 0;
    double tokens_per_second = 0;         // prompt and completion tokens together, at full load
    double amortization_monthly() const { return lifetime_months > 0 ? hardware_usd / lifetime_months : 0; }
    double power_monthly() const { return power_watts / 1000.0 * kHoursPerMonth * electricity_usd_per_kwh; }
    double monthly_usd() const { return amortization_monthly() + power_monthly() + ops_usd_per_month; }
    double running_monthly() const { return power_monthly() + ops_usd_per_month; }  // all but the purchase
};

// A GPU machine rented by the hour, kept around the clock.
struct Rental {
    std::string name;
    double usd_per_hour = 0;
    double tokens_per_second = 0;
    double monthly_usd() const { return usd_per_hour * kHoursPerMonth; }
};

struct CloudModel {
    std::string name;
    pricing::Price price;
};

// Machines needed to serve `tokens_per_month` at `tokens_per_second` each, kept at most
// `utilization` busy: ceil(tokens / (tokens_per_second * seconds a month * utilization)); 0 for no
// tokens, and at least 1 otherwise. nullopt when throughput or utilization is not positive.
std::optional<double> machines_needed(double tokens_per_month, double tokens_per_second, double utilization);

// Owning (or renting) machines at `machine_monthly_usd` each, of `capacity` tokens a month each,
// against paying `cloud_usd_per_token`: the monthly volume from which owning costs no more, and
// how long the purchase takes to pay back at `tokens_per_month`.
struct BreakEven {
    // machine_monthly_usd / cloud_usd_per_token, when one machine can carry it; nullopt: never
    // (a machine at full capacity costs more than the cloud for the same tokens).
    std::optional<double> tokens_per_month;
    // purchase / (cloud monthly - running costs monthly) at the given volume; nullopt: never.
    std::optional<double> payback_months;
};
BreakEven break_even(double machine_monthly_usd, double capacity_tokens_per_month, double cloud_usd_per_token);
std::optional<double> payback_months(double purchase_usd, double cloud_monthly_usd, double running_monthly_usd);

// One way to serve the month's tokens.
struct Option {
    std::string name;
    std::string kind;               // "cloud", "rental", "owned", "hybrid"
    double monthly_usd = 0;
    std::optional<double> machines; // rental and owned
    double machine_monthly_usd = 0; // one machine a month (rental and owned)
    double capacity_tokens_per_month = 0;  // one machine at the utilization
    double purchase_usd = 0;        // owned: machines * hardware price
    std::optional<double> break_even_tokens_per_month;  // rental and owned, against the reference
    std::optional<double> payback_months;               // owned, against the reference
    std::string note;               // why a number is missing, or what it is made of
    // The monthly cost split for the years view: what is still paid per token, and what the
    // machines cost to keep (power and operations, or rent), purchase excluded.
    double cloud_monthly_usd = 0;
    double running_monthly_usd = 0;
    std::optional<double> local_share;  // hybrid: share of the tokens served by the machines
    std::string overflow;               // hybrid: the cloud model the rest goes to
    std::optional<double> usd_per_million(double tokens) const;
};

struct Comparison {
    Workload workload;
    double utilization = 0.5;
    std::string reference;             // the cloud model break-even is measured against
    double reference_usd_per_token = 0;
    double reference_monthly_usd = 0;  // the month's tokens at the reference's prices
    std::vector<Option> options;       // cheapest first; options that cannot be costed last
};
// Prices the workload on each option. `reference` names one of `clouds` (empty: the first).
Comparison compare(const Workload& workload, const std::vector<CloudModel>& clouds,
                   const std::vector<Rental>& rentals, const std::vector<Hardware>& owned, double utilization,
                   const std::string& reference);

// Hybrid, as recorded: cloud rows at what they cost, scaled to a month; each local upstream that
// served at its cost model's monthly cost (one machine each), or, for an upstream without one
// (absent from `local_hardware`), at what its rows cost, scaled.
Option hybrid_option(const Usage& usage, const std::map<std::string, Hardware>& local_hardware);
// Adds `option` to a comparison, keeping it sorted.
void add_option(Comparison& comparison, Option option);

// One kind of machine a hybrid runs, owned or rented: what it costs and what it serves.
struct HybridMachine {
    std::string name;
    double monthly_usd = 0;          // one machine, purchase amortized (owned) or rent
    double running_monthly_usd = 0;  // one machine, purchase excluded
    double hardware_usd = 0;         // purchase price of one machine (0 when rented)
    double tokens_per_second = 0;
};
HybridMachine hybrid_machine(const Hardware& hardware);
HybridMachine hybrid_machine(const Rental& rental);

// A planned hybrid: machines carrying a share of the month's tokens, or as many tokens as a
// number of machines can carry at the utilization, the rest priced at a cloud model.
struct HybridPlan {
    std::string name;
    HybridMachine machine;
    CloudModel overflow;
    std::optional<double> local_share;  // 0 to 1; machines are sized for it
    std::optional<double> machines;     // else: this many machines, filled up to their capacity
};
// The plan priced: machines x machine monthly + the overflow's tokens at the overflow's prices;
// payback of the purchase against `reference_monthly_usd`.
Option hybrid_plan_option(const HybridPlan& plan, const Workload& workload, double utilization,
                          double reference_monthly_usd);

// What an option would cost a month at another volume (tokens a month), the month's mix of input,
// cached and output tokens kept: cloud, linear at its price for the mix; rental and owned, as many
// machines as that volume needs at the utilization; hybrid, its machines as planned (or recorded)
// with the tokens beyond what they carried at the comparison's volume going to the overflow model.
// nullopt when the option cannot be costed (no throughput, or no volume to take a rate from).
std::optional<double> monthly_at(const Option& option, const Comparison& comparison, double tokens_per_month);
// The reference (all cloud) at a volume: volume x reference_usd_per_token.
double reference_at(const Comparison& comparison, double tokens_per_month);
// The smallest volume in (0, limit] at which the option costs no more than the reference (to 1e-9
// relative): for rental and owned, break_even_tokens_per_month; for hybrids, found by scanning and
// bisection. nullopt when there is none below `limit`, or for cloud options.
std::optional<double> break_even_volume(const Option& option, const Comparison& comparison, double limit);

// One year of an option against the reference (all cloud): cash, not amortized.
struct YearCost {
    int year = 0;
    double purchase_usd = 0;       // year 1: the machines bought
    double running_usd = 0;        // power and operations, or rent
    double cloud_avoided_usd = 0;  // the reference's bill minus what the option still pays per token
    double saving_usd = 0;         // cloud avoided - running - purchase
    double cumulative_saving_usd = 0;
};
struct OptionYears {
    std::string name;
    std::string kind;
    std::vector<YearCost> years;
    YearCost total;                      // year 0: the sums over the horizon
    std::optional<double> payback_month; // the month the purchase is paid back in; nullopt: never or nothing bought
};
struct YearsView {
    int years = 0;
    std::string reference;
    std::vector<OptionYears> options;  // every priced option but the reference, in the comparison's order
};
// Years of each option at the month's volume, against the comparison's reference.
YearsView years_view(const Comparison& comparison, int years);
// Years spanned by a machine life: ceil(months / 12), at least 1.
int years_of(double lifetime_months);

// An input the comparison used, and where it came from ("flag", "config", "ledger", "default").
struct Input {
    std::string name;
    std::optional<double> number;  // set for numeric inputs
    std::string text;              // for text inputs, or the unit/origin note of a number
};

// Everything `switchyard cost` prints (report/format) and GET /admin/cost serves.
struct CostReport {
    std::string mode = "ledger";           // "ledger" or "scenario"
    std::string source;                    // the ledger ("sqlite /path") or the scenario file
    std::optional<Usage> usage;            // ledger mode
    std::vector<Repriced> repricing;       // ledger mode
    Comparison comparison;
    YearsView years;                       // empty options: no years table
    std::vector<Input> inputs;
    std::vector<StalePrice> stale_prices;  // prices used that are older than --max-price-age
};

// Each option's monthly cost against monthly volume, sampled for a chart: from 0 to past the
// month's volume and every break-even; rental and owned lines get the steps where one more machine
// is bought. `switchyard cost --format html` and the console's Spend page draw the same lines.
struct CostLine {
    std::string name;
    std::string kind;
    std::vector<std::pair<double, double>> points;  // (tokens a month, US dollars a month)
    std::optional<double> break_even_tokens_per_month;  // where it meets the reference (all cloud)
    std::optional<double> break_even_usd;               // the reference's cost there
};
struct CostCurves {
    double limit_tokens_per_month = 0;  // the x axis's end
    double volume_tokens_per_month = 0; // this month's volume (0: none)
    std::vector<CostLine> lines;        // options that can be costed, in the comparison's order
};
CostCurves cost_curves(const Comparison& comparison, int samples = 200);

// The comparison's month, options and reference as JSON: the "monthly" object of
// `switchyard cost --format json`, also in GET /admin/cost.
std::string monthly_json(const Comparison& comparison);
std::string curves_json(const CostCurves& curves);
// A number as the JSON and CSV outputs write it: shortest form, at most 8 decimals, no exponent.
std::string plain_number(double value);

}  // namespace switchyard::report
