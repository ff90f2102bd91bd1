// How `switchyard cost` prints its results: aligned tables for a terminal, CSV with one section per
// table, and one JSON object. Formatting only: every number is computed in report/cost.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "report/cost.hpp"

namespace switchyard::report {

void print_table(std::ostream& out, const CostReport& report);
// One section per table, each introduced by a "# title" line and followed by a blank line; with
// `only` set to a breakdown's dimension ("key", "label:team"...), that table alone, no title.
std::string to_csv(const CostReport& report, const std::string& only = {});
std::string to_json(const CostReport& report);
// A self-contained page (no script, no external resource): inline SVG charts of monthly cost
// against monthly volume for every option with the break-even points marked, spend over time by
// tier and spend by key and label (ledger mode), then every table of the text output.
std::string to_html(const CostReport& report);
// The same tables as GitHub-flavoured Markdown (no charts), for a pull request or a wiki page.
std::string to_markdown(const CostReport& report);

// The report in `format` (table, csv, json, markdown, html; anything else: table), as `switchyard
// cost` writes it; `only`, for csv: one breakdown's table alone (report::only_dimension).
std::string write_report(const CostReport& report, std::string_view format, const std::string& only = {});

// "$1,234.56"; amounts under a cent keep two significant digits ("$0.00042").
std::string format_usd(double usd);
// "1,234,567"
std::string format_count(double count);
// "2026-11-25T13:04:05Z"
std::string format_utc(std::int64_t ms);

// Unix milliseconds of "YYYY-MM-DD" (midnight UTC) or "YYYY-MM-DDTHH:MM[:SS][Z]" (UTC); with
// `end_of_day`, a bare date means the midnight after it (so --to 2026-11-30 includes that day).
std::optional<std::int64_t> parse_utc(std::string_view text, bool end_of_day = false);
// Midnight UTC of the first day of the month `ms` falls in.
std::int64_t month_start_utc(std::int64_t ms);

}  // namespace switchyard::report
