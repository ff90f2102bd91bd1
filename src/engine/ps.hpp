// `switchyard ps` and `switchyard models`: the running gateway's engines, and its models with their
// deployments, as tables read from its admin API (with the master key).
#pragma once

#include <chrono>
#include <string>

namespace switchyard::engine {

struct PsOptions {
    std::string url = "http://127.0.0.1:8080";  // the gateway (http only)
    std::string key_env = "SWITCHYARD_MASTER_KEY";  // environment variable holding the master key
    bool json = false;                              // print the admin API's JSON as it is
};

int run_ps(const PsOptions& options);
// `switchyard models`: every model with its deployments, health and requests in flight
// (GET /admin/models).
int run_models(const PsOptions& options);

// GET `path` of the gateway at `url` with the master key from the environment variable `key_env`
// (the body in `body`); 0, or the exit status to return, with the reason on stderr as `switchyard
// COMMAND: ...`. Only http:// URLs. `timeout`: for the whole exchange.
int admin_get(const std::string& url, const std::string& key_env, const char* command, const std::string& path,
              std::string& body, std::chrono::seconds timeout = std::chrono::seconds(10));

// The table `ps` prints for an /admin/engines body; empty with `why` set when it cannot be read.
std::string ps_table(const std::string& json, std::string* why);
std::string models_table(const std::string& json, std::string* why);

}  // namespace switchyard::engine
