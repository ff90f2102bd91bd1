#include "server/admin.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <functional>

#include "auth/keys.hpp"
#include "console/console.hpp"
#include "core/clock.hpp"
#include "core/await.hpp"
#include "core/digest.hpp"
#include "server/runtime.hpp"

namespace switchyard::server {

namespace {

wire::LocalResponse error(ApiError e) { return wire::error_response(e); }

std::string money(double usd) {
    char out[32];
    std::snprintf(out, sizeof out, "%.6f", usd);
    return out;
}

// A key's policy and state, without its secret.
std::string describe(auth::KeyEntry& key, std::time_t now) {
    std::string policy = auth::policy_to_json(key.policy);
    policy.pop_back();  // '}'
    policy += ",\"source\":";
    policy += key.from_config ? "\"config\"" : "\"api\"";
    policy += ",\"created_ms\":" + std::to_string(key.created_ms);
    policy += ",\"in_flight\":" + std::to_string(key.in_flight.load());
    policy += ",\"spent_today_usd\":" + money(key.budget.spent_today(now));
    policy += ",\"spent_this_month_usd\":" + money(key.budget.spent_this_month(now)) + "}";
    return policy;
}

// POST /admin/reload. The reload runs on the control thread (it reads files and builds the new
// routing state); this coroutine waits for its result without blocking the I/O thread.
asio::awaitable<wire::LocalResponse> reload(Shared& shared) {
    if (shared.draining.load() || !shared.request_reload) {
        co_return error(ApiError{503, "the gateway is shutting down", "server_error", std::nullopt, "draining"});
    }
    struct Waiting {
        explicit Waiting(asio::any_io_executor executor) : done(std::move(executor)) {}
        asio::steady_timer done;
        ReloadResult result;
    };
    const auto executor = co_await asio::this_coro::executor;
    auto waiting = std::make_shared<Waiting>(executor);
    waiting->done.expires_at(asio::steady_timer::time_point::max());
    std::function<void(ReloadResult)> done = [waiting, executor](ReloadResult result) {
        asio::post(executor, [waiting, result = std::move(result)]() mutable {
            waiting->result = std::move(result);
            waiting->done.cancel();
        });
    };
    shared.request_reload(std::move(done));
    co_await waiting->done.async_wait(await_tuple);
    const ReloadResult& result = waiting->result;
    wire::LocalResponse response;
    if (!result.ok) {
        std::string message = "the new config was refused; generation " + std::to_string(result.generation) +
                              " keeps serving:";
        for (const auto& reason : result.errors) message += "\n" + reason;
        response = error(ApiError{422, std::move(message), "invalid_request_error", std::nullopt, "config_invalid"});
        co_return response;
    }
    response.body = R"({"reloaded":true,"generation":)" + std::to_string(result.generation) + R"(,"summary":)";
    append_json_string(response.body, result.summary);
    response.body += "}";
    co_return response;
}

void append_deployment(std::string& out, Generation& generation, const config::Deployment& deployment) {
    const auto& upstream = generation.config.upstreams[deployment.upstream];
    const route::DeploymentStatus status = generation.router.status(deployment.id);
    out += R"({"name":)";
    append_json_string(out, deployment.name);
    out += upstream.engine ? R"(,"engine":)" : R"(,"upstream":)";
    append_json_string(out, upstream.name);
    out += R"(,"model":)";
    append_json_string(out, deployment.model);
    out += R"(,"tier":)" + std::to_string(deployment.tier);
    out += std::string(R"(,"healthy":)") + (status.healthy ? "true" : "false");
    out += R"(,"breaker":")";
    out += status.breaker == route::Breaker::State::closed ? "closed"
           : status.breaker == route::Breaker::State::open ? "open"
                                                           : "half-open";
    out += R"(","in_flight":)" + std::to_string(status.outstanding) + "}";
}

// GET /admin/models: every model with its deployments' state.
wire::LocalResponse list_models(Generation& generation) {
    wire::LocalResponse response;
    response.body = R"({"object":"list","data":[)";
    for (std::size_t m = 0; m < generation.config.models.size(); ++m) {
        const auto& model = generation.config.models[m];
        if (m) response.body += ',';
        response.body += R"({"name":)";
        append_json_string(response.body, model.name);
        response.body += R"(,"deployments":[)";
        for (std::size_t d = 0; d < model.deployments.size(); ++d) {
            if (d) response.body += ',';
            append_deployment(response.body, generation, model.deployments[d]);
        }
        response.body += R"(],"queued":)" + std::to_string(generation.router.queued(model)) + "}";
    }
    response.body += "]}";
    return response;
}

