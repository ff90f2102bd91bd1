#include <gtest/gtest.h>

#include "route/breaker.hpp"

namespace switchyard::route {
namespace {

using namespace std::chrono_literals;

config::Breaker settings() {
    config::Breaker b;
    b.consecutive_failures = 3;
    b.failure_rate = 0.5;
    b.min_requests = 10;
    b.window = 10s;
    b.cooldown = 5s;
    b.half_open_requests = 1;
    return b;
}

TEST(Breaker, OpensOnConsecutiveFailuresAndRecoversThroughHalfOpen) {
    const auto config = settings();
    ManualClock clock;
    Breaker breaker(config);
    for (int i = 0; i < 2; ++i) {
        ASSERT_EQ(breaker.admit(clock.now()), Breaker::Admit::yes);
        breaker.record(false, false, clock.now());
    }
    EXPECT_EQ(breaker.state(clock.now()), Breaker::State::closed);
    breaker.record(false, false, clock.now());
    EXPECT_EQ(breaker.state(clock.now()), Breaker::State::open);
    EXPECT_FALSE(breaker.allows(clock.now()));
    EXPECT_EQ(breaker.admit(clock.now()), Breaker::Admit::no);

    clock.advance(4999ms);
    EXPECT_EQ(breaker.admit(clock.now()), Breaker::Admit::no);  // cooldown not over
    clock.advance(1ms);
    EXPECT_EQ(breaker.state(clock.now()), Breaker::State::half_open);
    EXPECT_EQ(breaker.admit(clock.now()), Breaker::Admit::probe);
    EXPECT_EQ(breaker.admit(clock.now()), Breaker::Admit::no);  // one probe at a time
    breaker.record(true, true, clock.now());
    EXPECT_EQ(breaker.state(clock.now()), Breaker::State::closed);
    EXPECT_EQ(breaker.admit(clock.now()), Breaker::Admit::yes);
    EXPECT_EQ(breaker.times_opened(), 1u);
}

TEST(Breaker, AFailedProbeOpensAgainForAFullCooldown) {
    const auto config = settings();
    ManualClock clock;
    Breaker breaker(config);
    for (int i = 0; i < 3; ++i) breaker.record(false, false, clock.now());
    clock.advance(5s);
    ASSERT_EQ(breaker.admit(clock.now()), Breaker::Admit::probe);
    clock.advance(1s);
    breaker.record(false, true, clock.now());
    EXPECT_EQ(breaker.state(clock.now()), Breaker::State::open);
    clock.advance(4999ms);
    EXPECT_FALSE(breaker.allows(clock.now()));
    clock.advance(1ms);
    EXPECT_TRUE(breaker.allows(clock.now()));
    EXPECT_EQ(breaker.times_opened(), 2u);
}

TEST(Breaker, AnAbandonedProbeFreesItsPlace) {
    const auto config = settings();
    ManualClock clock;
    Breaker breaker(config);
    for (int i = 0; i < 3; ++i) breaker.record(false, false, clock.now());
    clock.advance(5s);
    ASSERT_EQ(breaker.admit(clock.now()), Breaker::Admit::probe);
    breaker.abandon(true);
    EXPECT_EQ(breaker.admit(clock.now()), Breaker::Admit::probe);
}

TEST(Breaker, SuccessResetsTheConsecutiveCount) {
    auto config = settings();
    config.failure_rate = 0;  // consecutive failures only
    ManualClock clock;
    Breaker breaker(config);
    for (int i = 0; i < 10; ++i) {
        breaker.record(false, false, clock.now());
        breaker.record(false, false, clock.now());
        breaker.record(true, false, clock.now());
    }
    EXPECT_EQ(breaker.state(clock.now()), Breaker::State::closed);
}

TEST(Breaker, OpensOnFailureRateOverTheWindowOnlyWithEnoughRequests) {
    auto config = settings();
    config.consecutive_failures = 0;  // rate only
    ManualClock clock;
    Breaker breaker(config);
    // 4 failures in 8 requests: 50%, but fewer than min_requests.
    for (int i = 0; i < 4; ++i) {
        breaker.record(false, false, clock.now());
        breaker.record(true, false, clock.now());
    }
    EXPECT_EQ(breaker.state(clock.now()), Breaker::State::closed);
    breaker.record(true, false, clock.now());
    breaker.record(false, false, clock.now());  // 5 of 10
    EXPECT_EQ(breaker.state(clock.now()), Breaker::State::open);
}

TEST(Breaker, OldFailuresLeaveTheWindow) {
    auto config = settings();
    config.consecutive_failures = 0;
    ManualClock clock;
    Breaker breaker(config);
    for (int i = 0; i < 9; ++i) breaker.record(false, false, clock.now());
    clock.advance(11s);  // the window has slid past them
    breaker.record(false, false, clock.now());
    for (int i = 0; i < 9; ++i) breaker.record(true, false, clock.now());
    EXPECT_EQ(breaker.state(clock.now()), Breaker::State::closed);
}

TEST(Breaker, LateVerdictsOfRequestsAdmittedBeforeOpeningChangeNothing) {
    const auto config = settings();
    ManualClock clock;
    Breaker breaker(config);
    for (int i = 0; i < 3; ++i) breaker.record(false, false, clock.now());
    breaker.record(true, false, clock.now());  // a slow request that began before
    EXPECT_EQ(breaker.state(clock.now()), Breaker::State::open);
}

TEST(Breaker, DisabledAlwaysAdmits) {
    auto config = settings();
    config.enabled = false;
    ManualClock clock;
    Breaker breaker(config);
    for (int i = 0; i < 100; ++i) breaker.record(false, false, clock.now());
    EXPECT_EQ(breaker.admit(clock.now()), Breaker::Admit::yes);
}

}  // namespace
}  // namespace switchyard::route
