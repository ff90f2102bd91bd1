// Scheduling for local engines: the prompt prefix identity (parse), the prefix index, the
// prefix-affinity ordering, the fair queue, and the router's local_only / batch policies.
#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "parse/request.hpp"
#include "route/balance.hpp"
#include "route/fair_queue.hpp"
#include "route/prefix_index.hpp"
#include "route/router.hpp"

namespace switchyard::route {
namespace {

using namespace std::chrono_literals;

parse::PromptPrefix prefix_of(parse::Endpoint endpoint, std::string body) {
    simdjson::ondemand::parser parser;
    auto parsed = parse::parse_request(endpoint, body, parser);
    if (auto* error = std::get_if<ApiError>(&parsed)) {
        ADD_FAILURE() << error->message;
        return {};
    }
    return std::get<parse::RequestFacts>(parsed).prefix;
}

std::string chat(std::string messages, std::string extra = "") {
    return R"({"model":"m",)" + extra + R"("messages":[)" + messages + "]}";
}

std::size_t shared_blocks(const parse::PromptPrefix& a, const parse::PromptPrefix& b) {
    std::size_t n = 0;
    while (n < a.count && n < b.count && a.blocks[n] == b.blocks[n]) ++n;
    return n;
}

constexpr std::string_view kSys = R"({"role":"system","content":"You are terse."})";
constexpr std::string_view kU1 = R"({"role":"user","content":"hello"})";
constexpr std::string_view kA1 = R"({"role":"assistant","content":"hi"})";
constexpr std::string_view kU2 = R"({"role":"user","content":"more"})";

TEST(PromptPrefix, ChatTurnsShareTheirPrefixBlocks) {
    const auto turn1 = prefix_of(parse::Endpoint::chat_completions, chat(std::string(kSys) + "," + std::string(kU1)));
    const auto turn2 = prefix_of(parse::Endpoint::chat_completions,
                                 chat(std::string(kSys) + "," + std::string(kU1) + "," + std::string(kA1) + ",  " +
                                      std::string(kU2)));
    ASSERT_EQ(turn1.count, 2u);
    ASSERT_EQ(turn2.count, 4u);
    EXPECT_EQ(shared_blocks(turn1, turn2), 2u);
    EXPECT_EQ(turn1.ends[1], kSys.size() + kU1.size());
    // The session is the chain through the first non-system message: the same on both turns.
    EXPECT_NE(turn1.session, 0u);
    EXPECT_EQ(turn1.session, turn2.session);
    EXPECT_FALSE(turn1.explicit_key);
    // Another conversation under the same system prompt shares only that block.
    const auto other = prefix_of(parse::Endpoint::chat_completions,
                                 chat(std::string(kSys) + R"(,{"role":"user","content":"bye"})"));
    EXPECT_EQ(shared_blocks(turn1, other), 1u);
    EXPECT_NE(turn1.session, other.session);
}

TEST(PromptPrefix, ToolsArePartOfThePrefixWhereverTheyAreWritten) {
    const std::string tools = R"("tools":[{"type":"function","function":{"name":"f"}}],)";
    const auto before = prefix_of(parse::Endpoint::chat_completions, chat(std::string(kU1), tools));
    const auto after = prefix_of(parse::Endpoint::chat_completions,
                                 R"({"model":"m","messages":[)" + std::string(kU1) +
                                     R"(],"tools":[{"type":"function","function":{"name":"f"}}]})");
    const auto none = prefix_of(parse::Endpoint::chat_completions, chat(std::string(kU1)));
    ASSERT_EQ(before.count, 2u);  // head, message
    EXPECT_EQ(shared_blocks(before, after), 2u);
    EXPECT_EQ(shared_blocks(before, none), 0u);
    EXPECT_EQ(none.count, 1u);
}

TEST(PromptPrefix, LongMessagesAreCutIntoBlocks) {
    const std::string text(5000, 'x');
    const auto one = prefix_of(parse::Endpoint::chat_completions,
                               chat(R"({"role":"user","content":")" + text + R"("})"));
    // 5000 + the message's JSON around it: three blocks of at most 2 KiB.
    ASSERT_EQ(one.count, 3u);
    EXPECT_EQ(one.ends[0], parse::PromptPrefix::kBlockBytes);
    // A different ending shares the first two blocks.
    const auto two = prefix_of(parse::Endpoint::chat_completions,
                               chat(R"({"role":"user","content":")" + text.substr(0, 4500) + "y" +
                                    text.substr(4501) + R"("})"));
    EXPECT_EQ(shared_blocks(one, two), 2u);
}

TEST(PromptPrefix, ExplicitKeysNameTheSession) {
    const auto keyed = prefix_of(parse::Endpoint::chat_completions,
                                 chat(std::string(kU1), R"("prompt_cache_key":"session-7",)"));
    const auto keyed_other_text = prefix_of(parse::Endpoint::responses,
                                            R"({"model":"m","input":"something else","prompt_cache_key":"session-7"})");
    EXPECT_TRUE(keyed.explicit_key);
    EXPECT_EQ(keyed.session, keyed_other_text.session);
    const auto anthropic = prefix_of(parse::Endpoint::messages,
                                     R"({"model":"m","max_tokens":5,"metadata":{"user_id":"session-7"},"messages":[)" +
                                         std::string(kU1) + "]}");
    EXPECT_TRUE(anthropic.explicit_key);
    EXPECT_EQ(anthropic.session, keyed.session);
}

TEST(PromptPrefix, EveryDialectIdentifiesItsHeadAndTurns) {
    // Anthropic: system outside the messages is the head.
    const auto m1 = prefix_of(parse::Endpoint::messages,
                              R"({"model":"m","max_tokens":5,"system":"Be terse.","messages":[)" + std::string(kU1) + "]}");
    const auto m2 = prefix_of(parse::Endpoint::messages, R"({"model":"m","max_tokens":5,"system":"Be terse.","messages":[)" +
                                                             std::string(kU1) + "," + std::string(kA1) + "," +
                                                             std::string(kU2) + "]}");
    ASSERT_EQ(m1.count, 2u);
    EXPECT_EQ(shared_blocks(m1, m2), 2u);
    EXPECT_EQ(m1.session, m2.session);
    // Responses: instructions are the head; input a string or a list of items.
    const auto r1 = prefix_of(parse::Endpoint::responses, R"({"model":"m","instructions":"Be terse.","input":"hello"})");
    const auto r2 = prefix_of(parse::Endpoint::responses,
                              R"({"model":"m","instructions":"Be terse.","input":[{"role":"user","content":"hello"}]})");
    EXPECT_EQ(r1.count, 2u);
    EXPECT_EQ(r2.count, 2u);
    EXPECT_EQ(shared_blocks(r1, r2), 1u);  // the same head, the input written otherwise
    // Not a generating endpoint: nothing.
    EXPECT_EQ(prefix_of(parse::Endpoint::embeddings, R"({"model":"m","input":"x"})").count, 0u);
}

// Blocks 1..n with ends of 100 bytes each.
struct Chain {
    std::vector<std::uint64_t> blocks;
    std::vector<std::uint32_t> ends;
    explicit Chain(std::initializer_list<std::uint64_t> ids, std::uint32_t size = 100) {
        std::uint32_t end = 0;
        for (auto id : ids) {
            blocks.push_back(id);
            ends.push_back(end += size);
        }
    }
};

TEST(PrefixIndex, MatchesTheLongestHeldChain) {
    ManualClock clock;
    PrefixIndex index;
    EXPECT_EQ(index.match(Chain{1, 2}.blocks, Chain{1, 2}.ends, clock.now()), 0u);
    const Chain turn1{1, 2, 3};
    index.insert(turn1.blocks, turn1.ends, clock.now());
    EXPECT_EQ(index.size(), 3u);
    EXPECT_EQ(index.bytes(), 300u);
    const Chain turn2{1, 2, 3, 4, 5};
    EXPECT_EQ(index.match(turn2.blocks, turn2.ends, clock.now()), 300u);
    const Chain branch{1, 9};
    EXPECT_EQ(index.match(branch.blocks, branch.ends, clock.now()), 100u);
    index.clear();
    EXPECT_EQ(index.match(turn2.blocks, turn2.ends, clock.now()), 0u);
    EXPECT_EQ(index.size(), 0u);
}

TEST(PrefixIndex, EvictsTheLeastRecentSuffixesFirst) {
    ManualClock clock;
    PrefixIndex index(PrefixBounds{4, 1u << 20, 1h});
    const Chain a{1, 2, 3};
    index.insert(a.blocks, a.ends, clock.now());
    clock.advance(1s);
    const Chain b{7, 8};
    index.insert(b.blocks, b.ends, clock.now());  // 5 blocks > 4: a's last block goes
    EXPECT_EQ(index.size(), 4u);
    EXPECT_EQ(index.match(a.blocks, a.ends, clock.now()), 200u);
    EXPECT_EQ(index.match(b.blocks, b.ends, clock.now()), 200u);
    // Bytes bound: 250 bytes hold two 100-byte blocks and no third.
    PrefixIndex small(PrefixBounds{100, 250, 1h});
    small.insert(a.blocks, a.ends, clock.now());
    EXPECT_EQ(small.size(), 2u);
    EXPECT_EQ(small.match(a.blocks, a.ends, clock.now()), 200u);
    // Many sessions through a small table: bounded, and the latest still found.
    PrefixIndex churn(PrefixBounds{64, 1u << 20, 1h});
    for (std::uint64_t s = 1; s <= 1000; ++s) {
        const Chain c{s * 1000 + 1, s * 1000 + 2, s * 1000 + 3};
        churn.insert(c.blocks, c.ends, clock.now());
        ASSERT_LE(churn.size(), 64u);
        ASSERT_EQ(churn.match(c.blocks, c.ends, clock.now()), 300u);
    }
    const Chain old{1001, 1002, 1003};
    EXPECT_EQ(churn.match(old.blocks, old.ends, clock.now()), 0u);
}

TEST(PrefixIndex, BlocksNotSentForTheIdleTimeCountAsGone) {
    ManualClock clock;
    PrefixIndex index(PrefixBounds{100, 1u << 20, 10min});
    const Chain a{1, 2};
    index.insert(a.blocks, a.ends, clock.now());
    clock.advance(9min);
    EXPECT_EQ(index.match(a.blocks, a.ends, clock.now()), 200u);
    clock.advance(2min);
    EXPECT_EQ(index.match(a.blocks, a.ends, clock.now()), 0u);
    index.insert(a.blocks, a.ends, clock.now());  // sent again: fresh
    EXPECT_EQ(index.match(a.blocks, a.ends, clock.now()), 200u);
}

Candidate candidate(std::size_t index, std::size_t outstanding, std::uint32_t matched, std::uint64_t rendezvous = 0) {
    Candidate c{index, outstanding, 0, 1};
    c.matched = matched;
    c.rendezvous = rendezvous;
    return c;
}

TEST(PrefixAffinity, TheLongestMatchWinsUnlessLoadedBeyondTheMargin) {
    std::vector<Candidate> list{candidate(0, 0, 0), candidate(1, 2, 500), candidate(2, 1, 300)};
    EXPECT_EQ(order_prefix_affinity(list, 2, 1.25, 0), AffinityChoice::matched);
    EXPECT_EQ(list[0].index, 1u);
    list = {candidate(0, 0, 0), candidate(1, 3, 500), candidate(2, 1, 300)};
    EXPECT_EQ(order_prefix_affinity(list, 2, 1.25, 0), AffinityChoice::overridden);
    EXPECT_EQ(list[0].index, 0u);  // least outstanding
}

TEST(PrefixAffinity, FirstTurnsFollowTheSessionHashUnderABoundedLoad) {
    // No match: the highest rendezvous score, unless over ceil(1.25 x (in flight + 1) / n).
    std::vector<Candidate> list{candidate(0, 0, 0, 10), candidate(1, 0, 0, 30), candidate(2, 0, 0, 20)};
    EXPECT_EQ(order_prefix_affinity(list, 2, 1.25, 0), AffinityChoice::hashed);
    EXPECT_EQ(list[0].index, 1u);
    // 4 in flight: bound ceil(1.25 x 5 / 3) = 3; deployment 1 with 3 would reach 4: the next score.
    list = {candidate(0, 1, 0, 10), candidate(1, 3, 0, 30), candidate(2, 0, 0, 20)};
    EXPECT_EQ(order_prefix_affinity(list, 2, 1.25, 0), AffinityChoice::hashed);
    EXPECT_EQ(list[0].index, 2u);
    // No session: least outstanding.
    list = {candidate(0, 2, 0), candidate(1, 1, 0)};
    EXPECT_EQ(order_prefix_affinity(list, 2, 1.25, 0), AffinityChoice::least);
    EXPECT_EQ(list[0].index, 1u);
}

TEST(FairQueue, ServesKeysByWeightedTokensNotArrival) {
    FairQueue<int> queue;
    // The heavy key queues 10 requests before the light key's 2.
    for (int i = 0; i < 10; ++i) queue.push(1, 100, 1, 100 + i);
    queue.push(2, 100, 1, 200);
    queue.push(2, 100, 1, 201);
    std::vector<int> order;
    while (!queue.empty()) order.push_back(queue.pop());
    // Alternating while both wait (ties go to the older entry), then the heavy key's rest.
    EXPECT_EQ((std::vector<int>{100, 200, 101, 201, 102, 103}), std::vector<int>(order.begin(), order.begin() + 6));
}

TEST(FairQueue, WeightsShareInProportion) {
    FairQueue<int> queue;
    for (int i = 0; i < 30; ++i) {
        queue.push(1, 10, 1, 1);
        queue.push(2, 10, 2, 2);
    }
    int ones = 0;
    for (int i = 0; i < 30; ++i) ones += queue.pop() == 1 ? 1 : 0;
    EXPECT_EQ(ones, 10);  // a third to weight 1, two thirds to weight 2
}

TEST(FairQueue, AReturningKeyIsLiftedAndNoKeyBanksCredit) {
    FairQueue<int> queue;
    for (int i = 0; i < 5; ++i) queue.push(1, 100, 1, 1);
    for (int i = 0; i < 5; ++i) queue.pop();  // key 1 served 500 alone
    EXPECT_EQ(queue.counter(1), 500);
    queue.push(1, 100, 1, 1);
    queue.push(2, 100, 1, 2);  // new while key 1 waits: lifted to 500, not 0
    EXPECT_EQ(queue.counter(2), 500);
    EXPECT_EQ(queue.pop(), 1);  // the older of equals
    EXPECT_EQ(queue.pop(), 2);
    // A waiter that gives up is not charged.
    queue.push(3, 100, 1, 3);
    EXPECT_TRUE(queue.erase(3));
    EXPECT_TRUE(queue.empty());
    EXPECT_LE(queue.clients(), FairQueue<int>::kMaxClients);
}

class FakeHealth : public HealthView {
public:
    bool usable(std::size_t upstream) const override { return !down.contains(upstream); }
    std::set<std::size_t> down;
};

config::Gateway load(std::string_view yaml) {
    auto result = config::load_string(yaml, [](std::string_view) { return std::nullopt; });
    if (!result.errors.empty()) ADD_FAILURE() << config::to_string(result.errors.front());
    return std::move(*result.gateway);
}

constexpr std::string_view kLocal = R"(
upstreams:
  - {name: gpu-1, base_url: "http://127.0.0.1:1"}
  - {name: gpu-2, base_url: "http://127.0.0.1:2"}
  - {name: cloud, base_url: "http://127.0.0.1:3"}
models:
  - name: m
    strategy: prefix-affinity
    affinity: {margin: 1}
    queue: {size: 10, timeout: 1s}
    deployments:
      - {upstream: gpu-1, max_concurrency: 2}
      - {upstream: gpu-2, max_concurrency: 2}
      - {upstream: cloud, tier: 2}
)";

