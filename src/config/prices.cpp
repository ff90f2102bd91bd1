// What requests cost: the `prices` section (the price catalog and per-model overrides for
// providers) and an upstream's `cost` model (owning and running a local engine).
#include <fstream>

#include "config/sections.hpp"

namespace switchyard::config {

void read_prices(Reader& in, const YAML::Node& node, Prices& out) {
    if (!in.expect_map(node, "'prices'", {"catalog", "models"})) return;
    in.string(node, "catalog", out.catalog);
    if (!out.catalog.empty() && !std::ifstream(out.catalog)) {
        in.error(node["catalog"], "price catalog '" + out.catalog + "' cannot be read");
    }
    const YAML::Node models = node["models"];
    if (!models) return;
    if (!models.IsMap()) {
        in.error(models, "'prices.models' must map model names to {input, cached_input, output}");
        return;
    }
    for (auto it = models.begin(); it != models.end(); ++it) {
        const YAML::Node price = it->second;
        if (!in.expect_map(price, "a price", {"input", "cached_input", "output"})) continue;
        std::array<double, 3> value{-1, -1, -1};
        in.number(price, "input", value[0], 0, 1e6);
        in.number(price, "cached_input", value[1], 0, 1e6);
        in.number(price, "output", value[2], 0, 1e6);
        if (value[0] < 0 || value[2] < 0) {
            in.error(price, "a price needs 'input' and 'output' (dollars per million tokens)");
            continue;
        }
        if (value[1] < 0) value[1] = value[0];
        out.models[it->first.as<std::string>()] = value;
    }
}

void read_cost_model(Reader& in, const YAML::Node& node, CostModel& out) {
    if (!in.expect_map(node, "'cost'",
                       {"hardware_usd", "lifetime_months", "power_watts", "electricity_usd_per_kwh",
                        "ops_usd_per_month", "tokens_per_month"})) {
        return;
    }
    in.number(node, "hardware_usd", out.hardware_usd, 0, 1e9);
    in.number(node, "lifetime_months", out.lifetime_months, 0.1, 1200);
    in.number(node, "power_watts", out.power_watts, 0, 1e7);
    in.number(node, "electricity_usd_per_kwh", out.electricity_usd_per_kwh, 0, 100);
    in.number(node, "ops_usd_per_month", out.ops_usd_per_month, 0, 1e9);
    in.number(node, "tokens_per_month", out.tokens_per_month, 0, 1e18);
}

}  // namespace switchyard::config
