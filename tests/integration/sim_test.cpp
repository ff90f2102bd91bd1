// The simulator itself: the fake upstream every other test relies on must be right.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <chrono>
#include <string_view>
#include <vector>

#include "harness.hpp"

namespace switchyard::testing {
namespace {

std::string content_of(const std::string& body) {
    const std::string key = R"("content":")";
    const auto at = body.find(key);
    if (at == std::string::npos) return "";
    return body.substr(at + key.size(), body.find('"', at + key.size()) - at - key.size());
}

// A parsed JSON document; it keeps its parser, which its elements point into.
struct Json {
    explicit Json(const std::string& text) : ok(parser.parse(text).get(root) == simdjson::SUCCESS) {}
    std::string str(std::string_view pointer) const {
        std::string_view value;
        if (root.at_pointer(pointer).get_string().get(value) != simdjson::SUCCESS)
            return "<missing " + std::string(pointer) + ">";
        return std::string(value);
    }
    long num(std::string_view pointer) const {
        std::int64_t value = 0;
        if (root.at_pointer(pointer).get_int64().get(value) != simdjson::SUCCESS) return -1;
        return static_cast<long>(value);
    }
    bool is_null(std::string_view pointer) const {
        simdjson::dom::element element;
        return root.at_pointer(pointer).get(element) == simdjson::SUCCESS && element.is_null();
    }
    bool has(std::string_view pointer) const {
        simdjson::dom::element element;
        return root.at_pointer(pointer).get(element) == simdjson::SUCCESS;
    }
    std::string raw(std::string_view pointer) const {
        simdjson::dom::element element;
        if (root.at_pointer(pointer).get(element) != simdjson::SUCCESS) return "<missing>";
        return simdjson::minify(element);
    }
    std::size_t size(std::string_view pointer) const {
        simdjson::dom::array array;
        if (root.at_pointer(pointer).get_array().get(array) != simdjson::SUCCESS) return 0;
        return array.size();
    }

