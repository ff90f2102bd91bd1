#include "report/scenario.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "core/text.hpp"

namespace switchyard::report {

namespace {

std::string place(int line, int column) {
    if (line <= 0) return "";
    return "line " + std::to_string(line) + ", column " + std::to_string(column) + ": ";
}

class Parser {
public:
    std::vector<std::string> errors;

    void error(const YAML::Node& node, const std::string& message) {
        const YAML::Mark mark = node.IsDefined() ? node.Mark() : YAML::Mark::null_mark();
        errors.push_back(mark.is_null() ? message : place(mark.line + 1, mark.column + 1) + message);
    }

    bool expect_map(const YAML::Node& node, const std::string& what, std::initializer_list<std::string> known) {
        if (!node.IsMap()) {
            error(node, what + " must be a mapping of keys to values");
            return false;
        }
        const std::vector<std::string> names(known);
        for (auto it = node.begin(); it != node.end(); ++it) {
            const auto key = it->first.as<std::string>("");
            if (std::find(names.begin(), names.end(), key) != names.end()) continue;
            std::string message = "unknown key '" + key + "' in " + what;
            if (auto guess = closest(key, names)) message += "; did you mean '" + *guess + "'?";
            error(it->first, message);
        }
        return true;
    }

    // A number, with an optional K, M, G or B (10^3, 10^6, 10^9, 10^9) suffix when `counts`.
    bool number(const YAML::Node& map, const char* key, double& out, double min, double max, bool required,
                bool counts = false) {
        const YAML::Node node = map[key];
        if (!node) {
            if (required) error(map, std::string("missing '") + key + "'");
            return false;
        }
        if (!node.IsScalar()) {
            error(node, std::string("'") + key + "' must be a number");
            return false;
        }
        std::string text = node.Scalar();
        double factor = 1;
        if (counts && !text.empty()) {
            switch (text.back()) {
                case 'K': case 'k': factor = 1e3; break;
                case 'M': factor = 1e6; break;
                case 'G': case 'B': factor = 1e9; break;
                default: break;
            }
            if (factor != 1) text.pop_back();
        }
        double value = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        value *= factor;
        if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value) ||
            value < min || value > max) {
            std::ostringstream range;
            range << min << " to " << max;
            error(node, std::string("'") + key + "' must be a number from " + range.str() + ", got '" + node.Scalar() +
                            "'");
            return false;
        }
        out = value;
        return true;
    }

    bool name(const YAML::Node& map, std::string& out, std::set<std::string>& seen) {
        const YAML::Node node = map["name"];
        if (!node || !node.IsScalar() || node.Scalar().empty()) {
            error(map, "each option needs a 'name'");
            return false;
        }
        out = node.Scalar();
        if (!seen.insert(out).second) error(node, "option name '" + out + "' is used twice");
        return true;
    }

    Scenario scenario(const YAML::Node& root) {
        Scenario out;
        if (!root || root.IsNull()) {
            error(root, "the scenario is empty");
            return out;
        }
        if (!expect_map(root, "the top level",
                        {"tokens_per_month", "utilization", "cloud", "rental", "owned", "hybrid", "reference",
                         "prices", "years"})) {
            return out;
        }
        tokens(root["tokens_per_month"], out.workload);
        number(root, "utilization", out.utilization, 0.01, 1, false);
        double years = 0;
        if (number(root, "years", years, 1, 50, false)) {
            if (years != std::floor(years)) error(root["years"], "'years' must be a whole number of years");
            out.years = static_cast<int>(years);
        }
        if (const YAML::Node node = root["reference"]) {
            if (node.IsScalar()) {
                out.reference = node.Scalar();
            } else {
                error(node, "'reference' must name one of the cloud models");
            }
        }
        if (const YAML::Node node = root["prices"]) {
            if (node.IsScalar()) {
                out.prices = node.Scalar();
            } else {
                error(node, "'prices' must be the path of a price catalog");
            }
        }
        std::set<std::string> names;
        cloud(root["cloud"], out, names);
        rental(root["rental"], out, names);
        owned(root["owned"], out, names);
        hybrid(root["hybrid"], out, names);
        if (out.cloud.empty() && out.rental.empty() && out.owned.empty()) {
            error(root, "nothing to compare: give at least one of 'cloud', 'rental' or 'owned'");
        }
        if (!out.reference.empty() &&
            std::none_of(out.cloud.begin(), out.cloud.end(), [&](const CloudChoice& c) { return c.name == out.reference; })) {
            error(root["reference"], "'reference' must name one of the 'cloud' models, got '" + out.reference + "'");
        }
        return out;
    }

private:
    void tokens(const YAML::Node& node, Workload& out) {
        if (!node) {
            errors.push_back("missing 'tokens_per_month' (input, output and optionally cached_share)");
            return;
        }
        if (!expect_map(node, "'tokens_per_month'", {"input", "output", "cached_share"})) return;
        number(node, "input", out.input, 0, 1e18, true, true);
        number(node, "output", out.output, 0, 1e18, true, true);
        double share = 0;
        number(node, "cached_share", share, 0, 1, false);
        out.cached = out.input * share;
    }