// GET /admin/keys
wire::LocalResponse list_keys(Shared& shared, std::time_t now) {
    wire::LocalResponse response;
    response.body = R"({"object":"list","data":[)";
    bool first = true;
    for (const auto& key : shared.keys.list()) {
        if (!first) response.body += ',';
        first = false;
        response.body += describe(*key, now);
    }
    response.body += "]}";
    return response;
}

ApiError key_exists(const std::string& name) {
    return ApiError{409, "a key named '" + name + "' exists", "invalid_request_error", "name", "key_exists"};
}

ApiError key_in_config(const std::string& name, std::string_view change) {
    return ApiError{409, "key '" + name + "' is defined in the config file; " + std::string(change) + " it there",
                    "invalid_request_error", std::nullopt, "key_in_config"};
}

// POST /admin/keys: a new key from the policy in the body; the answer holds its secret, shown this
// once. It is stored in the ledger (when there is one) before it is usable.
asio::awaitable<wire::LocalResponse> create_key(Shared& shared, const Generation& generation, std::string_view body,
                                                std::time_t now, std::int64_t now_ms) {
    std::string why;
    auto policy = auth::policy_from_json(body, &why);
    if (!policy) co_return error(ApiError::invalid_request(why, std::nullopt, "invalid_key_request"));
    for (const auto& name : policy->models) {
        if (generation.config.find_model(name) == nullptr) {
            co_return error(ApiError::invalid_request("unknown model '" + name + "'", "models", "model_not_found"));
        }
    }
    if (shared.keys.by_name(policy->name)) co_return error(key_exists(policy->name));
    const std::string secret = generate_api_key();
    policy->sha256 = sha256_hex(secret);
    if (shared.ledger) {
        const ledger::StoredKey stored{policy->name, policy->sha256, auth::policy_to_json(*policy), now_ms};
        // (Named first: GCC 12 mishandles temporaries inside a co_await expression.)
        std::function<void(ledger::Store&)> save = [stored](ledger::Store& store) { store.save_key(stored); };
        const auto failure = co_await shared.ledger->run(std::move(save));
        if (failure) {
            const std::string what = ledger::Ledger::what_failed(failure);
            spdlog::error("admin: storing key '{}' failed: {}", policy->name, what);
            co_return error(ApiError{503, "the key could not be stored: " + what, "server_error", std::nullopt,
                                     "ledger_unavailable"});
        }
    }
    const std::string name = policy->name;
    const std::string digest = policy->sha256;
    if (!shared.keys.add(*policy, now_ms)) {
        // A key sync may have read it from the database already: made all the same.
        const auto synced = shared.keys.by_name(name);
        if (!synced || synced->policy.sha256 != digest) co_return error(key_exists(name));
    }
    spdlog::info("admin: key '{}' created", name);
    wire::LocalResponse response;
    response.status = 201;
    response.body = describe(*shared.keys.by_name(name), now);
    response.body.pop_back();
    response.body += ",\"key\":";
    append_json_string(response.body, secret);
    response.body += "}";
    co_return response;
}

// A revoked key's traces: its metrics series (each dropped on the thread that records into it),
// its fail-open limiter (if Redis was ever away) and its console sign-ins.
void forget_revoked(Shared& shared, const std::string& name) {
    for (Worker* worker : shared.workers) {
        asio::post(worker->io, [worker, name] { worker->metrics.forget_key(name); });
    }
    if (shared.fleet) shared.fleet->forget_key(name);
    console::end_key_sessions(shared, name);
}

