// Active health checks: each upstream's health path (by type: llama-server and vLLM "/health",
// Ollama "/api/version", OpenAI-style "/v1/models") is probed on an interval with a timeout;
// `unhealthy_threshold` failed probes in a row (a non-2xx answer or none) take the upstream out of
// routing; `healthy_threshold` passed probes in a row bring it back. What the checks found lives
// on the Upstream, so a config reload that keeps an upstream keeps its health.
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
    explicit HealthChecker(std::vector<std::shared_ptr<Upstream>> upstreams);
    ~HealthChecker() override;

    bool usable(std::size_t upstream) const override;
    bool any_usable() const;

    // Starts one probe loop per upstream with checks enabled, on `executor`; they end at `stop()`,
    // which must run on that executor's thread (or once it no longer runs). The loops keep what
    // they use alive, so the checker may be destroyed before they end.
    void start(asio::any_io_executor executor);
    void stop();

    struct Loops;  // what the probe loops share (defined in health.cpp)

private:
    std::vector<std::shared_ptr<Upstream>> upstreams_;
    std::shared_ptr<Loops> loops_;
};

}  // namespace switchyard::upstream
