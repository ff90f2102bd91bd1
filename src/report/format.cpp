#include "report/format.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

#include "core/error.hpp"
#include "core/table.hpp"
#include "loadgen/report.hpp"

namespace switchyard::report {

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
    std::int64_t year;
    unsigned month;
    unsigned day;
};

Civil civil_from_days(std::int64_t z) {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool digits(std::string_view text, std::size_t pos, std::size_t count, unsigned& out) {
    if (pos + count > text.size()) return false;
    out = 0;
    for (std::size_t i = pos; i < pos + count; ++i) {
        if (text[i] < '0' || text[i] > '9') return false;
        out = out * 10 + static_cast<unsigned>(text[i] - '0');
    }
    return true;
}

// Groups of three digits: "1234567" -> "1,234,567".
std::string thousands(const std::string& text) {
    const std::size_t start = text.starts_with('-') ? 1 : 0;
    const std::size_t dot = std::min(text.find('.'), text.size());
    std::string out(text, 0, start);
    for (std::size_t i = start; i < dot; ++i) {
        if (i > start && (dot - i) % 3 == 0) out += ',';
        out += text[i];
    }
    out.append(text, dot, std::string::npos);
    return out;
}

std::string plain(double value) { return plain_number(value); }

std::string json_string(std::string_view text) {
    std::string out;
    append_json_string(out, text);
    return out;
}

std::string json_optional(const std::optional<double>& value) { return value ? plain(*value) : "null"; }

std::string csv_field(const std::string& text) {
    if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string csv_line(const std::vector<std::string>& fields) {
    std::string out;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (i) out += ',';
        out += csv_field(fields[i]);
    }
    return out + "\n";
}

std::string ratio_text(const std::optional<double>& ratio) {
    if (!ratio) return "-";
    return fmt::format("{:.2f}x", *ratio);
}

std::string percent(double part, double whole) {
    if (whole <= 0) return "-";
    return fmt::format("{:.1f}%", part / whole * 100);
}

std::string per_request(const Group& g) {
    return g.requests == 0 ? "-" : format_usd(g.spend_usd / static_cast<double>(g.requests));
}

std::string months_text(const std::optional<double>& months) {
    if (!months) return "never";
    return fmt::format("{:.1f}", *months);
}

std::string tokens_text(const std::optional<double>& tokens) { return tokens ? format_count(*tokens) : "never"; }

using Table = TextTable;

const std::vector<std::string> kGroupHeader{"requests", "failed", "prompt", "cached", "completion", "spend",
                                            "per request", "share"};

std::vector<std::string> group_cells(const Group& g, double total_spend) {
    return {g.name,
            format_count(static_cast<double>(g.requests)),
            format_count(static_cast<double>(g.failed)),
            format_count(static_cast<double>(g.tokens.prompt)),
            format_count(static_cast<double>(g.tokens.cached)),
            format_count(static_cast<double>(g.tokens.completion)),
            format_usd(g.spend_usd),
            per_request(g),
            percent(g.spend_usd, total_spend)};
}

std::string option_note(const Option& o) { return o.note; }

void csv_groups(std::string& out, const std::string& first_column, const std::vector<Group>& groups) {
    out += csv_line({first_column, "requests", "failed", "prompt_tokens", "cached_tokens", "completion_tokens",
                     "spend_usd", "usd_per_request"});
    for (const auto& g : groups) {
        out += csv_line({g.name, std::to_string(g.requests), std::to_string(g.failed), std::to_string(g.tokens.prompt),
                         std::to_string(g.tokens.cached), std::to_string(g.tokens.completion), plain(g.spend_usd),
                         g.requests ? plain(g.spend_usd / static_cast<double>(g.requests)) : ""});
    }
}

std::string json_group(const Group& g) {
    return fmt::format(
        "{{\"name\": {}, \"requests\": {}, \"failed\": {}, \"prompt_tokens\": {}, \"cached_tokens\": {}, "
        "\"completion_tokens\": {}, \"spend_usd\": {}}}",
        json_string(g.name), g.requests, g.failed, g.tokens.prompt, g.tokens.cached, g.tokens.completion,
        plain(g.spend_usd));
}

std::string payback_month_text(const OptionYears& o) {
    if (o.payback_month) return format_count(*o.payback_month);
    return o.total.purchase_usd > 0 ? "never" : "-";
}

std::vector<std::string> year_cells(const OptionYears& o, const YearCost& y, const std::string& year) {
    return {o.name,
            year,
            format_usd(y.purchase_usd),
            format_usd(y.running_usd),
            format_usd(y.cloud_avoided_usd),
            format_usd(y.saving_usd),
            format_usd(y.cumulative_saving_usd),
            year == "total" ? payback_month_text(o) : ""};
}

void print_years(std::ostream& out, const YearsView& view) {
    if (view.options.empty()) return;
    out << fmt::format("\nOver {} year{} against {}: purchase in year 1, cash as spent (not amortized)\n", view.years,
                       view.years == 1 ? "" : "s", view.reference);
    TextTable table({"option", "year", "purchase", "running", "cloud avoided", "saving", "cumulative",
                     "payback month"});
    for (const auto& o : view.options) {
        for (const auto& y : o.years) table.add(year_cells(o, y, std::to_string(y.year)));
        table.add(year_cells(o, o.total, "total"));
    }
    table.print(out, 2);
}

void csv_years(std::string& out, const YearsView& view) {
    out += "\n# years\n";
    out += csv_line({"option", "kind", "year", "purchase_usd", "running_usd", "cloud_avoided_usd", "saving_usd",
                     "cumulative_saving_usd", "payback_month"});
    for (const auto& o : view.options) {
        for (const auto& y : o.years) {
            out += csv_line({o.name, o.kind, std::to_string(y.year), plain(y.purchase_usd), plain(y.running_usd),
                             plain(y.cloud_avoided_usd), plain(y.saving_usd), plain(y.cumulative_saving_usd),
                             o.payback_month ? plain(*o.payback_month) : ""});
        }
    }
}

std::string json_year(const YearCost& y) {
    return fmt::format(
        "{{\"year\": {}, \"purchase_usd\": {}, \"running_usd\": {}, \"cloud_avoided_usd\": {}, \"saving_usd\": {}, "
        "\"cumulative_saving_usd\": {}}}",
        y.year, plain(y.purchase_usd), plain(y.running_usd), plain(y.cloud_avoided_usd), plain(y.saving_usd),
        plain(y.cumulative_saving_usd));
}

std::string json_years(const YearsView& view) {
    std::string out = fmt::format("  \"years\": {{\"years\": {}, \"reference\": {}, \"options\": [", view.years,
                                  view.reference.empty() ? "null" : json_string(view.reference));
    for (std::size_t i = 0; i < view.options.size(); ++i) {
        const OptionYears& o = view.options[i];
        out += fmt::format("{}\n    {{\"name\": {}, \"kind\": {}, \"payback_month\": {}, \"total\": {}, \"years\": [",
                           i ? "," : "", json_string(o.name), json_string(o.kind), json_optional(o.payback_month),
                           json_year(o.total));
        for (std::size_t j = 0; j < o.years.size(); ++j) out += (j ? ",\n      " : "\n      ") + json_year(o.years[j]);
        out += "]}";
    }
    return out + (view.options.empty() ? "]},\n" : "\n  ]},\n");
}

std::string ms_text(const std::optional<double>& ms) {
    if (!ms) return "-";
    return *ms >= 100 ? fmt::format("{:.0f}", *ms) : fmt::format("{:.1f}", *ms);
}

std::string share_text(const std::optional<double>& share) {
    return share ? fmt::format("{:.1f}%", *share * 100) : "-";
}

std::string service_per_million(const Service& s) {
    return s.tokens > 0 ? format_usd(s.spend_usd / static_cast<double>(s.tokens) * 1e6) : "-";
}

void print_services(std::ostream& out, const std::string& dimension, const std::vector<Service>& services) {
    if (services.empty()) return;
    out << "Service by " << dimension << " (successful requests; ms)\n";
    TextTable table({dimension, "requests", "success", "available", "TTFT p50", "p95", "p99", "latency p50", "p95",
                     "p99", "spend", "$/M tokens"});
    for (const auto& s : services) {
        table.add({s.name, format_count(static_cast<double>(s.requests)), share_text(s.success_rate()),
                   share_text(s.availability()), ms_text(s.ttft_p50), ms_text(s.ttft_p95), ms_text(s.ttft_p99),
                   ms_text(s.latency_p50), ms_text(s.latency_p95), ms_text(s.latency_p99), format_usd(s.spend_usd),
                   service_per_million(s)});
    }
    table.print(out);
    out << "\n";
}

void csv_services(std::string& out, const std::string& dimension, const std::vector<Service>& services) {
    out += "\n# service by " + dimension + "\n";
    out += csv_line({dimension, "requests", "succeeded", "success_rate", "minutes_with_traffic", "minutes_serving",
                     "availability", "ttft_p50_ms", "ttft_p95_ms", "ttft_p99_ms", "latency_p50_ms", "latency_p95_ms",
                     "latency_p99_ms", "spend_usd", "tokens"});
    auto opt = [](const std::optional<double>& v) { return v ? plain(*v) : std::string(); };
    for (const auto& s : services) {
        out += csv_line({s.name, std::to_string(s.requests), std::to_string(s.succeeded), opt(s.success_rate()),
                         std::to_string(s.minutes_with_traffic), std::to_string(s.minutes_serving),
                         opt(s.availability()), opt(s.ttft_p50), opt(s.ttft_p95), opt(s.ttft_p99), opt(s.latency_p50),
                         opt(s.latency_p95), opt(s.latency_p99), plain(s.spend_usd), std::to_string(s.tokens)});
    }
}

std::string json_services(const std::vector<Service>& services) {
    std::string out = "[";
    for (std::size_t i = 0; i < services.size(); ++i) {
        const Service& s = services[i];
        out += fmt::format(
            "{}\n      {{\"name\": {}, \"requests\": {}, \"succeeded\": {}, \"success_rate\": {}, "
            "\"minutes_with_traffic\": {}, \"minutes_serving\": {}, \"availability\": {}, "
            "\"ttft_ms\": {{\"p50\": {}, \"p95\": {}, \"p99\": {}}}, "
            "\"latency_ms\": {{\"p50\": {}, \"p95\": {}, \"p99\": {}}}, \"spend_usd\": {}, \"tokens\": {}}}",
            i ? "," : "", json_string(s.name), s.requests, s.succeeded, json_optional(s.success_rate()),
            s.minutes_with_traffic, s.minutes_serving, json_optional(s.availability()), json_optional(s.ttft_p50),
            json_optional(s.ttft_p95), json_optional(s.ttft_p99), json_optional(s.latency_p50),
            json_optional(s.latency_p95), json_optional(s.latency_p99), plain(s.spend_usd), s.tokens);
    }
    return out + (services.empty() ? "]" : "\n    ]");
}

std::string input_text(const Input& input) {
    if (!input.number) return input.text;
    std::string value = std::abs(*input.number) >= 1000 ? format_count(*input.number) : fmt::format("{:g}", *input.number);
    return input.text.empty() ? value : value + " (" + input.text + ")";
}

}  // namespace

