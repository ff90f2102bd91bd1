#include "route/router.hpp"

#include <algorithm>
#include <ctime>

#include "core/text.hpp"

namespace switchyard::route {

Router::Router(const config::Gateway& config, const HealthView& health) : config_(config), health_(health) {
    const auto created = static_cast<long long>(std::time(nullptr));
    models_body_ = R"({"object":"list","data":[)";
    for (const auto& model : config.models) {
        entries_.push_back(Entry{&model, std::make_unique<std::atomic<std::size_t>>(0)});
        names_.push_back(model.name);
        if (models_body_.back() != '[') models_body_ += ',';
        models_body_ += R"({"id":)";
        append_json_string(models_body_, model.name);
        models_body_ += R"(,"object":"model","created":)" + std::to_string(created) + R"(,"owned_by":"switchyard"})";
    }
    models_body_ += "]}";
    std::sort(entries_.begin(), entries_.end(),
              [](const Entry& a, const Entry& b) { return a.model->name < b.model->name; });
}

const Router::Entry* Router::find(std::string_view name) const {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), name,
                               [](const Entry& entry, std::string_view key) { return entry.model->name < key; });
    if (it == entries_.end() || it->model->name != name) return nullptr;
    return &*it;
}

std::variant<std::vector<const config::Deployment*>, ApiError> Router::candidates(std::string_view model) const {
    const Entry* entry = find(model);
    if (entry == nullptr) return unknown_model(model);
    const auto& deployments = entry->model->deployments;
    const std::size_t start = entry->next->fetch_add(1, std::memory_order_relaxed);
    std::vector<const config::Deployment*> out;
    out.reserve(deployments.size());
    for (std::size_t i = 0; i < deployments.size(); ++i) {
        const auto& deployment = deployments[(start + i) % deployments.size()];
        if (health_.usable(deployment.upstream)) out.push_back(&deployment);
    }
    for (std::size_t i = 0; i < deployments.size(); ++i) {
        const auto& deployment = deployments[(start + i) % deployments.size()];
        if (!health_.usable(deployment.upstream)) out.push_back(&deployment);
    }
    return out;
}

ApiError Router::unknown_model(std::string_view model) const {
    std::string message = "The model '" + std::string(model) + "' does not exist or is not served here.";
    if (auto guess = closest(model, names_)) message += " Did you mean '" + *guess + "'?";
    message += " Available models: ";
    for (std::size_t i = 0; i < names_.size(); ++i) {
        if (i > 0) message += ", ";
        message += names_[i];
    }
    message += ".";
    ApiError error = ApiError::not_found(std::move(message), "model_not_found");
    error.param = "model";
    return error;
}

}  // namespace switchyard::route
