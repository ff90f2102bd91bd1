// `switchyard cost`'s ledger mode without its I/O: from a period's usage (the Aggregator over the
// ledger's rows), the gateway's config and a price catalog to the report: the usage, its repricing
// and the comparison of all cloud, all local and the hybrid as recorded. `switchyard cost --config`
// (report/command) and GET /admin/cost (console/data) both call it, so the two agree.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "pricing/catalog.hpp"
#include "report/command.hpp"
#include "report/cost.hpp"

namespace switchyard::report {

// The catalog with the config's own prices (prices.models) on top, their source `config_source`.
void add_config_prices(pricing::Catalog& catalog, const config::Gateway& gateway, const std::string& config_source);

struct LedgerReport {
    std::optional<CostReport> report;
    std::string error;  // when there is no report: why ("the cloud model 'x' is not in the price catalog ...")
};

// The report on `usage` (the period's rows, summed) priced with `catalog` (`prices` names it among
// the inputs), with the flags of `options` that apply to ledger mode (cloud_model, utilization,
// local_throughput, the cost model overrides, years, max_price_age_days). Prices older than
// max_price_age_days at `today_ms` are listed in report.stale_prices. The catalog must not be empty.
LedgerReport ledger_report(const CostOptions& options, const config::Gateway& gateway, const pricing::Catalog& catalog,
                           const std::string& prices, Usage usage, std::string source, std::int64_t today_ms);

}  // namespace switchyard::report
