// The Responses API's stored conversations (conversation/store.hpp): the store's bounds (bytes, age)
// and its threads; a request body rebuilt from a stored conversation; output items read from answers
// and from recorded streams cut at every byte; a two-turn conversation end to end.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <simdjson.h>

#include "conversation/store.hpp"

namespace switchyard::conversation {
namespace {

using namespace std::chrono_literals;

std::string read_data(const std::string& name) {
    std::ifstream in(std::string(SWITCHYARD_SOURCE_DIR) + "/tests/data/translate/responses/" + name, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// Parses `text` with the DOM parser (a full validation); fails the test when it is not JSON.
simdjson::dom::element parse(simdjson::dom::parser& parser, const std::string& text) {
    simdjson::dom::element element;
    const auto error = parser.parse(text).get(element);
    EXPECT_FALSE(error) << simdjson::error_message(error) << " in " << text;
    return element;
}

std::string_view string_at(simdjson::dom::element element, std::string_view pointer) {
    std::string_view value;
    EXPECT_FALSE(element.at_pointer(pointer).get_string().get(value)) << pointer;
    return value;
}

std::size_t size_of(simdjson::dom::element element, std::string_view pointer = "") {
    simdjson::dom::array array;
    EXPECT_FALSE(element.at_pointer(pointer).get_array().get(array)) << pointer;
    return array.size();
}

// --- Store ----------------------------------------------------------------------------------

TEST(ConversationStore, PutThenGet) {
    ManualClock clock;
    Store store(1024, 60s, clock);
    EXPECT_EQ(store.get("resp_1"), std::nullopt);
    store.put("resp_1", R"([{"role":"user","content":"hi"}])");
    ASSERT_TRUE(store.get("resp_1"));
    EXPECT_EQ(*store.get("resp_1"), R"([{"role":"user","content":"hi"}])");
    EXPECT_EQ(store.entries(), 1U);
    EXPECT_EQ(store.bytes(), std::string("resp_1").size() + std::string(R"([{"role":"user","content":"hi"}])").size());

    // Put again under the same id: replaced, counted once.
    store.put("resp_1", "[]");
    EXPECT_EQ(*store.get("resp_1"), "[]");
    EXPECT_EQ(store.entries(), 1U);
    EXPECT_EQ(store.bytes(), 6U + 2U);
}

TEST(ConversationStore, EvictsLeastRecentlyUsedByBytes) {
    ManualClock clock;
    // Each entry: a 6-byte id and 14 bytes of items = 20 bytes; room for three.
    Store store(60, 3600s, clock);
    const std::string items = R"(["0123456789"])";
    store.put("resp_a", items);
    store.put("resp_b", items);
    store.put("resp_c", items);
    EXPECT_EQ(store.entries(), 3U);
    EXPECT_EQ(store.bytes(), 60U);

    ASSERT_TRUE(store.get("resp_a"));  // a is now the most recently used; b the least
    store.put("resp_d", items);
    EXPECT_EQ(store.entries(), 3U);
    EXPECT_EQ(store.bytes(), 60U);
    EXPECT_FALSE(store.get("resp_b"));
    EXPECT_TRUE(store.get("resp_a"));
    EXPECT_TRUE(store.get("resp_c"));
    EXPECT_TRUE(store.get("resp_d"));

    // A bigger entry evicts as many as it needs.
    store.put("resp_e", R"(["0123456789012345678901234567890123"])");  // 6 + 38 = 44 bytes: no room left for any other
    EXPECT_EQ(store.entries(), 1U);
    EXPECT_EQ(store.bytes(), 44U);
    EXPECT_TRUE(store.get("resp_e"));
}

TEST(ConversationStore, ExpiresAfterTtl) {
    ManualClock clock;
    Store store(1024, 60s, clock);
    store.put("resp_old", "[1]");
    clock.advance(30s);
    store.put("resp_new", "[2]");
    clock.advance(30s);
    EXPECT_TRUE(store.get("resp_old"));  // exactly the ttl: still there
    clock.advance(1s);
    EXPECT_FALSE(store.get("resp_old"));  // age counts from the put, reads do not renew it
    EXPECT_TRUE(store.get("resp_new"));
    EXPECT_EQ(store.entries(), 1U);
    EXPECT_EQ(store.bytes(), 8U + 3U);

    clock.advance(31s);
    EXPECT_FALSE(store.get("resp_new"));
    EXPECT_EQ(store.entries(), 0U);
    EXPECT_EQ(store.bytes(), 0U);
}

TEST(ConversationStore, ExpiredEntriesGoOnPut) {
    ManualClock clock;
    Store store(1024, 10s, clock);
    store.put("resp_1", "[1]");
    store.put("resp_2", "[2]");
    clock.advance(11s);
    store.put("resp_3", "[3]");
    EXPECT_EQ(store.entries(), 1U);
    EXPECT_EQ(store.bytes(), 9U);
}

TEST(ConversationStore, OversizeEntryNotKept) {
    ManualClock clock;
    Store store(32, 60s, clock);
    store.put("resp_small", "[]");
    store.put("resp_big", "[\"" + std::string(64, 'x') + "\"]");
    EXPECT_FALSE(store.get("resp_big"));
    EXPECT_TRUE(store.get("resp_small"));  // nothing evicted for an entry that cannot fit
    EXPECT_EQ(store.entries(), 1U);

    // An oversize put under a stored id drops the old conversation: it is not that response's.
    store.put("resp_small", std::string(40, ' '));
    EXPECT_FALSE(store.get("resp_small"));
    EXPECT_EQ(store.entries(), 0U);
    EXPECT_EQ(store.bytes(), 0U);
}

TEST(ConversationStore, ConcurrentPutAndGet) {
    ManualClock clock;
    constexpr int kThreads = 8;
    constexpr int kRounds = 2000;
    const std::string items = R"([{"type":"message","role":"user","content":"x"}])";
    // Room for about 100 of the 8000 entries: eviction runs all the time.
    Store store(100 * (items.size() + 12), 3600s, clock);
    std::atomic<int> mismatches{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kRounds; ++i) {
                const std::string id = "resp_" + std::to_string(t) + "_" + std::to_string(i);
                store.put(id, items);
                if (auto got = store.get(id); got && *got != items) ++mismatches;
                if (auto got = store.get("resp_0_" + std::to_string(i / 2)); got && *got != items) ++mismatches;
                if (i % 64 == 0) clock.advance(1ms);
                (void)store.bytes();
                (void)store.entries();
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(mismatches.load(), 0);
    EXPECT_LE(store.bytes(), 100 * (items.size() + 12));
    EXPECT_GT(store.entries(), 0U);
    // Every entry has an id of 8 to 12 bytes and the same items.
    EXPECT_GE(store.bytes(), store.entries() * (items.size() + 8));
    EXPECT_LE(store.bytes(), store.entries() * (items.size() + 12));
}

// --- Request bodies -------------------------------------------------------------------------

TEST(ConversationRequest, InputItemsOfString) {
    const auto items = input_items(R"({"model":"m","input":"Say \"hi\" \u00e9"})");
    ASSERT_TRUE(items);
    EXPECT_EQ(*items, R"([{"type":"message","role":"user","content":[{"type":"input_text","text":"Say \"hi\" \u00e9"}]}])");
    simdjson::dom::parser parser;
    const auto element = parse(parser, *items);
    EXPECT_EQ(string_at(element, "/0/content/0/text"), "Say \"hi\" \xC3\xA9");
}

