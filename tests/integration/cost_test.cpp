// `switchyard cost` end to end: a SQLite ledger written with known rows through ledger::open_store,
// the real binary run on a config that points at it (JSON and CSV checked number by number), and
// the scenario mode on examples/cost-scenario.yaml.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <signal.h>
#include <unistd.h>

#include "harness.hpp"
#include "ledger/store.hpp"

namespace switchyard::testing {
namespace {

struct CostRun {
    int exit_code = -1;
    std::string log;     // stdout and stderr
    std::string output;  // the -o file
};

CostRun run_cost(const std::vector<std::string>& args) {
    static int counter = 0;
    const std::string out_path = temp_dir() + "/cost-" + std::to_string(++counter) + ".out";
    std::vector<std::string> argv{"cost", "-o", out_path};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandRun run = run_command("cost", argv, out_path, {}, std::chrono::seconds(30));
    return {run.exit_code, std::move(run.log), std::move(run.file)};
}

constexpr std::int64_t kOct1 = 1790812800000;  // 2026-10-01T00:00:00Z
constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kDay = 24 * kHour;

ledger::Row make_row(std::int64_t ts, std::string key, std::string labels, std::string model, std::string deployment,
                     std::string upstream, int tier, bool local, std::int64_t prompt, std::int64_t cached,
                     std::int64_t completion, double cost, double total_ms) {
    ledger::Row r;
    r.ts_ms = ts;
    r.request_id = "req-" + std::to_string(ts);
    r.key = std::move(key);
    r.labels = std::move(labels);
    r.model = model;
    r.served_model = std::move(model);
    r.deployment = std::move(deployment);
    r.upstream = std::move(upstream);
    r.tier = tier;
    r.local = local;
    r.status = 200;
    r.prompt_tokens = prompt;
    r.cached_tokens = cached;
    r.completion_tokens = completion;
    r.cost_usd = cost;
    r.ttft_ms = 10;
    r.total_ms = total_ms;
    return r;
}

// A ledger with four rows in October 2026 and one in November, and a config pointing at it.
std::string write_ledger_and_config() {
    static std::string config_path;
    if (!config_path.empty()) return config_path;
    const std::string db = temp_dir() + "/ledger.db";
    {
        auto store = ledger::open_store("sqlite:" + db);
        store->migrate();
        std::vector<ledger::Row> rows;
        rows.push_back(make_row(kOct1 + 8 * kHour, "alice", R"({"team":"research"})", "test-cloud", "cloud-a", "cloud",
                                2, false, 1'000'000, 200'000, 100'000, 1.25, 900));
        rows.push_back(make_row(kOct1 + kDay + 12 * kHour, "bob", R"({"team":"ops"})", "llama", "box-a", "box", 1, true,
                                3'000'000, 0, 1'000'000, 0.5, 2000));
        // Overlaps the previous one by a second: the box is busy 3 s for both.
        rows.push_back(make_row(kOct1 + kDay + 12 * kHour + 1000, "alice", R"({"team":"research"})", "llama", "box-a",
                                "box", 1, true, 1'000'000, 0, 0, 0.25, 2000));
        auto failed = make_row(kOct1 + 9 * kDay, "bob", R"({"team":"ops"})", "test-cloud", "cloud-a", "cloud", 2, false,
                               0, 0, 0, 0, 50);
        failed.status = 502;
        failed.error = "upstream refused";
        rows.push_back(failed);
        // Outside the period asked for.
        rows.push_back(make_row(kOct1 + 32 * kDay, "carol", "{}", "test-cloud", "cloud-a", "cloud", 2, false, 5'000'000,
                                0, 0, 100, 100));
        store->insert(rows);
    }
    config_path = write_file("cost-config.yaml", R"(
listeners:
  - {address: 127.0.0.1, port: 0}
upstreams:
  - name: box
    type: llama-server
    base_url: http://127.0.0.1:9
    cost: {hardware_usd: 3600, lifetime_months: 36, power_watts: 500, electricity_usd_per_kwh: 0.20, ops_usd_per_month: 50}
  - name: cloud
    type: openai
    base_url: http://127.0.0.1:9
models:
  - name: llama
    deployments:
      - {upstream: box, model: llama}
      - {upstream: cloud, model: test-cloud, tier: 2}
ledger: )" + db + R"(
prices:
  models:
    test-cloud: {input: 1.0, cached_input: 0.25, output: 4.0}
)");
    return config_path;
}

double number(simdjson::dom::element e) {
    double d = 0;
    if (e.get_double().get(d) == simdjson::SUCCESS) return d;
    std::int64_t i = 0;
    if (e.get_int64().get(i) == simdjson::SUCCESS) return static_cast<double>(i);
    ADD_FAILURE() << "not a number: " << simdjson::to_string(e);
    return -1;
}

simdjson::dom::element named(simdjson::simdjson_result<simdjson::dom::element> result, const std::string& name) {
    simdjson::dom::array array;
    if (result.get_array().get(array) != simdjson::SUCCESS) {
        ADD_FAILURE() << "not an array, looking for " << name;
        return {};
    }
    for (auto item : array) {
        std::string_view n;
        if (item["name"].get_string().get(n) == simdjson::SUCCESS && n == name) return item;
        if (item["model"].get_string().get(n) == simdjson::SUCCESS && n == name) return item;
    }
    ADD_FAILURE() << "no entry named " << name << " in " << simdjson::to_string(array);
    return {};
}

TEST(Cost, LedgerReportAsJson) {
    const std::string config = write_ledger_and_config();
    const auto run = run_cost({"--config", config, "--from", "2026-10-01", "--to", "2026-10-30", "--format", "json"});
    ASSERT_EQ(run.exit_code, 0) << run.log;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(run.output).get(root), simdjson::SUCCESS) << run.output;

