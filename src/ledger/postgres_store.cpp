// The PostgreSQL ledger store (libpq): one connection, used by the ledger's writer thread. Values
// travel as text parameters, never inside the SQL. A lost connection makes the failing call throw
// and the next call connect again, so a restarted server is picked up by the writer's next flush.
// A row whose uid is already there is left out (a replay from the spool). The URL's password
// never reaches a log line or an exception.
#include <libpq-fe.h>
#include <poll.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ledger/schema.hpp"
#include "ledger/store.hpp"

namespace switchyard::ledger {

namespace {

// Held by the migrating gateway: several gateways starting together migrate once.
constexpr std::int64_t kMigrationLock = 0x53776974636879;  // "Switchy"
// Rows per INSERT statement: 24 parameters each, well under PostgreSQL's 65535.
constexpr std::size_t kRowsPerStatement = 500;

std::string percent_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        unsigned value = 0;
        if (text[i] == '%' && i + 2 < text.size() &&
            std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16).ptr == text.data() + i + 3) {
            out += static_cast<char>(value);
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

// The password a URL carries (in its user info or as ?password=), as written and decoded.
std::vector<std::string> url_secrets(const std::string& url) {
    std::vector<std::string> out;
    const auto add = [&](std::string_view raw) {
        if (raw.empty()) return;
        out.emplace_back(raw);
        if (std::string decoded = percent_decode(raw); decoded != raw) out.push_back(std::move(decoded));
    };
    const auto scheme = url.find("://");
    const std::string_view rest =
        scheme == std::string::npos ? std::string_view(url) : std::string_view(url).substr(scheme + 3);
    const std::string_view authority = rest.substr(0, rest.find_first_of("?"));
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        const std::string_view user_info = authority.substr(0, at);
        if (const auto colon = user_info.find(':'); colon != std::string_view::npos) add(user_info.substr(colon + 1));
    }
    if (const auto query = rest.find('?'); query != std::string_view::npos) {
        std::string_view params = rest.substr(query + 1);
        while (!params.empty()) {
            const std::string_view param = params.substr(0, params.find('&'));
            params.remove_prefix(std::min(params.size(), param.size() + 1));
            if (param.starts_with("password=")) add(param.substr(9));
        }
    }
    return out;
}

// Text PostgreSQL accepts in a UTF-8 database: invalid sequences become U+FFFD and NUL bytes go
// (a row the server refuses would stay queued forever and block the rows behind it).
std::string clean_text(const std::string& text) {
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    for (; i < n && s[i] != 0 && s[i] < 0x80; ++i) {
    }
    if (i == n) return text;  // ASCII, the usual case
    std::string out(text, 0, i);
    while (i < n) {
        const unsigned char c = s[i];
        std::size_t length = 0;
        unsigned low = 0x80, high = 0xBF;  // the first continuation byte's range (no overlongs, no surrogates)
        if (c < 0x80) {
            length = 1;
        } else if (c >= 0xC2 && c <= 0xDF) {
            length = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            length = 3;
            if (c == 0xE0) low = 0xA0;
            if (c == 0xED) high = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            length = 4;
            if (c == 0xF0) low = 0x90;
            if (c == 0xF4) high = 0x8F;
        }
        bool valid = length > 0 && i + length <= n;
        for (std::size_t k = 1; valid && k < length; ++k) {
            const unsigned b = s[i + k];
            valid = k == 1 ? (b >= low && b <= high) : (b >= 0x80 && b <= 0xBF);
        }
        if (!valid) {
            out += "\xEF\xBF\xBD";
            ++i;
        } else if (c == 0) {
            ++i;
        } else {
            out.append(text, i, length);
            i += length;
        }
    }
    return out;
}

std::string number(std::int64_t v) { return std::to_string(v); }
std::string number(double v) {
    char buffer[32];
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, v).ptr;  // shortest exact form
    return std::string(buffer, end);
}

std::int64_t integer_of(const char* text) {
    std::int64_t v = 0;
    std::from_chars(text, text + std::strlen(text), v);
    return v;
}
double real_of(const char* text) {
    double v = 0;
    const std::size_t n = std::strlen(text);
    if (std::from_chars(text, text + n, v).ec != std::errc()) {
        // PostgreSQL spells the special values "Infinity", "-Infinity" and "NaN".
        v = std::strtod(text, nullptr);
    }
    return v;
}

