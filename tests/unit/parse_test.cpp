#include <gtest/gtest.h>

#include "parse/json_locate.hpp"
#include "parse/request.hpp"

namespace switchyard::parse {
namespace {

std::variant<RequestFacts, ApiError> parse(Endpoint endpoint, std::string body) {
    static simdjson::ondemand::parser parser;
    static std::string keep;
    keep = std::move(body);
    return parse_request(endpoint, keep, parser);
}

ApiError error_of(const std::variant<RequestFacts, ApiError>& result) {
    if (auto* error = std::get_if<ApiError>(&result)) return *error;
    ADD_FAILURE() << "expected an error";
    return {};
}

TEST(ParseRequest, ReadsTheFacts) {
    std::string body = R"({ "model" : "llama4:maverick" , "messages":[{"role":"user","content":"hi"}],)"
                       R"("stream":true,"stream_options":{"include_usage":true},"max_tokens":64})";
    simdjson::ondemand::parser parser;
    auto result = parse_request(Endpoint::chat_completions, body, parser);
    ASSERT_TRUE(std::holds_alternative<RequestFacts>(result)) << error_of(result).message;
    const auto& facts = std::get<RequestFacts>(result);
    EXPECT_EQ(facts.model, "llama4:maverick");
    EXPECT_TRUE(facts.stream);
    EXPECT_TRUE(facts.include_usage);
    EXPECT_EQ(facts.max_tokens, 64);
    EXPECT_EQ(body.substr(facts.model_offset, facts.model_length), "\"llama4:maverick\"");

    ForwardBody rewritten;
    forward_body(rewritten, body, facts, "deepseek-v3.2", false);
    std::string joined;
    for (std::size_t i = 0; i < rewritten.count; ++i) joined += rewritten.parts[i];
    EXPECT_EQ(joined, R"({ "model" : "deepseek-v3.2" , "messages":[{"role":"user","content":"hi"}],)"
                      R"("stream":true,"stream_options":{"include_usage":true},"max_tokens":64})");
    EXPECT_EQ(rewritten.size(), joined.size());
}

TEST(ParseRequest, EscapedModelNames) {
    std::string body = R"({"model":"a\"b","prompt":"x"})";
    simdjson::ondemand::parser parser;
    auto result = parse_request(Endpoint::completions, body, parser);
    ASSERT_TRUE(std::holds_alternative<RequestFacts>(result));
    const auto& facts = std::get<RequestFacts>(result);
    EXPECT_EQ(facts.model, "a\"b");
    ForwardBody rewritten;
    forward_body(rewritten, body, facts, "new\\name", false);
    EXPECT_EQ(rewritten.model_literal, R"("new\\name")");
    ASSERT_EQ(rewritten.count, 3u);
    EXPECT_EQ(rewritten.parts[2], R"(,"prompt":"x"})");
}

TEST(ParseRequest, MalformedJsonGivesTheOffset) {
    const ApiError e = error_of(parse(Endpoint::chat_completions, R"({"model": "m", "messages": [}])"));
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.code, "invalid_json");
    EXPECT_NE(e.message.find("byte offset 28"), std::string::npos) << e.message;

    const ApiError truncated = error_of(parse(Endpoint::chat_completions, R"({"model": "m", "messa)"));
    EXPECT_NE(truncated.message.find("unterminated string at byte offset 21"), std::string::npos) << truncated.message;
}

// On-Demand checks only what it visits: the parts the gateway does not read are walked too, so
// that no body that is not JSON is forwarded (an upstream might read it otherwise).
TEST(ParseRequest, MalformedJsonAnywhereIsRefusedWithItsOffset) {
    const auto offset_of = [](Endpoint endpoint, std::string body) {
        const ApiError e = error_of(parse(endpoint, std::move(body)));
        EXPECT_EQ(e.code, "invalid_json") << e.message;
        const auto at = e.message.find("at byte offset ");
        return at == std::string::npos ? -1 : std::stol(e.message.substr(at + 15));
    };
    // a missing ':' inside a message, a missing ',' in an unknown field, a bad literal, a bad number,
    // a bad escape, a trailing comma: each at its own byte
    EXPECT_EQ(offset_of(Endpoint::chat_completions, R"({"model":"m","messages":[{"role":"user""content":"x"}]})"), 39);
    // (On-Demand skips a string it was not asked for by taking a ':' after it for a key's.)
    EXPECT_EQ(offset_of(Endpoint::chat_completions, R"({"model":"m","messages":[{"content":"x":{"a":1}}]})"), 39);
    EXPECT_EQ(offset_of(Endpoint::chat_completions, R"({"model":"m","messages":[{}],"tools":[1 2]})"), 40);
    EXPECT_EQ(offset_of(Endpoint::chat_completions, R"({"model":"m","messages":[{}],"logprobs":tru})"), 40);
    EXPECT_EQ(offset_of(Endpoint::chat_completions, R"({"model":"m","messages":[{}],"temperature":01})"), 44);
    EXPECT_EQ(offset_of(Endpoint::completions, R"({"model":"m","prompt":"a\qb"})"), 25);
    EXPECT_EQ(offset_of(Endpoint::embeddings, R"({"model":"m","input":["a",],"user":"u"})"), 26);
    EXPECT_EQ(offset_of(Endpoint::chat_completions, R"({"model":"m","messages":[{}],"stream":nul})"), 38);
    EXPECT_EQ(offset_of(Endpoint::chat_completions, R"({"model":"m","messages":[{}],"stream_options":{"x":[}})"), 52);
    // Nested up to kMaxJsonDepth (the root at depth 0), and no deeper: refused before simdjson's own
    // limit, which its debug builds assert on.
    const std::string deep = R"({"model":"m","messages":[{}],"x":)";
    const auto nested = [&](int depth) {  // the innermost array at `depth`
        return deep + std::string(static_cast<std::size_t>(depth), '[') +
               std::string(static_cast<std::size_t>(depth), ']') + "}";
    };
    EXPECT_TRUE(std::holds_alternative<RequestFacts>(parse(Endpoint::chat_completions, nested(kMaxJsonDepth))));
    const ApiError too_deep = error_of(parse(Endpoint::chat_completions, nested(kMaxJsonDepth + 1)));
    EXPECT_EQ(too_deep.code, "invalid_json");
    EXPECT_NE(
        too_deep.message.find("nesting is too deep at byte offset " + std::to_string(deep.size() + kMaxJsonDepth)),
        std::string::npos)
        << too_deep.message;
    EXPECT_EQ(error_of(parse(Endpoint::chat_completions, nested(5000))).code, "invalid_json");

    // Valid by JSON's grammar though some readers refuse them (a lone surrogate, numbers beyond a
    // double): left to the upstream, where the gateway does not read them.
    EXPECT_TRUE(std::holds_alternative<RequestFacts>(parse(
        Endpoint::chat_completions, R"({"model":"m","messages":[{"content":"\ud83d"}],)"
                                    R"("logit_bias":{"50256":-1e400},"x":[123456789012345678901234567890,-0.0e-0]})")));
    EXPECT_EQ(error_of(parse(Endpoint::chat_completions,
                             R"({"model":"m","messages":[{}],"seed":123456789012345678901234567890})"))
                  .param,
              "seed");  // read by the gateway: must fit its integer
}

