#include "loadgen/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/table.hpp"
#include "loadgen/workload.hpp"

namespace switchyard::loadgen {

std::optional<double> RunReport::usd_per_million_tokens() const {
    const auto tokens = summary.input_tokens + summary.output_tokens;
    if (!price || tokens == 0) return std::nullopt;
    return cost_usd / static_cast<double>(tokens) * 1e6;
}

namespace {

std::string ms(double value, std::size_t count) { return count == 0 ? "-" : fmt::format("{:.2f}", value); }

bool multiple_models(const BenchReport& report) {
    std::set<std::string> models;
    for (const auto& run : report.runs) models.insert(run.model);
    return models.size() > 1;
}

std::string errors_text(const Summary& s) {
    std::string out;
    for (const auto& [label, count] : s.errors) {
        if (!out.empty()) out += ", ";
        out += fmt::format("{} {}", label, count);
    }
    return out.empty() ? "none" : out;
}

std::string objectives_text(const Objectives& o) {
    std::string out;
    auto add = [&](const char* name, const std::optional<double>& v) {
        if (!v) return;
        if (!out.empty()) out += ",";
        out += fmt::format("{}:{:g}", name, *v);
    };
    add("ttft", o.ttft_ms);
    add("tpot", o.tpot_ms);
    add("e2el", o.e2el_ms);
    return out;
}

using Table = TextTable;

Table sweep_table(const BenchReport& report) {
    Table t({"model", "load", "ok", "failed", "req/s", "out tok/s", "TTFT mean", "TTFT p99", "TPOT mean", "ITL mean",
             "E2EL mean", "E2EL p99", "goodput"});
    for (const auto& run : report.runs) {
        const Summary& s = run.summary;
        t.add({run.model, run.load.describe(), std::to_string(s.completed), std::to_string(s.failed),
               fmt::format("{:.2f}", s.request_throughput), fmt::format("{:.1f}", s.output_throughput),
               ms(s.ttft.mean, s.ttft.count), ms(s.ttft.p99, s.ttft.count), ms(s.tpot.mean, s.tpot.count),
               ms(s.itl.mean, s.itl.count), ms(s.e2el.mean, s.e2el.count), ms(s.e2el.p99, s.e2el.count),
               s.goodput ? fmt::format("{:.2f}", *s.goodput) : "-"});
    }
    return t;
}

Table comparison_table(const BenchReport& report) {
    Table t({"model", "load", "TTFT median ms", "ms/token", "tok/s/request", "out tok/s", "E2EL median ms",
             "$/M in", "$/M out", "$/M tokens", "cost $"});
    for (const auto& run : report.runs) {
        const Summary& s = run.summary;
        const bool priced = run.price.has_value();
        const auto blended = run.usd_per_million_tokens();
        t.add({run.model, run.load.describe(), ms(s.ttft.median, s.ttft.count), ms(s.tpot.median, s.tpot.count),
               s.tpot.count > 0 && s.tpot.median > 0 ? fmt::format("{:.1f}", 1000.0 / s.tpot.median) : "-",
               fmt::format("{:.1f}", s.output_throughput), ms(s.e2el.median, s.e2el.count),
               priced ? fmt::format("{:.3f}", run.price->input) : "-",
               priced ? fmt::format("{:.3f}", run.price->output) : "-",
               blended ? fmt::format("{:.3f}", *blended) : "-", priced ? fmt::format("{:.6f}", run.cost_usd) : "-"});
    }
    return t;
}

}  // namespace

void print_summary(std::ostream& out, const BenchReport& report) {
    for (const auto& run : report.runs) {
        const Summary& s = run.summary;
        out << fmt::format("\n============ {} @ {} ============\n", run.model, run.load.describe());
        auto line = [&](const std::string& name, const std::string& value) {
            out << fmt::format("{:<40}{}\n", name + ":", value);
        };
        line("Successful requests", std::to_string(s.completed));
        line("Failed requests", std::to_string(s.failed));
        if (s.failed > 0) line("Errors", errors_text(s));
        if (!run.first_error.empty()) line("First error", run.first_error);
        if (s.warmup > 0) line("Warm-up requests (excluded)", std::to_string(s.warmup));
        line("Benchmark duration (s)", fmt::format("{:.2f}", s.duration_s));
        line("Total input tokens", std::to_string(s.input_tokens));
        line("Total generated tokens", std::to_string(s.output_tokens));
        if (s.cached_tokens > 0) line("Cached input tokens", std::to_string(s.cached_tokens));
        if (s.usage_missing > 0) line("Requests without usage (tokens unknown)", std::to_string(s.usage_missing));
        line("Request throughput (req/s)", fmt::format("{:.2f}", s.request_throughput));
        line("Output token throughput (tok/s)", fmt::format("{:.2f}", s.output_throughput));
        line("Total token throughput (tok/s)", fmt::format("{:.2f}", s.total_throughput));
        if (s.goodput) {
            line("Request goodput (req/s)", fmt::format("{:.2f} ({} of {} met {})", *s.goodput, s.good, s.completed,
                                                        objectives_text(report.objectives)));
        }
        if (run.price) {
            line("Cost (USD)", fmt::format("{:.6f}", run.cost_usd));
            if (auto per = run.usd_per_million_tokens()) line("Cost per million tokens (USD)", fmt::format("{:.4f}", *per));
        }
        Table t({"metric (ms)", "mean", "median", "p90", "p99", "max", "count"});
        auto row = [&](const char* name, const Stat& st) {
            if (st.count == 0) return;
            t.add({name, fmt::format("{:.2f}", st.mean), fmt::format("{:.2f}", st.median), fmt::format("{:.2f}", st.p90),
                   fmt::format("{:.2f}", st.p99), fmt::format("{:.2f}", st.max), std::to_string(st.count)});
        };
        row("TTFT", s.ttft);
        row("TPOT", s.tpot);
        row("ITL", s.itl);
        row("E2EL", s.e2el);
        if (t.rows().size() > 1) {
            out << "\n";
            t.print(out);
        }
    }
    if (report.runs.size() > 1) {
        out << "\n";
        sweep_table(report).print(out);
    }
    if (multiple_models(report)) {
        out << "\nModel comparison\n";
        comparison_table(report).print(out);
    }
}

// ---------------------------------------------------------------------------------------------
// JSON and CSV

namespace {

std::string json_string(std::string_view text) { return json_quote(text); }

std::string json_number(double v) {
    if (!std::isfinite(v)) return "null";
    return fmt::format("{:.6g}", v);
}

std::string json_stat(const Stat& s) {
    if (s.count == 0) return "null";
    return fmt::format(R"({{"count":{},"mean":{},"median":{},"p90":{},"p99":{},"max":{},"min":{},"stddev":{}}})", s.count,
                       json_number(s.mean), json_number(s.median), json_number(s.p90), json_number(s.p99),
                       json_number(s.max), json_number(s.min), json_number(s.stddev));
}

std::string csv_field(const std::string& text) {
    if (text.find_first_of(",\"\n") == std::string::npos) return text;
    std::string out = "\"";
    for (char c : text) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

}  // namespace

std::string to_json(const BenchReport& report) {
    std::string out = "{\n";
    out += fmt::format("  \"tool\": \"switchyard bench\",\n  \"started_at\": {},\n  \"base_url\": {},\n"
                       "  \"endpoint\": {},\n  \"stream\": {},\n",
                       json_string(report.started_at), json_string(report.base_url), json_string(report.endpoint),
                       report.stream ? "true" : "false");
    out += "  \"settings\": {";
    for (std::size_t i = 0; i < report.settings.size(); ++i) {
        out += fmt::format("{}{}: {}", i ? ", " : "", json_string(report.settings[i].first),
                           json_string(report.settings[i].second));
    }
    out += "},\n";
    out += fmt::format("  \"goodput_objectives_ms\": {{\"ttft\": {}, \"tpot\": {}, \"e2el\": {}}},\n",
                       report.objectives.ttft_ms ? json_number(*report.objectives.ttft_ms) : "null",
                       report.objectives.tpot_ms ? json_number(*report.objectives.tpot_ms) : "null",
                       report.objectives.e2el_ms ? json_number(*report.objectives.e2el_ms) : "null");
    out += "  \"runs\": [";
    for (std::size_t i = 0; i < report.runs.size(); ++i) {
        const RunReport& run = report.runs[i];
        const Summary& s = run.summary;
        out += i ? ",\n    {" : "\n    {";
        out += fmt::format("\"model\": {}, \"load\": {{\"mode\": {}, \"value\": {}}}, ", json_string(run.model),
                           run.load.mode == Load::Mode::concurrency ? "\"concurrency\"" : "\"rate\"",
                           json_number(run.load.value));
        out += fmt::format("\"duration_s\": {}, \"wall_s\": {}, \"completed\": {}, \"failed\": {}, \"warmup\": {}, ",
                           json_number(s.duration_s), json_number(run.wall_s), s.completed, s.failed, s.warmup);
        out += "\"errors\": {";
        bool first = true;
        for (const auto& [label, count] : s.errors) {
            out += fmt::format("{}{}: {}", first ? "" : ", ", json_string(label), count);
            first = false;
        }
        out += "}, ";
        out += fmt::format("\"first_error\": {}, ", run.first_error.empty() ? "null" : json_string(run.first_error));
        out += fmt::format("\"input_tokens\": {}, \"output_tokens\": {}, \"cached_tokens\": {}, \"usage_missing\": {}, ",
                           s.input_tokens, s.output_tokens, s.cached_tokens, s.usage_missing);
        out += fmt::format("\"request_throughput\": {}, \"output_throughput\": {}, \"total_throughput\": {}, "
                           "\"goodput\": {}, \"good\": {}, ",
                           json_number(s.request_throughput), json_number(s.output_throughput),
                           json_number(s.total_throughput), s.goodput ? json_number(*s.goodput) : "null", s.good);
        out += fmt::format("\"ttft_ms\": {}, \"tpot_ms\": {}, \"itl_ms\": {}, \"e2el_ms\": {}, ", json_stat(s.ttft),
                           json_stat(s.tpot), json_stat(s.itl), json_stat(s.e2el));
        if (run.price) {
            const auto per = run.usd_per_million_tokens();
            out += fmt::format("\"price\": {{\"input\": {}, \"cached_input\": {}, \"output\": {}, \"date\": {}, "
                               "\"source\": {}}}, \"cost_usd\": {}, \"usd_per_million_tokens\": {}}}",
                               json_number(run.price->input), json_number(run.price->cached_input),
                               json_number(run.price->output), json_string(run.price->date),
                               json_string(run.price->source), json_number(run.cost_usd),
                               per ? json_number(*per) : "null");
        } else {
            out += "\"price\": null, \"cost_usd\": null, \"usd_per_million_tokens\": null}";
        }
    }
    out += "\n  ]\n}\n";
    return out;
}

std::string to_csv(const BenchReport& report) {
    std::string out =
        "model,load_mode,load_value,duration_s,completed,failed,errors,input_tokens,output_tokens,cached_tokens,"
        "request_throughput,output_throughput,total_throughput,goodput,"
        "ttft_mean_ms,ttft_median_ms,ttft_p90_ms,ttft_p99_ms,ttft_max_ms,"
        "tpot_mean_ms,tpot_median_ms,tpot_p90_ms,tpot_p99_ms,tpot_max_ms,"
        "itl_mean_ms,itl_median_ms,itl_p90_ms,itl_p99_ms,itl_max_ms,"
        "e2el_mean_ms,e2el_median_ms,e2el_p90_ms,e2el_p99_ms,e2el_max_ms,"
        "price_input,price_output,cost_usd,usd_per_million_tokens\n";
    auto stat = [](const Stat& s) {
        if (s.count == 0) return std::string(",,,,");
        return fmt::format("{:.3f},{:.3f},{:.3f},{:.3f},{:.3f}", s.mean, s.median, s.p90, s.p99, s.max);
    };
    for (const auto& run : report.runs) {
        const Summary& s = run.summary;
        std::string errors;
        for (const auto& [label, count] : s.errors) errors += fmt::format("{}{}={}", errors.empty() ? "" : ";", label, count);
        const auto per = run.usd_per_million_tokens();
        out += fmt::format("{},{},{:g},{:.3f},{},{},{},{},{},{},{:.3f},{:.3f},{:.3f},{},{},{},{},{},{},{},{},{}\n",
                           csv_field(run.model), run.load.mode == Load::Mode::concurrency ? "concurrency" : "rate",
                           run.load.value, s.duration_s, s.completed, s.failed, csv_field(errors), s.input_tokens,
                           s.output_tokens, s.cached_tokens, s.request_throughput, s.output_throughput,
                           s.total_throughput, s.goodput ? fmt::format("{:.3f}", *s.goodput) : "", stat(s.ttft),
                           stat(s.tpot), stat(s.itl), stat(s.e2el),
                           run.price ? fmt::format("{:g}", run.price->input) : "",
                           run.price ? fmt::format("{:g}", run.price->output) : "",
                           run.price ? fmt::format("{:.8f}", run.cost_usd) : "", per ? fmt::format("{:.6f}", *per) : "");
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// SVG

namespace svg {

std::string escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '&': out += "&amp;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

namespace {

constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};
constexpr double kWidth = 640, kHeight = 360, kLeft = 64, kRight = 16, kTop = 36, kBottom = 48;


// About `count` round tick values covering [lo, hi].
std::vector<double> ticks(double lo, double hi, int count) {
    std::vector<double> out;
    if (!(hi > lo)) hi = lo + 1;
    const double raw = (hi - lo) / count;
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    double step = magnitude;
    for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
        step = m * magnitude;
        if (step >= raw) break;
    }
    for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push_back(std::abs(v) < step * 1e-9 ? 0 : v);
    return out;
}

std::string tick_label(double v) {
    if (v != 0 && (std::abs(v) >= 1e5 || std::abs(v) < 1e-3)) return fmt::format("{:.2g}", v);
    return fmt::format("{:g}", std::round(v * 1000) / 1000);
}

struct Frame {
    double x0, x1, y0, y1;
    double px(double x) const { return kLeft + (x - x0) / (x1 - x0) * (kWidth - kLeft - kRight); }
    double py(double y) const { return kHeight - kBottom - (y - y0) / (y1 - y0) * (kHeight - kTop - kBottom); }
};

// The frame, grid, ticks and labels; `legend_rows` lines of legend go below the plot.
std::string open_chart(const std::string& title, const std::string& x_label, const std::string& y_label, Frame& f,
                       std::size_t legend_rows = 0) {
    const auto xt = ticks(f.x0, f.x1, 6);
    const auto yt = ticks(f.y0, f.y1, 5);
    f.x1 = std::max(f.x1, xt.empty() ? f.x1 : xt.back());
    f.y1 = std::max(f.y1, yt.empty() ? f.y1 : yt.back());
    const double height = kHeight + (legend_rows > 1 ? 6 + 15 * static_cast<double>(legend_rows) : 0);
    std::string out = fmt::format(
        R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" font-family="sans-serif" font-size="11">)"
        "\n",
        kWidth, height, kWidth, height);
    out += fmt::format(R"(<text x="{}" y="20" font-size="14" font-weight="bold">{}</text>)"
                       "\n",
                       kLeft, escape(title));
    for (double y : yt) {
        out += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#ddd"/>)"
                           R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end">{}</text>)"
                           "\n",
                           kLeft, f.py(y), kWidth - kRight, f.py(y), kLeft - 6, f.py(y) + 4, tick_label(y));
    }
    for (double x : xt) {
        out += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#eee"/>)"
                           R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)"
                           "\n",
                           f.px(x), kTop, f.px(x), kHeight - kBottom, f.px(x), kHeight - kBottom + 16, tick_label(x));
    }
    out += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#888"/>)"
                       "\n",
                       kLeft, kTop, kWidth - kLeft - kRight, kHeight - kTop - kBottom);
    out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)"
                       "\n",
                       kLeft + (kWidth - kLeft - kRight) / 2, kHeight - 10, escape(x_label));
    out += fmt::format(R"svg(<text transform="translate(14,{:.1f}) rotate(-90)" text-anchor="middle">{}</text>)svg"
                       "\n",
                       kTop + (kHeight - kTop - kBottom) / 2, escape(y_label));
    return out;
}

