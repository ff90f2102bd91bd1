#include "models/store.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

namespace switchyard::models {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

bool ends_with_gguf(std::string_view name) { return name.size() > 5 && lower(name.substr(name.size() - 5)) == ".gguf"; }

std::string base_name(std::string_view path) {
    const auto slash = path.rfind('/');
    return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// Does `name` hold `tag` as a whole word, words being split by - _ . (case-insensitive)? "Q4_K_M"
// is in "llama-Q4_K_M.gguf" but "Q4_K" is not.
bool has_tag(std::string_view name, std::string_view tag) {
    const std::string n = lower(name);
    const std::string t = lower(tag);
    for (std::size_t at = n.find(t); at != std::string::npos; at = n.find(t, at + 1)) {
        const bool starts = at == 0 || n[at - 1] == '-' || n[at - 1] == '.' || n[at - 1] == '/';
        const std::size_t end = at + t.size();
        const bool ends = end == n.size() || n[end] == '-' || n[end] == '.';
        if (starts && ends) return true;
    }
    return false;
}

}  // namespace

Env process_env() {
    return [](std::string_view name) -> std::optional<std::string> {
        const char* value = std::getenv(std::string(name).c_str());
        if (value == nullptr || *value == '\0') return std::nullopt;
        return std::string(value);
    };
}

std::string default_models_dir(const Env& env) {
    if (auto dir = env("SWITCHYARD_MODELS_DIR")) return *dir;
    if (auto data = env("XDG_DATA_HOME")) return *data + "/switchyard/models";
    return env("HOME").value_or(".") + "/.local/share/switchyard/models";
}

bool valid_name(std::string_view name) {
    if (name.empty() || name.size() > 200 || name.front() == '.') return false;
    return std::all_of(name.begin(), name.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '.' || c == '_' || c == '-' || c == '+';
    });
}

std::optional<SplitPart> split_part(std::string_view file) {
    // NAME-00001-of-00003.gguf: the 5-digit numbers llama.cpp's gguf-split writes.
    if (!ends_with_gguf(file)) return std::nullopt;
    std::string_view stem = file.substr(0, file.size() - 5);
    constexpr std::size_t tail = 1 + 5 + 4 + 5;  // "-00001-of-00003"
    if (stem.size() <= tail) return std::nullopt;
    const std::string_view suffix = stem.substr(stem.size() - tail);
    if (suffix[0] != '-' || suffix.substr(6, 4) != "-of-") return std::nullopt;
    SplitPart part;
    const auto a = suffix.substr(1, 5);
    const auto b = suffix.substr(10, 5);
    if (std::from_chars(a.data(), a.data() + a.size(), part.index).ptr != a.data() + a.size() ||
        std::from_chars(b.data(), b.data() + b.size(), part.count).ptr != b.data() + b.size() || part.index == 0 ||
        part.index > part.count) {
        return std::nullopt;
    }
    part.stem = std::string(stem.substr(0, stem.size() - tail));
    return part;
}

Source parse_source(std::string_view text) {
    Source s;
    if (text.starts_with("http://") || text.starts_with("https://")) {
        s.url = std::string(text);
        return s;
    }
    if (!text.starts_with("hf:")) {
        s.error = "a source is hf:ORG/REPO/FILE.gguf, hf:ORG/REPO:QUANT or an http(s) URL";
        return s;
    }
    std::string_view rest = text.substr(3);
    const auto first = rest.find('/');
    if (first == std::string_view::npos || first == 0) {
        s.error = "hf: needs ORG/REPO";
        return s;
    }
    const auto second = rest.find('/', first + 1);
    std::string_view repo = second == std::string_view::npos ? rest : rest.substr(0, second);
    if (second != std::string_view::npos) {
        s.file = std::string(rest.substr(second + 1));
    } else if (const auto colon = repo.find(':'); colon != std::string_view::npos) {
        s.quant = std::string(repo.substr(colon + 1));
        repo = repo.substr(0, colon);
    }
    s.repo = std::string(repo);
    const auto name_ok = [](std::string_view part) {
        return !part.empty() && part != "." && part != ".." &&
               std::all_of(part.begin(), part.end(), [](unsigned char c) {
                   return std::isalnum(c) || c == '.' || c == '_' || c == '-';
               });
    };
    const auto slash = s.repo.find('/');
    if (!name_ok(std::string_view(s.repo).substr(0, slash)) || !name_ok(std::string_view(s.repo).substr(slash + 1))) {
        s.error = "'" + s.repo + "' is not a repository name ORG/REPO";
        return s;
    }
    if (!s.file.empty()) {
        std::string_view f = s.file;
        while (!f.empty()) {
            const auto cut = f.find('/');
            if (!name_ok(f.substr(0, cut))) {
                s.error = "'" + s.file + "' is not a file path in the repository";
                return s;
            }
            f = cut == std::string_view::npos ? std::string_view{} : f.substr(cut + 1);
        }
        if (!ends_with_gguf(s.file)) s.error = "'" + s.file + "' is not a .gguf file";
    }
    return s;
}

std::string default_name(const Source& source) {
    std::string file = source.url.empty() ? base_name(source.file) : base_name(source.url.substr(0, source.url.find_first_of("?#")));
    if (file.empty()) file = base_name(source.repo) + (source.quant.empty() ? "" : "-" + source.quant);
    if (const auto part = split_part(file)) return part->stem;
    if (ends_with_gguf(file)) file.resize(file.size() - 5);
    return file;
}

