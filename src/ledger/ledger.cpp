#include "ledger/ledger.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <random>

#include "core/await.hpp"
#include "core/clock.hpp"

namespace switchyard::ledger {

namespace {

// Errors that repeat while the database or the disk stays down are logged at most this often.
constexpr auto kErrorLogInterval = std::chrono::seconds(10);

bool due(std::chrono::steady_clock::time_point& next) {
    const auto now = std::chrono::steady_clock::now();
    if (now < next) return false;
    next = now + kErrorLogInterval;
    return true;
}

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::string& path);
std::unique_ptr<Store> open_postgres_store(const std::string& url);

std::unique_ptr<Store> open_store(const std::string& url) {
    if (url.starts_with("postgres://") || url.starts_with("postgresql://")) return open_postgres_store(url);
    return open_sqlite_store(url.starts_with("sqlite:") ? url.substr(7) : url);
}

Ledger::Ledger(const config::Ledger& config, std::unique_ptr<Store> store)
    : config_(config), store_(std::move(store)) {
    queue_.reserve(config_.batch_size);
    store_->set_timeout(std::chrono::duration_cast<std::chrono::milliseconds>(config_.write_timeout));
    if (!config_.spool_dir.empty()) {
        spool_ = std::make_unique<Spool>(config_.spool_dir, config_.spool_max_bytes, store_->describe());
    }
    std::random_device random;
    uid_prefix_ = (std::uint64_t{random()} << 32) | random();
}

Ledger::~Ledger() { stop(); }

void Ledger::start() {
    thread_ = std::thread([this] { writer(); });
}

void Ledger::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void Ledger::record(Row row) {
    bool wake = false;
    {
        std::lock_guard lock(mutex_);
        if (queue_.size() >= config_.queue_size) {
            lost_.fetch_add(1, std::memory_order_relaxed);  // the writer logs it
            return;
        }
        queue_.push_back(std::move(row));
        wake = queue_.size() == config_.batch_size;
    }
    if (wake) wake_.notify_one();
}

void Ledger::keep_conversation(StoredConversation conversation) {
    const std::size_t bytes = conversation.id.size() + conversation.items.size();
    std::lock_guard lock(mutex_);
    if (stopping_ || conversation_bytes_ + bytes > kConversationQueueBytes) {
        conversations_dropped_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    conversation_bytes_ += bytes;
    conversations_.push_back(std::move(conversation));
}

Stats Ledger::stats() {
    Stats s;
    s.written = written_.load();
    s.spooled = spooled_.load();
    s.replayed = replayed_.load();
    s.lost = lost_.load();
    s.failed_batches = failed_.load();
    s.spool_rows = spool_rows_.load();
    s.spool_bytes = spool_bytes_.load();
    s.conversations_saved = conversations_saved_.load();
    s.conversations_dropped = conversations_dropped_.load();
    std::lock_guard lock(mutex_);
    s.queued = queue_.size() + held_rows_.load();
    return s;
}

void Ledger::adopt_spool() {
    if (!spool_ || adopted_) return;
    spool_->adopt();
    adopted_ = true;
}

std::vector<Spend> Ledger::spooled_spend(std::int64_t day_start_ms, std::int64_t month_start_ms) {
    adopt_spool();
    std::vector<Spend> out;
    if (!spool_) return out;
    std::map<std::string, Spend, std::less<>> by_key;
    spool_->each_waiting([&](const Row& row) {
        if (row.key.empty() || row.cost_usd <= 0 || row.ts_ms < month_start_ms) return;
        Spend& spend = by_key[row.key];
        spend.month_usd += row.cost_usd;
        if (row.ts_ms >= day_start_ms) spend.today_usd += row.cost_usd;
    });
    for (auto& [key, spend] : by_key) {
        spend.key = key;
        out.push_back(std::move(spend));
    }
    return out;
}

void Ledger::writer() {
    if (spool_) {
        adopt_spool();
        publish();
    }
    std::unique_lock lock(mutex_);
    while (true) {
        // While spooled rows can be replayed, the writer does not sleep between rounds.
        wake_.wait_for(lock, replay_due() ? config::Duration::zero() : config_.flush_interval, [&] {
            return stopping_ || !tasks_.empty() || queue_.size() >= config_.batch_size;
        });
        auto tasks = std::move(tasks_);
        tasks_.clear();
        take_queue();
        conversations_held_.swap(conversations_);
        conversation_bytes_ = 0;
        const bool stopping = stopping_;
        lock.unlock();
        for (auto& task : tasks) task();
        write_held();
        write_conversations();
        publish();
        if (stopping) {
            finish();
            lock.lock();
            if (queue_.empty() && tasks_.empty()) break;
            continue;
        }
        replay();
        publish();
        lock.lock();
    }
    lock.unlock();
    if (spool_) {
        if (!spool_->empty()) {
            spdlog::warn("ledger: {} rows stay in the spool in {}; the next start replays them", spool_->rows(),
                         spool_->dir().string());
        }
        spool_->close();
    }
    publish();
}

// Under the lock: queued rows join those the database and the spool did not take last time, up
// to the queue's bound.
void Ledger::take_queue() {
    if (held_.empty()) {
        held_.swap(queue_);
        held_rows_.store(held_.size());
        return;
    }
    const std::size_t room = config_.queue_size > held_.size() ? config_.queue_size - held_.size() : 0;
    const std::size_t kept = std::min(room, queue_.size());
    std::move(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(kept), std::back_inserter(held_));
    if (kept < queue_.size()) lose(queue_.size() - kept, "the queue is full; the database and the spool refuse rows");
    queue_.clear();
    held_rows_.store(held_.size());
}

// To the database; what it does not take to the spool; what neither takes stays held.
void Ledger::write_held() {
    if (held_.empty()) return;
    for (Row& row : held_) {
        if (row.uid.empty()) row.uid = fmt::format("{:016x}{:016x}", uid_prefix_, ++uid_sequence_);
    }
    // A backlog past half the queue: the database is slower than the traffic. Straight to the
    // spool, which the database then drains at its own pace, so that the queue never fills.
    const bool backlog = spool_ && held_.size() >= std::max(config_.batch_size, config_.queue_size / 2);
    std::size_t done = !backlog && store_ready() ? insert(held_) : 0;
    if (done < held_.size() && spool_) done += spool(std::span<const Row>(held_).subspan(done));
    // A backlog the spool refused (full, or its disk failing): the database, slow as it may be.
    if (backlog && done < held_.size() && store_ready()) done += insert(std::span<const Row>(held_).subspan(done));
    held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(done));
    held_rows_.store(held_.size());
}

// In batches, each its own transaction; returns how many rows were committed (the first ones).
std::size_t Ledger::insert(std::span<const Row> rows) {
    std::size_t done = 0;
    while (done < rows.size()) {
        const auto batch = rows.subspan(done, std::min(config_.batch_size, rows.size() - done));
        if (!try_store(batch)) break;
        done += batch.size();
    }
    return done;
}

bool Ledger::try_store(std::span<const Row> rows) {
    try {
        store_->insert(rows);
    } catch (const std::exception& e) {
        failed_.fetch_add(1, std::memory_order_relaxed);
        // Tried again after a flush interval; until then rows go straight to the spool.
        store_failing_ = true;
        retry_at_ = Clock::now() + config_.flush_interval;
        if (due(next_store_error_log_)) {
            spdlog::error("ledger: writing {} rows to {} failed ({}); {}", rows.size(), store_->describe(), e.what(),
                          spool_ ? "rows go to the spool until it takes them again" : "they stay queued");
        }
        return false;
    }
    written_.fetch_add(rows.size(), std::memory_order_relaxed);
    if (store_failing_) {
        store_failing_ = false;
        next_store_error_log_ = {};
        spdlog::info("ledger: {} takes rows again{}", store_->describe(),
                     spool_ && !spool_->empty() ? fmt::format("; replaying {} spooled rows", spool_->rows()) : "");
    }
    return true;
}

// In batches, each one write and one fdatasync; returns how many rows were spooled (the first ones).
std::size_t Ledger::spool(std::span<const Row> rows) {
    std::size_t done = 0;
    std::string why;
    while (done < rows.size()) {
        const auto batch = rows.subspan(done, std::min(config_.batch_size, rows.size() - done));
        if (!spool_->append(batch, why)) {
            if (due(next_spool_error_log_)) {
                spdlog::error("ledger: cannot spool {} rows in {} ({}); they wait in memory, up to queue_size {}, "
                              "and rows beyond are LOST",
                              rows.size() - done, spool_->dir().string(), why, config_.queue_size);
            }
            break;
        }
        done += batch.size();
    }
    spooled_.fetch_add(done, std::memory_order_relaxed);
    return done;
}

bool Ledger::replay_due() const { return spool_ && !spool_->empty() && store_ready(); }

// Spooled rows to the database, oldest first, for about one flush interval: then the writer
// looks at the queue and its tasks again.
void Ledger::replay() {
    const auto until = Clock::now() + config_.flush_interval;
    while (replay_due()) {
        const std::vector<Row> rows = spool_->next(config_.batch_size);
        if (rows.empty() || !try_store(rows)) break;
        spool_->done();
        replayed_.fetch_add(rows.size(), std::memory_order_relaxed);
        if (spool_->empty()) spdlog::info("ledger: the spool is replayed ({} rows since start)", replayed_.load());
        if (Clock::now() >= until) break;
    }
    if (spool_) {
        if (const std::size_t lost = spool_->take_lost()) lose(lost, "a spool file could not be read");
    }
}

// At stop, after write_held(): held rows had neither the database nor the spool; one more try.
void Ledger::finish() {
    if (!held_.empty()) {
        const std::size_t done = insert(held_);
        held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(done));
    }
    if (!held_.empty()) {
        next_loss_log_ = {};
        lose(held_.size(), "they could not be written or spooled at shutdown");
        held_.clear();
    }
    held_rows_.store(0);
}

