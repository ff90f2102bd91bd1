// The model store: a directory of GGUF files (`models_dir:`, else $SWITCHYARD_MODELS_DIR, else
// $XDG_DATA_HOME/switchyard/models, else ~/.local/share/switchyard/models), each model NAME.gguf
// or, split, NAME-00001-of-0000N.gguf and its parts. A download in progress is NAME.gguf.partial
// and is never taken for a model. Also the syntax of `switchyard pull` sources and the choice of a
// repository's files by quantization.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/gguf.hpp"

namespace switchyard::models {

using Env = std::function<std::optional<std::string>(std::string_view)>;
Env process_env();
std::string default_models_dir(const Env& env);

// A store name: letters, digits and ._-+ (no path), not starting with a dot.
bool valid_name(std::string_view name);

// "NAME-00002-of-00003.gguf" -> {NAME, 2, 3}.
struct SplitPart {
    std::string stem;
    unsigned index = 0;
    unsigned count = 0;
};
std::optional<SplitPart> split_part(std::string_view file_name);

// A `pull` source: hf:ORG/REPO/FILE.gguf, hf:ORG/REPO:QUANT (or hf:ORG/REPO, when it has one
// model), or an http(s) URL.
struct Source {
    std::string repo;   // "ORG/REPO" for hf:
    std::string file;   // the file in the repo, when named
    std::string quant;  // the quantization tag, when the file is to be chosen
    std::string url;    // for a plain URL
    std::string error;  // when the text is none of these
    bool ok() const { return error.empty(); }
};
Source parse_source(std::string_view text);
// The store name a source gets without --as: the file's stem, split suffix removed.
std::string default_name(const Source& source);

// The .gguf files of `files` (a repository's) whose name has the quantization tag `quant` as a
// whole word (case-insensitive): one file, or every part of one split model. Empty, with `why`
// listing what there is, when none or several models match.
std::vector<std::string> choose_files(const std::vector<std::string>& files, std::string_view quant, std::string* why);

// The files of the model at `path`: it alone, or when it is part 1 of a split model
// (NAME-00001-of-0000N.gguf), every part beside it, in order.
std::vector<std::string> model_files(const std::string& path);

// The model at `path`: its header described, and when the file is part 1 of a split model
// (NAME-00001-of-0000N.gguf), the other parts beside it read too and their tensors and parameters
// added. nullopt with `why` when a part is missing or unreadable.
std::optional<ModelInfo> read_model(const std::string& path, std::string* why);

struct StoreEntry {
    std::string name;
    std::vector<std::string> paths;  // one, or a split model's parts in order
    std::uint64_t bytes = 0;         // every part
    ModelInfo info;                  // tensors and parameters summed over the parts
    std::string error;               // the header could not be read
};

class Store {
public:
    explicit Store(std::string dir) : dir_(std::move(dir)) {}
    const std::string& dir() const { return dir_; }

    // Every model, sorted by name; a partial download is not one.
    std::vector<StoreEntry> list() const;
    std::optional<StoreEntry> find(std::string_view name) const;
    // An engine's `model:`: a store name becomes the path of its (first) file; a path (with a '/'
    // or ending in .gguf) or an unknown name stays as written.
    std::string resolve(const std::string& model) const;
    // Deletes the model's files; false with `why` when there is no such model or a file stays.
    bool remove(std::string_view name, std::string* why) const;

private:
    std::string dir_;
};

}  // namespace switchyard::models