    EXPECT_DOUBLE_EQ(number(root["period"]["days"]), 30);  // --to includes the 30th
    auto totals = root["totals"];
    EXPECT_EQ(number(totals["requests"]), 4);  // November's row is outside
    EXPECT_EQ(number(totals["failed"]), 1);
    EXPECT_EQ(number(totals["prompt_tokens"]), 5'000'000);
    EXPECT_EQ(number(totals["cached_tokens"]), 200'000);
    EXPECT_EQ(number(totals["completion_tokens"]), 1'100'000);
    EXPECT_NEAR(number(totals["spend_usd"]), 2.0, 1e-9);

    auto alice = named(root["by"]["key"], "alice");
    EXPECT_EQ(number(alice["requests"]), 2);
    EXPECT_NEAR(number(alice["spend_usd"]), 1.5, 1e-9);
    EXPECT_NEAR(number(named(root["by"]["label:team"], "ops")["spend_usd"]), 0.5, 1e-9);
    EXPECT_EQ(number(named(root["by"]["model"], "llama")["prompt_tokens"]), 4'000'000);
    EXPECT_EQ(number(named(root["by"]["deployment"], "box-a")["requests"]), 2);
    EXPECT_EQ(number(named(root["by"]["tier"], "2")["requests"]), 2);

    // The config's price for test-cloud: 4.8M uncached at $1, 0.2M cached at $0.25, 1.1M out at $4.
    auto test_cloud = named(root["repricing"]["models"], "test-cloud");
    EXPECT_NEAR(number(test_cloud["cost_usd"]), 9.25, 1e-9);
    EXPECT_NEAR(number(test_cloud["ratio"]), 4.625, 1e-9);
    EXPECT_GT(root["repricing"]["models"].get_array().size(), 5u);  // and the shipped catalog

    // A month is 30.4375/30 of the period. The box: 3600/36 + 0.5 kW * 730.5 h * 0.20 + 50 = 223.05.
    const double scale = 30.4375 / 30;
    auto monthly = root["monthly"];
    EXPECT_NEAR(number(monthly["tokens"]["input"]), 5e6 * scale, 1e-3);
    EXPECT_EQ(monthly["reference"].get_string().value(), "all cloud (test-cloud)");
    auto options = monthly["options"];
    EXPECT_NEAR(number(named(options, "all cloud (test-cloud)")["monthly_usd"]), 9.25 * scale, 1e-6);
    auto local = named(options, "all local (box)");
    EXPECT_EQ(number(local["machines"]), 1);
    EXPECT_NEAR(number(local["monthly_usd"]), 223.05, 1e-6);
    EXPECT_TRUE(local["payback_months"].is_null());  // the box costs more to run than the cloud bill
    // Break-even: $223.05 / ($9.25 / 6.1M tokens) a month.
    EXPECT_NEAR(number(local["break_even_tokens_per_month"]), 223.05 / (9.25 / 6.1e6), 1);
    auto hybrid = named(options, "hybrid (as recorded)");
    EXPECT_NEAR(number(hybrid["monthly_usd"]), 1.25 * scale + 223.05, 1e-6);
    // Observed throughput: 5M local tokens in 3 busy seconds.
    EXPECT_NEAR(number(root["inputs"]["local throughput"]["value"]), 5e6 / 3, 1e-3);
}

TEST(Cost, FlagsOverrideTheCostModel) {
    const std::string config = write_ledger_and_config();
    const auto run = run_cost({"--config", config, "--from", "2026-10-01", "--to", "2026-10-30", "--format", "json",
                               "--local-throughput", "1", "--utilization", "1", "--hardware-usd", "7200",
                               "--ops-usd-per-month", "0", "--cloud-model", "gpt-4o-mini"});
    ASSERT_EQ(run.exit_code, 0) << run.log;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(run.output).get(root), simdjson::SUCCESS) << run.output;
    auto local = named(root["monthly"]["options"], "all local (box)");
    // 6.1M * 30.4375/30 tokens at 1 tok/s (2,629,800 a month): 3 machines of 7200/36 + 73.05.
    EXPECT_EQ(number(local["machines"]), 3);
    EXPECT_NEAR(number(local["monthly_usd"]), 3 * 273.05, 1e-6);
    EXPECT_NEAR(number(local["purchase_usd"]), 3 * 7200, 1e-6);
    EXPECT_EQ(root["monthly"]["reference"].get_string().value(), "all cloud (gpt-4o-mini)");
}

TEST(Cost, LedgerReportAsCsv) {
    const std::string config = write_ledger_and_config();
    auto run = run_cost({"--config", config, "--from", "2026-10-01", "--to", "2026-10-30", "--format", "csv",
                         "--by", "key"});
    ASSERT_EQ(run.exit_code, 0) << run.log;
    EXPECT_EQ(run.output,
              "key,requests,failed,prompt_tokens,cached_tokens,completion_tokens,spend_usd,usd_per_request\n"
              "alice,2,0,2000000,200000,100000,1.5,0.75\n"
              "bob,2,1,3000000,0,1000000,0.5,0.25\n");

    run = run_cost({"--config", config, "--from", "2026-10-01", "--to", "2026-10-30", "--format", "csv"});
    ASSERT_EQ(run.exit_code, 0) << run.log;
    EXPECT_NE(run.output.find("# totals\ntotal,requests,failed,prompt_tokens,cached_tokens,completion_tokens,spend_usd,"
                              "usd_per_request\ntotal,4,1,5000000,200000,1100000,2,0.5\n"),
              std::string::npos)
        << run.output;
    EXPECT_NE(run.output.find("\n# by label:team\n"), std::string::npos);
    EXPECT_NE(run.output.find("\ntest-cloud,1,0.25,4,9.25,4.625,7.25\n"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("\n# monthly\n"), std::string::npos);

    // The table format prints too.
    run = run_cost({"--config", config, "--from", "2026-10-01", "--to", "2026-10-30"});
    ASSERT_EQ(run.exit_code, 0) << run.log;
    EXPECT_NE(run.output.find("By key"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("$2.00"), std::string::npos);
}

TEST(Cost, RejectsBadInput) {
    const std::string config = write_ledger_and_config();
    auto run = run_cost({"--config", config, "--from", "October"});
    EXPECT_EQ(run.exit_code, 2);
    EXPECT_NE(run.log.find("--from"), std::string::npos) << run.log;
    run = run_cost({"--config", config, "--by", "team"});
    EXPECT_EQ(run.exit_code, 2);
    EXPECT_NE(run.log.find("unknown grouping 'team'"), std::string::npos) << run.log;
    run = run_cost({"--config", config, "--cloud-model", "no-such-model"});
    EXPECT_EQ(run.exit_code, 2);
    run = run_cost({});
    EXPECT_EQ(run.exit_code, 2);
    const std::string missing = write_file("cost-missing.yaml", R"(
listeners: [{address: 127.0.0.1, port: 0}]
upstreams: [{name: u, type: openai, base_url: "http://127.0.0.1:9"}]
models: [{name: m, deployments: [{upstream: u, model: m}]}]
ledger: )" + temp_dir() + "/nothing-here.db\n");
    run = run_cost({"--config", missing});
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_NE(run.log.find("does not exist"), std::string::npos) << run.log;
}

TEST(Cost, ScenarioFromTheExample) {
    const std::string example = std::string(SWITCHYARD_SOURCE_DIR) + "/examples/cost-scenario.yaml";
    auto run = run_cost({"--scenario", example, "--format", "json"});
    ASSERT_EQ(run.exit_code, 0) << run.log;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(run.output).get(root), simdjson::SUCCESS) << run.output;
    EXPECT_EQ(root["mode"].get_string().value(), "scenario");
    auto monthly = root["monthly"];
    EXPECT_DOUBLE_EQ(number(monthly["tokens"]["input"]), 2e9);
    EXPECT_DOUBLE_EQ(number(monthly["tokens"]["cached"]), 6e8);
    auto options = monthly["options"];
    EXPECT_EQ(options.get_array().size(), 9u);
    // 1.4B uncached at $0.20, 0.6B cached at $0.05, 0.4B out at $0.80.
    EXPECT_NEAR(number(named(options, "negotiated-provider")["monthly_usd"]), 630, 1e-6);
    // 2.4B tokens at 800 tok/s, half busy (1,051,920,000 a machine): 3 machines of
    // 3500/36 + 0.45 kW * 730.5 h * 0.15 + 60 = 206.5309722.
    auto box = named(options, "rtx-4090-box");
    EXPECT_EQ(number(box["machines"]), 3);
    EXPECT_NEAR(number(box["monthly_usd"]), 3 * (3500.0 / 36 + 0.45 * 730.5 * 0.15 + 60), 1e-6);
    auto rented = named(options, "h100-rented");
    EXPECT_EQ(number(rented["machines"]), 1);
    EXPECT_NEAR(number(rented["monthly_usd"]), 2.5 * 730.5, 1e-6);
    // Cheapest first.
    double previous = 0;
    for (auto option : options.get_array()) {
        const double monthly_usd = number(option["monthly_usd"]);
        EXPECT_GE(monthly_usd, previous);
        previous = monthly_usd;
    }

    run = run_cost({"--scenario", example});
    ASSERT_EQ(run.exit_code, 0) << run.log;
    EXPECT_NE(run.output.find("negotiated-provider"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("$630.00"), std::string::npos) << run.output;
    run = run_cost({"--scenario", example, "--format", "csv"});
    ASSERT_EQ(run.exit_code, 0) << run.log;
    EXPECT_EQ(run.output.rfind("# monthly\n", 0), 0u) << run.output;

    const std::string bad = write_file("bad-scenario.yaml", "tokens_per_month: {input: 1M, output: 1M}\ncloud:\n  - nope-model\n");
    run = run_cost({"--scenario", bad});
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_NE(run.log.find("line 3, column 5: model 'nope-model'"), std::string::npos) << run.log;
}

TEST(Cost, LedgerHybridShareAndYears) {
    const std::string config = write_ledger_and_config();
    auto run = run_cost({"--config", config, "--from", "2026-10-01", "--to", "2026-10-30", "--format", "json"});
    ASSERT_EQ(run.exit_code, 0) << run.log;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(run.output).get(root), simdjson::SUCCESS) << run.output;
    // Local rows carried 3M + 1M + 1M tokens, the cloud row 1.1M (the failed one none).
    auto hybrid = named(root["monthly"]["options"], "hybrid (as recorded)");
    EXPECT_NEAR(number(hybrid["local_share"]), 5.0 / 6.1, 1e-8);  // 8 decimals in JSON
    EXPECT_NEAR(number(hybrid["purchase_usd"]), 3600, 1e-9);
    // Three years: the box's 36 months.
    auto years = root["years"];
    EXPECT_EQ(number(years["years"]), 3);
    EXPECT_EQ(years["reference"].get_string().value(), "all cloud (test-cloud)");
    const double scale = 30.4375 / 30;
    auto recorded = named(years["options"], "hybrid (as recorded)");
    auto first = recorded["years"].at(0);
    EXPECT_NEAR(number(first["purchase_usd"]), 3600, 1e-9);
    EXPECT_NEAR(number(first["running_usd"]), 12 * 123.05, 1e-9);
    // The cloud bill avoided: all of it at test-cloud, less the cloud rows' own spend.
    EXPECT_NEAR(number(first["cloud_avoided_usd"]), 12 * (9.25 - 1.25) * scale, 1e-6);
    EXPECT_TRUE(recorded["payback_month"].is_null());  // running the box costs more than it avoids
    EXPECT_EQ(recorded["years"].get_array().size(), 3u);

    run = run_cost({"--config", config, "--from", "2026-10-01", "--to", "2026-10-30", "--format", "csv", "--years", "2"});
    ASSERT_EQ(run.exit_code, 0) << run.log;
    EXPECT_NE(run.output.find("\n# years\noption,kind,year,"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("\nhybrid (as recorded),hybrid,2,0,"), std::string::npos) << run.output;
    EXPECT_EQ(run.output.find("\nhybrid (as recorded),hybrid,3,"), std::string::npos) << run.output;
    run = run_cost({"--config", config, "--years", "0"});
    EXPECT_NE(run.exit_code, 0);
}

TEST(Cost, ScenarioHybridExample) {
    const std::string example = std::string(SWITCHYARD_SOURCE_DIR) + "/examples/cost-hybrid.yaml";
    auto run = run_cost({"--scenario", example, "--format", "json"});
    ASSERT_EQ(run.exit_code, 0) << run.log;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(run.output).get(root), simdjson::SUCCESS) << run.output;
    auto options = root["monthly"]["options"];
    // docs/cost.md's worked examples.
    EXPECT_NEAR(number(named(options, "box-70")["monthly_usd"]), 824.10, 1e-6);
    EXPECT_NEAR(number(named(options, "one-box")["monthly_usd"]), 792.7275, 1e-6);
    EXPECT_NEAR(number(named(options, "one-box")["local_share"]), 0.547875, 1e-9);
    EXPECT_EQ(named(options, "one-box-deepseek")["overflow_model"].get_string().value(), "deepseek-like");
    auto box = named(root["years"]["options"], "box");
    EXPECT_EQ(number(box["payback_month"]), 8);
    EXPECT_NEAR(number(box["total"]["saving_usd"]), 29300.40, 1e-6);
    EXPECT_EQ(number(named(root["years"]["options"], "one-box")["payback_month"]), 7);

    run = run_cost({"--scenario", example});
    ASSERT_EQ(run.exit_code, 0) << run.log;
    EXPECT_NE(run.output.find("Over 3 years against gpt-4.1-mini"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("$29,300.40"), std::string::npos) << run.output;
}


// "YYYY-MM-DD" of the UTC day `days` from today.
std::string utc_day(int days) {
    using namespace std::chrono;
    const auto day = floor<std::chrono::days>(system_clock::now()) + std::chrono::days(days);
    const year_month_day ymd{day};
    char text[16];
    std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()));
    return text;
}

// Every `<g class="mark" data-x="X"` in a page, X in order.
std::vector<double> mark_xs(const std::string& html) {
    std::vector<double> out;
    const std::string needle = R"(<g class="mark" data-x=")";
    for (auto pos = html.find(needle); pos != std::string::npos; pos = html.find(needle, pos + 1)) {
        out.push_back(std::stod(html.substr(pos + needle.size(), 32)));
    }
    return out;
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
    return n;
}

