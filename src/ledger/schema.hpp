// The ledger's schema, shared by SQLite and PostgreSQL. Migrations are numbered: version N's
// statements take a database at version N-1 to N; `switchyard_schema` records the version.
// `{{ID}}` is the auto-increment primary key, spelled per database.
#pragma once

#include <string_view>

namespace switchyard::ledger {

inline constexpr std::string_view kMigrations[] = {
    // 1: requests and API keys
    R"sql(
CREATE TABLE requests (
    id {{ID}},
    ts_ms BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    key_name TEXT NOT NULL DEFAULT '',
    labels TEXT NOT NULL DEFAULT '{}',
    model TEXT NOT NULL,
    served_model TEXT NOT NULL DEFAULT '',
    deployment TEXT NOT NULL DEFAULT '',
    upstream TEXT NOT NULL DEFAULT '',
    tier INTEGER NOT NULL DEFAULT 0,
    local INTEGER NOT NULL DEFAULT 0,
    status INTEGER NOT NULL,
    stream INTEGER NOT NULL DEFAULT 0,
    prompt_tokens BIGINT NOT NULL DEFAULT 0,
    cached_tokens BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    usage_estimated INTEGER NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    ttft_ms DOUBLE PRECISION NOT NULL DEFAULT -1,
    total_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
    retries INTEGER NOT NULL DEFAULT 0,
    fallback INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX requests_ts ON requests (ts_ms);
CREATE INDEX requests_key_ts ON requests (key_name, ts_ms);
CREATE TABLE api_keys (
    name TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    policy TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    revoked_ms BIGINT
);
)sql",
    // 2: the gateway's own time per request (overhead_ms; -1 for rows written before it was kept)
    R"sql(
ALTER TABLE requests ADD COLUMN overhead_ms DOUBLE PRECISION NOT NULL DEFAULT -1;
)sql",
    // 3: each row's own id (Row::uid), unique, so that a row replayed from the spool is kept once.
    // Rows written before have none (NULL, which a unique index lets repeat).
    R"sql(
ALTER TABLE requests ADD COLUMN uid TEXT;
CREATE UNIQUE INDEX requests_uid ON requests (uid);
)sql",
    // 4: Responses API conversations kept for previous_response_id (src/conversation), so that a
    // restart, or another instance on the same database, still continues them until they expire.
    R"sql(
CREATE TABLE responses (
    id TEXT PRIMARY KEY,
    items TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX responses_expires ON responses (expires_ms);
)sql",
    // 5: the web console's sign-ins (src/console/sessions), so that a restart keeps them: the
    // SHA-256 of the session id (never the id), the session's fields, its expiry.
    R"sql(
CREATE TABLE console_sessions (
    digest TEXT PRIMARY KEY,
    fields TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
)sql",
};

inline constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

// The columns of `requests` that a row fills, in Row's order (for INSERT statements).
inline constexpr std::string_view kRowColumns =
    "ts_ms, request_id, key_name, labels, model, served_model, deployment, upstream, tier, local, status, stream, "
    "prompt_tokens, cached_tokens, completion_tokens, usage_estimated, cost_usd, ttft_ms, total_ms, retries, "
    "fallback, error, overhead_ms, uid";
inline constexpr int kRowColumnCount = 24;
// What an INSERT of rows ends with: a row whose uid is already there is left out (a replay).
inline constexpr std::string_view kOnConflict = " ON CONFLICT (uid) DO NOTHING";

}  // namespace switchyard::ledger
