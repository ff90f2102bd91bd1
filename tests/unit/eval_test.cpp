// `switchyard bench --eval` (src/eval): the task file's parser and its errors, each scorer on a right
// and a wrong answer, the Wilson interval against hand-computed values, and a model's summary.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "eval/run.hpp"
#include "eval/task.hpp"

namespace switchyard::eval {
namespace {

Task one(const std::string& line) {
    const TaskFile file = parse_tasks(line);
    EXPECT_TRUE(file.errors.empty()) << (file.errors.empty() ? "" : file.errors.front());
    EXPECT_EQ(file.tasks.size(), 1u);
    return file.tasks.empty() ? Task{} : file.tasks.front();
}

bool has_error(const TaskFile& file, const std::string& text) {
    return std::any_of(file.errors.begin(), file.errors.end(),
                       [&](const std::string& e) { return e.find(text) != std::string::npos; });
}

TEST(Eval, ParsesPromptsAndMessages) {
    const TaskFile file = parse_tasks(
        "# a comment\n"
        "{\"id\":\"a\",\"prompt\":\"Say \\\"hi\\\"\",\"expected\":\"hi\"}\n"
        "\n"
        "{\"messages\":[{\"role\":\"system\",\"content\":\"terse\"},{\"role\":\"user\",\"content\":\"2+2\"}],"
        "\"expected\":4,\"scorer\":\"numeric\",\"tolerance\":0.5}\n");
    ASSERT_TRUE(file.errors.empty()) << file.errors.front();
    ASSERT_EQ(file.tasks.size(), 2u);
    EXPECT_EQ(file.tasks[0].id, "a");
    EXPECT_EQ(file.tasks[0].messages_json, R"([{"role":"user","content":"Say \"hi\""}])");
    EXPECT_EQ(file.tasks[0].scorer.kind, ScorerKind::exact);
    EXPECT_EQ(file.tasks[1].id, "line 4");
    EXPECT_EQ(file.tasks[1].messages_json, R"([{"role":"system","content":"terse"},{"role":"user","content":"2+2"}])");
    EXPECT_EQ(file.tasks[1].expected, "4");
    EXPECT_EQ(file.tasks[1].scorer.tolerance, 0.5);
}

TEST(Eval, ReportsBadLinesByNumber) {
    const TaskFile file = parse_tasks(
        "not json\n"
        "{\"expected\":\"x\"}\n"
        "{\"prompt\":\"p\"}\n"
        "{\"prompt\":\"p\",\"expected\":\"x\",\"scorer\":\"fuzzy\"}\n"
        "{\"prompt\":\"p\",\"expected\":\"(\",\"scorer\":\"regex\"}\n"
        "{\"prompt\":\"p\",\"expected\":\"" + std::string(300, 'a') + "\",\"scorer\":\"regex\"}\n"
        "{\"prompt\":\"p\",\"expected\":\"many\",\"scorer\":\"numeric\"}\n"
        "{\"prompt\":\"p\",\"scorer\":\"json\",\"schema\":{\"required\":{\"k\":\"date\"}}}\n"
        "{\"prompt\":\"p\",\"expected\":\"x\",\"colour\":\"red\"}\n");
    EXPECT_TRUE(file.tasks.empty());
    EXPECT_TRUE(has_error(file, "line 1: not a JSON object"));
    EXPECT_TRUE(has_error(file, "line 2: needs 'prompt' or 'messages'"));
    EXPECT_TRUE(has_error(file, "line 3: needs 'expected'"));
    EXPECT_TRUE(has_error(file, "line 4: 'scorer' must be one of"));
    EXPECT_TRUE(has_error(file, "line 5: bad regex"));
    EXPECT_TRUE(has_error(file, "line 6: the regex is longer than 256"));
    EXPECT_TRUE(has_error(file, "line 7: 'expected' of a numeric task must be a number"));
    EXPECT_TRUE(has_error(file, "line 8: schema type of 'k'"));
    EXPECT_TRUE(has_error(file, "line 9: unknown key 'colour'"));
}