TEST(ConversationRequest, InputItemsOfArrayKeptAsItIs) {
    const std::string array = R"([ {"role":"user", "content":"a"},
        {"type":"function_call_output","call_id":"c1","output":"ok"} ])";
    const auto items = input_items(R"({"input": )" + array + R"(, "model":"m"})");
    ASSERT_TRUE(items);
    EXPECT_EQ(*items, array);
}

TEST(ConversationRequest, InputItemsAbsentOrInvalid) {
    EXPECT_FALSE(input_items(R"({"model":"m"})"));
    EXPECT_FALSE(input_items(R"({"model":"m","input":null})"));
    EXPECT_FALSE(input_items(R"({"model":"m","input":)"));
    EXPECT_FALSE(input_items(R"(["input"])"));
    EXPECT_FALSE(input_items(""));
}

TEST(ConversationRequest, PreviousResponseIdAndStore) {
    EXPECT_EQ(previous_response_id(R"({"previous_response_id":"resp_1","input":"x"})"), "resp_1");
    EXPECT_EQ(previous_response_id(R"({"previous_response_id" : null})"), std::nullopt);
    EXPECT_EQ(previous_response_id(R"({"previous_response_id":""})"), std::nullopt);
    EXPECT_EQ(previous_response_id(R"({"input":"x"})"), std::nullopt);
    EXPECT_EQ(previous_response_id(R"({"previous_response_id":"resp_1")"), std::nullopt);  // not JSON
    // A string inside another field that looks like the key is not it.
    EXPECT_EQ(previous_response_id(R"({"input":"\"previous_response_id\":\"x\"","metadata":{"previous_response_id":"y"}})"),
              std::nullopt);

    EXPECT_TRUE(store_requested(R"({"input":"x"})"));
    EXPECT_TRUE(store_requested(R"({"input":"x","store":true})"));
    EXPECT_FALSE(store_requested(R"({"input":"x","store":false})"));
}

