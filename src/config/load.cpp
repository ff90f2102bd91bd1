// Loading a configuration: the YAML text is parsed, each section is read by its own reader in
// the order their cross-references need, and every error comes back sorted by line.
#include <algorithm>
#include <fstream>
#include <sstream>

#include "config/sections.hpp"

namespace switchyard::config {
namespace {

Gateway read_gateway(Reader& in, const YAML::Node& root) {
    Gateway out;
    if (!root || root.IsNull()) {
        in.error(root, "the configuration is empty");
        return out;
    }
    if (!in.expect_map(root, "the top level",
                       {"listeners", "server", "upstreams", "engines", "gpu_groups", "models", "retries", "auth",
                        "keys", "ledger", "state", "prices", "access_log", "models_dir", "host_memory", "console"})) {
        return out;
    }
    read_listeners(in, root["listeners"], out);
    if (const YAML::Node node = root["server"]) read_server(in, node, out.server);
    if (const YAML::Node node = root["retries"]) read_retries(in, node, out.retries);
    // A configuration of engines alone needs no upstreams.
    if (root["upstreams"] || !root["engines"]) read_upstreams(in, root["upstreams"], out);
    in.string(root, "models_dir", out.models_dir);
    in.size(root, "host_memory", out.host_memory);
    if (const YAML::Node node = root["gpu_groups"]) read_gpu_groups(in, node, out);
    if (const YAML::Node node = root["engines"]) read_engines(in, node, out);
    read_models(in, root["models"], out);
    if (const YAML::Node node = root["auth"]) read_auth(in, node, out.auth);
    if (const YAML::Node node = root["keys"]) read_keys(in, node, out);
    if (const YAML::Node node = root["ledger"]) read_ledger(in, node, out.ledger);
    if (const YAML::Node node = root["state"]) read_state(in, node, out.state);
    if (const YAML::Node node = root["prices"]) read_prices(in, node, out.prices);
    if (const YAML::Node node = root["access_log"]) read_access_log(in, node, out.access_log);
    if (const YAML::Node node = root["console"]) read_console(in, node, out.console);
    if (!out.keys.empty() || !out.auth.master_key_sha256.empty()) out.auth.required = true;
    return out;
}

}  // namespace

LoadResult load_string(std::string_view yaml, const EnvLookup& env) {
    LoadResult result;
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml));
    } catch (const YAML::Exception& e) {
        result.errors.push_back({e.mark.line + 1, e.mark.column + 1, "YAML syntax error: " + e.msg});
        return result;
    }
    Reader reader(env);
    try {
        Gateway gateway = read_gateway(reader, root);
        result.errors = std::move(reader.errors);
        if (result.errors.empty()) result.gateway = std::move(gateway);
    } catch (const YAML::Exception& e) {
        result.errors = std::move(reader.errors);
        result.errors.push_back({e.mark.line + 1, e.mark.column + 1, e.msg});
    }
    std::stable_sort(result.errors.begin(), result.errors.end(),
                     [](const Error& a, const Error& b) { return a.line < b.line; });
    return result;
}

LoadResult load_file(const std::string& path, const EnvLookup& env) {
    std::ifstream in(path);
    if (!in) {
        LoadResult result;
        result.errors.push_back({0, 0, "cannot read config file '" + path + "'"});
        return result;
    }
    std::stringstream text;
    text << in.rdbuf();
    return load_string(text.str(), env);
}

}  // namespace switchyard::config