// Below the x-axis label, one series per line.
std::string legend(const std::vector<std::string>& names) {
    std::string out;
    if (names.size() < 2) return out;
    double y = kHeight + 14;
    for (std::size_t i = 0; i < names.size(); ++i) {
        out += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="10" height="10" fill="{}"/>)"
                           R"(<text x="{:.1f}" y="{:.1f}">{}</text>)"
                           "\n",
                           kLeft, y - 9, kColors[i % 8], kLeft + 14, y, escape(names[i]));
        y += 15;
    }
    return out;
}

}  // namespace

std::string line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                       const std::vector<Series>& series, bool markers) {
    return line_chart(title, x_label, y_label, series, markers, {});
}

std::string line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                       const std::vector<Series>& series, bool markers, const std::vector<Mark>& marks) {
    Frame f{std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(), 0,
            -std::numeric_limits<double>::infinity()};
    for (const auto& s : series) {
        for (const auto& [x, y] : s.points) {
            f.x0 = std::min(f.x0, x);
            f.x1 = std::max(f.x1, x);
            f.y1 = std::max(f.y1, y);
        }
    }
    if (!std::isfinite(f.x0)) f = Frame{0, 1, 0, 1};
    if (f.x1 <= f.x0) f.x1 = f.x0 + 1;
    if (f.y1 <= f.y0) f.y1 = f.y0 + 1;
    if (f.x0 > 0 && f.x0 < f.x1 * 0.5) f.x0 = 0;
    f.y1 *= 1.05;  // headroom above the highest point
    std::string out = open_chart(title, x_label, y_label, f, series.size());
    std::vector<std::string> names;
    for (std::size_t i = 0; i < series.size(); ++i) {
        const auto& s = series[i];
        names.push_back(s.name);
        std::string path;
        for (const auto& [x, y] : s.points) path += fmt::format("{}{:.1f},{:.1f} ", path.empty() ? "M" : "L", f.px(x), f.py(y));
        if (!path.empty()) {
            out += fmt::format(R"(<path d="{}" fill="none" stroke="{}" stroke-width="2"/>)"
                               "\n",
                               path, kColors[i % 8]);
        }
        if (markers) {
            for (const auto& [x, y] : s.points) {
                out += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="3" fill="{}"><title>{}: {:g}, {:.4g}</title></circle>)",
                                   f.px(x), f.py(y), kColors[i % 8], escape(s.name), x, y);
            }
            out += "\n";
        }
    }
    for (const auto& m : marks) {
        out += fmt::format(R"(<g class="mark" data-x="{:g}" data-y="{:g}"><circle cx="{:.1f}" cy="{:.1f}" r="6" )"
                           R"(fill="none" stroke="#000" stroke-width="2"/><text x="{:.1f}" y="{:.1f}">{}</text></g>)"
                           "\n",
                           m.x, m.y, f.px(m.x), f.py(m.y), f.px(m.x) + 9, f.py(m.y) - 8, escape(m.label));
    }
    out += legend(names);
    return out + "</svg>\n";
}