// Known traffic through the gateway into a SQLite ledger: tier 1 a simulator answering in 30 ms,
// tier 2 one answering in 150 ms, tier 3 one that fails every request. The report's service
// columns then say what the simulators were set to, and the HTML page draws it.
TEST(Cost, ServiceLevelsAndPageFromTrafficThroughTheSimulator) {
    Sim fast = start_sim({"--ttft-ms", "30", "--tokens", "4"});
    Sim slow = start_sim({"--ttft-ms", "150", "--tokens", "4"});
    Sim broken = start_sim({"--fault", "500"});
    const std::string db = temp_dir() + "/traffic.db";
    const std::string yaml = R"(
listeners: [{address: 127.0.0.1, port: 0}]
server: {shutdown_grace: 5s}
ledger:
  url: )" + db + R"(
  flush_interval: 100ms
prices:
  models:
    cloud-model: {input: 2.0, output: 8.0}
upstreams:
  - {name: fast, type: openai, base_url: )" + fast.url() + R"(/v1}
  - {name: slow, type: openai, base_url: )" + slow.url() + R"(/v1}
  - {name: broken, type: openai, base_url: )" + broken.url() + R"(/v1}
models:
  - name: fast
    deployments: [{upstream: fast, model: cloud-model, tier: 1}]
  - name: slow
    deployments: [{upstream: slow, model: cloud-model, tier: 2}]
  - name: broken
    deployments: [{upstream: broken, model: cloud-model, tier: 3}]
)";
    {
        Gateway gateway = start_gateway(yaml);
        for (int i = 0; i < 20; ++i) EXPECT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("fast")).status, 200);
        for (int i = 0; i < 8; ++i) EXPECT_EQ(post(gateway.port, "/v1/chat/completions", chat_body("slow")).status, 200);
        for (int i = 0; i < 3; ++i) EXPECT_GE(post(gateway.port, "/v1/chat/completions", chat_body("broken")).status, 500);
        ASSERT_EQ(gateway.process->stop(SIGTERM), 0);  // writes what is queued
    }
    const std::string config = write_file("traffic.yaml", yaml);
    const std::string from = utc_day(-1), to = utc_day(1);
    const std::vector<std::string> machine{"--hardware-usd", "3600", "--lifetime-months", "36", "--power-watts", "0",
                                           "--ops-usd-per-month", "0", "--local-throughput", "1000",
                                           "--cloud-model", "cloud-model"};
    std::vector<std::string> args{"--config", config, "--from", from, "--to", to, "--format", "json"};
    args.insert(args.end(), machine.begin(), machine.end());
    const auto run = run_cost(args);
    ASSERT_EQ(run.exit_code, 0) << run.log;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(run.output).get(root), simdjson::SUCCESS) << run.output;
    auto tier1 = named(root["service"]["tier"], "1");
    auto tier2 = named(root["service"]["tier"], "2");
    auto tier3 = named(root["service"]["tier"], "3");
    EXPECT_EQ(number(tier1["requests"]), 20);
    EXPECT_EQ(number(tier1["success_rate"]), 1);
    EXPECT_EQ(number(tier1["availability"]), 1);
    EXPECT_GE(number(tier1["ttft_ms"]["p50"]), 30 * 0.99);
    EXPECT_LT(number(tier1["ttft_ms"]["p50"]), 130);
    EXPECT_GE(number(tier1["latency_ms"]["p99"]), number(tier1["ttft_ms"]["p50"]) * 0.99);
    EXPECT_EQ(number(tier2["requests"]), 8);
    EXPECT_GE(number(tier2["ttft_ms"]["p50"]), 150 * 0.99);
    EXPECT_LT(number(tier2["ttft_ms"]["p50"]), 400);
    EXPECT_GE(number(tier2["latency_ms"]["p95"]), 150 * 0.99);
    EXPECT_EQ(number(tier3["requests"]), 3);
    EXPECT_EQ(number(tier3["success_rate"]), 0);
    EXPECT_EQ(number(tier3["availability"]), 0);  // its one minute (or two) had only failures
    EXPECT_TRUE(tier3["ttft_ms"]["p50"].is_null());
    EXPECT_EQ(number(named(root["service"]["deployment"], "fast")["requests"]), 20);
    const double break_even = number(named(root["monthly"]["options"], "all local (local)")["break_even_tokens_per_month"]);
    EXPECT_GT(break_even, 0);

    // The page: self-contained, every chart an SVG, the break-even ring at the JSON's volume.
    args = {"--config", config, "--from", from, "--to", to, "--format", "html"};
    args.insert(args.end(), machine.begin(), machine.end());
    const auto page = run_cost(args);
    ASSERT_EQ(page.exit_code, 0) << page.log;
    const std::string& html = page.output;
    EXPECT_TRUE(html.starts_with("<!DOCTYPE html>"));
    EXPECT_TRUE(html.ends_with("</body></html>\n"));
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_EQ(count_of(html, "src=\""), 0u);  // nothing fetched: no image, script or frame
    EXPECT_EQ(count_of(html, "<link"), 0u);
    EXPECT_EQ(count_of(html, "<svg"), count_of(html, "</svg>"));
    EXPECT_GE(count_of(html, "<svg"), 3u);  // cost against volume, spend over time, spend by key
    EXPECT_NE(html.find("Monthly cost against monthly volume"), std::string::npos);
    EXPECT_NE(html.find("Spend over time by tier"), std::string::npos);
    EXPECT_NE(html.find("Spend by key"), std::string::npos);
    EXPECT_NE(html.find("<h2>Service by tier</h2>"), std::string::npos);
    const auto xs = mark_xs(html);
    ASSERT_FALSE(xs.empty()) << html;
    EXPECT_NEAR(xs.front(), break_even / 1e6, break_even / 1e6 * 1e-5);

    // The page in a real browser, when there is one: it loads, with every chart in the DOM.
    for (const std::string browser : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
        if (access(browser.c_str(), X_OK) != 0) continue;
        const std::string file = temp_dir() + "/cost-page.html";
        std::ofstream(file) << html;
        Process chromium("chromium", {browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                                      "file://" + file});
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (chromium.running() && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        const auto status = chromium.stop(SIGKILL);
        ASSERT_EQ(status, 0) << chromium.log();
        const std::string dom = chromium.log();
        EXPECT_EQ(count_of(dom, "<svg"), count_of(html, "<svg")) << dom.substr(0, 2000);
        EXPECT_EQ(count_of(dom, "class=\"mark\""), xs.size());
        EXPECT_EQ(dom.find("Uncaught"), std::string::npos);
        break;
    }
}


