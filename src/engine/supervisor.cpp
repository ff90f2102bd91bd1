#include "engine/supervisor.hpp"

#include "core/await.hpp"
#include "engine/proc.hpp"
#include "models/estimate.hpp"
#include "models/pull.hpp"
#include "models/store.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace switchyard::engine {

namespace {

constexpr std::size_t tail_lines = 40;
constexpr std::size_t tail_line_bytes = 400;
constexpr auto tick_interval = std::chrono::milliseconds(50);
constexpr auto memory_interval = std::chrono::milliseconds(500);
constexpr auto models_interval = std::chrono::seconds(2);
constexpr std::size_t models_body_limit = 1 << 20;

std::uint16_t free_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("engines: cannot open a socket to find a free port");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        ::close(fd);
        throw std::runtime_error("engines: cannot find a free loopback port");
    }
    ::close(fd);
    return ntohs(address.sin_port);
}

// A blocking connection to 127.0.0.1:port with half-second send and receive timeouts, that has
// sent "GET `path`" (HTTP/1.0: the engine closes the connection after its answer); -1 when either
// failed. Runs on the supervisor thread only.
int send_get(std::uint16_t port, const std::string& path) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    timeval timeout{0, 500'000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: switchyard-engines\r\n\r\n";
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// GET `path` on the engine's port; true on a 2xx status (read from the status line alone).
bool probe(std::uint16_t port, const std::string& path) {
    const int fd = send_get(port, path);
    if (fd < 0) return false;
    char buffer[64];
    std::size_t got = 0;
    while (got < 12) {
        const ssize_t n = ::recv(fd, buffer + got, sizeof buffer - got, 0);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return got >= 12 && buffer[9] == '2';  // "HTTP/1.1 200"
}

// GET `path` on the engine's port; the body of a 2xx answer (read until the engine closes, at
// most models_body_limit bytes), or nullopt.
std::optional<std::string> get_body(std::uint16_t port, const std::string& path) {
    const int fd = send_get(port, path);
    if (fd < 0) return std::nullopt;
    std::string answer;
    bool complete = false;
    char buffer[8192];
    while (answer.size() < models_body_limit) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n == 0) complete = true;
        if (n <= 0) break;
        answer.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    const auto body = answer.find("\r\n\r\n");
    if (!complete || answer.size() < 12 || answer[9] != '2' || body == std::string::npos) return std::nullopt;
    return answer.substr(body + 4);
}

std::string find_in_path(const std::string& program) {
    if (program.find('/') != std::string::npos) return program;
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return program;  // execve fails with ENOENT, reported in the engine's log
}

std::string describe_exit(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
    return "ended (wait status " + std::to_string(status) + ")";
}

// The estimate's overhead term: a CUDA context in a GPU group, the process alone on the host.
std::uint64_t overhead_of(const config::Engine& engine) {
    return engine.gpu.empty() ? models::kHostOverhead : models::kGpuOverhead;
}

std::string seconds_text(config::Duration d) {
    std::ostringstream out;
    out << static_cast<double>(d.count()) / 1000.0 << "s";
    return out.str();
}

}  // namespace

// One engine: its config, what I/O threads read and set (atomics), and what the supervisor
// thread alone changes (guarded by mutex_ for status readers).
struct Supervisor::Run {
    explicit Run(const config::Engine& engine, std::size_t engine_index) : config(engine), index(engine_index) {}

    const config::Engine& config;
    std::size_t index;
    std::atomic<State> state{State::stopped};
    std::atomic<bool> wanted{false};                 // a request (or preload) wants it loaded
    std::atomic<SteadyTime::rep> last_used{0};       // steady_clock, when a request last wanted it
    std::atomic<std::size_t> waiting{0};             // requests waiting for it to be ready
    std::atomic<SteadyTime::rep> retry_failed_at{0};  // a failed engine may be started again from then
    std::atomic<bool> held{false};  // stopped through the admin API: kept stopped until started

    // Supervisor thread (and status() under mutex_).
    pid_t pid = -1;
    int output_fd = -1;
    std::string detail;
    SteadyTime started{};
    SteadyTime ready_since{};
    SteadyTime failed_at{};
    SteadyTime restart_at{};   // pending restart after backoff, when `restart_pending`
    bool restart_pending = false;
    SteadyTime drain_deadline{};
    bool terminating = false;  // SIGTERM sent
    SteadyTime kill_at{};
    bool restart_after_exit = false;
    bool asked_restart = false;  // through the admin API: not counted against max_restarts
    bool load_timed_out = false;
    std::size_t consecutive_failures = 0;
    SteadyTime next_health{};            // next probe while ready
    std::size_t failed_probes = 0;       // in a row, while ready
    std::deque<SteadyTime> restart_times;  // unplanned restarts within the window
    std::uint64_t restarts = 0;
    std::string last_error;
    std::size_t rss = 0;       // the process tree's
    std::size_t main_rss = 0;  // the main process's
    std::vector<ProcessInfo> tree;  // at the last memory reading
    std::optional<std::size_t> gpu;
    std::vector<ModelState> models;  // from its GET /models, when it lists models
    SteadyTime next_models_check{};
    std::string model_path;  // `model`, a store name resolved to its file
    models::ModelInfo model_info;
    std::vector<models::ModelInfo> router_models;  // a router's, in the order of `models`
    models::EngineShape shape;
    std::optional<models::Estimate> estimate;
    std::string estimate_note;
    std::string partial_line;
    std::deque<std::string> tail;
    int log_fd = -1;
    std::size_t log_bytes = 0;
    std::string log_path;

    // The model being pulled into the store (`pull:`), on a thread of its own: the supervisor
    // thread reads the progress and, once `pull_over`, joins it and reads its outcome.
    std::thread pull_thread;
    bool pulling = false;
    std::atomic<bool> pull_over{false};
    std::atomic<std::uint64_t> pull_done{0};
    std::atomic<std::uint64_t> pull_total{0};
    int pull_status = 0;       // the pull thread's, written before pull_over
    std::string pull_message;  // likewise: what it said (errors and the result)
    SteadyTime pull_started{};
};