std::string bar_chart(const std::string& title, const std::string& x_label,
                      const std::vector<std::pair<std::string, double>>& bars) {
    if (bars.empty()) return "";
    double peak = 0;
    for (const auto& [name, value] : bars) peak = std::max(peak, value);
    const double row = 18, left = 160, right = 70, top = 36;
    const double height = top + row * static_cast<double>(bars.size()) + 36;
    std::string out = fmt::format(
        R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" font-family="sans-serif" font-size="11">)"
        "\n",
        kWidth, height, kWidth, height);
    out += fmt::format(R"(<text x="{}" y="20" font-size="14" font-weight="bold">{}</text>)"
                       "\n",
                       left, escape(title));
    const double span = kWidth - left - right;
    for (std::size_t i = 0; i < bars.size(); ++i) {
        const auto& [name, value] = bars[i];
        const double y = top + row * static_cast<double>(i);
        const double w = peak > 0 ? std::max(0.0, value) / peak * span : 0;
        out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end">{}</text>)"
                           R"(<rect class="bar" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}" data-value="{:g}"/>)"
                           R"(<text x="{:.1f}" y="{:.1f}">{:.4g}</text>)"
                           "\n",
                           left - 6, y + 12, escape(name), left, y + 2, w, row - 4, kColors[i % 8], value,
                           left + w + 4, y + 12, value);
    }
    out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)"
                       "\n",
                       left + span / 2, height - 10, escape(x_label));
    return out + "</svg>\n";
}