    simdjson::dom::parser parser;
    simdjson::dom::element root;
    bool ok;
};

// One server-sent event: its "event:" name (empty when unnamed) and its data.
struct Event {
    std::string name;
    std::string data;
};

std::vector<Event> events_of(const std::string& body) {
    std::vector<Event> events;
    std::size_t at = 0;
    while (at < body.size()) {
        auto end = body.find("\n\n", at);
        if (end == std::string::npos) end = body.size();
        Event event;
        for (std::size_t line = at; line < end;) {
            auto eol = body.find('\n', line);
            if (eol == std::string::npos || eol > end) eol = end;
            const std::string_view text(body.data() + line, eol - line);
            if (text.starts_with("event: ")) event.name = text.substr(7);
            if (text.starts_with("data: ")) event.data = text.substr(6);
            line = eol + 1;
        }
        if (!event.name.empty() || !event.data.empty()) events.push_back(std::move(event));
        at = end + 2;
    }
    return events;
}

std::vector<std::string> names_of(const std::vector<Event>& events) {
    std::vector<std::string> names;
    for (const auto& event : events) names.push_back(event.name);
    return names;
}

const std::map<std::string, std::string> kAnthropic = {{"anthropic-version", "2023-06-01"}};

std::map<std::string, std::string> with(std::map<std::string, std::string> headers,
                                        const std::map<std::string, std::string>& more) {
    headers.insert(more.begin(), more.end());
    return headers;
}

std::string messages_body(const std::string& extra = "",
                          const std::string& content = R"("Say something about trains.")") {
    std::string body =
        R"({"model":"claude-sim","max_tokens":100,"messages":[{"role":"user","content":)" + content + "}]";
    if (!extra.empty()) body += "," + extra;
    return body + "}";
}

std::string responses_body(const std::string& extra = "") {
    std::string body = R"({"model":"m","instructions":"Be brief.","input":"Say something about trains.")";
    if (!extra.empty()) body += "," + extra;
    return body + "}";
}

constexpr const char* kWeatherTool =
    R"({"name":"get_weather","description":"d","input_schema":{"type":"object",)"
    R"("properties":{"city":{"type":"string"},"unit":{"enum":["c","f"]},"days":{"type":"integer"}}}})";
constexpr const char* kWeatherArguments = R"({"city":"sim","unit":"c","days":1})";

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

// ---- Anthropic Messages ----

TEST(Simulator, MessagesAnswerInAnthropicsShape) {
    auto sim = start_sim({"--tokens", "5"});
    const auto r = post(sim.port, "/v1/messages", messages_body(), kAnthropic);
    ASSERT_EQ(r.status, 200) << r.body;
    const Json j(r.body);
    ASSERT_TRUE(j.ok) << r.body;
    EXPECT_TRUE(j.str("/id").starts_with("msg_")) << r.body;
    EXPECT_EQ(j.str("/type"), "message");
    EXPECT_EQ(j.str("/role"), "assistant");
    EXPECT_EQ(j.str("/model"), "claude-sim");
    EXPECT_EQ(j.size("/content"), 1u);
    EXPECT_EQ(j.str("/content/0/type"), "text");
    EXPECT_FALSE(j.str("/content/0/text").empty());
    EXPECT_EQ(j.str("/stop_reason"), "end_turn");
    EXPECT_TRUE(j.is_null("/stop_sequence"));
    EXPECT_EQ(j.num("/usage/input_tokens"), 4 + 4);  // four words and one message
    EXPECT_EQ(j.num("/usage/output_tokens"), 5);
    EXPECT_EQ(j.num("/usage/cache_creation_input_tokens"), 0);
    EXPECT_EQ(j.num("/usage/cache_read_input_tokens"), 0);

    const auto capped = post(
        sim.port, "/v1/messages",
        R"({"model":"claude-sim","max_tokens":3,"messages":[{"role":"user","content":"Say something about trains."}]})",
        kAnthropic);
    const Json c(capped.body);
    EXPECT_EQ(c.str("/stop_reason"), "max_tokens") << capped.body;
    EXPECT_EQ(c.num("/usage/output_tokens"), 3);
    EXPECT_TRUE(j.str("/content/0/text").starts_with(c.str("/content/0/text")));

    const auto stats = sim_stats(sim);
    EXPECT_EQ(stat_number(stats, "completion_tokens_total"), 5 + 3);
    EXPECT_EQ(stat_number(stats, "prompt_tokens_total"), 8 + 8);
    EXPECT_NE(stats.find(R"("/v1/messages":2)"), std::string::npos) << stats;
    EXPECT_NE(stats.find(R"("claude-sim":2)"), std::string::npos) << stats;
}

TEST(Simulator, MessagesStreamNamedEvents) {
    auto sim = start_sim({"--tokens", "4", "--itl-ms", "5"});
    const auto whole = post(sim.port, "/v1/messages", messages_body(), kAnthropic);
    const auto s = post_streaming(sim.port, "/v1/messages", messages_body(R"("stream":true)"), kAnthropic);
    ASSERT_EQ(s.status, 200);
    EXPECT_EQ(s.headers.at("content-type"), "text/event-stream");
    const auto events = events_of(s.body());
    const std::vector<std::string> expected = {"message_start",       "content_block_start", "ping",
                                               "content_block_delta", "content_block_delta", "content_block_delta",
                                               "content_block_delta", "content_block_stop",  "message_delta",
                                               "message_stop"};
    ASSERT_EQ(names_of(events), expected) << s.body();
    std::string text;
    for (const auto& event : events) {
        const Json j(event.data);
        ASSERT_TRUE(j.ok) << event.data;
        EXPECT_EQ(j.str("/type"), event.name);
        if (event.name == "content_block_delta") {
            EXPECT_EQ(j.str("/delta/type"), "text_delta");
            EXPECT_EQ(j.num("/index"), 0);
            text += j.str("/delta/text");
        }
    }
    const Json start(events[0].data);
    EXPECT_TRUE(start.str("/message/id").starts_with("msg_"));
    EXPECT_EQ(start.num("/message/usage/input_tokens"), 8);
    EXPECT_EQ(start.size("/message/content"), 0u);
    EXPECT_TRUE(start.is_null("/message/stop_reason"));
    EXPECT_EQ(Json(events[1].data).str("/content_block/type"), "text");
    const Json delta(events[8].data);
    EXPECT_EQ(delta.str("/delta/stop_reason"), "end_turn");
    EXPECT_EQ(delta.num("/usage/output_tokens"), 4);
    EXPECT_EQ(text, Json(whole.body).str("/content/0/text"));
    EXPECT_EQ(stat_number(sim_stats(sim), "completion_tokens_total"), 8);
}

TEST(Simulator, MessagesErrorsInAnthropicsShape) {
    auto sim = start_sim({"--api-key", "sekrit"});
    const auto key = with(kAnthropic, {{"x-api-key", "sekrit"}});
    const auto expect_error = [](const Response& r, int status, const std::string& type, const std::string& needle) {
        EXPECT_EQ(r.status, status) << r.body;
        const Json j(r.body);
        EXPECT_EQ(j.str("/type"), "error") << r.body;
        EXPECT_EQ(j.str("/error/type"), type) << r.body;
        EXPECT_NE(j.str("/error/message").find(needle), std::string::npos) << r.body;
    };
    expect_error(post(sim.port, "/v1/messages", R"({"model":"m","messages":[{"role":"user","content":"hi"}]})", key),
                 400, "invalid_request_error", "max_tokens: Field required");
    expect_error(post(sim.port, "/v1/messages",
                      R"({"model":"m","max_tokens":"x","messages":[{"role":"user","content":"hi"}]})", key),
                 400, "invalid_request_error", "max_tokens");
    expect_error(post(sim.port, "/v1/messages", R"({"model":"m","max_tokens":5,"messages":[]})", key), 400,
                 "invalid_request_error", "messages");
    expect_error(post(sim.port, "/v1/messages",
                      R"({"model":"m","max_tokens":5,"messages":[{"role":"robot","content":"x"}]})", key),
                 400, "invalid_request_error", "messages.0.role");
    expect_error(post(sim.port, "/v1/messages", R"({"max_tokens":5,"messages":[{"role":"user","content":"x"}]})", key),
                 400, "invalid_request_error", "model: Field required");
    expect_error(post(sim.port, "/v1/messages", messages_body(), {{"x-api-key", "sekrit"}}), 400,
                 "invalid_request_error", "anthropic-version");
    expect_error(post(sim.port, "/v1/messages", messages_body(), kAnthropic), 401, "authentication_error", "x-api-key");
    expect_error(post(sim.port, "/v1/messages", messages_body(), with(kAnthropic, {{"x-api-key", "wrong"}})), 401,
                 "authentication_error", "x-api-key");
    // The OpenAI way of sending the key does not do for Anthropic's API.
    expect_error(
        post(sim.port, "/v1/messages", messages_body(), with(kAnthropic, {{"authorization", "Bearer sekrit"}})), 401,
        "authentication_error", "x-api-key");
    expect_error(post(sim.port, "/v1/messages", messages_body(), with(key, {{"x-sim-fault", "503"}})), 529,
                 "overloaded_error", "Overloaded");
    const auto limited = post(sim.port, "/v1/messages", messages_body(), with(key, {{"x-sim-fault", "429"}}));
    expect_error(limited, 429, "rate_limit_error", "rate limit");
    EXPECT_EQ(limited.header("retry-after"), "1");
    expect_error(post(sim.port, "/v1/messages", messages_body(), with(key, {{"x-sim-fault", "500"}})), 500, "api_error",
                 "");
    expect_error(post(sim.port, "/v1/messages/nope", "{}", key), 404, "not_found_error", "Invalid URL");
    EXPECT_EQ(post(sim.port, "/v1/messages", messages_body(), key).status, 200);
    const auto stats = sim_stats(sim);
    EXPECT_EQ(stat_number(stats, "rejected"), 9);
    EXPECT_EQ(stat_number(stats, "faults_injected"), 3);
}

TEST(Simulator, MessagesStrictModelIsNotFound) {
    auto sim = start_sim({"--strict-models", "--model", "claude-sim"});
    const auto r = post(sim.port, "/v1/messages",
                        R"({"model":"other","max_tokens":5,"messages":[{"role":"user","content":"x"}]})", kAnthropic);
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(Json(r.body).str("/error/type"), "not_found_error") << r.body;
    EXPECT_EQ(post(sim.port, "/v1/messages", messages_body(), kAnthropic).status, 200);
}

TEST(Simulator, CountTokensMatchesTheUsageOfTheAnswer) {
    auto sim = start_sim();
    const std::string body = R"({"model":"claude-sim","max_tokens":9,"system":"You are terse.","messages":[)"
                             R"({"role":"user","content":[{"type":"text","text":"one two three"}]},)"
                             R"({"role":"assistant","content":"four"},{"role":"user","content":"five six"}]})";
    const auto counted = post(sim.port, "/v1/messages/count_tokens", body, kAnthropic);
    ASSERT_EQ(counted.status, 200) << counted.body;
    const Json c(counted.body);
    EXPECT_EQ(c.num("/input_tokens"), 3 + 3 + 1 + 2 + 3 * 4) << counted.body;
    EXPECT_EQ(c.num("/input_tokens"),
              Json(post(sim.port, "/v1/messages", body, kAnthropic).body).num("/usage/input_tokens"));
    // count_tokens takes no max_tokens, but still wants the version header.
    EXPECT_EQ(post(sim.port, "/v1/messages/count_tokens", R"({"model":"m","messages":[{"role":"user","content":"x"}]})",
                   kAnthropic)
                  .status,
              200);
    EXPECT_EQ(post(sim.port, "/v1/messages/count_tokens", body).status, 400);

    const auto input = post(sim.port, "/v1/responses/input_tokens", responses_body());
    ASSERT_EQ(input.status, 200) << input.body;
    const Json i(input.body);
    EXPECT_EQ(i.str("/object"), "response.input_tokens");
    EXPECT_EQ(i.num("/input_tokens"), 2 + 4 + 4);  // instructions, the input's words, one message
    EXPECT_EQ(i.num("/input_tokens"),
              Json(post(sim.port, "/v1/responses", responses_body()).body).num("/usage/input_tokens"));
    const auto stats = sim_stats(sim);
    EXPECT_NE(stats.find(R"("/v1/messages/count_tokens":3)"), std::string::npos) << stats;
    EXPECT_NE(stats.find(R"("/v1/responses/input_tokens":1)"), std::string::npos) << stats;
    EXPECT_EQ(stat_number(stats, "requests_total"), 2);  // counting generates nothing
}

// ---- OpenAI Responses ----

TEST(Simulator, ResponsesAnswerInTheResponsesShape) {
    auto sim = start_sim({"--tokens", "6"});
    const auto r = post(sim.port, "/v1/responses", responses_body());
    ASSERT_EQ(r.status, 200) << r.body;
    const Json j(r.body);
    EXPECT_TRUE(j.str("/id").starts_with("resp_")) << r.body;
    EXPECT_EQ(j.str("/object"), "response");
    EXPECT_GT(j.num("/created_at"), 0);
    EXPECT_EQ(j.str("/status"), "completed");
    EXPECT_TRUE(j.is_null("/incomplete_details"));
    EXPECT_EQ(j.str("/model"), "m");
    ASSERT_EQ(j.size("/output"), 1u);
    EXPECT_EQ(j.str("/output/0/type"), "message");
    EXPECT_TRUE(j.str("/output/0/id").starts_with("msg_"));
    EXPECT_EQ(j.str("/output/0/status"), "completed");
    EXPECT_EQ(j.str("/output/0/role"), "assistant");
    EXPECT_EQ(j.str("/output/0/content/0/type"), "output_text");
    EXPECT_EQ(j.raw("/output/0/content/0/annotations"), "[]");
    EXPECT_FALSE(j.str("/output/0/content/0/text").empty());
    EXPECT_EQ(j.num("/usage/input_tokens"), 10);
    EXPECT_EQ(j.num("/usage/input_tokens_details/cached_tokens"), 0);
    EXPECT_EQ(j.num("/usage/output_tokens"), 6);
    EXPECT_EQ(j.num("/usage/output_tokens_details/reasoning_tokens"), 0);
    EXPECT_EQ(j.num("/usage/total_tokens"), 16);

    const auto capped = post(sim.port, "/v1/responses", responses_body(R"("max_output_tokens":2)"));
    const Json c(capped.body);
    EXPECT_EQ(c.str("/status"), "incomplete") << capped.body;
    EXPECT_EQ(c.str("/incomplete_details/reason"), "max_output_tokens");
    EXPECT_EQ(c.num("/usage/output_tokens"), 2);

    // An array of items; message content as input_text parts.
    const auto items = post(sim.port, "/v1/responses",
                            R"({"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"a b"}]},)"
                            R"({"type":"message","role":"assistant","content":"c"}]})");
    EXPECT_EQ(Json(items.body).num("/usage/input_tokens"), 3 + 2 * 4) << items.body;
    EXPECT_EQ(stat_number(sim_stats(sim), "completion_tokens_total"), 6 + 2 + 6);
}

