// Stage "account", pricing side: what one request cost. Cloud deployments are priced per token
// from the price catalog (data/prices.yaml, overridden by the config's `prices.models`); local
// ones by their upstream's cost model, its monthly cost spread over the tokens it is expected to
// serve a month (`switchyard cost` recomputes that from the tokens actually served). Resolved once
// per deployment at start-up; pricing a request is three multiplications.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "pricing/catalog.hpp"
#include "usage/usage.hpp"

namespace switchyard::account {

class Pricer {
public:
    // `warnings` receives one line per deployment that has no price (its requests cost 0).
    Pricer(const config::Gateway& config, const pricing::Catalog& catalog, std::vector<std::string>* warnings);

    double cost(const config::Deployment& deployment, const usage::Usage& usage) const;
    bool priced(const config::Deployment& deployment) const { return rates_[deployment.id].priced; }

private:
    struct Rate {
        double input = 0;  // dollars per token
        double cached = 0;
        double output = 0;
        bool priced = false;
        double web_search = 0;  // dollars per search
    };
    std::vector<Rate> rates_;  // by deployment id
};

// The catalog the config names, else data/prices.yaml in the working directory or the source tree.
// An empty catalog (with `why` set) when none can be read.
pricing::Catalog load_catalog(const config::Prices& prices, std::string* why);

}  // namespace switchyard::account
