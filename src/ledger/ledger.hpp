// Stage "account", storage side: rows are queued by the I/O threads (a mutex and a vector push,
// no system call) and written in batches by one writer thread, every `flush_interval` or sooner
// when a batch fills. Rows the database cannot take (down, slow, failing) go to the spool, an
// append-only file on local disk (ledger/spool.hpp), and the writer replays them, oldest first,
// once the database takes rows again; each row carries a uid, so a row written twice (a replay
// after a crash, or after a commit whose answer was lost) is kept once. The queue only bridges to
// the spool: rows are lost only when the queue is full, or the spool is full or its disk fails,
// and then counted and logged. stop() (SIGTERM) writes or spools everything queued; a spool left
// non-empty is replayed by the next start. Work that needs the store from an I/O thread (admin
// key changes) runs on the writer thread too, and the coroutine resumes when it is done.
#pragma once

#include <boost/asio.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "ledger/row.hpp"
#include "ledger/spool.hpp"
#include "ledger/store.hpp"

namespace switchyard::ledger {

namespace asio = boost::asio;

struct Stats {
    std::uint64_t written = 0;         // rows committed to the database, replayed ones included
    std::uint64_t spooled = 0;         // rows appended to the spool
    std::uint64_t replayed = 0;        // spooled rows committed from the spool
    std::uint64_t lost = 0;            // rows neither written nor kept: queue full, spool full, disk failed
    std::uint64_t failed_batches = 0;  // database writes that failed (their rows were spooled or kept)
    std::size_t queued = 0;            // rows in memory: waiting for the writer, or that the spool refused
    std::size_t spool_rows = 0;        // in the spool, not yet replayed
    std::uint64_t spool_bytes = 0;     // their bytes
    // Responses conversations (keep_conversation): saved to the database, and dropped (the queue
    // full, or the database failing; the memory store still has them).
    std::uint64_t conversations_saved = 0;
    std::uint64_t conversations_dropped = 0;
};

// Conversations waiting for the writer, at most this many bytes (beyond: dropped and counted).
inline constexpr std::size_t kConversationQueueBytes = 32u << 20;

class Ledger {
public:
    // Opens the spool directory when `config.spool_dir` names one; throws when it cannot be used.
    Ledger(const config::Ledger& config, std::unique_ptr<Store> store);
    ~Ledger();
    Ledger(const Ledger&) = delete;
    Ledger& operator=(const Ledger&) = delete;

    Store& store() { return *store_; }  // before start() or from tasks only
    // What each key spent since the day's and the month's start (Unix ms) in rows that wait in the
    // spool (a previous run's, its database down): the store does not have them yet, budgets must
    // count them. Before start() only; takes the spool files a previous run left.
    std::vector<Spend> spooled_spend(std::int64_t day_start_ms, std::int64_t month_start_ms);
    // Starts the writer; it first takes the spool files a previous run left, to replay them.
    void start();
    // Writes (or spools) what is queued, then stops the writer. Idempotent.
    void stop();

    void record(Row row);
    // A Responses API conversation for the database, so that previous_response_id finds it after a
    // restart and on other instances that share the database. Best effort, unlike rows: the
    // memory store (src/conversation) has it anyway, so one that cannot be written soon (the queue
    // holds kConversationQueueBytes, or the database is failing) is dropped and counted. Expired
    // ones are deleted every minute.
    void keep_conversation(StoredConversation conversation);
    Stats stats();

    // Runs `task` on the writer thread; resumes the caller on its executor with the exception the
    // task threw, or null.
    asio::awaitable<std::exception_ptr> run(std::function<void(Store&)> task);
    // Runs `task` on the writer thread without waiting for it: one that fails is logged as `what`
    // failing (best effort: the console's sign-ins, say, which memory has anyway).
    void post(std::function<void(Store&)> task, std::string what);
    // What a task run() reported failed with: its exception's what(), or "unknown error".
    static std::string what_failed(const std::exception_ptr& failure);

private:
    using Clock = std::chrono::steady_clock;

    void writer();
    void take_queue();
    void write_held();
    std::size_t insert(std::span<const Row> rows);
    bool try_store(std::span<const Row> rows);
    std::size_t spool(std::span<const Row> rows);
    void replay();
    bool replay_due() const;
    bool store_ready() const { return !store_failing_ || Clock::now() >= retry_at_; }
    void finish();
    void lose(std::size_t rows, const char* why);
    void write_conversations();
    void publish();
    void adopt_spool();

    const config::Ledger& config_;
    std::unique_ptr<Store> store_;
    std::unique_ptr<Spool> spool_;  // null: no spool directory
    bool adopted_ = false;          // the files a previous run left are taken
    std::mutex mutex_;
    std::condition_variable wake_;
    std::vector<Row> queue_;
    std::vector<StoredConversation> conversations_;
    std::size_t conversation_bytes_ = 0;
    std::deque<std::function<void()>> tasks_;
    bool stopping_ = false;
    std::thread thread_;

    // The writer thread's own.
    std::vector<Row> held_;  // taken from the queue, neither written nor spooled yet
    bool store_failing_ = false;
    Clock::time_point retry_at_{};  // while failing, the database is tried again from then
    std::uint64_t uid_prefix_ = 0;  // random per run; a row's uid is it and a sequence number
    std::uint64_t uid_sequence_ = 0;
    Clock::time_point next_store_error_log_{}, next_spool_error_log_{}, next_loss_log_{};
    Clock::time_point next_conversation_error_log_{}, next_prune_{};
    std::vector<StoredConversation> conversations_held_;
    std::uint64_t lost_logged_ = 0;

    std::atomic<std::uint64_t> written_{0};
    std::atomic<std::uint64_t> spooled_{0};
    std::atomic<std::uint64_t> replayed_{0};
    std::atomic<std::uint64_t> lost_{0};
    std::atomic<std::uint64_t> failed_{0};
    std::atomic<std::size_t> held_rows_{0};
    std::atomic<std::size_t> spool_rows_{0};
    std::atomic<std::uint64_t> conversations_saved_{0};
    std::atomic<std::uint64_t> conversations_dropped_{0};
    std::atomic<std::uint64_t> spool_bytes_{0};
};

}  // namespace switchyard::ledger