TEST(Simulator, ResponsesStreamSequencedEvents) {
    auto sim = start_sim({"--tokens", "3"});
    const auto whole = post(sim.port, "/v1/responses", responses_body());
    const auto s = post_streaming(sim.port, "/v1/responses", responses_body(R"("stream":true)"));
    ASSERT_EQ(s.status, 200);
    const auto events = events_of(s.body());
    const std::vector<std::string> expected = {"response.created",           "response.in_progress",
                                               "response.output_item.added", "response.content_part.added",
                                               "response.output_text.delta", "response.output_text.delta",
                                               "response.output_text.delta", "response.output_text.done",
                                               "response.content_part.done", "response.output_item.done",
                                               "response.completed"};
    ASSERT_EQ(names_of(events), expected) << s.body();
    std::string text;
    std::string item_id;
    for (std::size_t i = 0; i < events.size(); ++i) {
        const Json j(events[i].data);
        ASSERT_TRUE(j.ok) << events[i].data;
        EXPECT_EQ(j.str("/type"), events[i].name);
        EXPECT_EQ(j.num("/sequence_number"), static_cast<long>(i));
        if (events[i].name == "response.output_item.added") item_id = j.str("/item/id");
        if (events[i].name == "response.output_text.delta") {
            EXPECT_EQ(j.str("/item_id"), item_id);
            EXPECT_EQ(j.num("/output_index"), 0);
            EXPECT_EQ(j.num("/content_index"), 0);
            text += j.str("/delta");
        }
    }
    const Json created(events[0].data);
    EXPECT_EQ(created.str("/response/status"), "in_progress");
    EXPECT_TRUE(created.is_null("/response/usage"));
    EXPECT_EQ(Json(events[7].data).str("/text"), text);
    const Json completed(events.back().data);
    EXPECT_EQ(completed.str("/response/status"), "completed");
    EXPECT_EQ(completed.str("/response/id"), created.str("/response/id"));
    EXPECT_EQ(completed.str("/response/output/0/content/0/text"), text);
    EXPECT_EQ(completed.num("/response/usage/output_tokens"), 3);
    EXPECT_EQ(completed.num("/response/usage/input_tokens"), 10);
    EXPECT_EQ(text, Json(whole.body).str("/output/0/content/0/text"));

    // Cut short by max_output_tokens: the stream ends with response.incomplete.
    const auto cut = events_of(
        post_streaming(sim.port, "/v1/responses", responses_body(R"("stream":true,"max_output_tokens":1)")).body());
    ASSERT_FALSE(cut.empty());
    EXPECT_EQ(cut.back().name, "response.incomplete");
    EXPECT_EQ(Json(cut.back().data).str("/response/incomplete_details/reason"), "max_output_tokens");
}