std::string histogram(const std::string& title, const std::string& x_label, const std::vector<double>& values, int bins) {
    if (values.empty()) return "";
    const auto [lo_it, hi_it] = std::minmax_element(values.begin(), values.end());
    double lo = *lo_it, hi = *hi_it;
    if (hi <= lo) {
        lo -= 0.5;
        hi += 0.5;
    }
    std::vector<std::size_t> counts(static_cast<std::size_t>(bins), 0);
    const double width = (hi - lo) / bins;
    for (double v : values) {
        auto b = static_cast<std::size_t>((v - lo) / width);
        if (b >= counts.size()) b = counts.size() - 1;
        ++counts[b];
    }
    const double peak = static_cast<double>(*std::max_element(counts.begin(), counts.end()));
    Frame f{lo, hi, 0, peak * 1.05};
    std::string out = open_chart(title, x_label, "requests", f);
    for (std::size_t b = 0; b < counts.size(); ++b) {
        if (counts[b] == 0) continue;
        const double x0 = f.px(lo + width * static_cast<double>(b));
        const double x1 = f.px(lo + width * static_cast<double>(b + 1));
        const double y = f.py(static_cast<double>(counts[b]));
        out += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}" opacity="0.8">)"
                           R"(<title>{:.4g}–{:.4g}: {}</title></rect>)"
                           "\n",
                           x0, y, std::max(0.5, x1 - x0 - 1), f.py(0) - y, kColors[0], lo + width * static_cast<double>(b),
                           lo + width * static_cast<double>(b + 1), counts[b]);
    }
    return out + "</svg>\n";
}