std::string format_usd(double usd) {
    if (!std::isfinite(usd)) return "-";
    const double magnitude = std::abs(usd);
    if (magnitude == 0 || magnitude >= 0.01) {
        std::string text = thousands(fmt::format("{:.2f}", magnitude));
        return (usd < 0 && text != "0.00" ? "-$" : "$") + text;
    }
    // Two significant digits for amounts under a cent, up to eight decimals.
    const int decimals = std::min(8, static_cast<int>(std::ceil(-std::log10(magnitude))) + 1);
    return (usd < 0 ? "-$" : "$") + fmt::format("{:.{}f}", magnitude, decimals);
}

std::string format_count(double count) {
    if (!std::isfinite(count)) return "-";
    return thousands(fmt::format("{:.0f}", std::round(count)));
}

std::string format_utc(std::int64_t ms) {
    const std::int64_t seconds = floor_div(ms, 1000);
    const std::int64_t days = floor_div(seconds, 86400);
    const std::int64_t rest = seconds - days * 86400;
    const Civil c = civil_from_days(days);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", c.year, c.month, c.day, rest / 3600, rest / 60 % 60,
                       rest % 60);
}

std::optional<std::int64_t> parse_utc(std::string_view text, bool end_of_day) {
    unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!digits(text, 0, 4, year) || text.size() < 10 || text[4] != '-' || !digits(text, 5, 2, month) ||
        text[7] != '-' || !digits(text, 8, 2, day)) {
        return std::nullopt;
    }
    if (month < 1 || month > 12 || day < 1 || day > 31) return std::nullopt;
    const std::int64_t days = days_from_civil(year, month, day);
    if (civil_from_days(days).day != day) return std::nullopt;  // 2026-02-30
    if (text.size() == 10) return (days + (end_of_day ? 1 : 0)) * kMsPerDay;
    std::string_view rest = text.substr(10);
    if (rest.front() != 'T' && rest.front() != ' ') return std::nullopt;
    rest.remove_prefix(1);
    if (rest.ends_with('Z')) rest.remove_suffix(1);
    if (!digits(rest, 0, 2, hour) || rest.size() < 5 || rest[2] != ':' || !digits(rest, 3, 2, minute)) {
        return std::nullopt;
    }
    if (rest.size() == 8) {
        if (rest[5] != ':' || !digits(rest, 6, 2, second)) return std::nullopt;
    } else if (rest.size() != 5) {
        return std::nullopt;
    }
    if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
    return days * kMsPerDay + (static_cast<std::int64_t>(hour) * 3600 + minute * 60 + second) * 1000;
}