// A query's result, cleared when it goes away.
class Result {
public:
    explicit Result(PGresult* result) : result_(result) {}
    ~Result() { PQclear(result_); }
    Result(Result&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}
    Result(const Result&) = delete;
    Result& operator=(const Result&) = delete;
    Result& operator=(Result&& other) noexcept {
        std::swap(result_, other.result_);
        return *this;
    }

    PGresult* get() const { return result_; }
    int rows() const { return PQntuples(result_); }
    bool null(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }
    const char* value(int row, int column) const { return PQgetvalue(result_, row, column); }
    std::string text(int row, int column) const {
        return std::string(value(row, column), static_cast<std::size_t>(PQgetlength(result_, row, column)));
    }
    std::int64_t integer(int row, int column) const { return integer_of(value(row, column)); }
    double real(int row, int column) const { return real_of(value(row, column)); }

private:
    PGresult* result_;
};

// Text parameters for PQexecParams: owns the strings, hands out the pointers.
class Params {
public:
    void add(std::string value) { values_.push_back(std::move(value)); }
    void add(std::int64_t value) { values_.push_back(number(value)); }
    void add(double value) { values_.push_back(number(value)); }
    std::size_t size() const { return values_.size(); }
    std::vector<const char*> pointers() const {
        std::vector<const char*> out;
        out.reserve(values_.size());
        for (const auto& v : values_) out.push_back(v.c_str());
        return out;
    }

private:
    std::vector<std::string> values_;
};

void add_row(Params& p, const Row& row) {
    p.add(row.ts_ms);
    p.add(clean_text(row.request_id));
    p.add(clean_text(row.key));
    p.add(clean_text(row.labels));
    p.add(clean_text(row.model));
    p.add(clean_text(row.served_model));
    p.add(clean_text(row.deployment));
    p.add(clean_text(row.upstream));
    p.add(std::int64_t{row.tier});
    p.add(std::int64_t{row.local});
    p.add(std::int64_t{row.status});
    p.add(std::int64_t{row.stream});
    p.add(row.prompt_tokens);
    p.add(row.cached_tokens);
    p.add(row.completion_tokens);
    p.add(std::int64_t{row.usage_estimated});
    p.add(row.cost_usd);
    p.add(row.ttft_ms);
    p.add(row.total_ms);
    p.add(std::int64_t{row.retries});
    p.add(std::int64_t{row.fallback});
    p.add(clean_text(row.error));
    p.add(row.overhead_ms);
    p.add(clean_text(row.uid));
}

Row row_of(const Result& r, int at) {
    Row row;
    int i = 0;
    row.ts_ms = r.integer(at, i++);
    row.request_id = r.text(at, i++);
    row.key = r.text(at, i++);
    row.labels = r.text(at, i++);
    row.model = r.text(at, i++);
    row.served_model = r.text(at, i++);
    row.deployment = r.text(at, i++);
    row.upstream = r.text(at, i++);
    row.tier = static_cast<int>(r.integer(at, i++));
    row.local = r.integer(at, i++) != 0;
    row.status = static_cast<int>(r.integer(at, i++));
    row.stream = r.integer(at, i++) != 0;
    row.prompt_tokens = r.integer(at, i++);
    row.cached_tokens = r.integer(at, i++);
    row.completion_tokens = r.integer(at, i++);
    row.usage_estimated = r.integer(at, i++) != 0;
    row.cost_usd = r.real(at, i++);
    row.ttft_ms = r.real(at, i++);
    row.total_ms = r.real(at, i++);
    row.retries = static_cast<int>(r.integer(at, i++));
    row.fallback = r.integer(at, i++) != 0;
    row.error = r.text(at, i++);
    row.overhead_ms = r.real(at, i++);
    row.uid = r.text(at, i++);
    return row;
}

