// `switchyard list`, `show`, `rm` and `pull`: the model store from the command line. With a
// configuration (-c), the store is its `models_dir:` and each model's engines are named; rm
// refuses a model an engine uses unless --force.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"
#include "models/store.hpp"

namespace switchyard::models {

struct CommandOptions {
    std::string config_path;  // -c: for models_dir and the engines that use a model
    std::string models_dir;   // --models-dir: over the config's and the default
    bool json = false;        // list, show: JSON instead of a table
    bool force = false;       // rm: even when an engine uses it
    std::string target;       // show, rm: NAME (or a path, for show)
};

int run_list(const CommandOptions& options);
int run_show(const CommandOptions& options);
int run_rm(const CommandOptions& options);
// pull: the store from the options and config, then models::pull.
int run_pull(const CommandOptions& options, std::string source, std::string as, std::string ca_file);

// The store a command or the gateway uses: --models-dir, else the config's models_dir, else
// SWITCHYARD_MODELS_DIR, else $XDG_DATA_HOME/switchyard/models, else ~/.local/share/switchyard/models.
std::string store_dir(const std::string& flag, const config::Gateway* gateway, const Env& env);

// The engines of `gateway` that use the store model `entry`: by its name, by the path of one of its
// files, or (an engine serving a folder) by its name among the engine's models when the folder is
// the store.
std::vector<std::string> engines_using(const config::Gateway& gateway, const Store& store, const StoreEntry& entry);

}  // namespace switchyard::models
