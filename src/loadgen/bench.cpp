#include "loadgen/bench.hpp"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include <fmt/format.h>

#include "loadgen/report.hpp"
#include "loadgen/runner.hpp"
#include "loadgen/workload.hpp"
#include "pricing/catalog.hpp"

namespace switchyard::loadgen {

namespace {

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
        std::cerr << "switchyard bench: cannot write " << path << "\n";
        return false;
    }
    return true;
}


// One JSON line per request of a run, for analysis elsewhere.
void write_requests(std::ofstream& out, const std::string& model, const Load& load, const Samples& samples) {
    const std::string model_json = json_quote(model);
    for (const RequestRecord& r : samples.requests) {
        const auto tpot = tpot_ms(r);
        out << fmt::format(R"({{"model":{},"load":{{"mode":"{}","value":{:g}}},"start_s":{:.6f},"due_s":{},"e2el_ms":{:.3f},)"
                           R"("ttft_ms":{},"tpot_ms":{},"itl_count":{},"input_tokens":{},"output_tokens":{},)"
                           R"("cached_tokens":{},"status":{},"error":{},"warmup":{}}})"
                           "\n",
                           model_json, load.mode == Load::Mode::concurrency ? "concurrency" : "rate", load.value,
                           r.start_s, r.due_s >= 0 ? fmt::format("{:.6f}", r.due_s) : "null", r.e2e_ms(), r.ttft_ms >= 0 ? fmt::format("{:.3f}", r.ttft_ms) : "null",
                           tpot ? fmt::format("{:.3f}", *tpot) : "null", r.itl_count, r.input_tokens, r.output_tokens,
                           r.cached_tokens, r.status, r.ok() ? "null" : json_quote(error_label(r)),
                           r.warmup ? "true" : "false");
    }
}

std::string join(const std::vector<double>& values) {
    std::string out;
    for (double v : values) {
        char text[32];
        std::snprintf(text, sizeof text, "%g", v);
        out += (out.empty() ? "" : ",") + std::string(text);
    }
    return out;
}

int fail(const std::string& message) {
    std::cerr << "switchyard bench: " << message << "\n";
    return 1;
}

// The options wrong whatever else is given: the first one's message.
std::optional<std::string> invalid_option(const BenchOptions& o) {
    if (o.models.empty()) return "--model is required";
    if (!o.concurrency.empty() && !o.rate.empty()) return "give --concurrency or --rate, not both";
    for (double c : o.concurrency) {
        if (c < 1) return "--concurrency values must be at least 1";
    }
    for (double r : o.rate) {
        if (!(r > 0)) return "--rate values must be positive";
    }
    if (!(o.timeout_s > 0)) return "--timeout must be positive";
    if (o.duration_s < 0) return "--duration must not be negative";
    return std::nullopt;
}

// What the workload writes: the command line's lengths, prompts file and extra body read; nullopt
// with the message in *why when one is wrong.
std::optional<WorkloadOptions> workload_options(const BenchOptions& o, std::string* why) {
    WorkloadOptions w;
    w.endpoint = o.endpoint == "completions" ? Endpoint::completions : Endpoint::chat;
    w.stream = !o.no_stream;
    w.include_usage = !o.no_usage;
    w.seed = o.seed;
    w.prefix_len = o.prefix_len;
    w.turns = std::max<std::uint32_t>(1, o.turns);
    w.ignore_eos = o.ignore_eos;
    w.extra_body = o.extra_body;
    w.max_tokens_field = o.max_tokens_field;
    auto input_len = LengthDistribution::parse(o.input_len, why);
    if (!input_len) {
        *why = "--input-len: " + *why;
        return std::nullopt;
    }
    auto output_len = LengthDistribution::parse(o.output_len, why);
    if (!output_len) {
        *why = "--output-len: " + *why;
        return std::nullopt;
    }
    w.input_len = *input_len;
    w.output_len = *output_len;
    if (!o.prompts_file.empty()) {
        auto entries = load_prompts_file(o.prompts_file, why);
        if (!entries) return std::nullopt;
        if (w.endpoint == Endpoint::completions) {
            for (const auto& entry : *entries) {
                if (!entry.messages.empty()) {
                    *why = o.prompts_file + ": \"messages\" lines need --endpoint chat";
                    return std::nullopt;
                }
            }
        }
        w.file = std::move(*entries);
    }
    if (!o.extra_body.empty()) {
        std::string trimmed = o.extra_body;
        while (!trimmed.empty() && (trimmed.front() == '{' || trimmed.front() == ' ')) trimmed.erase(0, 1);
        while (!trimmed.empty() && (trimmed.back() == '}' || trimmed.back() == ' ')) trimmed.pop_back();
        w.extra_body = trimmed;
    }
    return w;
}

