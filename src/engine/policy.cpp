#include "engine/policy.hpp"

#include <simdjson.h>

#include <algorithm>
#include <charconv>

namespace switchyard::engine {

std::string_view to_string(State state) {
    switch (state) {
        case State::stopped: return "stopped";
        case State::loading: return "loading";
        case State::ready: return "ready";
        case State::draining: return "draining";
        case State::failed: return "failed";
    }
    return "?";
}

std::string expand(std::string_view text, const Placeholders& values) {
    std::string out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto start = text.find("${", pos);
        if (start == std::string_view::npos) break;
        const auto end = text.find('}', start);
        if (end == std::string_view::npos) break;
        out.append(text.substr(pos, start - pos));
        const std::string_view name = text.substr(start + 2, end - start - 2);
        if (name == "PORT") {
            out += values.port;
        } else if (name == "MODEL") {
            out += values.model;
        } else if (name == "NAME") {
            out += values.name;
        } else {
            out.append(text.substr(start, end + 1 - start));  // not ours: left as written
        }
        pos = end + 1;
    }
    out.append(text.substr(pos));
    return out;
}

std::vector<std::string> expand_command(const std::vector<std::string>& command, const Placeholders& values) {
    std::vector<std::string> out;
    out.reserve(command.size());
    for (const auto& arg : command) out.push_back(expand(arg, values));
    return out;
}

config::Duration backoff_delay(config::Duration base, config::Duration max, std::size_t failures) {
    if (failures == 0) return config::Duration{0};
    config::Duration delay = base;
    for (std::size_t i = 1; i < failures && delay < max; ++i) delay *= 2;
    return std::min(delay, max);
}

std::optional<std::size_t> pick_eviction(std::span<const LruCandidate> group, std::size_t starting) {
    std::optional<std::size_t> best;
    SteadyTime oldest = SteadyTime::max();
    for (const auto& candidate : group) {
        if (candidate.engine == starting || !candidate.loaded || candidate.stopping) continue;
        if (!best || candidate.last_used < oldest) {
            best = candidate.engine;
            oldest = candidate.last_used;
        }
    }
    return best;
}

std::optional<std::size_t> parse_vm_rss(std::string_view text) {
    const auto at = text.find("VmRSS:");
    if (at == std::string_view::npos) return std::nullopt;
    std::size_t pos = at + 6;
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
    std::size_t kib = 0;
    auto [end, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), kib);
    if (ec != std::errc{}) return std::nullopt;
    return kib * 1024;
}

std::map<pid_t, std::size_t> parse_nvidia_smi(std::string_view text) {
    std::map<pid_t, std::size_t> out;
    while (!text.empty()) {
        const auto eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        const auto comma = line.find(',');
        if (comma == std::string_view::npos) continue;
        std::string_view pid_text = line.substr(0, comma);
        std::string_view mib_text = line.substr(comma + 1);
        while (!mib_text.empty() && mib_text.front() == ' ') mib_text.remove_prefix(1);
        pid_t pid = 0;
        std::size_t mib = 0;
        if (std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid).ec != std::errc{}) continue;
        if (std::from_chars(mib_text.data(), mib_text.data() + mib_text.size(), mib).ec != std::errc{}) continue;
        out[pid] += mib * 1024 * 1024;
    }
    return out;
}

std::optional<std::vector<ModelState>> parse_router_models(std::string_view body) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    simdjson::dom::array data;
    if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS ||
        root["data"].get_array().get(data) != simdjson::SUCCESS) {
        return std::nullopt;
    }
    std::vector<ModelState> out;
    for (simdjson::dom::element model : data) {
        std::string_view id, state;
        if (model["id"].get(id) != simdjson::SUCCESS) continue;
        if (model["status"]["value"].get(state) != simdjson::SUCCESS) state = {};
        out.push_back({std::string(id), std::string(state)});
    }
    return out;
}

std::vector<ModelState> merge_model_states(const std::vector<std::string>& configured,
                                           const std::vector<ModelState>& listed) {
    std::vector<ModelState> out;
    for (const auto& name : configured) {
        const auto found = std::find_if(listed.begin(), listed.end(), [&](const ModelState& m) { return m.name == name; });
        out.push_back({name, found == listed.end() ? std::string() : found->state});
    }
    return out;
}

}  // namespace switchyard::engine
