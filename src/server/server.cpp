#include "server/server.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <thread>

#include "server/access_log.hpp"
#include "server/runtime.hpp"

namespace switchyard::server {

using tcp = asio::ip::tcp;

namespace {

std::vector<std::unique_ptr<upstream::Upstream>> make_upstreams(const config::Gateway& config) {
    std::vector<std::unique_ptr<upstream::Upstream>> out;
    for (const auto& upstream : config.upstreams) out.push_back(std::make_unique<upstream::Upstream>(upstream));
    return out;
}

asio::awaitable<void> accept_loop(Worker& worker, tcp::acceptor& acceptor) {
    asio::steady_timer backoff(worker.io);
    while (acceptor.is_open()) {
        auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
            // Out of file descriptors or a transient error: do not spin.
            spdlog::warn("accept failed: {}", ec.message());
            backoff.expires_after(std::chrono::milliseconds(20));
            co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
        }
        asio::co_spawn(worker.io, serve_connection(worker, std::move(socket)), asio::detached);
    }
}

}  // namespace

namespace {

pricing::Catalog catalog_for(const config::Gateway& config) {
    std::string why;
    pricing::Catalog catalog = account::load_catalog(config.prices, &why);
    if (!why.empty()) spdlog::warn("{}; requests to cloud deployments without a price in prices.models cost 0", why);
    return catalog;
}

}  // namespace

Shared::Shared(config::Gateway gateway)
    : config(std::move(gateway)),
      engines(config),
      upstreams(make_upstreams(config)),
      health(upstreams),
      routable(health, engines),
      router(config, routable),
      keys(config, system_clock()),
      catalog(catalog_for(config)),
      pricer(config, catalog, &price_warnings) {
    if (!config.ledger.url.empty()) {  // prices matter once costs are kept
        for (const auto& warning : price_warnings) spdlog::warn("{}", warning);
    }
    // An engine's requests in flight: the router's count over the deployments on its upstream.
    std::vector<std::vector<std::size_t>> engine_deployments(config.engines.size());
    for (const auto& model : config.models) {
        for (const auto& deployment : model.deployments) {
            if (const auto engine = config.upstreams[deployment.upstream].engine) {
                engine_deployments[*engine].push_back(deployment.id);
            }
        }
    }
    engines.set_in_flight([this, by_engine = std::move(engine_deployments)](std::size_t engine) {
        std::size_t total = 0;
        for (std::size_t id : by_engine[engine]) total += router.status(id).outstanding;
        return total;
    });
    bool token_limits = false;
    for (const auto& model : config.models) {
        model_limits.push_back(model.limits.any() ? std::make_unique<limit::RateLimiter>(model.limits, system_clock().now())
                                                  : nullptr);
        token_limits = token_limits || model.limits.tpm > 0;
        for (const auto& deployment : model.deployments) token_limits = token_limits || deployment.limits.tpm > 0;
    }
    for (const auto& key : config.keys) {
        token_limits = token_limits || key.limits.tpm > 0 || key.budget_daily > 0 || key.budget_monthly > 0;
    }
    if (!config.ledger.url.empty()) {
        ledger = std::make_unique<ledger::Ledger>(config.ledger, ledger::open_store(config.ledger.url));
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
        const std::time_t now = std::time(nullptr);
        for (const auto& spend : store.spend_since(limit::utc_day_start(now) * 1000LL, limit::utc_month_start(now) * 1000LL)) {
            if (auto key = keys.by_name(spend.key)) key->budget.load(spend.today_usd, spend.month_usd, now);
        }
        spdlog::info("ledger: {} (schema version {})", store.describe(), store.schema_version());
        ledger->start();
    }
    access_log = make_access_log(config.access_log);
    if (!config.state.url.empty()) fleet = std::make_unique<state::Fleet>(config, keys, router);
    accounting = ledger != nullptr || access_log != nullptr || token_limits;
}


Worker::Worker(Shared& shared_state) : shared(shared_state), forwarder(shared_state.config, shared_state.router, pools) {
    for (auto& upstream : shared.upstreams) {
        pools.push_back(std::make_unique<upstream::Pool>(*upstream, io.get_executor()));
    }
    if (shared.fleet) state = shared.fleet->connect(io);
}

Server::Server(config::Gateway config) : shared_(std::make_unique<Shared>(std::move(config))) {
    for (unsigned i = 0; i < shared_->config.server.io_threads; ++i) {
        workers_.push_back(std::make_unique<Worker>(*shared_));
        shared_->workers.push_back(workers_.back().get());
    }
}

Server::~Server() = default;

std::vector<std::uint16_t> Server::bind() {
    std::vector<std::uint16_t> ports;
    for (const auto& listener : shared_->config.listeners) {
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
    }
    shared_->health.start(workers_.front()->io.get_executor());
    shared_->engines.start();
    if (shared_->fleet) shared_->fleet->start(workers_.front()->io, *workers_.front()->state);

    std::vector<std::thread> threads;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    for (auto& worker : workers_) {
        guards.push_back(asio::make_work_guard(worker->io));
        threads.emplace_back([&io = worker->io] { io.run(); });
    }

    asio::io_context signals_io;
    asio::signal_set signals(signals_io, SIGTERM, SIGINT);
    int received = 0;
    signals.async_wait([&](const boost::system::error_code& ec, int signal) {
        if (!ec) received = signal;
    });
    signals_io.run();
    spdlog::info("received signal {}; draining ({} requests in flight)", received, shared_->in_flight.load());

    const bool abandoned = drain_and_stop();
    guards.clear();
    for (auto& thread : threads) thread.join();
    // The I/O threads are gone: release the probe timers here, while their io_context still
    // exists (the stop posted while draining may not have run).
    shared_->health.stop();
    shared_->engines.stop();  // every engine stopped, none left behind
    if (shared_->ledger) {
        shared_->ledger->stop();  // writes every queued row
        const auto stats = shared_->ledger->stats();
        spdlog::info("ledger: {} rows written, {} dropped", stats.written, stats.dropped);
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
            if (first) worker.shared.health.stop();
        });
    }
    const auto deadline = std::chrono::steady_clock::now() + shared_->config.server.shutdown_grace;
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