Supervisor::Supervisor(config::Gateway& config)
    : config_(config),
      models_dir_(config.models_dir.empty() ? models::default_models_dir(models::process_env()) : config.models_dir) {
    for (std::size_t i = 0; i < config.engines.size(); ++i) {
        auto& engine = config.engines[i];
        if (engine.port == 0) engine.port = free_loopback_port();
        std::string ignored;
        config.upstreams[engine.upstream].url = *parse_url("http://127.0.0.1:" + std::to_string(engine.port), &ignored);
        runs_.push_back(std::make_unique<Run>(engine, i));
        estimate_memory(*runs_.back());
    }
}

// The engine's model file (a store name resolved), its GGUF header and the memory it will need at
// its command line's context and slots. Reads only the header; at start-up and before a start
// when the file was not there yet.
void Supervisor::estimate_memory(Run& run) {
    const models::Store store(models_dir_);
    run.model_path = store.resolve(run.config.model);
    if (!run.config.models.empty()) {
        estimate_router(run);
        return;
    }
    if (run.model_path.empty()) {
        run.estimate_note = "no model file";
        return;
    }
    std::string why;
    const auto info = models::read_model(run.model_path, &why);  // every part of a split model
    if (!info) {
        run.estimate_note = why;
        return;
    }
    run.model_info = *info;
    run.shape = models::read_shape(run.config.command);
    run.estimate = models::estimate(run.model_info, run.shape, overhead_of(run.config));
    run.estimate_note.clear();
    spdlog::info("engine {}: {} estimated at {} (ctx {} x {} slots: weights {}, KV cache {}, compute {}, overhead {})",
                 run.config.name, run.model_path, models::gib_text(run.estimate->total()), run.estimate->ctx,
                 run.estimate->slots, models::gib_text(run.estimate->weights), models::gib_text(run.estimate->kv),
                 models::gib_text(run.estimate->compute), models::gib_text(run.estimate->overhead));
}

// A router's models are the folder's NAME.gguf files: its estimate is its worst case, the
// --models-max largest of them loaded at once beside the router (models::router_estimate).
void Supervisor::estimate_router(Run& run) {
    run.router_models.clear();
    if (run.model_path.empty()) {
        run.estimate_note = "no model folder";
        return;
    }
    std::vector<models::ModelInfo> infos;
    for (const auto& name : run.config.models) {
        const std::string file = (std::filesystem::path(run.model_path) / (name + ".gguf")).string();
        std::string why;
        const auto info = models::read_model(file, &why);
        if (!info) {
            run.estimate_note = "model '" + name + "' not estimated: " + why;
            return;
        }
        infos.push_back(*info);
    }
    run.router_models = std::move(infos);
    run.shape = models::read_shape(run.config.command);
    run.estimate = models::router_estimate(run.router_models, run.shape, overhead_of(run.config));
    run.estimate_note.clear();
    spdlog::info("engine {}: {} models in {} estimated at {} with {} loaded at once (ctx {}: weights {}, KV cache {}, "
                 "compute {}, overhead {})",
                 run.config.name, run.router_models.size(), run.model_path, models::gib_text(run.estimate->total()),
                 run.shape.models_max == 0 ? run.router_models.size()
                                           : std::min<std::size_t>(run.shape.models_max, run.router_models.size()),
                 run.estimate->ctx, models::gib_text(run.estimate->weights), models::gib_text(run.estimate->kv),
                 models::gib_text(run.estimate->compute), models::gib_text(run.estimate->overhead));
}

void Supervisor::bind(config::Gateway& config) const {
    for (std::size_t i = 0; i < config.engines.size() && i < runs_.size(); ++i) {
        auto& engine = config.engines[i];
        engine.port = runs_[i]->config.port;
        std::string ignored;
        config.upstreams[engine.upstream].url = *parse_url("http://127.0.0.1:" + std::to_string(engine.port), &ignored);
    }
}

Supervisor::~Supervisor() { stop(); }

void Supervisor::set_in_flight(std::function<std::size_t(std::size_t)> in_flight) { in_flight_ = std::move(in_flight); }

std::size_t Supervisor::in_flight(std::size_t engine) const { return in_flight_ ? in_flight_(engine) : 0; }

void Supervisor::start() {
    if (runs_.empty() || thread_.joinable()) return;
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    const std::string smi = find_in_path("nvidia-smi");
    if (smi.find('/') != std::string::npos && ::access(smi.c_str(), X_OK) == 0) {
        nvidia_smi_ = smi;
        spdlog::info("engines: GPU memory is read with {}", smi);
    } else {
        spdlog::info("engines: nvidia-smi not found; GPU memory is not watched (gpu_memory_limit has no effect)");
    }
    const auto now = std::chrono::steady_clock::now();
    for (auto& run : runs_) {
        run->last_used.store(now.time_since_epoch().count());
        if (run->config.preload) run->wanted.store(true);
        spdlog::info("engine {}: port {}, {}", run->config.name, run->config.port,
                     run->config.preload ? "preloading" : "started on first request");
    }
    thread_ = std::thread([this] { loop(); });
}

void Supervisor::stop() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    wake();
    thread_.join();
    ::close(wake_fd_);
    wake_fd_ = -1;
}

void Supervisor::wake() {
    if (wake_fd_ < 0) return;
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(wake_fd_, &one, sizeof one);
}

bool Supervisor::ready(std::size_t engine) const {
    return engine >= runs_.size() || runs_[engine]->state.load(std::memory_order_relaxed) == State::ready;
}

