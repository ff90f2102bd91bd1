// The `switchyard` command: `serve` runs the gateway, `check-config` validates a config file,
// `bench` load-tests an OpenAI-compatible endpoint (src/loadgen), `cost` reports spend and compares
// local with cloud (src/report), `ps` and `models` list the running gateway's engines and models (src/engine),
// `pull`, `list`, `show` and `rm` manage the model store (src/models).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "config/config.hpp"
#include "engine/ps.hpp"
#include "eval/run.hpp"
#include "loadgen/bench.hpp"
#include "models/command.hpp"
#include "report/command.hpp"
#include "report/format.hpp"
#include "report/ledger.hpp"
#include "server/server.hpp"

namespace {

using namespace switchyard;

int report_errors(const std::string& path, const config::LoadResult& result) {
    for (const auto& error : result.errors) std::cerr << path << ": " << config::to_string(error) << "\n";
    std::cerr << path << ": " << result.errors.size() << (result.errors.size() == 1 ? " error" : " errors") << "\n";
    return 1;
}

void write_ready_file(const std::string& path, const std::vector<std::uint16_t>& ports) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp);
        for (auto port : ports) out << port << "\n";
    }
    std::filesystem::rename(tmp, path);
}

void add_bench_options(CLI::App& cmd, loadgen::BenchOptions& o) {
    cmd.add_option("-u,--base-url", o.base_url, "OpenAI API base URL (http or https)")->capture_default_str();
    cmd.add_option("-m,--model", o.models, "Model(s), comma-separated; several give a comparison")
        ->required()
        ->delimiter(',');
    cmd.add_option("--endpoint", o.endpoint, "chat or completions")
        ->check(CLI::IsMember({"chat", "completions"}))
        ->capture_default_str();
    cmd.add_flag("--no-stream", o.no_stream, "Ask for whole responses instead of streams (no TTFT, TPOT or ITL)");
    cmd.add_flag("--no-usage", o.no_usage, "Do not send stream_options.include_usage");
    cmd.add_option("--api-key-env", o.api_key_env, "Environment variable holding the API key (sent as a Bearer token)");
    cmd.add_option("-H,--header", o.headers, "Extra request header 'Name: value' (repeatable)");
    cmd.add_flag("--insecure", o.insecure, "Do not verify the server's TLS certificate");
    cmd.add_option("--ca-file", o.ca_file, "PEM file of CA certificates to trust (default: the system's)");
    cmd.add_option("-c,--concurrency", o.concurrency, "Sessions in flight; a comma-separated list is a sweep")
        ->delimiter(',');
    cmd.add_option("-r,--rate", o.rate, "Sessions started per second (Poisson arrivals); a list is a sweep")
        ->delimiter(',');
    cmd.add_option("-n,--requests", o.requests, "Measured requests per run (default 100 without --duration)");
    cmd.add_option("-d,--duration", o.duration_s, "Measured seconds per run");
    cmd.add_option("--warmup", o.warmup, "Warm-up excluded from the metrics: N requests or Ns seconds")
        ->capture_default_str();
    cmd.add_option("--threads", o.threads, "I/O threads, one io_context each")->capture_default_str();
    cmd.add_option("--timeout", o.timeout_s, "Seconds before a request counts as timed out")->capture_default_str();
    cmd.add_option("--input-len", o.input_len,
                   "Prompt length in words: N, uniform:LO:HI, normal:MEAN:SD, exponential:MEAN")
        ->capture_default_str();
    cmd.add_option("--output-len", o.output_len, "max_tokens per request, same forms as --input-len")
        ->capture_default_str();
    cmd.add_option("--prefix-len", o.prefix_len, "Words of a system prompt shared by every session");
    cmd.add_option("--turns", o.turns, "Turns per session; each resends the conversation so far")->capture_default_str();
    cmd.add_option("--prompts", o.prompts_file, "JSONL file: {\"prompt\"}, {\"messages\"} or {\"turns\"} per line");
    cmd.add_option("--seed", o.seed, "Seed of prompts, lengths and arrivals")->capture_default_str();
    cmd.add_flag("--ignore-eos", o.ignore_eos, "Send ignore_eos (vLLM, llama.cpp) so completions run to max_tokens");
    cmd.add_option("--extra-body", o.extra_body, "JSON members added to every body, e.g. '\"temperature\":0'");
    cmd.add_option("--max-tokens-field", o.max_tokens_field, "Name of the output length field")->capture_default_str();
    cmd.add_option("--goodput", o.goodput, "Latency objectives in ms for goodput, e.g. ttft:500,tpot:50,e2el:5000");
    cmd.add_option("--prices", o.prices_file, "Price catalog (default: data/prices.yaml)");
    cmd.add_option("--price", o.price_overrides, "Price override MODEL=IN,OUT[,CACHED] in $ per million tokens");
    cmd.add_option("--json", o.json_path, "Write the results as JSON");
    cmd.add_option("--csv", o.csv_path, "Write the results as CSV");
    cmd.add_option("--html", o.html_path, "Write a self-contained HTML report with plots");
    cmd.add_option("--requests-file", o.requests_path, "Write one JSON line per request (times, tokens, error)");
    cmd.add_flag("--progress,!--no-progress", o.progress, "Live progress line on stderr (default: when a terminal)");
}