// After the rows, which come first: conversations in one transaction a round, and every minute the
// expired ones deleted. None is kept for later: a database that fails them loses them (counted).
void Ledger::write_conversations() {
    const auto now = Clock::now();
    if (!conversations_held_.empty()) {
        const std::size_t n = conversations_held_.size();
        std::string why = "the database is failing";
        bool saved = false;
        if (store_ready()) {
            try {
                store_->save_conversations(conversations_held_);
                saved = true;
            } catch (const std::exception& e) {
                why = e.what();
            }
        }
        if (saved) {
            conversations_saved_.fetch_add(n, std::memory_order_relaxed);
        } else {
            conversations_dropped_.fetch_add(n, std::memory_order_relaxed);
            if (due(next_conversation_error_log_)) {
                spdlog::warn("ledger: {} Responses conversations not kept in {} ({}); this instance still has them "
                             "in memory",
                             n, store_->describe(), why);
            }
        }
        conversations_held_.clear();
    }
    if (now >= next_prune_ && store_ready()) {
        next_prune_ = now + std::chrono::minutes(1);
        try {
            if (const std::int64_t pruned = store_->prune_conversations(unix_ms())) {
                spdlog::debug("ledger: {} expired Responses conversations deleted", pruned);
            }
        } catch (const std::exception& e) {
            spdlog::debug("ledger: deleting expired Responses conversations failed: {}", e.what());
        }
    }
}