std::string insert_sql(std::size_t rows) {
    std::string sql = "INSERT INTO requests (" + std::string(kRowColumns) + ") VALUES ";
    int n = 0;
    for (std::size_t r = 0; r < rows; ++r) {
        sql += r ? ",(" : "(";
        for (int c = 0; c < kRowColumnCount; ++c) {
            if (c) sql += ',';
            // The last column, uid: NULL when the row has none (it never clashes then).
            sql += c + 1 < kRowColumnCount ? '$' + std::to_string(++n) : "NULLIF($" + std::to_string(++n) + ",'')";
        }
        sql += ')';
    }
    return sql + std::string(kOnConflict);
}

void ignore_notice(void*, const char* message) { spdlog::debug("ledger: postgres: {}", message); }

class PostgresStore final : public Store {
public:
    explicit PostgresStore(std::string url) : url_(std::move(url)), secrets_(url_secrets(url_)) {
        char* error = nullptr;
        PQconninfoOption* options = PQconninfoParse(url_.c_str(), &error);
        if (options == nullptr) {
            const std::string why = error ? error : "out of memory";
            PQfreemem(error);
            throw std::runtime_error("invalid PostgreSQL URL: " + redact(trim(why)));
        }
        std::string host, port, dbname;
        for (auto* o = options; o->keyword != nullptr; ++o) {
            if (o->val == nullptr) continue;
            if (std::strcmp(o->keyword, "host") == 0) host = o->val;
            if (std::strcmp(o->keyword, "hostaddr") == 0 && host.empty()) host = o->val;
            if (std::strcmp(o->keyword, "port") == 0) port = o->val;
            if (std::strcmp(o->keyword, "dbname") == 0) dbname = o->val;
            if (std::strcmp(o->keyword, "password") == 0 && *o->val != '\0') secrets_.emplace_back(o->val);
        }
        PQconninfoFree(options);
        describe_ = "postgres " + (host.empty() ? std::string("localhost") : host) + (port.empty() ? "" : ":" + port) +
                    "/" + dbname;
        try {
            connect();
        } catch (...) {
            PQfinish(conn_);
            throw;
        }
    }
    ~PostgresStore() override { PQfinish(conn_); }

    void migrate() override {
        while (true) {
            Transaction t(*this);
            exec_params("SELECT pg_advisory_xact_lock($1)", {number(kMigrationLock)});
            exec("CREATE TABLE IF NOT EXISTS switchyard_schema (version INTEGER NOT NULL)");
            const Result r = exec("SELECT coalesce(max(version), 0) FROM switchyard_schema");
            const int version = static_cast<int>(r.integer(0, 0));
            if (version > kSchemaVersion) {
                throw std::runtime_error(describe_ + " has schema version " + std::to_string(version) +
                                         ", newer than this switchyard's " + std::to_string(kSchemaVersion));
            }
            if (version == kSchemaVersion) {
                t.commit();
                return;
            }
            std::string sql(kMigrations[version]);
            for (std::size_t at; (at = sql.find("{{ID}}")) != std::string::npos;) {
                sql.replace(at, 6, "BIGSERIAL PRIMARY KEY");
            }
            exec(sql);
            exec("DELETE FROM switchyard_schema");
            exec_params("INSERT INTO switchyard_schema (version) VALUES ($1)", {std::to_string(version + 1)});
            t.commit();
            spdlog::info("ledger: {} migrated to schema version {}", describe_, version + 1);
        }
    }

    int schema_version() override {
        const Result exists = exec("SELECT to_regclass('switchyard_schema') IS NOT NULL");
        if (std::strcmp(exists.value(0, 0), "t") != 0) return 0;
        const Result r = exec("SELECT coalesce(max(version), 0) FROM switchyard_schema");
        return static_cast<int>(r.integer(0, 0));
    }

    void insert(std::span<const Row> rows) override {
        if (rows.empty()) return;
        Transaction t(*this);
        for (std::size_t from = 0; from < rows.size(); from += kRowsPerStatement) {
            const auto chunk = rows.subspan(from, std::min(kRowsPerStatement, rows.size() - from));
            Params p;
            for (const Row& row : chunk) add_row(p, row);
            exec_params(insert_sql(chunk.size()), p);
        }
        t.commit();
    }

