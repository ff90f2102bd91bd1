// GET /metrics: the Prometheus text format (version 0.0.4) of everything the gateway counts: the
// I/O threads' request series (summed at scrape time) and the state other modules own (router:
// deployments, breakers, queues, retries; ledger: queue, rows, spool; connections).
#pragma once

#include <string>

namespace switchyard::server {

struct Shared;
std::string render_metrics(Shared& shared);

}  // namespace switchyard::server