TEST(Simulator, ResponsesErrorsInOpenAIsShape) {
    auto sim = start_sim({"--api-key", "k"});
    const std::map<std::string, std::string> key = {{"authorization", "Bearer k"}};
    auto r = post(sim.port, "/v1/responses", R"({"input":"x"})", key);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(Json(r.body).str("/error/type"), "invalid_request_error") << r.body;
    EXPECT_EQ(Json(r.body).str("/error/param"), "model") << r.body;
    r = post(sim.port, "/v1/responses", R"({"model":"m","input":5})", key);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(Json(r.body).str("/error/param"), "input") << r.body;
    r = post(sim.port, "/v1/responses", R"({"model":"m"})", key);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(post(sim.port, "/v1/responses", responses_body()).status, 401);
    r = post(sim.port, "/v1/responses", responses_body(), with(key, {{"x-sim-fault", "503"}}));
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(Json(r.body).str("/error/type"), "server_error") << r.body;
    EXPECT_EQ(post(sim.port, "/v1/responses", responses_body(), key).status, 200);
}

// ---- Tool calls ----

TEST(Simulator, ChatToolCallsScriptedAutomaticAndEchoed) {
    auto sim = start_sim({"--tool-calls", "auto"});
    const std::string arguments = R"({"query":"caf\u00e9 au lait","limit":10,"nested":{"deep":[1,2,3]}})";
    const std::map<std::string, std::string> script = {{"x-sim-tool-call", "search"},
                                                       {"x-sim-tool-arguments", arguments}};
    const auto r = post(sim.port, "/v1/chat/completions", chat_body("m"), script);
    ASSERT_EQ(r.status, 200) << r.body;
    const Json j(r.body);
    EXPECT_EQ(j.str("/choices/0/finish_reason"), "tool_calls");
    EXPECT_TRUE(j.is_null("/choices/0/message/content"));
    EXPECT_TRUE(j.str("/choices/0/message/tool_calls/0/id").starts_with("call_"));
    EXPECT_EQ(j.str("/choices/0/message/tool_calls/0/type"), "function");
    EXPECT_EQ(j.str("/choices/0/message/tool_calls/0/function/name"), "search");
    EXPECT_EQ(j.str("/choices/0/message/tool_calls/0/function/arguments"), arguments);
    EXPECT_GT(j.num("/usage/completion_tokens"), 1);

    const auto s = post_streaming(sim.port, "/v1/chat/completions",
                                  chat_body("m", true, R"("stream_options":{"include_usage":true})"), script);
    const auto events = events_of(s.body());
    ASSERT_GE(events.size(), 5u) << s.body();
    std::string streamed;
    std::size_t argument_chunks = 0;
    std::string finish;
    for (const auto& event : events) {
        if (event.data == "[DONE]") continue;
        const Json c(event.data);
        ASSERT_TRUE(c.ok) << event.data;
        if (c.has("/choices/0/delta/tool_calls/0/id")) {
            EXPECT_EQ(c.str("/choices/0/delta/tool_calls/0/function/name"), "search");
            EXPECT_EQ(c.num("/choices/0/delta/tool_calls/0/index"), 0);
        } else if (c.has("/choices/0/delta/tool_calls/0/function/arguments")) {
            streamed += c.str("/choices/0/delta/tool_calls/0/function/arguments");
            ++argument_chunks;
        }
        if (c.has("/choices/0/finish_reason") && !c.is_null("/choices/0/finish_reason"))
            finish = c.str("/choices/0/finish_reason");
    }
    EXPECT_EQ(streamed, arguments);
    EXPECT_GE(argument_chunks, 3u);
    EXPECT_EQ(finish, "tool_calls");
    EXPECT_NE(s.body().find(R"("completion_tokens":)" + std::to_string(argument_chunks)), std::string::npos)
        << s.body();

    // --tool-calls auto: the first tool offered, with arguments made from its schema.
    const std::string tools =
        R"("tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object",)"
        R"("properties":{"city":{"type":"string"},"unit":{"enum":["c","f"]},"days":{"type":"integer"}}}}},)"
        R"({"type":"function","function":{"name":"second","parameters":{}}}])";
    const Json automatic(post(sim.port, "/v1/chat/completions", chat_body("m", false, tools)).body);
    EXPECT_EQ(automatic.str("/choices/0/message/tool_calls/0/function/name"), "get_weather");
    EXPECT_EQ(automatic.str("/choices/0/message/tool_calls/0/function/arguments"), kWeatherArguments);
    // No tools offered, or the header turns it off: text.
    EXPECT_EQ(Json(post(sim.port, "/v1/chat/completions", chat_body("m")).body).str("/choices/0/finish_reason"),
              "stop");
    EXPECT_EQ(
        Json(post(sim.port, "/v1/chat/completions", chat_body("m", false, tools), {{"x-sim-tool-calls", "off"}}).body)
            .str("/choices/0/finish_reason"),
        "stop");

    // The tool's result comes back: the answer echoes it instead of calling again.
    const std::string result =
        R"({"model":"m",)" + tools +
        R"(,"messages":[{"role":"user","content":"weather?"},)"
        R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},)"
        R"({"role":"tool","tool_call_id":"call_1","content":"sunny and 21 degrees"}]})";
    const Json echoed(post(sim.port, "/v1/chat/completions", result).body);
    EXPECT_EQ(echoed.str("/choices/0/finish_reason"), "stop");
    EXPECT_EQ(echoed.str("/choices/0/message/content"), "Tool result: sunny and 21 degrees");
    EXPECT_EQ(echoed.num("/usage/completion_tokens"), 6);
    const auto echo_stream =
        post_streaming(sim.port, "/v1/chat/completions", result.substr(0, result.size() - 1) + R"(,"stream":true})");
    std::string echo_text;
    for (const auto& event : events_of(echo_stream.body())) {
        if (event.data == "[DONE]") continue;
        const Json c(event.data);
        if (c.has("/choices/0/delta/content")) echo_text += c.str("/choices/0/delta/content");
    }
    EXPECT_EQ(echo_text, "Tool result: sunny and 21 degrees");

    // A bad script is refused.
    EXPECT_EQ(post(sim.port, "/v1/chat/completions", chat_body("m"),
                   {{"x-sim-tool-call", "f"}, {"x-sim-tool-arguments", "[1]"}})
                  .status,
              400);
    EXPECT_EQ(post(sim.port, "/v1/chat/completions", chat_body("m"), {{"x-sim-tool-calls", "sometimes"}}).status, 400);
}

