#include "account/pricer.hpp"

#include <filesystem>

namespace switchyard::account {

Pricer::Pricer(const config::Gateway& config, const pricing::Catalog& catalog, std::vector<std::string>* warnings)
    : rates_(config.deployment_count) {
    for (const auto& model : config.models) {
        for (const auto& deployment : model.deployments) {
            const auto& upstream = config.upstreams[deployment.upstream];
            Rate& rate = rates_[deployment.id];
            if (upstream.local) {
                if (upstream.cost && upstream.cost->tokens_per_month > 0) {
                    const double per_token = upstream.cost->monthly_usd() / upstream.cost->tokens_per_month;
                    rate = Rate{per_token, per_token, per_token, true};
                } else if (warnings) {
                    warnings->push_back("local deployment '" + deployment.name + "' of model '" + model.name +
                                        "' has no cost model with tokens_per_month; its requests are priced at 0");
                }
                continue;
            }
            const auto override_for = [&](const std::string& name) -> const std::array<double, 3>* {
                auto it = config.prices.models.find(name);
                return it == config.prices.models.end() ? nullptr : &it->second;
            };
            const std::array<double, 3>* own = override_for(deployment.model);
            if (own == nullptr) own = override_for(model.name);
            if (own != nullptr) {
                rate = Rate{(*own)[0] / 1e6, (*own)[1] / 1e6, (*own)[2] / 1e6, true};
            } else if (const pricing::Price* price = catalog.find(deployment.model)) {
                rate = Rate{price->input / 1e6, price->cached_input / 1e6, price->output / 1e6, true, price->web_search / 1e3};
            } else if (warnings) {
                warnings->push_back("cloud deployment '" + deployment.name + "' of model '" + model.name +
                                    "': no price for '" + deployment.model +
                                    "' in the catalog or prices.models; its requests are priced at 0");
            }
        }
    }
}

double Pricer::cost(const config::Deployment& deployment, const usage::Usage& usage) const {
    const Rate& rate = rates_[deployment.id];
    const auto cached = std::min(usage.cached, usage.prompt);
    return static_cast<double>(usage.prompt - cached) * rate.input + static_cast<double>(cached) * rate.cached +
           static_cast<double>(usage.completion) * rate.output + static_cast<double>(usage.web_searches) * rate.web_search;
}

pricing::Catalog load_catalog(const config::Prices& prices, std::string* why) {
    std::string path = prices.catalog;
    if (path.empty()) {
        for (const std::string& candidate :
             {std::string("data/prices.yaml"), std::string(SWITCHYARD_SOURCE_DIR) + "/data/prices.yaml"}) {
            std::error_code ec;
            if (std::filesystem::exists(candidate, ec)) {
                path = candidate;
                break;
            }
        }
    }
    if (path.empty()) {
        if (why) *why = "no price catalog found (data/prices.yaml); set prices.catalog";
        return {};
    }
    auto loaded = pricing::load_catalog_file(path);
    if (!loaded.catalog) {
        if (why) *why = "price catalog '" + path + "': " + (loaded.errors.empty() ? "unreadable" : loaded.errors.front());
        return {};
    }
    return std::move(*loaded.catalog);
}

}  // namespace switchyard::account