std::int64_t month_start_utc(std::int64_t ms) {
    const Civil c = civil_from_days(floor_div(ms, kMsPerDay));
    return days_from_civil(c.year, c.month, 1) * kMsPerDay;
}

void print_table(std::ostream& out, const CostReport& report) {
    const Comparison& cmp = report.comparison;
    if (report.usage) {
        const Usage& u = *report.usage;
        out << fmt::format("Period {} to {} ({:.2f} days), {}\n", format_utc(u.period.from_ms),
                           format_utc(u.period.to_ms), u.period.days(), report.source);
        const Group& t = u.total;
        out << fmt::format("{} requests ({} failed); tokens: prompt {} (cached {}), completion {}; spend {}\n\n",
                           format_count(static_cast<double>(t.requests)), format_count(static_cast<double>(t.failed)),
                           format_count(static_cast<double>(t.tokens.prompt)),
                           format_count(static_cast<double>(t.tokens.cached)),
                           format_count(static_cast<double>(t.tokens.completion)), format_usd(t.spend_usd));
        for (const auto& b : u.breakdowns) {
            out << "By " << b.dimension << "\n";
            std::vector<std::string> header{b.dimension};
            header.insert(header.end(), kGroupHeader.begin(), kGroupHeader.end());
            Table table(header);
            for (const auto& g : b.groups) table.add(group_cells(g, t.spend_usd));
            table.add(group_cells(t, t.spend_usd));
            table.print(out);
            out << "\n";
        }
        print_services(out, "tier", u.service_by_tier);
        print_services(out, "deployment", u.service_by_deployment);
        out << "The same tokens priced under each catalog model (actual spend " << format_usd(t.spend_usd) << ")\n";
        Table table({"model", "input $/M", "cached $/M", "output $/M", "cost", "vs actual", "difference"});
        for (const auto& r : report.repricing) {
            table.add({r.model, fmt::format("{:.3f}", r.price.input), fmt::format("{:.3f}", r.price.cached_input),
                       fmt::format("{:.3f}", r.price.output), format_usd(r.cost_usd), ratio_text(r.ratio),
                       (r.cost_usd >= t.spend_usd ? "+" : "") + format_usd(r.cost_usd - t.spend_usd)});
        }
        table.print(out);
        out << "\n";
    }
    const Workload& w = cmp.workload;
    out << fmt::format("A month ({:.2f} days): {} prompt tokens ({} cached), {} completion tokens; utilization {:.0f}%\n",
                       kDaysPerMonth, format_count(w.input), format_count(w.cached), format_count(w.output),
                       cmp.utilization * 100);
    {
        Table table({"option", "kind", "machines", "monthly", "$/M tokens", "break-even tokens/month",
                     "payback months", "note"});
        for (const auto& o : cmp.options) {
            const bool machine = o.kind == "rental" || o.kind == "owned";
            const auto per_million = o.usd_per_million(w.total());
            table.add({o.name, o.kind, o.machines ? format_count(*o.machines) : "-",
                       (machine && !o.machines) ? "-" : format_usd(o.monthly_usd),
                       per_million ? format_usd(*per_million) : "-",
                       machine && o.machines ? tokens_text(o.break_even_tokens_per_month) : "-",
                       (o.kind == "owned" || o.purchase_usd > 0) && o.machines ? months_text(o.payback_months) : "-",
                       option_note(o)});
        }
        table.print(out, 2);
    }
    if (!cmp.reference.empty()) {
        out << fmt::format("Break-even and payback against {} ({} per million tokens at this mix).\n",
                           cmp.reference, format_usd(cmp.reference_usd_per_token * 1e6));
    }
    print_years(out, report.years);
    if (!report.inputs.empty()) {
        out << "\nInputs\n";
        Table table({"input", "value"});
        for (const auto& input : report.inputs) table.add({input.name, input_text(input)});
        table.print(out, 2);
    }
}