// `switchyard cost --url`: a running gateway computes the report on its own ledger, prices and
// config (GET /admin/cost?format=...), and it is the report `--config` writes on the same ledger,
// byte for byte, in every format, with the same groupings and overrides. Errors are the command's.
TEST(Cost, AskedOfARunningGatewayItIsTheSameReport) {
    const std::string db = temp_dir() + "/remote-ledger.db";
    {
        auto store = ledger::open_store("sqlite:" + db);
        store->migrate();
        const std::vector<ledger::Row> rows{
            make_row(kOct1 + 8 * kHour, "alice", R"({"team":"research"})", "test-cloud", "cloud-a", "cloud", 2, false,
                     1'000'000, 200'000, 100'000, 1.25, 900),
            make_row(kOct1 + kDay, "bob", R"({"team":"ops"})", "llama", "box-a", "box", 1, true, 3'000'000, 0, 1'000'000,
                     0.5, 2000)};
        store->insert(rows);
    }
    const std::string master = "sk-master-remote-cost-01";
    const std::string yaml = R"(
listeners: [{address: 127.0.0.1, port: 0}]
auth: {master_key: )" + master + R"(}
upstreams:
  - name: box
    type: llama-server
    base_url: http://127.0.0.1:9
    cost: {hardware_usd: 3600, lifetime_months: 36, power_watts: 500, electricity_usd_per_kwh: 0.20, ops_usd_per_month: 50}
  - {name: cloud, type: openai, base_url: http://127.0.0.1:9}
models:
  - name: llama
    deployments: [{upstream: box, model: llama}, {upstream: cloud, model: test-cloud, tier: 2}]
ledger: )" + db + R"(
prices:
  catalog: )" + std::string(SWITCHYARD_SOURCE_DIR) + R"(/data/prices.yaml
  models:
    test-cloud: {input: 1.0, cached_input: 0.25, output: 4.0}
)";
    Gateway gateway = start_gateway(yaml);
    const std::string& config = gateway.config_path;  // the command reads the file the gateway read
    const std::string url = "http://127.0.0.1:" + std::to_string(gateway.port);
    const std::map<std::string, std::string> env{{"SWITCHYARD_MASTER_KEY", master}};
    const auto remote = [&](std::vector<std::string> args) {
        static int counter = 0;
        const std::string out_path = temp_dir() + "/remote-cost-" + std::to_string(++counter) + ".out";
        std::vector<std::string> argv{"cost", "-o", out_path, "--url", url};
        argv.insert(argv.end(), args.begin(), args.end());
        CommandRun run = run_command("cost", argv, out_path, env, std::chrono::seconds(30));
        return CostRun{run.exit_code, std::move(run.log), std::move(run.file)};
    };
    const std::vector<std::string> period{"--from", "2026-10-01", "--to", "2026-10-31", "--today", "2026-12-01"};
    // The report `--config` writes with these flags after the period, and the gateway's: the same.
    const auto same_report = [&](const std::vector<std::string>& flags) {
        std::vector<std::string> args = period;
        args.insert(args.end(), flags.begin(), flags.end());
        std::vector<std::string> local_args{"--config", config};
        local_args.insert(local_args.end(), args.begin(), args.end());
        const CostRun local = run_cost(local_args);
        EXPECT_EQ(local.exit_code, 0) << local.log;
        const CostRun asked = remote(args);
        EXPECT_EQ(asked.exit_code, 0) << asked.log;
        EXPECT_EQ(asked.output, local.output);
        return asked.output;
    };
    for (const std::string format : {"json", "table", "csv", "markdown", "html"}) {
        SCOPED_TRACE(format);
        same_report({"--format", format});
    }
    // One grouping as CSV, and the cost model's overrides, as the flags give them.
    const std::string by_team = same_report({"--by", "label:team", "--format", "csv", "--hardware-usd", "9000",
                                             "--utilization", "0.25", "--years", "2", "--cloud-model", "test-cloud"});
    EXPECT_NE(by_team.find("research"), std::string::npos) << by_team;

    // The gateway's refusals reach the command's caller; a wrong key is refused.
    std::vector<std::string> args = period;
    args.insert(args.end(), {"--cloud-model", "no-such-model"});
    const CostRun unknown = remote(args);
    EXPECT_EQ(unknown.exit_code, 1);
    EXPECT_NE(unknown.log.find("no-such-model"), std::string::npos) << unknown.log;
    const Response wrong = get(gateway.port, "/admin/cost?format=json", {{"authorization", "Bearer sk-wrong"}});
    EXPECT_EQ(wrong.status, 401);
    const Response bad = get(gateway.port, "/admin/cost?format=pdf", {{"authorization", "Bearer " + master}});
    EXPECT_EQ(bad.status, 400);
    EXPECT_NE(bad.body.find(R"("param":"format")"), std::string::npos) << bad.body;
    const CostRun both = run_cost({"--config", config, "--url", url});
    EXPECT_EQ(both.exit_code, 2);
    EXPECT_NE(both.log.find("give one of"), std::string::npos) << both.log;
}

