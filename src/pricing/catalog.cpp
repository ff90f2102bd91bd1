#include "pricing/catalog.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <sstream>

namespace switchyard::pricing {

double Price::cost(std::uint64_t prompt_tokens, std::uint64_t cached_tokens, std::uint64_t completion_tokens) const {
    const std::uint64_t cached = cached_tokens < prompt_tokens ? cached_tokens : prompt_tokens;
    return (static_cast<double>(prompt_tokens - cached) * input + static_cast<double>(cached) * cached_input +
            static_cast<double>(completion_tokens) * output) /
           1e6;
}

void Catalog::set(std::string model, Price price) { prices_[std::move(model)] = std::move(price); }

const Price* Catalog::find(std::string_view model) const {
    if (auto it = prices_.find(model); it != prices_.end()) return &it->second;
    if (const auto slash = model.rfind('/'); slash != std::string_view::npos) {
        model.remove_prefix(slash + 1);
        if (auto it = prices_.find(model); it != prices_.end()) return &it->second;
    }
    const Price* best = nullptr;
    std::size_t best_length = 0;
    for (const auto& [name, price] : prices_) {
        if (name.size() < model.size() && model.starts_with(name) &&
            (model[name.size()] == '-' || model[name.size()] == '@') && name.size() > best_length) {
            best = &price;
            best_length = name.size();
        }
    }
    return best;
}

namespace {

std::string where(const YAML::Node& node) {
    const YAML::Mark mark = node.Mark();
    if (mark.line < 0) return "";
    return "line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1) + ": ";
}

}  // namespace

LoadResult parse_catalog(std::string_view yaml_text) {
    LoadResult result;
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml_text));
    } catch (const YAML::Exception& e) {
        result.errors.push_back(e.what());
        return result;
    }
    const YAML::Node models = root.IsMap() ? root["models"] : YAML::Node();
    if (!models.IsMap()) {
        result.errors.push_back("expected a map 'models' of model name to price");
        return result;
    }
    Catalog catalog;
    for (const auto& entry : models) {
        const std::string name = entry.first.as<std::string>("");
        const YAML::Node& value = entry.second;
        if (name.empty()) {
            result.errors.push_back(where(entry.first) + "empty model name");
            continue;
        }
        if (!value.IsMap()) {
            result.errors.push_back(where(value) + "model '" + name + "': expected a map");
            continue;
        }
        Price price;
        bool ok = true;
        auto number = [&](const char* key, double* out, bool required) {
            const YAML::Node node = value[key];
            if (!node.IsDefined()) {
                if (required) {
                    result.errors.push_back(where(value) + "model '" + name + "': missing '" + key + "'");
                    ok = false;
                }
                return false;
            }
            try {
                *out = node.as<double>();
            } catch (const YAML::Exception&) {
                result.errors.push_back(where(node) + "model '" + name + "': '" + key + "' must be a number");
                ok = false;
                return false;
            }
            if (*out < 0) {
                result.errors.push_back(where(node) + "model '" + name + "': '" + key + "' must not be negative");
                ok = false;
            }
            return true;
        };
        auto text = [&](const char* key, std::string* out) {
            const YAML::Node node = value[key];
            if (!node.IsDefined() || !node.IsScalar() || node.Scalar().empty()) {
                result.errors.push_back(where(value) + "model '" + name + "': missing '" + key + "'");
                ok = false;
                return;
            }
            *out = node.Scalar();
        };
        for (const auto& field : value) {
            const std::string key = field.first.as<std::string>("");
            if (key != "input" && key != "cached_input" && key != "output" && key != "web_search" && key != "date" &&
                key != "as_of" && key != "source") {
                result.errors.push_back(where(field.first) + "model '" + name + "': unknown key '" + key + "'");
                ok = false;
            }
        }
        number("input", &price.input, true);
        number("output", &price.output, true);
        if (!number("cached_input", &price.cached_input, false)) price.cached_input = price.input;
        number("web_search", &price.web_search, false);
        // `as_of` is another name for `date` (the day the price was read).
        if (value["as_of"].IsDefined() && !value["date"].IsDefined()) {
            text("as_of", &price.date);
        } else {
            text("date", &price.date);
        }
        text("source", &price.source);
        if (ok) catalog.set(name, std::move(price));
    }
    if (result.errors.empty()) result.catalog = std::move(catalog);
    return result;
}

LoadResult load_catalog_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        LoadResult result;
        result.errors.push_back("cannot open " + path);
        return result;
    }
    std::stringstream text;
    text << in.rdbuf();
    return parse_catalog(text.str());
}

std::optional<std::pair<std::string, Price>> parse_price_override(std::string_view text, std::string* why) {
    auto fail = [&](const char* reason) -> std::optional<std::pair<std::string, Price>> {
        if (why) *why = reason;
        return std::nullopt;
    };
    const auto eq = text.rfind('=');
    if (eq == std::string_view::npos || eq == 0) return fail("expected MODEL=IN,OUT[,CACHED]");
    std::string model(text.substr(0, eq));
    std::string_view rest = text.substr(eq + 1);
    std::vector<double> numbers;
    while (!rest.empty() || numbers.empty()) {
        const auto comma = rest.find(',');
        const std::string_view part = rest.substr(0, comma);
        double value = 0;
        auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
        if (ec != std::errc{} || end != part.data() + part.size() || value < 0 || part.empty()) {
            return fail("prices must be non-negative numbers: MODEL=IN,OUT[,CACHED]");
        }
        numbers.push_back(value);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    if (numbers.size() < 2 || numbers.size() > 3) return fail("expected MODEL=IN,OUT[,CACHED]");
    Price price;
    price.input = numbers[0];
    price.output = numbers[1];
    price.cached_input = numbers.size() == 3 ? numbers[2] : numbers[0];
    price.date = "command line";
    price.source = "--price";
    return std::make_pair(std::move(model), std::move(price));
}

}  // namespace switchyard::pricing