TEST(Simulator, ResponsesToolCallsScriptedAutomaticAndEchoed) {
    auto sim = start_sim();
    const std::map<std::string, std::string> script = {{"x-sim-tool-call", "lookup"},
                                                       {"x-sim-tool-arguments", R"({"id":12345,"verbose":true})"}};
    const Json j(post(sim.port, "/v1/responses", responses_body(), script).body);
    EXPECT_EQ(j.str("/status"), "completed");
    ASSERT_EQ(j.size("/output"), 1u);
    EXPECT_EQ(j.str("/output/0/type"), "function_call");
    EXPECT_TRUE(j.str("/output/0/id").starts_with("fc_"));
    EXPECT_TRUE(j.str("/output/0/call_id").starts_with("call_"));
    EXPECT_EQ(j.str("/output/0/name"), "lookup");
    EXPECT_EQ(j.str("/output/0/arguments"), R"({"id":12345,"verbose":true})");
    EXPECT_EQ(j.str("/output/0/status"), "completed");

    const auto s = post_streaming(sim.port, "/v1/responses", responses_body(R"("stream":true)"), script);
    const auto events = events_of(s.body());
    ASSERT_GE(events.size(), 7u) << s.body();
    std::vector<std::string> names = names_of(events);
    EXPECT_EQ(names[2], "response.output_item.added");
    EXPECT_EQ(names[names.size() - 3], "response.function_call_arguments.done");
    EXPECT_EQ(names[names.size() - 2], "response.output_item.done");
    EXPECT_EQ(names.back(), "response.completed");
    std::string streamed;
    std::size_t deltas = 0;
    for (std::size_t i = 0; i < events.size(); ++i) {
        const Json e(events[i].data);
        EXPECT_EQ(e.num("/sequence_number"), static_cast<long>(i));
        if (events[i].name == "response.function_call_arguments.delta") {
            streamed += e.str("/delta");
            ++deltas;
        }
    }
    EXPECT_GE(deltas, 2u);
    EXPECT_EQ(streamed, R"({"id":12345,"verbose":true})");
    const Json added(events[2].data);
    EXPECT_EQ(added.str("/item/type"), "function_call");
    EXPECT_EQ(added.str("/item/name"), "lookup");
    EXPECT_EQ(Json(events[names.size() - 3].data).str("/arguments"), streamed);
    EXPECT_EQ(Json(events.back().data).str("/response/output/0/arguments"), streamed);
    EXPECT_EQ(Json(events.back().data).num("/response/usage/output_tokens"), static_cast<long>(deltas));

    // Per request, the header turns automatic calls on.
    const std::string tools =
        R"("tools":[{"type":"function","name":"get_weather","parameters":{"type":"object",)"
        R"("properties":{"city":{"type":"string"},"unit":{"enum":["c","f"]},"days":{"type":"integer"}}}}])";
    const Json automatic(post(sim.port, "/v1/responses", responses_body(tools), {{"x-sim-tool-calls", "auto"}}).body);
    EXPECT_EQ(automatic.str("/output/0/name"), "get_weather");
    EXPECT_EQ(automatic.str("/output/0/arguments"), kWeatherArguments);
    EXPECT_EQ(Json(post(sim.port, "/v1/responses", responses_body(tools)).body).str("/output/0/type"), "message");

    const std::string result = R"({"model":"m",)" + tools +
                               R"(,"input":[{"role":"user","content":"weather?"},)"
                               R"({"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{}"},)"
                               R"({"type":"function_call_output","call_id":"call_1","output":"rain all day"}]})";
    const Json echoed(post(sim.port, "/v1/responses", result, {{"x-sim-tool-calls", "auto"}}).body);
    EXPECT_EQ(echoed.str("/output/0/type"), "message");
    EXPECT_EQ(echoed.str("/output/0/content/0/text"), "Tool result: rain all day");
}