std::string cdf_chart(const std::string& title, const std::string& x_label,
                      const std::vector<std::pair<std::string, const std::vector<double>*>>& data) {
    std::vector<Series> series;
    for (const auto& [name, values] : data) {
        if (values == nullptr || values->empty()) continue;
        std::vector<double> sorted = *values;
        std::sort(sorted.begin(), sorted.end());
        Series s{name, {}};
        // At most ~400 points per curve: enough for the eye, small for the file.
        const std::size_t step = std::max<std::size_t>(1, sorted.size() / 400);
        for (std::size_t i = 0; i < sorted.size(); i += step) {
            s.points.emplace_back(sorted[i], static_cast<double>(i + 1) / static_cast<double>(sorted.size()));
        }
        s.points.emplace_back(sorted.back(), 1.0);
        series.push_back(std::move(s));
    }
    if (series.empty()) return "";
    return line_chart(title, x_label, "fraction of requests", series, false);
}

}  // namespace svg

// ---------------------------------------------------------------------------------------------
// HTML

namespace {

std::string html_table(const Table& table) { return loadgen::html_table(table.rows()); }

}  // namespace

std::string html_table(const std::vector<std::vector<std::string>>& rows) {
    std::string out = "<table>\n";
    for (std::size_t r = 0; r < rows.size(); ++r) {
        out += "<tr>";
        for (const auto& cell : rows[r]) {
            std::string escaped;
            for (char c : cell) {
                if (c == '<') escaped += "&lt;";
                else if (c == '>') escaped += "&gt;";
                else if (c == '&') escaped += "&amp;";
                else escaped += c;
            }
            out += r == 0 ? "<th>" + escaped + "</th>" : "<td>" + escaped + "</td>";
        }
        out += "</tr>\n";
    }
    return out + "</table>\n";
}