TEST(Eval, EachScorerRightAndWrong) {
    const Task exact = one(R"({"prompt":"p","expected":"Paris"})");
    EXPECT_TRUE(score(exact, "  Paris\n").correct);
    EXPECT_FALSE(score(exact, "paris").correct);

    const Task normalized = one(R"({"prompt":"p","expected":"New York","scorer":"normalized"})");
    EXPECT_TRUE(score(normalized, " new   YORK. ").correct);
    EXPECT_FALSE(score(normalized, "New York City").correct);

    const Task contains = one(R"({"prompt":"p","expected":"2027-03-14","scorer":"contains"})");
    EXPECT_TRUE(score(contains, "The date is 2027-03-14.").correct);
    EXPECT_FALSE(score(contains, "The date is 2027-03-15.").correct);

    const Task regex = one(R"({"prompt":"p","expected":"^\\s*0[xX][fF]{2}\\s*$","scorer":"regex"})");
    EXPECT_TRUE(score(regex, "0xFF").correct);
    EXPECT_FALSE(score(regex, "255").correct);

    const Task numeric = one(R"({"prompt":"p","expected":"3.33","scorer":"numeric","tolerance":0.005})");
    EXPECT_TRUE(score(numeric, "About 3.333, I think").correct);
    EXPECT_FALSE(score(numeric, "3.34").correct);
    EXPECT_EQ(score(numeric, "no idea").why, "no number in the answer");
    const Task thousands = one(R"({"prompt":"p","expected":"1234567","scorer":"numeric"})");
    EXPECT_TRUE(score(thousands, "It is 1,234,567.").correct);  // the last number, separators dropped
    EXPECT_TRUE(score(one(R"({"prompt":"p","expected":"-2.5e3","scorer":"numeric"})"), "x = -2500").correct);

    const Task json = one(
        R"({"prompt":"p","scorer":"json","schema":{"required":{"name":"string","age":"integer"}},"expected":{"name":"Ada"}})");
    EXPECT_TRUE(score(json, R"({"name": "Ada", "age": 36, "extra": true})").correct);
    EXPECT_TRUE(score(json, "```json\n{\"name\": \"Ada\", \"age\": 36}\n```").correct);
    EXPECT_EQ(score(json, R"({"name": "Ada", "age": "36"})").why, "'age' is not integer");
    EXPECT_EQ(score(json, R"({"name": "Bob", "age": 36})").why, "'name' differs");
    EXPECT_EQ(score(json, R"({"age": 36})").why, "no 'name'");
    EXPECT_EQ(score(json, "Ada, 36").why, "the answer is not a JSON object");
    EXPECT_FALSE(score(json, "import os; os.system('rm -rf /')").correct);  // text, never run
}

TEST(Eval, NormalizeAndWilson) {
    EXPECT_EQ(normalize("  The  Answer: 42. "), "the answer 42");
    EXPECT_EQ(normalize("\tA,\nB!"), "a b");
    // 6 of 6 at z = 1.96: (0.6097, 1); 0 of 6: (0, 0.3903); 8 of 10: (0.4902, 0.9433).
    auto [low, high] = wilson_interval(6, 6);
    EXPECT_NEAR(low, 0.6097, 1e-4);
    EXPECT_NEAR(high, 1.0, 1e-12);
    std::tie(low, high) = wilson_interval(0, 6);
    EXPECT_NEAR(low, 0.0, 1e-12);
    EXPECT_NEAR(high, 0.3903, 1e-4);
    std::tie(low, high) = wilson_interval(8, 10);
    EXPECT_NEAR(low, 0.4902, 1e-4);
    EXPECT_NEAR(high, 0.9433, 1e-4);
    EXPECT_EQ(wilson_interval(0, 0), std::make_pair(0.0, 0.0));
}

TEST(Eval, SummaryOfAModel) {
    ModelResult m;
    m.model = "m";
    m.price = pricing::Price{2.0, 2.0, 8.0, "2026-12-01", "test"};
    // Two right, one wrong, one failed request. TTFTs 10, 20, 30; tokens 11 in 100 ms after TTFT.
    m.results = {{"a", true, true, "", "", 10, 110, 100, 11},
                 {"b", true, true, "", "", 20, 120, 100, 11},
                 {"c", true, false, "wrong", "", 30, 130, 100, 11},
                 {"d", false, false, "HTTP 500", "", -1, 5, 0, 0}};
    summarize(m);
    EXPECT_EQ(m.tasks, 4u);
    EXPECT_EQ(m.answered, 3u);
    EXPECT_EQ(m.correct, 2u);
    EXPECT_DOUBLE_EQ(m.accuracy, 0.5);
    EXPECT_EQ(*m.ttft_p50_ms, 20);
    EXPECT_DOUBLE_EQ(*m.ms_per_output_token, 10);  // 100 ms over 10 gaps
    // 300 input tokens at $2/M and 33 output tokens at $8/M.
    EXPECT_NEAR(*m.cost_usd, (300 * 2.0 + 33 * 8.0) / 1e6, 1e-15);
    EXPECT_NEAR(*m.usd_per_million, *m.cost_usd / 333 * 1e6, 1e-12);
    EXPECT_NEAR(*m.usd_per_correct, *m.cost_usd / 2, 1e-15);
    m.price.reset();
    summarize(m);
    EXPECT_FALSE(m.cost_usd.has_value());

    EvalReport report;
    report.models = {m};
    const std::string md = to_markdown(report);
    EXPECT_NE(md.find("| model | tasks |"), std::string::npos) << md;
    EXPECT_NE(md.find("| m | 4 | 3 | 2 | 50.0% |"), std::string::npos) << md;
}

}  // namespace
}  // namespace switchyard::eval