// `body` continued from `prior`: the result parses and has no previous_response_id.
std::string continued(const std::string& body, std::string_view prior) {
    std::string out = continue_from(body, prior);
    simdjson::dom::parser parser;
    const auto element = parse(parser, out);
    EXPECT_EQ(element["previous_response_id"].error(), simdjson::NO_SUCH_FIELD) << out;
    return out;
}

constexpr std::string_view kPrior =
    R"([{"type":"message","role":"user","content":[{"type":"input_text","text":"first"}]},{"type":"message","role":"assistant","content":[{"type":"output_text","annotations":[],"text":"one"}]}])";

TEST(ConversationRequest, ContinueFromWithStringInput) {
    const std::string body =
        "{\n  \"model\": \"gpt-5\",\n  \"previous_response_id\": \"resp_1\",\n  \"input\": \"second\",\n"
        "  \"tools\": [ {\"type\":\"function\",\"name\":\"f\",\"parameters\":{ }} ],\n  \"stream\": true\n}";
    const std::string out = continued(body, kPrior);
    EXPECT_EQ(out, std::string("{\n  \"model\": \"gpt-5\",\n  \"input\": [") + std::string(kPrior.substr(1, kPrior.size() - 2)) +
                       R"(,{"type":"message","role":"user","content":[{"type":"input_text","text":"second"}]}])" +
                       ",\n  \"tools\": [ {\"type\":\"function\",\"name\":\"f\",\"parameters\":{ }} ],\n  \"stream\": true\n}");
    simdjson::dom::parser parser;
    const auto element = parse(parser, out);
    EXPECT_EQ(size_of(element, "/input"), 3U);
    EXPECT_EQ(string_at(element, "/input/2/content/0/text"), "second");
}

TEST(ConversationRequest, ContinueFromWithArrayInput) {
    const std::string body =
        R"({"input":[{"type":"function_call_output","call_id":"c","output":"42"}],"model":"m","previous_response_id":"resp_1"})";
    const std::string out = continued(body, kPrior);
    EXPECT_EQ(out, std::string(R"({"input":)") + std::string(kPrior.substr(0, kPrior.size() - 1)) +
                       R"(,{"type":"function_call_output","call_id":"c","output":"42"}],"model":"m"})");
}

TEST(ConversationRequest, ContinueFromRemovesTheIdWherever) {
    // First, last, alone with input, and with whitespace around the colon and commas.
    EXPECT_EQ(continued(R"({ "previous_response_id" : "resp_1" , "input":[], "model":"m" })", "[1]"),
              R"({ "input":[1], "model":"m" })");
    EXPECT_EQ(continued(R"({"model":"m","input":[2] ,	"previous_response_id":
"resp_1"
})", "[1]"),
              "{\"model\":\"m\",\"input\":[1,2]\n}");
    EXPECT_EQ(continued(R"({"previous_response_id":"resp_1","input":"x"})", "[]"),
              R"({"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"x"}]}]})");
    // No input: the prior conversation alone.
    EXPECT_EQ(continued(R"({"previous_response_id":"resp_1","model":"m"})", "[1]"), R"({"model":"m","input":[1]})");
    EXPECT_EQ(continued(R"({"previous_response_id":"resp_1"})", "[1]"), R"({"input":[1]})");
    // Other fields that mention the key, in strings or nested objects, are kept byte for byte.
    const std::string body =
        R"({"metadata":{"previous_response_id":"keep"},"instructions":"no \"previous_response_id\": here","previous_response_id":"resp_1","input":[]})";
    EXPECT_EQ(continued(body, "[]"),
              R"({"metadata":{"previous_response_id":"keep"},"instructions":"no \"previous_response_id\": here","input":[]})");
}

TEST(ConversationRequest, ContinueFromLeavesInvalidBodiesAlone) {
    EXPECT_EQ(continue_from(R"({"input":"x",)", "[1]"), R"({"input":"x",)");
    EXPECT_EQ(continue_from("[1]", "[2]"), "[1]");
}

