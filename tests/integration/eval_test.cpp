// `switchyard bench --eval` end to end: the real binary against switchyard-sim scripted with
// --answers, so that model "good" answers each task right (in the scorers' tolerated forms) and
// model "bad" answers each wrong; the table's numbers checked against the simulator's settings and
// the prices given. Also the example task sets parse and run.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <fstream>
#include <signal.h>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace switchyard::testing {
namespace {

struct EvalRun {
    int exit_code = -1;
    std::string output;    // stdout and stderr
    std::string json;      // --json
    std::string markdown;  // --markdown
    std::string html;      // --html
};

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

EvalRun run_eval(const std::vector<std::string>& args) {
    static int counter = 0;
    const std::string base = temp_dir() + "/eval-" + std::to_string(++counter);
    std::vector<std::string> argv{"bench",    "--no-progress", "--json", base + ".json",
                                  "--markdown", base + ".md",    "--html", base + ".html"};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandRun command = run_command("eval", argv, base + ".json");
    EvalRun run;
    run.exit_code = command.exit_code;
    run.output = std::move(command.log);
    run.json = std::move(command.file);
    run.markdown = slurp(base + ".md");
    run.html = slurp(base + ".html");
    return run;
}

double number(simdjson::dom::element e) {
    double d = 0;
    if (e.get_double().get(d) == simdjson::SUCCESS) return d;
    std::int64_t i = 0;
    if (e.get_int64().get(i) == simdjson::SUCCESS) return static_cast<double>(i);
    ADD_FAILURE() << "not a number: " << simdjson::to_string(e);
    return -1;
}

// One task of each scorer.
constexpr const char* kTasks = R"({"id":"exact","prompt":"Capital of France? One word.","expected":"Paris"}
{"id":"normalized","prompt":"Which city is the Big Apple?","expected":"New York","scorer":"normalized"}
{"id":"contains","prompt":"When is the meeting? ISO date.","expected":"2027-03-14","scorer":"contains"}
{"id":"regex","prompt":"Write 255 in hex.","expected":"^\\s*0[xX][fF]{2}\\s*$","scorer":"regex"}
{"id":"numeric","prompt":"Divide 10 by 3, two decimals.","expected":"3.33","scorer":"numeric","tolerance":0.005}
{"id":"json","prompt":"Extract the person as JSON.","scorer":"json","schema":{"required":{"name":"string","age":"integer"}},"expected":{"name":"Ada"}}
)";

// MODEL <TAB> prompt substring <TAB> answer. "good" answers in forms each scorer accepts; "bad" in
// forms each rejects (the JSON one with an age of the wrong type).
constexpr const char* kAnswers =
    "good\tCapital of France\tParis\n"
    "good\tBig Apple\t new york.\n"
    "good\tWhen is the meeting\tThe meeting is on 2027-03-14, at noon.\n"
    "good\tWrite 255 in hex\t0xff\n"
    "good\tDivide 10 by 3\tIt is about 3.333\n"
    "good\tExtract the person\t{\"name\": \"Ada\", \"age\": 36}\n"
    "bad\tCapital of France\tparis\n"
    "bad\tBig Apple\tNew York City\n"
    "bad\tWhen is the meeting\tThe meeting is on 2027-03-15.\n"
    "bad\tWrite 255 in hex\t255\n"
    "bad\tDivide 10 by 3\t3.4\n"
    "bad\tExtract the person\t{\"name\": \"Ada\", \"age\": \"36\"}\n";