// queue.fair_by: label:team shares a queue across a label's values, not keys: two keys of one team
// are one client with the team's weight; a key without the label is a client of its own with its
// own weight. By key (the default), each key is its own client.
TEST(RouterScheduling, FairShareAcrossALabelsValues) {
    const auto config = load(R"(
upstreams:
  - {name: gpu, base_url: "http://127.0.0.1:1"}
keys:
  - {name: alice, key: sk-alice-0000000001, labels: {team: research}}
  - {name: bob, key: sk-bob-00000000001, labels: {team: research}}
  - {name: carol, key: sk-carol-0000000001, labels: {team: ops}}
  - {name: dave, key: sk-dave-00000000001, weight: 2}
models:
  - name: by-team
    queue: {size: 10, fair_by: "label:team", weights: {research: 3}}
    deployments: [{upstream: gpu}]
  - name: by-key
    queue: {size: 10}
    deployments: [{upstream: gpu}]
)");
    ASSERT_EQ(config.keys.size(), 4u);
    const config::Model& by_team = config.models[0];
    EXPECT_EQ(by_team.fair_label, "team");
    const FairClient alice = fair_client(by_team, &config.keys[0]);
    const FairClient bob = fair_client(by_team, &config.keys[1]);
    const FairClient carol = fair_client(by_team, &config.keys[2]);
    const FairClient dave = fair_client(by_team, &config.keys[3]);
    EXPECT_EQ(alice.client, bob.client);
    EXPECT_EQ(alice.weight, 3);
    EXPECT_NE(carol.client, alice.client);
    EXPECT_EQ(carol.weight, 1);  // a value not listed
    EXPECT_NE(dave.client, alice.client);
    EXPECT_NE(dave.client, carol.client);
    EXPECT_EQ(dave.weight, 2);  // no team: its own key and weight
    EXPECT_EQ(fair_client(by_team, nullptr).client, 0u);

    const config::Model& by_key = config.models[1];
    EXPECT_NE(fair_client(by_key, &config.keys[0]).client, fair_client(by_key, &config.keys[1]).client);
    EXPECT_EQ(fair_client(by_key, &config.keys[3]).weight, 2);
    EXPECT_EQ(fair_client(by_key, &config.keys[3]).client, dave.client);

    // Served so: the team of two keys gets as much as the team of one, weights aside.
    FairQueue<int> queue;
    for (int i = 0; i < 4; ++i) queue.push(alice.client, 100, 1, 1);
    for (int i = 0; i < 4; ++i) queue.push(bob.client, 100, 1, 2);
    for (int i = 0; i < 4; ++i) queue.push(carol.client, 100, 1, 3);
    std::string order;
    for (int i = 0; i < 6; ++i) order += std::to_string(queue.pop());
    EXPECT_EQ(order, "131313");  // the teams in turn (research's oldest waiters, alice's, first)

    for (const std::string_view bad : {"queue: {fair_by: team}", "queue: {weights: {research: 2}}",
                                       "queue: {fair_by: \"label:team\", weights: {research: 0}}"}) {
        auto result = config::load_string("upstreams: [{name: gpu, base_url: \"http://127.0.0.1:1\"}]\nmodels:\n"
                                          "  - name: m\n    " + std::string(bad) + "\n    deployments: [{upstream: gpu}]\n",
                                          [](std::string_view) { return std::nullopt; });
        EXPECT_FALSE(result.errors.empty()) << bad;
    }
}