// --- Answers --------------------------------------------------------------------------------

constexpr std::string_view kResponse = R"({
  "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
  "object": "response",
  "created_at": 1741476542,
  "status": "completed",
  "error": null,
  "incomplete_details": null,
  "instructions": null,
  "model": "gpt-4.1-2025-04-14",
  "output": [
    {
      "type": "message",
      "id": "msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b",
      "status": "completed",
      "role": "assistant",
      "content": [
        {
          "type": "output_text",
          "text": "In a peaceful grove beneath a silver moon...",
          "annotations": []
        }
      ]
    }
  ],
  "parallel_tool_calls": true,
  "previous_response_id": null,
  "store": true,
  "usage": {"input_tokens": 36, "output_tokens": 87, "total_tokens": 123}
})";

TEST(ConversationAnswer, OutputOfResponseObject) {
    const auto output = output_of(kResponse);
    ASSERT_TRUE(output);
    EXPECT_EQ(output->id, "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b");
    simdjson::dom::parser parser;
    const auto items = parse(parser, output->items);
    EXPECT_EQ(size_of(items), 1U);
    EXPECT_EQ(string_at(items, "/0/content/0/text"), "In a peaceful grove beneath a silver moon...");
    EXPECT_EQ(output->items.front(), '[');
    EXPECT_EQ(output->items.back(), ']');
}

TEST(ConversationAnswer, OutputOfCompletedEvent) {
    const std::string sse = read_data("openai_tool_call.sse");
    const std::size_t at = sse.find("data: {\"type\":\"response.completed\"");
    ASSERT_NE(at, std::string::npos);
    const std::string data = sse.substr(at + 6, sse.find('\n', at) - at - 6);
    const auto output = output_of(data);  // the event's data
    ASSERT_TRUE(output);
    EXPECT_EQ(output->id, "resp_68a1");
    simdjson::dom::parser parser;
    EXPECT_EQ(size_of(parse(parser, output->items)), 3U);

    EXPECT_FALSE(output_of(R"({"id":"resp_1"})"));
    EXPECT_FALSE(output_of(R"({"output":[]})"));
    EXPECT_FALSE(output_of("not json"));
}

// Feeds `sse` cut at `cut` into a fresh capture.
CompletedCapture capture_cut(const std::string& sse, std::size_t cut) {
    CompletedCapture capture;
    capture.feed(std::string_view(sse).substr(0, cut));
    capture.feed(std::string_view(sse).substr(cut));
    capture.finish();
    return capture;
}

TEST(ConversationAnswer, CompletedCaptureAtEveryCut) {
    const std::string sse = read_data("openai_tool_call.sse");
    ASSERT_FALSE(sse.empty());
    CompletedCapture whole;
    whole.feed(sse);
    whole.finish();
    ASSERT_TRUE(whole.found());
    const auto output = output_of(whole.response());
    ASSERT_TRUE(output);
    EXPECT_EQ(output->id, "resp_68a1");
    simdjson::dom::parser parser;
    const auto items = parse(parser, output->items);
    EXPECT_EQ(size_of(items), 3U);
    EXPECT_EQ(string_at(items, "/2/call_id"), "call_Wx1");

    for (std::size_t cut = 0; cut <= sse.size(); ++cut) {
        const CompletedCapture capture = capture_cut(sse, cut);
        ASSERT_TRUE(capture.found()) << cut;
        ASSERT_EQ(capture.response(), whole.response()) << cut;
    }
    // Byte by byte.
    CompletedCapture bytes;
    for (const char c : sse) bytes.feed(std::string_view(&c, 1));
    bytes.finish();
    EXPECT_EQ(bytes.response(), whole.response());
}