struct Warmup {
    std::uint64_t requests = 0;
    double seconds = 0;
};

// --warmup: N requests or Ns seconds ("0": none); nullopt when it is neither.
std::optional<Warmup> parse_warmup(const std::string& warmup) {
    Warmup out;
    if (warmup.empty() || warmup == "0") return out;
    std::string_view text = warmup;
    const bool seconds = text.back() == 's';
    if (seconds) text.remove_suffix(1);
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value < 0) return std::nullopt;
    if (seconds) {
        out.seconds = value;
    } else {
        out.requests = static_cast<std::uint64_t>(value);
    }
    return out;
}

// Prices: the catalog, then --price overrides; nullopt once the problem is on stderr.
std::optional<pricing::Catalog> load_prices(const BenchOptions& o, const std::string& prices_file) {
    pricing::Catalog catalog;
    if (!prices_file.empty()) {
        auto loaded = pricing::load_catalog_file(prices_file);
        if (!loaded.catalog) {
            for (const auto& error : loaded.errors) std::cerr << prices_file << ": " << error << "\n";
            return std::nullopt;
        }
        catalog = std::move(*loaded.catalog);
    }
    std::string why;
    for (const auto& text : o.price_overrides) {
        auto parsed = pricing::parse_price_override(text, &why);
        if (!parsed) {
            fail("--price " + text + ": " + why);
            return std::nullopt;
        }
        catalog.set(parsed->first, parsed->second);
    }
    return catalog;
}

// The server the workload's endpoint is posted to, resolved once; nullopt once the problem is on stderr.
std::optional<Target> connect_target(const BenchOptions& o, const Workload& workload) {
    TargetOptions t;
    t.base_url = o.base_url;
    t.path = workload.options().endpoint == Endpoint::chat ? "/chat/completions" : "/completions";
    t.headers = o.headers;
    t.insecure = o.insecure;
    t.ca_file = o.ca_file;
    if (!o.api_key_env.empty()) {
        const char* key = std::getenv(o.api_key_env.c_str());
        if (key == nullptr || *key == '\0') {
            fail("--api-key-env: the environment variable " + o.api_key_env + " is not set");
            return std::nullopt;
        }
        t.api_key = key;
    }
    try {
        return make_target(t);
    } catch (const std::exception& e) {
        fail(e.what());
        return std::nullopt;
    }
}

// The load points of the sweep, one run per model at each.
std::vector<Load> load_points(const BenchOptions& o) {
    std::vector<Load> loads;
    if (!o.rate.empty()) {
        for (double r : o.rate) loads.push_back(Load{Load::Mode::rate, r});
    } else if (!o.concurrency.empty()) {
        for (double c : o.concurrency) loads.push_back(Load{Load::Mode::concurrency, c});
    } else {
        loads.push_back(Load{Load::Mode::concurrency, 1});
    }
    return loads;
}

// The report before its runs: what was asked for, which every output's header repeats.
BenchReport start_report(const BenchOptions& o, const Workload& workload, const Objectives& objectives,
                         std::uint64_t requests, const std::string& prices_file) {
    BenchReport report;
    report.started_at = utc_now();
    report.base_url = o.base_url;
    report.endpoint = o.endpoint;
    report.stream = !o.no_stream;
    report.objectives = objectives;
    auto& s = report.settings;
    s.emplace_back("models", [&] {
        std::string m;
        for (const auto& model : o.models) m += (m.empty() ? "" : ",") + model;
        return m;
    }());
    s.emplace_back(o.rate.empty() ? "concurrency" : "rate (sessions/s, Poisson)",
                   o.rate.empty() ? (o.concurrency.empty() ? "1" : join(o.concurrency)) : join(o.rate));
    if (requests > 0) s.emplace_back("requests per run", std::to_string(requests));
    if (o.duration_s > 0) s.emplace_back("duration per run (s)", join({o.duration_s}));
    s.emplace_back("warm-up", o.warmup);
    s.emplace_back("workload", o.prompts_file.empty() ? "synthetic" : "file " + o.prompts_file);
    if (o.prompts_file.empty()) {
        s.emplace_back("input length (words)", workload.options().input_len.describe());
        if (o.prefix_len > 0) s.emplace_back("shared prefix (words)", std::to_string(o.prefix_len));
        s.emplace_back("turns per session", std::to_string(workload.options().turns));
    }
    s.emplace_back("output length (max_tokens)", workload.options().output_len.describe());
    s.emplace_back("seed", std::to_string(o.seed));
    s.emplace_back("threads", std::to_string(o.threads));
    s.emplace_back("prices", prices_file.empty() ? "none" : prices_file);
    return report;
}

