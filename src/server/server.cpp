#include "server/server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "console/samples.hpp"
#include "console/sessions.hpp"
#include "core/await.hpp"
#include "core/clock.hpp"
#include "account/access_log.hpp"
#include "server/admin.hpp"
#include "server/overload.hpp"
#include "server/runtime.hpp"

namespace switchyard::server {

using tcp = asio::ip::tcp;

namespace {

// The config file's text, for GET /admin/config (empty when it cannot be read).
std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}


asio::awaitable<void> accept_loop(Worker& worker, tcp::acceptor& acceptor) {
    asio::steady_timer backoff(worker.io);
    overload::AcceptErrors errors(worker.shared.accept_errors);
    while (acceptor.is_open()) {
        auto [ec, socket] = co_await acceptor.async_accept(await_tuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
            // Out of file descriptors or a transient error: do not spin.
            errors.failed(ec, std::chrono::steady_clock::now());
            backoff.expires_after(std::chrono::milliseconds(20));
            co_await backoff.async_wait(await_tuple);
            continue;
        }
        // Near the cap, idle connections make room; at it, the new one is told to come back.
        const std::size_t cap = overload::connection_cap(worker.local->generation->config.server, worker.shared.fd_limit);
        const std::size_t open = worker.shared.open_connections.load(std::memory_order_relaxed);
        if (overload::near_cap(open + 1, cap)) {
            const std::size_t shed = shed_idle(worker, overload::to_shed(open + 1, cap));
            worker.shared.connections_shed.fetch_add(shed, std::memory_order_relaxed);
            if (open - std::min(open, shed) >= cap) {
                worker.shared.connections_refused.fetch_add(1, std::memory_order_relaxed);
                overload::refuse(socket);
                continue;
            }
        }
        asio::co_spawn(worker.io, serve_connection(worker, std::move(socket)), asio::detached);
    }
}

// Enforces the deadlines of one worker's caller connections (keep-alive, request read, writes) and
// of the requests they forward (upstream first byte and idle; the hang-up watch), ten times per
// shortest timeout (every 5 to 250 ms), instead of a timer armed and cancelled per operation.
asio::awaitable<void> sweep_deadlines(Worker& worker) {
    asio::steady_timer tick(worker.io);
    while (true) {
        const auto& config = worker.local->generation->config;
        auto shortest = std::min(config.server.request_read_timeout, config.server.keepalive_timeout);
        for (const auto& upstream : config.upstreams) {
            shortest = std::min({shortest, upstream.timeouts.first_byte, upstream.timeouts.idle});
        }
        if (config.server.stream_keepalive.count() > 0) shortest = std::min(shortest, config.server.stream_keepalive);
        tick.expires_after(std::clamp<config::Duration>(shortest / 10, std::chrono::milliseconds(5),
                                                        std::chrono::milliseconds(250)));
        auto [ec] = co_await tick.async_wait(await_tuple);
        if (ec) co_return;
        const SteadyTime now = std::chrono::steady_clock::now();
        for (ClientConnection* connection : worker.connections) check_deadline(*connection, now);
    }
}

pricing::Catalog catalog_for(const config::Gateway& config) {
    std::string why;
    pricing::Catalog catalog = account::load_catalog(config.prices, &why);
    if (!why.empty()) spdlog::warn("{}; requests to cloud deployments without a price in prices.models cost 0", why);
    return catalog;
}

// The previous generation's upstream object when this upstream is configured exactly as before
// (it keeps its connections, DNS cache and health), else a new one.
std::vector<std::shared_ptr<upstream::Upstream>> make_upstreams(const config::Gateway& config,
                                                                const Generation* previous) {
    std::vector<std::shared_ptr<upstream::Upstream>> out;
    for (const auto& wanted : config.upstreams) {
        std::shared_ptr<upstream::Upstream> found;
        if (previous != nullptr) {
            for (const auto& old : previous->upstreams) {
                if (old->config() == wanted) {
                    found = old;
                    break;
                }
            }
        }
        out.push_back(found ? std::move(found) : std::make_shared<upstream::Upstream>(wanted));
    }
    return out;
}


}  // namespace

