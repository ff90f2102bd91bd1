// Stage "authenticate": callers present `Authorization: Bearer <key>` (or `x-api-key`); the key is
// hashed with SHA-256 and looked up. Keys come from the config file or from the admin API (stored
// in the ledger's database as digests only). Each key carries its policy (models, limits,
// budgets, labels) and the admission state that goes with it: its rate limiter, its budget and
// its requests in flight.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "limit/limiter.hpp"

namespace switchyard::auth {

struct KeyEntry {
    KeyEntry(config::Key key, bool configured, SteadyTime now);

    bool allows(std::string_view model) const;

    const config::Key policy;
    const bool from_config;       // defined in the file (cannot be revoked through the API)
    const std::string labels_json;  // policy.labels as a JSON object, for the ledger
    std::int64_t created_ms = 0;
    limit::RateLimiter limiter;
    limit::Budget budget;
    std::atomic<std::size_t> in_flight{0};
    // Set when revoked through the admin API: requests still in flight then are counted in
    // /metrics without the key's label, so that its series, once dropped, do not come back.
    std::atomic<bool> revoked{false};
};

// The key's policy as JSON (for the admin API and the ledger's key table) and back.
std::string policy_to_json(const config::Key& key);
std::optional<config::Key> policy_from_json(std::string_view json, std::string* why);
// `base` changed by the fields of a JSON object (PATCH /admin/keys/{name}), the same fields as
// policy_from_json: a field given replaces its old value (models and labels whole; limits and
// budget one sub-field at a time: {"limits":{"rpm":5}} keeps tpm). The name cannot change.
std::optional<config::Key> policy_patched(const config::Key& base, std::string_view json, std::string* why);

class KeyStore {
public:
    KeyStore(const config::Gateway& config, const Clock& clock);

    bool required() const { return required_.load(std::memory_order_relaxed); }
    // The key a caller presented, or null.
    std::shared_ptr<KeyEntry> find(std::string_view presented) const;
    bool is_master(std::string_view presented) const;
    bool has_master() const;

    // Adds a key (from the admin API, or loaded from the database); false if its name or digest is
    // taken.
    bool add(config::Key key, std::int64_t created_ms);
    // Replaces the policy of the admin API key named `policy.name` (its digest kept): new requests
    // see the new limits at once, from a fresh limiter, with what it spent this day and month kept;
    // requests already in flight finish under the old entry (and are not counted against the new
    // max_concurrent). Keys of the config file are changed in the file.
    enum class Update { updated, unknown, configured };
    Update update(config::Key policy);
    enum class Revoke { revoked, unknown, configured };
    Revoke revoke(std::string_view name);
    std::vector<std::shared_ptr<KeyEntry>> list() const;
    std::shared_ptr<KeyEntry> by_name(std::string_view name) const;

    // A reloaded config: its keys replace the file's old ones. A key whose policy is unchanged
    // keeps its entry (limiter, budget, requests in flight); a changed one starts a new limiter
    // but keeps what it spent. Keys made through the admin API stay unless the file now has one
    // of the same name or digest. The master key changes with the file.
    struct Changes {
        std::size_t added = 0;
        std::size_t changed = 0;
        std::size_t removed = 0;
        std::size_t shadowed = 0;  // admin API keys replaced by a key of the file
    };
    Changes reconfigure(const config::Gateway& config);

    // Counts the changes made to the keys here (add, update, revoke, reconfigure, sync).
    std::uint64_t version() const { return version_.load(); }

    // The API keys as another instance sharing the ledger's database left them: `stored` (name,
    // digest, policy) is every key not revoked there. Keys missing here are added, changed ones
    // updated (as update() does), API keys no longer stored revoked; keys of the file are left
    // alone. Nothing is done, and nullopt returned, when the keys changed here since `version`
    // (stored was read before that change: the next sync reads it again). Else the names
    // added, updated and revoked.
    struct Stored {
        config::Key policy;  // with its sha256
        std::int64_t created_ms = 0;
    };
    struct Synced {
        std::vector<std::string> added, updated, revoked;
    };
    std::optional<Synced> sync(std::vector<Stored> stored, std::uint64_t version);

private:
    std::atomic<std::uint64_t> version_{0};
    const Clock& clock_;
    mutable std::shared_mutex mutex_;
    std::string master_sha256_;  // guarded by mutex_
    std::atomic<bool> required_;
    std::unordered_map<std::string, std::shared_ptr<KeyEntry>> by_digest_;
    std::map<std::string, std::shared_ptr<KeyEntry>, std::less<>> by_name_;
};

// The key in `Authorization: Bearer <key>`, else in `x-api-key`; empty when neither.
std::string_view presented_key(std::string_view authorization, std::string_view x_api_key);

// The caller's key when keys are required (null when they are not), or the 401 it gets: no key
// presented, or one that is not known.
std::variant<std::shared_ptr<KeyEntry>, ApiError> authenticate(const KeyStore& keys, std::string_view authorization,
                                                               std::string_view x_api_key);

ApiError missing_key_error();
ApiError invalid_key_error();

}  // namespace switchyard::auth
