#include <gtest/gtest.h>

#include <map>

#include "core/text.hpp"
#include "route/router.hpp"

namespace switchyard::route {
namespace {

class FakeHealth : public HealthView {
public:
    bool usable(std::size_t upstream) const override { return !down.contains(upstream); }
    std::map<std::size_t, bool> down;
};

config::Gateway two_deployments() {
    auto result = config::load_string(R"(
upstreams:
  - {name: a, base_url: "http://127.0.0.1:1"}
  - {name: b, base_url: "http://127.0.0.1:2"}
models:
  - name: llama4:maverick
    deployments: [{upstream: a, model: x}, {upstream: b, model: y}]
  - name: deepseek-v3.2
    deployments: [{upstream: b}]
)",
                                      [](std::string_view) { return std::nullopt; });
    return std::move(*result.gateway);
}

TEST(Router, RoundRobinsOverUsableDeploymentsFirst) {
    const auto config = two_deployments();
    FakeHealth health;
    Router router(config, health);
    std::map<std::string, int> firsts;
    for (int i = 0; i < 10; ++i) {
        auto candidates = std::get<std::vector<const config::Deployment*>>(router.candidates("llama4:maverick"));
        ASSERT_EQ(candidates.size(), 2u);
        ++firsts[candidates[0]->name];
    }
    EXPECT_EQ(firsts["a"], 5);
    EXPECT_EQ(firsts["b"], 5);

    health.down[0] = true;
    for (int i = 0; i < 4; ++i) {
        auto candidates = std::get<std::vector<const config::Deployment*>>(router.candidates("llama4:maverick"));
        EXPECT_EQ(candidates[0]->name, "b");
        EXPECT_EQ(candidates[1]->name, "a");  // still tried last
    }
}

TEST(Router, UnknownModelListsModelsAndTheClosest) {
    const auto config = two_deployments();
    FakeHealth health;
    Router router(config, health);
    auto result = router.candidates("llama4:maverik");
    ASSERT_TRUE(std::holds_alternative<ApiError>(result));
    const auto& error = std::get<ApiError>(result);
    EXPECT_EQ(error.status, 404);
    EXPECT_EQ(error.code, "model_not_found");
    EXPECT_NE(error.message.find("Did you mean 'llama4:maverick'?"), std::string::npos) << error.message;
    EXPECT_NE(error.message.find("Available models: llama4:maverick, deepseek-v3.2."), std::string::npos);
    EXPECT_EQ(std::get<ApiError>(router.candidates("gpt-5")).message.find("Did you mean"), std::string::npos);
}

TEST(Router, ModelsBodyIsAnOpenAIList) {
    const auto config = two_deployments();
    FakeHealth health;
    Router router(config, health);
    const auto& body = router.models_body();
    EXPECT_TRUE(body.starts_with(R"({"object":"list","data":[{"id":"llama4:maverick","object":"model")")) << body;
    EXPECT_NE(body.find(R"("id":"deepseek-v3.2")"), std::string::npos);
}

TEST(Text, EditDistance) {
    EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
    EXPECT_EQ(edit_distance("GPT", "gpt"), 0u);
    const std::vector<std::string> names{"alpha", "beta"};
    EXPECT_EQ(closest("alpah", names), "alpha");
    EXPECT_FALSE(closest("zzzzzz", names));
}

}  // namespace
}  // namespace switchyard::route