std::string html_page_start(const std::string& title) {
    return R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>)" + svg::escape(title) + R"(</title>
<style>
body{font-family:sans-serif;margin:24px;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:8px 0 20px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right;font-size:13px}
th:first-child,td:first-child{text-align:left}
th{background:#f3f3f3}
.plots{display:flex;flex-wrap:wrap;gap:12px}
.plots svg{border:1px solid #eee;background:#fff}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px;font-size:13px}
dt{font-weight:bold}
</style></head><body>
<h1>)" + svg::escape(title) + "</h1>\n";
}

std::string to_html(const BenchReport& report) {
    std::string out = html_page_start("switchyard bench");
    auto esc = [](const std::string& text) {
        std::string r;
        for (char c : text) {
            if (c == '<') r += "&lt;";
            else if (c == '>') r += "&gt;";
            else if (c == '&') r += "&amp;";
            else r += c;
        }
        return r;
    };
    out += "<dl>\n";
    out += "<dt>started</dt><dd>" + esc(report.started_at) + "</dd>\n";
    out += "<dt>target</dt><dd>" + esc(report.base_url) + " (" + esc(report.endpoint) +
           (report.stream ? ", streaming" : ", not streaming") + ")</dd>\n";
    for (const auto& [key, value] : report.settings) out += "<dt>" + esc(key) + "</dt><dd>" + esc(value) + "</dd>\n";
    if (!report.objectives.empty()) out += "<dt>goodput objectives</dt><dd>" + esc(objectives_text(report.objectives)) + " (ms)</dd>\n";
    out += "</dl>\n";

    out += "<h2>Results</h2>\n" + html_table(sweep_table(report));
    if (multiple_models(report) || std::any_of(report.runs.begin(), report.runs.end(), [](const RunReport& r) { return r.price.has_value(); })) {
        out += "<h2>Model comparison</h2>\n" + html_table(comparison_table(report));
    }
    bool any_errors = false;
    for (const auto& run : report.runs) any_errors |= run.summary.failed > 0;
    if (any_errors) {
        Table errors({"model", "load", "failed", "errors", "first error"});
        for (const auto& run : report.runs) {
            errors.add({run.model, run.load.describe(), std::to_string(run.summary.failed), errors_text(run.summary),
                        run.first_error});
        }
        out += "<h2>Errors</h2>\n" + html_table(errors);
    }

    // Latency distributions: one CDF per metric with a curve per run.
    std::vector<std::pair<std::string, const std::vector<double>*>> ttft, tpot, itl, e2el;
    for (const auto& run : report.runs) {
        const std::string name = report.runs.size() > 1 ? run.model + " @ " + run.load.describe() : "";
        ttft.emplace_back(name, &run.summary.ttft_values);
        tpot.emplace_back(name, &run.summary.tpot_values);
        itl.emplace_back(name, &run.summary.itl_values);
        e2el.emplace_back(name, &run.summary.e2el_values);
    }
    out += "<h2>Latency distributions</h2>\n<div class=\"plots\">\n";
    out += svg::cdf_chart("Time to first token (CDF)", "TTFT (ms)", ttft);
    out += svg::cdf_chart("Time per output token (CDF)", "TPOT (ms)", tpot);
    out += svg::cdf_chart("Inter-token latency (CDF)", "ITL (ms)", itl);
    out += svg::cdf_chart("End-to-end latency (CDF)", "E2EL (ms)", e2el);
    out += "</div>\n<div class=\"plots\">\n";
    for (const auto& run : report.runs) {
        const bool streamed = !run.summary.ttft_values.empty();
        out += svg::histogram((streamed ? "TTFT histogram, " : "E2EL histogram, ") + run.model + " @ " + run.load.describe(),
                              streamed ? "TTFT (ms)" : "E2EL (ms)",
                              streamed ? run.summary.ttft_values : run.summary.e2el_values, 40);
    }
    out += "</div>\n";

    // Against load, when there is more than one load point for a model.
    std::vector<svg::Series> requests, tokens, ttft_p50, e2el_p50;
    std::vector<std::string> models;
    for (const auto& run : report.runs) {
        if (std::find(models.begin(), models.end(), run.model) == models.end()) models.push_back(run.model);
    }
    bool sweep = false;
    std::string load_label = "load";
    for (const auto& model : models) {
        svg::Series rq{model, {}}, tk{model, {}}, tt{model, {}}, ee{model, {}};
        for (const auto& run : report.runs) {
            if (run.model != model) continue;
            load_label = run.load.mode == Load::Mode::concurrency ? "concurrency" : "request rate (sessions/s)";
            rq.points.emplace_back(run.load.value, run.summary.request_throughput);
            tk.points.emplace_back(run.load.value, run.summary.output_throughput);
            if (run.summary.ttft.count) tt.points.emplace_back(run.load.value, run.summary.ttft.median);
            if (run.summary.e2el.count) ee.points.emplace_back(run.load.value, run.summary.e2el.median);
        }
        sweep |= rq.points.size() > 1;
        for (auto* s : {&rq, &tk, &tt, &ee}) std::sort(s->points.begin(), s->points.end());
        requests.push_back(std::move(rq));
        tokens.push_back(std::move(tk));
        if (!tt.points.empty()) ttft_p50.push_back(std::move(tt));
        e2el_p50.push_back(std::move(ee));
    }
    if (sweep) {
        out += "<h2>Throughput and latency against load</h2>\n<div class=\"plots\">\n";
        out += svg::line_chart("Output tokens per second", load_label, "tokens/s", tokens, true);
        out += svg::line_chart("Requests per second", load_label, "requests/s", requests, true);
        if (!ttft_p50.empty()) out += svg::line_chart("Median TTFT", load_label, "ms", ttft_p50, true);
        out += svg::line_chart("Median end-to-end latency", load_label, "ms", e2el_p50, true);
        out += "</div>\n";
    }
    out += "<p style=\"font-size:12px;color:#666\">TTFT: send to first token-bearing chunk. TPOT: (E2EL − TTFT) / "
           "(output tokens − 1). ITL: every gap between token-bearing chunks. E2EL: send to last byte. Token counts "
           "from the server's usage. Definitions as in vLLM's benchmark_serving; see docs/bench.md.</p>\n";
    out += "</body></html>\n";
    return out;
}

}  // namespace switchyard::loadgen