// The queue charges a client what its requests used, not their estimate: key 1's first request
// is estimated at 1,000 tokens but uses 10 (a large max_tokens, a short answer), so its second
// comes before key 2's second (estimated and used: 100). Charged by the estimate, it would come after.
TEST(RouterScheduling, TheQueueChargesWhatARequestUsedNotItsEstimate) {
    const auto config = load(R"(
upstreams:
  - {name: gpu, base_url: "http://127.0.0.1:1"}
models:
  - name: m
    queue: {size: 10, timeout: 1s}
    deployments: [{upstream: gpu, max_concurrency: 1}]
)");
    FakeHealth health;
    ManualClock clock;
    Router router(config, health, clock);
    const config::Model& model = *config.find_model("m");
    auto hold = std::make_unique<Lease>(std::move(std::get<Lease>(router.pick(model, {}, 100).result())));
    asio::io_context io;
    std::vector<std::string> granted;
    std::map<std::string, std::unique_ptr<Lease>> leases;
    const auto queue = [&](const std::string& name, std::uint64_t client, double estimate) {
        Hints hints;
        hints.client = client;
        auto pick = router.pick(model, {}, estimate, hints);
        ASSERT_TRUE(pick.must_wait());
        asio::co_spawn(io, router.wait(pick, SteadyTime::max()), [&, name](std::exception_ptr, auto r) {
            granted.push_back(name);
            leases[name] = std::make_unique<Lease>(std::move(std::get<Lease>(r)));
        });
        io.poll();
    };
    queue("a1", 1, 1000);
    queue("b1", 2, 100);
    queue("a2", 1, 1000);
    queue("b2", 2, 100);
    hold.reset();
    io.poll();
    ASSERT_EQ(granted, (std::vector<std::string>{"a1"}));
    router.correct_tokens(*leases["a1"], 10 - 1000);  // it used 10
    leases["a1"].reset();
    io.poll();
    ASSERT_EQ(granted.back(), "b1");  // key 2 had been charged nothing yet
    router.correct_tokens(*leases["b1"], 0);
    leases["b1"].reset();
    io.poll();
    EXPECT_EQ(granted.back(), "a2");  // 10 against 100
    leases["a2"].reset();
    io.poll();
    EXPECT_EQ(granted, (std::vector<std::string>{"a1", "b1", "a2", "b2"}));
}

