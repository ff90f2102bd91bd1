// Server-sent events split however the reads cut them (SseSplitter), and the JSON helpers the
// dialects share.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "translate/json.hpp"
#include "translate/stream.hpp"

namespace switchyard::translate {
namespace {

using Events = std::vector<std::pair<std::string, std::string>>;

Events split(const std::vector<std::string_view>& reads, bool finish = true) {
    SseSplitter splitter;
    Events events;
    const auto on = [&](std::string_view name, std::string_view data) {
        events.emplace_back(std::string(name), std::string(data));
    };
    for (auto read : reads) splitter.feed(read, on);
    if (finish) splitter.finish(on);
    return events;
}

constexpr std::string_view kStream =
    "event: message_start\ndata: {\"type\":\"message_start\"}\n\n"
    ": a comment\r\n"
    "event: ping\r\ndata: {\"type\": \"ping\"}\r\n\r\n"
    "data: line one\ndata: line two\nid: 7\nretry: 10\n\n"
    "data:no-space\r\rdata: [DONE]\n\n";

const Events kExpected{{"message_start", R"({"type":"message_start"})"},
                       {"ping", R"({"type": "ping"})"},
                       {"", "line one\nline two"},
                       {"", "no-space"},
                       {"", "[DONE]"}};

TEST(SseSplitter, SplitsEventsWithEveryLineEnding) { EXPECT_EQ(split({kStream}), kExpected); }

TEST(SseSplitter, AnyCutIntoTwoReadsGivesTheSameEvents) {
    for (std::size_t cut = 0; cut <= kStream.size(); ++cut) {
        EXPECT_EQ(split({kStream.substr(0, cut), kStream.substr(cut)}), kExpected) << "cut at " << cut;
    }
}

TEST(SseSplitter, ByteByByteGivesTheSameEvents) {
    std::vector<std::string_view> reads;
    for (std::size_t i = 0; i < kStream.size(); ++i) reads.push_back(kStream.substr(i, 1));
    EXPECT_EQ(split(reads), kExpected);
}

TEST(SseSplitter, AnEventWithoutItsBlankLineCountsAtTheEndOnly) {
    EXPECT_TRUE(split({"data: {\"a\":1}\n"}, false).empty());
    EXPECT_EQ(split({"data: {\"a\":1}\n"}), (Events{{"", "{\"a\":1}"}}));
    EXPECT_EQ(split({"data: {\"a\":1}"}), (Events{{"", "{\"a\":1}"}}));
    EXPECT_TRUE(split({"event: x\n\n"}).empty());  // no data: no event
}

TEST(TranslateJson, WriterPlacesCommas) {
    std::string out;
    json::Writer w(out);
    w.object().field("a", "1").key("b").array().number(2).text("x\"y").null().end_array().field("skip", "");
    w.key("c").object().end_object().boolean(true).end_object();
    EXPECT_EQ(out, R"({"a":1,"b":[2,"x\"y",null],"c":{},true})");
}

TEST(TranslateJson, IdsAreTheSeedsDigestAndStayTheSameAcrossReleases) {
    // The first 24 hex digits of SHA-256("<seed>/<n>"): ids a caller may have stored (a Responses
    // item id, a tool call id) must not change when the gateway is upgraded.
    EXPECT_EQ(json::make_id("resp_", "req-1", 0), "resp_4893a171fe8bd22ddd230084");
    EXPECT_EQ(json::make_id("", std::string(300, 'r'), 7), "ea16362ba31710914f8fd449");  // a seed too long for the stack
}

TEST(TranslateJson, LiteralsAndConversions) {
    EXPECT_EQ(json::text_of(R"("a\n\"b\" \u00e9 \ud83d\ude00")"), "a\n\"b\" \xC3\xA9 \xF0\x9F\x98\x80");
    EXPECT_TRUE(json::is(R"("user")", "user"));
    EXPECT_FALSE(json::is(R"("users")", "user"));
    std::string arguments;
    json::append_as_string(R"({"city":"Paris \"FR\""})", arguments);
    EXPECT_EQ(arguments, R"("{\"city\":\"Paris \\\"FR\\\"\"}")");
    std::string object;
    ASSERT_TRUE(json::string_to_object(arguments, object));
    EXPECT_EQ(object, R"({"city":"Paris \"FR\""})");
    EXPECT_FALSE(json::string_to_object(R"("[1,2]")", object));
    EXPECT_FALSE(json::string_to_object(R"("{\"a\":")", object));
    Arena arena;
    EXPECT_EQ(json::join(R"("a")", "\n\n", R"("b\"")", arena), R"("a\n\nb\"")");
    EXPECT_EQ(json::make_id("msg_", "req-1", 0), json::make_id("msg_", "req-1", 0));
    EXPECT_NE(json::make_id("msg_", "req-1", 0), json::make_id("msg_", "req-1", 1));
    EXPECT_EQ(json::make_id("msg_", "req-1", 0).size(), 4u + 24u);
}

}  // namespace
}  // namespace switchyard::translate
