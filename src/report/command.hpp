// `switchyard cost`: reads the ledger a config names (or a scenario file), runs the report's
// arithmetic (report/cost) and prints it (report/format). The only part of src/report that does I/O.
#pragma once

#include <string>

namespace switchyard::report {

struct CostOptions {
    std::string config_path;     // ledger mode: the gateway's config (its ledger, prices, cost models)
    std::string scenario_path;   // scenario mode: no ledger
    std::string from;            // YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z; default: start of this UTC month
    std::string to;              // same; a bare date includes that day; default: now
    std::string format = "table";
    std::string by;              // "key,label:team,model,deployment,tier"; empty: all of them
    std::string cloud_model;     // the all-cloud option's model
    std::string prices_file;     // price catalog instead of the config's or the default one
    std::string output_path;     // write here instead of stdout
    // Unset (negative) unless given; they override the config's cost model.
    double local_throughput = -1;  // tokens per second per local machine
    double utilization = -1;
    double hardware_usd = -1;
    double lifetime_months = -1;
    double power_watts = -1;
    double electricity_usd_per_kwh = -1;
    double ops_usd_per_month = -1;
    int years = 0;                // the years table's horizon; 0: the machines' lifetime (scenario: `years`)
    int max_price_age_days = 90;  // warn about a price used whose date is older than this
    std::string today;            // YYYY-MM-DD: the day prices are aged against (default: the clock's)
    // Instead of --config: a running gateway's URL, whose GET /admin/cost computes the report on its
    // own ledger, prices and config (with the master key from the environment variable key_env).
    std::string url;
    std::string key_env = "SWITCHYARD_MASTER_KEY";
};

// Tokens per second per machine when neither the flag nor the ledger says.
inline constexpr double kDefaultLocalThroughput = 1000;

// Runs the report; returns the process exit code (errors go to stderr).
int run_cost(const CostOptions& options);

}  // namespace switchyard::report
