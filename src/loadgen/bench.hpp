// `switchyard bench`: the options as the command line gives them, and the run that turns them into
// a target, a workload, load points and reports. The command line itself lives in src/app/main.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace switchyard::loadgen {

struct BenchOptions {
    std::string base_url = "http://127.0.0.1:8080/v1";
    std::vector<std::string> models;
    std::string endpoint = "chat";  // chat | completions
    bool no_stream = false;
    bool no_usage = false;  // do not ask for stream_options.include_usage
    std::string api_key_env;
    std::vector<std::string> headers;
    bool insecure = false;
    std::string ca_file;

    std::vector<double> concurrency;  // sweep values; neither given: concurrency 1
    std::vector<double> rate;
    std::uint64_t requests = 0;  // neither requests nor duration: 100 requests
    double duration_s = 0;
    std::string warmup = "0";  // N requests or "Ns" seconds
    unsigned threads = 1;
    double timeout_s = 600;

    std::string input_len = "128";
    std::string output_len = "128";
    std::uint32_t prefix_len = 0;
    std::uint32_t turns = 1;
    std::string prompts_file;
    std::uint64_t seed = 0;
    bool ignore_eos = false;
    std::string extra_body;
    std::string max_tokens_field = "max_tokens";

    std::string goodput;
    std::string prices_file;  // empty: data/prices.yaml when found
    std::vector<std::string> price_overrides;

    std::string json_path;
    std::string csv_path;
    std::string html_path;
    std::string requests_path;  // one JSON line per request
    int progress = 0;  // 1: on, -1: off, 0: when stderr is a terminal
};

// Runs the benchmark and writes its reports; the summary goes to stdout, problems to stderr.
// Returns the process exit status: 0, 1 for bad options or an unreachable target, 2 when no
// request succeeded.
int run_bench(const BenchOptions& options);

// The time now, UTC, as 2026-12-07T07:15:00Z (a report's start).
std::string utc_now();
// data/prices.yaml in the working directory, else in the source tree the binary was built from;
// "" when neither is there. Also used by `switchyard cost` and `bench --eval`.
std::string default_prices_file();

}  // namespace switchyard::loadgen