Generation::Generation(config::Gateway gateway, std::uint64_t generation_number, const engine::Supervisor& engines,
                       const Generation* previous)
    : number(generation_number),
      config(std::move(gateway)),
      upstreams(make_upstreams(config, previous)),
      health(upstreams),
      routable(health, engines, config.upstreams),
      router(config, routable, system_clock(), previous != nullptr ? &previous->router : nullptr),
      catalog(catalog_for(config)),
      pricer(config, catalog, &price_warnings) {
    for (const auto& model : config.models) {
        std::shared_ptr<limit::RateLimiter> limiter;
        if (model.limits.any()) {
            // A model limited as before keeps its buckets.
            if (previous != nullptr) {
                const config::Model* old = previous->config.find_model(model.name);
                if (old != nullptr && old->limits == model.limits) {
                    limiter = previous->model_limits[static_cast<std::size_t>(old - previous->config.models.data())];
                }
            }
            if (!limiter) limiter = std::make_shared<limit::RateLimiter>(model.limits, system_clock().now());
        }
        model_limits.push_back(std::move(limiter));
        // A queue's fair share counts the tokens requests used (route::Router::correct_tokens).
        token_limits = token_limits || model.limits.tpm > 0 || model.queue_size > 0;
        for (const auto& deployment : model.deployments) token_limits = token_limits || deployment.limits.tpm > 0;
    }
    for (const auto& key : config.keys) {
        token_limits = token_limits || key.limits.tpm > 0 || key.budget_daily > 0 || key.budget_monthly > 0;
    }
}

Local::Local(std::shared_ptr<Generation> current, asio::any_io_executor executor, const Local* previous)
    : generation(std::move(current)), forwarder(generation->config, generation->router, pools) {
    for (const auto& upstream : generation->upstreams) {
        std::shared_ptr<upstream::Pool> pool;
        if (previous != nullptr) {
            for (std::size_t i = 0; i < previous->generation->upstreams.size(); ++i) {
                if (previous->generation->upstreams[i] == upstream) {
                    pool = previous->pools[i];  // same upstream: its idle connections stay
                    break;
                }
            }
        }
        pools.push_back(pool ? std::move(pool) : std::make_shared<upstream::Pool>(*upstream, executor));
    }
}