asio::awaitable<std::optional<ApiError>> Supervisor::wait_ready(const config::Model& model,
                                                                const std::vector<config::Upstream>& upstreams,
                                                                SteadyTime deadline) {
    // The model's engines, from the config the request was routed with (a reload makes new ones).
    std::vector<std::size_t> engines;
    bool elsewhere = false;
    for (const auto& deployment : model.deployments) {
        const auto engine = upstreams[deployment.upstream].engine;
        if (!engine || *engine >= runs_.size()) {
            elsewhere = true;
        } else if (std::find(engines.begin(), engines.end(), *engine) == engines.end()) {
            engines.push_back(*engine);
        }
    }
    if (engines.empty()) co_return std::nullopt;
    const auto now = std::chrono::steady_clock::now();
    bool any_ready = false;
    for (std::size_t e : engines) {
        Run& run = *runs_[e];
        run.last_used.store(now.time_since_epoch().count());
        any_ready = any_ready || run.state.load() == State::ready;
    }
    if (any_ready) co_return std::nullopt;
    for (std::size_t e : engines) runs_[e]->wanted.store(true);
    wake();
    if (elsewhere) co_return std::nullopt;  // spill while it loads

    // Wait, counted per engine, bounded by the longest load timeout of its engines.
    config::Duration longest{0};
    std::vector<Run*> counted;
    struct Uncount {
        std::vector<Run*>& runs;
        ~Uncount() {
            for (Run* run : runs) run->waiting.fetch_sub(1);
        }
    } uncount{counted};
    for (std::size_t e : engines) {
        Run& run = *runs_[e];
        longest = std::max(longest, run.config.load_timeout + run.config.backoff_max);
        if (run.waiting.fetch_add(1) >= run.config.max_waiting) {
            run.waiting.fetch_sub(1);
            continue;
        }
        counted.push_back(&run);
    }
    if (counted.empty()) {
        ApiError error{503, "engine '" + runs_[engines.front()]->config.name + "' is loading and " +
                                std::to_string(runs_[engines.front()]->config.max_waiting) +
                                " requests already wait for it",
                       "server_error", std::nullopt, "engine_loading"};
        error.retry_after = 1;
        co_return error;
    }
    const SteadyTime until = std::min(deadline, now + longest);
    const auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor);
    while (true) {
        bool all_failed = true;
        bool all_held = true;
        const auto t = std::chrono::steady_clock::now().time_since_epoch().count();
        for (Run* run : counted) {
            const State state = run->state.load();
            if (state == State::ready) co_return std::nullopt;
            all_held = all_held && run->held.load();
            // A failed engine whose window has passed is started again by this request.
            all_failed = all_failed && state == State::failed && t < run->retry_failed_at.load();
        }
        if (all_held) {
            co_return ApiError{503,
                               "engine '" + counted.front()->config.name +
                                   "' was stopped through the admin API (POST /admin/engines/<name>/start starts it)",
                               "server_error", std::nullopt, "engine_stopped"};
        }
        if (all_failed) {
            Run& run = *counted.front();
            std::string message = "engine '" + run.config.name + "' failed";
            {
                std::lock_guard lock(mutex_);
                if (!run.last_error.empty()) message += ": " + run.last_error;
                if (!run.tail.empty()) {
                    message += "; last lines of its log:";
                    const std::size_t from = run.tail.size() > 10 ? run.tail.size() - 10 : 0;
                    for (std::size_t i = from; i < run.tail.size(); ++i) message += "\n" + run.tail[i];
                }
            }
            co_return ApiError{503, std::move(message), "server_error", std::nullopt, "engine_failed"};
        }
        if (std::chrono::steady_clock::now() >= until) {
            std::string message = "engine '" + counted.front()->config.name + "' did not become ready within " +
                                  seconds_text(std::chrono::duration_cast<config::Duration>(until - now));
            {
                std::lock_guard lock(mutex_);
                const std::string& detail = counted.front()->detail;
                if (detail.starts_with("pulling ")) message += " (it is " + detail + ")";
            }
            ApiError error{503, std::move(message), "server_error", std::nullopt, "engine_loading"};
            error.retry_after = 1;
            co_return error;
        }
        timer.expires_after(std::chrono::milliseconds(20));
        co_await timer.async_wait(await_tuple);
    }
}

// --- The supervisor thread ---------------------------------------------------------------------

void Supervisor::loop() {
    while (!stopping_) {
        std::vector<pollfd> fds;
        fds.push_back({wake_fd_, POLLIN, 0});
        for (auto& run : runs_) {
            if (run->output_fd >= 0) fds.push_back({run->output_fd, POLLIN, 0});
        }
        ::poll(fds.data(), fds.size(), static_cast<int>(tick_interval.count()));
        std::uint64_t drained = 0;
        [[maybe_unused]] const auto got = ::read(wake_fd_, &drained, sizeof drained);
        tick(std::chrono::steady_clock::now());
    }

    // Shut down: every engine gets SIGTERM, then SIGKILL after its grace.
    const auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(mutex_);
        for (auto& run : runs_) {
            run->wanted = false;
            run->restart_pending = false;
            if (run->pid > 0 && !run->terminating) begin_stop(*run, now, "the gateway is stopping", false);
            if (run->pid > 0) {
                run->terminating = true;
                run->kill_at = now + run->config.stop_grace;
                signal_tree(*run, SIGTERM);
            }
        }
    }
    while (true) {
        bool any = false;
        const auto t = std::chrono::steady_clock::now();
        std::lock_guard lock(mutex_);
        for (auto& run : runs_) {
            if (run->pid <= 0) continue;
            read_output(*run);
            reap(*run, t);
            if (run->pid <= 0) continue;
            any = true;
            if (t >= run->kill_at) {
                signal_tree(*run, SIGKILL);
                run->kill_at = t + std::chrono::seconds(1);
            }
        }
        if (!any) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (auto& run : runs_) {
        if (run->log_fd >= 0) ::close(run->log_fd);
        run->log_fd = -1;
        if (run->pull_thread.joinable()) run->pull_thread.join();  // stopping_ ends it at its next read
    }
}

// --- Pulling a missing model --------------------------------------------------------------------

bool Supervisor::needs_pull(const Run& run) const {
    if (run.config.pull.empty()) return false;
    const auto entry = models::Store(models_dir_).find(run.config.model);
    return !entry || !entry->error.empty();
}

