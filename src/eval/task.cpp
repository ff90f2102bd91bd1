#include "eval/task.hpp"

#include <simdjson.h>

#include <cctype>
#include <cmath>
#include <regex>

#include "core/error.hpp"

namespace switchyard::eval {

namespace {

std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    return text;
}

std::optional<ScorerKind> scorer_kind(std::string_view name) {
    if (name == "exact") return ScorerKind::exact;
    if (name == "normalized") return ScorerKind::normalized;
    if (name == "contains") return ScorerKind::contains;
    if (name == "regex") return ScorerKind::regex;
    if (name == "numeric") return ScorerKind::numeric;
    if (name == "json") return ScorerKind::json;
    return std::nullopt;
}

bool known_type(std::string_view type) {
    return type == "string" || type == "number" || type == "integer" || type == "boolean" || type == "array" ||
           type == "object" || type == "null" || type == "any";
}

bool has_type(simdjson::dom::element value, std::string_view type) {
    using T = simdjson::dom::element_type;
    const T t = value.type();
    if (type == "any") return true;
    if (type == "string") return t == T::STRING;
    if (type == "number") return t == T::INT64 || t == T::UINT64 || t == T::DOUBLE;
    if (type == "integer") {
        if (t == T::INT64 || t == T::UINT64) return true;
        double d = 0;
        return t == T::DOUBLE && value.get_double().get(d) == simdjson::SUCCESS && std::floor(d) == d;
    }
    if (type == "boolean") return t == T::BOOL;
    if (type == "array") return t == T::ARRAY;
    if (type == "object") return t == T::OBJECT;
    if (type == "null") return t == T::NULL_VALUE;
    return false;
}

// The last number written in `text` ("The answer is 1,234.5." -> 1234.5); nullopt when there is none.
std::optional<double> last_number(std::string_view text) {
    std::optional<double> found;
    std::size_t i = 0;
    while (i < text.size()) {
        const bool sign = (text[i] == '-' || text[i] == '+') && i + 1 < text.size() &&
                          std::isdigit(static_cast<unsigned char>(text[i + 1]));
        if (!sign && !std::isdigit(static_cast<unsigned char>(text[i]))) {
            ++i;
            continue;
        }
        std::string digits;
        if (sign) digits += text[i++];
        bool dot = false;
        while (i < text.size()) {
            const char c = text[i];
            if (std::isdigit(static_cast<unsigned char>(c))) {
                digits += c;
            } else if (c == ',' && !dot && i + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[i + 1]))) {
                // a thousands separator: skipped
            } else if (c == '.' && !dot && i + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[i + 1]))) {
                digits += c;
                dot = true;
            } else if ((c == 'e' || c == 'E') && i + 1 < text.size() &&
                       (std::isdigit(static_cast<unsigned char>(text[i + 1])) ||
                        ((text[i + 1] == '-' || text[i + 1] == '+') && i + 2 < text.size() &&
                         std::isdigit(static_cast<unsigned char>(text[i + 2]))))) {
                digits += c;
                digits += text[++i];
                dot = true;  // no dot after an exponent
            } else {
                break;
            }
            ++i;
        }
        try {
            found = std::stod(digits);
        } catch (const std::exception&) {
        }
    }
    return found;
}

// An answer's JSON: the text itself, or the inside of a ``` fence around it.
std::string_view json_part(std::string_view answer) {
    answer = trim(answer);
    if (answer.starts_with("```")) {
        const auto newline = answer.find('\n');
        const auto close = answer.rfind("```");
        if (newline != std::string_view::npos && close != std::string_view::npos && close > newline) {
            return trim(answer.substr(newline + 1, close - newline - 1));
        }
    }
    return answer;
}

}  // namespace

std::string normalize(std::string_view text) {
    std::string out;
    bool space = false;
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isspace(u)) {
            space = !out.empty();
        } else if (std::ispunct(u)) {
            continue;
        } else {
            if (space) out += ' ';
            space = false;
            out += static_cast<char>(std::tolower(u));
        }
    }
    return out;
}