// A price older than --max-price-age is named with its date, aged against --today; one given in
// the scenario itself has no date and is not aged.
TEST(Cost, WarnsAboutOldPrices) {
    const std::string prices = write_file("dated-prices.yaml", R"(
models:
  old-model: {input: 1.0, output: 2.0, date: 2026-06-01, source: "https://example.com/old"}
  new-model: {input: 1.0, output: 2.0, as_of: 2026-12-01, source: "https://example.com/new"}
)");
    const std::string scenario = write_file("dated-scenario.yaml", R"(
tokens_per_month: {input: 10M, output: 1M}
prices: )" + prices + R"(
cloud:
  - old-model
  - new-model
  - {name: own-price, input: 0.5, output: 1.0}
)");
    auto run = run_cost({"--scenario", scenario, "--today", "2026-12-07", "--format", "json"});
    ASSERT_EQ(run.exit_code, 0) << run.log;
    EXPECT_NE(run.log.find("warning: the price of old-model is dated 2026-06-01 (189 days old, more than 90)"),
              std::string::npos)
        << run.log;
    EXPECT_NE(run.log.find("https://example.com/old"), std::string::npos);
    EXPECT_EQ(run.log.find("new-model"), std::string::npos) << run.log;  // 6 days old
    EXPECT_EQ(run.log.find("own-price"), std::string::npos) << run.log;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(run.output).get(root), simdjson::SUCCESS) << run.output;
    EXPECT_EQ(number(named(root["stale_prices"], "old-model")["age_days"]), 189);

    run = run_cost({"--scenario", scenario, "--today", "2026-12-07", "--max-price-age", "189"});
    ASSERT_EQ(run.exit_code, 0) << run.log;
    EXPECT_EQ(run.log.find("warning"), std::string::npos) << run.log;
    run = run_cost({"--scenario", scenario, "--today", "2026-12-07", "--max-price-age", "5"});
    EXPECT_NE(run.log.find("the price of new-model is dated 2026-12-01 (6 days old, more than 5)"), std::string::npos)
        << run.log;
    run = run_cost({"--scenario", scenario, "--today", "December"});
    EXPECT_EQ(run.exit_code, 2);
    EXPECT_NE(run.log.find("--today: expected YYYY-MM-DD"), std::string::npos) << run.log;
}

}  // namespace
}  // namespace switchyard::testing
