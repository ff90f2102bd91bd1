#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "route/balance.hpp"
#include "route/retry_budget.hpp"

namespace switchyard::route {
namespace {

using namespace std::chrono_literals;

std::vector<Candidate> three() {
    return {Candidate{0, 0, 0, 1}, Candidate{1, 0, 0, 1}, Candidate{2, 0, 0, 1}};
}

TEST(Balance, RoundRobinSpreadsEvenly) {
    std::map<std::size_t, int> firsts;
    for (std::size_t cursor = 0; cursor < 300; ++cursor) {
        auto c = three();
        order_round_robin(c, cursor);
        ++firsts[c[0].index];
        EXPECT_EQ(c[1].index, (c[0].index + 1) % 3);  // the rest follow in order
    }
    EXPECT_EQ(firsts[0], 100);
    EXPECT_EQ(firsts[1], 100);
    EXPECT_EQ(firsts[2], 100);
}

TEST(Balance, WeightedGivesEachItsWeightInEveryCycleInterleaved) {
    std::vector<std::int64_t> current(3, 0);
    std::vector<std::size_t> picks;
    for (int i = 0; i < 70; ++i) {
        std::vector<Candidate> c{Candidate{0, 0, 0, 5}, Candidate{1, 0, 0, 1}, Candidate{2, 0, 0, 1}};
        order_weighted(c, current, 0);
        picks.push_back(c[0].index);
    }
    for (int cycle = 0; cycle < 10; ++cycle) {
        std::map<std::size_t, int> counts;
        for (int i = 0; i < 7; ++i) ++counts[picks[cycle * 7 + i]];
        EXPECT_EQ(counts[0], 5);
        EXPECT_EQ(counts[1], 1);
        EXPECT_EQ(counts[2], 1);
    }
    // Smooth: {a a b a c a a} for 5:1:1, so at most 4 in a row across cycles (plain weighted
    // round-robin would send 5).
    int run = 0;
    int longest = 0;
    for (auto pick : picks) {
        run = pick == 0 ? run + 1 : 0;
        longest = std::max(longest, run);
    }
    EXPECT_LE(longest, 4);
}

TEST(Balance, WeightedSkipsAnAbsentDeploymentAndKeepsTheRatioOfTheRest) {
    std::vector<std::int64_t> current(3, 0);
    std::map<std::size_t, int> counts;
    for (int i = 0; i < 300; ++i) {
        std::vector<Candidate> c{Candidate{0, 0, 0, 2}, Candidate{2, 0, 0, 1}};  // 1 is down
        order_weighted(c, current, 0);
        ++counts[c[0].index];
    }
    EXPECT_EQ(counts[0], 200);
    EXPECT_EQ(counts[2], 100);
    EXPECT_EQ(counts.count(1), 0u);
}

TEST(Balance, LeastOutstandingPrefersTheIdlestAndRotatesTies) {
    std::map<std::size_t, int> firsts;
    for (std::size_t cursor = 0; cursor < 100; ++cursor) {
        std::vector<Candidate> c{Candidate{0, 4, 0, 1}, Candidate{1, 1, 0, 1}, Candidate{2, 1, 0, 1}};
        order_least_outstanding(c, cursor);
        ++firsts[c[0].index];
        EXPECT_EQ(c[2].index, 0u);  // the busiest last
    }
    EXPECT_EQ(firsts[0], 0);
    EXPECT_NEAR(firsts[1], 50, 1);
    EXPECT_NEAR(firsts[2], 50, 1);
}

TEST(Balance, LatencyAwareSendsMostTrafficToTheFastOne) {
    // Two fast deployments (20 ms) and one slow (400 ms), all idle: power of two choices picks the
    // slow one only when both draws land on it, which they cannot (distinct draws), so never.
    std::mt19937_64 random(42);
    std::map<std::size_t, int> firsts;
    for (int i = 0; i < 3000; ++i) {
        std::vector<Candidate> c{Candidate{0, 0, 20, 1}, Candidate{1, 0, 20, 1}, Candidate{2, 0, 400, 1}};
        order_latency(c, random());
        ++firsts[c[0].index];
    }
    EXPECT_EQ(firsts[2], 0);
    EXPECT_NEAR(firsts[0], 1500, 150);
    EXPECT_NEAR(firsts[1], 1500, 150);
}

TEST(Balance, LatencyAwareWeighsRequestsInFlight) {
    // The fast one is loaded: 20 ms x 21 in flight scores worse than 100 ms x 1.
    std::mt19937_64 random(7);
    std::map<std::size_t, int> firsts;
    for (int i = 0; i < 1000; ++i) {
        std::vector<Candidate> c{Candidate{0, 20, 20, 1}, Candidate{1, 0, 100, 1}};
        order_latency(c, random());
        ++firsts[c[0].index];
    }
    EXPECT_EQ(firsts[1], 1000);
}

TEST(Balance, LatencyAwareDrawsUniformlyAmongEquals) {
    std::mt19937_64 random(1);
    std::map<std::size_t, int> firsts;
    for (int i = 0; i < 4000; ++i) {
        std::vector<Candidate> c{Candidate{0, 0, 10, 1}, Candidate{1, 0, 10, 1}, Candidate{2, 0, 10, 1},
                                 Candidate{3, 0, 10, 1}};
        order_latency(c, random());
        ++firsts[c[0].index];
    }
    for (std::size_t i = 0; i < 4; ++i) EXPECT_NEAR(firsts[i], 1000, 120) << i;
}

TEST(PeakEwma, JumpsToPeaksAndDecaysWithTime) {
    ManualClock clock;
    PeakEwma ewma(10s);
    ewma.observe(100, clock.now());
    EXPECT_DOUBLE_EQ(ewma.value(), 100);
    clock.advance(1s);
    ewma.observe(500, clock.now());
    EXPECT_DOUBLE_EQ(ewma.value(), 500);  // a peak replaces the average at once
    clock.advance(10s);                   // one time constant: weight e^-1 on the old value
    ewma.observe(100, clock.now());
    EXPECT_NEAR(ewma.value(), 500 * std::exp(-1.0) + 100 * (1 - std::exp(-1.0)), 1e-9);
}

TEST(RetryBudget, AllowsTheRatioOfRequestsPlusTheMinimum) {
    config::Retries config;
    config.budget_ratio = 0.2;
    config.budget_min_per_second = 1;
    config.budget_window = 10s;
    ManualClock clock;
    RetryBudget budget(config);
    for (int i = 0; i < 100; ++i) budget.on_request(clock.now());
    int allowed = 0;
    while (budget.try_retry(clock.now())) ++allowed;
    EXPECT_EQ(allowed, 30);  // 0.2 x 100 + 1/s x 10 s
    EXPECT_FALSE(budget.can_retry(clock.now()));
    clock.advance(11s);  // the window forgot them
    EXPECT_TRUE(budget.can_retry(clock.now()));
}

TEST(RetryBudget, ZeroMinimumAndNoTrafficMeansNoRetries) {
    config::Retries config;
    config.budget_ratio = 0.5;
    config.budget_min_per_second = 0;
    ManualClock clock;
    RetryBudget budget(config);
    EXPECT_FALSE(budget.try_retry(clock.now()));
    budget.on_request(clock.now());
    budget.on_request(clock.now());
    EXPECT_TRUE(budget.try_retry(clock.now()));
    EXPECT_FALSE(budget.try_retry(clock.now()));
}

}  // namespace
}  // namespace switchyard::route
