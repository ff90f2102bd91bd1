// The scenario file of `switchyard cost --scenario`: a month of tokens and the ways to serve them
// (cloud models, rented GPUs, owned machines), for planning before there is any traffic. Parsed
// into a plain struct with every error reported by line and column, like the gateway's config.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pricing/catalog.hpp"
#include "report/cost.hpp"

namespace switchyard::report {

// A cloud model by catalog name, or with its own prices.
struct CloudChoice {
    std::string name;
    std::optional<pricing::Price> price;  // nullopt: look `name` up in the catalog
    int line = 0;                         // where it was written, for errors found later
    int column = 0;
};

// A hybrid option: machines of an `owned` or `rental` option carrying part of the tokens, the rest
// at a `cloud` model; sized by a share of the tokens or by a number of machines.
struct HybridChoice {
    std::string name;
    std::string machine;                // an owned or rental option's name
    std::string overflow;               // a cloud option's name; empty: the reference
    std::optional<double> local_share;  // exactly one of local_share and machines
    std::optional<double> machines;
};

struct Scenario {
    Workload workload;               // tokens a month
    double utilization = 0.5;        // the busy share machines are sized for
    std::vector<CloudChoice> cloud;
    std::vector<Rental> rental;
    std::vector<Hardware> owned;
    std::vector<HybridChoice> hybrid;
    int years = 0;                   // the years table's horizon; 0: the longest owned lifetime
    std::string reference;           // the cloud model break-even compares against; empty: the first
    std::string prices;              // price catalog file; empty: the default one
};

struct ScenarioResult {
    std::optional<Scenario> scenario;  // set only when there are no errors
    std::vector<std::string> errors;   // "line L, column C: message"
};

ScenarioResult parse_scenario(std::string_view yaml_text);
ScenarioResult load_scenario_file(const std::string& path);

// The scenario's cloud models with their prices: catalog names looked up in `catalog` (unknown
// names are errors, with the closest known name). nullopt with `errors` filled when any is unknown.
std::optional<std::vector<CloudModel>> resolve_cloud(const Scenario& scenario, const pricing::Catalog& catalog,
                                                     std::vector<std::string>& errors);

// Prices the scenario's options against each other, hybrids included.
Comparison compare(const Scenario& scenario, const std::vector<CloudModel>& cloud);

// The years table's horizon: `years` when given, else the longest lifetime of the owned machines
// in years (rounded up), else 3 (the cost model's default 36 months).
int scenario_years(const Scenario& scenario);

}  // namespace switchyard::report
