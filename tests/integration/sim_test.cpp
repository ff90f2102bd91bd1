// The simulator itself: the fake upstream every other test relies on must be right.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>

#include "harness.hpp"

namespace switchyard::testing {
namespace {

std::string content_of(const std::string& body) {
    const std::string key = R"("content":")";
    const auto at = body.find(key);
    if (at == std::string::npos) return "";
    return body.substr(at + key.size(), body.find('"', at + key.size()) - at - key.size());
}

TEST(Simulator, DeterministicTextAndConsistentUsage) {
    auto sim = start_sim({"--tokens", "7"});
    const auto a = post(sim.port, "/v1/chat/completions", chat_body("m"));
    const auto b = post(sim.port, "/v1/chat/completions", chat_body("m"));
    ASSERT_EQ(a.status, 200) << a.body;
    EXPECT_FALSE(content_of(a.body).empty());
    EXPECT_EQ(content_of(a.body), content_of(b.body));
    EXPECT_NE(a.body.find(R"("completion_tokens":7)"), std::string::npos) << a.body;
    const auto other = post(sim.port, "/v1/chat/completions",
                            R"({"model":"m","messages":[{"role":"user","content":"something else"}]})");
    EXPECT_NE(content_of(other.body), content_of(a.body));
    const auto capped = post(sim.port, "/v1/chat/completions", chat_body("m", false, R"("max_tokens":3)"));
    EXPECT_NE(capped.body.find(R"("completion_tokens":3)"), std::string::npos) << capped.body;
    EXPECT_EQ(stat_number(sim_stats(sim), "completion_tokens_total"), 7 + 7 + 7 + 3);
}

TEST(Simulator, FinalUsageChunkOnlyWhenAsked) {
    auto sim = start_sim({"--tokens", "4"});
    const auto with = post_streaming(sim.port, "/v1/chat/completions",
                                     chat_body("m", true, R"("stream_options":{"include_usage":true})"));
    EXPECT_NE(with.body().find(R"("choices":[],"usage":{"prompt_tokens":)"), std::string::npos) << with.body();
    const auto without = post_streaming(sim.port, "/v1/chat/completions", chat_body("m", true));
    EXPECT_EQ(without.body().find(R"("usage":{)"), std::string::npos) << without.body();
    EXPECT_TRUE(without.body().ends_with("data: [DONE]\n\n"));
}

TEST(Simulator, FaultsByFlagHeaderAndRuntimeConfig) {
    auto sim = start_sim({"--fault", "429", "--retry-after", "7"});
    auto r = post(sim.port, "/v1/chat/completions", chat_body("m"));
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(r.header("retry-after"), "7");
    r = post(sim.port, "/v1/chat/completions", chat_body("m"), {{"x-sim-fault", "500"}});
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(post(sim.port, "/sim/config", R"({"fault":"none"})").status, 200);
    EXPECT_EQ(post(sim.port, "/v1/chat/completions", chat_body("m")).status, 200);
    EXPECT_EQ(post(sim.port, "/sim/config", R"({"healthy":false})").status, 200);
    EXPECT_EQ(get(sim.port, "/health").status, 503);
    EXPECT_EQ(stat_number(sim_stats(sim), "faults_injected"), 2);
}

TEST(Simulator, DropAfterNTokensCutsTheStream) {
    auto sim = start_sim({"--tokens", "10"});
    const auto s = post_streaming(sim.port, "/v1/chat/completions", chat_body("m", true), {{"x-sim-fault", "drop:3"}});
    const std::string body = s.body();
    EXPECT_EQ(body.find("[DONE]"), std::string::npos);
    std::size_t events = 0;
    for (auto at = body.find("\"content\":\""); at != std::string::npos; at = body.find("\"content\":\"", at + 1)) {
        ++events;
    }
    EXPECT_EQ(events, 4u) << body;  // the role chunk's empty content, then 3 tokens
}

TEST(Simulator, TimeToFirstTokenAndInterTokenLatency) {
    auto sim = start_sim({"--ttft-ms", "300", "--itl-ms", "100", "--tokens", "4"});
    const auto s = post_streaming(sim.port, "/v1/chat/completions", chat_body("m", true));
    ASSERT_GE(s.pieces.size(), 4u);
    std::chrono::milliseconds first_token{-1};
    for (const auto& [at, text] : s.pieces) {
        if (text.find("\"delta\":{\"content\"") != std::string::npos) {
            first_token = at;
            break;
        }
    }
    EXPECT_GE(first_token.count(), 280);
    EXPECT_LT(first_token.count(), 600);
    EXPECT_GE(s.pieces.back().first.count(), 580);  // 300 + 3 x 100
}

// A SIGTERM sent the moment the ready file appears stops the simulator cleanly (exit 0), as a
// test tearing one down right after starting it does.
TEST(Simulator, ASigtermJustAfterTheReadyFileStopsItCleanly) {
    for (int round = 0; round < 4; ++round) {
        const std::string ready = temp_dir() + "/sim-signalled-" + std::to_string(round);
        Process sim("sim", {sim_binary(), "--port", "0", "--ready-file", ready});
        wait_for_port(ready, sim, std::chrono::seconds(20), std::chrono::milliseconds(0));
        EXPECT_EQ(sim.stop(SIGTERM), 0) << "round " << round << ": " << sim.log();
    }
}

}  // namespace
}  // namespace switchyard::testing