void add_cost_options(CLI::App& cmd, report::CostOptions& o) {
    cmd.add_option("-c,--config", o.config_path, "Gateway configuration whose ledger, prices and cost models to use");
    cmd.add_option("--scenario", o.scenario_path, "Plan from a scenario file instead of a ledger (see docs/cost.md)");
    cmd.add_option("--url", o.url, "Ask a running gateway instead (its ledger, prices and config; http only)");
    cmd.add_option("--key-env", o.key_env, "With --url: environment variable holding the master key")
        ->capture_default_str();
    cmd.add_option("--from", o.from, "Start of the period, UTC: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z (default: this month)");
    cmd.add_option("--to", o.to, "End of the period, UTC; a bare date includes that day (default: now)");
    cmd.add_option("--format", o.format, "Output format")
        ->check(CLI::IsMember({"table", "csv", "json", "html", "markdown"}))
        ->capture_default_str();
    cmd.add_option("--by", o.by, "Groupings, comma-separated: key, label, label:NAME, model, deployment, tier (default: all)");
    cmd.add_option("--cloud-model", o.cloud_model, "Catalog model for the all-cloud option (default: the most used one)");
    cmd.add_option("--prices", o.prices_file, "Price catalog (default: the config's, else data/prices.yaml)");
    cmd.add_option("-o,--output", o.output_path, "Write the report to this file instead of stdout");
    cmd.add_option("--local-throughput", o.local_throughput,
                   "Tokens/s one local machine serves (default: observed in the ledger, else 1000)")
        ->check(CLI::PositiveNumber);
    cmd.add_option("--utilization", o.utilization, "Busy share machines are sized for, 0.01 to 1 (default 0.5)")
        ->check(CLI::Range(0.01, 1.0));
    cmd.add_option("--hardware-usd", o.hardware_usd, "Price of one local machine")->check(CLI::NonNegativeNumber);
    cmd.add_option("--lifetime-months", o.lifetime_months, "Months the hardware is amortized over")
        ->check(CLI::Range(0.1, 1200.0));
    cmd.add_option("--power-watts", o.power_watts, "Average power draw of one machine")->check(CLI::NonNegativeNumber);
    cmd.add_option("--electricity-usd-per-kwh", o.electricity_usd_per_kwh, "Electricity price")
        ->check(CLI::NonNegativeNumber);
    cmd.add_option("--ops-usd-per-month", o.ops_usd_per_month, "Hosting, maintenance and people per machine a month")
        ->check(CLI::NonNegativeNumber);
    cmd.add_option("--years", o.years, "Years of the years table (default: the machines' lifetime)")
        ->check(CLI::Range(1, 50));
    cmd.add_option("--max-price-age", o.max_price_age_days, "Warn about a price used that is older than this many days")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd.add_option("--today", o.today, "The day prices are aged against, YYYY-MM-DD (default: today)");
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Switchyard: an OpenAI-compatible gateway for local and cloud LLMs"};
    app.require_subcommand(1);

    std::string config_path;
    std::string ready_file;
    std::string log_level = "info";
    auto* serve = app.add_subcommand("serve", "Run the gateway");
    serve->add_option("-c,--config", config_path, "Configuration file (YAML)")->required();
    serve->add_option("--ready-file", ready_file, "Write the bound port of each listener here once listening");
    serve->add_option("--log-level", log_level, "Log level")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
        ->capture_default_str();

    std::string check_path;
    auto* check = app.add_subcommand("check-config", "Validate a configuration file and report every error");
    check->add_option("config", check_path, "Configuration file (YAML)")->required();

    app.add_subcommand("version", "Print the version");

    loadgen::BenchOptions bench_options;
    auto* bench = app.add_subcommand("bench", "Load-test an OpenAI-compatible endpoint (see docs/bench.md)");
    add_bench_options(*bench, bench_options);
    std::string eval_path;
    std::string eval_markdown;
    bench->add_option("--eval", eval_path,
                      "JSONL task file: score each model's answers (accuracy, TTFT, price; see docs/bench.md)");
    bench->add_option("--markdown", eval_markdown, "With --eval: write the table as Markdown");

    report::CostOptions cost_options;
    auto* cost = app.add_subcommand("cost", "Spend by key, label, model; repricing; local versus cloud (see docs/cost.md)");
    add_cost_options(*cost, cost_options);

    engine::PsOptions ps_options;
    auto* ps = app.add_subcommand("ps", "The running gateway's engines: state, pid, memory, requests, uptime, restarts");
    ps->add_option("--url", ps_options.url, "The gateway's URL")->capture_default_str();
    ps->add_option("--key-env", ps_options.key_env, "Environment variable holding the master key")->capture_default_str();
    ps->add_flag("--json", ps_options.json, "Print the admin API's JSON instead of a table");
    engine::PsOptions models_options;
    auto* models = app.add_subcommand("models", "The running gateway's models: deployments, tier, health, in flight");
    models->add_option("--url", models_options.url, "The gateway's URL")->capture_default_str();
    models->add_option("--key-env", models_options.key_env, "Environment variable holding the master key")
        ->capture_default_str();
    models->add_flag("--json", models_options.json, "Print the admin API's JSON instead of a table");

    models::CommandOptions store_options;
    std::string pull_source, pull_as, pull_ca_file;
    auto* pull = app.add_subcommand("pull", "Download a GGUF model into the model store (see docs/engines.md)");
    pull->add_option("source", pull_source, "hf:ORG/REPO/FILE.gguf, hf:ORG/REPO:QUANT or an http(s) URL")->required();
    pull->add_option("--as", pull_as, "The model's name in the store (default: the file's)");
    pull->add_option("--ca-file", pull_ca_file, "PEM file of extra CA certificates to trust");
    auto* list = app.add_subcommand("list", "The models in the store: size, architecture, parameters, quantization, engines");
    auto* show = app.add_subcommand("show", "A model's GGUF header: metadata, tensors, memory estimate");
    show->add_option("model", store_options.target, "A store name or a .gguf path")->required();
    auto* rm = app.add_subcommand("rm", "Remove a model from the store (refused while an engine uses it)");
    rm->add_option("model", store_options.target, "A store name")->required();
    rm->add_flag("--force", store_options.force, "Remove it even when an engine of the config uses it");
    for (auto* cmd : {pull, list, show, rm}) {
        cmd->add_option("-c,--config", store_options.config_path, "Configuration: its models_dir and engines");
        cmd->add_option("--models-dir", store_options.models_dir, "The model store (default: see docs/engines.md)");
    }
    list->add_flag("--json", store_options.json, "JSON instead of a table");
    show->add_flag("--json", store_options.json, "JSON instead of text");

    CLI11_PARSE(app, argc, argv);

    if (app.got_subcommand("version")) {
        std::cout << "switchyard 0.1.0\n";
        return 0;
    }
    if (bench->parsed()) {
        if (!eval_path.empty()) return eval::run_eval(bench_options, eval_path, eval_markdown);
        return loadgen::run_bench(bench_options);
    }
    if (cost->parsed()) return report::run_cost(cost_options);
    if (ps->parsed()) return engine::run_ps(ps_options);
    if (models->parsed()) return engine::run_models(models_options);
    if (pull->parsed()) return models::run_pull(store_options, pull_source, pull_as, pull_ca_file);
    if (list->parsed()) return models::run_list(store_options);
    if (show->parsed()) return models::run_show(store_options);
    if (rm->parsed()) return models::run_rm(store_options);
    if (check->parsed()) {
        const auto result = config::load_file(check_path);
        if (!result.gateway) return report_errors(check_path, result);
        const auto& gateway = *result.gateway;
        std::cout << check_path << ": OK (" << gateway.listeners.size() << " listener(s), " << gateway.upstreams.size()
                  << " upstream(s), " << gateway.engines.size() << " engine(s), " << gateway.models.size()
                  << " model(s))\n";
        return 0;
    }

    spdlog::set_level(spdlog::level::from_str(log_level));
    // GET /admin/cost?format= writes reports as `switchyard cost` does (report/format).
    report::set_report_writer(&report::write_report);
    auto result = config::load_file(config_path);
    if (!result.gateway) return report_errors(config_path, result);
    try {
        server::Server gateway(std::move(*result.gateway), config_path);
        const auto ports = gateway.bind();
        for (auto port : ports) spdlog::info("listening on port {}", port);
        if (!ready_file.empty()) write_ready_file(ready_file, ports);
        return gateway.run();
    } catch (const std::exception& e) {
        spdlog::critical("cannot start: {}", e.what());
        return 1;
    }
}
