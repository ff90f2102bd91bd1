// Stage "route": maps the public model name a caller sent to one deployment (an upstream plus the
// upstream's own model name). Pure routing policy: it reads upstream health through a query and
// knows nothing of HTTP. Tiers, balancing strategies and spill-over grow here.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/config.hpp"
#include "core/error.hpp"

namespace switchyard::route {

// Answers "may this upstream take traffic now?"; implemented by the health checker.
class HealthView {
public:
    virtual ~HealthView() = default;
    virtual bool usable(std::size_t upstream) const = 0;
};

class Router {
public:
    Router(const config::Gateway& config, const HealthView& health);

    // The deployments to try for `model`, best first: usable ones in round-robin order, then the
    // rest (a deployment marked down may have come back since its last check).
    std::variant<std::vector<const config::Deployment*>, ApiError> candidates(std::string_view model) const;

    // The OpenAI `/v1/models` list body.
    const std::string& models_body() const { return models_body_; }

    // The 404 for an unknown model: lists what is available and the closest name.
    ApiError unknown_model(std::string_view model) const;

private:
    struct Entry {
        const config::Model* model;
        std::unique_ptr<std::atomic<std::size_t>> next;  // round-robin cursor
    };
    const Entry* find(std::string_view name) const;

    const config::Gateway& config_;
    const HealthView& health_;
    std::vector<Entry> entries_;
    std::vector<std::string> names_;
    std::string models_body_;
};

}  // namespace switchyard::route
