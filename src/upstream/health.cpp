#include "upstream/health.hpp"

#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

namespace switchyard::upstream {

namespace http = beast::http;

HealthChecker::HealthChecker(std::vector<std::unique_ptr<Upstream>>& upstreams)
    : upstreams_(upstreams), usable_(new std::atomic<bool>[upstreams.size()]) {
    for (std::size_t i = 0; i < upstreams.size(); ++i) usable_[i].store(true);
}

bool HealthChecker::usable(std::size_t upstream) const { return usable_[upstream].load(std::memory_order_relaxed); }

bool HealthChecker::any_usable() const {
    for (std::size_t i = 0; i < upstreams_.size(); ++i) {
        if (usable(i)) return true;
    }
    return false;
}

void HealthChecker::start(asio::any_io_executor executor) {
    for (std::size_t i = 0; i < upstreams_.size(); ++i) {
        if (!upstreams_[i]->config().health.enabled) continue;
        asio::co_spawn(executor, probe_loop(i, executor), asio::detached);
    }
}

void HealthChecker::stop() {
    stopped_ = true;
    for (auto& timer : timers_) timer->cancel();
    timers_.clear();  // the probe loops hold their own references until they end
}

asio::awaitable<void> HealthChecker::probe_loop(std::size_t index, asio::any_io_executor executor) {
    Upstream& upstream = *upstreams_[index];
    Pool pool(upstream, executor);
    auto timer = std::make_shared<asio::steady_timer>(executor);
    timers_.push_back(timer);
    const auto& health = upstream.config().health;
    std::size_t passed = 0;
    std::size_t failed = 0;
    while (!stopped_) {
        const bool ok = co_await probe_once(pool);
        passed = ok ? passed + 1 : 0;
        failed = ok ? 0 : failed + 1;
        const bool was_usable = usable_[index].load();
        if (!was_usable && passed >= health.healthy_threshold) {
            usable_[index].store(true);
            spdlog::info("upstream {} is healthy again", upstream.config().name);
        } else if (was_usable && failed >= health.unhealthy_threshold) {
            usable_[index].store(false);
            spdlog::warn("upstream {} failed {} health check(s) in a row ({}); it takes no traffic until one passes",
                         upstream.config().name, failed, health.path);
        }
        timer->expires_after(upstream.config().health.interval);
        auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) break;
    }
}

asio::awaitable<bool> HealthChecker::probe_once(Pool& pool) {
    const auto& config = pool.upstream().config();
    auto acquired = co_await pool.acquire(true, /*bounded=*/false);
    if (std::holds_alternative<ConnectError>(acquired)) co_return false;
    auto connection = std::move(std::get<std::unique_ptr<Connection>>(acquired));

    http::request<http::empty_body> request{http::verb::get, config.health.path, 11};
    request.set(http::field::host, config.url.host_header());
    request.set(http::field::user_agent, "switchyard-health");
    if (!config.api_key.empty()) request.set(http::field::authorization, "Bearer " + config.api_key);
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);

    connection->tcp().expires_after(config.health.timeout);
    auto [write_ec, written] = co_await connection->visit([&](auto& stream) {
        return http::async_write(stream, request, asio::as_tuple(asio::use_awaitable));
    });
    if (write_ec) co_return false;
    auto [read_ec, read] = co_await connection->visit([&](auto& stream) {
        return http::async_read(stream, connection->buffer, parser, asio::as_tuple(asio::use_awaitable));
    });
    if (read_ec) co_return false;
    connection->tcp().expires_never();
    const bool ok = parser.get().result_int() / 100 == 2;
    if (parser.get().keep_alive()) pool.release(std::move(connection));
    co_return ok;
}

}  // namespace switchyard::upstream
