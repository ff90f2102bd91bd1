#include <gtest/gtest.h>

#include "core/digest.hpp"
#include "core/request_id.hpp"
#include "http/read.hpp"
#include "http/wire.hpp"

namespace switchyard::wire {
namespace {

TEST(Wire, ErrorResponseIsOpenAIShaped) {
    ApiError error = ApiError::invalid_request("bad \"thing\"\n", "model", "x");
    const std::string bytes = serialize(error_response(error, "local"), "rid-1", false);
    EXPECT_TRUE(bytes.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    EXPECT_NE(bytes.find("x-request-id: rid-1\r\n"), std::string::npos);
    EXPECT_NE(bytes.find("x-switchyard-upstream: local\r\n"), std::string::npos);
    EXPECT_NE(bytes.find("Connection: close\r\n"), std::string::npos);
    EXPECT_TRUE(bytes.ends_with(
        R"({"error":{"message":"bad \"thing\"\n","type":"invalid_request_error","param":"model","code":"x"}})"));
}

TEST(Wire, JsonStringsStayValidForTextThatIsNotUtf8) {
    std::string out;
    append_json_string(out, "caf\xc3\xa9 \"q\" \\ \n\x01");  // valid UTF-8 passes as it is
    EXPECT_EQ(out, "\"caf\xc3\xa9 \\\"q\\\" \\\\ \\n\\u0001\"");
    out.clear();
    append_json_string(out, "model-\xff\xc3");  // not UTF-8 (a %FF in a path): each high byte escaped
    EXPECT_EQ(out, "\"model-\\u00ff\\u00c3\"");
    out.clear();
    // The UTF-8 check runs when the first high byte is met: escapes before it are kept, and text
    // whose invalid byte comes late is still escaped from its first high byte on.
    append_json_string(out, "a\tb \xc3\xa9 c \xff");
    EXPECT_EQ(out, "\"a\\tb \\u00c3\\u00a9 c \\u00ff\"");
}

TEST(Wire, Sha256MatchesTheStandardVectors) {
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const std::string million(1'000'000, 'a');  // one context per thread, reused: no state left over
    EXPECT_EQ(sha256_hex(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    std::string hex;
    const Sha256 digest = sha256("abc");
    append_hex(hex, digest.data(), 4);
    EXPECT_EQ(hex, "ba7816bf");
}

TEST(Wire, ChunkHeader) {
    EXPECT_EQ(ChunkHeader(0).view(), "0\r\n");
    EXPECT_EQ(ChunkHeader(255).view(), "ff\r\n");
    EXPECT_EQ(ChunkHeader(4096).view(), "1000\r\n");
}

TransferEncoding::Verdict transfer_verdict(std::initializer_list<std::string_view> fields) {
    TransferEncoding te;
    for (const auto field : fields) te.add(field);
    return te.verdict();
}

TEST(Wire, TransferEncodingFramesABodyOnlyWhenChunkedIsLastAndOnce) {
    using V = TransferEncoding::Verdict;
    EXPECT_EQ(transfer_verdict({}), V::none);
    EXPECT_EQ(transfer_verdict({"chunked"}), V::chunked);
    EXPECT_EQ(transfer_verdict({"Chunked"}), V::chunked);
    EXPECT_EQ(transfer_verdict({" chunked ;ext=1 "}), V::chunked);
    EXPECT_EQ(transfer_verdict({", chunked,"}), V::chunked);  // empty list elements mean nothing
    EXPECT_EQ(transfer_verdict({"gzip, chunked"}), V::unsupported);
    EXPECT_EQ(transfer_verdict({"gzip", "chunked"}), V::unsupported);  // fields are one list, in order
    EXPECT_EQ(transfer_verdict({"chunked", "gzip"}), V::faulty);
    EXPECT_EQ(transfer_verdict({"chunked, gzip"}), V::faulty);
    EXPECT_EQ(transfer_verdict({"chunked, chunked"}), V::faulty);
    EXPECT_EQ(transfer_verdict({"chunked", "chunked"}), V::faulty);
    EXPECT_EQ(transfer_verdict({"xchunked"}), V::faulty);
    EXPECT_EQ(transfer_verdict({"identity"}), V::faulty);
    EXPECT_EQ(transfer_verdict({""}), V::faulty);
    EXPECT_EQ(transfer_verdict({" , "}), V::faulty);
    TransferEncoding te;
    te.add("x-custom;q=1, deflate, chunked");
    EXPECT_EQ(te.unsupported(), "x-custom");
}

TEST(RequestId, KeepsSaneCallerIdsOnly) {
    EXPECT_EQ(request_id_from("abc-123").view(), "abc-123");
    EXPECT_EQ(request_id_from("").size(), 32u);
    EXPECT_NE(request_id_from("has space").view(), "has space");
    EXPECT_FALSE(new_request_id() == new_request_id());
}

}  // namespace
}  // namespace switchyard::wire