// Fetches the engine's model into the store as `switchyard pull SOURCE --as MODEL` would, on a
// thread of its own (a download takes minutes; the supervisor goes on watching the others). The
// engine is `loading` meanwhile: requests wait for it, or go to another tier.
void Supervisor::begin_pull(Run& run, SteadyTime now) {
    run.pulling = true;
    run.pull_over = false;
    run.pull_done = 0;
    run.pull_total = 0;
    run.pull_started = now;
    run.state = State::loading;
    run.started = now;
    run.detail = "pulling " + run.config.pull;
    run.last_error.clear();
    spdlog::info("engine {}: model '{}' is not in the store {}; pulling {}", run.config.name, run.config.model,
                 models_dir_, run.config.pull);
    run.pull_thread = std::thread([this, &run] {
        std::ostringstream said;
        models::PullOptions options;
        options.source = run.config.pull;
        options.name = run.config.model;
        options.models_dir = models_dir_;
        options.log = &said;
        options.out = &said;
        options.on_progress = [&run](std::uint64_t done, std::uint64_t total) {
            run.pull_done.store(done, std::memory_order_relaxed);
            run.pull_total.store(total, std::memory_order_relaxed);
        };
        options.cancel = &stopping_;
        int status = 1;
        try {
            status = models::pull(options, models::process_env());
        } catch (const std::exception& e) {
            said << "switchyard pull: " << e.what() << "\n";
        }
        run.pull_status = status;
        run.pull_message = said.str();
        run.pull_over.store(true, std::memory_order_release);
        wake();
    });
}

void Supervisor::watch_pull(Run& run, SteadyTime now) {
    if (!run.pull_over.load(std::memory_order_acquire)) {
        const double seconds = std::chrono::duration<double>(now - run.pull_started).count();
        const std::uint64_t done = run.pull_done.load(std::memory_order_relaxed);
        run.detail = "pulling " + run.config.pull + ":" +
                     models::progress_text(done, run.pull_total.load(std::memory_order_relaxed),
                                           seconds > 0 ? static_cast<double>(done) / seconds : 0);
        return;
    }
    run.pull_thread.join();
    run.pulling = false;
    // What the pull said, line by line, minus progress lines: its outcome, or why it failed.
    std::string outcome;
    std::istringstream lines(run.pull_message);
    for (std::string line; std::getline(lines, line);) {
        if (line.find('%') != std::string::npos && line.find("ETA") != std::string::npos) continue;
        if (line.starts_with("switchyard pull: ")) line.erase(0, 17);
        if (!line.empty()) outcome = line;
    }
    if (run.pull_status == 0) {
        spdlog::info("engine {}: {}", run.config.name, outcome);
        run.state = State::stopped;
        run.detail = outcome;
        estimate_memory(run);
        run.wanted = true;  // started on this tick
        return;
    }
    run.last_error = "pulling " + run.config.pull + " failed: " + outcome;
    spdlog::error("engine {}: {}", run.config.name, run.last_error);
    mark_failed(run, now, "pull failed");
    run.tail.clear();
    run.wanted = false;
}

// Failed: not started again before its restart_window has passed, unless asked (admin start).
void Supervisor::mark_failed(Run& run, SteadyTime now, std::string detail) {
    run.state = State::failed;
    run.failed_at = now;
    run.detail = std::move(detail);
    run.retry_failed_at.store((now + run.config.restart_window).time_since_epoch().count());
}

void Supervisor::tick(SteadyTime now) {
    // Readiness probes happen outside the lock: they may take up to half a second.
    std::vector<bool> probed(runs_.size(), false);
    std::vector<bool> checked(runs_.size(), false);  // a health check of a ready engine ran
    for (auto& run : runs_) {
        const State state = run->state.load();
        if (state == State::loading && run->pid > 0 && !run->restart_pending) {
            probed[run->index] = probe(run->config.port, run->config.ready_path);
        } else if (state == State::ready && run->config.health_interval.count() > 0 && now >= run->next_health) {
            checked[run->index] = true;
            probed[run->index] = probe(run->config.port, run->config.ready_path);
        }
    }
    if (now >= next_memory_check_) {
        next_memory_check_ = now + memory_interval;
        watch_memory(now);
    }
    watch_models(now);
    std::lock_guard lock(mutex_);
    {
        std::vector<std::pair<std::size_t, Action>> actions;
        {
            std::lock_guard actions_lock(actions_mutex_);
            actions.swap(actions_);
        }
        for (const auto& [index, action] : actions) carry_out(*runs_[index], action, now);
    }
    for (auto& owned : runs_) {
        Run& run = *owned;
        if (run.pulling) {
            watch_pull(run, now);
            if (run.pulling) continue;
        }
        read_output(run);
        if (run.pid > 0) reap(run, now);
        const State state = run.state.load();

        if (run.restart_pending && now >= run.restart_at && run.pid <= 0) {
            run.restart_pending = false;
            spawn(run, now);
            continue;
        }
        if (run.held.load()) run.wanted = false;  // stopped through the admin API
        if (run.pid <= 0 && !run.restart_pending && run.wanted.load()) {
            const bool may_retry_failed = state == State::failed && now >= run.failed_at + run.config.restart_window;
            if (state == State::stopped || may_retry_failed) {
                if (may_retry_failed) run.restart_times.clear();
                if (needs_pull(run)) {
                    begin_pull(run, now);
                } else if (group_has_room(run, now)) {
                    run.wanted = false;
                    spawn(run, now);
                }
            } else if (state == State::failed) {
                run.wanted = false;  // reported to the caller; the window must pass first
            }
            continue;
        }
        if (state == State::loading && run.pid > 0 && !run.restart_pending) {
            if (probed[run.index]) {
                run.state = State::ready;
                run.ready_since = now;
                run.consecutive_failures = 0;
                run.detail.clear();
                run.wanted = false;
                run.next_health = now + run.config.health_interval;
                run.failed_probes = 0;
                run.next_models_check = now;
                next_memory_check_ = now;  // its memory at once, not half a second later
                spdlog::info("engine {}: ready after {} (pid {}, port {})", run.config.name,
                             seconds_text(std::chrono::duration_cast<config::Duration>(now - run.started)), run.pid,
                             run.config.port);
            } else if (now - run.started > run.config.load_timeout) {
                run.last_error = "not ready within its load_timeout of " + seconds_text(run.config.load_timeout);
                run.load_timed_out = true;
                spdlog::error("engine {}: {}; killing it", run.config.name, run.last_error);
                signal_tree(run, SIGKILL);
            }
            continue;
        }
        if (state == State::ready && checked[run.index]) {
            run.next_health = now + run.config.health_interval;
            run.failed_probes = probed[run.index] ? 0 : run.failed_probes + 1;
            if (run.failed_probes >= run.config.unhealthy_threshold) {
                run.failed_probes = 0;
                run.last_error = "failed " + std::to_string(run.config.unhealthy_threshold) + " health checks in a row (" +
                                 run.config.ready_path + ")";
                spdlog::warn("engine {}: {}; draining, then restarting", run.config.name, run.last_error);
                begin_stop(run, now, run.last_error, true);
                continue;
            }
        }
        if (state == State::ready && run.config.idle_unload.count() > 0 && in_flight(run.index) == 0) {
            const SteadyTime last(SteadyTime::duration(run.last_used.load()));
            if (now - last >= run.config.idle_unload) {
                begin_stop(run, now, "idle for " + seconds_text(run.config.idle_unload), false);
            }
        }
        if (run.state.load() == State::draining && run.pid > 0) {
            if (!run.terminating && (in_flight(run.index) == 0 || now >= run.drain_deadline)) {
                if (in_flight(run.index) > 0) {
                    spdlog::warn("engine {}: drain deadline passed with {} requests in flight; stopping it",
                                 run.config.name, in_flight(run.index));
                }
                run.terminating = true;
                run.kill_at = now + run.config.stop_grace;
                signal_tree(run, SIGTERM);
            } else if (run.terminating && now >= run.kill_at) {
                spdlog::warn("engine {}: still running {} after SIGTERM; SIGKILL", run.config.name,
                             seconds_text(run.config.stop_grace));
                signal_tree(run, SIGKILL);
                run.kill_at = now + run.config.stop_grace;
            }
        }
    }
}

