#include "eval/run.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "loadgen/bench.hpp"
#include "core/error.hpp"
#include "core/table.hpp"
#include "loadgen/client.hpp"
#include "loadgen/reader.hpp"
#include "loadgen/report.hpp"

namespace switchyard::eval {

namespace {

namespace asio = boost::asio;
using loadgen::Clock;

std::string json_string(std::string_view text) {
    std::string out;
    append_json_string(out, text);
    return out;
}

std::string json_number(const std::optional<double>& v) {
    if (!v || !std::isfinite(*v)) return "null";
    return fmt::format("{:.10g}", *v);
}

std::optional<double> median(std::vector<double> values) {
    if (values.empty()) return std::nullopt;
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// The text of a JSON string's inside as bench's reader hands it over (escapes and all).
std::string unescape(std::string_view raw) {
    std::string quoted = "\"";
    quoted.append(raw);
    quoted += '"';
    simdjson::dom::parser parser;
    std::string_view text;
    if (parser.parse(quoted).get_string().get(text) != simdjson::SUCCESS) return std::string(raw);
    return std::string(text);
}

using loadgen::default_prices_file;
using loadgen::utc_now;

std::string usd(const std::optional<double>& v) {
    if (!v) return "-";
    if (*v != 0 && std::abs(*v) < 0.01) {
        // Two significant digits, written out: $0.000015, not $1.5e-05.
        const int decimals = std::min(10, static_cast<int>(std::ceil(-std::log10(std::abs(*v)))) + 1);
        return fmt::format("${:.{}f}", *v, decimals);
    }
    return fmt::format("${:.2f}", *v);
}

std::string ms(const std::optional<double>& v) { return v ? fmt::format("{:.1f}", *v) : "-"; }

std::vector<std::vector<std::string>> model_rows(const EvalReport& report) {
    std::vector<std::vector<std::string>> rows{{"model", "tasks", "answered", "correct", "accuracy", "95% CI",
                                                "TTFT p50 ms", "ms/token", "$/M tokens", "cost", "$/correct"}};
    for (const auto& m : report.models) {
        rows.push_back({m.model, std::to_string(m.tasks), std::to_string(m.answered), std::to_string(m.correct),
                        fmt::format("{:.1f}%", m.accuracy * 100),
                        fmt::format("{:.1f}-{:.1f}%", m.accuracy_low * 100, m.accuracy_high * 100), ms(m.ttft_p50_ms),
                        ms(m.ms_per_output_token), usd(m.usd_per_million), usd(m.cost_usd), usd(m.usd_per_correct)});
    }
    return rows;
}

// One model's tasks, `concurrency` at a time, on one io_context.
class ModelRun {
public:
    ModelRun(const loadgen::Target& target, const loadgen::BenchOptions& o, const std::vector<Task>& tasks,
             const std::string& model, std::uint64_t max_tokens)
        : target_(target), options_(o), tasks_(tasks), model_(model), max_tokens_(max_tokens), sweep_(io_) {
        context_.t0 = Clock::now();
        context_.timeout = std::chrono::nanoseconds(static_cast<std::int64_t>(o.timeout_s * 1e9));
        context_.usage = &usage_;
        context_.itl_ms = &itl_;
        context_.collect_reply = true;
        results_.resize(tasks.size());
    }

    std::vector<TaskResult> run(unsigned concurrency) {
        const unsigned lanes = std::max(1u, std::min<unsigned>(concurrency, static_cast<unsigned>(tasks_.size())));
        for (unsigned i = 0; i < lanes; ++i) {
            lanes_.push_back(std::make_unique<Lane>(io_, target_));
            ++live_;
            asio::co_spawn(io_, lane(*lanes_.back()), asio::detached);
        }
        asio::co_spawn(io_, sweep(), asio::detached);
        io_.run();
        return std::move(results_);
    }

private:
    struct Lane {
        Lane(asio::io_context& io, const loadgen::Target& target) : connection(io, target) {}
        loadgen::Connection connection;
        loadgen::Scratch scratch;
    };

    void body(const Task& task, std::string& out) const {
        out = R"({"model":)" + json_string(model_) + R"(,"messages":)" + task.messages_json;
        out += fmt::format(R"(,"{}":{})", options_.max_tokens_field, max_tokens_);
        if (options_.no_stream) {
            out += R"(,"stream":false)";
        } else {
            out += R"(,"stream":true)";
            if (!options_.no_usage) out += R"(,"stream_options":{"include_usage":true})";
        }
        if (options_.extra_body.empty()) {
            out += R"(,"temperature":0)";
        } else {
            out += "," + options_.extra_body;
        }
        out += "}";
    }

    asio::awaitable<void> lane(Lane& l) {
        while (next_ < tasks_.size()) {
            const std::size_t index = next_++;
            const Task& task = tasks_[index];
            body(task, l.scratch.body);
            loadgen::RequestRecord record;
            co_await l.connection.exchange(l.scratch, context_, record);
            TaskResult& r = results_[index];
            r.task = task.id;
            r.ttft_ms = record.ttft_ms;
            r.e2e_ms = record.e2e_ms();
            r.input_tokens = record.input_tokens;
            r.output_tokens = record.output_tokens;
            if (!record.ok()) {
                r.why = record.error == loadgen::ErrorKind::http
                            ? fmt::format("HTTP {}: {}", record.status, l.scratch.response_body.substr(0, 200))
                            : (l.scratch.error.empty() ? std::string("request failed") : l.scratch.error);
                continue;
            }
            r.answered = true;
            const std::string answer = unescape(l.scratch.reply);
            const Verdict verdict = score(task, answer);
            r.correct = verdict.correct;
            r.why = verdict.why;
            r.answer = answer.substr(0, 500);
        }
        if (--live_ == 0) sweep_.cancel();
    }

    asio::awaitable<void> sweep() {
        while (live_ > 0) {
            sweep_.expires_after(std::chrono::milliseconds(50));
            boost::system::error_code ec;
            co_await sweep_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            const auto now = Clock::now();
            for (auto& l : lanes_) {
                if (l->connection.busy && now >= l->connection.deadline && !l->connection.timed_out) l->connection.expire();
            }
        }
        for (auto& l : lanes_) l->connection.close();
    }

    const loadgen::Target& target_;
    const loadgen::BenchOptions& options_;
    const std::vector<Task>& tasks_;
    const std::string& model_;
    std::uint64_t max_tokens_;
    asio::io_context io_{1};
    asio::steady_timer sweep_;
    loadgen::UsageReader usage_;
    std::vector<float> itl_;
    loadgen::Connection::Context context_;
    std::vector<std::unique_ptr<Lane>> lanes_;
    std::vector<TaskResult> results_;
    std::size_t next_ = 0;
    std::size_t live_ = 0;
};

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    out.flush();
    if (!out) {
        std::cerr << "switchyard bench --eval: cannot write " << path << "\n";
        return false;
    }
    return true;
}

std::string to_csv(const EvalReport& report) {
    std::string out = "model,task,answered,correct,ttft_ms,e2e_ms,input_tokens,output_tokens,why\n";
    auto field = [](const std::string& text) {
        if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
        std::string quoted = "\"";
        for (const char c : text) {
            if (c == '"') quoted += '"';
            quoted += c;
        }
        return quoted + "\"";
    };
    for (const auto& m : report.models) {
        for (const auto& r : m.results) {
            out += fmt::format("{},{},{},{},{},{:.3f},{},{},{}\n", field(m.model), field(r.task), r.answered ? 1 : 0,
                               r.correct ? 1 : 0, r.ttft_ms >= 0 ? fmt::format("{:.3f}", r.ttft_ms) : "", r.e2e_ms,
                               r.input_tokens, r.output_tokens, field(r.why));
        }
    }
    return out;
}

}  // namespace

void summarize(ModelResult& m) {
    m.tasks = m.results.size();
    m.answered = 0;
    m.correct = 0;
    m.input_tokens = 0;
    m.output_tokens = 0;
    std::vector<double> ttft, per_token;
    for (const auto& r : m.results) {
        m.input_tokens += r.input_tokens;
        m.output_tokens += r.output_tokens;
        if (!r.answered) continue;
        ++m.answered;
        if (r.correct) ++m.correct;
        if (r.ttft_ms >= 0) {
            ttft.push_back(r.ttft_ms);
            if (r.output_tokens > 1) per_token.push_back((r.e2e_ms - r.ttft_ms) / (r.output_tokens - 1));
        } else if (r.output_tokens > 0) {
            per_token.push_back(r.e2e_ms / r.output_tokens);
        }
    }
    m.accuracy = m.tasks ? static_cast<double>(m.correct) / static_cast<double>(m.tasks) : 0;
    std::tie(m.accuracy_low, m.accuracy_high) = wilson_interval(m.correct, m.tasks);
    m.ttft_p50_ms = median(ttft);
    m.ms_per_output_token = median(per_token);
    m.cost_usd.reset();
    m.usd_per_million.reset();
    m.usd_per_correct.reset();
    if (m.price) {
        m.cost_usd = m.price->cost(m.input_tokens, 0, m.output_tokens);
        if (m.input_tokens + m.output_tokens > 0) {
            m.usd_per_million = *m.cost_usd / static_cast<double>(m.input_tokens + m.output_tokens) * 1e6;
        }
        if (m.correct > 0) m.usd_per_correct = *m.cost_usd / static_cast<double>(m.correct);
    }
}

void print_text(std::ostream& out, const EvalReport& report) {
    out << fmt::format("{} tasks from {} against {} (concurrency {}); accuracy with its Wilson 95% interval\n",
                       report.tasks, report.tasks_path, report.base_url, report.concurrency);
    const auto rows = model_rows(report);
    TextTable table(rows[0]);
    for (std::size_t i = 1; i < rows.size(); ++i) table.add(rows[i]);
    table.print(out);
    for (const auto& m : report.models) {
        if (!m.price) out << "no price for " << m.model << " in " << (report.prices.empty() ? "no catalog" : report.prices) << "\n";
    }
}

std::string to_markdown(const EvalReport& report) {
    std::string out = fmt::format("{} tasks from `{}` against {} (concurrency {})\n\n", report.tasks, report.tasks_path,
                                  report.base_url, report.concurrency);
    const auto rows = model_rows(report);
    for (std::size_t r = 0; r < rows.size(); ++r) {
        out += "|";
        for (const auto& cell : rows[r]) {
            std::string escaped;
            for (const char c : cell) {
                if (c == '|') escaped += '\\';
                escaped += c;
            }
            out += " " + escaped + " |";
        }
        out += "\n";
        if (r == 0) {
            out += "|";
            for (std::size_t i = 0; i < rows[0].size(); ++i) out += i == 0 ? " --- |" : " ---: |";
            out += "\n";
        }
    }
    return out;
}

std::string to_json(const EvalReport& report) {
    std::string out = fmt::format(
        "{{\n  \"tool\": \"switchyard bench --eval\",\n  \"started_at\": {},\n  \"base_url\": {},\n  \"tasks_file\": {},\n"
        "  \"tasks\": {},\n  \"concurrency\": {},\n  \"prices\": {},\n  \"models\": [",
        json_string(report.started_at), json_string(report.base_url), json_string(report.tasks_path), report.tasks,
        report.concurrency, json_string(report.prices));
    for (std::size_t i = 0; i < report.models.size(); ++i) {
        const ModelResult& m = report.models[i];
        out += fmt::format(
            "{}\n    {{\"model\": {}, \"tasks\": {}, \"answered\": {}, \"correct\": {}, \"accuracy\": {}, "
            "\"accuracy_ci95\": [{}, {}], \"ttft_p50_ms\": {}, \"ms_per_output_token\": {}, \"input_tokens\": {}, "
            "\"output_tokens\": {}, \"cost_usd\": {}, \"usd_per_million_tokens\": {}, \"usd_per_correct\": {}, "
            "\"price\": {}, \"results\": [",
            i ? "," : "", json_string(m.model), m.tasks, m.answered, m.correct, json_number(m.accuracy),
            json_number(m.accuracy_low), json_number(m.accuracy_high), json_number(m.ttft_p50_ms),
            json_number(m.ms_per_output_token), m.input_tokens, m.output_tokens, json_number(m.cost_usd),
            json_number(m.usd_per_million), json_number(m.usd_per_correct),
            m.price ? fmt::format(R"({{"input": {}, "output": {}, "date": {}}})", json_number(m.price->input),
                                  json_number(m.price->output), json_string(m.price->date))
                    : std::string("null"));
        for (std::size_t j = 0; j < m.results.size(); ++j) {
            const TaskResult& r = m.results[j];
            out += fmt::format(
                "{}\n      {{\"task\": {}, \"answered\": {}, \"correct\": {}, \"ttft_ms\": {}, \"e2e_ms\": {}, "
                "\"input_tokens\": {}, \"output_tokens\": {}, \"why\": {}, \"answer\": {}}}",
                j ? "," : "", json_string(r.task), r.answered, r.correct,
                r.ttft_ms >= 0 ? json_number(r.ttft_ms) : "null", json_number(r.e2e_ms), r.input_tokens,
                r.output_tokens, json_string(r.why), json_string(r.answer));
        }
        out += "]}";
    }
    return out + "\n  ]\n}\n";
}

std::string to_html(const EvalReport& report) {
    using loadgen::svg::escape;
    std::string out = loadgen::html_page_start("switchyard bench --eval");
    out += "<dl>\n<dt>started</dt><dd>" + escape(report.started_at) + "</dd>\n<dt>target</dt><dd>" +
           escape(report.base_url) + "</dd>\n<dt>tasks</dt><dd>" + escape(report.tasks_path) +
           fmt::format(" ({} tasks, concurrency {})", report.tasks, report.concurrency) + "</dd>\n</dl>\n";
    out += loadgen::html_table(model_rows(report));
    std::vector<std::pair<std::string, double>> accuracy, per_correct;
    std::vector<loadgen::svg::Series> points;
    for (const auto& m : report.models) {
        accuracy.emplace_back(m.model, m.accuracy * 100);
        if (m.usd_per_correct) per_correct.emplace_back(m.model, *m.usd_per_correct);
        if (m.usd_per_million) points.push_back({m.model, {{*m.usd_per_million, m.accuracy * 100}}});
    }
    out += "<div class=\"plots\">\n" + loadgen::svg::bar_chart("Accuracy", "percent of tasks", accuracy);
    if (!per_correct.empty()) out += loadgen::svg::bar_chart("Cost per correct answer", "US dollars", per_correct);
    if (!points.empty()) {
        out += loadgen::svg::line_chart("Accuracy against price", "US dollars per million tokens", "accuracy (%)",
                                        points, true);
    }
    out += "</div>\n";
    for (const auto& m : report.models) {
        std::vector<std::vector<std::string>> rows{{"task", "correct", "TTFT ms", "e2e ms", "tokens out", "why", "answer"}};
        for (const auto& r : m.results) {
            rows.push_back({r.task, r.correct ? "yes" : (r.answered ? "no" : "error"),
                            r.ttft_ms >= 0 ? fmt::format("{:.1f}", r.ttft_ms) : "-", fmt::format("{:.1f}", r.e2e_ms),
                            std::to_string(r.output_tokens), r.why, r.answer.substr(0, 120)});
        }
        out += "<h2>" + escape(m.model) + "</h2>\n" + loadgen::html_table(rows);
    }
    return out + "</body></html>\n";
}

int run_eval(const loadgen::BenchOptions& o, const std::string& tasks_path, const std::string& markdown_path) {
    std::ifstream in(tasks_path);
    if (!in) {
        std::cerr << "switchyard bench --eval: cannot read " << tasks_path << "\n";
        return 1;
    }
    std::stringstream text;
    text << in.rdbuf();
    const TaskFile file = parse_tasks(text.str());
    if (!file.errors.empty()) {
        for (const auto& error : file.errors) std::cerr << tasks_path << ": " << error << "\n";
        return 1;
    }
    if (file.tasks.empty()) {
        std::cerr << tasks_path << ": no tasks\n";
        return 1;
    }
    std::uint64_t max_tokens = 256;
    if (!o.output_len.empty() && std::all_of(o.output_len.begin(), o.output_len.end(), ::isdigit)) {
        max_tokens = std::stoull(o.output_len);
    }
    loadgen::TargetOptions t;
    t.base_url = o.base_url;
    t.path = "/chat/completions";
    t.headers = o.headers;
    t.insecure = o.insecure;
    t.ca_file = o.ca_file;
    if (!o.api_key_env.empty()) {
        const char* key = std::getenv(o.api_key_env.c_str());
        if (key == nullptr || *key == '\0') {
            std::cerr << "switchyard bench --eval: --api-key-env: the environment variable " << o.api_key_env
                      << " is not set\n";
            return 1;
        }
        t.api_key = key;
    }
    std::optional<loadgen::Target> target;
    try {
        target = loadgen::make_target(t);
    } catch (const std::exception& e) {
        std::cerr << "switchyard bench --eval: " << e.what() << "\n";
        return 1;
    }
    EvalReport report;
    report.started_at = utc_now();
    report.base_url = o.base_url;
    report.tasks_path = tasks_path;
    report.tasks = file.tasks.size();
    report.concurrency = o.concurrency.empty() ? 1u : static_cast<unsigned>(std::max(1.0, o.concurrency.front()));
    report.prices = o.prices_file.empty() ? default_prices_file() : o.prices_file;
    pricing::Catalog catalog;
    if (!report.prices.empty()) {
        auto loaded = pricing::load_catalog_file(report.prices);
        if (!loaded.catalog) {
            for (const auto& error : loaded.errors) std::cerr << report.prices << ": " << error << "\n";
            return 1;
        }
        catalog = std::move(*loaded.catalog);
    }
    for (const auto& override_text : o.price_overrides) {
        std::string why;
        auto parsed = pricing::parse_price_override(override_text, &why);
        if (!parsed) {
            std::cerr << "switchyard bench --eval: --price " << override_text << ": " << why << "\n";
            return 1;
        }
        catalog.set(parsed->first, parsed->second);
    }
    std::size_t answered = 0;
    for (const auto& model : o.models) {
        ModelRun run(*target, o, file.tasks, model, max_tokens);
        ModelResult m;
        m.model = model;
        m.results = run.run(report.concurrency);
        if (const pricing::Price* price = catalog.find(model)) m.price = *price;
        summarize(m);
        answered += m.answered;
        report.models.push_back(std::move(m));
    }
    print_text(std::cout, report);
    bool written = true;
    if (!o.json_path.empty()) written = write_file(o.json_path, to_json(report)) && written;
    if (!o.csv_path.empty()) written = write_file(o.csv_path, to_csv(report)) && written;
    if (!o.html_path.empty()) written = write_file(o.html_path, to_html(report)) && written;
    if (!markdown_path.empty()) written = write_file(markdown_path, to_markdown(report)) && written;
    if (!written) return 1;
    return answered == 0 ? 2 : 0;
}

}  // namespace switchyard::eval
