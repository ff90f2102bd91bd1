#include "models/command.hpp"

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>

#include "core/error.hpp"
#include "core/table.hpp"
#include "models/estimate.hpp"
#include "models/pull.hpp"

namespace switchyard::models {

namespace fs = std::filesystem;

namespace {

std::string params_text(std::uint64_t n) {
    char text[32];
    if (n >= 1'000'000'000) std::snprintf(text, sizeof text, "%.1fB", static_cast<double>(n) / 1e9);
    else if (n >= 1'000'000) std::snprintf(text, sizeof text, "%.1fM", static_cast<double>(n) / 1e6);
    else if (n >= 1'000) std::snprintf(text, sizeof text, "%.1fK", static_cast<double>(n) / 1e3);
    else std::snprintf(text, sizeof text, "%llu", static_cast<unsigned long long>(n));
    return text;
}


std::string canonical(const std::string& path) {
    std::error_code ec;
    const auto c = fs::weakly_canonical(path, ec);
    return ec ? path : c.string();
}

// The config of -c, when given; exits with its errors otherwise.
struct Loaded {
    std::optional<config::Gateway> gateway;
    int failed = 0;
};
Loaded load(const CommandOptions& options, const char* command) {
    Loaded out;
    if (options.config_path.empty()) return out;
    auto result = config::load_file(options.config_path);
    if (!result.gateway) {
        for (const auto& error : result.errors) std::cerr << options.config_path << ": " << config::to_string(error) << "\n";
        std::cerr << "switchyard " << command << ": the configuration has errors\n";
        out.failed = 1;
        return out;
    }
    out.gateway = std::move(result.gateway);
    return out;
}

std::string json_string(std::string_view text) {
    std::string out;
    append_json_string(out, text);
    return out;
}

}  // namespace

std::string store_dir(const std::string& flag, const config::Gateway* gateway, const Env& env) {
    if (!flag.empty()) return flag;
    if (gateway != nullptr && !gateway->models_dir.empty()) return gateway->models_dir;
    return default_models_dir(env);
}

std::vector<std::string> engines_using(const config::Gateway& gateway, const Store& store, const StoreEntry& entry) {
    std::vector<std::string> out;
    std::vector<std::string> paths;
    for (const auto& p : entry.paths) paths.push_back(canonical(p));
    const std::string dir = canonical(store.dir());
    for (const auto& engine : gateway.engines) {
        const std::string resolved = canonical(store.resolve(engine.model));
        const bool by_file = std::find(paths.begin(), paths.end(), resolved) != paths.end();
        const bool by_folder = resolved == dir &&
                               std::find(engine.models.begin(), engine.models.end(), entry.name) != engine.models.end();
        if (by_file || by_folder) out.push_back(engine.name);
    }
    return out;
}

int run_list(const CommandOptions& options) {
    const Loaded loaded = load(options, "list");
    if (loaded.failed) return loaded.failed;
    const Store store(store_dir(options.models_dir, loaded.gateway ? &*loaded.gateway : nullptr, process_env()));
    const auto entries = store.list();
    if (options.json) {
        std::string out = R"({"models_dir":)" + json_string(store.dir()) + R"(,"data":[)";
        for (std::size_t i = 0; i < entries.size(); ++i) {
            const auto& e = entries[i];
            if (i) out += ',';
            out += R"({"name":)" + json_string(e.name) + R"(,"path":)" + json_string(e.paths.front()) +
                   R"(,"files":)" + std::to_string(e.paths.size()) + R"(,"bytes":)" + std::to_string(e.bytes) +
                   R"(,"architecture":)" + json_string(e.info.architecture) + R"(,"parameters":)" +
                   std::to_string(e.info.parameters) + R"(,"quantization":)" + json_string(e.info.quantization) +
                   R"(,"context_length":)" + std::to_string(e.info.context_length) + R"(,"error":)" + json_string(e.error) +
                   R"(,"engines":[)";
            if (loaded.gateway) {
                const auto users = engines_using(*loaded.gateway, store, e);
                for (std::size_t j = 0; j < users.size(); ++j) out += (j ? "," : "") + json_string(users[j]);
            }
            out += "]}";
        }
        std::cout << out << "]}\n";
        return 0;
    }
    if (entries.empty()) {
        std::cout << "no models in " << store.dir() << " (switchyard pull hf:ORG/REPO:QUANT adds one)\n";
        return 0;
    }
    std::vector<std::vector<std::string>> rows{{"NAME", "SIZE", "ARCH", "PARAMS", "QUANT", "CTX", "USED BY"}};
    for (const auto& e : entries) {
        std::string users = loaded.gateway ? "" : "-";
        if (loaded.gateway) {
            for (const auto& u : engines_using(*loaded.gateway, store, e)) users += (users.empty() ? "" : ",") + u;
            if (users.empty()) users = "-";
        }
        if (!e.error.empty()) {
            rows.push_back({e.name, gib_text(e.bytes), "unreadable: " + e.error, "", "", "", users});
            continue;
        }
        rows.push_back({e.name + (e.paths.size() > 1 ? " (" + std::to_string(e.paths.size()) + " files)" : ""), gib_text(e.bytes),
                        e.info.architecture.empty() ? "?" : e.info.architecture, params_text(e.info.parameters),
                        e.info.quantization.empty() ? "?" : e.info.quantization,
                        e.info.context_length ? std::to_string(e.info.context_length) : "?", users});
    }
    std::cout << columns(rows);
    return 0;
}

int run_show(const CommandOptions& options) {
    const Loaded loaded = load(options, "show");
    if (loaded.failed) return loaded.failed;
    const Store store(store_dir(options.models_dir, loaded.gateway ? &*loaded.gateway : nullptr, process_env()));
    std::string path = options.target;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
        const auto entry = store.find(options.target);
        if (!entry) {
            std::cerr << "switchyard show: no model '" << options.target << "' in " << store.dir() << " and no such file\n";
            return 1;
        }
        path = entry->paths.front();
    }
    const ParseResult parsed = read_file(path);
    if (!parsed.gguf) {
        std::cerr << "switchyard show: " << parsed.error << "\n";
        return 1;
    }
    const Gguf& g = *parsed.gguf;  // the metadata: a split model's first part has it all
    // Tensors, parameters and sizes over every part of a split model.
    const std::vector<std::string> files = model_files(path);
    std::string why;
    const auto whole = read_model(path, &why);
    if (!whole) {
        std::cerr << "switchyard show: " << why << "\n";
        return 1;
    }
    const ModelInfo& info = *whole;
    std::map<std::string, std::pair<std::size_t, std::uint64_t>> types;  // name -> tensors, bytes
    std::size_t tensors = 0;
    for (const auto& file : files) {
        const ParseResult part = file == path ? ParseResult{} : read_file(file);
        if (file != path && !part.gguf) {
            std::cerr << "switchyard show: " << part.error << "\n";
            return 1;
        }
        const Gguf& gguf = file == path ? g : *part.gguf;
        for (const auto& t : gguf.tensors) {
            auto& [count, bytes] = types[std::string(tensor_type(t.type)->name)];
            ++count;
            bytes += t.bytes;
        }
        tensors += gguf.tensors.size();
    }
    const Estimate e = estimate(info, EngineShape{});
    if (options.json) {
        std::string out = R"({"path":)" + json_string(path) + R"(,"version":)" + std::to_string(g.version) +
                          R"(,"architecture":)" + json_string(info.architecture) + R"(,"name":)" + json_string(info.name) +
                          R"(,"parameters":)" + std::to_string(info.parameters) + R"(,"quantization":)" +
                          json_string(info.quantization) + R"(,"context_length":)" + std::to_string(info.context_length) +
                          R"(,"layers":)" + std::to_string(info.layers) + R"(,"embedding":)" + std::to_string(info.embedding) +
                          R"(,"heads":)" + std::to_string(info.heads) + R"(,"kv_heads":)" + std::to_string(info.kv_heads) +
                          R"(,"chat_template":)" + (info.chat_template ? "true" : "false") + R"(,"files":)" +
                          std::to_string(files.size()) + R"(,"tensors":)" + std::to_string(tensors) +
                          R"(,"tensor_bytes":)" + std::to_string(info.tensor_bytes) +
                          R"(,"tensor_types":{)";
        bool first = true;
        for (const auto& [name, cb] : types) {
            out += (first ? "" : ",") + json_string(name) + R"(:{"tensors":)" + std::to_string(cb.first) + R"(,"bytes":)" +
                   std::to_string(cb.second) + "}";
            first = false;
        }
        out += R"(},"metadata":{)";
        first = true;
        for (const auto& [key, value] : g.metadata) {
            out += (first ? "" : ",") + json_string(key) + ":" + json_string(value.text(200));
            first = false;
        }
        out += R"(},"estimate_bytes":)" + std::to_string(e.total()) + "}";
        std::cout << out << "\n";
        return 0;
    }
    std::cout << "path            " << path << (files.size() > 1 ? " (part 1 of " + std::to_string(files.size()) + ")" : "")
              << "\n"
              << "GGUF version    " << g.version << "\n"
              << "architecture    " << (info.architecture.empty() ? "?" : info.architecture) << "\n"
              << "name            " << info.name << "\n"
              << "parameters      " << params_text(info.parameters) << " (" << info.parameters << ")\n"
              << "quantization    " << (info.quantization.empty() ? "?" : info.quantization) << "\n"
              << "context length  " << info.context_length << "\n"
              << "layers          " << info.layers << "\n"
              << "embedding       " << info.embedding << "\n"
              << "heads           " << info.heads << " (" << info.kv_heads << " KV, head size " << info.key_length << ")\n";
    if (info.experts) std::cout << "experts         " << info.experts << "\n";
    if (info.kv_layers < info.layers) {
        std::cout << "KV cache        on the first " << info.kv_layers << " of " << info.layers
                  << " layers (the others share theirs)\n";
    }
    if (info.swa_window) {
        std::cout << "sliding window  " << info.swa_window << " tokens, on " << info.swa_layers << " of " << info.layers
                  << " layers\n";
    }
    std::cout << "vocabulary      " << info.vocab << "\n"
              << "chat template   " << (info.chat_template ? "present" : "absent") << "\n"
              << "tensors         " << tensors << " (" << gib_text(info.tensor_bytes) << ")\n";
    for (const auto& [name, cb] : types) {
        std::cout << "  " << name << std::string(name.size() < 10 ? 10 - name.size() : 1, ' ') << cb.first << " tensors, "
                  << gib_text(cb.second) << "\n";
    }
    std::cout << "memory estimate " << gib_text(e.total()) << " at ctx " << e.ctx << " x 1 slot (weights "
              << gib_text(e.weights) << ", KV cache " << gib_text(e.kv) << ", compute " << gib_text(e.compute)
              << ", overhead " << gib_text(e.overhead) << ")\n";
    std::cout << "metadata        " << g.metadata.size() << " keys\n";
    for (const auto& [key, value] : g.metadata) std::cout << "  " << key << " = " << value.text(100) << "\n";
    return 0;
}

int run_rm(const CommandOptions& options) {
    const Loaded loaded = load(options, "rm");
    if (loaded.failed) return loaded.failed;
    const Store store(store_dir(options.models_dir, loaded.gateway ? &*loaded.gateway : nullptr, process_env()));
    const auto entry = store.find(options.target);
    if (!entry) {
        std::cerr << "switchyard rm: no model '" << options.target << "' in " << store.dir() << "\n";
        return 1;
    }
    if (loaded.gateway) {
        const auto users = engines_using(*loaded.gateway, store, *entry);
        if (!users.empty() && !options.force) {
            std::string names;
            for (const auto& u : users) names += (names.empty() ? "" : ", ") + u;
            std::cerr << "switchyard rm: " << entry->name << " is used by engine" << (users.size() > 1 ? "s " : " ") << names
                      << " in " << options.config_path << "; remove it from the config first, or use --force\n";
            return 1;
        }
    }
    std::string why;
    if (!store.remove(entry->name, &why)) {
        std::cerr << "switchyard rm: " << why << "\n";
        return 1;
    }
    std::cout << "removed " << entry->name << " (" << gib_text(entry->bytes) << ")\n";
    return 0;
}

int run_pull(const CommandOptions& options, std::string source, std::string as, std::string ca_file) {
    const Loaded loaded = load(options, "pull");
    if (loaded.failed) return loaded.failed;
    PullOptions pull_options;
    pull_options.source = std::move(source);
    pull_options.name = std::move(as);
    pull_options.ca_file = std::move(ca_file);
    pull_options.models_dir = store_dir(options.models_dir, loaded.gateway ? &*loaded.gateway : nullptr, process_env());
    pull_options.progress_bar = ::isatty(2) == 1;
    return pull(pull_options, process_env());
}

}  // namespace switchyard::models
