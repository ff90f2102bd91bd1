#include "upstream/health.hpp"

#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "core/await.hpp"

namespace switchyard::upstream {

namespace http = beast::http;

namespace {
asio::awaitable<bool> probe_once(Pool& pool);
}

// What the probe loops share; each loop holds it, so it outlives the checker if need be.
struct HealthChecker::Loops {
    std::atomic<bool> stopped{false};
    std::vector<std::shared_ptr<asio::steady_timer>> timers;  // touched on the executor's thread only
};

namespace {

asio::awaitable<void> probe_loop(std::shared_ptr<Upstream> upstream_ptr, std::shared_ptr<HealthChecker::Loops> loops,
                                 std::shared_ptr<asio::steady_timer> timer, asio::any_io_executor executor);

}  // namespace

HealthChecker::HealthChecker(std::vector<std::shared_ptr<Upstream>> upstreams)
    : upstreams_(std::move(upstreams)), loops_(std::make_shared<Loops>()) {}

HealthChecker::~HealthChecker() { loops_->stopped = true; }

bool HealthChecker::usable(std::size_t upstream) const {
    return upstreams_[upstream]->healthy.load(std::memory_order_relaxed);
}

bool HealthChecker::any_usable() const {
    for (std::size_t i = 0; i < upstreams_.size(); ++i) {
        if (usable(i)) return true;
    }
    return false;
}

void HealthChecker::start(asio::any_io_executor executor) {
    for (const auto& upstream : upstreams_) {
        if (!upstream->config().health.enabled) continue;
        auto timer = std::make_shared<asio::steady_timer>(executor);
        loops_->timers.push_back(timer);
        asio::co_spawn(executor, probe_loop(upstream, loops_, std::move(timer), executor), asio::detached);
    }
}

void HealthChecker::stop() {
    loops_->stopped = true;
    for (auto& timer : loops_->timers) timer->cancel();
    loops_->timers.clear();  // the probe loops hold their own references until they end
}

namespace {

asio::awaitable<void> probe_loop(std::shared_ptr<Upstream> upstream_ptr, std::shared_ptr<HealthChecker::Loops> loops,
                                 std::shared_ptr<asio::steady_timer> timer, asio::any_io_executor executor) {
    Upstream& upstream = *upstream_ptr;
    Pool pool(upstream, executor);
    const auto& health = upstream.config().health;
    std::size_t passed = 0;
    std::size_t failed = 0;
    while (!loops->stopped) {
        const bool ok = co_await probe_once(pool);
        if (loops->stopped) break;  // replaced by a reload's checker meanwhile: it decides now
        passed = ok ? passed + 1 : 0;
        failed = ok ? 0 : failed + 1;
        const bool was_usable = upstream.healthy.load();
        if (!was_usable && passed >= health.healthy_threshold) {
            upstream.healthy.store(true);
            spdlog::info("upstream {} is healthy again", upstream.config().name);
        } else if (was_usable && failed >= health.unhealthy_threshold) {
            upstream.healthy.store(false);
            spdlog::warn("upstream {} failed {} health check(s) in a row ({}); it takes no traffic until one passes",
                         upstream.config().name, failed, health.path);
        }
        timer->expires_after(health.interval);
        auto [ec] = co_await timer->async_wait(await_tuple);
        if (ec) break;
    }
}

asio::awaitable<bool> probe_once(Pool& pool) {
    const auto& config = pool.upstream().config();
    auto acquired = co_await pool.acquire(true, /*bounded=*/false);
    if (std::holds_alternative<ConnectError>(acquired)) co_return false;
    auto connection = std::move(std::get<std::unique_ptr<Connection>>(acquired));

    http::request<http::empty_body> request{http::verb::get, config.health.path, 11};
    request.set(http::field::host, config.url.host_header());
    request.set(http::field::user_agent, "switchyard-health");
    if (config.type == config::UpstreamType::anthropic) {
        if (!config.api_key.empty()) request.set("x-api-key", config.api_key);
        request.set("anthropic-version", config::kAnthropicVersion);
    } else if (!config.api_key.empty()) {
        request.set(http::field::authorization, "Bearer " + config.api_key);
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);

    connection->tcp().expires_after(config.health.timeout);
    auto [write_ec, written] = co_await connection->visit([&](auto& stream) {
        return http::async_write(stream, request, await_tuple_framed);
    });
    if (write_ec) co_return false;
    auto [read_ec, read] = co_await connection->visit([&](auto& stream) {
        return http::async_read(stream, connection->buffer, parser, await_tuple_framed);
    });
    if (read_ec) co_return false;
    connection->tcp().expires_never();
    const bool ok = parser.get().result_int() / 100 == 2;
    if (parser.get().keep_alive()) pool.release(std::move(connection));
    co_return ok;
}

}  // namespace

}  // namespace switchyard::upstream
