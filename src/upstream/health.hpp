// Active health checks: each upstream's health path (by type: llama-server and vLLM "/health",
// Ollama "/api/version", OpenAI-style "/v1/models") is probed on an interval with a timeout;
// `unhealthy_threshold` failed probes in a row (a non-2xx answer or none) take the upstream out of
// routing; `healthy_threshold` passed probes in a row bring it back.
#pragma once

#include <boost/asio.hpp>

#include <atomic>
#include <memory>
#include <vector>

#include "route/router.hpp"
#include "upstream/pool.hpp"

namespace switchyard::upstream {

class HealthChecker final : public route::HealthView {
public:
    explicit HealthChecker(std::vector<std::unique_ptr<Upstream>>& upstreams);

    bool usable(std::size_t upstream) const override;
    bool any_usable() const;

    // Starts one probe loop per upstream with checks enabled, on `executor`; they end at `stop()`.
    void start(asio::any_io_executor executor);
    void stop();

private:
    asio::awaitable<void> probe_loop(std::size_t index, asio::any_io_executor executor);
    asio::awaitable<bool> probe_once(Pool& pool);

    std::vector<std::unique_ptr<Upstream>>& upstreams_;
    std::unique_ptr<std::atomic<bool>[]> usable_;
    std::atomic<bool> stopped_{false};
    std::vector<std::shared_ptr<asio::steady_timer>> timers_;
};

}  // namespace switchyard::upstream
