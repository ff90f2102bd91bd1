// The price catalog: parsing with located errors, lookup by model name, cost arithmetic, overrides,
// and the shipped data/prices.yaml.
#include <gtest/gtest.h>

#include "pricing/catalog.hpp"

namespace switchyard::pricing {
namespace {

TEST(Catalog, ParsesAndLooksUp) {
    const auto result = parse_catalog(R"(
models:
  gpt-4o-mini: {input: 0.15, cached_input: 0.075, output: 0.60, date: 2026-06-01, source: "https://example/p"}
  gpt-4o:
    input: 2.5
    output: 10
    date: 2026-06-01
    source: https://example/q
)");
    ASSERT_TRUE(result.catalog) << (result.errors.empty() ? "" : result.errors[0]);
    const Catalog& c = *result.catalog;
    ASSERT_NE(c.find("gpt-4o-mini"), nullptr);
    EXPECT_DOUBLE_EQ(c.find("gpt-4o-mini")->cached_input, 0.075);
    EXPECT_DOUBLE_EQ(c.find("gpt-4o")->cached_input, 2.5);  // defaults to input
    EXPECT_EQ(c.find("gpt-4o-mini")->source, "https://example/p");
    // Dated snapshots and provider prefixes find their base entry; the longest prefix wins.
    EXPECT_EQ(c.find("gpt-4o-mini-2024-07-18"), c.find("gpt-4o-mini"));
    EXPECT_EQ(c.find("gpt-4o-2024-08-06"), c.find("gpt-4o"));
    EXPECT_EQ(c.find("openai/gpt-4o-mini"), c.find("gpt-4o-mini"));
    EXPECT_EQ(c.find("gpt-4"), nullptr);
    EXPECT_EQ(c.find("gpt-4omni"), nullptr);
}

TEST(Catalog, CostSplitsCachedInput) {
    Price p;
    p.input = 2;
    p.cached_input = 0.5;
    p.output = 8;
    // 1M prompt tokens of which 400k cached, 100k completion tokens.
    EXPECT_DOUBLE_EQ(p.cost(1'000'000, 400'000, 100'000), 600'000 * 2e-6 + 400'000 * 0.5e-6 + 100'000 * 8e-6);
    EXPECT_DOUBLE_EQ(p.cost(10, 50, 0), 10 * 0.5e-6);  // cached never exceeds prompt
}

TEST(Catalog, ReportsEveryErrorWithItsLocation) {
    const auto result = parse_catalog(R"(models:
  a: {input: -1, output: 1, date: d, source: s}
  b: {input: 1, output: x, date: d, source: s}
  c: {input: 1, output: 1}
  d: {input: 1, output: 1, date: d, source: s, currency: eur}
)");
    EXPECT_FALSE(result.catalog);
    ASSERT_EQ(result.errors.size(), 5u);  // negative, not a number, missing date, missing source, unknown key
    EXPECT_NE(result.errors[0].find("line 2"), std::string::npos) << result.errors[0];
    EXPECT_NE(result.errors[0].find("negative"), std::string::npos);
    EXPECT_FALSE(parse_catalog("models: [1, 2]").catalog);
    EXPECT_FALSE(parse_catalog("{").catalog);
    EXPECT_FALSE(load_catalog_file("/nonexistent/prices.yaml").catalog);
}

TEST(Catalog, CommandLineOverrides) {
    std::string why;
    auto p = parse_price_override("my-model=0.5,1.5", &why);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->first, "my-model");
    EXPECT_DOUBLE_EQ(p->second.input, 0.5);
    EXPECT_DOUBLE_EQ(p->second.output, 1.5);
    EXPECT_DOUBLE_EQ(p->second.cached_input, 0.5);
    p = parse_price_override("org/m=1,2,0.1", &why);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->first, "org/m");
    EXPECT_DOUBLE_EQ(p->second.cached_input, 0.1);
    EXPECT_FALSE(parse_price_override("m=1", &why));
    EXPECT_FALSE(parse_price_override("m=1,x", &why));
    EXPECT_FALSE(parse_price_override("=1,2", &why));
    EXPECT_FALSE(parse_price_override("m=1,2,3,4", &why));
    EXPECT_FALSE(parse_price_override("m=-1,2", &why));
}

TEST(Catalog, ShippedCatalogLoadsWithDatesAndSources) {
    const auto result = load_catalog_file(std::string(SWITCHYARD_SOURCE_DIR) + "/data/prices.yaml");
    ASSERT_TRUE(result.catalog) << (result.errors.empty() ? "" : result.errors[0]);
    EXPECT_GE(result.catalog->entries().size(), 10u);
    for (const auto& [name, price] : result.catalog->entries()) {
        EXPECT_GT(price.output, 0) << name;
        EXPECT_LE(price.cached_input, price.input) << name;
        EXPECT_EQ(price.date.size(), 10u) << name;  // YYYY-MM-DD
        EXPECT_TRUE(price.source.starts_with("https://")) << name;
    }
    for (const char* model : {"gpt-4o-mini", "deepseek-chat", "gemini-2.5-flash", "claude-sonnet-4-5"}) {
        EXPECT_NE(result.catalog->find(model), nullptr) << model;
    }
}

}  // namespace
}  // namespace switchyard::pricing
