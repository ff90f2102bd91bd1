// `switchyard bench --eval`: the task file and its scorers. A task is one prompt (or a list of chat
// messages), the expected answer and how to compare a model's answer with it. Pure functions: the
// model's text is only ever compared, never run.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::eval {

enum class ScorerKind { exact, normalized, contains, regex, numeric, json };

struct Scorer {
    ScorerKind kind = ScorerKind::exact;
    double tolerance = 0;  // numeric: |answer - expected| <= tolerance (absolute)
    // json: keys the answer's object must have, and each one's type: "string", "number",
    // "integer", "boolean", "array", "object", "null" or "any".
    std::map<std::string, std::string> required;
};

struct Task {
    std::string id;             // the line's "id", else "line N"
    std::string messages_json;  // a JSON array of chat messages, ready to send
    std::string expected;       // numeric: the number's text; json: unused (may be empty)
    Scorer scorer;
};

// Longest regex pattern accepted, and the most of an answer a regex looks at: std::regex
// backtracks, so both are kept small.
inline constexpr std::size_t kMaxPatternLength = 256;
inline constexpr std::size_t kMaxRegexInput = 4096;

struct TaskFile {
    std::vector<Task> tasks;
    std::vector<std::string> errors;  // "line N: why"
};
// One JSON object a line: {"id"?, "prompt" | "messages", "expected", "scorer"?: "exact" (default) |
// "normalized" | "contains" | "regex" | "numeric" | "json", "tolerance"?: number,
// "schema"?: {"required": {"key": "type", ...}}}. Blank lines and lines starting with # are skipped.
TaskFile parse_tasks(std::string_view jsonl);

struct Verdict {
    bool correct = false;
    std::string why;  // for a wrong answer: what was compared
};
Verdict score(const Task& task, std::string_view answer);

// Lower case, punctuation dropped, runs of whitespace made one space, trimmed: "  The  Answer: 42. " ->
// "the answer 42".
std::string normalize(std::string_view text);

// The Wilson score interval of `successes` out of `trials` at 95% (z = 1.96): {low, high}; {0, 0}
// for no trials.
std::pair<double, double> wilson_interval(std::size_t successes, std::size_t trials, double z = 1.959963984540054);

}  // namespace switchyard::eval
