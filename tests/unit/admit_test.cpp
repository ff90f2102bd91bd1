// The admit stage: each refusal leaves the key's and the model's buckets and the key's requests in
// flight where they were; an admission given back (the request never reached an upstream) or
// dropped returns everything; one settled is corrected by the real usage. With a ManualClock, so
// nothing refills between the readings.
#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include "admit/admit.hpp"

namespace switchyard::admit {
namespace {

namespace asio = boost::asio;

struct Levels {
    std::uint64_t key_requests, key_tokens, model_requests, model_tokens;
    std::size_t in_flight;
    bool operator==(const Levels&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Levels& l) {
    return out << "{key " << l.key_requests << " req " << l.key_tokens << " tok; model " << l.model_requests
               << " req " << l.model_tokens << " tok; in flight " << l.in_flight << "}";
}

class AdmitTest : public ::testing::Test {
protected:
    AdmitTest() {
        model.name = "m";
        model.limits = config::RateLimit{.rpm = 10, .tpm = 1000};
        key_policy.name = "team";
        key_policy.limits = config::RateLimit{.rpm = 5, .tpm = 2000};
        key_policy.max_concurrent = 2;
        key_policy.budget_daily = 1.0;
        make_key();
    }

    void make_key() {
        key = std::make_shared<auth::KeyEntry>(key_policy, true, clock.now());
        model_limiter = std::make_shared<limit::RateLimiter>(model.limits, clock.now());
    }

    std::variant<Admission, Refused> run(double estimated) {
        asio::io_context io;
        std::optional<std::variant<Admission, Refused>> result;
        const Context context{nullptr, nullptr, model_limiter, clock};
        std::string headers;
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> { result = co_await admit(context, key, model, estimated, headers); },
            asio::detached);
        io.run();
        return std::move(*result);
    }

    Levels levels() {
        const auto k = key->limiter.snapshot(clock.now());
        const auto m = model_limiter->snapshot(clock.now());
        return {k.remaining_requests, k.remaining_tokens, m.remaining_requests, m.remaining_tokens,
                key->in_flight.load()};
    }

    ManualClock clock;
    config::Model model;
    config::Key key_policy;
    std::shared_ptr<auth::KeyEntry> key;
    std::shared_ptr<limit::RateLimiter> model_limiter;
};

std::string code_of(const std::variant<Admission, Refused>& result) {
    const auto* refused = std::get_if<Refused>(&result);
    return refused != nullptr && refused->error.code ? *refused->error.code : "admitted";
}

TEST_F(AdmitTest, AnAdmissionTakesOneRequestAndItsEstimateFromKeyAndModel) {
    auto result = run(100);
    ASSERT_TRUE(std::holds_alternative<Admission>(result));
    EXPECT_EQ(levels(), (Levels{4, 1900, 9, 900, 1}));
}

TEST_F(AdmitTest, AModelTheKeyMayNotUseTakesNothing) {
    key_policy.models = {"other"};
    make_key();
    const Levels before = levels();
    EXPECT_EQ(code_of(run(100)), "model_not_allowed");
    EXPECT_EQ(levels(), before);
}

TEST_F(AdmitTest, ConcurrencyRefusalLeavesTheInFlightCount) {
    auto first = run(10);
    auto second = run(10);
    const Levels before = levels();
    EXPECT_EQ(before.in_flight, 2u);
    EXPECT_EQ(code_of(run(10)), "concurrency_limit_exceeded");
    EXPECT_EQ(levels(), before);
}

TEST_F(AdmitTest, ASpentBudgetGivesTheInFlightSlotBack) {
    key->budget.spend(1.5, std::time(nullptr));
    const Levels before = levels();
    EXPECT_EQ(code_of(run(100)), "budget_exceeded");
    EXPECT_EQ(levels(), before);
}

// (A full bucket admits even a request larger than it holds; these first use most of it.)
TEST_F(AdmitTest, AKeyRateLimitRefusalTakesNothing) {
    model_limiter = nullptr;
    std::get<Admission>(run(1500)).settle(1500, 0);  // the key has 500 tokens left
    const Levels before{4, 500, 0, 0, 0};
    auto result = run(800);
    ASSERT_EQ(code_of(result), "rate_limit_exceeded");
    EXPECT_NE(std::get<Refused>(result).error.message.find("this key"), std::string::npos);
    const auto k = key->limiter.snapshot(clock.now());
    EXPECT_EQ((Levels{k.remaining_requests, k.remaining_tokens, 0, 0, key->in_flight.load()}), before);
}

TEST_F(AdmitTest, AModelRateLimitRefusalGivesTheKeysTokensAndRequestBack) {
    std::get<Admission>(run(900)).settle(900, 0);  // the key has 1100 tokens left, the model 100
    const Levels before = levels();
    EXPECT_EQ(before, (Levels{4, 1100, 9, 100, 0}));
    auto result = run(500);  // the key's tokens hold it, the model's do not
    ASSERT_EQ(code_of(result), "rate_limit_exceeded");
    EXPECT_NE(std::get<Refused>(result).error.message.find("model 'm'"), std::string::npos);
    EXPECT_EQ(levels(), before);
}

TEST_F(AdmitTest, AnAdmissionGivenBackOrDroppedReturnsEverything) {
    const Levels before = levels();
    {
        auto result = run(100);
        std::get<Admission>(result).give_back();  // e.g. its engine failed to start
        EXPECT_EQ(levels(), before);
    }
    {
        auto result = run(100);  // dropped unsettled: the destructor gives it back
    }
    EXPECT_EQ(levels(), before);
}

TEST_F(AdmitTest, ASettledAdmissionIsCorrectedByTheRealUsage) {
    auto result = run(100);
    Admission& admission = std::get<Admission>(result);
    admission.settle(250, 0.25);
    EXPECT_EQ(levels(), (Levels{4, 1750, 9, 750, 0}));
    EXPECT_DOUBLE_EQ(key->budget.spent_today(std::time(nullptr)), 0.25);
    admission.settle(250, 0.25);  // once only
    admission.give_back();        // nothing left to give back
    EXPECT_EQ(levels(), (Levels{4, 1750, 9, 750, 0}));
    EXPECT_DOUBLE_EQ(key->budget.spent_today(std::time(nullptr)), 0.25);
}

TEST_F(AdmitTest, ABudgetChargedEarlyIsNotChargedAgainWhenSettled) {
    auto result = run(100);
    Admission& admission = std::get<Admission>(result);
    admission.spend(0.4);
    admission.settle(100, 0.4);
    EXPECT_DOUBLE_EQ(key->budget.spent_today(std::time(nullptr)), 0.4);
}

TEST_F(AdmitTest, AMovedAdmissionSettlesOnce) {
    auto result = run(100);
    Admission moved = std::move(std::get<Admission>(result));
    std::get<Admission>(result).give_back();  // the moved-from one holds nothing
    EXPECT_EQ(levels().in_flight, 1u);
    moved.give_back();
    EXPECT_EQ(levels(), (Levels{5, 2000, 10, 1000, 0}));
}

TEST_F(AdmitTest, WithoutAKeyOnlyTheModelIsLimited) {
    key.reset();
    auto result = run(100);
    ASSERT_TRUE(std::holds_alternative<Admission>(result));
    EXPECT_EQ(model_limiter->snapshot(clock.now()).remaining_tokens, 900u);
    std::get<Admission>(result).give_back();
    EXPECT_EQ(model_limiter->snapshot(clock.now()).remaining_tokens, 1000u);
    EXPECT_EQ(model_limiter->snapshot(clock.now()).remaining_requests, 10u);
}

}  // namespace
}  // namespace switchyard::admit