TEST(ConversationAnswer, CompletedCaptureTakesLlamaServerItems) {
    // llama-server's response.completed has an empty output: the done items stand in.
    const std::string sse = read_data("llama_server.sse");
    ASSERT_FALSE(sse.empty());
    CompletedCapture whole;
    whole.feed(sse);
    whole.finish();
    ASSERT_TRUE(whole.found());
    const auto output = output_of(whole.response());
    ASSERT_TRUE(output);
    EXPECT_EQ(output->id, "resp_ll1");
    simdjson::dom::parser parser;
    const auto items = parse(parser, output->items);
    // In the order they were added: reasoning, the message (rebuilt from its content_part.done: its
    // output_item.done never came), the call.
    ASSERT_EQ(size_of(items), 3U) << output->items;
    EXPECT_EQ(string_at(items, "/0/type"), "reasoning");
    EXPECT_EQ(string_at(items, "/0/content/0/text"), "Think.");
    EXPECT_EQ(string_at(items, "/1/type"), "message");
    EXPECT_EQ(string_at(items, "/1/role"), "assistant");
    EXPECT_EQ(string_at(items, "/1/id"), "msg_ll");
    EXPECT_EQ(string_at(items, "/1/content/0/text"), "Hi");
    EXPECT_EQ(string_at(items, "/2/call_id"), "call_7");
    // And stored as input: the reasoning text kept, its empty encrypted_content dropped.
    const std::string stored = conversation("[]", output->items);
    const auto as_input = parse(parser, stored);
    ASSERT_EQ(size_of(as_input), 3U) << stored;
    EXPECT_EQ(as_input.at_pointer("/0/encrypted_content").error(), simdjson::NO_SUCH_FIELD);
    EXPECT_EQ(string_at(as_input, "/1/content/0/text"), "Hi");
    for (std::size_t cut = 0; cut <= sse.size(); ++cut) {
        ASSERT_EQ(capture_cut(sse, cut).response(), whole.response()) << cut;
    }
}

TEST(ConversationAnswer, CompletedCaptureWithoutCompletion) {
    CompletedCapture capture;
    capture.feed("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"\\\"response.completed\\\"\"}\n\n");
    capture.finish();
    EXPECT_FALSE(capture.found());
    EXPECT_TRUE(capture.response().empty());

    // The last event without its blank line still counts.
    CompletedCapture unended;
    unended.feed(R"(data: {"type":"response.completed","response":{"id":"resp_x","output":[]}})");
    EXPECT_FALSE(unended.found());
    unended.finish();
    EXPECT_TRUE(unended.found());
    EXPECT_EQ(unended.response(), R"({"id":"resp_x","output":[]})");
}

// --- The conversation to store --------------------------------------------------------------

TEST(ConversationItems, TextOutput) {
    const std::string input = R"([{"role":"user","content":"hi"}])";
    const std::string stored = conversation(input, R"([{"type":"message","id":"msg_1","status":"completed","role":"assistant",
        "content":[{"type":"output_text","text":"hello"}]}])");
    simdjson::dom::parser parser;
    const auto items = parse(parser, stored);
    ASSERT_EQ(size_of(items), 2U);
    EXPECT_EQ(string_at(items, "/0/content"), "hi");
    EXPECT_EQ(string_at(items, "/1/role"), "assistant");
    EXPECT_EQ(string_at(items, "/1/content/0/type"), "output_text");
    EXPECT_EQ(string_at(items, "/1/content/0/text"), "hello");
    EXPECT_EQ(size_of(items, "/1/content/0/annotations"), 0U);  // added: OpenAI requires it
}

TEST(ConversationItems, FunctionCallAndReasoningOutput) {
    const std::string input = R"([{"type":"message","role":"user","content":[{"type":"input_text","text":"weather?"}]}])";
    const std::string output = R"([
      {"id":"rs_0","type":"reasoning","summary":[]},
      {"id":"rs_1","type":"reasoning","encrypted_content":"gAAAA==","summary":[{"type":"summary_text","text":"s"}]},
      {"id":"rs_2","type":"reasoning","encrypted_content":"","content":[{"type":"reasoning_text","text":"Think."}]},
      {"id":"fc_1","type":"function_call","status":"completed","arguments":"{\"city\":\"Paris\"}","call_id":"call_1","name":"get_weather"}
    ])";
    const std::string stored = conversation(input, output);
    simdjson::dom::parser parser;
    const auto items = parse(parser, stored);
    // rs_0 carries nothing a stateless upstream can use; it is left out.
    ASSERT_EQ(size_of(items), 4U) << stored;
    EXPECT_EQ(string_at(items, "/1/id"), "rs_1");
    EXPECT_EQ(string_at(items, "/1/encrypted_content"), "gAAAA==");
    EXPECT_EQ(string_at(items, "/2/id"), "rs_2");
    EXPECT_EQ(items.at_pointer("/2/encrypted_content").error(), simdjson::NO_SUCH_FIELD);
    EXPECT_EQ(size_of(items, "/2/summary"), 0U);  // added: required of a reasoning input item
    EXPECT_EQ(string_at(items, "/2/content/0/text"), "Think.");
    EXPECT_EQ(string_at(items, "/3/type"), "function_call");
    EXPECT_EQ(string_at(items, "/3/arguments"), R"({"city":"Paris"})");
    // Items needing no change are kept byte for byte.
    EXPECT_NE(stored.find(R"({"id":"fc_1","type":"function_call","status":"completed","arguments":"{\"city\":\"Paris\"}","call_id":"call_1","name":"get_weather"})"),
              std::string::npos);
}

