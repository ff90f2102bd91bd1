#include "auth/keys.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <set>

#include "core/digest.hpp"

namespace switchyard::auth {

namespace {
std::string labels_to_json(const std::map<std::string, std::string>& labels) {
    std::string out = "{";
    for (const auto& [name, value] : labels) {
        if (out.size() > 1) out += ',';
        append_json_string(out, name);
        out += ':';
        append_json_string(out, value);
    }
    out += '}';
    return out;
}
}  // namespace

KeyEntry::KeyEntry(config::Key key, bool configured, SteadyTime now)
    : policy(std::move(key)),
      from_config(configured),
      labels_json(labels_to_json(policy.labels)),
      limiter(policy.limits, now),
      budget(policy.budget_daily, policy.budget_monthly) {}

bool KeyEntry::allows(std::string_view model) const {
    return policy.models.empty() || std::find(policy.models.begin(), policy.models.end(), model) != policy.models.end();
}

std::string policy_to_json(const config::Key& key) {
    std::string out = "{\"name\":";
    append_json_string(out, key.name);
    out += ",\"models\":[";
    for (std::size_t i = 0; i < key.models.size(); ++i) {
        if (i) out += ',';
        append_json_string(out, key.models[i]);
    }
    out += "],\"limits\":{\"rpm\":" + std::to_string(key.limits.rpm) + ",\"tpm\":" + std::to_string(key.limits.tpm) +
           ",\"rpm_burst\":" + std::to_string(key.limits.rpm_burst) +
           ",\"tpm_burst\":" + std::to_string(key.limits.tpm_burst) + "}";
    out += ",\"max_concurrent\":" + std::to_string(key.max_concurrent);
    char budget[96];
    std::snprintf(budget, sizeof budget, ",\"budget\":{\"daily\":%.6f,\"monthly\":%.6f}", key.budget_daily,
                  key.budget_monthly);
    out += budget;
    out += ",\"labels\":" + labels_to_json(key.labels);
    if (!key.role.empty()) {  // (only when given: stored policies without one read back unchanged)
        out += ",\"role\":";
        append_json_string(out, key.role);
    }
    out += "}";
    return out;
}

namespace {

// The policy `key` with the fields of the JSON object `json` set on it. With `patch`, a field given
// replaces its old value (models and labels as a whole; limits and budget one sub-field at a time)
// and the name cannot change.
std::optional<config::Key> read_policy(std::string_view json, config::Key key, bool patch, std::string* why) {
    namespace od = simdjson::ondemand;
    const simdjson::padded_string padded(json);
    od::parser parser;
    od::document doc;
    const auto fail = [&](std::string message) -> std::optional<config::Key> {
        if (why) *why = std::move(message);
        return std::nullopt;
    };
    if (parser.iterate(padded).get(doc)) return fail("the body is not valid JSON");
    od::object root;
    if (doc.get_object().get(root)) return fail("the body must be a JSON object");
    for (auto field_result : root) {
        od::field field;
        if (std::move(field_result).get(field)) return fail("the body is not valid JSON");
        std::string_view name;
        if (field.unescaped_key().get(name)) return fail("the body is not valid JSON");
        od::value value = field.value();
        if (name == "name") {
            std::string_view text;
            if (value.get_string().get(text)) return fail("'name' must be a string");
            if (patch && text != key.name) {
                return fail("a key's name cannot be changed (revoke it and create one with the new name)");
            }
            key.name = std::string(text);
        } else if (name == "models") {
            od::array models;
            if (value.get_array().get(models)) return fail("'models' must be an array of model names");
            key.models.clear();
            for (auto m : models) {
                std::string_view text;
                if (m.get_string().get(text)) return fail("'models' must be an array of model names");
                key.models.emplace_back(text);
            }
        } else if (name == "limits") {
            od::object limits;
            if (value.get_object().get(limits)) return fail("'limits' must be an object");
            for (auto limit_result : limits) {
                od::field limit;
                if (std::move(limit_result).get(limit)) return fail("'limits' is not valid JSON");
                std::string_view limit_name;
                if (limit.unescaped_key().get(limit_name)) return fail("'limits' is not valid JSON");
                std::uint64_t number = 0;
                if (limit.value().get_uint64().get(number)) return fail("limits must be whole numbers");
                if (limit_name == "rpm") key.limits.rpm = number;
                else if (limit_name == "tpm") key.limits.tpm = number;
                else if (limit_name == "rpm_burst") key.limits.rpm_burst = number;
                else if (limit_name == "tpm_burst") key.limits.tpm_burst = number;
                else return fail("unknown limit '" + std::string(limit_name) + "' (rpm, tpm, rpm_burst, tpm_burst)");
            }
        } else if (name == "max_concurrent") {
            std::uint64_t number = 0;
            if (value.get_uint64().get(number)) return fail("'max_concurrent' must be a whole number");
            key.max_concurrent = number;
        } else if (name == "budget") {
            od::object budget;
            if (value.get_object().get(budget)) return fail("'budget' must be an object {daily, monthly}");
            for (auto budget_result : budget) {
                od::field item;
                if (std::move(budget_result).get(item)) return fail("'budget' is not valid JSON");
                std::string_view item_name;
                if (item.unescaped_key().get(item_name)) return fail("'budget' is not valid JSON");
                double number = 0;
                if (item.value().get_double().get(number) || number < 0) return fail("budgets must be dollar amounts");
                if (item_name == "daily") key.budget_daily = number;
                else if (item_name == "monthly") key.budget_monthly = number;
                else return fail("unknown budget '" + std::string(item_name) + "' (daily, monthly)");
            }
        } else if (name == "labels") {
            od::object labels;
            if (value.get_object().get(labels)) return fail("'labels' must be an object of strings");
            key.labels.clear();
            for (auto label_result : labels) {
                od::field label;
                if (std::move(label_result).get(label)) return fail("'labels' is not valid JSON");
                std::string_view label_name;
                std::string_view label_value;
                if (label.unescaped_key().get(label_name) || label.value().get_string().get(label_value)) {
                    return fail("'labels' must be an object of strings");
                }
                key.labels[std::string(label_name)] = std::string(label_value);
            }
        } else if (name == "role") {
            std::string_view text;
            if (value.get_string().get(text)) return fail("'role' must be a string");
            if (text != "viewer" && text != "admin" && !text.empty()) {
                return fail("'role' must be \"viewer\" (read only) or \"admin\" (the web console's roles)");
            }
            key.role = std::string(text);
        } else {
            return fail("unknown field '" + std::string(name) +
                        "' (name, models, limits, max_concurrent, budget, labels, role)");
        }
    }
    if (key.name.empty()) return fail("a key needs a 'name'");
    return key;
}

}  // namespace

std::optional<config::Key> policy_from_json(std::string_view json, std::string* why) {
    return read_policy(json, config::Key{}, false, why);
}

std::optional<config::Key> policy_patched(const config::Key& base, std::string_view json, std::string* why) {
    return read_policy(json, base, true, why);
}

KeyStore::KeyStore(const config::Gateway& config, const Clock& clock)
    : clock_(clock), master_sha256_(config.auth.master_key_sha256), required_(config.auth.required) {
    for (const auto& key : config.keys) {
        auto entry = std::make_shared<KeyEntry>(key, true, clock_.now());
        by_digest_[key.sha256] = entry;
        by_name_[key.name] = entry;
    }
}

std::shared_ptr<KeyEntry> KeyStore::find(std::string_view presented) const {
    if (presented.empty()) return nullptr;
    const std::string digest = sha256_hex(presented);
    std::shared_lock lock(mutex_);
    auto it = by_digest_.find(digest);
    return it == by_digest_.end() ? nullptr : it->second;
}

bool KeyStore::is_master(std::string_view presented) const {
    if (presented.empty()) return false;
    const std::string digest = sha256_hex(presented);
    std::shared_lock lock(mutex_);
    return !master_sha256_.empty() && constant_time_equals(digest, master_sha256_);
}

bool KeyStore::has_master() const {
    std::shared_lock lock(mutex_);
    return !master_sha256_.empty();
}

KeyStore::Changes KeyStore::reconfigure(const config::Gateway& config) {
    Changes changes;
    const auto now = clock_.now();
    const std::time_t wall_now = std::time(nullptr);
    std::unique_lock lock(mutex_);
    std::unordered_map<std::string, std::shared_ptr<KeyEntry>> by_digest;
    std::map<std::string, std::shared_ptr<KeyEntry>, std::less<>> by_name;
    for (const auto& key : config.keys) {
        std::shared_ptr<KeyEntry> entry;
        const auto old = by_name_.find(key.name);
        if (old != by_name_.end() && old->second->from_config && old->second->policy == key) {
            entry = old->second;  // unchanged: its limiter, budget and requests in flight go on
        } else {
            entry = std::make_shared<KeyEntry>(key, true, now);
            if (old != by_name_.end()) {
                // Same key name, new policy: what it spent this day and month still counts.
                limit::Budget& spent = old->second->budget;
                entry->budget.load(spent.spent_today(wall_now), spent.spent_this_month(wall_now), wall_now);
                ++changes.changed;
            } else {
                ++changes.added;
            }
        }
        by_digest[key.sha256] = entry;
        by_name[key.name] = entry;
    }
    for (const auto& [name, entry] : by_name_) {
        if (entry->from_config) {
            if (!by_name.contains(name)) ++changes.removed;
            continue;
        }
        // Keys made through the admin API stay, unless the file now has one of the same name or digest.
        if (by_name.contains(name) || by_digest.contains(entry->policy.sha256)) {
            ++changes.shadowed;
            continue;
        }
        by_digest[entry->policy.sha256] = entry;
        by_name[name] = entry;
    }
    by_digest_ = std::move(by_digest);
    by_name_ = std::move(by_name);
    master_sha256_ = config.auth.master_key_sha256;
    required_.store(config.auth.required || !by_name_.empty());
    ++version_;
    return changes;
}

bool KeyStore::add(config::Key key, std::int64_t created_ms) {
    auto entry = std::make_shared<KeyEntry>(std::move(key), false, clock_.now());
    entry->created_ms = created_ms;
    std::unique_lock lock(mutex_);
    if (by_name_.contains(entry->policy.name) || by_digest_.contains(entry->policy.sha256)) return false;
    by_digest_[entry->policy.sha256] = entry;
    by_name_[entry->policy.name] = entry;
    required_.store(true);
    ++version_;
    return true;
}

KeyStore::Update KeyStore::update(config::Key policy) {
    const std::time_t wall_now = std::time(nullptr);
    std::unique_lock lock(mutex_);
    auto it = by_name_.find(policy.name);
    if (it == by_name_.end()) return Update::unknown;
    const std::shared_ptr<KeyEntry> old = it->second;
    if (old->from_config) return Update::configured;
    policy.sha256 = old->policy.sha256;
    auto entry = std::make_shared<KeyEntry>(std::move(policy), false, clock_.now());
    entry->created_ms = old->created_ms;
    // What it spent this day and month still counts against the new budgets.
    entry->budget.load(old->budget.spent_today(wall_now), old->budget.spent_this_month(wall_now), wall_now);
    by_digest_[entry->policy.sha256] = entry;
    it->second = entry;
    ++version_;
    return Update::updated;
}

KeyStore::Revoke KeyStore::revoke(std::string_view name) {
    std::unique_lock lock(mutex_);
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return Revoke::unknown;
    if (it->second->from_config) return Revoke::configured;
    it->second->revoked.store(true);
    by_digest_.erase(it->second->policy.sha256);
    by_name_.erase(it);
    ++version_;
    return Revoke::revoked;
}

std::optional<KeyStore::Synced> KeyStore::sync(std::vector<Stored> stored, std::uint64_t version) {
    const std::time_t wall_now = std::time(nullptr);
    std::unique_lock lock(mutex_);
    if (version_.load() != version) return std::nullopt;
    Synced done;
    std::set<std::string, std::less<>> names;
    for (auto& [policy, created_ms] : stored) {
        names.insert(policy.name);
        auto it = by_name_.find(policy.name);
        if (it != by_name_.end() && it->second->from_config) continue;
        if (it != by_name_.end() && it->second->policy.sha256 == policy.sha256) {
            if (policy_to_json(it->second->policy) == policy_to_json(policy)) continue;
            const std::shared_ptr<KeyEntry> old = it->second;
            auto entry = std::make_shared<KeyEntry>(std::move(policy), false, clock_.now());
            entry->created_ms = old->created_ms;
            entry->budget.load(old->budget.spent_today(wall_now), old->budget.spent_this_month(wall_now), wall_now);
            by_digest_[entry->policy.sha256] = entry;
            it->second = entry;
            done.updated.push_back(entry->policy.name);
            continue;
        }
        if (it != by_name_.end()) {  // the name was revoked there and given to another key
            it->second->revoked.store(true);
            by_digest_.erase(it->second->policy.sha256);
            by_name_.erase(it);
            done.revoked.push_back(policy.name);
        }
        if (by_digest_.contains(policy.sha256)) continue;  // a key of the file has that digest
        auto entry = std::make_shared<KeyEntry>(std::move(policy), false, clock_.now());
        entry->created_ms = created_ms;
        by_digest_[entry->policy.sha256] = entry;
        by_name_[entry->policy.name] = entry;
        required_.store(true);
        done.added.push_back(entry->policy.name);
    }
    for (auto it = by_name_.begin(); it != by_name_.end();) {
        if (it->second->from_config || names.contains(it->first)) {
            ++it;
            continue;
        }
        it->second->revoked.store(true);
        by_digest_.erase(it->second->policy.sha256);
        done.revoked.push_back(it->first);
        it = by_name_.erase(it);
    }
    if (!done.added.empty() || !done.updated.empty() || !done.revoked.empty()) ++version_;
    return done;
}

std::vector<std::shared_ptr<KeyEntry>> KeyStore::list() const {
    std::shared_lock lock(mutex_);
    std::vector<std::shared_ptr<KeyEntry>> out;
    for (const auto& [name, entry] : by_name_) out.push_back(entry);
    return out;
}

std::shared_ptr<KeyEntry> KeyStore::by_name(std::string_view name) const {
    std::shared_lock lock(mutex_);
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
}

std::string_view presented_key(std::string_view authorization, std::string_view x_api_key) {
    if (authorization.size() > 7 && (authorization.substr(0, 7) == "Bearer " || authorization.substr(0, 7) == "bearer ")) {
        std::string_view key = authorization.substr(7);
        while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
        while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
        return key;
    }
    return x_api_key;
}

ApiError missing_key_error() {
    return ApiError{401,
                    "You didn't provide an API key. You need to provide your API key in an Authorization header "
                    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                    "invalid_request_error", std::nullopt, "missing_api_key"};
}

ApiError invalid_key_error() {
    // Never echo the key, not even in part.
    return ApiError{401, "Incorrect API key provided.", "invalid_request_error", std::nullopt, "invalid_api_key"};
}

std::variant<std::shared_ptr<KeyEntry>, ApiError> authenticate(const KeyStore& keys, std::string_view authorization,
                                                               std::string_view x_api_key) {
    if (!keys.required()) return std::shared_ptr<KeyEntry>();
    const std::string_view presented = presented_key(authorization, x_api_key);
    if (presented.empty()) return missing_key_error();
    std::shared_ptr<KeyEntry> key = keys.find(presented);
    if (!key) return invalid_key_error();
    return key;
}

}  // namespace switchyard::auth