std::vector<std::string> choose_files(const std::vector<std::string>& files, std::string_view quant, std::string* why) {
    // Candidate models: whole files, and split models by their stem.
    std::map<std::string, std::vector<std::string>> models;
    std::vector<std::string> all;
    for (const auto& f : files) {
        if (!ends_with_gguf(f)) continue;
        all.push_back(f);
        if (quant.empty() ? false : !has_tag(f, quant)) continue;
        if (const auto part = split_part(f)) {
            models[part->stem].push_back(f);
        } else {
            models[f].push_back(f);
        }
    }
    if (quant.empty() && all.size() == 1) return all;
    std::string listing;
    for (const auto& f : all) listing += (listing.empty() ? "" : ", ") + f;
    if (models.empty() || quant.empty()) {
        *why = all.empty() ? "the repository has no .gguf file"
                           : (quant.empty() ? "name a quantization (hf:ORG/REPO:QUANT) or a file; the repository has: "
                                            : "no .gguf file is tagged " + std::string(quant) + "; the repository has: ") +
                                 listing;
        return {};
    }
    if (models.size() > 1) {
        *why = "several files are tagged " + std::string(quant) + ": ";
        std::string names;
        for (const auto& [stem, parts] : models) names += (names.empty() ? "" : ", ") + parts.front();
        *why += names + "; name one as hf:ORG/REPO/FILE.gguf";
        return {};
    }
    auto parts = models.begin()->second;
    std::sort(parts.begin(), parts.end());
    if (const auto first = split_part(parts.front()); first && parts.size() != first->count) {
        *why = "the split model " + first->stem + " has " + std::to_string(parts.size()) + " of its " +
               std::to_string(first->count) + " parts in the repository";
        return {};
    }
    return parts;
}

std::vector<std::string> model_files(const std::string& path) {
    std::vector<std::string> files{path};
    const auto part = split_part(base_name(path));
    if (!part || part->index != 1) return files;
    const std::string dir = path.substr(0, path.size() - base_name(path).size());
    for (unsigned i = 2; i <= part->count; ++i) {
        char suffix[32];
        std::snprintf(suffix, sizeof suffix, "-%05u-of-%05u.gguf", i, part->count);
        files.push_back(dir + part->stem + suffix);
    }
    return files;
}

std::optional<ModelInfo> read_model(const std::string& path, std::string* why) {
    const auto first = read_file(path);
    if (!first.gguf) {
        *why = first.error;
        return std::nullopt;
    }
    ModelInfo info = describe(*first.gguf);
    const std::vector<std::string> files = model_files(path);
    for (std::size_t i = 1; i < files.size(); ++i) {
        const auto next = read_file(files[i]);
        if (!next.gguf) {
            *why = next.error;
            return std::nullopt;
        }
        const ModelInfo more = describe(*next.gguf);
        info.parameters += more.parameters;
        info.tensor_bytes += more.tensor_bytes;
    }
    return info;
}

std::vector<StoreEntry> Store::list() const {
    std::map<std::string, StoreEntry> by_name;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
        const std::string file = entry.path().filename().string();
        if (!entry.is_regular_file(ec) || !ends_with_gguf(file)) continue;
        const auto part = split_part(file);
        const std::string name = part ? part->stem : file.substr(0, file.size() - 5);
        auto& e = by_name[name];
        e.name = name;
        e.paths.push_back(entry.path().string());
        e.bytes += entry.file_size(ec);
    }
    std::vector<StoreEntry> out;
    for (auto& [name, e] : by_name) {
        std::sort(e.paths.begin(), e.paths.end());
        for (std::size_t i = 0; i < e.paths.size(); ++i) {
            const auto parsed = read_file(e.paths[i]);
            if (!parsed.gguf) {
                if (e.error.empty()) e.error = parsed.error;
                continue;
            }
            const ModelInfo info = describe(*parsed.gguf);
            if (i == 0) {
                e.info = info;
            } else {
                e.info.parameters += info.parameters;
                e.info.tensor_bytes += info.tensor_bytes;
            }
        }
        if (e.error.empty() && e.paths.size() > 1) {
            const auto part = split_part(base_name(e.paths.front()));
            if (part && part->count != e.paths.size()) {
                e.error = "split model with " + std::to_string(e.paths.size()) + " of its " + std::to_string(part->count) + " parts";
            }
        }
        out.push_back(std::move(e));
    }
    return out;
}

std::optional<StoreEntry> Store::find(std::string_view name) const {
    if (!valid_name(name)) return std::nullopt;
    for (auto& e : list()) {
        if (e.name == name) return std::move(e);
    }
    return std::nullopt;
}

std::string Store::resolve(const std::string& model) const {
    if (model.empty() || model.find('/') != std::string::npos || ends_with_gguf(model) || !valid_name(model)) return model;
    std::error_code ec;
    const std::string whole = dir_ + "/" + model + ".gguf";
    if (fs::is_regular_file(whole, ec)) return whole;
    if (const auto entry = find(model)) return entry->paths.front();
    return model;
}

bool Store::remove(std::string_view name, std::string* why) const {
    const auto entry = find(name);
    if (!entry) {
        *why = "no model '" + std::string(name) + "' in " + dir_;
        return false;
    }
    for (const auto& path : entry->paths) {
        std::error_code ec;
        if (!fs::remove(path, ec) || ec) {
            *why = "cannot remove " + path + (ec ? ": " + ec.message() : "");
            return false;
        }
    }
    return true;
}

}  // namespace switchyard::models