// DELETE /admin/keys/{name, percent-encoded}: only keys created through this API (the config file's stay).
asio::awaitable<wire::LocalResponse> revoke_key(Shared& shared, std::string name, std::int64_t now_ms) {
    const auto existing = shared.keys.by_name(name);
    if (!existing) co_return error(ApiError::not_found("no key named '" + name + "'", "key_not_found"));
    if (existing->from_config) co_return error(key_in_config(name, "remove"));
    // The database first, as for a new key: other instances of a fleet read it (key_sync_loop),
    // and a revocation only here would come back with their next sync.
    if (shared.ledger) {
        std::function<void(ledger::Store&)> revoke = [name, now_ms](ledger::Store& store) {
            store.revoke_key(name, now_ms);
        };
        const auto failure = co_await shared.ledger->run(std::move(revoke));
        if (failure) {
            const std::string what = ledger::Ledger::what_failed(failure);
            spdlog::error("admin: revoking key '{}' in the ledger failed: {}", name, what);
            co_return error(ApiError{503, "the revocation could not be stored: " + what, "server_error", std::nullopt,
                                     "ledger_unavailable"});
        }
    }
    // (A sync may have revoked it here meanwhile, from the database: revoked all the same.)
    if (shared.keys.revoke(name) == auth::KeyStore::Revoke::configured) co_return error(key_in_config(name, "remove"));
    forget_revoked(shared, name);
    spdlog::info("admin: key '{}' revoked", name);
    wire::LocalResponse response;
    response.body = R"({"name":)";
    append_json_string(response.body, name);
    response.body += R"(,"revoked":true})";
    co_return response;
}

// PATCH /admin/keys/{name}: changes an API key's policy (the fields of POST /admin/keys but the
// name; limits and budget one sub-field at a time). Stored in the ledger first, as at creation, so
// the change survives a restart; new requests see it at once.
asio::awaitable<wire::LocalResponse> update_key(Shared& shared, const Generation& generation, std::string name,
                                                std::string_view body, std::time_t now) {
    const auto existing = shared.keys.by_name(name);
    if (!existing) co_return error(ApiError::not_found("no key named '" + name + "'", "key_not_found"));
    if (existing->from_config) co_return error(key_in_config(name, "change"));
    std::string why;
    auto policy = auth::policy_patched(existing->policy, body, &why);
    if (!policy) co_return error(ApiError::invalid_request(why, std::nullopt, "invalid_key_request"));
    for (const auto& model : policy->models) {
        if (generation.config.find_model(model) == nullptr) {
            co_return error(ApiError::invalid_request("unknown model '" + model + "'", "models", "model_not_found"));
        }
    }
    if (shared.ledger) {
        auto stored = std::make_shared<bool>(false);
        const std::string policy_json = auth::policy_to_json(*policy);
        std::function<void(ledger::Store&)> save = [stored, name, policy_json](ledger::Store& store) {
            *stored = store.update_key(name, policy_json);
        };
        const auto failure = co_await shared.ledger->run(std::move(save));
        if (failure) {
            const std::string what = ledger::Ledger::what_failed(failure);
            spdlog::error("admin: storing the change to key '{}' failed: {}", name, what);
            co_return error(ApiError{503, "the change could not be stored: " + what, "server_error", std::nullopt,
                                     "ledger_unavailable"});
        }
        if (!*stored) spdlog::warn("admin: key '{}' was not in the ledger's key table; changed in memory only", name);
    }
    switch (shared.keys.update(std::move(*policy))) {
        case auth::KeyStore::Update::unknown:
            co_return error(ApiError::not_found("no key named '" + name + "'", "key_not_found"));
        case auth::KeyStore::Update::configured: co_return error(key_in_config(name, "change"));
        case auth::KeyStore::Update::updated: break;
    }
    spdlog::info("admin: key '{}' changed", name);
    wire::LocalResponse response;
    response.body = describe(*shared.keys.by_name(name), now);
    co_return response;
}

// POST /admin/engines/{name}/{start|stop|restart}: `rest` is "{name}/{verb}", the name
// percent-encoded as the console sends it.
wire::LocalResponse engine_action(Shared& shared, std::string_view rest) {
    const auto slash = rest.rfind('/');
    const std::string_view verb = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    using Action = engine::Supervisor::Action;
    std::optional<Action> action;
    if (verb == "start") action = Action::start;
    if (verb == "stop") action = Action::stop;
    if (verb == "restart") action = Action::restart;
    if (!action) {
        return error(ApiError::not_found("POST /admin/engines/{name}/ takes start, stop or restart", "unknown_url"));
    }
    const std::string name = console::percent_decode(rest.substr(0, slash), false);
    if (!shared.engines.act(name, *action)) {
        return error(ApiError::not_found("no engine named '" + name + "'", "engine_not_found"));
    }
    wire::LocalResponse response;
    response.status = 202;
    response.body = R"({"name":)";
    append_json_string(response.body, name);
    response.body += R"(,"action":")" + std::string(verb) + R"(","accepted":true})";
    return response;
}

}  // namespace