// One model at one load point: the run (`run` has all but the model and the load), its requests
// to --requests' file, and its summary, priced.
RunReport run_point(RunOptions run, const std::string& model, const Load& load, const Objectives& objectives,
                    const pricing::Catalog& catalog, std::ofstream& requests_out) {
    run.model = model;
    run.load = load;
    run.progress_label = model + " @ " + load.describe();
    RunResult result = run_load(run);
    if (requests_out.is_open()) write_requests(requests_out, model, load, result.samples);

    RunReport r;
    r.model = model;
    r.load = load;
    r.wall_s = result.wall_s;
    r.first_error = std::move(result.first_error);
    r.summary = summarize(result.samples, objectives);
    if (const pricing::Price* price = catalog.find(model)) {
        r.price = *price;
        r.cost_usd = price->cost(r.summary.input_tokens, r.summary.cached_tokens, r.summary.output_tokens);
    }
    if (r.summary.usage_missing > 0) {
        std::cerr << "switchyard bench: " << r.summary.usage_missing << " responses from " << model
                  << " carried no usage; their tokens are not counted (does the server support "
                     "stream_options.include_usage?)\n";
    }
    return r;
}

// --json, --csv and --html; false when one could not be written (the others still are).
bool write_outputs(const BenchOptions& o, const BenchReport& report) {
    bool written = true;
    if (!o.json_path.empty()) written &= write_file(o.json_path, to_json(report));
    if (!o.csv_path.empty()) written &= write_file(o.csv_path, to_csv(report));
    if (!o.html_path.empty()) written &= write_file(o.html_path, to_html(report));
    return written;
}

}  // namespace

int run_bench(const BenchOptions& o) {
    if (auto message = invalid_option(o)) return fail(*message);
    std::string why;
    auto options = workload_options(o, &why);
    if (!options) return fail(why);
    const Workload workload(std::move(*options));

    Objectives objectives;
    if (!o.goodput.empty()) {
        auto parsed = parse_objectives(o.goodput, &why);
        if (!parsed) return fail("--goodput: " + why);
        objectives = *parsed;
    }
    const auto warmup = parse_warmup(o.warmup);
    if (!warmup) return fail("--warmup: expected N (requests) or Ns (seconds)");
    const std::string prices_file = o.prices_file.empty() ? default_prices_file() : o.prices_file;
    const auto catalog = load_prices(o, prices_file);
    if (!catalog) return 1;
    const auto target = connect_target(o, workload);
    if (!target) return 1;

    const std::vector<Load> loads = load_points(o);
    const std::uint64_t requests = o.requests == 0 && o.duration_s <= 0 ? 100 : o.requests;
    BenchReport report = start_report(o, workload, objectives, requests, prices_file);
    std::ofstream requests_out;
    if (!o.requests_path.empty()) {
        requests_out.open(o.requests_path, std::ios::trunc);
        if (!requests_out) return fail("cannot write " + o.requests_path);
    }

    RunOptions run;  // what every run shares
    run.target = &*target;
    run.workload = &workload;
    run.requests = requests;
    run.duration_s = o.duration_s;
    run.warmup_requests = warmup->requests;
    run.warmup_s = warmup->seconds;
    run.threads = std::max(1u, o.threads);
    run.timeout_s = o.timeout_s;
    run.progress = o.progress > 0 || (o.progress == 0 && ::isatty(STDERR_FILENO));
    bool any_success = false;
    for (const auto& model : o.models) {
        for (const auto& load : loads) {
            RunReport r = run_point(run, model, load, objectives, *catalog, requests_out);
            any_success |= r.summary.completed > 0;
            report.runs.push_back(std::move(r));
        }
    }

    print_summary(std::cout, report);
    std::cout.flush();
    if (!write_outputs(o, report)) return 1;
    return any_success ? 0 : 2;
}

std::string utc_now() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

std::string default_prices_file() {
    for (const std::string& candidate :
         {std::string("data/prices.yaml"), std::string(SWITCHYARD_SOURCE_DIR) + "/data/prices.yaml"}) {
        std::error_code ec;
        if (std::filesystem::exists(candidate, ec)) return candidate;
    }
    return "";
}

}  // namespace switchyard::loadgen