// The gateway routes by the model it read and rewrites that one; a reader that takes the first of
// two "model" members (or "stream"s) would be served another model than the caller was allowed.
TEST(ParseRequest, FieldsTheGatewayDecidesWithMayNotBeRepeated) {
    for (const auto& [body, field] : std::initializer_list<std::pair<const char*, const char*>>{
             {R"({"model":"cheap","messages":[{}],"model":"costly"})", "model"},
             {R"({"model":"m","m\u006fdel":"n","messages":[{}]})", "model"},
             {R"({"model":"m","messages":[{}],"stream":false,"stream":true})", "stream"},
             {R"({"model":"m","messages":[{}],"stream_options":null,"stream_options":{}})", "stream_options"},
             {R"({"model":"m","messages":[{}],"stream_options":{"include_usage":false,"include_usage":true}})",
              "stream_options.include_usage"}}) {
        const ApiError e = error_of(parse(Endpoint::chat_completions, body));
        EXPECT_EQ(e.status, 400) << body;
        EXPECT_EQ(e.code, "duplicate_parameter") << body;
        EXPECT_EQ(e.param, field) << body;
    }
    // Other members may repeat, as JSON allows.
    EXPECT_TRUE(std::holds_alternative<RequestFacts>(
        parse(Endpoint::chat_completions, R"({"model":"m","messages":[{}],"user":"a","user":"b"})")));
}

TEST(ParseRequest, MissingAndWronglyTypedFields) {
    auto e = error_of(parse(Endpoint::chat_completions, R"({"messages":[{"role":"user","content":"x"}]})"));
    EXPECT_EQ(e.param, "model");
    EXPECT_EQ(e.code, "missing_required_parameter");

    e = error_of(parse(Endpoint::chat_completions, R"({"model":42,"messages":[]})"));
    EXPECT_EQ(e.param, "model");
    EXPECT_NE(e.message.find("must be a string, got a number"), std::string::npos);

    e = error_of(parse(Endpoint::chat_completions, R"({"model":"m","messages":[{"role":"user"}],"stream":"yes"})"));
    EXPECT_EQ(e.param, "stream");
    EXPECT_NE(e.message.find("boolean"), std::string::npos);

    e = error_of(parse(Endpoint::chat_completions, R"({"model":"m","messages":"hi"})"));
    EXPECT_EQ(e.param, "messages");

    e = error_of(parse(Endpoint::chat_completions, R"({"model":"m","messages":[]})"));
    EXPECT_EQ(e.param, "messages");

    e = error_of(parse(Endpoint::chat_completions, R"({"model":"m"})"));
    EXPECT_EQ(e.param, "messages");

    e = error_of(parse(Endpoint::chat_completions, R"({"model":"m","messages":[{}],"max_tokens":1.5})"));
    EXPECT_EQ(e.param, "max_tokens");

    e = error_of(parse(Endpoint::embeddings, R"({"model":"m","input":{}})"));
    EXPECT_EQ(e.param, "input");

    e = error_of(parse(Endpoint::completions, R"(["model"])"));
    EXPECT_NE(e.message.find("must be a JSON object, got an array"), std::string::npos) << e.message;

    e = error_of(parse(Endpoint::completions, "  "));
    EXPECT_NE(e.message.find("empty"), std::string::npos);

    e = error_of(parse(Endpoint::completions, R"({"model":"m","prompt":"x"} trailing)"));
    EXPECT_EQ(e.code, "invalid_json");
}

TEST(LocateJsonError, FindsTheFirstBadByte) {
    EXPECT_FALSE(locate_json_error(R"({"a":[1,2.5e3,true,null,"\u00e9"]})"));
    auto e = locate_json_error(R"({"a" 1})");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->offset, 5u);
    EXPECT_EQ(e->what, "expected ':' after an object key");
    e = locate_json_error("[1,]");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->offset, 3u);
    e = locate_json_error("{} {}");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->offset, 3u);
    e = locate_json_error(R"(["\x"])");
    ASSERT_TRUE(e);
    EXPECT_NE(e->what.find("invalid escape"), std::string::npos);
    e = locate_json_error("01");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->offset, 1u);
}

}  // namespace
}  // namespace switchyard::parse