// The detail of an engine stopped (and held) through the admin API.
constexpr const char* kHeld = "stopped through the admin API";

// Checks whether the engine's process ended, and decides what comes next.
void Supervisor::reap(Run& run, SteadyTime now) {
    int status = 0;
    const pid_t done = ::waitpid(run.pid, &status, WNOHANG);
    if (done != run.pid) return;
    // The rest of its output, then the pipe is closed.
    read_output(run);
    if (run.output_fd >= 0) ::close(run.output_fd);
    run.output_fd = -1;
    ::kill(-run.pid, SIGKILL);  // anything it left in its process group
    const pid_t old_pid = run.pid;
    run.pid = -1;
    run.rss = 0;
    run.main_rss = 0;
    run.tree.clear();
    run.models.clear();
    run.gpu.reset();
    if (stopping_) {
        run.state = State::stopped;
        run.detail = "stopped with the gateway";
        spdlog::info("engine {}: stopped (pid {}, {})", run.config.name, old_pid, describe_exit(status));
        return;
    }
    const bool planned = run.terminating;
    run.terminating = false;
    // Asked to stop, or held stopped through the admin API (whatever way it ended): it stays down.
    if ((planned && !run.restart_after_exit) || run.held.load()) {
        run.restart_after_exit = false;
        run.asked_restart = false;
        run.state = State::stopped;
        if (run.held.load()) run.detail = kHeld;
        spdlog::info("engine {}: stopped (pid {}, {})", run.config.name, old_pid, describe_exit(status));
        return;
    }
    // A restart: planned (memory limit, asked for) or not (a crash, a load timeout).
    ++run.restarts;
    if (!run.asked_restart) run.restart_times.push_back(now);
    run.asked_restart = false;
    while (!run.restart_times.empty() && now - run.restart_times.front() > run.config.restart_window) {
        run.restart_times.pop_front();
    }
    if (planned) {
        spdlog::info("engine {}: stopped for a restart (pid {}); starting it again", run.config.name, old_pid);
        run.restart_after_exit = false;
    } else {
        if (!run.load_timed_out) run.last_error = describe_exit(status);
        run.load_timed_out = false;
        ++run.consecutive_failures;
        std::string tail;
        for (std::size_t i = run.tail.size() > 5 ? run.tail.size() - 5 : 0; i < run.tail.size(); ++i) {
            tail += "\n  " + run.tail[i];
        }
        spdlog::error("engine {}: pid {} {}; last lines of its log:{}", run.config.name, old_pid, run.last_error, tail);
    }
    if (run.restart_times.size() > run.config.max_restarts) {
        mark_failed(run, now,
                    std::to_string(run.restart_times.size()) + " restarts within " +
                        seconds_text(run.config.restart_window) + "; not restarted before that window has passed");
        spdlog::error("engine {}: failed ({}); {}", run.config.name, run.last_error, run.detail);
        return;
    }
    const auto delay = planned ? config::Duration{0}
                               : backoff_delay(run.config.backoff_base, run.config.backoff_max, run.consecutive_failures);
    run.state = State::loading;
    run.restart_pending = true;
    run.restart_at = now + delay;
    run.detail = "restarting in " + seconds_text(delay);
    if (!planned) spdlog::warn("engine {}: restarting in {}", run.config.name, seconds_text(delay));
}

bool Supervisor::act(std::string_view name, Action action) {
    for (const auto& run : runs_) {
        if (run->config.name != name) continue;
        if (action == Action::stop) run->held.store(true);  // at once: no request starts it meanwhile
        {
            std::lock_guard lock(actions_mutex_);
            actions_.emplace_back(run->index, action);
        }
        wake();
        return true;
    }
    return false;
}

void Supervisor::carry_out(Run& run, Action action, SteadyTime now) {
    const char* what = action == Action::start ? "start" : action == Action::stop ? "stop" : "restart";
    spdlog::info("engine {}: {} asked through the admin API", run.config.name, what);
    const bool running = run.pid > 0;
    const bool draining = running && run.state.load() == State::draining;
    if (action == Action::stop) {  // (act() has set `held`)
        run.restart_pending = false;
        run.wanted = false;
        if (running && !draining) {
            begin_stop(run, now, kHeld, false);
        } else {
            run.restart_after_exit = false;  // a drain already under way ends in a stop
            if (!running) run.state = State::stopped;
            run.detail = kHeld;
        }
        return;
    }
    run.held = false;
    // A restart, or a start while it drains to a stop: (drained and) started again once it is down.
    if (running && (action == Action::restart || (draining && !run.restart_after_exit))) {
        if (!draining) begin_stop(run, now, "restart asked through the admin API", true);
        run.restart_after_exit = true;
        run.asked_restart = true;
        return;
    }
    if (running) return;  // start: already loading or ready
    // Not running (stopped, failed, or waiting to restart after a crash): now, without a backoff.
    if (run.state.load() == State::failed) run.restart_times.clear();
    run.restart_pending = false;
    run.consecutive_failures = 0;
    run.state = State::stopped;
    run.detail.clear();
    run.wanted = true;
}