    std::vector<Spend> spend_since(std::int64_t day_start_ms, std::int64_t month_start_ms) override {
        const Result r = exec_params(
            "SELECT key_name, sum(CASE WHEN ts_ms >= $1 THEN cost_usd ELSE 0 END), sum(cost_usd) "
            "FROM requests WHERE ts_ms >= $2 AND key_name <> '' GROUP BY key_name ORDER BY key_name",
            {number(day_start_ms), number(month_start_ms)});
        std::vector<Spend> out;
        for (int i = 0; i < r.rows(); ++i) out.push_back(Spend{r.text(i, 0), r.real(i, 1), r.real(i, 2)});
        return out;
    }

    // Rows come one at a time (libpq's single-row mode): a report over months never holds them all.
    void each_row(std::int64_t from_ms, std::int64_t to_ms, const std::function<void(const Row&)>& visit) override {
        const std::string sql =
            "SELECT " + std::string(kRowColumns) + " FROM requests WHERE ts_ms >= $1 AND ts_ms < $2 ORDER BY ts_ms, id";
        Params p;
        p.add(from_ms);
        p.add(to_ms);
        const auto values = p.pointers();
        ready();
        if (PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                              nullptr, 0) == 0) {
            throw failure("query failed");
        }
        PQsetSingleRowMode(conn_);
        std::string error;
        bool visiting = true;
        // Every result is read, even after a failure, so that the connection is ready for the next call.
        while (PGresult* raw = PQgetResult(conn_)) {
            const Result r(raw);
            const auto status = PQresultStatus(raw);
            if ((status == PGRES_SINGLE_TUPLE || status == PGRES_TUPLES_OK) && visiting) {
                try {
                    for (int i = 0; i < r.rows(); ++i) visit(row_of(r, i));
                } catch (...) {
                    if (PGcancel* cancel = PQgetCancel(conn_)) {
                        char ignored[256];
                        PQcancel(cancel, ignored, sizeof ignored);
                        PQfreeCancel(cancel);
                    }
                    while (PGresult* rest = PQgetResult(conn_)) PQclear(rest);
                    throw;
                }
            } else if (status != PGRES_SINGLE_TUPLE && status != PGRES_TUPLES_OK && error.empty()) {
                error = trim(PQresultErrorMessage(raw));
                visiting = false;
            }
        }
        if (!error.empty() || PQstatus(conn_) != CONNECTION_OK) throw failure("query failed", error);
    }

    std::vector<StoredKey> load_keys() override {
        const Result r =
            exec("SELECT name, sha256, policy, created_ms FROM api_keys WHERE revoked_ms IS NULL ORDER BY name");
        std::vector<StoredKey> out;
        for (int i = 0; i < r.rows(); ++i) {
            out.push_back(StoredKey{r.text(i, 0), r.text(i, 1), r.text(i, 2), r.integer(i, 3)});
        }
        return out;
    }

    // In a transaction so that only BEGIN is ever tried again on a fresh connection (see exec_params).
    void save_key(const StoredKey& key) override {
        Transaction t(*this);
        exec_params(
            "INSERT INTO api_keys (name, sha256, policy, created_ms) VALUES ($1, $2, $3, $4)",
            {clean_text(key.name), clean_text(key.sha256), clean_text(key.policy_json), number(key.created_ms)});
        t.commit();
    }

    bool revoke_key(const std::string& name, std::int64_t when_ms) override {
        Transaction t(*this);
        const Result r = exec_params("UPDATE api_keys SET revoked_ms = $1 WHERE name = $2 AND revoked_ms IS NULL",
                                     {number(when_ms), clean_text(name)});
        t.commit();
        return std::strcmp(PQcmdTuples(r.get()), "0") != 0;
    }

    void save_conversations(std::span<const StoredConversation> conversations) override {
        Transaction t(*this);
        for (const StoredConversation& c : conversations) {
            exec_params("INSERT INTO responses (id, items, expires_ms) VALUES ($1, $2, $3) ON CONFLICT (id) "
                        "DO UPDATE SET items = excluded.items, expires_ms = excluded.expires_ms",
                        {clean_text(c.id), clean_text(c.items), number(c.expires_ms)});
        }
        t.commit();
    }

    std::optional<std::string> load_conversation(const std::string& id, std::int64_t now_ms) override {
        const Result r = exec_params("SELECT items FROM responses WHERE id = $1 AND expires_ms > $2",
                                     {clean_text(id), number(now_ms)});
        if (r.rows() == 0) return std::nullopt;
        return r.text(0, 0);
    }

    std::int64_t prune_conversations(std::int64_t now_ms) override {
        Transaction t(*this);
        const Result r = exec_params("DELETE FROM responses WHERE expires_ms <= $1", {number(now_ms)});
        t.commit();
        return std::strtoll(PQcmdTuples(r.get()), nullptr, 10);
    }

    void save_session(const StoredSession& session) override {
        Transaction t(*this);
        exec_params("INSERT INTO console_sessions (digest, fields, expires_ms) VALUES ($1, $2, $3) ON CONFLICT (digest) "
                    "DO UPDATE SET fields = excluded.fields, expires_ms = excluded.expires_ms",
                    {clean_text(session.digest), clean_text(session.fields), number(session.expires_ms)});
        t.commit();
    }

    void delete_session(const std::string& digest) override {
        Transaction t(*this);
        exec_params("DELETE FROM console_sessions WHERE digest = $1", {clean_text(digest)});
        t.commit();
    }

    std::vector<StoredSession> load_sessions(std::int64_t now_ms) override {
        Transaction t(*this);
        exec_params("DELETE FROM console_sessions WHERE expires_ms <= $1", {number(now_ms)});
        t.commit();
        const Result r = exec_params("SELECT digest, fields, expires_ms FROM console_sessions ORDER BY expires_ms", {});
        std::vector<StoredSession> out;
        for (int i = 0; i < r.rows(); ++i) {
            out.push_back({r.text(i, 0), r.text(i, 1), r.integer(i, 2)});
        }
        return out;
    }

    bool update_key(const std::string& name, const std::string& policy_json) override {
        Transaction t(*this);
        const Result r = exec_params("UPDATE api_keys SET policy = $1 WHERE name = $2 AND revoked_ms IS NULL",
                                     {clean_text(policy_json), clean_text(name)});
        t.commit();
        return std::strcmp(PQcmdTuples(r.get()), "0") != 0;
    }

    std::string describe() const override { return describe_; }

