#include "ledger/ledger.hpp"

#include <spdlog/spdlog.h>

#include "core/await.hpp"

namespace switchyard::ledger {

std::unique_ptr<Store> open_sqlite_store(const std::string& path);
std::unique_ptr<Store> open_postgres_store(const std::string& url);

std::unique_ptr<Store> open_store(const std::string& url) {
    if (url.starts_with("postgres://") || url.starts_with("postgresql://")) return open_postgres_store(url);
    return open_sqlite_store(url.starts_with("sqlite:") ? url.substr(7) : url);
}

Ledger::Ledger(const config::Ledger& config, std::unique_ptr<Store> store)
    : config_(config), store_(std::move(store)) {
    queue_.reserve(config_.batch_size);
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
            dropped_.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        queue_.push_back(std::move(row));
        wake = queue_.size() == config_.batch_size;
    }
    if (wake) wake_.notify_one();
}

Stats Ledger::stats() {
    Stats s;
    s.written = written_.load();
    s.dropped = dropped_.load();
    s.failed_batches = failed_.load();
    std::lock_guard lock(mutex_);
    s.queued = queue_.size();
    return s;
}

void Ledger::flush(std::vector<Row>& batch) {
    if (batch.empty()) return;
    try {
        store_->insert(batch);
        written_.fetch_add(batch.size(), std::memory_order_relaxed);
        batch.clear();
    } catch (const std::exception& e) {
        failed_.fetch_add(1, std::memory_order_relaxed);
        spdlog::error("ledger: writing {} rows to {} failed ({}); they stay queued", batch.size(), store_->describe(),
                      e.what());
    }
}

void Ledger::writer() {
    std::vector<Row> batch;
    std::unique_lock lock(mutex_);
    while (true) {
        wake_.wait_for(lock, config_.flush_interval, [&] {
            return stopping_ || !tasks_.empty() || queue_.size() >= config_.batch_size;
        });
        auto tasks = std::move(tasks_);
        tasks_.clear();
        // Rows not written last time go first; new ones join them up to the queue's bound.
        if (batch.empty()) {
            batch.swap(queue_);
        } else {
            const std::size_t room = config_.queue_size > batch.size() ? config_.queue_size - batch.size() : 0;
            for (std::size_t i = 0; i < queue_.size(); ++i) {
                if (i < room) {
                    batch.push_back(std::move(queue_[i]));
                } else {
                    dropped_.fetch_add(1, std::memory_order_relaxed);
                }
            }
            queue_.clear();
        }
        const bool stopping = stopping_;
        lock.unlock();
        for (auto& task : tasks) task();
        flush(batch);
        if (stopping) {
            if (!batch.empty()) flush(batch);  // one more try before giving up
            if (!batch.empty()) {
                spdlog::error("ledger: {} rows could not be written at shutdown", batch.size());
                dropped_.fetch_add(batch.size(), std::memory_order_relaxed);
            }
            lock.lock();
            if (queue_.empty() && tasks_.empty()) break;
            continue;
        }
        lock.lock();
    }
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

}  // namespace switchyard::ledger