std::string to_csv(const CostReport& report, const std::string& only) {
    std::string out;
    if (report.usage) {
        const Usage& u = *report.usage;
        if (!only.empty()) {
            for (const auto& b : u.breakdowns) {
                if (b.dimension == only) csv_groups(out, b.dimension, b.groups);
            }
            return out;
        }
        out += "# period\n";
        out += csv_line({"from", "to", "days", "source"});
        out += csv_line({format_utc(u.period.from_ms), format_utc(u.period.to_ms), plain(u.period.days()), report.source});
        out += "\n# totals\n";
        csv_groups(out, "total", {u.total});
        for (const auto& b : u.breakdowns) {
            out += "\n# by " + b.dimension + "\n";
            csv_groups(out, b.dimension, b.groups);
        }
        csv_services(out, "tier", u.service_by_tier);
        csv_services(out, "deployment", u.service_by_deployment);
        out += "\n# repricing\n";
        out += csv_line({"model", "input_usd_per_million", "cached_input_usd_per_million", "output_usd_per_million",
                         "cost_usd", "ratio_to_actual", "difference_usd"});
        for (const auto& r : report.repricing) {
            out += csv_line({r.model, plain(r.price.input), plain(r.price.cached_input), plain(r.price.output),
                             plain(r.cost_usd), r.ratio ? plain(*r.ratio) : "", plain(r.cost_usd - u.total.spend_usd)});
        }
        out += "\n";
    }
    const Comparison& cmp = report.comparison;
    out += "# monthly\n";
    out += csv_line({"option", "kind", "machines", "monthly_usd", "usd_per_million_tokens", "machine_monthly_usd",
                     "capacity_tokens_per_month", "purchase_usd", "break_even_tokens_per_month", "payback_months",
                     "note", "local_share", "overflow_model", "overflow_usd"});
    for (const auto& o : cmp.options) {
        const bool machine = o.kind == "rental" || o.kind == "owned";
        const auto per_million = o.usd_per_million(cmp.workload.total());
        out += csv_line({o.name, o.kind, o.machines ? plain(*o.machines) : "",
                         (machine && !o.machines) ? "" : plain(o.monthly_usd), per_million ? plain(*per_million) : "",
                         machine ? plain(o.machine_monthly_usd) : "", machine ? plain(o.capacity_tokens_per_month) : "",
                         o.kind == "owned" || o.kind == "hybrid" ? plain(o.purchase_usd) : "",
                         o.break_even_tokens_per_month ? plain(*o.break_even_tokens_per_month) : "",
                         o.payback_months ? plain(*o.payback_months) : "", o.note,
                         o.local_share ? plain(*o.local_share) : "", o.overflow,
                         o.overflow.empty() ? "" : plain(o.cloud_monthly_usd)});
    }
    if (!report.years.options.empty()) csv_years(out, report.years);
    out += "\n# inputs\n";
    out += csv_line({"input", "value", "note"});
    out += csv_line({"tokens_per_month_input", plain(cmp.workload.input), ""});
    out += csv_line({"tokens_per_month_cached", plain(cmp.workload.cached), ""});
    out += csv_line({"tokens_per_month_output", plain(cmp.workload.output), ""});
    out += csv_line({"utilization", plain(cmp.utilization), ""});
    out += csv_line({"reference", cmp.reference, ""});
    for (const auto& input : report.inputs) {
        out += csv_line({input.name, input.number ? plain(*input.number) : input.text, input.number ? input.text : ""});
    }
    return out;
}

