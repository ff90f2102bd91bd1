// What `switchyard bench` writes: the summary table on stdout (per run, then a sweep table and a
// model comparison with cost), and the same results as JSON, CSV and a self-contained HTML report
// whose plots (latency CDFs and histograms, throughput and latency against load) are inline SVG.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "loadgen/metrics.hpp"
#include "loadgen/runner.hpp"
#include "pricing/catalog.hpp"

namespace switchyard::loadgen {

struct RunReport {
    std::string model;
    Load load;
    Summary summary;
    double wall_s = 0;
    std::optional<pricing::Price> price;
    double cost_usd = 0;  // of the measured requests, when priced
    std::string first_error;  // what the first failed request looked like
    // Dollars per million tokens (input and output together) of this workload, when priced.
    std::optional<double> usd_per_million_tokens() const;
};

struct BenchReport {
    std::string started_at;  // ISO 8601, UTC
    std::string base_url;
    std::string endpoint;  // "chat" or "completions"
    bool stream = true;
    std::vector<std::pair<std::string, std::string>> settings;  // for the headers of every output
    Objectives objectives;
    std::vector<RunReport> runs;
};

void print_summary(std::ostream& out, const BenchReport& report);
std::string to_json(const BenchReport& report);
std::string to_csv(const BenchReport& report);
std::string to_html(const BenchReport& report);

// A minimal inline SVG chart writer, shared by the HTML report (exposed for tests).
namespace svg {
struct Series {
    std::string name;
    std::vector<std::pair<double, double>> points;
};
std::string line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                       const std::vector<Series>& series, bool markers);
std::string histogram(const std::string& title, const std::string& x_label, const std::vector<double>& values,
                      int bins);
std::string cdf_chart(const std::string& title, const std::string& x_label,
                      const std::vector<std::pair<std::string, const std::vector<double>*>>& data);
// A labelled point drawn over a line chart (a break-even, say): a ring at (x, y) in data units,
// its label beside it; the <g class="mark"> carries data-x and data-y for tests and scripts.
struct Mark {
    double x = 0;
    double y = 0;
    std::string label;
};
std::string line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                       const std::vector<Series>& series, bool markers, const std::vector<Mark>& marks);
// Horizontal bars, one per (name, value), in the order given.
std::string bar_chart(const std::string& title, const std::string& x_label,
                      const std::vector<std::pair<std::string, double>>& bars);
// Text for SVG and HTML: < > & and " escaped.
std::string escape(const std::string& text);
}  // namespace svg

// The HTML report's pieces, shared with `switchyard cost --format html`: the page's head and
// style up to the opening <body> and an <h1> of `title`, and a table (first row the header),
// every cell escaped.
std::string html_page_start(const std::string& title);
std::string html_table(const std::vector<std::vector<std::string>>& rows);

}  // namespace switchyard::loadgen