private:
    // BEGIN now; ROLLBACK when left without commit() (ignored when the connection is gone).
    class Transaction {
    public:
        explicit Transaction(PostgresStore& store) : store_(store) { store_.exec("BEGIN"); }
        ~Transaction() {
            if (open_ && PQstatus(store_.conn_) == CONNECTION_OK) PQclear(PQexec(store_.conn_, "ROLLBACK"));
        }
        Transaction(const Transaction&) = delete;
        Transaction& operator=(const Transaction&) = delete;
        void commit() {
            open_ = false;
            store_.exec("COMMIT");
        }

    private:
        PostgresStore& store_;
        bool open_ = true;
    };

    static std::string trim(const std::string& text) {
        // libpq's messages end with a newline and put hints on further lines: one line for logs.
        std::string out;
        for (const char c : text) {
            const bool space = c == '\n' || c == '\t' || c == ' ';
            if (!space) {
                out += c;
            } else if (!out.empty() && out.back() != ' ') {
                out += ' ';
            }
        }
        if (!out.empty() && out.back() == ' ') out.pop_back();
        return out;
    }

    std::string redact(std::string text) const {
        for (const auto& secret : secrets_) {
            for (std::size_t at; (at = text.find(secret)) != std::string::npos;) text.replace(at, secret.size(), "***");
        }
        return text;
    }

    std::runtime_error failure(const std::string& what, std::string why = {}) const {
        if (why.empty()) why = trim(PQerrorMessage(conn_));
        if (why.empty()) why = "unknown error";
        return std::runtime_error(describe_ + ": " + what + ": " + redact(why));
    }

    void connect() {
        if (conn_ != nullptr) {
            PQreset(conn_);
        } else {
            // Defaults first: the URL's own settings, expanded from `dbname`, override them.
            // Keepalives notice a server gone silent while idle, tcp_user_timeout (ms) while
            // sending: the writer thread is never stuck for TCP's quarter of an hour.
            const char* keywords[] = {"connect_timeout",  "keepalives_idle",  "keepalives_interval", "keepalives_count",
                                      "tcp_user_timeout", "client_encoding", "application_name",    "dbname",
                                      nullptr};
            const char* values[] = {"5", "30", "10", "3", "30000", "UTF8", "switchyard", url_.c_str(), nullptr};
            conn_ = PQconnectdbParams(keywords, values, 1);
            if (conn_ == nullptr) throw std::runtime_error(describe_ + ": cannot connect: out of memory");
            PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
        }
        if (PQstatus(conn_) != CONNECTION_OK) throw failure("cannot connect");
    }

    // A connection that was lost (the server restarted, say) is opened again before the call.
    void ready() {
        if (PQstatus(conn_) != CONNECTION_OK) connect();
    }

    Result exec(const std::string& sql) { return exec_params(sql, Params{}); }
    Result exec_params(const std::string& sql, std::initializer_list<std::string> values) {
        Params p;
        for (const auto& v : values) p.add(v);
        return exec_params(sql, p);
    }
    Result exec_params(const std::string& sql, const Params& p) {
        ready();
        // A connection found dead by BEGIN or a lone SELECT (the server restarted while it was
        // idle): nothing was done, so a fresh connection tries once more at once and the first
        // write after a restart succeeds. Anything else may have been done before the connection
        // broke, and is not repeated.
        const bool may_retry =
            PQtransactionStatus(conn_) == PQTRANS_IDLE && (sql == "BEGIN" || sql.starts_with("SELECT"));
        Result r = run(sql, p);
        if (may_retry && PQstatus(conn_) == CONNECTION_BAD) {
            connect();
            r = run(sql, p);
        }
        const auto status = r.get() == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r.get());
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            throw failure(PQstatus(conn_) == CONNECTION_BAD ? "connection lost" : "query failed",
                          r.get() ? trim(PQresultErrorMessage(r.get())) : std::string());
        }
        return r;
    }
    Result run(const std::string& sql, const Params& p) {
        const auto values = p.pointers();
        if (timeout_.count() <= 0) {
            if (p.size() == 0) return Result(PQexec(conn_, sql.c_str()));
            return Result(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                                       nullptr, nullptr, 0));
        }
        // Sent whole (the connection blocks on sending; tcp_user_timeout bounds that), then the
        // answer is awaited with a deadline: a server that took the query and hangs (stopped,
        // stuck on a lock or a full disk) is given up on, and its connection dropped.
        const int sent = p.size() == 0 ? PQsendQuery(conn_, sql.c_str())
                                       : PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                                           values.data(), nullptr, nullptr, 0);
        if (sent == 0) return Result(nullptr);
        const auto deadline = std::chrono::steady_clock::now() + timeout_;
        PGresult* last = nullptr;
        while (true) {
            while (PQisBusy(conn_) != 0) {
                if (!readable_before(deadline)) {
                    PQclear(last);
                    PQfinish(conn_);
                    conn_ = nullptr;
                    throw failure("no answer", "no answer within " + std::to_string(timeout_.count()) +
                                                   " ms; the connection is dropped");
                }
                if (PQconsumeInput(conn_) == 0) break;  // the connection failed: PQgetResult says so
            }
            PGresult* result = PQgetResult(conn_);
            if (result == nullptr) break;
            PQclear(last);  // as PQexec: the last result of the query is its answer
            last = result;
        }
        return Result(last);
    }

    bool readable_before(std::chrono::steady_clock::time_point deadline) const {
        while (true) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd fd{PQsocket(conn_), POLLIN, 0};
            const int n = ::poll(&fd, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1000)));
            if (n > 0) return true;
            if (n < 0 && errno != EINTR) return true;  // let libpq find out what is wrong
        }
    }

    void set_timeout(std::chrono::milliseconds timeout) override { timeout_ = timeout; }

    std::string url_;
    std::vector<std::string> secrets_;
    std::chrono::milliseconds timeout_{0};
    std::string describe_;
    PGconn* conn_ = nullptr;
};

}  // namespace

std::unique_ptr<Store> open_postgres_store(const std::string& url) { return std::make_unique<PostgresStore>(url); }

}  // namespace switchyard::ledger