std::pair<double, double> wilson_interval(std::size_t successes, std::size_t trials, double z) {
    if (trials == 0) return {0, 0};
    const double n = static_cast<double>(trials);
    const double p = static_cast<double>(successes) / n;
    const double z2 = z * z;
    const double denominator = 1 + z2 / n;
    const double centre = (p + z2 / (2 * n)) / denominator;
    const double half = z * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator;
    return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

TaskFile parse_tasks(std::string_view jsonl) {
    TaskFile out;
    simdjson::dom::parser parser;
    std::size_t line_number = 0;
    while (!jsonl.empty()) {
        const auto end = jsonl.find('\n');
        std::string_view line = jsonl.substr(0, end);
        jsonl.remove_prefix(end == std::string_view::npos ? jsonl.size() : end + 1);
        ++line_number;
        line = trim(line);
        if (line.empty() || line.front() == '#') continue;
        const std::string where = "line " + std::to_string(line_number) + ": ";
        auto fail = [&](const std::string& why) { out.errors.push_back(where + why); };
        simdjson::dom::object object;
        if (parser.parse(line.data(), line.size()).get(object) != simdjson::SUCCESS) {
            fail("not a JSON object");
            continue;
        }
        Task task;
        task.id = "line " + std::to_string(line_number);
        bool ok = true;
        bool has_expected = false;
        for (auto [key, value] : object) {
            std::string_view text;
            if (key == "id") {
                task.id = value.get_string().get(text) == simdjson::SUCCESS ? std::string(text) : simdjson::to_string(value);
            } else if (key == "prompt") {
                if (value.get_string().get(text) != simdjson::SUCCESS) {
                    fail("'prompt' must be a string");
                    ok = false;
                    continue;
                }
                task.messages_json = R"([{"role":"user","content":)";
                append_json_string(task.messages_json, text);
                task.messages_json += "}]";
            } else if (key == "messages") {
                simdjson::dom::array messages;
                if (value.get_array().get(messages) != simdjson::SUCCESS || messages.size() == 0) {
                    fail("'messages' must be a non-empty array of {\"role\", \"content\"} objects");
                    ok = false;
                    continue;
                }
                for (auto message : messages) {
                    std::string_view role;
                    if (message["role"].get_string().get(role) != simdjson::SUCCESS) {
                        fail("each message needs a string 'role'");
                        ok = false;
                        break;
                    }
                }
                task.messages_json = simdjson::minify(value);
            } else if (key == "expected") {
                has_expected = true;
                task.expected = value.get_string().get(text) == simdjson::SUCCESS ? std::string(text)
                                                                                   : simdjson::minify(value);
            } else if (key == "scorer") {
                const auto kind = value.get_string().get(text) == simdjson::SUCCESS ? scorer_kind(text) : std::nullopt;
                if (!kind) {
                    fail("'scorer' must be one of exact, normalized, contains, regex, numeric, json");
                    ok = false;
                    continue;
                }
                task.scorer.kind = *kind;
            } else if (key == "tolerance") {
                double tolerance = 0;
                if (value.get_double().get(tolerance) != simdjson::SUCCESS) {
                    std::int64_t i = 0;
                    if (value.get_int64().get(i) != simdjson::SUCCESS) {
                        fail("'tolerance' must be a number");
                        ok = false;
                        continue;
                    }
                    tolerance = static_cast<double>(i);
                }
                if (tolerance < 0) {
                    fail("'tolerance' must not be negative");
                    ok = false;
                }
                task.scorer.tolerance = tolerance;
            } else if (key == "schema") {
                simdjson::dom::object required;
                if (value["required"].get_object().get(required) != simdjson::SUCCESS) {
                    fail("'schema' must be {\"required\": {\"key\": \"type\", ...}}");
                    ok = false;
                    continue;
                }
                for (auto [name, type] : required) {
                    if (type.get_string().get(text) != simdjson::SUCCESS || !known_type(text)) {
                        fail("schema type of '" + std::string(name) +
                             "' must be string, number, integer, boolean, array, object, null or any");
                        ok = false;
                        continue;
                    }
                    task.scorer.required.emplace(std::string(name), std::string(text));
                }
            } else {
                fail("unknown key '" + std::string(key) + "'");
                ok = false;
            }
        }
        if (task.messages_json.empty()) {
            fail("needs 'prompt' or 'messages'");
            ok = false;
        }
        if (!has_expected && task.scorer.kind != ScorerKind::json) {
            fail("needs 'expected'");
            ok = false;
        }
        if (task.scorer.kind == ScorerKind::regex) {
            if (task.expected.size() > kMaxPatternLength) {
                fail("the regex is longer than " + std::to_string(kMaxPatternLength) + " characters");
                ok = false;
            } else {
                try {
                    std::regex check(task.expected, std::regex::ECMAScript);
                } catch (const std::regex_error& e) {
                    fail("bad regex: " + std::string(e.what()));
                    ok = false;
                }
            }
        }
        if (task.scorer.kind == ScorerKind::numeric && !last_number(task.expected)) {
            fail("'expected' of a numeric task must be a number");
            ok = false;
        }
        if (task.scorer.kind == ScorerKind::json && has_expected) {
            simdjson::dom::object expected;
            if (parser.parse(task.expected).get(expected) != simdjson::SUCCESS) {
                fail("'expected' of a json task must be an object (the values the answer must have)");
                ok = false;
            }
        }
        if (ok) out.tasks.push_back(std::move(task));
    }
    return out;
}

Verdict score(const Task& task, std::string_view answer) {
    Verdict v;
    switch (task.scorer.kind) {
        case ScorerKind::exact:
            v.correct = trim(answer) == trim(task.expected);
            break;
        case ScorerKind::normalized:
            v.correct = normalize(answer) == normalize(task.expected);
            break;
        case ScorerKind::contains:
            v.correct = normalize(answer).find(normalize(task.expected)) != std::string::npos;
            break;
        case ScorerKind::regex: {
            try {
                const std::regex pattern(task.expected, std::regex::ECMAScript);
                const std::string input(answer.substr(0, kMaxRegexInput));
                v.correct = std::regex_search(input, pattern);
            } catch (const std::exception& e) {  // regex_error (complexity), or the stack
                v.why = std::string("regex failed: ") + e.what();
                return v;
            }
            break;
        }
        case ScorerKind::numeric: {
            const auto got = last_number(answer);
            const auto want = last_number(task.expected);
            if (!got) {
                v.why = "no number in the answer";
                return v;
            }
            v.correct = want && std::abs(*got - *want) <= task.scorer.tolerance + 1e-12 * std::abs(*want);
            if (!v.correct) v.why = "got " + std::to_string(*got);
            return v;
        }
        case ScorerKind::json: {
            simdjson::dom::parser parser;
            const std::string text(json_part(answer));
            simdjson::dom::object object;
            if (parser.parse(text).get(object) != simdjson::SUCCESS) {
                v.why = "the answer is not a JSON object";
                return v;
            }
            for (const auto& [key, type] : task.scorer.required) {
                simdjson::dom::element value;
                if (object[key].get(value) != simdjson::SUCCESS) {
                    v.why = "no '" + key + "'";
                    return v;
                }
                if (!has_type(value, type)) {
                    v.why = "'" + key + "' is not " + type;
                    return v;
                }
            }
            if (!task.expected.empty()) {
                simdjson::dom::parser expected_parser;
                simdjson::dom::object expected;
                if (expected_parser.parse(task.expected).get(expected) != simdjson::SUCCESS) return v;
                for (auto [key, want] : expected) {
                    simdjson::dom::element got;
                    if (object[key].get(got) != simdjson::SUCCESS || simdjson::minify(got) != simdjson::minify(want)) {
                        v.why = "'" + std::string(key) + "' differs";
                        return v;
                    }
                }
            }
            v.correct = true;
            return v;
        }
    }
    if (!v.correct) v.why = "expected '" + task.expected + "'";
    return v;
}

}  // namespace switchyard::eval