void Supervisor::begin_stop(Run& run, SteadyTime now, std::string why, bool restart) {
    spdlog::info("engine {}: draining ({}; {} requests in flight)", run.config.name, why, in_flight(run.index));
    run.state = State::draining;
    run.detail = std::move(why);
    run.drain_deadline = now + run.config.drain_timeout;
    run.restart_after_exit = restart;
}

bool Supervisor::group_has_room(Run& starting, SteadyTime now) {
    if (starting.config.gpu.empty()) return memory_has_room(starting, now);
    const auto group = config_.gpu_groups.find(starting.config.gpu);
    if (group == config_.gpu_groups.end() || group->second.max_loaded == 0) return memory_has_room(starting, now);
    std::vector<LruCandidate> members;
    std::size_t loaded = 0;
    for (auto& run : runs_) {
        if (run->config.gpu != starting.config.gpu) continue;
        const bool is_loaded = run->pid > 0 || run->restart_pending;
        loaded += is_loaded && run.get() != &starting ? 1 : 0;
        members.push_back({run->index, SteadyTime(SteadyTime::duration(run->last_used.load())), is_loaded,
                           run->state.load() == State::draining || run->restart_pending});
    }
    if (loaded < group->second.max_loaded) return memory_has_room(starting, now);
    // Full: make room by stopping the least recently used, unless one is already on its way out.
    for (const auto& member : members) {
        if (member.engine != starting.index && member.loaded && member.stopping) return false;
    }
    if (const auto victim = pick_eviction(members, starting.index)) {
        begin_stop(*runs_[*victim], now,
                   "making room in GPU group '" + starting.config.gpu + "' for engine '" + starting.config.name + "'",
                   false);
    }
    return false;
}

std::size_t Supervisor::memory_budget(const Run& run) const {
    if (run.config.gpu.empty()) return config_.host_memory;
    const auto group = config_.gpu_groups.find(run.config.gpu);
    return group == config_.gpu_groups.end() ? 0 : group->second.memory;
}

// With a memory budget for the engine's GPU group (or the host): does its estimate fit beside the
// engines loaded there (each counted at its estimate, or at what it really uses when more)? If not,
// the least recently used are drained and stopped until it does; one that could never fit fails
// with the numbers, and its requests go to another tier or get them.
bool Supervisor::memory_has_room(Run& starting, SteadyTime now) {
    const std::size_t budget = memory_budget(starting);
    if (budget == 0) return true;
    if (!starting.estimate) estimate_memory(starting);  // the model may have been pulled since
    if (!starting.estimate) return true;
    std::vector<models::Resident> residents;
    for (auto& run : runs_) {
        if (run.get() == &starting || run->config.gpu != starting.config.gpu) continue;
        if (run->pid <= 0 && !run->restart_pending) continue;
        std::size_t used = run->config.gpu.empty() ? run->rss : run->gpu.value_or(0);
        if (run->estimate) used = std::max<std::size_t>(used, run->estimate->total());
        residents.push_back({run->index, used, run->last_used.load(),
                             run->state.load() == State::draining || run->restart_pending});
    }
    // On the host, the budget is also capped by what the machine has: MemAvailable plus what the
    // group's engines hold (they give it back when stopped).
    std::size_t capacity = budget;
    std::string where = starting.config.gpu.empty() ? "the host budget (host_memory)" : "GPU group '" + starting.config.gpu + "'";
    if (starting.config.gpu.empty()) {
        std::ifstream meminfo("/proc/meminfo");
        std::stringstream text;
        text << meminfo.rdbuf();
        if (const auto available = models::parse_mem_available(text.str())) {
            std::size_t held = 0;
            for (const auto& r : residents) held += r.bytes;
            if (*available + held < capacity) {
                capacity = *available + held;
                where = "the host (" + models::gib_text(*available) + " available, " + models::gib_text(held) +
                        " held by engines)";
            }
        }
    }
    const auto placement = models::place(capacity, starting.estimate->total(), residents);
    if (placement.never) {
        starting.last_error =
            "does not fit: " +
            (starting.router_models.empty()
                 ? models::never_fits(starting.model_info, starting.shape, overhead_of(starting.config), capacity, where)
                 : models::router_never_fits(starting.router_models, starting.config.models, starting.shape,
                                             overhead_of(starting.config), capacity, where));
        mark_failed(starting, now, "refused: larger than the memory budget");
        starting.tail.clear();
        starting.wanted = false;
        spdlog::error("engine {}: {}", starting.config.name, starting.last_error);
        return false;
    }
    if (placement.now) return true;
    for (const std::size_t victim : placement.evict) {
        begin_stop(*runs_[victim], now,
                   "making room by memory for engine '" + starting.config.name + "' (needs " +
                       models::gib_text(starting.estimate->total()) + " of " + models::gib_text(capacity) + ")",
                   false);
    }
    return false;
}

