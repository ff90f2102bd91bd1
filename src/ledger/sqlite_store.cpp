// The SQLite ledger store: one file in WAL mode (readers such as `switchyard cost` never block the
// writer), synchronous=NORMAL (a power loss may lose the last transactions, a crash of the
// gateway loses nothing that was committed), one transaction per batch; a row whose uid is
// already there is left out (a replay from the spool).
#include <sqlite3.h>

#include <stdexcept>
#include <string>

#include "ledger/schema.hpp"
#include "ledger/store.hpp"

namespace switchyard::ledger {

namespace {

class Statement {
public:
    Statement(sqlite3* db, std::string_view sql) : db_(db) {
        if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK) {
            throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db));
        }
    }
    ~Statement() { sqlite3_finalize(stmt_); }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    void bind(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
    void bind(int i, double v) { sqlite3_bind_double(stmt_, i, v); }
    void bind(int i, const std::string& v) {
        sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    }
    bool step() {
        const int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
    }
    void reset() {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
    std::int64_t integer(int column) { return sqlite3_column_int64(stmt_, column); }
    double real(int column) { return sqlite3_column_double(stmt_, column); }
    std::string text(int column) {
        const auto* p = sqlite3_column_text(stmt_, column);
        return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
                 : std::string();
    }

private:
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

class SqliteStore final : public Store {
public:
    explicit SqliteStore(std::string path) : path_(std::move(path)) {
        if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            nullptr) != SQLITE_OK) {
            const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
            sqlite3_close(db_);
            throw std::runtime_error("cannot open ledger file '" + path_ + "': " + why);
        }
        sqlite3_busy_timeout(db_, 5000);
        exec("PRAGMA journal_mode=WAL");
        exec("PRAGMA synchronous=NORMAL");
    }
    ~SqliteStore() override {
        insert_.reset();  // a statement left unfinalized keeps sqlite3_close from closing the file
        sqlite3_close(db_);
    }

    void migrate() override {
        exec("CREATE TABLE IF NOT EXISTS switchyard_schema (version INTEGER NOT NULL)");
        // The version is read under the write lock: of several gateways opening the file
        // together, one applies a migration and the others then find it applied.
        while (true) {
            exec("BEGIN IMMEDIATE");
            try {
                const int version = schema_version();
                if (version > kSchemaVersion) {
                    throw std::runtime_error("ledger '" + path_ + "' has schema version " + std::to_string(version) +
                                             ", newer than this switchyard's " + std::to_string(kSchemaVersion));
                }
                if (version == kSchemaVersion) {
                    exec("COMMIT");
                    return;
                }
                std::string sql(kMigrations[version]);
                for (std::size_t at; (at = sql.find("{{ID}}")) != std::string::npos;) {
                    sql.replace(at, 6, "INTEGER PRIMARY KEY AUTOINCREMENT");
                }
                exec(sql);
                exec("DELETE FROM switchyard_schema");
                exec("INSERT INTO switchyard_schema (version) VALUES (" + std::to_string(version + 1) + ")");
                exec("COMMIT");
            } catch (...) {
                exec("ROLLBACK");
                throw;
            }
        }
    }

    int schema_version() override {
        Statement q(db_, "SELECT max(version) FROM switchyard_schema");
        return q.step() ? static_cast<int>(q.integer(0)) : 0;
    }

    void insert(std::span<const Row> rows) override {
        if (rows.empty()) return;
        if (!insert_) {
            // The last column, uid: NULL when the row has none (it never clashes then).
            std::string sql = "INSERT INTO requests (" + std::string(kRowColumns) + ") VALUES (";
            for (int i = 0; i + 1 < kRowColumnCount; ++i) sql += "?,";
            sql += "NULLIF(?,''))" + std::string(kOnConflict);
            insert_ = std::make_unique<Statement>(db_, sql);
        }
        exec("BEGIN");
        try {
            for (const Row& row : rows) {
                Statement& s = *insert_;
                int i = 0;
                s.bind(++i, row.ts_ms);
                s.bind(++i, row.request_id);
                s.bind(++i, row.key);
                s.bind(++i, row.labels);
                s.bind(++i, row.model);
                s.bind(++i, row.served_model);
                s.bind(++i, row.deployment);
                s.bind(++i, row.upstream);
                s.bind(++i, std::int64_t{row.tier});
                s.bind(++i, std::int64_t{row.local});
                s.bind(++i, std::int64_t{row.status});
                s.bind(++i, std::int64_t{row.stream});
                s.bind(++i, row.prompt_tokens);
                s.bind(++i, row.cached_tokens);
                s.bind(++i, row.completion_tokens);
                s.bind(++i, std::int64_t{row.usage_estimated});
                s.bind(++i, row.cost_usd);
                s.bind(++i, row.ttft_ms);
                s.bind(++i, row.total_ms);
                s.bind(++i, std::int64_t{row.retries});
                s.bind(++i, std::int64_t{row.fallback});
                s.bind(++i, row.error);
                s.bind(++i, row.overhead_ms);
                s.bind(++i, row.uid);
                s.step();
                s.reset();
            }
            exec("COMMIT");
        } catch (...) {
            insert_->reset();
            exec("ROLLBACK");
            throw;
        }
    }

    std::vector<Spend> spend_since(std::int64_t day_start_ms, std::int64_t month_start_ms) override {
        Statement q(db_,
                    "SELECT key_name, sum(CASE WHEN ts_ms >= ?1 THEN cost_usd ELSE 0 END), sum(cost_usd) "
                    "FROM requests WHERE ts_ms >= ?2 AND key_name <> '' GROUP BY key_name");
        q.bind(1, day_start_ms);
        q.bind(2, month_start_ms);
        std::vector<Spend> out;
        while (q.step()) out.push_back(Spend{q.text(0), q.real(1), q.real(2)});
        return out;
    }

    void each_row(std::int64_t from_ms, std::int64_t to_ms, const std::function<void(const Row&)>& visit) override {
        const std::string sql =
            "SELECT " + std::string(kRowColumns) + " FROM requests WHERE ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms, id";
        Statement q(db_, sql);
        q.bind(1, from_ms);
        q.bind(2, to_ms);
        Row row;
        while (q.step()) {
            int i = 0;
            row.ts_ms = q.integer(i++);
            row.request_id = q.text(i++);
            row.key = q.text(i++);
            row.labels = q.text(i++);
            row.model = q.text(i++);
            row.served_model = q.text(i++);
            row.deployment = q.text(i++);
            row.upstream = q.text(i++);
            row.tier = static_cast<int>(q.integer(i++));
            row.local = q.integer(i++) != 0;
            row.status = static_cast<int>(q.integer(i++));
            row.stream = q.integer(i++) != 0;
            row.prompt_tokens = q.integer(i++);
            row.cached_tokens = q.integer(i++);
            row.completion_tokens = q.integer(i++);
            row.usage_estimated = q.integer(i++) != 0;
            row.cost_usd = q.real(i++);
            row.ttft_ms = q.real(i++);
            row.total_ms = q.real(i++);
            row.retries = static_cast<int>(q.integer(i++));
            row.fallback = q.integer(i++) != 0;
            row.error = q.text(i++);
            row.overhead_ms = q.real(i++);
            row.uid = q.text(i++);
            visit(row);
        }
    }

    std::vector<StoredKey> load_keys() override {
        Statement q(db_, "SELECT name, sha256, policy, created_ms FROM api_keys WHERE revoked_ms IS NULL ORDER BY name");
        std::vector<StoredKey> out;
        while (q.step()) out.push_back(StoredKey{q.text(0), q.text(1), q.text(2), q.integer(3)});
        return out;
    }

    void save_key(const StoredKey& key) override {
        Statement q(db_, "INSERT INTO api_keys (name, sha256, policy, created_ms) VALUES (?, ?, ?, ?)");
        q.bind(1, key.name);
        q.bind(2, key.sha256);
        q.bind(3, key.policy_json);
        q.bind(4, key.created_ms);
        q.step();
    }

    bool revoke_key(const std::string& name, std::int64_t when_ms) override {
        Statement q(db_, "UPDATE api_keys SET revoked_ms = ? WHERE name = ? AND revoked_ms IS NULL");
        q.bind(1, when_ms);
        q.bind(2, name);
        q.step();
        return sqlite3_changes(db_) > 0;
    }

    void save_conversations(std::span<const StoredConversation> conversations) override {
        exec("BEGIN");
        try {
            Statement q(db_,
                        "INSERT INTO responses (id, items, expires_ms) VALUES (?, ?, ?) "
                        "ON CONFLICT (id) DO UPDATE SET items = excluded.items, expires_ms = excluded.expires_ms");
            for (const StoredConversation& c : conversations) {
                q.bind(1, c.id);
                q.bind(2, c.items);
                q.bind(3, c.expires_ms);
                q.step();
                q.reset();
            }
            exec("COMMIT");
        } catch (...) {
            sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
    }

    std::optional<std::string> load_conversation(const std::string& id, std::int64_t now_ms) override {
        Statement q(db_, "SELECT items FROM responses WHERE id = ? AND expires_ms > ?");
        q.bind(1, id);
        q.bind(2, now_ms);
        if (!q.step()) return std::nullopt;
        return q.text(0);
    }

    std::int64_t prune_conversations(std::int64_t now_ms) override {
        Statement q(db_, "DELETE FROM responses WHERE expires_ms <= ?");
        q.bind(1, now_ms);
        q.step();
        return sqlite3_changes(db_);
    }

    void save_session(const StoredSession& session) override {
        Statement q(db_,
                    "INSERT INTO console_sessions (digest, fields, expires_ms) VALUES (?, ?, ?) "
                    "ON CONFLICT (digest) DO UPDATE SET fields = excluded.fields, expires_ms = excluded.expires_ms");
        q.bind(1, session.digest);
        q.bind(2, session.fields);
        q.bind(3, session.expires_ms);
        q.step();
    }

    void delete_session(const std::string& digest) override {
        Statement q(db_, "DELETE FROM console_sessions WHERE digest = ?");
        q.bind(1, digest);
        q.step();
    }

    std::vector<StoredSession> load_sessions(std::int64_t now_ms) override {
        {
            Statement prune(db_, "DELETE FROM console_sessions WHERE expires_ms <= ?");
            prune.bind(1, now_ms);
            prune.step();
        }
        Statement q(db_, "SELECT digest, fields, expires_ms FROM console_sessions ORDER BY expires_ms");
        std::vector<StoredSession> out;
        while (q.step()) out.push_back({q.text(0), q.text(1), q.integer(2)});
        return out;
    }

    bool update_key(const std::string& name, const std::string& policy_json) override {
        Statement q(db_, "UPDATE api_keys SET policy = ? WHERE name = ? AND revoked_ms IS NULL");
        q.bind(1, policy_json);
        q.bind(2, name);
        q.step();
        return sqlite3_changes(db_) > 0;
    }

    std::string describe() const override { return "sqlite " + path_; }

private:
    void exec(const std::string& sql) {
        char* message = nullptr;
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
            std::string why = message ? message : "unknown error";
            sqlite3_free(message);
            throw std::runtime_error("sqlite: " + why);
        }
    }

    std::string path_;
    sqlite3* db_ = nullptr;
    std::unique_ptr<Statement> insert_;
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::string& path) { return std::make_unique<SqliteStore>(path); }

}  // namespace switchyard::ledger
