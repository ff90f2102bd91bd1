// The `engines` section (local engine processes the gateway starts and watches: command,
// environment, models, readiness, restarts, limits, logs) and the `gpu_groups` they share. Each
// engine also becomes an upstream of its own name.
#include <algorithm>

#include "config/sections.hpp"
#include "models/store.hpp"

namespace switchyard::config {
namespace {

// `command: [llama-server, -m, ${MODEL}, ...]`: the argv, ${PORT}, ${MODEL} and ${NAME} kept.
void read_command(Reader& in, const YAML::Node& item, Engine& engine) {
    const YAML::Node command = item["command"];
    if (!command || !command.IsSequence() || command.size() == 0) {
        in.error(command ? command : item, "engine '" + engine.name +
                                               "' needs a 'command': a list such as [llama-server, -m, "
                                               "${MODEL}, --port, ${PORT}]");
        return;
    }
    for (const auto& arg : command) {
        if (!arg.IsScalar()) {
            in.error(arg, "each 'command' item must be a single string");
            continue;
        }
        engine.command.push_back(in.expand_env_only(arg, arg.Scalar()));
    }
}

void read_env(Reader& in, const YAML::Node& env, Engine& engine) {
    if (!env.IsMap()) {
        in.error(env, "'env' must map variable names to values");
        return;
    }
    for (auto it = env.begin(); it != env.end(); ++it) {
        engine.env[it->first.as<std::string>()] =
            it->second.IsScalar() ? in.expand_env_only(it->second, it->second.Scalar()) : "";
    }
}

// `models: [a, b]`: the names one engine process serves, each once.
void read_engine_models(Reader& in, const YAML::Node& node, Engine& engine) {
    if (!node) return;
    if (!node.IsSequence() || node.size() == 0) {
        in.error(node, "engine '" + engine.name + "': 'models' must be a non-empty list of model names");
        return;
    }
    for (const auto& name : node) {
        if (!name.IsScalar() || name.Scalar().empty()) {
            in.error(name, "each item of 'models' must be a model name");
        } else if (std::find(engine.models.begin(), engine.models.end(), name.Scalar()) != engine.models.end()) {
            in.error(name, "engine '" + engine.name + "' lists model '" + name.Scalar() + "' twice");
        } else {
            engine.models.push_back(name.Scalar());
        }
    }
}

void read_restart(Reader& in, const YAML::Node& restart, Engine& engine) {
    if (!in.expect_map(restart, "'restart'", {"backoff_base", "backoff_max", "max_restarts", "window"})) return;
    in.duration(restart, "backoff_base", engine.backoff_base);
    in.duration(restart, "backoff_max", engine.backoff_max);
    in.integer(restart, "max_restarts", engine.max_restarts, 0, 1'000'000);
    in.duration(restart, "window", engine.restart_window);
    if (engine.backoff_max < engine.backoff_base) {
        in.error(restart, "'backoff_max' must not be shorter than 'backoff_base'");
    }
}

void read_log(Reader& in, const YAML::Node& log, Engine& engine) {
    if (!in.expect_map(log, "'log'", {"dir", "max_size", "files"})) return;
    in.string(log, "dir", engine.log_dir);
    in.size(log, "max_size", engine.log_max_bytes);
    in.integer(log, "files", engine.log_files, 1, 100);
}

// `max_loaded` on an engine: shorthand for a GPU group of this engine's own limit (the lowest
// one given wins). The engine's group exists either way.
void read_gpu_group(Reader& in, const YAML::Node& item, const Engine& engine,
                    std::map<std::string, GpuGroup>& groups) {
    if (item["max_loaded"]) {
        GpuGroup group;
        in.integer(item, "max_loaded", group.max_loaded, 0, 1000);
        if (engine.gpu.empty()) {
            in.error(item["max_loaded"], "'max_loaded' needs a 'gpu' group to apply to");
        } else {
            auto& existing = groups[engine.gpu];
            if (existing.max_loaded == 0 || group.max_loaded < existing.max_loaded) existing.max_loaded = group.max_loaded;
        }
    }
    if (!engine.gpu.empty() && !groups.contains(engine.gpu)) groups[engine.gpu] = GpuGroup{};
}

// Names already taken (by upstreams and the engines before) and ports already given.
struct EngineContext {
    std::set<std::string> names;
    std::set<std::uint16_t> ports;
};

std::optional<Engine> read_engine(Reader& in, const YAML::Node& item, EngineContext& context,
                                  std::map<std::string, GpuGroup>& groups) {
    if (!in.expect_map(item, "an engine",
                       {"name", "command", "env", "workdir", "model", "pull", "models", "port", "gpu", "preload",
                        "ready_path", "load_timeout", "health_interval", "unhealthy_threshold", "idle_unload",
                        "drain_timeout", "stop_grace", "restart", "memory_limit", "gpu_memory_limit", "max_waiting",
                        "log", "max_loaded"})) {
        return std::nullopt;
    }
    Engine engine;
    in.string(item, "name", engine.name);
    in.check_name(item, engine.name, context.names, "an engine needs a 'name'", "engine",
                  " (engines and upstreams share names)");
    read_command(in, item, engine);
    if (const YAML::Node env = item["env"]) read_env(in, env, engine);
    in.string(item, "workdir", engine.workdir);
    in.string(item, "model", engine.model);
    read_engine_models(in, item["models"], engine);
    in.string(item, "pull", engine.pull);
    if (!engine.pull.empty()) {
        if (const auto source = models::parse_source(engine.pull); !source.ok()) {
            in.error(item["pull"], "'pull': " + source.error);
        } else if (!engine.models.empty()) {
            in.error(item["pull"], "'pull' fetches one model: an engine with 'models' serves several");
        } else if (!models::valid_name(engine.model) || engine.model.ends_with(".gguf")) {
            in.error(item["pull"], "'pull' fetches the model into the store as 'model', which must then be a store name "
                                   "(letters, digits, . _ - +; no path): 'model: " + engine.model + "' is not");
        }
    }
    in.integer(item, "port", engine.port, 1, 65535);
    if (engine.port != 0 && !context.ports.insert(engine.port).second) {
        in.error(item["port"], "port " + std::to_string(engine.port) + " is given to two engines");
    }
    in.string(item, "gpu", engine.gpu);
    in.boolean(item, "preload", engine.preload);
    in.string(item, "ready_path", engine.ready_path);
    if (!engine.ready_path.starts_with("/")) in.error(item["ready_path"], "'ready_path' must start with '/'");
    in.duration(item, "load_timeout", engine.load_timeout);
    in.duration_or_zero(item, "health_interval", engine.health_interval);
    in.integer(item, "unhealthy_threshold", engine.unhealthy_threshold, 1, 100);
    in.duration_or_zero(item, "idle_unload", engine.idle_unload);
    in.duration(item, "drain_timeout", engine.drain_timeout);
    in.duration(item, "stop_grace", engine.stop_grace);
    if (const YAML::Node restart = item["restart"]) read_restart(in, restart, engine);
    in.size(item, "memory_limit", engine.memory_limit);
    in.size(item, "gpu_memory_limit", engine.gpu_memory_limit);
    in.integer(item, "max_waiting", engine.max_waiting, 0, 1'000'000);
    if (const YAML::Node log = item["log"]) read_log(in, log, engine);
    read_gpu_group(in, item, engine, groups);
    return engine;
}

// The engine's upstream: llama-server's API on loopback. The port is filled in at start-up when
// the supervisor picks one; health checks are the supervisor's job.
void add_engine(Gateway& out, Engine engine) {
    Upstream upstream;
    upstream.name = engine.name;
    upstream.type = UpstreamType::llama_server;
    upstream.dialects = default_dialects(upstream.type);
    std::string ignored;
    upstream.url = *parse_url("http://127.0.0.1:" + std::to_string(engine.port == 0 ? 1 : engine.port), &ignored);
    upstream.health.enabled = false;
    upstream.health.path = engine.ready_path;
    upstream.local = true;
    upstream.engine = out.engines.size();
    engine.upstream = out.upstreams.size();
    out.upstreams.push_back(std::move(upstream));
    out.engines.push_back(std::move(engine));
}

}  // namespace

void read_gpu_groups(Reader& in, const YAML::Node& node, Gateway& out) {
    if (!node.IsMap()) {
        in.error(node, "'gpu_groups' must map group names to {max_loaded, memory}");
        return;
    }
    for (auto it = node.begin(); it != node.end(); ++it) {
        GpuGroup group;
        if (in.expect_map(it->second, "a GPU group", {"max_loaded", "memory"})) {
            in.integer(it->second, "max_loaded", group.max_loaded, 0, 1000);
            in.size(it->second, "memory", group.memory);
        }
        out.gpu_groups[it->first.as<std::string>()] = group;
    }
}

void read_engines(Reader& in, const YAML::Node& node, Gateway& out) {
    if (!node.IsSequence() || node.size() == 0) {
        in.error(node, "'engines' must be a non-empty list of {name, command, ...}");
        return;
    }
    EngineContext context;
    for (const auto& upstream : out.upstreams) context.names.insert(upstream.name);
    for (const auto& item : node) {
        if (auto engine = read_engine(in, item, context, out.gpu_groups)) add_engine(out, std::move(*engine));
    }
}

}  // namespace switchyard::config
