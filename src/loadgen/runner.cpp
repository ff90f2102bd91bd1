#include "loadgen/runner.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <thread>

#include "core/await.hpp"

namespace switchyard::loadgen {

std::string Load::describe() const {
    char text[64];
    if (mode == Mode::concurrency) {
        std::snprintf(text, sizeof text, "concurrency %g", value);
    } else {
        std::snprintf(text, sizeof text, "rate %g/s", value);
    }
    return text;
}

namespace {

// What all threads share during a run: the request and session counters and the stop time.
struct Shared {
    const RunOptions& options;
    Clock::time_point t0;
    std::string model_json;
    Clock::time_point warmup_end;
    std::atomic<std::int64_t> stop_ns{std::numeric_limits<std::int64_t>::max()};  // since t0
    std::atomic<std::uint64_t> next_request{0};  // every request, warm-up included
    std::atomic<std::uint64_t> measured{0};      // measured requests handed out
    std::atomic<std::uint64_t> next_session{0};
    std::atomic<std::uint64_t> completed{0};
    std::atomic<std::uint64_t> failed{0};
    std::atomic<std::uint64_t> output_tokens{0};
    std::atomic<bool> stopped{false};

    explicit Shared(const RunOptions& o) : options(o) {}

    std::int64_t since_t0(Clock::time_point t) const {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(t - t0).count();
    }

    struct Ticket {
        std::uint64_t index;
        bool warmup;
    };
    // The next request, or nothing when the run is over.
    std::optional<Ticket> take() {
        if (stopped.load(std::memory_order_relaxed)) return std::nullopt;
        const auto now = Clock::now();
        if (since_t0(now) >= stop_ns.load(std::memory_order_relaxed)) {
            stopped = true;
            return std::nullopt;
        }
        const std::uint64_t index = next_request.fetch_add(1, std::memory_order_relaxed);
        const bool warmup = index < options.warmup_requests || now < warmup_end;
        if (!warmup) {
            const std::uint64_t n = measured.fetch_add(1, std::memory_order_relaxed);
            if (options.requests > 0 && n >= options.requests) {
                stopped = true;
                return std::nullopt;
            }
            if (n == 0 && options.duration_s > 0 && options.warmup_requests > 0) {
                // Warm-up by count: the measured duration starts with the first measured request.
                stop_ns = since_t0(now) + static_cast<std::int64_t>(options.duration_s * 1e9);
            }
        }
        return Ticket{index, warmup};
    }
    bool over() const {
        return stopped.load(std::memory_order_relaxed) ||
               (options.requests > 0 && measured.load(std::memory_order_relaxed) >= options.requests) ||
               since_t0(Clock::now()) >= stop_ns.load(std::memory_order_relaxed);
    }
};

// A connection with its buffers and the session it is running.
struct Lane {
    Lane(asio::io_context& io, const Target& target) : connection(io, target) {}
    Connection connection;
    Scratch scratch;
    Session session;
    std::optional<Clock::time_point> due;  // the arrival that started its session (rate mode)
};

// One thread: its io_context, lanes, samples and timeout sweep.
class Worker {
public:
    Worker(Shared& shared, unsigned index) : shared_(shared), index_(index), sweep_timer_(io_), arrival_timer_(io_) {
        context_.t0 = shared.t0;
        context_.timeout = std::chrono::nanoseconds(static_cast<std::int64_t>(shared.options.timeout_s * 1e9));
        context_.usage = &usage_;
        context_.itl_ms = &samples_.itl_ms;
        context_.collect_reply = shared.options.workload->needs_replies();
    }

    void run_concurrency(unsigned lanes) {
        for (unsigned i = 0; i < lanes; ++i) {
            lanes_.push_back(std::make_unique<Lane>(io_, *shared_.options.target));
            ++live_;
            asio::co_spawn(io_, closed_loop(*lanes_.back()), asio::detached);
        }
        run();
    }

    void run_rate(double rate) {
        ++live_;
        asio::co_spawn(io_, arrivals(rate), asio::detached);
        run();
    }

