// `switchyard bench --eval FILE`: each task of the file sent to each model through an
// OpenAI-compatible endpoint (bench's connection, src/loadgen/client.hpp), the answers scored
// (eval/task.hpp), and per model a table of accuracy with its 95% interval, TTFT, time per output
// token, price and cost per correct answer. Written as text, Markdown, JSON and HTML.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "eval/task.hpp"
#include "loadgen/bench.hpp"
#include "pricing/catalog.hpp"

namespace switchyard::eval {

struct TaskResult {
    std::string task;    // Task::id
    bool answered = false;  // a 200 with a whole answer
    bool correct = false;
    std::string why;     // the error, or why the answer was wrong
    std::string answer;  // the model's text (the first 500 bytes)
    double ttft_ms = -1; // streaming only
    double e2e_ms = 0;
    std::uint32_t input_tokens = 0;
    std::uint32_t output_tokens = 0;
};

struct ModelResult {
    std::string model;
    std::vector<TaskResult> results;
    std::optional<pricing::Price> price;

    // Filled by summarize():
    std::size_t tasks = 0;
    std::size_t answered = 0;
    std::size_t correct = 0;
    double accuracy = 0;  // correct / tasks (an unanswered task counts as wrong)
    double accuracy_low = 0, accuracy_high = 0;  // Wilson 95%
    std::optional<double> ttft_p50_ms;
    std::optional<double> ms_per_output_token;  // median over answers of (e2e - ttft) / (tokens - 1), or e2e / tokens
    std::uint64_t input_tokens = 0, output_tokens = 0;
    std::optional<double> cost_usd;              // at the catalog price
    std::optional<double> usd_per_million;       // cost / all tokens
    std::optional<double> usd_per_correct;       // cost / correct answers
};
// Fills the summary fields of `m` from its results and price.
void summarize(ModelResult& m);

struct EvalReport {
    std::string started_at;
    std::string base_url;
    std::string tasks_path;
    std::size_t tasks = 0;
    unsigned concurrency = 1;
    std::string prices;
    std::vector<ModelResult> models;
};

void print_text(std::ostream& out, const EvalReport& report);
std::string to_markdown(const EvalReport& report);
std::string to_json(const EvalReport& report);
std::string to_html(const EvalReport& report);

// Runs the tasks in `tasks_path` against every model of `options` (its base URL, key, headers,
// TLS, concurrency, timeout, output length, prices and --json/--csv/--html paths; CSV gets one line
// per task and model); `markdown_path` (optional) gets the Markdown table. Returns the exit status:
// 0, 1 for bad options or an unreadable task file, 2 when no task was answered.
int run_eval(const loadgen::BenchOptions& options, const std::string& tasks_path, const std::string& markdown_path);

}  // namespace switchyard::eval