TEST(Simulator, MessagesToolUseScriptedAutomaticAndEchoed) {
    auto sim = start_sim({"--tool-calls", "auto"});
    const std::string tools = std::string(R"("tools":[)") + kWeatherTool + "]";
    const Json j(post(sim.port, "/v1/messages", messages_body(tools), kAnthropic).body);
    EXPECT_EQ(j.str("/stop_reason"), "tool_use");
    ASSERT_EQ(j.size("/content"), 1u);
    EXPECT_EQ(j.str("/content/0/type"), "tool_use");
    EXPECT_TRUE(j.str("/content/0/id").starts_with("toolu_"));
    EXPECT_EQ(j.str("/content/0/name"), "get_weather");
    EXPECT_EQ(j.raw("/content/0/input"), kWeatherArguments);  // an object, not a string

    const auto s = post_streaming(
        sim.port, "/v1/messages", messages_body(R"("stream":true)"),
        with(kAnthropic, {{"x-sim-tool-call", "book"}, {"x-sim-tool-arguments", R"({"seat":"12A","window":true})"}}));
    const auto events = events_of(s.body());
    ASSERT_GE(events.size(), 7u) << s.body();
    const Json block(events[1].data);
    EXPECT_EQ(block.str("/content_block/type"), "tool_use");
    EXPECT_EQ(block.str("/content_block/name"), "book");
    EXPECT_EQ(block.raw("/content_block/input"), "{}");
    std::string partial;
    std::size_t deltas = 0;
    for (const auto& event : events) {
        if (event.name != "content_block_delta") continue;
        const Json d(event.data);
        EXPECT_EQ(d.str("/delta/type"), "input_json_delta");
        partial += d.str("/delta/partial_json");
        ++deltas;
    }
    EXPECT_GE(deltas, 2u);
    EXPECT_EQ(partial, R"({"seat":"12A","window":true})");
    const Json delta(events[events.size() - 2].data);
    EXPECT_EQ(delta.str("/delta/stop_reason"), "tool_use");
    EXPECT_EQ(delta.num("/usage/output_tokens"), static_cast<long>(deltas));

    const std::string result =
        R"({"model":"m","max_tokens":50,)" + tools +
        R"(,"messages":[{"role":"user","content":"weather?"},)"
        R"({"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}]},)"
        R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"snow, -3"}]}]}]})";
    const Json echoed(post(sim.port, "/v1/messages", result, kAnthropic).body);
    EXPECT_EQ(echoed.str("/stop_reason"), "end_turn");
    EXPECT_EQ(echoed.str("/content/0/text"), "Tool result: snow, -3");
    const auto echo_stream = post_streaming(sim.port, "/v1/messages",
                                            result.substr(0, result.size() - 1) + R"(,"stream":true})", kAnthropic);
    std::string text;
    for (const auto& event : events_of(echo_stream.body())) {
        if (event.name == "content_block_delta") text += Json(event.data).str("/delta/text");
    }
    EXPECT_EQ(text, "Tool result: snow, -3");
    // A scripted tool call must carry an object for Anthropic's input.
    EXPECT_EQ(post(sim.port, "/v1/messages", messages_body(),
                   with(kAnthropic, {{"x-sim-tool-call", "f"}, {"x-sim-tool-arguments", "nope"}}))
                  .status,
              400);
}

