// The access log's content: prompts read from each endpoint's body, completions from bodies and
// stream events, redaction with the built-in and custom patterns, and the cut at the size limit.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "config/config.hpp"
#include "account/access_log.hpp"
#include "usage/usage.hpp"

namespace switchyard::account {
namespace {

constexpr std::string_view kRest = R"(
upstreams: [{name: u, base_url: "http://127.0.0.1:1"}]
models: [{name: m, deployments: [{upstream: u}]}]
)";

config::LoadResult load(std::string yaml) {
    yaml += kRest;
    return config::load_string(yaml, [](std::string_view) { return std::nullopt; });
}

config::AccessLog access_log_config(std::string_view yaml) {
    auto result = load(std::string(yaml));
    if (!result.errors.empty()) ADD_FAILURE() << config::to_string(result.errors.front());
    return result.gateway ? result.gateway->access_log : config::AccessLog{};
}

TEST(AccessLogContent, PromptTextOfEachEndpoint) {
    EXPECT_EQ(prompt_text(parse::Endpoint::chat_completions,
                          R"({"model":"m","messages":[{"role":"system","content":"Be brief."},)"
                          R"({"role":"user","content":[{"type":"text","text":"Hi "},{"type":"image_url","image_url":{"url":"x"}},)"
                          R"({"type":"text","text":"there"}]}]})",
                          1000),
              "system: Be brief.\nuser: Hi there");
    EXPECT_EQ(prompt_text(parse::Endpoint::completions, R"({"model":"m","prompt":["one","two"]})", 1000), "one\ntwo");
    EXPECT_EQ(prompt_text(parse::Endpoint::embeddings, R"({"model":"m","input":"vector me"})", 1000), "vector me");
    EXPECT_EQ(prompt_text(parse::Endpoint::embeddings, R"({"model":"m","input":[1,2,3]})", 1000), "");
    // Cut at the limit, never inside a UTF-8 sequence.
    EXPECT_EQ(prompt_text(parse::Endpoint::completions, R"({"model":"m","prompt":"héllo"})", 2), "h");
}

TEST(AccessLogContent, CompletionTextOfBodiesAndStreamEvents) {
    std::string out;
    usage::append_completion_text(R"({"choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"}}]})",
                                  out, 100);
    EXPECT_EQ(out, "Hello!");
    out.clear();
    usage::append_completion_text(R"({"choices":[{"text":"legacy"}]})", out, 100);
    EXPECT_EQ(out, "legacy");

    // Through the stream scanner, event by event, with the usage chunk ignored.
    std::string stream =
        "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{\"content\":\"lo \\\"you\\\"\"}}]}\n\n"
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n"
        "data: [DONE]\n\n";
    std::string text;
    usage::StreamScanner scanner(false);
    scanner.keep_text(&text, 100);
    std::size_t length = stream.size();
    scanner.feed(stream.data(), length);
    EXPECT_EQ(text, "Hello \"you\"");
    EXPECT_EQ(scanner.usage().completion, 2);
}

TEST(AccessLogContent, RedactsBuiltInsByDefaultAndCustomPatterns) {
    const auto defaults = access_log_config("access_log: {path: stdout, content: true}\n");
    ASSERT_EQ(defaults.redact.size(), 3u);
    AccessLog log(defaults, nullptr);
    EXPECT_EQ(log.redact("mail jane.doe@example.com, key sk-proj-abcdefghijklmnop1234, card 4111 1111 1111 1111."),
              "mail [REDACTED:email], key [REDACTED:api_key], card [REDACTED:credit_card].");
    EXPECT_EQ(log.redact("order 12345 costs $5"), "order 12345 costs $5");  // short numbers stay

    const auto custom = access_log_config(R"(
access_log:
  path: stdout
  content: true
  max_content_bytes: 32
  redact: [ipv4, {pattern: "ticket-[0-9]+", replace: "ticket-$1#"}]
)");
    AccessLog mine(custom, nullptr);
    EXPECT_EQ(mine.redact("host 10.1.2.3 ticket-42"), "host [REDACTED:ipv4] ticket-$1#");
    // Cut to 32 bytes, then marked.
    EXPECT_EQ(mine.redact("0123456789012345678901234567890123456789"), "01234567890123456789012345678901…");
    EXPECT_EQ(mine.redact("jane@example.com"), "jane@example.com");  // email not in this list
}

TEST(AccessLogContent, BadRedactionsAreConfigErrors) {
    auto result = load("access_log: {path: stdout, redact: [ssn]}\n");
    ASSERT_EQ(result.errors.size(), 1u);
    EXPECT_NE(result.errors[0].message.find("unknown redaction 'ssn'"), std::string::npos);
    EXPECT_EQ(result.errors[0].line, 1);
    result = load("access_log:\n  path: stdout\n  redact: [{pattern: \"a(b\"}]\n");
    ASSERT_EQ(result.errors.size(), 1u);
    EXPECT_NE(result.errors[0].message.find("not a valid regular expression"), std::string::npos);
    EXPECT_EQ(result.errors[0].line, 3);
}

// A writer that cannot keep up (here a pipe nobody reads) never holds up the thread that logs:
// the queue's oldest lines are dropped and counted instead.
// The console's request detail shows a recent request's content as the log wrote it: redacted,
// kept for the latest requests only, never when the log keeps no content.
TEST(AccessLogContent, TheLatestRequestsContentIsKeptRedactedForTheConsole) {
    const auto dir = std::filesystem::temp_directory_path() / ("sy-access-recent-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto config = access_log_config("access_log: {path: stdout, content: true}\n");
    config.path = (dir / "access.log").string();
    auto log = AccessLog::make(config);
    ASSERT_NE(log, nullptr);
    ledger::Row row;
    row.request_id = "req-1";
    const Content content{"user: mail jane.doe@example.com", "sure, sk-proj-abcdefghijklmnop1234"};
    log->write(row, &content);
    const auto kept = log->recent_content("req-1");
    ASSERT_TRUE(kept);
    EXPECT_EQ(kept->prompt, "user: mail [REDACTED:email]");
    EXPECT_EQ(kept->completion, "sure, [REDACTED:api_key]");
    EXPECT_FALSE(log->recent_content("req-2"));

    config.content = false;
    auto plain = AccessLog::make(config);
    plain->write(row, &content);
    EXPECT_FALSE(plain->recent_content("req-1"));
    log->flush();
    plain->flush();
    std::filesystem::remove_all(dir);

    // Bounded by entries and by bytes, the oldest going first; one larger than the whole is not kept.
    RecentContent recent(3, 40);
    for (const std::string id : {"a", "b", "c", "d"}) recent.add(id, Content{"p-" + id, "c"});
    EXPECT_EQ(recent.size(), 3u);
    EXPECT_FALSE(recent.find("a"));
    EXPECT_EQ(recent.find("d")->prompt, "p-d");
    recent.add("e", Content{std::string(30, 'x'), ""});  // 31 bytes: only "d" (5) can stay beside it
    EXPECT_EQ(recent.size(), 2u);
    EXPECT_LE(recent.bytes(), 40u);
    EXPECT_TRUE(recent.find("d"));
    recent.add("f", Content{std::string(50, 'x'), ""});
    EXPECT_FALSE(recent.find("f"));
    EXPECT_EQ(recent.size(), 2u);
}

TEST(AccessLogWriter, AStuckWriterDropsLinesAndNeverBlocksTheCaller) {
    const auto dir = std::filesystem::temp_directory_path() / ("sy-access-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string fifo = (dir / "access.fifo").string();
    std::filesystem::remove(fifo);
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);  // there, never read until the end
    ASSERT_GE(reader, 0);
    config::AccessLog config;
    config.path = fifo;
    auto log = AccessLog::make(config);
    ASSERT_NE(log, nullptr);

    ledger::Row row;
    row.request_id = "req";
    row.model = std::string(300, 'm');
    constexpr int kLines = 20000;  // the pipe takes ~64 KiB, the queue 8192 lines: the rest must go
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kLines; ++i) log->write(row, nullptr);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, std::chrono::seconds(20)) << "writing waited for the stuck writer";
    EXPECT_GT(log->dropped(), 10000u);
    EXPECT_LT(log->dropped(), static_cast<std::uint64_t>(kLines));

    // Read what is there while the log shuts down (its writer finishes the lines it holds).
    std::atomic<bool> done{false};
    std::thread drain([&] {
        char buffer[65536];
        while (!done.load()) {
            if (::read(reader, buffer, sizeof buffer) <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    });
    log.reset();
    done = true;
    drain.join();
    ::close(reader);
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace switchyard::account