    // A list under `key`: each item a mapping, or (for cloud) a bare catalog name.
    template <typename Visit>
    void list(const YAML::Node& node, const char* key, Visit visit) {
        if (!node) return;
        if (!node.IsSequence()) {
            error(node, std::string("'") + key + "' must be a list");
            return;
        }
        for (const auto& item : node) visit(item);
    }

    void cloud(const YAML::Node& node, Scenario& out, std::set<std::string>& names) {
        list(node, "cloud", [&](const YAML::Node& item) {
            CloudChoice choice;
            const YAML::Mark mark = item.Mark();
            choice.line = mark.line + 1;
            choice.column = mark.column + 1;
            if (item.IsScalar()) {
                choice.name = item.Scalar();
                if (!names.insert(choice.name).second) error(item, "option name '" + choice.name + "' is used twice");
                out.cloud.push_back(std::move(choice));
                return;
            }
            if (!expect_map(item, "a cloud model", {"name", "input", "cached_input", "output"})) return;
            if (!name(item, choice.name, names)) return;
            if (item["input"] || item["output"] || item["cached_input"]) {
                pricing::Price price;
                const bool in = number(item, "input", price.input, 0, 1e6, true);
                const bool outp = number(item, "output", price.output, 0, 1e6, true);
                if (!number(item, "cached_input", price.cached_input, 0, 1e6, false)) price.cached_input = price.input;
                if (!in || !outp) return;
                price.date = "scenario";
                price.source = "scenario file";
                choice.price = price;
            }
            out.cloud.push_back(std::move(choice));
        });
    }

    void rental(const YAML::Node& node, Scenario& out, std::set<std::string>& names) {
        list(node, "rental", [&](const YAML::Node& item) {
            if (!expect_map(item, "a rental option", {"name", "usd_per_hour", "tokens_per_second"})) return;
            Rental r;
            if (!name(item, r.name, names)) return;
            number(item, "usd_per_hour", r.usd_per_hour, 0, 1e6, true);
            number(item, "tokens_per_second", r.tokens_per_second, 0.001, 1e9, true);
            out.rental.push_back(std::move(r));
        });
    }

    void owned(const YAML::Node& node, Scenario& out, std::set<std::string>& names) {
        list(node, "owned", [&](const YAML::Node& item) {
            if (!expect_map(item, "an owned machine",
                            {"name", "hardware_usd", "lifetime_months", "power_watts", "electricity_usd_per_kwh",
                             "ops_usd_per_month", "tokens_per_second"})) {
                return;
            }
            Hardware h;
            if (!name(item, h.name, names)) return;
            number(item, "hardware_usd", h.hardware_usd, 0, 1e9, true);
            number(item, "lifetime_months", h.lifetime_months, 0.1, 1200, false);
            number(item, "power_watts", h.power_watts, 0, 1e7, false);
            number(item, "electricity_usd_per_kwh", h.electricity_usd_per_kwh, 0, 100, false);
            number(item, "ops_usd_per_month", h.ops_usd_per_month, 0, 1e9, false);
            number(item, "tokens_per_second", h.tokens_per_second, 0.001, 1e9, true);
            out.owned.push_back(std::move(h));
        });
    }

    void hybrid(const YAML::Node& node, Scenario& out, std::set<std::string>& names) {
        list(node, "hybrid", [&](const YAML::Node& item) {
            if (!expect_map(item, "a hybrid option", {"name", "machine", "local_share", "machines", "overflow"})) return;
            HybridChoice h;
            if (!name(item, h.name, names)) return;
            h.machine = text(item, "machine");
            h.overflow = text(item, "overflow");
            if (!item["machine"]) {
                error(item, "missing 'machine' (the name of an 'owned' or 'rental' option)");
            } else if (!machine_named(out, h.machine)) {
                error(item["machine"], "'machine' must name an 'owned' or 'rental' option, got '" + h.machine + "'");
            }
            if (!h.overflow.empty() && std::none_of(out.cloud.begin(), out.cloud.end(),
                                                    [&](const CloudChoice& c) { return c.name == h.overflow; })) {
                error(item["overflow"], "'overflow' must name one of the 'cloud' models, got '" + h.overflow + "'");
            }
            if (h.overflow.empty() && out.cloud.empty()) error(item, "a hybrid needs a 'cloud' model for its overflow");
            double value = 0;
            if (number(item, "local_share", value, 0, 1, false)) h.local_share = value;
            if (number(item, "machines", value, 0, 1e6, false)) {
                if (value != std::floor(value)) error(item["machines"], "'machines' must be a whole number");
                h.machines = value;
            }
            if (h.local_share.has_value() == h.machines.has_value()) {
                error(item, "a hybrid option needs exactly one of 'local_share' and 'machines'");
            }
            out.hybrid.push_back(std::move(h));
        });
    }