// A request that waits in a fallback model's queue is grouped by that model's fair_by: alice and
// bob (team research) are one client there, though each is its own in the model asked for (by key).
// So carol (team ops) comes before bob; grouped by key, bob, the older, would.
TEST(RouterScheduling, AFallbackModelsQueueGroupsByItsOwnFairBy) {
    const auto config = load(R"(
upstreams:
  - {name: gpu-a, base_url: "http://127.0.0.1:1"}
  - {name: gpu-b, base_url: "http://127.0.0.1:2"}
keys:
  - {name: alice, key: sk-alice-0000000001, labels: {team: research}}
  - {name: bob, key: sk-bob-00000000001, labels: {team: research}}
  - {name: carol, key: sk-carol-0000000001, labels: {team: ops}}
models:
  - name: a
    fallbacks: [b]
    deployments: [{upstream: gpu-a, max_concurrency: 1}]
  - name: b
    overflow: queue
    queue: {size: 10, timeout: 1s, fair_by: "label:team"}
    deployments: [{upstream: gpu-b, max_concurrency: 1}]
)");
    FakeHealth health;
    ManualClock clock;
    Router router(config, health, clock);
    const config::Model& a = *config.find_model("a");
    const config::Model& b = *config.find_model("b");
    auto hold_a = std::make_unique<Lease>(std::move(std::get<Lease>(router.pick(a, {}, 100).result())));
    auto hold_b = std::make_unique<Lease>(std::move(std::get<Lease>(router.pick(b, {}, 100).result())));
    asio::io_context io;
    std::vector<std::string> granted;
    std::map<std::string, std::unique_ptr<Lease>> leases;
    const auto ask_a = [&](const std::string& name, const config::Key& key) {
        Hints hints;
        hints.key = &key;  // as the gateway fills them
        auto pick = router.pick(a, {}, 100, hints);
        ASSERT_TRUE(pick.must_wait());
        asio::co_spawn(io, router.wait(pick, SteadyTime::max()), [&, name](std::exception_ptr, auto r) {
            granted.push_back(name);
            leases[name] = std::make_unique<Lease>(std::move(std::get<Lease>(r)));
        });
        io.poll();
    };
    ask_a("alice", config.keys[0]);
    ask_a("bob", config.keys[1]);
    ask_a("carol", config.keys[2]);
    EXPECT_EQ(router.queued(b), 3u);
    hold_b.reset();
    io.poll();
    ASSERT_EQ(granted, (std::vector<std::string>{"alice"}));
    EXPECT_EQ(leases["alice"]->model().name, "b");
    leases["alice"].reset();
    io.poll();
    EXPECT_EQ(granted, (std::vector<std::string>{"alice", "carol"}));
}

