// Where ledger rows, API keys created at run time, kept Responses conversations and console
// sign-ins are kept: SQLite (a file, WAL mode) or
// PostgreSQL (a URL), with one schema and versioned migrations (see docs/ledger.md). A Store is
// used by one thread at a time: the ledger's writer thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ledger/row.hpp"

namespace switchyard::ledger {

// A key created through the admin API: its digest and its policy as JSON (see auth/keys).
struct StoredKey {
    std::string name;
    std::string sha256;
    std::string policy_json;
    std::int64_t created_ms = 0;
};

// A Responses API conversation kept for previous_response_id (see src/conversation): the input
// items up to and including response `id`'s output, as a JSON array text, until expires_ms.
struct StoredConversation {
    std::string id;
    std::string items;
    std::int64_t expires_ms = 0;  // Unix ms
};

// A web console sign-in kept across restarts (see src/console/sessions): the SHA-256 of its id
// (hex), its fields as console::encode() writes them, and when it ends.
struct StoredSession {
    std::string digest;
    std::string fields;
    std::int64_t expires_ms = 0;  // Unix ms
};

struct Spend {
    std::string key;
    double today_usd = 0;
    double month_usd = 0;
};

class Store {
public:
    virtual ~Store() = default;
    // Creates or upgrades the schema to the current version. Throws on failure.
    virtual void migrate() = 0;
    virtual int schema_version() = 0;
    // Inserts the rows in one transaction. Throws on failure (nothing is inserted then).
    virtual void insert(std::span<const Row> rows) = 0;
    // Spend per key since the two instants (Unix ms): the start of today and of this month, UTC.
    virtual std::vector<Spend> spend_since(std::int64_t day_start_ms, std::int64_t month_start_ms) = 0;
    // Calls `visit` for every row with from_ms <= ts_ms < to_ms, oldest first (for reports).
    virtual void each_row(std::int64_t from_ms, std::int64_t to_ms, const std::function<void(const Row&)>& visit) = 0;
    virtual std::vector<StoredKey> load_keys() = 0;  // not revoked
    virtual void save_key(const StoredKey& key) = 0;
    virtual bool revoke_key(const std::string& name, std::int64_t when_ms) = 0;  // false: unknown
    // Replaces a stored key's policy (PATCH /admin/keys/{name}); false: no such key, or revoked.
    virtual bool update_key(const std::string& name, const std::string& policy_json) = 0;
    // Conversations, in one transaction; a known id gets the new items and expiry.
    virtual void save_conversations(std::span<const StoredConversation> conversations) = 0;
    // The items kept for `id`, unless unknown or expired at now_ms.
    virtual std::optional<std::string> load_conversation(const std::string& id, std::int64_t now_ms) = 0;
    // Deletes the conversations expired at now_ms; returns how many.
    virtual std::int64_t prune_conversations(std::int64_t now_ms) = 0;
    // Console sessions: kept (a known digest is replaced), ended, and those still live at now_ms
    // (the expired ones are deleted first).
    virtual void save_session(const StoredSession& session) = 0;
    virtual void delete_session(const std::string& digest) = 0;
    virtual std::vector<StoredSession> load_sessions(std::int64_t now_ms) = 0;
    virtual std::string describe() const = 0;  // for logs: "sqlite /path" or "postgres host:port/db"
    // Each call to a database server that has not answered after `timeout` fails, and its
    // connection is dropped (the next call makes a new one). Zero, the default: no limit (a report
    // may read for long). SQLite, which has no server, waits out a lock on its own busy timeout.
    virtual void set_timeout(std::chrono::milliseconds timeout) { (void)timeout; }
};

// Opens the store a ledger URL names: "postgres://..." or "postgresql://...", else a SQLite file
// ("sqlite:PATH" or a bare path; created with its schema on first use). Throws with a plain reason.
std::unique_ptr<Store> open_store(const std::string& url);

}  // namespace switchyard::ledger
