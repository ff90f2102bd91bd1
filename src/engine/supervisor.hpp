// The engine supervisor: starts the configured engines (llama-server and the like) as child
// processes, probes them until ready, restarts them after a crash with backoff, drains and
// restarts one over its memory limit, stops idle ones and keeps at most N loaded per GPU group, and
// (with a memory budget) only as many as fit by their estimated memory (src/models).
// One engine process may serve several models (llama-server's router mode): memory is measured
// over its whole process tree, and the models' states are read from its GET /models.
//
// All process work (fork/exec, waitpid, /proc, nvidia-smi, readiness probes, log files) happens on
// the supervisor's own thread; I/O threads only read atomics (is this engine ready?) and set them
// (a request wants this engine), then wait on a timer of their own. See docs/engines.md.
#pragma once

#include <boost/asio.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "core/error.hpp"
#include "engine/policy.hpp"
#include "route/router.hpp"

namespace switchyard::engine {

namespace asio = boost::asio;

struct Status {
    std::string name;
    State state = State::stopped;
    std::string detail;  // why it is in this state (restart pending, memory limit, idle...)
    int pid = 0;
    std::uint16_t port = 0;
    std::string model;
    std::vector<ModelState> models;  // the configured `models`, with their state from GET /models
    std::string gpu;
    std::size_t rss_bytes = 0;       // the whole process tree (main process and descendants)
    std::size_t main_rss_bytes = 0;  // the main process alone
    std::size_t processes = 0;       // in the tree
    std::optional<std::size_t> gpu_bytes;  // the tree's, when nvidia-smi is there
    // The memory estimated before it started (src/models: weights, KV cache, compute, overhead) and
    // the estimate's error against what it really uses (GPU memory in a GPU group with nvidia-smi,
    // else RSS), (used - estimate) / estimate, while it runs.
    std::optional<std::size_t> estimate_bytes;
    std::optional<double> estimate_error;
    std::string estimate_note;  // why there is no estimate (no GGUF model, a router engine...)
    std::size_t in_flight = 0;
    double uptime_s = 0;
    std::uint64_t restarts = 0;
    bool held = false;  // stopped through the admin API: not started again until asked
    std::string last_error;
    std::vector<std::string> log_tail;  // on failure
};

class Supervisor {
public:
    // Picks a free loopback port for each engine without one and writes it into the engine's
    // upstream URL in `config` (before the upstreams are made from it).
    explicit Supervisor(config::Gateway& config);
    ~Supervisor();
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    bool empty() const { return runs_.empty(); }

    // Requests in flight on an engine (the router's count over its deployments).
    void set_in_flight(std::function<std::size_t(std::size_t engine)> in_flight);

    // Starts the supervisor thread; engines with `preload` start at once.
    void start();
    // Stops every engine (SIGTERM, SIGKILL after its grace) and the thread.
    void stop();

    // Gives a reloaded config's engines the ports (and their upstreams the URLs) the running
    // engines have. The engines section must be the one the supervisor was made with.
    void bind(config::Gateway& config) const;

    // May the router send traffic to this engine (index into the engines section)?
    bool ready(std::size_t engine) const;

    // Before routing a request for `model`: marks its engines used and, when none is ready and
    // the model has no deployment outside engines, starts them and waits until one is ready
    // (bounded by the load timeout, the deadline and the number of waiting requests). With a
    // deployment elsewhere the request goes on at once (it spills there) while the engine loads.
    // `upstreams`: the config `model` belongs to.
    asio::awaitable<std::optional<ApiError>> wait_ready(const config::Model& model,
                                                        const std::vector<config::Upstream>& upstreams,
                                                        SteadyTime deadline);

    std::vector<Status> status() const;
    std::string json() const;  // {"object":"list","data":[...]} of status()

    // Asked through the admin API (any thread; carried out on the supervisor's): `start` an
    // engine now (also one that failed, or that was stopped by `stop`); `stop` it, drained first,
    // and keep it stopped (requests for it then go to other tiers, or get 503 engine_stopped)
    // until `start` or `restart`; `restart` it, drained first, without counting against its
    // max_restarts. False when there is no engine of that name.
    enum class Action { start, stop, restart };
    bool act(std::string_view name, Action action);

private:
    struct Run;

    void loop();
    void tick(SteadyTime now);
    void reap(Run& run, SteadyTime now);
    void spawn(Run& run, SteadyTime now);
    void begin_stop(Run& run, SteadyTime now, std::string why, bool restart);
    void read_output(Run& run);
    void write_log(Run& run, std::string_view bytes);
    void open_log(Run& run);
    void watch_memory(SteadyTime now);
    void watch_models(SteadyTime now);
    void signal_tree(const Run& run, int signal);
    bool group_has_room(Run& run, SteadyTime now);
    bool memory_has_room(Run& run, SteadyTime now);
    void estimate_memory(Run& run);
    void estimate_router(Run& run);
    static void mark_failed(Run& run, SteadyTime now, std::string detail);
    bool needs_pull(const Run& run) const;
    void begin_pull(Run& run, SteadyTime now);
    void watch_pull(Run& run, SteadyTime now);
    std::size_t memory_budget(const Run& run) const;
    void wake();
    std::size_t in_flight(std::size_t engine) const;
    void carry_out(Run& run, Action action, SteadyTime now);
    Status status_of(const Run& run, SteadyTime now) const;

    const config::Gateway& config_;
    std::vector<std::unique_ptr<Run>> runs_;
    std::function<std::size_t(std::size_t)> in_flight_;
    mutable std::mutex mutex_;  // the runs' supervisor-thread fields, for status()
    std::mutex actions_mutex_;
    std::vector<std::pair<std::size_t, Action>> actions_;  // from act(), for the next tick
    std::thread thread_;
    std::atomic<bool> stopping_{false};  // also stops a pull at its next read
    int wake_fd_ = -1;  // eventfd: a request wants an engine, or stop()
    std::string nvidia_smi_;  // its path; empty: GPU memory is not watched
    SteadyTime next_memory_check_{};
    std::string models_dir_;  // the model store, where an engine's `model:` may be a name
};

// The router's view of health with engines in it: an engine's upstream is usable only while the
// engine is ready, on top of the health checks.
class EngineHealth final : public route::HealthView {
public:
    // `upstreams`: the config the router was made with.
    EngineHealth(const route::HealthView& checks, const Supervisor& engines, const std::vector<config::Upstream>& upstreams)
        : checks_(checks), engines_(engines), upstreams_(upstreams) {}
    bool usable(std::size_t upstream) const override {
        const auto& engine = upstreams_[upstream].engine;
        return (!engine || engines_.ready(*engine)) && checks_.usable(upstream);
    }

private:
    const route::HealthView& checks_;
    const Supervisor& engines_;
    const std::vector<config::Upstream>& upstreams_;
};

}  // namespace switchyard::engine
