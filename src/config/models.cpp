// The `models` section: each public model name with its deployments (on upstreams or engines,
// in tiers, with weights, concurrency and rate limits), how it picks among them and overflows,
// its fallbacks and its own rate limit.
#include <algorithm>

#include "config/sections.hpp"

namespace switchyard::config {

std::string_view to_string(Strategy strategy) {
    switch (strategy) {
        case Strategy::round_robin: return "round-robin";
        case Strategy::weighted: return "weighted";
        case Strategy::least_outstanding: return "least-outstanding";
        case Strategy::latency: return "latency";
        case Strategy::prefix_affinity: return "prefix-affinity";
    }
    return "round-robin";
}

std::string_view to_string(Overflow overflow) {
    switch (overflow) {
        case Overflow::spill: return "spill";
        case Overflow::queue: return "queue";
        case Overflow::reject: return "reject";
    }
    return "spill";
}

const Model* Gateway::find_model(std::string_view name) const {
    for (const auto& model : models) {
        if (model.name == name) return &model;
    }
    return nullptr;
}

namespace {

// A deployment on an engine that lists its models must name one of them (its `model`, or the
// public name when it gives none).
void check_engine_serves(Reader& in, const Engine& engine, const YAML::Node& deployment, const std::string& name) {
    if (engine.models.empty() || std::find(engine.models.begin(), engine.models.end(), name) != engine.models.end()) {
        return;
    }
    std::string message = "engine '" + engine.name + "' does not serve model '" + name + "' (its models: ";
    for (std::size_t i = 0; i < engine.models.size(); ++i) message += (i ? ", " : "") + engine.models[i];
    message += ")" + did_you_mean(name, engine.models);
    if (!deployment["model"]) message += "; name one with 'model:'";
    in.error(deployment["model"] ? deployment["model"] : deployment["engine"], std::move(message));
}

// `engine: NAME`: the deployment goes to that engine's upstream (which has the engine's name).
const Engine* resolve_engine(Reader& in, const YAML::Node& d, const std::string& engine, const std::string& upstream,
                             const Gateway& out, Deployment& deployment) {
    std::vector<std::string> engine_names;
    for (const auto& e : out.engines) engine_names.push_back(e.name);
    const auto e = std::find(engine_names.begin(), engine_names.end(), engine);
    if (!upstream.empty()) {
        in.error(d["engine"], "a deployment names either an 'upstream' or an 'engine', not both");
    } else if (e == engine_names.end()) {
        in.error(d["engine"], "deployment refers to unknown engine '" + engine + "'" + did_you_mean(engine, engine_names));
    } else {
        const Engine* on_engine = &out.engines[static_cast<std::size_t>(e - engine_names.begin())];
        deployment.upstream = on_engine->upstream;
        return on_engine;
    }
    return nullptr;
}

// `upstream: NAME`: one of the configured upstreams that is not an engine's.
void resolve_upstream(Reader& in, const YAML::Node& d, const std::string& upstream,
                      const std::vector<std::string>& upstream_names, const Gateway& out, Deployment& deployment) {
    const auto found = std::find(upstream_names.begin(), upstream_names.end(), upstream);
    if (upstream.empty()) {
        in.error(d, "a deployment needs an 'upstream' or an 'engine'");
    } else if (found == upstream_names.end()) {
        in.error(d["upstream"],
                 "deployment refers to unknown upstream '" + upstream + "'" + did_you_mean(upstream, upstream_names));
    } else if (out.upstreams[static_cast<std::size_t>(found - upstream_names.begin())].engine) {
        in.error(d["upstream"], "'" + upstream + "' is an engine: write 'engine: " + upstream + "'");
    } else {
        deployment.upstream = static_cast<std::size_t>(found - upstream_names.begin());
    }
}

std::optional<Deployment> read_deployment(Reader& in, const YAML::Node& d, const std::string& model_name,
                                          const std::vector<std::string>& upstream_names, const Gateway& out) {
    if (!in.expect_map(d, "a deployment",
                       {"name", "upstream", "engine", "model", "tier", "weight", "max_concurrency", "limits"})) {
        return std::nullopt;
    }
    Deployment deployment;
    std::string upstream;
    in.string(d, "upstream", upstream);
    std::string engine;
    in.string(d, "engine", engine);
    in.integer(d, "tier", deployment.tier, 1, 100);
    in.integer(d, "weight", deployment.weight, 1, 1'000'000);
    in.integer(d, "max_concurrency", deployment.max_concurrency, 0, 1'000'000);
    if (const YAML::Node limits = d["limits"]) in.rate_limit(limits, deployment.limits);
    in.string(d, "model", deployment.model);
    in.string(d, "name", deployment.name);
    const Engine* on_engine = nullptr;
    if (!engine.empty()) {
        on_engine = resolve_engine(in, d, engine, upstream, out, deployment);
        upstream = engine;
    } else {
        resolve_upstream(in, d, upstream, upstream_names, out, deployment);
    }
    if (deployment.model.empty()) deployment.model = model_name;
    if (on_engine) check_engine_serves(in, *on_engine, d, deployment.model);
    if (deployment.name.empty()) deployment.name = upstream;
    return deployment;
}

// `fallbacks: [a, b]`, with the node each was written at (to report it once every model is read).
void read_fallbacks(Reader& in, const YAML::Node& fallbacks, Model& model, std::vector<YAML::Node>& nodes) {
    if (!fallbacks.IsSequence()) {
        in.error(fallbacks, "'fallbacks' must be a list of model names");
        return;
    }
    for (const auto& fallback : fallbacks) {
        if (!fallback.IsScalar()) {
            in.error(fallback, "each fallback must be a model name");
            continue;
        }
        model.fallbacks.push_back(in.expand(fallback, fallback.Scalar()));
        nodes.push_back(fallback);
    }
}

// `queue.fair_by` (`key`, or `label:NAME`) and `queue.weights` ({VALUE: weight}, with fair_by a label).
void read_fair_share(Reader& in, const YAML::Node& queue, Model& model) {
    if (const auto by = in.scalar(queue, "fair_by")) {
        if (by->starts_with("label:") && by->size() > 6) {
            model.fair_label = by->substr(6);
        } else if (*by != "key") {
            in.error(queue["fair_by"], "'fair_by' must be 'key' or 'label:NAME' (a key label such as label:team), got '" +
                                           *by + "'");
        }
    }
    const YAML::Node weights = queue["weights"];
    if (!weights) return;
    if (!weights.IsMap()) {
        in.error(weights, "'weights' must be a mapping of label values to weights, such as {research: 2, batch: 1}");
        return;
    }
    if (model.fair_label.empty()) in.error(weights, "'weights' needs 'fair_by: label:NAME' (keys have their own weight)");
    for (auto it = weights.begin(); it != weights.end(); ++it) {
        const std::string value = it->first.as<std::string>();
        double weight = 1;
        in.number(weights, value.c_str(), weight, 0.001, 1e6);
        model.fair_weights[value] = weight;
    }
}

// How a model picks a deployment and what it does when every one is full.
void read_strategy(Reader& in, const YAML::Node& item, Model& model) {
    in.choice(item, "strategy", model.strategy,
              {{"round-robin", Strategy::round_robin},
               {"weighted", Strategy::weighted},
               {"least-outstanding", Strategy::least_outstanding},
               {"latency", Strategy::latency},
               {"prefix-affinity", Strategy::prefix_affinity}});
    in.choice(item, "overflow", model.overflow,
              {{"spill", Overflow::spill}, {"queue", Overflow::queue}, {"reject", Overflow::reject}});
    if (model.overflow == Overflow::queue) model.queue_size = 100;
    if (const YAML::Node queue = item["queue"]) {
        if (in.expect_map(queue, "'queue'", {"size", "timeout", "fair_by", "weights"})) {
            in.integer(queue, "size", model.queue_size, 0, 1'000'000);
            in.duration(queue, "timeout", model.queue_timeout);
            read_fair_share(in, queue, model);
        }
    }
    if (const YAML::Node affinity = item["affinity"]) {
        if (in.expect_map(affinity, "'affinity'", {"margin", "load_factor", "entries", "bytes", "idle", "fair_slack"})) {
            in.integer(affinity, "margin", model.affinity.margin, 0, 1'000'000);
            in.number(affinity, "load_factor", model.affinity.load_factor, 1.0, 100.0);
            in.integer(affinity, "entries", model.affinity.entries, 16, 1u << 30);
            in.size(affinity, "bytes", model.affinity.bytes);
            in.duration(affinity, "idle", model.affinity.idle);
            in.number(affinity, "fair_slack", model.affinity.fair_slack, 0.0, 1e12);
        }
    }
}

// Model names already taken and the upstreams deployments may name.
struct ModelContext {
    std::set<std::string> names;
    std::vector<std::string> upstream_names;
};

// A model, or nothing when it has no deployments list to read; `fallback_nodes` gets where each
// of its fallbacks was written.
std::optional<Model> read_model(Reader& in, const YAML::Node& item, ModelContext& context, const Gateway& out,
                                std::vector<YAML::Node>& fallback_nodes) {
    if (!in.expect_map(item, "a model", {"name", "deployments", "strategy", "overflow", "queue", "affinity", "fallbacks", "limits"})) {
        return std::nullopt;
    }
    Model model;
    in.string(item, "name", model.name);
    read_strategy(in, item, model);
    if (const YAML::Node limits = item["limits"]) in.rate_limit(limits, model.limits);
    if (const YAML::Node fallbacks = item["fallbacks"]) read_fallbacks(in, fallbacks, model, fallback_nodes);
    in.check_name(item, model.name, context.names, "a model needs a 'name' (the public name callers send)", "model");
    const YAML::Node deployments = item["deployments"];
    if (!deployments || !deployments.IsSequence() || deployments.size() == 0) {
        in.error(deployments ? deployments : item,
                 "model '" + model.name + "' needs a non-empty 'deployments' list of {upstream, model}");
        return std::nullopt;
    }
    for (const auto& d : deployments) {
        if (auto deployment = read_deployment(in, d, model.name, context.upstream_names, out)) {
            model.deployments.push_back(std::move(*deployment));
        }
    }
    std::stable_sort(model.deployments.begin(), model.deployments.end(),
                     [](const Deployment& a, const Deployment& b) { return a.tier < b.tier; });
    return model;
}

// Fallbacks name other models; each must exist and a model may not fall back to itself.
void resolve_fallbacks(Reader& in, Gateway& out, const std::vector<std::vector<YAML::Node>>& fallback_nodes) {
    std::vector<std::string> names;
    for (const auto& model : out.models) names.push_back(model.name);
    for (std::size_t m = 0; m < out.models.size(); ++m) {
        auto& model = out.models[m];
        for (std::size_t f = 0; f < model.fallbacks.size(); ++f) {
            const std::string& fallback = model.fallbacks[f];
            const YAML::Node& where = fallback_nodes[m][f];
            const auto found = std::find(names.begin(), names.end(), fallback);
            if (found == names.end()) {
                in.error(where, "model '" + model.name + "' falls back to unknown model '" + fallback + "'" +
                                    did_you_mean(fallback, names));
            } else if (*found == model.name) {
                in.error(where, "model '" + model.name + "' cannot fall back to itself");
            } else {
                model.fallback_index.push_back(static_cast<std::size_t>(found - names.begin()));
            }
        }
    }
}

}  // namespace

void read_models(Reader& in, const YAML::Node& node, Gateway& out) {
    if (!node || !node.IsSequence() || node.size() == 0) {
        in.error(node, "'models' must be a non-empty list; each model needs a name and deployments");
        return;
    }
    ModelContext context;
    for (const auto& upstream : out.upstreams) context.upstream_names.push_back(upstream.name);
    std::vector<std::vector<YAML::Node>> fallback_nodes;  // per model, where each fallback was written
    for (const auto& item : node) {
        std::vector<YAML::Node> nodes;
        if (auto model = read_model(in, item, context, out, nodes)) {
            out.models.push_back(std::move(*model));
            fallback_nodes.push_back(std::move(nodes));
        }
    }
    resolve_fallbacks(in, out, fallback_nodes);
    for (auto& model : out.models) {
        for (auto& deployment : model.deployments) deployment.id = out.deployment_count++;
    }
}

}  // namespace switchyard::config
