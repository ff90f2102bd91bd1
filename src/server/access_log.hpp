// The JSON access log: one line per request on the OpenAI endpoints (request id, key name — never
// the key —, model, deployment, tier, status, tokens, cost, timings, retries, fallback, error), to
// stdout or to a size-rotated file, written by spdlog's background thread (never on an I/O
// thread's time beyond formatting the line). Prompts and completions are never logged.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>

#include "config/config.hpp"
#include "ledger/row.hpp"

namespace switchyard::server {

std::shared_ptr<spdlog::logger> make_access_log(const config::AccessLog& config);
std::string access_line(const ledger::Row& row);

}  // namespace switchyard::server
