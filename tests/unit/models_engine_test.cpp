// The model store's parts in the gateway: the memory budget keys of the configuration, and the
// estimate column of `switchyard ps`.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "engine/ps.hpp"

namespace switchyard::engine {
namespace {

TEST(ModelsPs, ShowsTheMemoryEstimateAndItsError) {
    std::string why;
    const std::string table = ps_table(
        R"({"object":"list","data":[{"name":"tiny","state":"ready","pid":42,"rss_bytes":104857600,"in_flight":0,)"
        R"("uptime_s":5,"restarts":0,"estimate_bytes":94371840,"estimate_error":0.1111},)"
        R"({"name":"off","state":"stopped","pid":0,"rss_bytes":0,"estimate_bytes":null,"estimate_error":null}]})",
        &why);
    EXPECT_NE(table.find("ESTIMATE"), std::string::npos) << table;
    EXPECT_NE(table.find("90.0MiB (+11%)"), std::string::npos) << table;
}

TEST(ModelsConfig, MemoryBudgetsAndTheModelStore) {
    const auto result = config::load_string(R"(
models_dir: /srv/models
host_memory: 8GiB
gpu_groups:
  gpu0: {max_loaded: 2, memory: 24GiB}
engines:
  - name: small
    command: [llama-server, -m, "${MODEL}", --port, "${PORT}"]
    model: tiny
    gpu: gpu0
    max_loaded: 1
models:
  - name: small
    deployments: [{engine: small}]
)",
                                            [](std::string_view) -> std::optional<std::string> { return std::nullopt; });
    ASSERT_TRUE(result.gateway) << (result.errors.empty() ? "" : config::to_string(result.errors.front()));
    EXPECT_EQ(result.gateway->models_dir, "/srv/models");
    EXPECT_EQ(result.gateway->host_memory, 8ull << 30);
    EXPECT_EQ(result.gateway->gpu_groups.at("gpu0").memory, 24ull << 30);
    EXPECT_EQ(result.gateway->gpu_groups.at("gpu0").max_loaded, 1u);  // the engine's shorthand keeps the budget
}

}  // namespace
}  // namespace switchyard::engine
