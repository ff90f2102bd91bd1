// The admin API, behind the master key (auth.master_key): key management.
//   GET    /admin/keys          every key (never its secret) with its spend and requests in flight
//   POST   /admin/keys          create a key from {name, models, limits, max_concurrent, budget,
//                               labels}; the answer holds the key itself, shown this once
//   PATCH  /admin/keys/{name}   change a key created here: the fields of POST but the name (limits
//                               and budget one sub-field at a time); keys of the config file: 409
//   DELETE /admin/keys/{name}   revoke a key created here (keys of the config file stay)
//   GET    /admin/engines       the supervised engines: state, pid, memory, requests in flight,
//                               uptime, restarts, last error and log tail (docs/engines.md)
//   POST   /admin/engines/{name}/start|stop|restart
//                               start one, stop one (drained; kept stopped until started), or
//                               restart one (drained first); 202, carried out by the supervisor
//   GET    /admin/models        every model with its deployments: tier, health, breaker, in flight
//   GET    /admin/overview, /admin/requests[/{id}], /admin/spend, /admin/cost, /admin/config:
//                               console/data.hpp
// Keys created here are stored in the ledger's database (as digests) and survive restarts; with no
// ledger they live until the gateway stops.
#pragma once

#include <boost/asio.hpp>

#include <string_view>

#include "http/wire.hpp"

namespace switchyard::server {

struct Shared;

struct AdminRequest {
    std::string_view method;
    std::string_view path;  // query string removed
    std::string_view body;
    std::string_view authorization;
    std::string_view query;  // after '?', or empty
};

// Checks the master key, then serves the request.
boost::asio::awaitable<wire::LocalResponse> admin(Shared& shared, AdminRequest request);
// Serves an admin request whose caller is already known to may (the web console's admin or, for
// GET, viewer sessions: src/console).
boost::asio::awaitable<wire::LocalResponse> admin_authorized(Shared& shared, AdminRequest request);

// Every `interval` while the gateway runs: the API keys other instances on the same ledger
// database made, changed or revoked, applied here (auth::KeyStore::sync); a revoked key's metrics
// series, fail-open limiter and console sessions go as with DELETE /admin/keys here.
boost::asio::awaitable<void> key_sync_loop(Shared& shared, std::chrono::milliseconds interval);

}  // namespace switchyard::server