    Samples& samples() { return samples_; }
    const std::string& first_error() const { return first_error_; }

private:
    void run() {
        if (live_ == 0) return;
        asio::co_spawn(io_, sweep(), asio::detached);
        io_.run();
    }

    // Keeps what the first failure looked like, so that a run that fails tells why.
    void note_error(const RequestRecord& record, const Scratch& scratch) {
        first_error_ = error_label(record);
        std::string_view detail = record.error == ErrorKind::http ? std::string_view(scratch.response_body)
                                                                  : std::string_view(scratch.error);
        if (detail.size() > 300) detail = detail.substr(0, 300);
        if (!detail.empty()) {
            first_error_ += ": ";
            for (const char c : detail) first_error_ += (c == '\n' || c == '\r') ? ' ' : c;
        }
    }

    void finished_one() {
        if (--live_ == 0) {
            sweep_timer_.cancel();
            arrival_timer_.cancel();
        }
    }

    // Runs the turns of `lane.session` until it ends or the run is over; false when the run is over.
    asio::awaitable<bool> run_session(Lane& lane) {
        const Workload& workload = *shared_.options.workload;
        Session& session = lane.session;
        while (session.turn < session.turns) {
            const auto ticket = shared_.take();
            if (!ticket) co_return false;
            workload.next(session, shared_.model_json, lane.scratch.body);
            RequestRecord record;
            record.warmup = ticket->warmup;
            if (lane.due) {
                record.due_s = std::chrono::duration<double>(*lane.due - shared_.t0).count();
                lane.due.reset();
            }
            co_await lane.connection.exchange(lane.scratch, context_, record);
            samples_.requests.push_back(record);
            if (record.ok()) {
                shared_.completed.fetch_add(1, std::memory_order_relaxed);
                shared_.output_tokens.fetch_add(record.output_tokens, std::memory_order_relaxed);
            } else {
                shared_.failed.fetch_add(1, std::memory_order_relaxed);
                if (first_error_.empty()) note_error(record, lane.scratch);
                co_return true;  // a failed turn ends its session
            }
            if (context_.collect_reply) workload.reply(session, lane.scratch.reply);
        }
        co_return true;
    }

    asio::awaitable<void> closed_loop(Lane& lane) {
        while (true) {
            shared_.options.workload->begin(shared_.next_session.fetch_add(1, std::memory_order_relaxed), lane.session);
            const bool more = co_await run_session(lane);
            if (!more) break;
        }
        finished_one();
    }

    asio::awaitable<void> open_session(Lane* lane) {
        co_await run_session(*lane);
        idle_.push_back(lane);
        finished_one();
    }

    asio::awaitable<void> arrivals(double rate) {
        Rng rng = Rng::derive(shared_.options.workload->options().seed, 0xa7721ULL + index_);
        auto next = Clock::now();
        while (true) {
            next += std::chrono::nanoseconds(static_cast<std::int64_t>(rng.exponential(rate) * 1e9));
            bool over = false;
            while (!(over = shared_.over()) && Clock::now() < next) {  // wake at least every 100 ms to notice the end
                const auto wake = std::min(next, Clock::now() + std::chrono::milliseconds(100));
                arrival_timer_.expires_at(wake);
                co_await arrival_timer_.async_wait(await_tuple);
            }
            if (over) break;
            Lane* lane = nullptr;
            if (!idle_.empty()) {
                lane = idle_.back();
                idle_.pop_back();
            } else {
                lanes_.push_back(std::make_unique<Lane>(io_, *shared_.options.target));
                lane = lanes_.back().get();
            }
            shared_.options.workload->begin(shared_.next_session.fetch_add(1, std::memory_order_relaxed), lane->session);
            lane->due = next;
            ++live_;
            asio::co_spawn(io_, open_session(lane), asio::detached);
        }
        finished_one();
    }

    // Closes connections whose request ran past its deadline (one timer per thread, not per request).
    asio::awaitable<void> sweep() {
        while (live_ > 0) {
            sweep_timer_.expires_after(std::chrono::milliseconds(50));
            co_await sweep_timer_.async_wait(await_tuple);
            const auto now = Clock::now();
            for (auto& lane : lanes_) {
                if (lane->connection.busy && now >= lane->connection.deadline && !lane->connection.timed_out) {
                    lane->connection.expire();
                }
            }
        }
        for (auto& lane : lanes_) lane->connection.close();
    }

