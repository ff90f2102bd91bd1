// One reader per section of the configuration file (internal to src/config), each in its own
// file; load.cpp calls them in the order their cross-references need (upstreams and engines
// before the models that name them, models before the keys that allow them).
#pragma once

#include <yaml-cpp/yaml.h>

#include "config/config.hpp"
#include "config/parse_common.hpp"

namespace switchyard::config {

// server.cpp
void read_listeners(Reader& in, const YAML::Node& node, Gateway& out);
void read_server(Reader& in, const YAML::Node& node, Server& out);

// upstreams.cpp
void read_upstreams(Reader& in, const YAML::Node& node, Gateway& out);
void read_retries(Reader& in, const YAML::Node& node, Retries& out);

// engines.cpp
void read_gpu_groups(Reader& in, const YAML::Node& node, Gateway& out);
void read_engines(Reader& in, const YAML::Node& node, Gateway& out);

// models.cpp
void read_models(Reader& in, const YAML::Node& node, Gateway& out);

// keys.cpp
void read_auth(Reader& in, const YAML::Node& node, Auth& out);
void read_keys(Reader& in, const YAML::Node& node, Gateway& out);

// ledger.cpp
void read_ledger(Reader& in, const YAML::Node& node, Ledger& out);

// state.cpp
void read_state(Reader& in, const YAML::Node& node, State& out);

// access_log.cpp
void read_access_log(Reader& in, const YAML::Node& node, AccessLog& out);
void read_console(Reader& in, const YAML::Node& node, Console& out);

// prices.cpp
void read_prices(Reader& in, const YAML::Node& node, Prices& out);
void read_cost_model(Reader& in, const YAML::Node& node, CostModel& out);

}  // namespace switchyard::config