void Ledger::lose(std::size_t rows, const char* why) {
    lost_.fetch_add(rows, std::memory_order_relaxed);
    if (!due(next_loss_log_)) return;
    const std::uint64_t lost = lost_.load();
    spdlog::error("ledger: {} rows LOST ({} since start): {}", lost - lost_logged_, lost, why);
    lost_logged_ = lost;
}

void Ledger::publish() {
    if (spool_) {
        spool_rows_.store(spool_->rows());
        spool_bytes_.store(spool_->bytes());
    }
    // Rows the queue refused (counted by record()) are told here, off the I/O threads.
    if (lost_.load() > lost_logged_) lose(0, "the queue was full, or see the errors before");
}

std::string Ledger::what_failed(const std::exception_ptr& failure) {
    try {
        std::rethrow_exception(failure);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
    }
    return "unknown error";
}

asio::awaitable<std::exception_ptr> Ledger::run(std::function<void(Store&)> task) {
    auto executor = co_await asio::this_coro::executor;
    const auto token = await_tuple;
    auto [failure] = co_await asio::async_initiate<decltype(token), void(std::exception_ptr)>(
        [this, executor](auto handler, std::function<void(Store&)> work) {
            auto shared = std::make_shared<decltype(handler)>(std::move(handler));
            {
                std::lock_guard lock(mutex_);
                tasks_.push_back([this, executor, shared, work = std::move(work)] {
                    std::exception_ptr error;
                    try {
                        work(*store_);
                    } catch (...) {
                        error = std::current_exception();
                    }
                    asio::post(executor, [shared, error]() mutable { (*shared)(error); });
                });
            }
            wake_.notify_one();
        },
        token, std::move(task));
    co_return failure;
}

void Ledger::post(std::function<void(Store&)> task, std::string what) {
    {
        std::lock_guard lock(mutex_);
        tasks_.push_back([this, work = std::move(task), what = std::move(what)] {
            try {
                work(*store_);
            } catch (...) {
                spdlog::warn("ledger: {} failed: {}", what, what_failed(std::current_exception()));
            }
        });
    }
    wake_.notify_one();
}

}  // namespace switchyard::ledger