TEST(RouterScheduling, ASessionsTurnsStayOnOneDeploymentAndLoadOverrides) {
    const auto config = load(kLocal);
    FakeHealth health;
    ManualClock clock;
    Router router(config, health, clock);
    const config::Model& model = *config.find_model("m");
    const auto turn1 = prefix_of(parse::Endpoint::chat_completions, chat(std::string(kSys) + "," + std::string(kU1)));
    const auto turn2 = prefix_of(parse::Endpoint::chat_completions,
                                 chat(std::string(kSys) + "," + std::string(kU1) + "," + std::string(kA1) + "," +
                                      std::string(kU2)));
    std::string first;
    {
        auto pick = router.pick(model, {}, 0, Hints{&turn1});
        ASSERT_FALSE(pick.must_wait());
        first = std::get<Lease>(pick.result()).deployment().name;
    }
    EXPECT_EQ(router.counters().affinity_hashed.load(), 1u);
    for (int i = 0; i < 3; ++i) {
        auto pick = router.pick(model, {}, 0, Hints{&turn2});
        EXPECT_EQ(std::get<Lease>(pick.result()).deployment().name, first);
    }
    EXPECT_EQ(router.counters().affinity_matched.load(), 3u);
    // Its deployment two requests busier than the other (margin 1): load wins.
    const std::size_t first_id = first == "gpu-1" ? 0 : 1;
    Lease busy1, busy2;
    {
        const auto other = prefix_of(parse::Endpoint::chat_completions, chat(R"({"role":"user","content":"x"})"));
        // Fill the session's deployment with two unrelated requests.
        auto a = router.try_acquire(model, std::array<std::size_t, 1>{1 - first_id});
        auto b = router.try_acquire(model, std::array<std::size_t, 1>{1 - first_id});
        busy1 = std::move(std::get<Lease>(a));
        busy2 = std::move(std::get<Lease>(b));
        (void)other;
    }
    auto pick = router.pick(model, {}, 0, Hints{&turn2});
    EXPECT_NE(std::get<Lease>(pick.result()).deployment().name, first);
    EXPECT_EQ(router.counters().affinity_overridden.load(), 1u);
    // The engine goes down: what it held is forgotten.
    health.down.insert(first_id);
    (void)router.pick(model, {}, 0, Hints{&turn2});
    EXPECT_EQ(router.status(config.models[0].deployments[first_id].id).prefix_blocks, 0u);
    EXPECT_GE(router.counters().affinity_forgotten.load(), 1u);
}