TEST(Eval, ScorersAndTableAgainstTheScriptedSimulator) {
    const std::string answers = write_file("answers.tsv", kAnswers);
    const std::string tasks = write_file("tasks.jsonl", kTasks);
    Sim sim = start_sim({"--answers", answers, "--ttft-ms", "40", "--itl-ms", "5"});
    const auto run = run_eval({"--eval", tasks, "-u", sim.url() + "/v1", "-m", "good,bad", "-c", "3", "--price",
                               "good=1,2", "--price", "bad=0.5,1"});
    ASSERT_EQ(run.exit_code, 0) << run.output;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(run.json).get(root), simdjson::SUCCESS) << run.json;
    EXPECT_EQ(number(root["tasks"]), 6);
    auto good = root["models"].at(0);
    auto bad = root["models"].at(1);
    EXPECT_EQ(std::string(good["model"].get_string().value()), "good");

    // Each scorer: right for "good", wrong for "bad".
    for (std::size_t i = 0; i < 6; ++i) {
        auto g = good["results"].at(i);
        auto b = bad["results"].at(i);
        const std::string id(g["task"].get_string().value());
        EXPECT_TRUE(g["correct"].get_bool().value()) << id << ": " << simdjson::to_string(g);
        EXPECT_FALSE(b["correct"].get_bool().value()) << id << ": " << simdjson::to_string(b);
        EXPECT_TRUE(b["answered"].get_bool().value()) << id;
    }
    EXPECT_EQ(std::string(bad["results"].at(5)["why"].get_string().value()), "'age' is not integer");

    // The table: 6/6 with its Wilson interval (0.6097, 1), 0/6 with (0, 0.3903).
    EXPECT_EQ(number(good["correct"]), 6);
    EXPECT_EQ(number(good["accuracy"]), 1);
    EXPECT_NEAR(number(good["accuracy_ci95"].at(0)), 0.6097, 1e-4);
    EXPECT_NEAR(number(good["accuracy_ci95"].at(1)), 1.0, 1e-9);
    EXPECT_EQ(number(bad["correct"]), 0);
    EXPECT_NEAR(number(bad["accuracy_ci95"].at(1)), 0.3903, 1e-4);
    // Timing from the simulator's settings: TTFT 40 ms, 5 ms a token after it.
    EXPECT_GE(number(good["ttft_p50_ms"]), 40);
    EXPECT_LT(number(good["ttft_p50_ms"]), 300);
    EXPECT_GE(number(good["ms_per_output_token"]), 4.5);
    EXPECT_LT(number(good["ms_per_output_token"]), 60);
    // Prices: good $1 in, $2 out a million tokens; cost per correct answer = cost / 6.
    const double in = number(good["input_tokens"]), out = number(good["output_tokens"]);
    EXPECT_GT(in, 0);
    EXPECT_GT(out, 0);
    const double cost = (in * 1 + out * 2) / 1e6;
    EXPECT_NEAR(number(good["cost_usd"]), cost, 1e-12);
    EXPECT_NEAR(number(good["usd_per_million_tokens"]), cost / (in + out) * 1e6, 1e-9);
    EXPECT_NEAR(number(good["usd_per_correct"]), cost / 6, 1e-12);
    EXPECT_TRUE(bad["usd_per_correct"].is_null());  // nothing correct to divide by

    EXPECT_NE(run.output.find("good"), std::string::npos);
    EXPECT_NE(run.markdown.find("| good | 6 | 6 | 6 | 100.0% | 61.0-100.0% |"), std::string::npos) << run.markdown;
    EXPECT_NE(run.html.find("<svg"), std::string::npos);
    EXPECT_EQ(run.html.find("<script"), std::string::npos);
}

TEST(Eval, ExampleTaskSetsRunAndBadFilesAreRefused) {
    Sim sim = start_sim({"--tokens", "4"});
    for (const std::string set : {"arithmetic", "extraction"}) {
        const std::string path = std::string(SWITCHYARD_SOURCE_DIR) + "/examples/eval/" + set + ".jsonl";
        const auto run = run_eval({"--eval", path, "-u", sim.url() + "/v1", "-m", "sim-model", "-c", "4"});
        ASSERT_EQ(run.exit_code, 0) << run.output;
        simdjson::dom::parser parser;
        simdjson::dom::element root;
        ASSERT_EQ(parser.parse(run.json).get(root), simdjson::SUCCESS) << run.json;
        EXPECT_EQ(number(root["tasks"]), 20) << set;
        EXPECT_EQ(number(root["models"].at(0)["answered"]), 20) << set;
        EXPECT_EQ(number(root["models"].at(0)["correct"]), 0) << set;  // random words answer nothing right
    }
    const std::string bad = write_file("bad.jsonl", "{\"prompt\":\"p\"}\n");
    const auto run = run_eval({"--eval", bad, "-u", sim.url() + "/v1", "-m", "m"});
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_NE(run.output.find("line 1: needs 'expected'"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace switchyard::testing
