// The `auth` and `keys` sections: the master key that guards /admin/* and the callers' API keys
// with what each may do (models, rate limits, concurrency, budgets, labels). Secrets are kept
// only as their SHA-256.
#include <algorithm>

#include "config/sections.hpp"
#include "core/digest.hpp"

namespace switchyard::config {
namespace {

// A secret given in the file (usually ${ENV}), kept only as its SHA-256.
void read_secret_digest(Reader& in, const YAML::Node& map, const char* key, const char* digest_key, std::string& out) {
    if (auto secret = in.scalar(map, key)) {
        if (secret->size() < 8) {
            in.error(map[key], std::string("'") + key + "' is too short to be a secret (at least 8 characters)");
        } else {
            out = sha256_hex(*secret);
        }
    }
    if (auto digest = in.scalar(map, digest_key)) {
        const bool hex = digest->size() == 64 && digest->find_first_not_of("0123456789abcdef") == std::string::npos;
        if (!hex) {
            in.error(map[digest_key],
                     std::string("'") + digest_key + "' must be 64 lower-case hex digits (sha256sum of the key)");
        } else if (!out.empty()) {
            in.error(map[digest_key], std::string("give either '") + key + "' or '" + digest_key + "', not both");
        } else {
            out = *digest;
        }
    }
}

// `models: [a, b]`: the models a key may use, each one configured.
void read_allowed_models(Reader& in, const YAML::Node& models, const std::vector<std::string>& model_names, Key& key) {
    if (!models.IsSequence()) {
        in.error(models, "'models' must be a list of model names");
        return;
    }
    for (const auto& m : models) {
        const std::string name = m.IsScalar() ? m.Scalar() : "";
        if (std::find(model_names.begin(), model_names.end(), name) == model_names.end()) {
            in.error(m, "key '" + key.name + "' allows unknown model '" + name + "'" + did_you_mean(name, model_names));
        } else {
            key.models.push_back(name);
        }
    }
}

void read_labels(Reader& in, const YAML::Node& labels, Key& key) {
    if (!labels.IsMap()) {
        in.error(labels, "'labels' must be a mapping such as {team: research, user: alice}");
        return;
    }
    for (auto it = labels.begin(); it != labels.end(); ++it) {
        key.labels[it->first.as<std::string>()] = it->second.IsScalar() ? it->second.Scalar() : "";
    }
}

// Names and secrets already taken by the keys before, and the models a key may name.
struct KeyContext {
    std::set<std::string> names;
    std::set<std::string> digests;
    std::vector<std::string> model_names;
};

std::optional<Key> read_key(Reader& in, const YAML::Node& item, KeyContext& context) {
    if (!in.expect_map(item, "a key",
                       {"name", "key", "key_sha256", "models", "limits", "max_concurrent", "budget", "labels", "priority",
                        "local_only", "weight", "role"})) {
        return std::nullopt;
    }
    Key key;
    in.string(item, "name", key.name);
    in.check_name(item, key.name, context.names, "a key needs a 'name' (its id in logs, metrics and the ledger)",
                  "key");
    read_secret_digest(in, item, "key", "key_sha256", key.sha256);
    if (key.sha256.empty() && !item["key"] && !item["key_sha256"]) {
        in.error(item, "key '" + key.name + "' needs 'key' (usually ${SOME_ENV_VAR}) or 'key_sha256'");
    } else if (!key.sha256.empty() && !context.digests.insert(key.sha256).second) {
        in.error(item, "key '" + key.name + "' has the same secret as another key");
    }
    if (const YAML::Node models = item["models"]) read_allowed_models(in, models, context.model_names, key);
    if (const YAML::Node limits = item["limits"]) in.rate_limit(limits, key.limits);
    in.integer(item, "max_concurrent", key.max_concurrent, 0, 1'000'000);
    if (const YAML::Node budget = item["budget"]) {
        if (in.expect_map(budget, "'budget'", {"daily", "monthly"})) {
            in.number(budget, "daily", key.budget_daily, 0, 1e9);
            in.number(budget, "monthly", key.budget_monthly, 0, 1e12);
        }
    }
    if (const YAML::Node labels = item["labels"]) read_labels(in, labels, key);
    in.choice(item, "priority", key.batch, {{"interactive", false}, {"batch", true}});
    in.boolean(item, "local_only", key.local_only);
    in.number(item, "weight", key.weight, 0.001, 1e6);
    in.string(item, "role", key.role);
    if (!key.role.empty() && key.role != "viewer" && key.role != "admin") {
        in.error(item["role"], "key '" + key.name + "' has role '" + key.role +
                                   "'; a console role is 'viewer' (read only) or 'admin'");
    }
    return key;
}

}  // namespace

void read_auth(Reader& in, const YAML::Node& node, Auth& out) {
    if (!in.expect_map(node, "'auth'", {"required", "master_key", "master_key_sha256"})) return;
    in.boolean(node, "required", out.required);
    read_secret_digest(in, node, "master_key", "master_key_sha256", out.master_key_sha256);
}

void read_keys(Reader& in, const YAML::Node& node, Gateway& out) {
    if (!node.IsSequence()) {
        in.error(node, "'keys' must be a list of {name, key, ...}");
        return;
    }
    KeyContext context;
    for (const auto& model : out.models) context.model_names.push_back(model.name);
    for (const auto& item : node) {
        if (auto key = read_key(in, item, context)) out.keys.push_back(std::move(*key));
    }
}

}  // namespace switchyard::config