void Supervisor::spawn(Run& run, SteadyTime now) {
    const Placeholders values{std::to_string(run.config.port), run.model_path.empty() ? run.config.model : run.model_path,
                              run.config.name};
    std::vector<std::string> argv_strings = expand_command(run.config.command, values);
    argv_strings[0] = find_in_path(argv_strings[0]);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view entry(*e);
        const std::string name(entry.substr(0, entry.find('=')));
        if (!run.config.env.contains(name)) env_strings.emplace_back(entry);
    }
    for (const auto& [name, value] : run.config.env) env_strings.push_back(name + "=" + expand(value, values));
    std::vector<char*> argv;
    for (auto& arg : argv_strings) argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& entry : env_strings) envp.push_back(entry.data());
    envp.push_back(nullptr);
    const char* workdir = run.config.workdir.empty() ? nullptr : run.config.workdir.c_str();

    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        run.last_error = std::string("cannot create a pipe: ") + std::strerror(errno);
        run.state = State::failed;
        run.failed_at = now;
        return;
    }
    open_log(run);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
        // The child: only async-signal-safe calls until execve.
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // the gateway (its supervisor thread) gone: so is the engine
        if (::getppid() != parent) ::_exit(127);
        sigset_t all;
        sigemptyset(&all);
        ::sigprocmask(SIG_SETMASK, &all, nullptr);
        ::signal(SIGPIPE, SIG_DFL);
        const int null_fd = ::open("/dev/null", O_RDONLY);
        if (null_fd >= 0) ::dup2(null_fd, 0);
        ::dup2(pipe_fds[1], 1);
        ::dup2(pipe_fds[1], 2);
        if (workdir != nullptr && ::chdir(workdir) != 0) {
            const char message[] = "switchyard: cannot change to the engine's workdir\n";
            [[maybe_unused]] auto w = ::write(2, message, sizeof message - 1);
            ::_exit(127);
        }
        ::execve(argv[0], argv.data(), envp.data());
        const char message[] = "switchyard: cannot execute the engine's command (execve failed)\n";
        [[maybe_unused]] auto w = ::write(2, message, sizeof message - 1);
        ::_exit(127);
    }
    ::close(pipe_fds[1]);
    if (pid < 0) {
        ::close(pipe_fds[0]);
        run.last_error = std::string("fork failed: ") + std::strerror(errno);
        run.state = State::failed;
        run.failed_at = now;
        return;
    }
    ::setpgid(pid, pid);  // also here, so that kill(-pid) works before the child ran
    ::fcntl(pipe_fds[0], F_SETFL, ::fcntl(pipe_fds[0], F_GETFL) | O_NONBLOCK);
    run.pid = pid;
    run.output_fd = pipe_fds[0];
    run.started = now;
    run.terminating = false;
    run.state = State::loading;
    run.detail = "loading";
    std::string line;
    for (const auto& arg : argv_strings) line += (line.empty() ? "" : " ") + arg;
    spdlog::info("engine {}: started pid {}: {}", run.config.name, pid, line);
}

void Supervisor::read_output(Run& run) {
    if (run.output_fd < 0) return;
    char buffer[8192];
    while (true) {
        const ssize_t n = ::read(run.output_fd, buffer, sizeof buffer);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
        if (n <= 0) {
            // End of its output (it exited, or closed both streams): poll() must not keep waking.
            ::close(run.output_fd);
            run.output_fd = -1;
            break;
        }
        const std::string_view bytes(buffer, static_cast<std::size_t>(n));
        write_log(run, bytes);
        for (char c : bytes) {
            if (c == '\n') {
                run.tail.push_back(std::move(run.partial_line));
                run.partial_line.clear();
                if (run.tail.size() > tail_lines) run.tail.pop_front();
            } else if (run.partial_line.size() < tail_line_bytes && c != '\r') {
                run.partial_line += c;
            }
        }
    }
}

void Supervisor::open_log(Run& run) {
    if (run.config.log_dir.empty() || run.log_fd >= 0) return;
    std::error_code ec;
    std::filesystem::create_directories(run.config.log_dir, ec);
    run.log_path = run.config.log_dir + "/" + run.config.name + ".log";
    run.log_fd = ::open(run.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (run.log_fd < 0) {
        spdlog::warn("engine {}: cannot write its log {}: {}", run.config.name, run.log_path, std::strerror(errno));
        return;
    }
    struct stat info {};
    run.log_bytes = ::fstat(run.log_fd, &info) == 0 ? static_cast<std::size_t>(info.st_size) : 0;
}

// Appends to NAME.log; beyond log.max_size it becomes NAME.log.1 (older ones shift up to
// NAME.log.<files>, the oldest dropped) and a new NAME.log begins.
void Supervisor::write_log(Run& run, std::string_view bytes) {
    if (run.log_fd < 0) return;
    if (run.log_bytes + bytes.size() > run.config.log_max_bytes && run.log_bytes > 0) {
        ::close(run.log_fd);
        run.log_fd = -1;
        for (std::size_t i = run.config.log_files; i >= 1; --i) {
            const std::string from = i == 1 ? run.log_path : run.log_path + "." + std::to_string(i - 1);
            const std::string to = run.log_path + "." + std::to_string(i);
            std::rename(from.c_str(), to.c_str());
        }
        open_log(run);
        if (run.log_fd < 0) return;
    }
    [[maybe_unused]] const auto written = ::write(run.log_fd, bytes.data(), bytes.size());
    run.log_bytes += bytes.size();
}

// RSS summed over the engine's process tree (/proc/PID/status of the main process and every
// descendant: a router's per-model children); GPU memory from nvidia-smi, summed over the same
// pids, when there is one. Over a limit while ready: drain, then restart.
void Supervisor::watch_memory(SteadyTime now) {
    bool any_running = false;
    for (auto& run : runs_) any_running = any_running || run->pid > 0;
    if (!any_running) return;
    std::map<pid_t, std::size_t> gpu;
    bool gpu_read = false;
    if (!nvidia_smi_.empty()) {
        const std::string command = nvidia_smi_ + " --query-compute-apps=pid,used_memory --format=csv,noheader,nounits 2>/dev/null";
        if (FILE* pipe = ::popen(command.c_str(), "r")) {
            std::string text;
            char buffer[4096];
            std::size_t n = 0;
            while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) text.append(buffer, n);
            gpu_read = ::pclose(pipe) == 0;
            gpu = parse_nvidia_smi(text);
        }
    }
    const std::vector<ProcessInfo> processes = list_processes("/proc");  // once for every engine
    std::lock_guard lock(mutex_);
    for (auto& owned : runs_) {
        Run& run = *owned;
        if (run.pid <= 0) continue;
        TreeMemory memory = read_tree_memory("/proc", processes, run.pid);
        run.rss = memory.rss;
        run.main_rss = memory.main_rss;
        run.tree = std::move(memory.tree);
        if (gpu_read) run.gpu = tree_gpu_memory(gpu, run.tree);
        if (run.state.load() != State::ready) continue;
        if (run.config.memory_limit > 0 && run.rss > run.config.memory_limit) {
            const std::string why = "RSS " + std::to_string(run.rss >> 20) + " MiB over its memory_limit of " +
                                    std::to_string(run.config.memory_limit >> 20) + " MiB";
            spdlog::warn("engine {}: {}; draining, then restarting", run.config.name, why);
            begin_stop(run, now, why, true);
        } else if (run.config.gpu_memory_limit > 0 && run.gpu && *run.gpu > run.config.gpu_memory_limit) {
            const std::string why = "GPU memory " + std::to_string(*run.gpu >> 20) + " MiB over its gpu_memory_limit of " +
                                    std::to_string(run.config.gpu_memory_limit >> 20) + " MiB";
            spdlog::warn("engine {}: {}; draining, then restarting", run.config.name, why);
            begin_stop(run, now, why, true);
        }
    }
}