std::string to_json(const CostReport& report) {
    std::string out = "{\n";
    out += fmt::format("  \"tool\": \"switchyard cost\",\n  \"mode\": {},\n  \"source\": {},\n",
                       json_string(report.mode), json_string(report.source));
    if (report.usage) {
        const Usage& u = *report.usage;
        out += fmt::format("  \"period\": {{\"from\": {}, \"to\": {}, \"from_ms\": {}, \"to_ms\": {}, \"days\": {}}},\n",
                           json_string(format_utc(u.period.from_ms)), json_string(format_utc(u.period.to_ms)),
                           u.period.from_ms, u.period.to_ms, plain(u.period.days()));
        out += "  \"totals\": " + json_group(u.total) + ",\n";
        out += fmt::format("  \"local\": {},\n  \"cloud\": {},\n", json_group(u.local), json_group(u.cloud));
        out += fmt::format("  \"local_busy_seconds\": {},\n", plain(u.local_busy_seconds));
        out += "  \"by\": {";
        for (std::size_t i = 0; i < u.breakdowns.size(); ++i) {
            const Breakdown& b = u.breakdowns[i];
            out += fmt::format("{}\n    {}: [", i ? "," : "", json_string(b.dimension));
            for (std::size_t j = 0; j < b.groups.size(); ++j) {
                out += (j ? ",\n      " : "\n      ") + json_group(b.groups[j]);
            }
            out += "]";
        }
        out += "\n  },\n";
        out += fmt::format("  \"service\": {{\n    \"availability\": \"minutes with a success / minutes with requests\",\n"
                           "    \"tier\": {},\n    \"deployment\": {}}},\n",
                           json_services(u.service_by_tier), json_services(u.service_by_deployment));
        out += fmt::format("  \"repricing\": {{\"actual_usd\": {}, \"models\": [", plain(u.total.spend_usd));
        for (std::size_t i = 0; i < report.repricing.size(); ++i) {
            const Repriced& r = report.repricing[i];
            out += fmt::format(
                "{}\n    {{\"model\": {}, \"input\": {}, \"cached_input\": {}, \"output\": {}, \"cost_usd\": {}, "
                "\"ratio\": {}, \"difference_usd\": {}, \"date\": {}, \"source\": {}}}",
                i ? "," : "", json_string(r.model), plain(r.price.input), plain(r.price.cached_input),
                plain(r.price.output), plain(r.cost_usd), json_optional(r.ratio), plain(r.cost_usd - u.total.spend_usd),
                json_string(r.price.date), json_string(r.price.source));
        }
        out += "]},\n";
    }
    out += "  \"monthly\": " + monthly_json(report.comparison) + ",\n";
    if (!report.years.options.empty()) out += json_years(report.years);
    out += "  \"stale_prices\": [";
    for (std::size_t i = 0; i < report.stale_prices.size(); ++i) {
        const StalePrice& p = report.stale_prices[i];
        out += fmt::format("{}{{\"model\": {}, \"date\": {}, \"age_days\": {}, \"source\": {}}}", i ? ", " : "",
                           json_string(p.model), json_string(p.date), p.age_days, json_string(p.source));
    }
    out += "],\n";
    out += "  \"inputs\": {";
    for (std::size_t i = 0; i < report.inputs.size(); ++i) {
        const Input& input = report.inputs[i];
        out += fmt::format("{}\n    {}: {{\"value\": {}, \"note\": {}}}", i ? "," : "", json_string(input.name),
                           input.number ? plain(*input.number) : json_string(input.text),
                           input.number ? json_string(input.text) : "\"\"");
    }
    out += report.inputs.empty() ? "}\n}\n" : "\n  }\n}\n";
    return out;
}

}  // namespace switchyard::report