TEST(ConversationItems, EmptyAndInvalid) {
    EXPECT_EQ(conversation("[]", "[]"), "[]");
    EXPECT_EQ(conversation("[1]", "[]"), "[1]");
    EXPECT_EQ(conversation("[]", R"([{"type":"function_call","call_id":"c"}])"), R"([{"type":"function_call","call_id":"c"}])");
    EXPECT_EQ(conversation("[1]", "[{"), "[1]");
}

TEST(ConversationError, NotFound) {
    const ApiError error = not_found("resp_123");
    EXPECT_EQ(error.status, 404);
    EXPECT_EQ(error.type, "invalid_request_error");
    EXPECT_EQ(error.param, "previous_response_id");
    EXPECT_EQ(error.code, "previous_response_not_found");
    EXPECT_EQ(error.message, "Previous response with id 'resp_123' not found.");
    EXPECT_EQ(to_body(error),
              R"({"error":{"message":"Previous response with id 'resp_123' not found.","type":"invalid_request_error","param":"previous_response_id","code":"previous_response_not_found"}})");
}

// --- Two turns ------------------------------------------------------------------------------

TEST(ConversationFlow, TwoTurns) {
    ManualClock clock;
    Store store(1 << 20, 3600s, clock);

    // Turn 1: a plain request, answered by a stream; the gateway stores input + output.
    const std::string turn1 = R"({"model":"gpt-5","instructions":"Be brief.","input":"What's the weather in Paris?","stream":true})";
    ASSERT_FALSE(previous_response_id(turn1));
    ASSERT_TRUE(store_requested(turn1));
    const auto input1 = input_items(turn1);
    ASSERT_TRUE(input1);
    CompletedCapture capture;
    capture.feed(read_data("openai_tool_call.sse"));
    capture.finish();
    ASSERT_TRUE(capture.found());
    const auto output1 = output_of(capture.response());
    ASSERT_TRUE(output1);
    store.put(output1->id, conversation(*input1, output1->items));

    // Turn 2: the tool's result, continuing turn 1 by its id.
    const std::string turn2 =
        R"({"model":"gpt-5","previous_response_id":"resp_68a1","input":[{"type":"function_call_output","call_id":"call_Wx1","output":"18C"}],"stream":true})";
    const auto prior_id = previous_response_id(turn2);
    ASSERT_EQ(prior_id, "resp_68a1");
    const auto prior = store.get(*prior_id);
    ASSERT_TRUE(prior);
    const std::string body = continue_from(turn2, *prior);

    simdjson::dom::parser parser;
    const auto element = parse(parser, body);
    EXPECT_EQ(element["previous_response_id"].error(), simdjson::NO_SUCH_FIELD);
    EXPECT_EQ(element["instructions"].error(), simdjson::NO_SUCH_FIELD);  // not inherited
    EXPECT_EQ(string_at(element, "/model"), "gpt-5");
    // turn 1's input (1) + turn 1's output (the summary-only reasoning left out: message, call) + turn 2's input (1).
    ASSERT_EQ(size_of(element, "/input"), 4U) << body;
    EXPECT_EQ(string_at(element, "/input/0/content/0/text"), "What's the weather in Paris?");
    EXPECT_EQ(string_at(element, "/input/1/role"), "assistant");
    EXPECT_EQ(string_at(element, "/input/1/content/0/text"), "Let me \"check\" \xC3\xA9t\xC3\xA9.");
    EXPECT_EQ(string_at(element, "/input/2/type"), "function_call");
    EXPECT_EQ(string_at(element, "/input/2/call_id"), "call_Wx1");
    EXPECT_EQ(string_at(element, "/input/3/type"), "function_call_output");
    EXPECT_EQ(string_at(element, "/input/3/output"), "18C");

    // An unknown id: OpenAI's 404.
    EXPECT_FALSE(store.get("resp_unknown"));
}

}  // namespace
}  // namespace switchyard::conversation
