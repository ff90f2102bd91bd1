// `switchyard cost`'s ledger mode without its I/O: from a period's usage (the Aggregator over the
// ledger's rows), the gateway's config and a price catalog to the report: the usage, its repricing
// and the comparison of all cloud, all local and the hybrid as recorded. `switchyard cost --config`
// (report/command) and GET /admin/cost (console/data) both call it, so the two agree.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// How a report is written in `switchyard cost`'s formats (table, csv, json, markdown, html): by
// report/format, which the gateway's core does not link. The switchyard binary registers it at
// start, so GET /admin/cost?format= (what `switchyard cost --url` asks for) writes the same text as
// the command does; nullptr until then. `only`: csv's single table (see only_dimension), or empty.
using ReportWriter = std::string (*)(const CostReport& report, std::string_view format, const std::string& only);
void set_report_writer(ReportWriter writer);
ReportWriter report_writer();

// The title of the one dimension `by` names ("key", "label:team"), for which csv writes that table
// alone; empty when `by` is empty, names several, or "label" (every label).
std::string only_dimension(std::string_view by, const std::vector<Dimension>& dimensions);

}  // namespace switchyard::report
