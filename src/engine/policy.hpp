// The engine supervisor's pure decisions, apart from processes and time: command placeholders,
// the restart backoff schedule, which engine of a full GPU group to unload, and the readings of
// /proc/PID/status, nvidia-smi and a router engine's model list. Unit-tested without starting anything.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"

namespace switchyard::engine {

enum class State { stopped, loading, ready, draining, failed };
std::string_view to_string(State state);

// The values of ${PORT}, ${MODEL} and ${NAME} in an engine's command line and environment.
struct Placeholders {
    std::string port;
    std::string model;
    std::string name;
};
std::string expand(std::string_view text, const Placeholders& values);
std::vector<std::string> expand_command(const std::vector<std::string>& command, const Placeholders& values);

// The pause before restart number `failures` in a row (1-based): base, 2 base, 4 base ... capped
// at max.
config::Duration backoff_delay(config::Duration base, config::Duration max, std::size_t failures);

// An engine of a GPU group as the eviction choice sees it.
struct LruCandidate {
    std::size_t engine = 0;
    SteadyTime last_used{};
    bool loaded = false;    // loading, ready or draining: holds GPU memory
    bool stopping = false;  // already on its way out
};
// The loaded engine, other than `starting`, used least recently; nullopt when none may go.
std::optional<std::size_t> pick_eviction(std::span<const LruCandidate> group, std::size_t starting);

// VmRSS of a /proc/PID/status text, in bytes.
std::optional<std::size_t> parse_vm_rss(std::string_view status_text);
// An engine's model as its GET /models lists it (llama-server's router mode: "loaded",
// "loading", "unloaded"...).
struct ModelState {
    std::string name;
    std::string state;  // empty: not known (not listed, or the engine does not say)

    bool operator==(const ModelState&) const = default;
};
// The models of a GET /models body ({"data":[{"id":..., "status":{"value":...}}]}); nullopt when
// it is not such a list.
std::optional<std::vector<ModelState>> parse_router_models(std::string_view body);
// The engine's configured models, each with its state from `listed` (empty when not listed).
std::vector<ModelState> merge_model_states(const std::vector<std::string>& configured,
                                           const std::vector<ModelState>& listed);

// `nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits` (MiB) as bytes
// per pid.
std::map<pid_t, std::size_t> parse_nvidia_smi(std::string_view text);

}  // namespace switchyard::engine