asio::awaitable<wire::LocalResponse> admin(Shared& shared, AdminRequest request) {
    if (!shared.keys.has_master()) {
        co_return error(ApiError::not_found("the admin API is off: set auth.master_key to turn it on", "admin_disabled"));
    }
    const std::string_view presented = auth::presented_key(request.authorization, {});
    if (!shared.keys.is_master(presented)) {
        co_return error(ApiError{401, "the admin API needs the master key (Authorization: Bearer <master key>)",
                                 "invalid_request_error", std::nullopt, "invalid_api_key"});
    }
    co_return co_await admin_authorized(shared, request);
}

asio::awaitable<wire::LocalResponse> admin_authorized(Shared& shared, AdminRequest request) {
    const std::time_t now = std::time(nullptr);
    const std::int64_t now_ms = unix_ms();
    const std::string_view path = request.path;
    const std::string_view method = request.method;

    if (path == "/admin/engines" && method == "GET") {
        wire::LocalResponse response;
        response.body = shared.engines.json();
        co_return response;
    }
    if (path.starts_with("/admin/engines/") && method == "POST") co_return engine_action(shared, path.substr(15));
    const std::shared_ptr<Generation> generation = shared.current();
    if (path == "/admin/reload" && method == "POST") co_return co_await reload(shared);
    if (path == "/admin/models" && method == "GET") co_return list_models(*generation);
    if (path == "/admin/keys" && method == "GET") co_return list_keys(shared, now);
    if (path == "/admin/keys" && method == "POST") {
        co_return co_await create_key(shared, *generation, request.body, now, now_ms);
    }
    if (path.starts_with("/admin/keys/") && method == "DELETE") {
        // (Percent-decoded: a name may hold any character; the console sends it encoded.)
        co_return co_await revoke_key(shared, console::percent_decode(path.substr(12), false), now_ms);
    }
    if (path.starts_with("/admin/keys/") && method == "PATCH") {
        co_return co_await update_key(shared, *generation, console::percent_decode(path.substr(12), false),
                                      request.body, now);
    }
    auto served = co_await console::data(shared, method, std::string(path), std::string(request.query));
    if (served) co_return std::move(*served);
    co_return error(ApiError::not_found("Invalid URL (" + std::string(method) + " " + std::string(path) + ")",
                                        "unknown_url"));
}

}  // namespace switchyard::server

namespace switchyard::server {

asio::awaitable<void> key_sync_loop(Shared& shared, std::chrono::milliseconds interval) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (!shared.draining.load()) {
        timer.expires_after(interval);
        co_await timer.async_wait(await_tuple);
        if (shared.draining.load() || !shared.ledger) break;
        const std::uint64_t version = shared.keys.version();
        auto stored = std::make_shared<std::vector<ledger::StoredKey>>();
        std::function<void(ledger::Store&)> load = [stored](ledger::Store& store) { *stored = store.load_keys(); };
        if (const auto failure = co_await shared.ledger->run(std::move(load))) {
            spdlog::debug("keys: the ledger's key table could not be read ({}); tried again in {} ms",
                          ledger::Ledger::what_failed(failure), interval.count());
            continue;  // what is known here stays
        }
        std::vector<auth::KeyStore::Stored> keys;
        for (const auto& key : *stored) {
            std::string why;
            auto policy = auth::policy_from_json(key.policy_json, &why);
            if (!policy) continue;  // (said at start-up, and by the instance that stored it)
            policy->sha256 = key.sha256;
            keys.push_back({std::move(*policy), key.created_ms});
        }
        const auto synced = shared.keys.sync(std::move(keys), version);
        if (!synced) continue;  // changed here meanwhile: read again next time
        for (const auto& name : synced->added) spdlog::info("keys: '{}' made through another instance", name);
        for (const auto& name : synced->updated) spdlog::info("keys: '{}' changed through another instance", name);
        for (const auto& name : synced->revoked) {
            forget_revoked(shared, name);
            spdlog::info("keys: '{}' revoked through another instance", name);
        }
    }
}

}  // namespace switchyard::server
