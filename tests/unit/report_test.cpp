// `switchyard cost` (src/report): ledger rows summed by group and period, repricing, the cost-model
// and break-even arithmetic against hand-computed values, the scenario parser's located errors,
// and the three output formats.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "report/cost.hpp"
#include "report/format.hpp"
#include "report/ledger.hpp"
#include "report/scenario.hpp"

namespace switchyard::report {
namespace {

// One of a scenario's errors contains `text`.
bool has_error(const std::vector<std::string>& errors, const std::string& text) {
    return std::any_of(errors.begin(), errors.end(),
                       [&](const std::string& e) { return e.find(text) != std::string::npos; });
}

ledger::Row row(std::int64_t ts, std::string key, std::string labels, std::string model, std::string deployment,
                int tier, std::int64_t prompt, std::int64_t cached, std::int64_t completion, double cost) {
    ledger::Row r;
    r.ts_ms = ts;
    r.key = std::move(key);
    r.labels = std::move(labels);
    r.model = model;
    r.served_model = std::move(model);
    r.deployment = deployment;
    r.upstream = std::move(deployment);
    r.tier = tier;
    r.status = 200;
    r.prompt_tokens = prompt;
    r.cached_tokens = cached;
    r.completion_tokens = completion;
    r.cost_usd = cost;
    return r;
}

const Group* find(const Usage& usage, const std::string& dimension, const std::string& name) {
    for (const auto& b : usage.breakdowns) {
        if (b.dimension != dimension) continue;
        for (const auto& g : b.groups) {
            if (g.name == name) return &g;
        }
    }
    return nullptr;
}

std::vector<ledger::Row> sample_rows() {
    std::vector<ledger::Row> rows;
    rows.push_back(row(1000, "alice", R"({"team":"research","user":"alice"})", "gpt-4o-mini", "cloud", 2, 100, 20, 50, 0.25));
    rows.push_back(row(2000, "alice", R"({"team":"research","user":"alice"})", "llama", "box", 1, 300, 0, 100, 0.5));
    rows.push_back(row(3000, "bob", R"({"team":"ops"})", "llama", "box", 1, 1000, 500, 200, 1.0));
    rows.push_back(row(4000, "", "{}", "gpt-4o-mini", "cloud", 2, 10, 0, 5, 0.125));
    rows[1].local = rows[2].local = true;
    rows[3].status = 502;
    return rows;
}

TEST(CostAggregate, SumsEachGroup) {
    Aggregator aggregator({0, 10'000}, default_dimensions());
    for (const auto& r : sample_rows()) aggregator.add(r);
    const Usage u = aggregator.finish();
    EXPECT_EQ(u.total.requests, 4u);
    EXPECT_EQ(u.total.failed, 1u);
    EXPECT_EQ(u.total.tokens.prompt, 1410);
    EXPECT_EQ(u.total.tokens.cached, 520);
    EXPECT_EQ(u.total.tokens.completion, 355);
    EXPECT_DOUBLE_EQ(u.total.spend_usd, 1.875);

    const Group* alice = find(u, "key", "alice");
    ASSERT_NE(alice, nullptr);
    EXPECT_EQ(alice->requests, 2u);
    EXPECT_EQ(alice->tokens.prompt, 400);
    EXPECT_DOUBLE_EQ(alice->spend_usd, 0.75);
    ASSERT_NE(find(u, "key", "(none)"), nullptr);  // unauthenticated rows
    EXPECT_EQ(find(u, "key", "(none)")->failed, 1u);

    EXPECT_EQ(find(u, "model", "llama")->tokens.completion, 300);
    EXPECT_DOUBLE_EQ(find(u, "model", "gpt-4o-mini")->spend_usd, 0.375);
    EXPECT_EQ(find(u, "deployment", "box")->requests, 2u);
    EXPECT_EQ(find(u, "tier", "2")->tokens.prompt, 110);

    // Most spend first.
    ASSERT_EQ(u.breakdowns[0].dimension, "key");
    EXPECT_EQ(u.breakdowns[0].groups[0].name, "bob");

    EXPECT_EQ(u.local.requests, 2u);
    EXPECT_DOUBLE_EQ(u.cloud.spend_usd, 0.375);
    ASSERT_EQ(u.cloud_models.size(), 1u);
    EXPECT_EQ(u.cloud_models[0].name, "gpt-4o-mini");
    ASSERT_EQ(u.local_upstreams.size(), 1u);
    EXPECT_EQ(u.local_upstreams[0].name, "box");
}

TEST(CostAggregate, GroupsByEachLabel) {
    Aggregator aggregator({0, 10'000}, {{Dimension::Kind::label, {}}, {Dimension::Kind::label, "team"}});
    for (const auto& r : sample_rows()) aggregator.add(r);
    const Usage u = aggregator.finish();
    // label (all): one table per label name, in name order, then label:team as asked.
    ASSERT_EQ(u.breakdowns.size(), 3u);
    EXPECT_EQ(u.breakdowns[0].dimension, "label:team");
    EXPECT_EQ(u.breakdowns[1].dimension, "label:user");
    EXPECT_EQ(u.breakdowns[2].dimension, "label:team");
    EXPECT_EQ(find(u, "label:team", "research")->requests, 2u);
    EXPECT_DOUBLE_EQ(find(u, "label:team", "ops")->spend_usd, 1.0);
    // Rows without the label are counted under "(none)", so each table sums to the total.
    const Group* no_user = find(u, "label:user", "(none)");
    ASSERT_NE(no_user, nullptr);
    EXPECT_EQ(no_user->requests, 2u);
    EXPECT_EQ(no_user->tokens.prompt, 1010);
    EXPECT_DOUBLE_EQ(no_user->spend_usd, 1.125);
    EXPECT_EQ(u.breakdowns[2].groups.size(), 3u);  // research, ops, (none)
}

TEST(CostAggregate, KeepsOnlyThePeriod) {
    Aggregator aggregator({2000, 4000}, {{Dimension::Kind::key, {}}});
    for (const auto& r : sample_rows()) aggregator.add(r);
    const Usage u = aggregator.finish();
    EXPECT_EQ(u.total.requests, 2u);  // ts 2000 and 3000: from inclusive, to exclusive
    EXPECT_DOUBLE_EQ(u.total.spend_usd, 1.5);
    EXPECT_EQ(find(u, "key", "(none)"), nullptr);
}

TEST(CostAggregate, LocalBusyTimeIsTheUnionOfRequests) {
    Aggregator aggregator({0, 100'000}, {});
    auto local = [&](std::int64_t ts, double total_ms, const std::string& deployment, std::int64_t tokens) {
        auto r = row(ts, "k", "{}", "llama", deployment, 1, tokens, 0, 0, 0);
        r.local = true;
        r.total_ms = total_ms;
        aggregator.add(r);
    };
    local(0, 1000, "a", 100);
    local(500, 1000, "a", 100);   // overlaps: a is busy 0..1500
    local(3000, 1000, "a", 100);  // +1 s
    local(0, 1000, "b", 400);     // another machine: +1 s
    const Usage u = aggregator.finish();
    EXPECT_DOUBLE_EQ(u.local_busy_seconds, 3.5);
    ASSERT_TRUE(u.local_tokens_per_second());
    EXPECT_DOUBLE_EQ(*u.local_tokens_per_second(), 700 / 3.5);
}

TEST(CostAggregate, ParsesGroupingsAndLabels) {
    std::string why;
    const auto dims = parse_dimensions("key, label:team,model,deployment,tier,label", &why);
    ASSERT_TRUE(dims) << why;
    ASSERT_EQ(dims->size(), 6u);
    EXPECT_EQ((*dims)[1].title(), "label:team");
    EXPECT_EQ((*dims)[5].title(), "label");
    EXPECT_FALSE(parse_dimensions("key,modle", &why));
    EXPECT_NE(why.find("modle"), std::string::npos);
    EXPECT_FALSE(parse_dimensions("label:", &why));

    const auto labels = parse_labels(R"({"team":"re\"search","n":3})");
    EXPECT_EQ(labels.at("team"), "re\"search");
    EXPECT_EQ(labels.at("n"), "3");
    EXPECT_TRUE(parse_labels("").empty());
    EXPECT_TRUE(parse_labels("{not json").empty());
}

TEST(CostReprice, PricesTheSameTokensUnderEachModel) {
    pricing::Catalog catalog;
    catalog.set("a", {1.0, 0.5, 4.0, "d", "s"});
    catalog.set("b", {0.1, 0.1, 0.2, "d", "s"});
    const Tokens tokens{1'000'000, 200'000, 100'000};
    const auto repriced = reprice(tokens, catalog, 2.6);
    ASSERT_EQ(repriced.size(), 2u);
    // b: 1M prompt at 0.1 + 0.1M completion at 0.2 = 0.12; a: 0.8M*1 + 0.2M*0.5 + 0.1M*4 = 1.3.
    EXPECT_EQ(repriced[0].model, "b");
    EXPECT_NEAR(repriced[0].cost_usd, 0.12, 1e-12);
    EXPECT_EQ(repriced[1].model, "a");
    EXPECT_NEAR(repriced[1].cost_usd, 1.3, 1e-12);
    ASSERT_TRUE(repriced[1].ratio);
    EXPECT_NEAR(*repriced[1].ratio, 0.5, 1e-12);
    EXPECT_FALSE(reprice(tokens, catalog, 0)[0].ratio);  // nothing spent: no ratio
}

TEST(CostModel, MonthlyArithmetic) {
    Hardware h;
    h.hardware_usd = 3600;
    h.lifetime_months = 36;
    h.power_watts = 500;
    h.electricity_usd_per_kwh = 0.20;
    h.ops_usd_per_month = 50;
    EXPECT_DOUBLE_EQ(kHoursPerMonth, 730.5);
    EXPECT_DOUBLE_EQ(h.amortization_monthly(), 100);
    EXPECT_NEAR(h.power_monthly(), 73.05, 1e-9);  // 0.5 kW * 730.5 h * $0.20
    EXPECT_NEAR(h.monthly_usd(), 223.05, 1e-9);
    EXPECT_NEAR(h.running_monthly(), 123.05, 1e-9);
    EXPECT_DOUBLE_EQ((Rental{"r", 2.0, 1000}.monthly_usd()), 1461);

    // One machine serves 1000 tok/s * 2,629,800 s * 0.5 = 1,314,900,000 tokens a month.
    EXPECT_EQ(machines_needed(1e9, 1000, 0.5).value_or(-1), 1.0);
    EXPECT_EQ(machines_needed(3e9, 1000, 0.5).value_or(-1), 3.0);
    EXPECT_EQ(machines_needed(2 * 1'314'900'000.0, 1000, 0.5).value_or(-1), 2.0);  // exactly two, not three
    EXPECT_EQ(machines_needed(0, 1000, 0.5).value_or(-1), 0.0);
    EXPECT_EQ(machines_needed(1, 1000, 0.5).value_or(-1), 1.0);
    EXPECT_FALSE(machines_needed(1e9, 0, 0.5));
    EXPECT_FALSE(machines_needed(1e9, 1000, 0));

    const Workload month = monthly_workload({1000, 100, 500}, kDaysPerMonth / 2);
    EXPECT_DOUBLE_EQ(month.input, 2000);
    EXPECT_DOUBLE_EQ(month.cached, 200);
    EXPECT_DOUBLE_EQ(month.output, 1000);
}

TEST(CostModel, BreakEvenAndPayback) {
    // $223.05 a month against $1 per million tokens: even at 223,050,000 tokens a month.
    auto even = break_even(223.05, 1'314'900'000, 1e-6);
    ASSERT_TRUE(even.tokens_per_month);
    EXPECT_NEAR(*even.tokens_per_month, 223'050'000, 1e-3);
    // A machine that cannot carry that many tokens never pays.
    EXPECT_FALSE(break_even(223.05, 1e8, 1e-6).tokens_per_month);
    EXPECT_FALSE(break_even(223.05, 1e9, 0).tokens_per_month);
    // $3600 back from saving $1000 - $123.05 a month: 4.105 months.
    ASSERT_TRUE(payback_months(3600, 1000, 123.05));
    EXPECT_NEAR(*payback_months(3600, 1000, 123.05), 3600 / 876.95, 1e-12);
    EXPECT_FALSE(payback_months(3600, 100, 123.05));
}

TEST(CostModel, ComparesOptions) {
    Hardware h{"box", 3600, 36, 500, 0.20, 50, 1000};
    const Rental rent{"gpu", 2.0, 1000};
    const CloudModel cloud{"x", {1.0, 1.0, 4.0, "d", "s"}};
    const Workload w{1e9, 0, 0};
    const Comparison c = compare(w, {cloud}, {rent}, {h}, 0.5, "");
    EXPECT_EQ(c.reference, "x");
    EXPECT_NEAR(c.reference_usd_per_token, 1e-6, 1e-18);
    ASSERT_EQ(c.options.size(), 3u);
    EXPECT_EQ(c.options[0].name, "box");  // cheapest first
    EXPECT_NEAR(c.options[0].monthly_usd, 223.05, 1e-9);
    EXPECT_EQ(c.options[0].machines.value_or(-1), 1.0);
    EXPECT_NEAR(c.options[0].purchase_usd, 3600, 1e-9);
    ASSERT_TRUE(c.options[0].payback_months);
    EXPECT_NEAR(*c.options[0].payback_months, 3600 / 876.95, 1e-9);
    ASSERT_TRUE(c.options[0].break_even_tokens_per_month);
    EXPECT_NEAR(*c.options[0].break_even_tokens_per_month, 223'050'000, 1e-3);
    EXPECT_EQ(c.options[1].name, "x");
    EXPECT_NEAR(c.options[1].monthly_usd, 1000, 1e-9);
    EXPECT_NEAR(*c.options[1].usd_per_million(w.total()), 1.0, 1e-12);
    EXPECT_EQ(c.options[2].name, "gpu");
    EXPECT_NEAR(c.options[2].monthly_usd, 1461, 1e-9);
    // $1461 a month needs 1.461e9 tokens, more than the machine's 1.3149e9: never.
    EXPECT_FALSE(c.options[2].break_even_tokens_per_month);

    // No throughput: the option is listed last, without a cost.
    Hardware slow = h;
    slow.name = "unknown";
    slow.tokens_per_second = 0;
    const Comparison d = compare(w, {cloud}, {}, {slow}, 0.5, "x");
    ASSERT_EQ(d.options.size(), 2u);
    EXPECT_EQ(d.options[1].name, "unknown");
    EXPECT_FALSE(d.options[1].machines);
    EXPECT_FALSE(d.options[1].usd_per_million(w.total()));
}

TEST(CostModel, HybridAsRecorded) {
    Usage u;
    u.period = {0, static_cast<std::int64_t>(kDaysPerMonth / 2 * kMsPerDay)};  // half a month: x2
    u.cloud.spend_usd = 10;
    Group box = named_group("box");
    box.spend_usd = 99;  // priced by its cost model below instead
    Group other = named_group("other");
    other.spend_usd = 1;  // no cost model: at its recorded cost
    u.local_upstreams = {box, other};
    const Option o = hybrid_option(u, {{"box", Hardware{"box", 3600, 36, 500, 0.20, 50, 0}}});
    EXPECT_EQ(o.kind, "hybrid");
    EXPECT_NEAR(o.monthly_usd, 20 + 223.05 + 2, 1e-6);
    EXPECT_EQ(o.machines.value_or(-1), 1.0);
}

// docs/cost.md's worked example: 2.4B tokens a month (2.0B prompt, 0.6B of them cached, 0.4B
// completion) against gpt-4.1-mini's prices; a $3,600 box at 1,000 tokens/s, 50 % busy.
const Workload kWorkedMonth{2e9, 6e8, 4e8};
const CloudModel kMini{"gpt-4.1-mini", {0.40, 0.10, 1.60, "d", "s"}};
const Hardware kBox{"box", 3600, 36, 500, 0.20, 50, 1000};

TEST(CostHybrid, SizedByShareOrByMachines) {
    // 70 % local: 1.68B tokens need ceil(1.68B / 1.3149B) = 2 boxes; 30 % of $1,260 at gpt-4.1-mini.
    HybridPlan plan{"box-70", hybrid_machine(kBox), kMini, 0.7, std::nullopt};
    Option o = hybrid_plan_option(plan, kWorkedMonth, 0.5, 1260);
    EXPECT_EQ(o.kind, "hybrid");
    EXPECT_EQ(o.machines.value_or(-1), 2.0);
    EXPECT_NEAR(o.cloud_monthly_usd, 378, 1e-9);
    EXPECT_NEAR(o.monthly_usd, 2 * 223.05 + 378, 1e-9);  // $824.10
    EXPECT_NEAR(o.purchase_usd, 7200, 1e-9);
    EXPECT_NEAR(o.running_monthly_usd, 246.10, 1e-9);
    ASSERT_TRUE(o.payback_months);
    EXPECT_NEAR(*o.payback_months, 7200 / 635.90, 1e-9);  // 11.3 months
    EXPECT_NEAR(o.local_share.value_or(-1), 0.7, 1e-12);
    EXPECT_EQ(o.overflow, "gpt-4.1-mini");

    // One box filled up: 1.3149B of 2.4B tokens (54.79 %) local, the rest, $569.68, to the cloud.
    plan = {"one-box", hybrid_machine(kBox), kMini, std::nullopt, 1.0};
    o = hybrid_plan_option(plan, kWorkedMonth, 0.5, 1260);
    EXPECT_EQ(o.machines.value_or(-1), 1.0);
    EXPECT_NEAR(o.local_share.value_or(-1), 1'314'900'000.0 / 2.4e9, 1e-12);
    EXPECT_NEAR(o.cloud_monthly_usd, 569.6775, 1e-6);
    EXPECT_NEAR(o.monthly_usd, 792.7275, 1e-6);
    EXPECT_NEAR(*o.payback_months, 3600 / 567.2725, 1e-9);  // 6.3 months

    // Enough machines for everything: nothing overflows. A rented machine buys nothing: no payback.
    plan = {"rented", hybrid_machine(Rental{"h100", 2.5, 2500}), kMini, 0.5, std::nullopt};
    o = hybrid_plan_option(plan, kWorkedMonth, 0.5, 1260);
    EXPECT_EQ(o.machines.value_or(-1), 1.0);
    EXPECT_NEAR(o.monthly_usd, 2.5 * 730.5 + 630, 1e-9);
    EXPECT_EQ(o.purchase_usd, 0);
    EXPECT_FALSE(o.payback_months);
    plan = {"many", hybrid_machine(kBox), kMini, std::nullopt, 3.0};
    o = hybrid_plan_option(plan, kWorkedMonth, 0.5, 1260);
    EXPECT_NEAR(o.local_share.value_or(-1), 1.0, 1e-12);
    EXPECT_NEAR(o.cloud_monthly_usd, 0, 1e-9);
}

TEST(CostYears, WorkedExampleAllLocalAndHybrid) {
    Comparison c = compare(kWorkedMonth, {kMini}, {}, {kBox}, 0.5, "");
    EXPECT_NEAR(c.reference_monthly_usd, 1260, 1e-9);
    add_option(c, hybrid_plan_option({"one-box", hybrid_machine(kBox), kMini, std::nullopt, 1.0}, kWorkedMonth, 0.5,
                                     c.reference_monthly_usd));
    const YearsView v = years_view(c, years_of(kBox.lifetime_months));
    EXPECT_EQ(v.years, 3);
    EXPECT_EQ(v.reference, "gpt-4.1-mini");
    ASSERT_EQ(v.options.size(), 2u);  // the reference itself is not listed
    const OptionYears& box = v.options[0];
    EXPECT_EQ(box.name, "box");
    ASSERT_EQ(box.years.size(), 3u);
    // Two boxes: $7,200 in year 1; $246.10 a month to run; $1,260 a month of cloud bill avoided.
    EXPECT_NEAR(box.years[0].purchase_usd, 7200, 1e-9);
    EXPECT_NEAR(box.years[0].running_usd, 2953.20, 1e-9);
    EXPECT_NEAR(box.years[0].cloud_avoided_usd, 15120, 1e-9);
    EXPECT_NEAR(box.years[0].saving_usd, 4966.80, 1e-9);
    EXPECT_NEAR(box.years[1].purchase_usd, 0, 1e-9);
    EXPECT_NEAR(box.years[1].saving_usd, 12166.80, 1e-9);
    EXPECT_NEAR(box.years[1].cumulative_saving_usd, 17133.60, 1e-9);
    EXPECT_NEAR(box.years[2].cumulative_saving_usd, 29300.40, 1e-9);
    EXPECT_NEAR(box.total.running_usd, 8859.60, 1e-9);
    EXPECT_NEAR(box.total.cloud_avoided_usd, 45360, 1e-9);
    EXPECT_NEAR(box.total.saving_usd, 29300.40, 1e-9);
    // The same as 36 months of the monthly table: (1,260 - 446.10) x 36.
    EXPECT_NEAR(box.total.saving_usd, (1260 - 446.10) * 36, 1e-9);
    EXPECT_EQ(box.payback_month.value_or(-1), 8.0);  // 7,200 / 1,013.90 = 7.1 months: paid back in month 8

    const OptionYears& hybrid = v.options[1];
    EXPECT_EQ(hybrid.name, "one-box");
    EXPECT_NEAR(hybrid.years[0].purchase_usd, 3600, 1e-9);
    EXPECT_NEAR(hybrid.years[0].running_usd, 1476.60, 1e-9);
    EXPECT_NEAR(hybrid.years[0].cloud_avoided_usd, 8283.87, 1e-6);  // 12 x (1,260 - 569.6775)
    EXPECT_NEAR(hybrid.years[0].saving_usd, 3207.27, 1e-6);
    EXPECT_NEAR(hybrid.years[2].cumulative_saving_usd, 16821.81, 1e-6);
    EXPECT_EQ(hybrid.payback_month.value_or(-1), 7.0);  // 3,600 / 567.2725 = 6.3 months

    EXPECT_EQ(years_of(36), 3);
    EXPECT_EQ(years_of(48), 4);
    EXPECT_EQ(years_of(40), 4);
    EXPECT_EQ(years_of(6), 1);
    EXPECT_EQ(years_view(c, 1).options[0].years.size(), 1u);
}

// The field report's "$378,000 a year saved" moving 50M tokens a month from an $8/M model to a
// $0.42/M one: 50 x (8 - 0.42) = $379 a month, $4,548 a year.
TEST(CostYears, FieldReportSavingCorrected) {
    const Workload month{40e6, 0, 10e6};
    const Comparison c = compare(month, {{"premium", {8, 8, 8, "d", "s"}}, {"cheap", {0.42, 0.42, 0.42, "d", "s"}}}, {},
                                 {}, 0.5, "premium");
    EXPECT_NEAR(c.reference_monthly_usd, 400, 1e-9);
    const YearsView v = years_view(c, 2);
    ASSERT_EQ(v.options.size(), 1u);
    const OptionYears& cheap = v.options[0];
    EXPECT_EQ(cheap.name, "cheap");
    EXPECT_NEAR(cheap.years[0].cloud_avoided_usd, 4548, 1e-9);
    EXPECT_NEAR(cheap.years[0].saving_usd, 4548, 1e-9);
    EXPECT_NEAR(cheap.years[1].cumulative_saving_usd, 9096, 1e-9);
    EXPECT_NEAR(378'000 / cheap.years[0].saving_usd, 83.1, 0.05);  // the report's figure is 83 times too high
    EXPECT_FALSE(cheap.payback_month);  // nothing bought, nothing to pay back
}

TEST(CostHybrid, RecordedShareFromTheLedger) {
    Aggregator aggregator({0, kMsPerDay}, {{Dimension::Kind::tier, {}}});
    for (const auto& r : sample_rows()) aggregator.add(r);
    const Usage u = aggregator.finish();
    // Local rows: 300 + 100 and 1,000 + 200 tokens; the cloud rows: 100 + 50 and 10 + 5.
    Option o = hybrid_option(u, {{"box", kBox}});
    EXPECT_NEAR(o.local_share.value_or(-1), 1600.0 / 1765.0, 1e-12);
    EXPECT_NE(o.note.find("local served 90.7% of the tokens"), std::string::npos) << o.note;
    EXPECT_NEAR(o.purchase_usd, 3600, 1e-9);
    EXPECT_NEAR(o.running_monthly_usd, 123.05, 1e-9);
    EXPECT_NEAR(o.cloud_monthly_usd, 0.375 * kDaysPerMonth, 1e-9);  // the cloud rows' spend, a day scaled
    // No cost model for the local upstream: its recorded spend, scaled, is its running cost.
    o = hybrid_option(u, {});
    EXPECT_NEAR(o.running_monthly_usd, 1.5 * kDaysPerMonth, 1e-9);
    EXPECT_EQ(o.purchase_usd, 0);
    EXPECT_FALSE(hybrid_option(Usage{}, {}).local_share);  // no tokens: no share
}

TEST(CostScenario, ParsesHybridAndYears) {
    const auto result = parse_scenario(R"(
tokens_per_month: {input: 2B, output: 400M, cached_share: 0.3}
years: 5
cloud:
  - {name: mini, input: 0.40, cached_input: 0.10, output: 1.60}
  - {name: cheap, input: 0.1, output: 0.1}
owned:
  - {name: box, hardware_usd: 3600, power_watts: 500, electricity_usd_per_kwh: 0.20, ops_usd_per_month: 50,
     tokens_per_second: 1000}
rental:
  - {name: h100, usd_per_hour: 2.5, tokens_per_second: 2500}
hybrid:
  - {name: box-70, machine: box, local_share: 0.7}
  - {name: one-box, machine: box, machines: 1, overflow: cheap}
  - {name: rented-half, machine: h100, local_share: 0.5, overflow: mini}
)");
    ASSERT_TRUE(result.scenario) << (result.errors.empty() ? "" : result.errors[0]);
    const Scenario& s = *result.scenario;
    EXPECT_EQ(s.years, 5);
    EXPECT_EQ(scenario_years(s), 5);
    ASSERT_EQ(s.hybrid.size(), 3u);
    EXPECT_EQ(s.hybrid[0].machine, "box");
    EXPECT_DOUBLE_EQ(s.hybrid[0].local_share.value_or(-1), 0.7);
    EXPECT_TRUE(s.hybrid[0].overflow.empty());
    EXPECT_DOUBLE_EQ(s.hybrid[1].machines.value_or(-1), 1);
    pricing::Catalog catalog;
    std::vector<std::string> errors;
    const auto cloud = resolve_cloud(s, catalog, errors);
    ASSERT_TRUE(cloud);
    const Comparison c = compare(s, *cloud);
    EXPECT_EQ(c.options.size(), 7u);
    auto option = [&](const std::string& name) {
        for (const auto& o : c.options) {
            if (o.name == name) return o;
        }
        ADD_FAILURE() << "no option " << name;
        return Option{};
    };
    EXPECT_NEAR(option("box-70").monthly_usd, 824.10, 1e-9);  // the overflow at the reference, mini
    EXPECT_EQ(option("one-box").overflow, "cheap");
    EXPECT_NEAR(option("rented-half").monthly_usd, 2.5 * 730.5 + 630, 1e-9);
    EXPECT_EQ(years_view(c, scenario_years(s)).options.front().years.size(), 5u);

    // Without `years`, the longest owned lifetime: 36 months by default, 3 years.
    EXPECT_EQ(scenario_years(*parse_scenario("tokens_per_month: {input: 1, output: 1}\ncloud: [a]\n").scenario), 3);
}

TEST(CostScenario, HybridErrors) {
    const auto result = parse_scenario(R"(tokens_per_month: {input: 1M, output: 1M}
cloud: [{name: a, input: 1, output: 1}]
owned: [{name: box, hardware_usd: 1, tokens_per_second: 1}]
hybrid:
  - {name: h1, machine: bx, local_share: 0.5}
  - {name: h2, machine: box, local_share: 0.5, machines: 1}
  - {name: h3, machine: box, machines: 1.5, overflow: b}
  - {name: h4, machine: box, local_share: 1.5}
years: 0
)");
    ASSERT_FALSE(result.scenario);
    const auto has = [&](const std::string& text) { return has_error(result.errors, text); };
    EXPECT_TRUE(has("line 5, column 25: 'machine' must name an 'owned' or 'rental' option, got 'bx'")) << result.errors[0];
    EXPECT_TRUE(has("line 6, column 5: a hybrid option needs exactly one of 'local_share' and 'machines'"));
    EXPECT_TRUE(has("'machines' must be a whole number"));
    EXPECT_TRUE(has("'overflow' must name one of the 'cloud' models, got 'b'"));
    EXPECT_TRUE(has("'local_share' must be a number from 0 to 1"));
    EXPECT_TRUE(has("line 9, column 8: 'years' must be a number from 1 to 50"));
}

TEST(CostScenario, Parses) {
    const auto result = parse_scenario(R"(
tokens_per_month: {input: 2B, output: 500M, cached_share: 0.25}
utilization: 0.6
reference: mine
cloud:
  - gpt-4o-mini
  - {name: mine, input: 0.2, output: 0.8}
rental:
  - {name: h100, usd_per_hour: 2.5, tokens_per_second: 3000}
owned:
  - name: box
    hardware_usd: 9000
    lifetime_months: 36
    power_watts: 700
    electricity_usd_per_kwh: 0.15
    ops_usd_per_month: 100
    tokens_per_second: 1500
)");
    ASSERT_TRUE(result.scenario) << (result.errors.empty() ? "" : result.errors[0]);
    const Scenario& s = *result.scenario;
    EXPECT_DOUBLE_EQ(s.workload.input, 2e9);
    EXPECT_DOUBLE_EQ(s.workload.cached, 5e8);
    EXPECT_DOUBLE_EQ(s.workload.output, 5e8);
    EXPECT_DOUBLE_EQ(s.utilization, 0.6);
    ASSERT_EQ(s.cloud.size(), 2u);
    EXPECT_FALSE(s.cloud[0].price);
    ASSERT_TRUE(s.cloud[1].price);
    EXPECT_DOUBLE_EQ(s.cloud[1].price->cached_input, 0.2);  // defaults to input
    ASSERT_EQ(s.owned.size(), 1u);
    EXPECT_DOUBLE_EQ(s.owned[0].power_watts, 700);
    EXPECT_DOUBLE_EQ(s.rental[0].tokens_per_second, 3000);

    pricing::Catalog catalog;
    catalog.set("gpt-4o-mini", {0.15, 0.075, 0.6, "d", "s"});
    std::vector<std::string> errors;
    const auto cloud = resolve_cloud(s, catalog, errors);
    ASSERT_TRUE(cloud);
    const Comparison c = compare(s, *cloud);
    EXPECT_EQ(c.reference, "mine");
    EXPECT_EQ(c.options.size(), 4u);
}

TEST(CostScenario, ReportsErrorsWithLines) {
    const auto result = parse_scenario(R"(tokens_per_month:
  input: lots
  output: 5
cloud:
  - {name: a, inptu: 1, output: 2}
rental:
  - {name: r, usd_per_hour: 2}
colud: []
reference: zzz
)");
    ASSERT_FALSE(result.scenario);
    const auto has = [&](const std::string& text) { return has_error(result.errors, text); };
    EXPECT_TRUE(has("line 2, column 10: 'input' must be a number")) << result.errors[0];
    EXPECT_TRUE(has("line 5, column 15: unknown key 'inptu' in a cloud model; did you mean 'input'?"));
    EXPECT_TRUE(has("line 7, column 5: missing 'tokens_per_second'"));
    EXPECT_TRUE(has("line 8, column 1: unknown key 'colud' in the top level; did you mean 'cloud'?"));
    EXPECT_TRUE(has("line 9, column 12: 'reference' must name one of the 'cloud' models"));

    EXPECT_FALSE(parse_scenario("cloud: [a]\n").scenario);             // no tokens_per_month
    EXPECT_FALSE(parse_scenario("tokens_per_month: {input: 1, output: 1}\n").scenario);  // nothing to compare
    const auto broken = parse_scenario("tokens_per_month: {input: 1\n");
    ASSERT_FALSE(broken.errors.empty());
    EXPECT_EQ(broken.errors[0].rfind("line ", 0), 0u);

    const auto unknown = parse_scenario("tokens_per_month: {input: 1, output: 1}\ncloud:\n  - gpt-4o-mnii\n");
    ASSERT_TRUE(unknown.scenario);
    pricing::Catalog catalog;
    catalog.set("gpt-4o-mini", {0.15, 0.075, 0.6, "d", "s"});
    std::vector<std::string> errors;
    EXPECT_FALSE(resolve_cloud(*unknown.scenario, catalog, errors));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].find("line 3, column 5: model 'gpt-4o-mnii'"), std::string::npos) << errors[0];
    EXPECT_NE(errors[0].find("did you mean 'gpt-4o-mini'?"), std::string::npos);
}

TEST(CostFormat, NumbersAndTimes) {
    EXPECT_EQ(format_usd(1234.5), "$1,234.50");
    EXPECT_EQ(format_usd(0), "$0.00");
    EXPECT_EQ(format_usd(0.5), "$0.50");
    EXPECT_EQ(format_usd(-3), "-$3.00");
    EXPECT_EQ(format_usd(0.00042), "$0.00042");
    EXPECT_EQ(format_usd(0.0042), "$0.0042");
    EXPECT_EQ(format_count(1234567), "1,234,567");
    EXPECT_EQ(format_count(999), "999");
    EXPECT_EQ(format_utc(0), "1970-01-01T00:00:00Z");
    EXPECT_EQ(format_utc(1795611845000), "2026-11-25T13:04:05Z");
    EXPECT_EQ(parse_utc("2026-11-25"), 1795564800000);
    EXPECT_EQ(parse_utc("2026-11-25", true), 1795564800000 + kMsPerDay);
    EXPECT_EQ(parse_utc("2026-11-25T13:04:05Z"), 1795611845000);
    EXPECT_EQ(parse_utc("2026-11-25T13:04"), 1795611840000);
    EXPECT_FALSE(parse_utc("2026-02-30"));
    EXPECT_FALSE(parse_utc("2026-11-25T25:00"));
    EXPECT_FALSE(parse_utc("yesterday"));
    EXPECT_EQ(month_start_utc(1795611845000), 1793491200000);
}

CostReport sample_report() {
    Aggregator aggregator({0, kMsPerDay}, {{Dimension::Kind::key, {}}, {Dimension::Kind::model, {}}});
    for (const auto& r : sample_rows()) aggregator.add(r);
    CostReport report;
    report.source = "sqlite test.db";
    report.usage = aggregator.finish();
    pricing::Catalog catalog;
    catalog.set("gpt-4o-mini", {0.15, 0.075, 0.6, "2026-05-27", "https://example"});
    report.repricing = reprice(report.usage->total.tokens, catalog, report.usage->total.spend_usd);
    const Hardware h{"all local (box)", 3600, 36, 500, 0.20, 50, 1000};
    report.comparison = compare(monthly_workload(report.usage->total.tokens, 1),
                                {{"all cloud (gpt-4o-mini)", catalog.entries().begin()->second}}, {}, {h}, 0.5, "");
    add_option(report.comparison, hybrid_option(*report.usage, {}));
    report.inputs.push_back({"utilization", 0.5, "default"});
    return report;
}

TEST(CostFormat, Table) {
    std::ostringstream out;
    print_table(out, sample_report());
    const std::string text = out.str();
    EXPECT_NE(text.find("Period 1970-01-01T00:00:00Z to 1970-01-02T00:00:00Z (1.00 days), sqlite test.db"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("By key\nkey "), std::string::npos) << text;
    // Columns line up: each row of the key table is as wide as its header.
    std::istringstream lines(text.substr(text.find("By key\n") + 7));
    std::string header, rule, first;
    std::getline(lines, header);
    std::getline(lines, rule);
    std::getline(lines, first);
    EXPECT_EQ(rule.size(), header.size());
    EXPECT_EQ(first.size(), header.size()) << first;
    EXPECT_EQ(first.rfind("bob ", 0), 0u);
    EXPECT_NE(first.find("$1.00"), std::string::npos);
    EXPECT_NE(text.find("all local (box)"), std::string::npos);
    EXPECT_NE(text.find("hybrid (as recorded)"), std::string::npos);
    EXPECT_NE(text.find("Inputs"), std::string::npos);
}

TEST(CostFormat, Csv) {
    const CostReport report = sample_report();
    const std::string csv = to_csv(report);
    EXPECT_NE(csv.find("# by key\nkey,requests,failed,prompt_tokens,cached_tokens,completion_tokens,spend_usd,"
                       "usd_per_request\nbob,1,0,1000,500,200,1,1\nalice,2,0,400,20,150,0.75,0.375\n"),
              std::string::npos)
        << csv;
    EXPECT_NE(csv.find("# totals\n"), std::string::npos);
    EXPECT_NE(csv.find("# repricing\n"), std::string::npos);
    EXPECT_NE(csv.find("# monthly\n"), std::string::npos);
    EXPECT_NE(csv.find("\n# inputs\n"), std::string::npos);
    // One grouping alone: just its table.
    EXPECT_EQ(to_csv(report, "model"),
              "model,requests,failed,prompt_tokens,cached_tokens,completion_tokens,spend_usd,usd_per_request\n"
              "llama,2,0,1300,500,300,1.5,0.75\ngpt-4o-mini,2,1,110,20,55,0.375,0.1875\n");
}

TEST(CostFormat, Json) {
    const std::string json = to_json(sample_report());
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(json).get(root), simdjson::SUCCESS) << json;
    EXPECT_EQ(root["mode"].get_string().value(), "ledger");
    EXPECT_EQ(root["totals"]["requests"].get_int64().value(), 4);
    EXPECT_DOUBLE_EQ(root["totals"]["spend_usd"].get_double().value(), 1.875);
    EXPECT_EQ(root["by"]["key"].get_array().size(), 3u);
    EXPECT_EQ(root["by"]["model"].at(0)["name"].get_string().value(), "llama");
    // 1410 prompt (520 cached) and 355 completion tokens at gpt-4o-mini's prices.
    const double expected = (890 * 0.15 + 520 * 0.075 + 355 * 0.6) / 1e6;
    EXPECT_NEAR(root["repricing"]["models"].at(0)["cost_usd"].get_double().value(), expected, 1e-8);
    simdjson::dom::array options;
    ASSERT_EQ(root["monthly"]["options"].get_array().get(options), simdjson::SUCCESS);
    EXPECT_EQ(options.size(), 3u);
    EXPECT_EQ(root["monthly"]["reference"].get_string().value(), "all cloud (gpt-4o-mini)");
    EXPECT_DOUBLE_EQ(root["inputs"]["utilization"]["value"].get_double().value(), 0.5);
}

TEST(CostCurves, EachOptionFromZeroWithItsBreakEven) {
    const CloudModel cloud{"x", {1.0, 1.0, 4.0, "d", "s"}};
    const Comparison c = compare(Workload{1e9, 0, 0}, {cloud}, {}, {Hardware{"box", 3600, 36, 500, 0.20, 50, 1000}},
                                 0.5, "");
    const CostCurves curves = cost_curves(c, 100);
    EXPECT_DOUBLE_EQ(curves.volume_tokens_per_month, 1e9);
    EXPECT_DOUBLE_EQ(curves.limit_tokens_per_month, 2e9);  // twice the volume, past the break-even
    ASSERT_EQ(curves.lines.size(), 2u);
    const CostLine& box = curves.lines[0];
    const CostLine& x = curves.lines[1];
    EXPECT_EQ(box.kind, "owned");
    EXPECT_EQ(x.kind, "cloud");
    ASSERT_TRUE(box.break_even_tokens_per_month);
    EXPECT_NEAR(*box.break_even_tokens_per_month, 223'050'000, 1);
    EXPECT_NEAR(*box.break_even_usd, 223.05, 1e-6);  // the reference's cost there
    EXPECT_FALSE(x.break_even_tokens_per_month);
    // The cloud line is straight from 0; the box's steps where a second machine is bought.
    ASSERT_EQ(x.points.size(), 101u);
    EXPECT_EQ(x.points.front(), (std::pair<double, double>{0, 0}));
    EXPECT_NEAR(x.points.back().second, 2000, 1e-9);
    EXPECT_GT(box.points.size(), 101u);
    for (const auto& [volume, usd] : box.points) EXPECT_NEAR(usd, *monthly_at(c.options[0], c, volume), 1e-9);
    EXPECT_NEAR(box.points.back().second, 2 * 223.05, 1e-6);
    // As JSON, the same numbers.
    const std::string json = curves_json(curves);
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(json).get(root), simdjson::SUCCESS) << json;
    EXPECT_EQ(root["lines"].at(0)["name"].get_string().value(), "box");
    EXPECT_NEAR(root["lines"].at(0)["break_even_tokens_per_month"].get_double().value(), 223'050'000, 1);
    EXPECT_TRUE(root["lines"].at(1)["break_even_tokens_per_month"].is_null());
    EXPECT_EQ(root["lines"].at(1)["points"].get_array().size(), 101u);
}

TEST(CostLedger, TheReportOfTheLedgerMode) {
    Aggregator aggregator({0, kMsPerDay}, {});
    for (const auto& r : sample_rows()) aggregator.add(r);
    pricing::Catalog catalog;
    catalog.set("gpt-4o-mini", {0.15, 0.075, 0.6, "2020-01-01", "https://example.com/prices"});
    config::Gateway gateway;
    config::Upstream box;
    box.name = "box";
    box.local = true;
    box.cost = config::CostModel{};
    box.cost->hardware_usd = 3600;
    gateway.upstreams.push_back(box);
    CostOptions options;
    const std::int64_t today = 1790812800000;  // 2026-10-01
    LedgerReport built = ledger_report(options, gateway, catalog, "prices.yaml", aggregator.finish(), "sqlite x", today);
    ASSERT_TRUE(built.report) << built.error;
    const CostReport& report = *built.report;
    EXPECT_EQ(report.source, "sqlite x");
    ASSERT_TRUE(report.usage);
    EXPECT_EQ(report.usage->total.requests, 4u);
    EXPECT_EQ(report.comparison.reference, "all cloud (gpt-4o-mini)");
    std::set<std::string> kinds;
    for (const auto& o : report.comparison.options) kinds.insert(o.kind);
    EXPECT_EQ(kinds, (std::set<std::string>{"cloud", "owned", "hybrid"}));
    ASSERT_EQ(report.stale_prices.size(), 1u);  // dated 2020
    EXPECT_EQ(report.stale_prices[0].model, "gpt-4o-mini");
    EXPECT_FALSE(report.years.options.empty());
    // The "monthly" object of the JSON output is the one monthly_json writes.
    EXPECT_NE(to_json(report).find("\"monthly\": " + monthly_json(report.comparison)), std::string::npos);

    options.cloud_model = "nope";
    built = ledger_report(options, gateway, catalog, "prices.yaml", aggregator.finish(), "sqlite x", today);
    EXPECT_FALSE(built.report);
    EXPECT_NE(built.error.find("the cloud model 'nope' is not in the price catalog prices.yaml"), std::string::npos);
    built = ledger_report(CostOptions{}, gateway, pricing::Catalog{}, "empty.yaml", aggregator.finish(), "", today);
    EXPECT_FALSE(built.report);
    EXPECT_NE(built.error.find("has no prices"), std::string::npos);
}

TEST(CostFormat, HybridAndYears) {
    CostReport report;
    report.mode = "scenario";
    report.comparison = compare(kWorkedMonth, {kMini}, {}, {kBox}, 0.5, "");
    add_option(report.comparison, hybrid_plan_option({"one-box", hybrid_machine(kBox), kMini, std::nullopt, 1.0},
                                                     kWorkedMonth, 0.5, report.comparison.reference_monthly_usd));
    report.years = years_view(report.comparison, 3);

    std::ostringstream table;
    print_table(table, report);
    const std::string text = table.str();
    EXPECT_NE(text.find("Over 3 years against gpt-4.1-mini"), std::string::npos) << text;
    EXPECT_NE(text.find("$29,300.40"), std::string::npos) << text;
    EXPECT_NE(text.find("1 x box ($223.05) for 54.8% + 45.2% at gpt-4.1-mini ($569.68)"), std::string::npos) << text;

    const std::string csv = to_csv(report);
    EXPECT_NE(csv.find("\n# years\noption,kind,year,purchase_usd,running_usd,cloud_avoided_usd,saving_usd,"
                       "cumulative_saving_usd,payback_month\nbox,owned,1,7200,2953.2,15120,4966.8,4966.8,8\n"),
              std::string::npos)
        << csv;
    EXPECT_NE(csv.find(",0.547875,gpt-4.1-mini,569.6775\n"), std::string::npos) << csv;

    const std::string json = to_json(report);
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(json).get(root), simdjson::SUCCESS) << json;
    EXPECT_EQ(root["years"]["years"].get_int64().value(), 3);
    auto box = root["years"]["options"].at(0);
    EXPECT_EQ(box["name"].get_string().value(), "box");
    EXPECT_EQ(box["payback_month"].get_int64().value(), 8);
    EXPECT_NEAR(box["total"]["saving_usd"].get_double().value(), 29300.4, 1e-9);
    EXPECT_EQ(box["years"].get_array().size(), 3u);
    auto hybrid = root["monthly"]["options"].at(1);
    EXPECT_EQ(hybrid["name"].get_string().value(), "one-box");
    EXPECT_NEAR(hybrid["local_share"].get_double().value(), 0.547875, 1e-12);
    EXPECT_EQ(hybrid["overflow_model"].get_string().value(), "gpt-4.1-mini");
    EXPECT_NEAR(hybrid["purchase_usd"].get_double().value(), 3600, 1e-9);
}


// ---- service levels: percentiles in bounded memory, success and availability by minute

TEST(Service, HistogramPercentilesAreWithinOnePercent) {
    LogHistogram histogram;
    std::vector<double> values;
    // 10,000 values spread over four orders of magnitude, not in order.
    for (int i = 0; i < 10'000; ++i) {
        const double v = 0.5 + static_cast<double>((i * 7919) % 10'000) * 0.9;
        values.push_back(v);
        histogram.add(v);
    }
    std::sort(values.begin(), values.end());
    for (const double q : {0.01, 0.5, 0.9, 0.95, 0.99, 1.0}) {
        const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
        const double exact = values[rank - 1];
        const auto got = histogram.quantile(q);
        ASSERT_TRUE(got.has_value());
        EXPECT_NEAR(*got, exact, exact * 0.01) << "q=" << q;
    }
    EXPECT_EQ(histogram.count(), 10'000u);
    EXPECT_FALSE(LogHistogram().quantile(0.5).has_value());
    // One value: every percentile is that value exactly (kept within the smallest and largest seen).
    LogHistogram one;
    one.add(123.0);
    EXPECT_EQ(*one.quantile(0.99), 123.0);
    // Zero and huge values land in the end buckets and stay bounded by what was seen.
    LogHistogram ends;
    ends.add(0);
    ends.add(1e12);
    EXPECT_EQ(*ends.quantile(0.5), 0.0);
    EXPECT_EQ(*ends.quantile(1.0), 1e12);
}

TEST(Service, SuccessAvailabilityAndPercentilesPerTier) {
    constexpr std::int64_t kMinute = 60'000;
    const std::int64_t t0 = 1790812800000;  // 2026-10-01T00:00:00Z
    Aggregator aggregator({t0, t0 + kMsPerDay}, default_dimensions());
    // Tier 1: minute 0 all fine (ttft 10..19 ms, total 100..109), minute 1 only failures, minute 3 one
    // failure and one success: 3 minutes with traffic, 2 serving.
    for (int i = 0; i < 10; ++i) {
        auto r = row(t0 + i * 1000, "a", "{}", "m", "d1", 1, 10, 0, 5, 0.01);
        r.ttft_ms = 10 + i;
        r.total_ms = 100 + i;
        aggregator.add(r);
    }
    for (int i = 0; i < 3; ++i) {
        auto r = row(t0 + kMinute + i * 1000, "a", "{}", "m", "d1", 1, 10, 0, 0, 0);
        r.status = 502;
        r.total_ms = 5000;  // failures do not count in the latency percentiles
        aggregator.add(r);
    }
    auto failed = row(t0 + 3 * kMinute, "a", "{}", "m", "d1", 1, 0, 0, 0, 0);
    failed.status = 500;
    aggregator.add(failed);
    auto late = row(t0 + 3 * kMinute + 59'000, "a", "{}", "m", "d1", 1, 10, 0, 5, 0.01);
    late.ttft_ms = 19;
    late.total_ms = 109;
    aggregator.add(late);
    // Tier 2 on another deployment: one request, no TTFT recorded.
    auto other = row(t0 + 2 * kMinute, "b", "{}", "m", "d2", 2, 10, 0, 5, 1.0);
    other.total_ms = 50;
    aggregator.add(other);

    const Usage usage = aggregator.finish();
    ASSERT_EQ(usage.service_by_tier.size(), 2u);
    const Service& t2 = usage.service_by_tier[0];  // most spend first
    const Service& t1 = usage.service_by_tier[1];
    EXPECT_EQ(t2.name, "2");
    EXPECT_EQ(t1.name, "1");
    EXPECT_EQ(t1.requests, 15u);
    EXPECT_EQ(t1.succeeded, 11u);
    EXPECT_NEAR(*t1.success_rate(), 11.0 / 15.0, 1e-12);
    EXPECT_EQ(t1.minutes_with_traffic, 3u);
    EXPECT_EQ(t1.minutes_serving, 2u);
    EXPECT_NEAR(*t1.availability(), 2.0 / 3.0, 1e-12);
    // Successful TTFTs: 10..19 and 19 (11 values): p50 is the 6th, 15; p99 the 11th, 19.
    EXPECT_NEAR(*t1.ttft_p50, 15, 0.15);
    EXPECT_NEAR(*t1.ttft_p99, 19, 0.19);
    EXPECT_NEAR(*t1.latency_p50, 105, 1.05);
    EXPECT_NEAR(*t1.latency_p99, 109, 1.09);
    EXPECT_FALSE(t2.ttft_p50.has_value());
    EXPECT_NEAR(*t2.latency_p95, 50, 0.5);
    EXPECT_EQ(*t2.availability(), 1.0);
    ASSERT_EQ(usage.service_by_deployment.size(), 2u);
    EXPECT_EQ(usage.service_by_deployment[1].name, "d1");
    EXPECT_EQ(usage.service_by_deployment[1].requests, 15u);

    // Spend over the day in 15-minute buckets (96 <= 200): tier 1's $0.11 all in the first bucket.
    EXPECT_EQ(usage.spend_by_tier.bucket_ms, 15 * kMinute);
    EXPECT_EQ(usage.spend_by_tier.buckets, 96u);
    EXPECT_NEAR(usage.spend_by_tier.spend.at("1")[0], 0.11, 1e-12);
    EXPECT_NEAR(usage.spend_by_tier.spend.at("2")[0], 1.0, 1e-12);

    // The formats carry the columns.
    CostReport report;
    report.usage = usage;
    const std::string json = to_json(report);
    simdjson::dom::parser parser;
    const auto doc = parser.parse(json);
    ASSERT_EQ(doc.error(), simdjson::SUCCESS) << json;
    double availability = -1;
    ASSERT_EQ(doc["service"]["tier"].at(1)["availability"].get_double().get(availability), simdjson::SUCCESS);
    EXPECT_NEAR(availability, 2.0 / 3.0, 1e-6);
    std::ostringstream text;
    print_table(text, report);
    EXPECT_NE(text.str().find("Service by tier"), std::string::npos);
    EXPECT_NE(text.str().find("66.7%"), std::string::npos) << text.str();
    EXPECT_NE(to_csv(report).find("# service by deployment"), std::string::npos);
    const std::string markdown = to_markdown(report);
    EXPECT_NE(markdown.find("## Service by tier"), std::string::npos) << markdown;
    EXPECT_NE(markdown.find("| 1 | 15 | 73.3% | 66.7% |"), std::string::npos) << markdown;
    EXPECT_NE(markdown.find("| --- | ---: |"), std::string::npos) << markdown;
}

TEST(Service, StalePricesByAge) {
    pricing::Price price;
    price.date = "2026-06-01";
    price.source = "https://example.com/prices";
    const std::int64_t dec7 = *parse_utc("2026-12-07");
    // 2026-06-01 to 2026-12-07: 189 days.
    auto stale = stale_price("m", price, dec7, 90);
    ASSERT_TRUE(stale.has_value());
    EXPECT_EQ(stale->age_days, 189);
    EXPECT_EQ(stale->date, "2026-06-01");
    EXPECT_FALSE(stale_price("m", price, dec7, 189).has_value());
    EXPECT_TRUE(stale_price("m", price, dec7, 188).has_value());
    EXPECT_FALSE(stale_price("m", price, *parse_utc("2026-06-02"), 90).has_value());
    price.date = "config";
    EXPECT_FALSE(stale_price("m", price, dec7, 0).has_value());
}

TEST(Service, CostAgainstVolumeAndBreakEven) {
    // Reference: $1 per million tokens. One owned machine: $100 a month, 1e9 tokens a month capacity.
    Comparison cmp;
    cmp.workload = {150e6, 0, 50e6};  // 200M tokens
    cmp.reference = "cloud";
    cmp.reference_usd_per_token = 1e-6;
    Option cloud;
    cloud.name = "cloud";
    cloud.kind = "cloud";
    cloud.monthly_usd = 200;
    Option owned;
    owned.name = "box";
    owned.kind = "owned";
    owned.machines = 1;
    owned.machine_monthly_usd = 100;
    owned.capacity_tokens_per_month = 1e9;
    owned.break_even_tokens_per_month = 100e6;
    EXPECT_NEAR(*monthly_at(cloud, cmp, 50e6), 50, 1e-9);
    EXPECT_EQ(*monthly_at(owned, cmp, 1e6), 100);
    EXPECT_EQ(*monthly_at(owned, cmp, 1e9), 100);
    EXPECT_EQ(*monthly_at(owned, cmp, 1.5e9), 200);  // a second machine
    EXPECT_EQ(*break_even_volume(owned, cmp, 1e9), 100e6);
    EXPECT_FALSE(break_even_volume(owned, cmp, 50e6).has_value());  // beyond the chart
    // Hybrid: machines $60 a month carrying half the 200M; the other 100M cost $50 at the overflow
    // ($0.5/M). cost(V) = 60 + 0.5e-6 (V - 100M) past 100M; 60 < V * 1e-6 from 60M on.
    Option hybrid;
    hybrid.name = "hybrid";
    hybrid.kind = "hybrid";
    hybrid.monthly_usd = 110;
    hybrid.cloud_monthly_usd = 50;
    hybrid.local_share = 0.5;
    EXPECT_NEAR(*monthly_at(hybrid, cmp, 200e6), 110, 1e-9);
    EXPECT_NEAR(*monthly_at(hybrid, cmp, 300e6), 160, 1e-9);
    EXPECT_NEAR(*monthly_at(hybrid, cmp, 10e6), 60, 1e-9);
    const auto be = break_even_volume(hybrid, cmp, 400e6);
    ASSERT_TRUE(be.has_value());
    EXPECT_NEAR(*be, 60e6, 60e6 * 1e-5);

    // The page: a chart with each option's line and the break-even rings at the right volume.
    cmp.options = {cloud, hybrid, owned};
    CostReport report;
    report.mode = "scenario";
    report.source = "<script>alert(1)</script>";
    report.comparison = cmp;
    const std::string html = to_html(report);
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
    EXPECT_NE(html.find(R"(<g class="mark" data-x="100" )"), std::string::npos) << html;
    EXPECT_NE(html.find(R"(<g class="mark" data-x="60" )"), std::string::npos) << html;
    EXPECT_NE(html.find("box: 100M tokens/month"), std::string::npos);
}

}  // namespace
}  // namespace switchyard::report