    std::string text(const YAML::Node& map, const char* key) {
        const YAML::Node node = map[key];
        if (!node) return "";
        if (!node.IsScalar()) {
            error(node, std::string("'") + key + "' must be a name");
            return "";
        }
        return node.Scalar();
    }

    static bool machine_named(const Scenario& s, const std::string& name) {
        return std::any_of(s.owned.begin(), s.owned.end(), [&](const Hardware& h) { return h.name == name; }) ||
               std::any_of(s.rental.begin(), s.rental.end(), [&](const Rental& r) { return r.name == name; });
    }
};

}  // namespace

ScenarioResult parse_scenario(std::string_view yaml_text) {
    ScenarioResult result;
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml_text));
    } catch (const YAML::ParserException& e) {
        result.errors.push_back(place(e.mark.line + 1, e.mark.column + 1) + e.msg);
        return result;
    }
    Parser parser;
    Scenario scenario = parser.scenario(root);
    result.errors = std::move(parser.errors);
    if (result.errors.empty()) result.scenario = std::move(scenario);
    return result;
}

ScenarioResult load_scenario_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        ScenarioResult result;
        result.errors.push_back("cannot open " + path);
        return result;
    }
    std::stringstream text;
    text << in.rdbuf();
    return parse_scenario(text.str());
}

std::optional<std::vector<CloudModel>> resolve_cloud(const Scenario& scenario, const pricing::Catalog& catalog,
                                                     std::vector<std::string>& errors) {
    std::vector<CloudModel> out;
    std::vector<std::string> known;
    for (const auto& [name, price] : catalog.entries()) known.push_back(name);
    bool ok = true;
    for (const auto& choice : scenario.cloud) {
        if (choice.price) {
            out.push_back({choice.name, *choice.price});
            continue;
        }
        if (const pricing::Price* price = catalog.find(choice.name)) {
            out.push_back({choice.name, *price});
            continue;
        }
        std::string message = place(choice.line, choice.column) + "model '" + choice.name +
                              "' is not in the price catalog; give its prices (input, output) or use a catalog name";
        if (auto guess = closest(choice.name, known)) message += "; did you mean '" + *guess + "'?";
        errors.push_back(std::move(message));
        ok = false;
    }
    if (!ok) return std::nullopt;
    return out;
}

namespace {

// The plan of a parsed hybrid choice: its machine and its overflow model looked up by name.
std::optional<HybridPlan> plan_of(const HybridChoice& choice, const Scenario& scenario,
                                  const std::vector<CloudModel>& cloud, const std::string& reference) {
    HybridPlan plan;
    plan.name = choice.name;
    plan.local_share = choice.local_share;
    plan.machines = choice.machines;
    bool found = false;
    for (const auto& h : scenario.owned) {
        if (h.name != choice.machine) continue;
        plan.machine = hybrid_machine(h);
        found = true;
    }
    for (const auto& r : scenario.rental) {
        if (r.name != choice.machine) continue;
        plan.machine = hybrid_machine(r);
        found = true;
    }
    const std::string& overflow = choice.overflow.empty() ? reference : choice.overflow;
    const auto model = std::find_if(cloud.begin(), cloud.end(), [&](const CloudModel& c) { return c.name == overflow; });
    if (!found || model == cloud.end()) return std::nullopt;
    plan.overflow = *model;
    return plan;
}

}  // namespace

Comparison compare(const Scenario& scenario, const std::vector<CloudModel>& cloud) {
    Comparison out =
        compare(scenario.workload, cloud, scenario.rental, scenario.owned, scenario.utilization, scenario.reference);
    for (const auto& choice : scenario.hybrid) {
        if (const auto plan = plan_of(choice, scenario, cloud, out.reference)) {
            add_option(out, hybrid_plan_option(*plan, scenario.workload, scenario.utilization, out.reference_monthly_usd));
        }
    }
    return out;
}

int scenario_years(const Scenario& scenario) {
    if (scenario.years > 0) return scenario.years;
    double months = 0;
    for (const auto& h : scenario.owned) months = std::max(months, h.lifetime_months);
    return years_of(months > 0 ? months : 36);
}

}  // namespace switchyard::report