// x-sim-tool-call-once: the scripted call is made only while the last input is not a tool result;
// once the result comes back, the answer echoes it.
TEST(Simulator, ToolCallOnceEchoesTheResultInsteadOfCallingAgain) {
    auto sim = start_sim();
    const std::map<std::string, std::string> call = {{"x-sim-tool-call", "get_weather"},
                                                     {"x-sim-tool-arguments", R"({"city":"Oslo"})"}};
    const auto once = with(call, {{"x-sim-tool-call-once", "true"}});

    const std::string chat =
        R"({"model":"m","messages":[{"role":"user","content":"weather?"},)"
        R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},)"
        R"({"role":"tool","tool_call_id":"call_1","content":"done"}]})";
    const Json chat_echo(post(sim.port, "/v1/chat/completions", chat, once).body);
    EXPECT_EQ(chat_echo.str("/choices/0/finish_reason"), "stop");
    EXPECT_EQ(chat_echo.str("/choices/0/message/content"), "Tool result: done");
    const Json chat_call(post(sim.port, "/v1/chat/completions", chat, call).body);
    EXPECT_EQ(chat_call.str("/choices/0/message/tool_calls/0/function/name"), "get_weather");
    EXPECT_EQ(chat_call.str("/choices/0/message/tool_calls/0/function/arguments"), R"({"city":"Oslo"})");
    const Json chat_off(
        post(sim.port, "/v1/chat/completions", chat, with(call, {{"x-sim-tool-call-once", "false"}})).body);
    EXPECT_EQ(chat_off.str("/choices/0/finish_reason"), "tool_calls");
    // Before any result, the once header still lets the call through.
    const Json first(post(sim.port, "/v1/chat/completions", chat_body("m"), once).body);
    EXPECT_EQ(first.str("/choices/0/message/tool_calls/0/function/name"), "get_weather");

    const std::string responses = R"({"model":"m","input":[{"role":"user","content":"weather?"},)"
                                  R"({"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{}"},)"
                                  R"({"type":"function_call_output","call_id":"call_1","output":"done"}]})";
    const Json responses_echo(post(sim.port, "/v1/responses", responses, once).body);
    EXPECT_EQ(responses_echo.str("/output/0/type"), "message");
    EXPECT_EQ(responses_echo.str("/output/0/content/0/text"), "Tool result: done");
    const Json responses_call(post(sim.port, "/v1/responses", responses, call).body);
    EXPECT_EQ(responses_call.str("/output/0/type"), "function_call");
    EXPECT_EQ(responses_call.str("/output/0/name"), "get_weather");

    const std::string messages =
        R"({"model":"m","max_tokens":50,"messages":[{"role":"user","content":"weather?"},)"
        R"({"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}]},)"
        R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"done"}]}]})";
    const Json messages_echo(post(sim.port, "/v1/messages", messages, with(kAnthropic, once)).body);
    EXPECT_EQ(messages_echo.str("/stop_reason"), "end_turn");
    EXPECT_EQ(messages_echo.str("/content/0/text"), "Tool result: done");
    const auto streamed = post_streaming(sim.port, "/v1/messages",
                                         messages.substr(0, messages.size() - 1) + R"(,"stream":true})",
                                         with(kAnthropic, once));
    std::string text;
    for (const auto& event : events_of(streamed.body())) {
        if (event.name == "content_block_delta") text += Json(event.data).str("/delta/text");
    }
    EXPECT_EQ(text, "Tool result: done");
    const Json messages_call(post(sim.port, "/v1/messages", messages, with(kAnthropic, call)).body);
    EXPECT_EQ(messages_call.str("/stop_reason"), "tool_use");
    EXPECT_EQ(messages_call.str("/content/0/name"), "get_weather");

    // Only true or false.
    for (const char* value : {"yes", "1", "TRUE", ""}) {
        EXPECT_EQ(post(sim.port, "/v1/chat/completions", chat, with(call, {{"x-sim-tool-call-once", value}})).status,
                  400)
            << value;
    }
    const auto bad = post(sim.port, "/v1/messages", messages,
                          with(kAnthropic, {{"x-sim-tool-call-once", "maybe"}}));
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(Json(bad.body).str("/error/type"), "invalid_request_error") << bad.body;
    EXPECT_NE(bad.body.find("x-sim-tool-call-once"), std::string::npos) << bad.body;
}