// A prefix-affinity model whose `engines` deployments take one request each, the rest queueing.
std::string affinity_queue(int engines) {
    std::string upstreams = "upstreams:\n", deployments;
    for (int i = 1; i <= engines; ++i) {
        const std::string n = std::to_string(i);
        upstreams += "  - {name: gpu-" + n + ", base_url: \"http://127.0.0.1:" + n + "\"}\n";
        deployments += "      - {upstream: gpu-" + n + ", max_concurrency: 1}\n";
    }
    return upstreams + "models:\n  - name: m\n    strategy: prefix-affinity\n    overflow: queue\n"
                       "    queue: {size: 100, timeout: 5s}\n    deployments:\n" + deployments;
}

TEST(RouterScheduling, AFreedSlotGoesToTheWaiterWhosePrefixItHolds) {
    const auto config = load(affinity_queue(2));
    FakeHealth health;
    ManualClock clock;
    Router router(config, health, clock);
    const config::Model& model = *config.find_model("m");
    const std::string a1 = std::string(kSys) + "," + std::string(kU1);
    const std::string b1 = std::string(kSys) + R"(,{"role":"user","content":"bye"})";
    const std::string more = "," + std::string(kA1) + "," + std::string(kU2);
    const auto a_turn1 = prefix_of(parse::Endpoint::chat_completions, chat(a1));
    const auto b_turn1 = prefix_of(parse::Endpoint::chat_completions, chat(b1));
    const auto a_turn2 = prefix_of(parse::Endpoint::chat_completions, chat(a1 + more));
    const auto b_turn2 = prefix_of(parse::Endpoint::chat_completions, chat(b1 + more));
    // Each session's first turn takes one engine.
    auto a_lease = std::make_unique<Lease>(std::move(std::get<Lease>(router.pick(model, {}, 0, Hints{&a_turn1}).result())));
    auto b_lease = std::make_unique<Lease>(std::move(std::get<Lease>(router.pick(model, {}, 0, Hints{&b_turn1}).result())));
    const std::string a_engine(a_lease->deployment().name);
    const std::string b_engine(b_lease->deployment().name);
    ASSERT_NE(a_engine, b_engine);

    // Their second turns wait, B's first; A's engine frees first.
    asio::io_context io;
    std::optional<std::variant<Lease, ApiError>> a_got, b_got;
    auto b_pick = router.pick(model, {}, 0, Hints{&b_turn2});
    auto a_pick = router.pick(model, {}, 0, Hints{&a_turn2});
    ASSERT_TRUE(b_pick.must_wait() && a_pick.must_wait());
    asio::co_spawn(io, router.wait(b_pick, SteadyTime::max()), [&](std::exception_ptr, auto r) { b_got = std::move(r); });
    io.poll();
    asio::co_spawn(io, router.wait(a_pick, SteadyTime::max()), [&](std::exception_ptr, auto r) { a_got = std::move(r); });
    io.poll();
    EXPECT_EQ(router.queued(model), 2u);
    a_lease.reset();
    io.poll();
    // Not to the oldest waiter (B, whose prefix the other engine holds) but to A.
    ASSERT_TRUE(a_got.has_value());
    EXPECT_FALSE(b_got.has_value());
    ASSERT_TRUE(std::holds_alternative<Lease>(*a_got));
    EXPECT_EQ(std::get<Lease>(*a_got).deployment().name, a_engine);
    b_lease.reset();
    io.poll();
    ASSERT_TRUE(b_got.has_value());
    ASSERT_TRUE(std::holds_alternative<Lease>(*b_got));
    EXPECT_EQ(std::get<Lease>(*b_got).deployment().name, b_engine);
    EXPECT_EQ(router.counters().affinity_matched.load(), 2u);
}