// A ready engine that lists its models: their states from its GET /models every 2 s (the probe is
// outside the lock; it may take up to half a second).
void Supervisor::watch_models(SteadyTime now) {
    for (auto& owned : runs_) {
        Run& run = *owned;
        if (run.config.models.empty() || run.state.load() != State::ready || now < run.next_models_check) continue;
        run.next_models_check = now + models_interval;
        std::vector<ModelState> listed;
        if (const auto body = get_body(run.config.port, "/models")) {
            if (auto parsed = parse_router_models(*body)) listed = std::move(*parsed);
        }
        std::lock_guard lock(mutex_);
        run.models = std::move(listed);
    }
}

// `signal` to the engine's process group and to any descendant that left it (found afresh in
// /proc, so that no pid that has been reused meanwhile is hit).
void Supervisor::signal_tree(const Run& run, int signal) {
    if (run.pid <= 0) return;
    ::kill(-run.pid, signal);
    for (const auto& p : process_tree(list_processes("/proc"), run.pid)) {
        if (p.pgid != run.pid) ::kill(p.pid, signal);
    }
}

// --- Status ------------------------------------------------------------------------------------

Status Supervisor::status_of(const Run& run, SteadyTime now) const {
    Status s;
    s.name = run.config.name;
    s.state = run.state.load();
    s.detail = run.detail;
    s.held = run.held.load();
    s.pid = run.pid > 0 ? run.pid : 0;
    s.port = run.config.port;
    s.model = run.config.model;
    s.models = merge_model_states(run.config.models, run.models);
    s.gpu = run.config.gpu;
    s.rss_bytes = run.rss;
    s.main_rss_bytes = run.main_rss;
    s.processes = run.tree.size();
    s.gpu_bytes = run.gpu;
    if (run.estimate) {
        s.estimate_bytes = run.estimate->total();
        const std::optional<std::size_t> used = run.config.gpu.empty() || !run.gpu ? std::optional<std::size_t>(run.rss) : run.gpu;
        if (run.pid > 0 && used && *used > 0 && s.state == State::ready) {
            s.estimate_error = (static_cast<double>(*used) - static_cast<double>(*s.estimate_bytes)) / static_cast<double>(*s.estimate_bytes);
        }
    }
    s.estimate_note = run.estimate_note;
    s.in_flight = in_flight(run.index);
    s.uptime_s = run.pid > 0 ? std::chrono::duration<double>(now - run.started).count() : 0;
    s.restarts = run.restarts;
    s.last_error = run.last_error;
    if (s.state == State::failed || !run.last_error.empty()) s.log_tail.assign(run.tail.begin(), run.tail.end());
    return s;
}

std::vector<Status> Supervisor::status() const {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    std::vector<Status> out;
    for (const auto& run : runs_) out.push_back(status_of(*run, now));
    return out;
}

std::string Supervisor::json() const {
    std::string out = R"({"object":"list","data":[)";
    bool first = true;
    for (const auto& s : status()) {
        if (!first) out += ',';
        first = false;
        out += R"({"name":)";
        append_json_string(out, s.name);
        out += R"(,"state":")" + std::string(to_string(s.state)) + '"';
        out += R"(,"detail":)";
        append_json_string(out, s.detail);
        out += s.held ? R"(,"held":true)" : R"(,"held":false)";
        out += R"(,"pid":)" + std::to_string(s.pid);
        out += R"(,"port":)" + std::to_string(s.port);
        out += R"(,"model":)";
        append_json_string(out, s.model);
        out += R"(,"models":[)";
        for (std::size_t i = 0; i < s.models.size(); ++i) {
            out += i ? R"(,{"name":)" : R"({"name":)";
            append_json_string(out, s.models[i].name);
            out += R"(,"state":)";
            if (s.models[i].state.empty()) {
                out += "null";
            } else {
                append_json_string(out, s.models[i].state);
            }
            out += '}';
        }
        out += ']';
        out += R"(,"gpu":)";
        append_json_string(out, s.gpu);
        out += R"(,"rss_bytes":)" + std::to_string(s.rss_bytes);
        out += R"(,"main_rss_bytes":)" + std::to_string(s.main_rss_bytes);
        out += R"(,"processes":)" + std::to_string(s.processes);
        out += R"(,"gpu_memory_bytes":)" + (s.gpu_bytes ? std::to_string(*s.gpu_bytes) : std::string("null"));
        out += R"(,"estimate_bytes":)" + (s.estimate_bytes ? std::to_string(*s.estimate_bytes) : std::string("null"));
        out += R"(,"estimate_error":)";
        if (s.estimate_error) {
            char ratio[32];
            std::snprintf(ratio, sizeof ratio, "%.4f", *s.estimate_error);
            out += ratio;
        } else {
            out += "null";
        }
        out += R"(,"estimate_note":)";
        append_json_string(out, s.estimate_note);
        out += R"(,"in_flight":)" + std::to_string(s.in_flight);
        out += R"(,"uptime_s":)" + std::to_string(static_cast<long long>(s.uptime_s));
        out += R"(,"restarts":)" + std::to_string(s.restarts);
        out += R"(,"last_error":)";
        append_json_string(out, s.last_error);
        out += R"(,"log_tail":[)";
        for (std::size_t i = 0; i < s.log_tail.size(); ++i) {
            if (i) out += ',';
            append_json_string(out, s.log_tail[i]);
        }
        out += "]}";
    }
    out += "]}";
    return out;
}

}  // namespace switchyard::engine