namespace switchyard::report {

namespace {

std::vector<std::vector<std::string>> service_rows(const std::string& dimension, const std::vector<Service>& services) {
    std::vector<std::vector<std::string>> rows{{dimension, "requests", "success", "available", "TTFT p50 ms", "p95",
                                                "p99", "latency p50 ms", "p95", "p99", "spend", "$/M tokens"}};
    for (const auto& s : services) {
        rows.push_back({s.name, format_count(static_cast<double>(s.requests)), share_text(s.success_rate()),
                        share_text(s.availability()), ms_text(s.ttft_p50), ms_text(s.ttft_p95), ms_text(s.ttft_p99),
                        ms_text(s.latency_p50), ms_text(s.latency_p95), ms_text(s.latency_p99),
                        format_usd(s.spend_usd), service_per_million(s)});
    }
    return rows;
}

// Cost against volume: each option's line from 0 to past the month's volume and every break-even.
std::string cost_chart(const Comparison& cmp) {
    using loadgen::svg::Mark;
    using loadgen::svg::Series;
    const CostCurves curves = cost_curves(cmp);
    std::vector<Series> series;
    std::vector<Mark> marks;
    for (const auto& line : curves.lines) {
        Series drawn{line.name, {}};
        for (const auto& [x, y] : line.points) drawn.points.emplace_back(x / 1e6, y);
        series.push_back(std::move(drawn));
        if (line.break_even_tokens_per_month) {
            const double be = *line.break_even_tokens_per_month;
            marks.push_back({be / 1e6, *line.break_even_usd,
                             fmt::format("{}: {}M tokens/month", line.name, format_count(be / 1e6))});
        }
    }
    const double volume = curves.volume_tokens_per_month;
    if (volume > 0) {
        marks.push_back({volume / 1e6, reference_at(cmp, volume), fmt::format("this month: {}M", format_count(volume / 1e6))});
    }
    return loadgen::svg::line_chart("Monthly cost against monthly volume", "million tokens a month", "US dollars a month",
                                    series, false, marks);
}

// Spend per time bucket by tier; x in hours for a period of up to three days, else in days.
std::string spend_over_time_chart(const SpendSeries& spend) {
    if (spend.spend.empty() || spend.buckets == 0) return "";
    const bool hours = spend.bucket_ms < kMsPerDay / 4 && spend.buckets * static_cast<std::size_t>(spend.bucket_ms) <=
                                                             static_cast<std::size_t>(3 * kMsPerDay);
    const double unit = hours ? 3'600'000.0 : static_cast<double>(kMsPerDay);
    std::vector<loadgen::svg::Series> series;
    for (const auto& [tier, values] : spend.spend) {
        loadgen::svg::Series line{"tier " + tier, {}};
        for (std::size_t i = 0; i < values.size(); ++i) {
            line.points.emplace_back(static_cast<double>(i) * static_cast<double>(spend.bucket_ms) / unit, values[i]);
        }
        series.push_back(std::move(line));
    }
    const std::string bucket = spend.bucket_ms >= kMsPerDay ? fmt::format("{:g} day", static_cast<double>(spend.bucket_ms) / kMsPerDay)
                                                            : fmt::format("{:g} min", static_cast<double>(spend.bucket_ms) / 60'000);
    return loadgen::svg::line_chart("Spend over time by tier (per " + bucket + ")",
                                    hours ? "hours since the period's start" : "days since the period's start",
                                    "US dollars", series, series.front().points.size() <= 60);
}

std::string spend_bars(const Breakdown& b) {
    std::vector<std::pair<std::string, double>> bars;
    for (const auto& g : b.groups) {
        if (bars.size() == 20) break;
        bars.emplace_back(g.name, g.spend_usd);
    }
    return loadgen::svg::bar_chart("Spend by " + b.dimension + (b.groups.size() > 20 ? " (top 20)" : ""), "US dollars",
                                   bars);
}

// The page's and the Markdown's tables, in order: the month, the years, the service levels, each
// grouping, the repricing and the inputs.
struct Section {
    std::string title;
    std::string note;
    std::vector<std::vector<std::string>> rows;  // the first is the header
};

std::vector<Section> sections(const CostReport& report) {
    std::vector<Section> out;
    const Comparison& cmp = report.comparison;
    const Workload& w = cmp.workload;
    Section month{"A month",
                  fmt::format("{} prompt tokens ({} cached), {} completion tokens; utilization {:.0f}%; break-even and "
                              "payback against {}",
                              format_count(w.input), format_count(w.cached), format_count(w.output),
                              cmp.utilization * 100, cmp.reference.empty() ? "-" : cmp.reference),
                  {{"option", "kind", "machines", "monthly", "$/M tokens", "break-even tokens/month", "payback months",
                    "note"}}};
    for (const auto& o : cmp.options) {
        const bool machine = o.kind == "rental" || o.kind == "owned";
        const auto per_million = o.usd_per_million(w.total());
        month.rows.push_back({o.name, o.kind, o.machines ? format_count(*o.machines) : "-",
                              (machine && !o.machines) ? "-" : format_usd(o.monthly_usd),
                              per_million ? format_usd(*per_million) : "-",
                              machine && o.machines ? tokens_text(o.break_even_tokens_per_month) : "-",
                              (o.kind == "owned" || o.purchase_usd > 0) && o.machines ? months_text(o.payback_months) : "-",
                              o.note});
    }
    out.push_back(std::move(month));
    if (!report.years.options.empty()) {
        Section years{fmt::format("Over {} years against {}", report.years.years, report.years.reference),
                      "purchase in year 1, cash as spent (not amortized)",
                      {{"option", "year", "purchase", "running", "cloud avoided", "saving", "cumulative", "payback month"}}};
        for (const auto& o : report.years.options) {
            for (const auto& y : o.years) years.rows.push_back(year_cells(o, y, std::to_string(y.year)));
            years.rows.push_back(year_cells(o, o.total, "total"));
        }
        out.push_back(std::move(years));
    }
    if (report.usage) {
        const Usage& u = *report.usage;
        out.push_back({"Service by tier",
                       "percentiles of successful requests in ms (within 1%); available: UTC minutes with a success "
                       "among minutes with requests",
                       service_rows("tier", u.service_by_tier)});
        out.push_back({"Service by deployment", "", service_rows("deployment", u.service_by_deployment)});
        for (const auto& b : u.breakdowns) {
            Section by{"By " + b.dimension, "", {{b.dimension}}};
            by.rows[0].insert(by.rows[0].end(), kGroupHeader.begin(), kGroupHeader.end());
            for (const auto& g : b.groups) by.rows.push_back(group_cells(g, u.total.spend_usd));
            by.rows.push_back(group_cells(u.total, u.total.spend_usd));
            out.push_back(std::move(by));
        }
        Section repricing{"The same tokens under each catalog model",
                          "actual spend " + format_usd(u.total.spend_usd),
                          {{"model", "input $/M", "cached $/M", "output $/M", "cost", "vs actual", "price date"}}};
        for (const auto& r : report.repricing) {
            repricing.rows.push_back({r.model, fmt::format("{:.3f}", r.price.input),
                                      fmt::format("{:.3f}", r.price.cached_input), fmt::format("{:.3f}", r.price.output),
                                      format_usd(r.cost_usd), ratio_text(r.ratio), r.price.date});
        }
        out.push_back(std::move(repricing));
    }
    if (!report.inputs.empty()) {
        Section inputs{"Inputs", "", {{"input", "value"}}};
        for (const auto& input : report.inputs) inputs.rows.push_back({input.name, input_text(input)});
        out.push_back(std::move(inputs));
    }
    return out;
}

}  // namespace

std::string to_html(const CostReport& report) {
    using loadgen::html_table;
    using loadgen::svg::escape;
    std::string out = loadgen::html_page_start("switchyard cost");
    const Comparison& cmp = report.comparison;
    out += "<dl>\n<dt>mode</dt><dd>" + escape(report.mode) + "</dd>\n<dt>source</dt><dd>" + escape(report.source) + "</dd>\n";
    if (report.usage) {
        const Usage& u = *report.usage;
        out += "<dt>period</dt><dd>" + escape(format_utc(u.period.from_ms)) + " to " + escape(format_utc(u.period.to_ms)) +
               fmt::format(" ({:.2f} days)", u.period.days()) + "</dd>\n";
        out += "<dt>requests</dt><dd>" + format_count(static_cast<double>(u.total.requests)) + " (" +
               format_count(static_cast<double>(u.total.failed)) + " failed), spend " + escape(format_usd(u.total.spend_usd)) +
               "</dd>\n";
    }
    out += "</dl>\n";
    for (const auto& p : report.stale_prices) {
        out += "<p class=\"warning\"><b>Warning:</b> the price of " + escape(p.model) + " is dated " + escape(p.date) +
               fmt::format(" ({} days old)", p.age_days) + "; check " + escape(p.source) + "</p>\n";
    }
    out += "<div class=\"plots\">\n" + cost_chart(cmp);
    if (report.usage) {
        out += spend_over_time_chart(report.usage->spend_by_tier);
        for (const auto& b : report.usage->breakdowns) {
            if (b.dimension == "key" || b.dimension.starts_with("label")) out += spend_bars(b);
        }
    }
    out += "</div>\n";

    for (const auto& section : sections(report)) {
        out += "<h2>" + escape(section.title) + "</h2>\n";
        if (!section.note.empty()) out += "<p>" + escape(section.note) + "</p>\n";
        out += html_table(section.rows);
    }
    return out + "</body></html>\n";
}

}  // namespace switchyard::report

namespace switchyard::report {

std::string to_markdown(const CostReport& report) {
    auto cell = [](const std::string& text) {
        std::string out;
        for (const char c : text) {
            if (c == '|') out += '\\';
            out += c == '\n' ? ' ' : c;
        }
        return out;
    };
    std::string out = "# switchyard cost\n\n";
    out += "- mode: " + report.mode + "\n- source: " + cell(report.source) + "\n";
    if (report.usage) {
        const Usage& u = *report.usage;
        out += "- period: " + format_utc(u.period.from_ms) + " to " + format_utc(u.period.to_ms) +
               fmt::format(" ({:.2f} days)\n", u.period.days());
        out += "- requests: " + format_count(static_cast<double>(u.total.requests)) + " (" +
               format_count(static_cast<double>(u.total.failed)) + " failed), spend " + format_usd(u.total.spend_usd) + "\n";
    }
    for (const auto& p : report.stale_prices) {
        out += fmt::format("- **warning**: the price of {} is dated {} ({} days old); check {}\n", cell(p.model), p.date,
                           p.age_days, cell(p.source));
    }
    for (const auto& section : sections(report)) {
        out += "\n## " + cell(section.title) + "\n\n";
        if (!section.note.empty()) out += cell(section.note) + "\n\n";
        for (std::size_t r = 0; r < section.rows.size(); ++r) {
            out += "|";
            for (const auto& text : section.rows[r]) out += " " + cell(text) + " |";
            out += "\n";
            if (r == 0) {
                out += "|";
                for (std::size_t c = 0; c < section.rows[0].size(); ++c) out += c == 0 ? " --- |" : " ---: |";
                out += "\n";
            }
        }
    }
    return out;
}

std::string write_report(const CostReport& report, std::string_view format, const std::string& only) {
    if (format == "json") return to_json(report);
    if (format == "markdown") return to_markdown(report);
    if (format == "html") return to_html(report);
    if (format == "csv") return to_csv(report, only);
    std::ostringstream out;
    print_table(out, report);
    return out.str();
}

}  // namespace switchyard::report