TEST(RouterScheduling, AWaiterPassedOverForAffinityIsServedWithinItsBound) {
    // One engine holds every waiter's prefix but the oldest's, which another holds: slots on the
    // first go to the later waiters at most 8 times before the oldest takes one.
    const auto config = load(affinity_queue(1));
    FakeHealth health;
    ManualClock clock;
    Router router(config, health, clock);
    const config::Model& model = *config.find_model("m");
    const std::string a1 = std::string(kSys) + "," + std::string(kU1);
    const std::string more = "," + std::string(kA1) + "," + std::string(kU2);
    const auto a_turn1 = prefix_of(parse::Endpoint::chat_completions, chat(a1));
    const auto a_turn2 = prefix_of(parse::Endpoint::chat_completions, chat(a1 + more));
    const auto stranger = prefix_of(parse::Endpoint::chat_completions, chat(R"({"role":"user","content":"unrelated"})"));
    std::unique_ptr<Lease> held =
        std::make_unique<Lease>(std::move(std::get<Lease>(router.pick(model, {}, 0, Hints{&a_turn1}).result())));
    asio::io_context io;
    std::optional<std::variant<Lease, ApiError>> stranger_got;
    std::vector<std::optional<std::variant<Lease, ApiError>>> got(12);
    auto stranger_pick = router.pick(model, {}, 0, Hints{&stranger});
    asio::co_spawn(io, router.wait(stranger_pick, SteadyTime::max()),
                   [&](std::exception_ptr, auto r) { stranger_got = std::move(r); });
    io.poll();
    for (auto& slot : got) {
        auto pick = router.pick(model, {}, 0, Hints{&a_turn2});
        asio::co_spawn(io, router.wait(pick, SteadyTime::max()), [&slot](std::exception_ptr, auto r) { slot = std::move(r); });
    }
    io.poll();
    int served_before = 0;
    while (!stranger_got) {
        held.reset();
        io.poll();
        for (auto& slot : got) {
            if (slot && std::holds_alternative<Lease>(*slot)) {
                held = std::make_unique<Lease>(std::move(std::get<Lease>(*slot)));
                slot.reset();
                ++served_before;
                break;
            }
        }
        ASSERT_LE(served_before, 12);
    }
    EXPECT_EQ(served_before, 8);
    ASSERT_TRUE(std::holds_alternative<Lease>(*stranger_got));
}