// Claude Code sends "system" messages mid-conversation: they are accepted and counted, and do not
// hide a tool result before them.
TEST(Simulator, MessagesAcceptSystemRoleMessages) {
    auto sim = start_sim();
    const std::string body = R"({"model":"claude-sim","max_tokens":9,"messages":[)"
                             R"({"role":"user","content":"one two three"},)"
                             R"({"role":"system","content":"four five"},)"
                             R"({"role":"assistant","content":"six"},)"
                             R"({"role":"system","content":[{"type":"text","text":"seven eight nine ten"}]}]})";
    const auto r = post(sim.port, "/v1/messages", body, kAnthropic);
    ASSERT_EQ(r.status, 200) << r.body;
    const Json j(r.body);
    EXPECT_EQ(j.str("/content/0/type"), "text");
    EXPECT_EQ(j.num("/usage/input_tokens"), 3 + 2 + 1 + 4 + 4 * 4) << r.body;
    const auto counted = post(sim.port, "/v1/messages/count_tokens", body, kAnthropic);
    EXPECT_EQ(Json(counted.body).num("/input_tokens"), 3 + 2 + 1 + 4 + 4 * 4) << counted.body;

    const std::string result =
        R"({"model":"m","max_tokens":50,"messages":[{"role":"user","content":"weather?"},)"
        R"({"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}]},)"
        R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"done"}]},)"
        R"({"role":"system","content":"Remember the plan."}]})";
    const auto echoed = post(sim.port, "/v1/messages", result,
                             with(kAnthropic, {{"x-sim-tool-call", "get_weather"}, {"x-sim-tool-call-once", "true"}}));
    ASSERT_EQ(echoed.status, 200) << echoed.body;
    EXPECT_EQ(Json(echoed.body).str("/content/0/text"), "Tool result: done");
}

TEST(Simulator, ToolCallsKnobAtRuntime) {
    auto sim = start_sim();
    const auto config = post(sim.port, "/sim/config", R"({"tool_calls":"auto"})");
    EXPECT_NE(config.body.find(R"("tool_calls":"auto")"), std::string::npos) << config.body;
    const std::string tools = std::string(R"("tools":[)") + kWeatherTool + "]";
    EXPECT_EQ(Json(post(sim.port, "/v1/messages", messages_body(tools), kAnthropic).body).str("/stop_reason"),
              "tool_use");
    EXPECT_EQ(post(sim.port, "/sim/config", R"({"tool_calls":"maybe"})").status, 400);
}

}  // namespace
}  // namespace switchyard::testing