Shared::Shared(config::Gateway gateway, std::string path)
    : boot(std::move(gateway)),
      engines_as_written(boot.engines),
      config_path(std::move(path)),
      engines(boot),
      keys(boot, system_clock()),
      console_sessions(boot.console.max_sessions, boot.console.session_ttl, system_clock()),
      samples(static_cast<std::size_t>(std::clamp<std::int64_t>(
          std::chrono::hours(3) / std::max(boot.console.sample_interval, config::Duration(1)), 60, 10'800))) {
    current_ = std::make_shared<Generation>(boot, 1, engines, nullptr);
    if (!config_path.empty()) config_text.set(1, read_text(config_path));
    if (!boot.ledger.url.empty()) {  // prices matter once costs are kept
        for (const auto& warning : current_->price_warnings) spdlog::warn("{}", warning);
    }
    // An engine's requests in flight: the router's count over the deployments on its upstream.
    engines.set_in_flight([this](std::size_t engine) {
        const auto generation = current();
        std::size_t total = 0;
        for (const auto& model : generation->config.models) {
            for (const auto& deployment : model.deployments) {
                if (generation->config.upstreams[deployment.upstream].engine == engine) {
                    total += generation->router.status(deployment.id).outstanding;
                }
            }
        }
        return total;
    });
    if (!boot.ledger.url.empty()) {
        ledger = std::make_unique<ledger::Ledger>(boot.ledger, ledger::open_store(boot.ledger.url));
        ledger::Store& store = ledger->store();
        store.migrate();
        // Keys created through the admin API, and what every key spent so far this day and month.
        for (const auto& stored : store.load_keys()) {
            std::string why;
            auto policy = auth::policy_from_json(stored.policy_json, &why);
            if (!policy) {
                spdlog::error("ledger: key '{}' has an unreadable policy ({}); it is not loaded", stored.name, why);
                continue;
            }
            policy->sha256 = stored.sha256;
            if (!keys.add(std::move(*policy), stored.created_ms)) {
                spdlog::warn("ledger: key '{}' clashes with a key of the config file; the config's wins", stored.name);
            }
        }
        // Console sign-ins a previous run kept (without a fleet: with one, Redis keeps them).
        if (boot.state.url.empty()) {
            const std::int64_t now_ms = unix_ms();
            for (auto& kept : store.load_sessions(now_ms)) {
                auto session = console::decode(kept.fields);
                if (!session) continue;
                console_sessions.adopt_digest(std::move(kept.digest), std::move(*session),
                                              std::chrono::milliseconds(kept.expires_ms - now_ms));
            }
        }
        // Rows a previous run spooled (its database down) are not in the store yet: counted too.
        const std::time_t now = std::time(nullptr);
        const std::int64_t day_ms = limit::utc_day_start(now) * 1000LL;
        const std::int64_t month_ms = limit::utc_month_start(now) * 1000LL;
        std::map<std::string, ledger::Spend, std::less<>> spent;
        for (auto source : {store.spend_since(day_ms, month_ms), ledger->spooled_spend(day_ms, month_ms)}) {
            for (const auto& spend : source) {
                ledger::Spend& total = spent[spend.key];
                total.today_usd += spend.today_usd;
                total.month_usd += spend.month_usd;
            }
        }
        for (const auto& [name, spend] : spent) {
            if (auto key = keys.by_name(name)) key->budget.load(spend.today_usd, spend.month_usd, now);
        }
        spdlog::info("ledger: {} (schema version {}), spool in {} (at most {} bytes)", store.describe(),
                     store.schema_version(), boot.ledger.spool_dir, boot.ledger.spool_max_bytes);
        ledger->start();
    }
    access_log = account::AccessLog::make(boot.access_log);
    if (boot.server.responses_store_bytes > 0) {
        conversations = std::make_unique<conversation::Store>(
            boot.server.responses_store_bytes,
            std::chrono::duration_cast<std::chrono::seconds>(boot.server.responses_store_ttl), system_clock());
    }
    last_reload_ok_ms = unix_ms();
    if (!boot.state.url.empty()) {
        fleet = std::make_unique<state::Fleet>(boot, keys);
        bind_fleet(current_);
    }
}

void Shared::bind_fleet(const std::shared_ptr<Generation>& generation) {
    fleet->bind(state::Fleet::Binding{generation, &generation->config, &generation->router});
}

std::shared_ptr<Generation> Shared::current() const {
    std::lock_guard lock(current_mutex_);
    return current_;
}

namespace {

// What differs between the running config and `next` that only a restart can apply.
std::vector<std::string> needs_restart(const Shared& shared, const config::Gateway& next) {
    std::vector<std::string> out;
    const auto& boot = shared.boot;
    if (next.listeners != boot.listeners) out.emplace_back("listeners changed");
    if (next.server.io_threads != boot.server.io_threads) out.emplace_back("server.io_threads changed");
    // (An engine's upstream index may shift when upstreams are added: not a change of the engine.)
    const auto without_index = [](std::vector<config::Engine> engines) {
        for (auto& engine : engines) engine.upstream = 0;
        return engines;
    };
    if (without_index(next.engines) != without_index(shared.engines_as_written)) out.emplace_back("engines changed");
    if (next.gpu_groups != boot.gpu_groups) out.emplace_back("gpu_groups changed");
    // The supervisor's budget and store: fixed while it runs (a gateway without engines has none).
    if (!boot.engines.empty() && next.host_memory != boot.host_memory) out.emplace_back("host_memory changed");
    if (!boot.engines.empty() && next.models_dir != boot.models_dir) out.emplace_back("models_dir changed");
    if (next.ledger != boot.ledger) out.emplace_back("ledger changed");
    if (next.access_log != boot.access_log) out.emplace_back("access_log changed");
    if (next.state != boot.state) out.emplace_back("state changed");
    if (next.console != boot.console) out.emplace_back("console changed");
    for (auto& reason : out) reason += " (applied only by a restart; nothing was changed)";
    return out;
}

}  // namespace

ReloadResult Shared::reload() {
    std::lock_guard one_at_a_time(reload_mutex_);
    const auto previous = current();
    ReloadResult result;
    result.generation = previous->number;
    const auto refuse = [&](std::vector<std::string> errors) {
        result.errors = std::move(errors);
        reloads_refused.fetch_add(1);
        std::string joined;
        for (const auto& error : result.errors) joined += (joined.empty() ? "" : "; ") + error;
        spdlog::error("config reload refused, generation {} keeps serving: {}", previous->number, joined);
        return result;
    };
    if (config_path.empty()) return refuse({"the gateway was not started from a config file"});
    if (draining.load()) return refuse({"the gateway is shutting down"});

    const std::string text = read_text(config_path);
    auto loaded = config::load_file(config_path);
    if (!loaded.gateway) {
        std::vector<std::string> errors;
        for (const auto& error : loaded.errors) errors.push_back(config::to_string(error));
        return refuse(std::move(errors));
    }
    config::Gateway next_config = std::move(*loaded.gateway);
    if (auto reasons = needs_restart(*this, next_config); !reasons.empty()) return refuse(std::move(reasons));
    engines.bind(next_config);  // the running engines' ports

    std::shared_ptr<Generation> next;
    try {
        next = std::make_shared<Generation>(std::move(next_config), previous->number + 1, engines, previous.get());
    } catch (const std::exception& e) {
        return refuse({std::string("the new config cannot be applied: ") + e.what()});
    }
    if (ledger) {
        for (const auto& warning : next->price_warnings) spdlog::warn("{}", warning);
    }

    // Apply: keys first (new requests authenticate against the new file), then every I/O thread
    // takes the new generation; requests already running finish on the one they started with.
    const auto keys_changed = keys.reconfigure(next->config);
    config_text.set(next->number, text);
    {
        std::lock_guard lock(current_mutex_);
        current_ = next;
    }
    if (fleet) bind_fleet(next);
    for (std::size_t i = 0; i < workers.size(); ++i) {
        Worker& worker = *workers[i];
        asio::post(worker.io, [&worker, next, previous, first = i == 0] {
            worker.local = std::make_shared<Local>(next, worker.io.get_executor(), worker.local.get());
            if (first) {  // the probe timers live on the first thread
                previous->health.stop();
                next->health.start(worker.io.get_executor());
            }
        });
    }
    std::size_t kept_upstreams = 0;
    for (const auto& upstream : next->upstreams) {
        for (const auto& old : previous->upstreams) kept_upstreams += old == upstream ? 1 : 0;
    }
    result.ok = true;
    result.generation = next->number;
    result.summary = std::to_string(next->config.models.size()) + " models, " +
                     std::to_string(next->config.upstreams.size()) + " upstreams (" + std::to_string(kept_upstreams) +
                     " unchanged), " + std::to_string(next->config.deployment_count) + " deployments; keys: " +
                     std::to_string(keys_changed.added) + " added, " + std::to_string(keys_changed.changed) +
                     " changed, " + std::to_string(keys_changed.removed) + " removed";
    reloads_applied.fetch_add(1);
    last_reload_ok_ms = unix_ms();
    spdlog::info("config reloaded from {}: generation {} ({})", config_path, next->number, result.summary);
    return result;
}

Worker::Worker(Shared& shared_state) : shared(shared_state) {
    local = std::make_shared<Local>(shared.current(), io.get_executor(), nullptr);
    if (shared.fleet) state = shared.fleet->connect(io);
}

Server::Server(config::Gateway config, std::string config_path)
    : signals_(control_, SIGTERM, SIGINT, SIGHUP),
      shared_(std::make_unique<Shared>(std::move(config), std::move(config_path))) {
    shared_->fd_limit = overload::raise_fd_limit();
    spdlog::info("file descriptors: {}; caller connections kept open: at most {}", shared_->fd_limit,
                 overload::connection_cap(shared_->boot.server, shared_->fd_limit));
    for (unsigned i = 0; i < shared_->boot.server.io_threads; ++i) {
        workers_.push_back(std::make_unique<Worker>(*shared_));
        shared_->workers.push_back(workers_.back().get());
    }
    shared_->request_reload = [this](std::function<void(ReloadResult)> done) {
        asio::post(control_, [this, done = std::move(done)] { done(shared_->reload()); });
    };
}

Server::~Server() = default;

std::vector<std::uint16_t> Server::bind() {
    std::vector<std::uint16_t> ports;
    for (const auto& listener : shared_->boot.listeners) {
        const tcp::endpoint requested(asio::ip::make_address(listener.address), listener.port);
        std::uint16_t port = listener.port;
        for (auto& worker : workers_) {
            tcp::acceptor acceptor(worker->io);
            const tcp::endpoint endpoint(requested.address(), port);
            acceptor.open(endpoint.protocol());
            acceptor.set_option(asio::socket_base::reuse_address(true));
            const int one = 1;
            ::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
            acceptor.bind(endpoint);
            acceptor.listen(asio::socket_base::max_listen_connections);
            port = acceptor.local_endpoint().port();  // later threads share the port the first got
            worker->acceptors.push_back(std::move(acceptor));
        }
        ports.push_back(port);
    }
    return ports;
}

int Server::run() {
    if (workers_.front()->acceptors.empty()) bind();
    for (auto& worker : workers_) {
        for (auto& acceptor : worker->acceptors) {
            asio::co_spawn(worker->io, accept_loop(*worker, acceptor), asio::detached);
        }
        asio::co_spawn(worker->io, sweep_deadlines(*worker), asio::detached);
    }
    const auto first = shared_->current();
    first->health.start(workers_.front()->io.get_executor());
    shared_->engines.start();
    if (shared_->fleet) shared_->fleet->start(workers_.front()->io, *workers_.front()->state);
    asio::co_spawn(workers_.front()->io, console::sample_loop(*shared_, shared_->boot.console.sample_interval),
                   asio::detached);
    if (shared_->ledger && shared_->boot.ledger.key_sync.count() > 0) {
        asio::co_spawn(workers_.front()->io,
                       key_sync_loop(*shared_, std::chrono::duration_cast<std::chrono::milliseconds>(shared_->boot.ledger.key_sync)),
                       asio::detached);
    }

    std::vector<std::thread> threads;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    for (auto& worker : workers_) {
        guards.push_back(asio::make_work_guard(worker->io));
        threads.emplace_back([&io = worker->io] { io.run(); });
    }

    // This thread runs the control loop: signals, and reloads asked for through the admin API.
    int received = 0;
    std::function<void()> wait_signal;
    wait_signal = [&] {
        signals_.async_wait([&](const boost::system::error_code& ec, int signal) {
            if (ec) return;
            if (signal == SIGHUP) {
                spdlog::info("received SIGHUP; reloading {}", shared_->config_path);
                shared_->reload();
                wait_signal();
                return;
            }
            received = signal;
            control_.stop();
        });
    };
    wait_signal();
    control_.run();
    spdlog::info("received signal {}; draining ({} requests in flight)", received, shared_->in_flight.load());

    const bool abandoned = drain_and_stop();
    guards.clear();
    for (auto& thread : threads) thread.join();
    // The I/O threads are gone: release the probe timers here, while their io_context still
    // exists (the stop posted while draining may not have run).
    shared_->current()->health.stop();
    shared_->engines.stop();  // every engine stopped, none left behind
    if (shared_->ledger) {
        shared_->ledger->stop();  // writes every queued row
        const auto stats = shared_->ledger->stats();
        spdlog::info("ledger: {} rows written, {} spooled, {} replayed, {} lost", stats.written, stats.spooled,
                     stats.replayed, stats.lost);
    }
    if (shared_->access_log) shared_->access_log->flush();
    spdlog::info("stopped");
    if (abandoned) {
        // Requests still in flight hold sockets in coroutine frames; leave without unwinding them.
        spdlog::shutdown();
        std::_Exit(0);
    }
    return 0;
}

bool Server::drain_and_stop() {
    shared_->draining = true;
    if (shared_->fleet) shared_->fleet->stop();
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        Worker& worker = *workers_[i];
        asio::post(worker.io, [&worker, first = i == 0] {
            boost::system::error_code ignored;
            for (auto& acceptor : worker.acceptors) acceptor.close(ignored);
            for (auto* connection : worker.connections) close_if_idle(*connection);
            if (first) worker.shared.current()->health.stop();
        });
    }
    const auto deadline = std::chrono::steady_clock::now() + shared_->current()->config.server.shutdown_grace;
    while (std::chrono::steady_clock::now() < deadline &&
           (shared_->in_flight.load() > 0 || shared_->open_connections.load() > 0)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const std::size_t abandoned = shared_->in_flight.load();
    if (abandoned > 0) spdlog::warn("shutdown grace period over; abandoning {} requests in flight", abandoned);
    for (auto& worker : workers_) worker->io.stop();
    return abandoned > 0;
}

}  // namespace switchyard::server