TEST(RouterScheduling, LocalOnlyNeverSpillsAndBatchWaits) {
    const auto config = load(kLocal);
    FakeHealth health;
    ManualClock clock;
    Router router(config, health, clock);
    const config::Model& model = *config.find_model("m");
    std::vector<Lease> held;
    for (int i = 0; i < 4; ++i) held.push_back(std::move(std::get<Lease>(router.try_acquire(model, {}))));
    // Local is full: an interactive request spills to the cloud tier...
    {
        auto pick = router.pick(model, {}, 0, Hints{});
        ASSERT_FALSE(pick.must_wait());
        EXPECT_EQ(std::get<Lease>(pick.result()).deployment().name, "cloud");
    }
    // ...a batch or local_only one waits for local.
    EXPECT_TRUE(router.pick(model, {}, 0, Hints{nullptr, 0, false, true}).must_wait());
    EXPECT_TRUE(router.pick(model, {}, 0, Hints{nullptr, 0, true, false}).must_wait());
    EXPECT_EQ(router.counters().held_back.load(), 2u);
    // Local down: local_only is refused in a clear error, never sent to the cloud.
    held.clear();
    health.down = {0, 1};
    auto pick = router.pick(model, {}, 0, Hints{nullptr, 0, true, false});
    ASSERT_FALSE(pick.must_wait());
    auto* error = std::get_if<ApiError>(&pick.result());
    ASSERT_NE(error, nullptr);
    EXPECT_EQ(error->status, 503);
    EXPECT_EQ(error->code.value_or(""), "local_only_unavailable");
    EXPECT_NE(error->message.find("local_only"), std::string::npos);
}

}  // namespace
}  // namespace switchyard::route
