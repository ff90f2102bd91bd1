// Stage "account", storage side: rows are queued by the I/O threads (a mutex and a vector push,
// no system call) and written in batches by one writer thread, every `flush_interval` or sooner
// when a batch fills. The queue is bounded: when it is full the gateway keeps serving and counts
// the rows it could not keep. A failed batch stays queued and is tried again at the next flush.
// stop() (SIGTERM) writes everything queued before returning, so a crash loses at most the rows
// of the last flush interval. Work that needs the store from an I/O thread (admin key changes)
// runs on the writer thread too, and the coroutine resumes when it is done.
#pragma once

#include <boost/asio.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "ledger/row.hpp"
#include "ledger/store.hpp"

namespace switchyard::ledger {

namespace asio = boost::asio;

struct Stats {
    std::uint64_t written = 0;
    std::uint64_t dropped = 0;        // refused because the queue was full
    std::uint64_t failed_batches = 0; // write attempts that failed (their rows were kept)
    std::size_t queued = 0;
};

class Ledger {
public:
    Ledger(const config::Ledger& config, std::unique_ptr<Store> store);
    ~Ledger();
    Ledger(const Ledger&) = delete;
    Ledger& operator=(const Ledger&) = delete;

    Store& store() { return *store_; }  // before start() or from tasks only
    void start();
    // Writes what is queued, then stops the writer. Idempotent.
    void stop();

    void record(Row row);
    Stats stats();

    // Runs `task` on the writer thread; resumes the caller on its executor with the exception the
    // task threw, or null.
    asio::awaitable<std::exception_ptr> run(std::function<void(Store&)> task);

private:
    void writer();
    void flush(std::vector<Row>& batch);

    const config::Ledger& config_;
    std::unique_ptr<Store> store_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::vector<Row> queue_;
    std::deque<std::function<void()>> tasks_;
    bool stopping_ = false;
    std::thread thread_;
    std::atomic<std::uint64_t> written_{0};
    std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::uint64_t> failed_{0};
};

}  // namespace switchyard::ledger