    Shared& shared_;
    unsigned index_;
    asio::io_context io_{1};
    asio::steady_timer sweep_timer_;
    asio::steady_timer arrival_timer_;
    std::vector<std::unique_ptr<Lane>> lanes_;
    std::vector<Lane*> idle_;
    std::size_t live_ = 0;
    UsageReader usage_;
    Samples samples_;
    std::string first_error_;
    Connection::Context context_;
};

}  // namespace

RunResult run_load(const RunOptions& options) {
    Shared shared(options);
    shared.model_json = json_quote(options.model);
    shared.t0 = Clock::now();
    shared.warmup_end = shared.t0 + std::chrono::nanoseconds(static_cast<std::int64_t>(options.warmup_s * 1e9));
    if (options.duration_s > 0 && options.warmup_requests == 0) {
        shared.stop_ns = static_cast<std::int64_t>((options.warmup_s + options.duration_s) * 1e9);
    }

    const unsigned threads = std::max(1u, options.threads);
    std::vector<std::unique_ptr<Worker>> workers;
    for (unsigned t = 0; t < threads; ++t) workers.push_back(std::make_unique<Worker>(shared, t));
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            if (options.load.mode == Load::Mode::concurrency) {
                const auto total = static_cast<unsigned>(std::max(1.0, std::round(options.load.value)));
                workers[t]->run_concurrency(total / threads + (t < total % threads ? 1 : 0));
            } else {
                workers[t]->run_rate(options.load.value / threads);
            }
        });
    }

    // Progress line, from the main thread.
    std::atomic<bool> done{false};
    std::thread progress;
    if (options.progress) {
        progress = std::thread([&] {
            const std::uint64_t total = options.requests > 0 ? options.warmup_requests + options.requests : 0;
            while (!done.load()) {
                for (int i = 0; i < 5 && !done.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
                const double elapsed = std::chrono::duration<double>(Clock::now() - shared.t0).count();
                const auto completed = shared.completed.load(std::memory_order_relaxed);
                const auto failed = shared.failed.load(std::memory_order_relaxed);
                const auto tokens = shared.output_tokens.load(std::memory_order_relaxed);
                char line[256];
                if (total > 0) {
                    std::snprintf(line, sizeof line, "\r\033[K%s  %llu/%llu done, %llu failed, %.0f req/s, %.0f tok/s, %.1fs",
                                  options.progress_label.c_str(), static_cast<unsigned long long>(completed + failed),
                                  static_cast<unsigned long long>(total), static_cast<unsigned long long>(failed),
                                  elapsed > 0 ? static_cast<double>(completed) / elapsed : 0.0,
                                  elapsed > 0 ? static_cast<double>(tokens) / elapsed : 0.0, elapsed);
                } else {
                    std::snprintf(line, sizeof line, "\r\033[K%s  %llu done, %llu failed, %.0f req/s, %.0f tok/s, %.1f/%.0fs",
                                  options.progress_label.c_str(), static_cast<unsigned long long>(completed),
                                  static_cast<unsigned long long>(failed),
                                  elapsed > 0 ? static_cast<double>(completed) / elapsed : 0.0,
                                  elapsed > 0 ? static_cast<double>(tokens) / elapsed : 0.0, elapsed,
                                  options.warmup_s + options.duration_s);
                }
                std::fputs(line, stderr);
                std::fflush(stderr);
            }
            std::fputs("\r\033[K", stderr);
            std::fflush(stderr);
        });
    }
    for (auto& thread : pool) thread.join();
    done = true;
    if (progress.joinable()) progress.join();

    RunResult result;
    result.wall_s = std::chrono::duration<double>(Clock::now() - shared.t0).count();
    for (auto& worker : workers) {
        result.samples.append(worker->samples());
        if (result.first_error.empty()) result.first_error = worker->first_error();
    }
    return result;
}

}  // namespace switchyard::loadgen
