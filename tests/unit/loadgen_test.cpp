// `switchyard bench` pure parts: metric definitions, distributions and seeding, the HTTP and SSE
// readers across arbitrary read boundaries, the workload's bodies, and the report writers.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <set>

#include "loadgen/metrics.hpp"
#include "loadgen/random.hpp"
#include "loadgen/reader.hpp"
#include "loadgen/report.hpp"
#include "loadgen/workload.hpp"

namespace switchyard::loadgen {
namespace {

// ---- metrics ------------------------------------------------------------------------------

TEST(Metrics, PercentileInterpolatesLikeNumpy) {
    const std::vector<double> v{1, 2, 3, 4};
    EXPECT_DOUBLE_EQ(percentile(v, 50), 2.5);
    EXPECT_DOUBLE_EQ(percentile(v, 90), 3.7);
    EXPECT_DOUBLE_EQ(percentile(v, 99), 3.97);
    EXPECT_DOUBLE_EQ(percentile(v, 0), 1);
    EXPECT_DOUBLE_EQ(percentile(v, 100), 4);
    EXPECT_DOUBLE_EQ(percentile({7}, 99), 7);
    EXPECT_DOUBLE_EQ(percentile({}, 50), 0);
}

TEST(Metrics, DescribeSortsAndSummarizes) {
    const Stat s = describe({5, 1, 3});
    EXPECT_EQ(s.count, 3u);
    EXPECT_DOUBLE_EQ(s.mean, 3);
    EXPECT_DOUBLE_EQ(s.median, 3);
    EXPECT_DOUBLE_EQ(s.min, 1);
    EXPECT_DOUBLE_EQ(s.max, 5);
    EXPECT_NEAR(s.stddev, std::sqrt(8.0 / 3.0), 1e-12);
}

RequestRecord streamed(double start_s, double ttft_ms, double e2e_ms, std::uint32_t out) {
    RequestRecord r;
    r.start_s = start_s;
    r.end_s = start_s + e2e_ms / 1000;
    r.ttft_ms = ttft_ms;
    r.output_tokens = out;
    r.input_tokens = 10;
    r.usage = true;
    r.status = 200;
    return r;
}

TEST(Metrics, TpotExcludesTheFirstToken) {
    const auto r = streamed(0, 200, 820, 32);
    ASSERT_TRUE(tpot_ms(r));
    EXPECT_NEAR(*tpot_ms(r), 20.0, 1e-9);  // (820 - 200) / 31
    EXPECT_FALSE(tpot_ms(streamed(0, 200, 200, 1)));  // one token: no decode phase
    RequestRecord whole = streamed(0, -1, 500, 10);   // not streamed: no TTFT, so no TPOT
    EXPECT_FALSE(tpot_ms(whole));
}

TEST(Metrics, SummaryThroughputItlAndGoodput) {
    Samples samples;
    // Two requests, each with gaps stored in the shared ITL array.
    RequestRecord a = streamed(0.0, 100, 1100, 11);  // TPOT 100
    a.itl_begin = 0;
    a.itl_count = 2;
    RequestRecord b = streamed(0.5, 300, 800, 6);    // TPOT 100, ends at 1.3 s
    b.itl_begin = 2;
    b.itl_count = 1;
    samples.itl_ms = {90, 110, 100};
    RequestRecord warm = streamed(-1.0, 10, 10, 2);
    warm.warmup = true;
    RequestRecord failed = streamed(0.2, -1, 50, 0);
    failed.error = ErrorKind::http;
    failed.status = 429;
    samples.requests = {a, b, warm, failed};

    Objectives o;
    o.ttft_ms = 200;
    const Summary s = summarize(samples, o);
    EXPECT_EQ(s.completed, 2u);
    EXPECT_EQ(s.failed, 1u);
    EXPECT_EQ(s.warmup, 1u);
    EXPECT_EQ(s.errors.at("http 429"), 1u);
    EXPECT_NEAR(s.duration_s, 1.3, 1e-9);  // first measured send (0) to last completion (1.3)
    EXPECT_NEAR(s.request_throughput, 2 / 1.3, 1e-9);
    EXPECT_NEAR(s.output_throughput, 17 / 1.3, 1e-9);
    EXPECT_NEAR(s.total_throughput, 37 / 1.3, 1e-9);
    EXPECT_EQ(s.itl.count, 3u);
    EXPECT_NEAR(s.itl.mean, 100, 1e-9);
    EXPECT_NEAR(s.tpot.mean, 100, 1e-9);
    EXPECT_NEAR(s.ttft.mean, 200, 1e-9);
    EXPECT_EQ(s.good, 1u);  // only a meets ttft <= 200
    ASSERT_TRUE(s.goodput);
    EXPECT_NEAR(*s.goodput, 1 / 1.3, 1e-9);
}

TEST(Metrics, GoodputObjectivesCombine) {
    const auto r = streamed(0, 200, 820, 32);  // TTFT 200, TPOT 20, E2EL 820
    std::string why;
    EXPECT_TRUE(meets(r, *parse_objectives("ttft:200,tpot:20,e2el:820", &why)));
    EXPECT_FALSE(meets(r, *parse_objectives("ttft:199", &why)));
    EXPECT_FALSE(meets(r, *parse_objectives("tpot:19.9", &why)));
    EXPECT_FALSE(meets(r, *parse_objectives("e2el:800", &why)));
    RequestRecord whole = streamed(0, -1, 300, 8);  // non-streamed: TTFT is the whole latency
    EXPECT_FALSE(meets(whole, *parse_objectives("ttft:250", &why)));
    EXPECT_TRUE(meets(whole, *parse_objectives("ttft:300,tpot:1", &why)));
    EXPECT_FALSE(parse_objectives("ttft", &why));
    EXPECT_FALSE(parse_objectives("speed:3", &why));
    EXPECT_FALSE(parse_objectives("ttft:-1", &why));
}

TEST(Metrics, AppendOffsetsItlRanges) {
    Samples a, b;
    a.itl_ms = {1, 2};
    b.itl_ms = {3};
    RequestRecord r;
    r.itl_begin = 0;
    r.itl_count = 1;
    b.requests.push_back(r);
    a.append(b);
    ASSERT_EQ(a.requests.size(), 1u);
    EXPECT_EQ(a.requests[0].itl_begin, 2u);
    EXPECT_EQ(a.itl_ms[a.requests[0].itl_begin], 3.0f);
}

// ---- randomness ------------------------------------------------------------------------------

TEST(Random, SameSeedSameSequenceAndStreamsDiffer) {
    Rng a(42), b(42), c(43);
    std::vector<std::uint64_t> xa, xb, xc;
    for (int i = 0; i < 8; ++i) {
        xa.push_back(a.next());
        xb.push_back(b.next());
        xc.push_back(c.next());
    }
    EXPECT_EQ(xa, xb);
    EXPECT_NE(xa, xc);
    EXPECT_EQ(Rng::derive(7, 3).next(), Rng::derive(7, 3).next());
    EXPECT_NE(Rng::derive(7, 3).next(), Rng::derive(7, 4).next());
    // Pinned values: the same seed gives the same workload on every platform and build.
    EXPECT_EQ(Rng(0).next(), Rng(0).next());
    Rng pinned(1);
    const std::uint64_t first = pinned.next();
    Rng again(1);
    EXPECT_EQ(again.next(), first);
}

TEST(Random, UniformBelowAndExponentialHaveTheRightMoments) {
    Rng rng(5);
    double sum = 0, exp_sum = 0;
    std::set<std::uint64_t> seen;
    const int n = 200000;
    for (int i = 0; i < n; ++i) {
        const double u = rng.uniform();
        ASSERT_GE(u, 0.0);
        ASSERT_LT(u, 1.0);
        sum += u;
        const auto k = rng.below(6);
        ASSERT_LT(k, 6u);
        seen.insert(k);
        exp_sum += rng.exponential(4.0);
    }
    EXPECT_NEAR(sum / n, 0.5, 0.01);
    EXPECT_EQ(seen.size(), 6u);
    EXPECT_NEAR(exp_sum / n, 0.25, 0.01);  // Poisson arrivals at rate 4: mean gap 1/4 s
}

TEST(Random, LengthDistributions) {
    std::string why;
    Rng rng(9);
    auto fixed = LengthDistribution::parse("128", &why);
    ASSERT_TRUE(fixed);
    EXPECT_EQ(fixed->sample(rng), 128u);
    EXPECT_EQ(fixed->describe(), "128");

    auto uniform = LengthDistribution::parse("uniform:10:20", &why);
    ASSERT_TRUE(uniform);
    std::set<std::uint32_t> values;
    double sum = 0;
    for (int i = 0; i < 20000; ++i) {
        const auto v = uniform->sample(rng);
        ASSERT_GE(v, 10u);
        ASSERT_LE(v, 20u);
        values.insert(v);
        sum += v;
    }
    EXPECT_EQ(values.size(), 11u);
    EXPECT_NEAR(sum / 20000, 15, 0.1);

    auto normal = LengthDistribution::parse("normal:100:10", &why);
    ASSERT_TRUE(normal);
    double nsum = 0, nsq = 0;
    for (int i = 0; i < 20000; ++i) {
        const double v = normal->sample(rng);
        nsum += v;
        nsq += v * v;
    }
    const double mean = nsum / 20000;
    EXPECT_NEAR(mean, 100, 0.5);
    EXPECT_NEAR(std::sqrt(nsq / 20000 - mean * mean), 10, 0.5);

    auto clamped = LengthDistribution::parse("normal:0:5", &why);
    for (int i = 0; i < 1000; ++i) ASSERT_GE(clamped->sample(rng), 1u);
    auto exponential = LengthDistribution::parse("exponential:50", &why);
    ASSERT_TRUE(exponential);
    EXPECT_EQ(exponential->describe(), "exponential:50");

    EXPECT_FALSE(LengthDistribution::parse("uniform:20:10", &why));
    EXPECT_FALSE(LengthDistribution::parse("zipf:3", &why));
    EXPECT_FALSE(LengthDistribution::parse("-3", &why));
    EXPECT_FALSE(LengthDistribution::parse("abc", &why));
}

// ---- HTTP and SSE readers ------------------------------------------------------------------

struct Parsed {
    ResponseParser::Result result = ResponseParser::Result::need_more;
    std::string body;
    std::size_t leftover = 0;
};

// Feeds `bytes` split at `cut` (and then in one piece per remaining call).
Parsed parse_split(ResponseParser& p, const std::string& bytes, std::size_t cut) {
    Parsed out;
    p.reset();
    auto on_body = [&](std::string_view b) { out.body.append(b); };
    std::size_t at = 0;
    for (const std::size_t end : {cut, bytes.size()}) {
        std::string_view piece(bytes.data() + at, end - at);
        while (!piece.empty()) {
            std::size_t consumed = 0;
            out.result = p.feed(piece, consumed, on_body);
            piece.remove_prefix(consumed);
            if (out.result != ResponseParser::Result::need_more) {
                out.leftover = piece.size() + (bytes.size() - end);
                return out;
            }
        }
        at = end;
    }
    return out;
}

TEST(Reader, ContentLengthResponseAtEverySplit) {
    const std::string body = R"({"usage":{"prompt_tokens":3}})";
    const std::string bytes = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
    ResponseParser p;
    for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
        const Parsed r = parse_split(p, bytes, cut);
        ASSERT_EQ(r.result, ResponseParser::Result::done) << cut;
        EXPECT_EQ(r.body, body) << cut;
        EXPECT_EQ(r.leftover, 0u);
        EXPECT_EQ(p.status(), 200);
        EXPECT_TRUE(p.keep_alive());
        EXPECT_FALSE(p.event_stream());
    }
}

TEST(Reader, ChunkedResponseWithExtensionsAndTrailersAtEverySplit) {
    const std::string bytes =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n"
        "6\r\ndata: \r\n"
        "a;ext=1\r\n{\"x\":1}\n\n\n\r\n"
        "0\r\nX-Trailer: yes\r\n\r\n";
    ResponseParser p;
    for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
        const Parsed r = parse_split(p, bytes, cut);
        ASSERT_EQ(r.result, ResponseParser::Result::done) << cut;
        EXPECT_EQ(r.body, "data: {\"x\":1}\n\n\n") << cut;
        EXPECT_TRUE(p.event_stream());
    }
}

TEST(Reader, CloseDelimitedInterimAndErrors) {
    ResponseParser p;
    // HTTP/1.0 without length: the body ends when the connection closes.
    Parsed r = parse_split(p, "HTTP/1.0 200 OK\r\n\r\nhello", 3);
    EXPECT_EQ(r.result, ResponseParser::Result::need_more);
    EXPECT_EQ(r.body, "hello");
    EXPECT_FALSE(p.keep_alive());
    EXPECT_EQ(p.eof(), ResponseParser::Result::done);

    // 100 Continue is skipped.
    r = parse_split(p, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 429 Too Many\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno", 10);
    EXPECT_EQ(r.result, ResponseParser::Result::done);
    EXPECT_EQ(p.status(), 429);
    EXPECT_FALSE(p.keep_alive());
    EXPECT_EQ(r.body, "no");

    // A cut body is an error at EOF; garbage is an error at once.
    r = parse_split(p, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 5);
    EXPECT_EQ(r.result, ResponseParser::Result::need_more);
    EXPECT_EQ(p.eof(), ResponseParser::Result::error);
    EXPECT_EQ(parse_split(p, "SSH-2.0-OpenSSH\r\n\r\n", 0).result, ResponseParser::Result::error);
    EXPECT_EQ(parse_split(p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0).result,
              ResponseParser::Result::error);
    p.reset();
    EXPECT_EQ(p.eof(), ResponseParser::Result::error);  // closed before any byte

    // Bytes after a complete response are left for the caller.
    r = parse_split(p, "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1", 0);
    EXPECT_EQ(r.result, ResponseParser::Result::done);
    EXPECT_EQ(r.leftover, 8u);
}

TEST(Reader, SseEventsAcrossEveryBoundary) {
    const std::string stream =
        ": keep-alive comment\r\n\r\n"
        "data: {\"a\":1}\n\n"
        "event: message\r\nid: 7\r\ndata: {\"b\":\r\ndata: 2}\r\n\r\n"
        "data:[DONE]\n\n";
    for (std::size_t cut1 = 0; cut1 <= stream.size(); ++cut1) {
        for (std::size_t cut2 = cut1; cut2 <= stream.size(); cut2 += 7) {
            SseParser sse;
            std::vector<std::string> events;
            auto on = [&](std::string_view d) { events.emplace_back(d); };
            sse.feed(std::string_view(stream).substr(0, cut1), on);
            sse.feed(std::string_view(stream).substr(cut1, cut2 - cut1), on);
            sse.feed(std::string_view(stream).substr(cut2), on);
            sse.finish(on);
            ASSERT_EQ(events.size(), 3u) << cut1 << " " << cut2;
            EXPECT_EQ(events[0], "{\"a\":1}");
            EXPECT_EQ(events[1], "{\"b\":\n2}");
            EXPECT_EQ(events[2], "[DONE]");
        }
    }
    SseParser unterminated;  // a final event without its blank line still counts at the end
    std::vector<std::string> events;
    auto on = [&](std::string_view d) { events.emplace_back(d); };
    unterminated.feed("data: last", on);
    EXPECT_TRUE(events.empty());
    unterminated.finish(on);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0], "last");
}

TEST(Reader, ChunkFacts) {
    const auto role = inspect_chunk(
        R"({"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""}}],"usage":null})");
    EXPECT_FALSE(role.token);
    EXPECT_FALSE(role.usage);
    EXPECT_TRUE(inspect_chunk(R"({"choices":[{"delta":{"content":" word"}}]})").token);
    EXPECT_TRUE(inspect_chunk(R"({"choices":[{"delta": {"content": "x"}}]})").token);  // spaces after colons
    EXPECT_TRUE(inspect_chunk(R"({"choices":[{"text":"x","index":0}]})").token);
    EXPECT_FALSE(inspect_chunk(R"({"choices":[{"text":"","finish_reason":"stop"}]})").token);
    EXPECT_TRUE(inspect_chunk(R"({"choices":[{"delta":{"reasoning_content":"hmm"}}]})").token);
    EXPECT_FALSE(inspect_chunk(R"({"choices":[{"delta":{"content":null}}]})").token);
    // A key-like sequence inside a string is not a key.
    EXPECT_FALSE(inspect_chunk(R"({"choices":[{"delta":{"content":"","tool":"say \"content\":\"x\""}}]})").token);
    const auto usage = inspect_chunk(R"({"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":16}})");
    EXPECT_TRUE(usage.usage);
    EXPECT_FALSE(usage.token);
    EXPECT_TRUE(inspect_chunk("[DONE]").done);
    EXPECT_TRUE(inspect_chunk(R"({"error":{"message":"upstream went away"}})").error);
    EXPECT_FALSE(inspect_chunk(R"({"choices":[{"delta":{"content":"error"}}]})").error);
    EXPECT_EQ(raw_text(R"({"choices":[{"delta":{"content":"a \"q\" b"}}]})"), R"(a \"q\" b)");
    EXPECT_EQ(raw_text(R"({"choices":[{"text":" t"}]})"), " t");
}

TEST(Reader, UsageFromResponsesAndChunks) {
    UsageReader reader;
    auto u = reader.read(
        R"({"id":"x","choices":[{"message":{"role":"assistant","content":"hi \"there\""}}],)"
        R"("usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":8}}})");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->prompt_tokens, 12u);
    EXPECT_EQ(u->completion_tokens, 5u);
    EXPECT_EQ(u->cached_tokens, 8u);
    u = reader.read(R"({"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"prompt_cache_hit_tokens":1}})");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->cached_tokens, 1u);
    EXPECT_FALSE(reader.read(R"({"choices":[],"usage":null})"));
    EXPECT_FALSE(reader.read("not json"));
    EXPECT_EQ(reader.message_text(R"({"choices":[{"message":{"role":"assistant","content":"hi \"there\""}}]})"),
              R"(hi \"there\")");
    EXPECT_EQ(reader.message_text(R"({"choices":[{"text":"done","index":0}]})"), "done");
}

// ---- workload --------------------------------------------------------------------------------

bool valid_json(const std::string& text) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    return parser.parse(text).get(doc) == simdjson::SUCCESS;
}

TEST(Workload, SeededSyntheticBodies) {
    WorkloadOptions o;
    o.seed = 3;
    std::string why;
    o.input_len = *LengthDistribution::parse("uniform:5:50", &why);
    o.output_len = *LengthDistribution::parse("uniform:10:20", &why);
    const Workload a(o), b(o);
    Session s1, s2;
    std::string body1, body2;
    a.begin(4, s1);
    b.begin(4, s2);
    ASSERT_TRUE(a.next(s1, "\"m\"", body1));
    ASSERT_TRUE(b.next(s2, "\"m\"", body2));
    EXPECT_EQ(body1, body2);
    EXPECT_TRUE(valid_json(body1)) << body1;
    EXPECT_NE(body1.find(R"("stream":true,"stream_options":{"include_usage":true})"), std::string::npos);
    EXPECT_FALSE(a.next(s1, "\"m\"", body1));  // one turn per session
    a.begin(5, s1);
    a.next(s1, "\"m\"", body2);
    EXPECT_NE(body1, body2);
    o.seed = 4;
    const Workload c(o);
    c.begin(4, s1);
    c.next(s1, "\"m\"", body2);
    EXPECT_NE(body1, body2);
}

TEST(Workload, MultiTurnSessionsGrowASharedPrefix) {
    WorkloadOptions o;
    o.turns = 3;
    o.prefix_len = 5;
    o.input_len = LengthDistribution::fixed_at(4);
    o.stream = false;
    o.extra_body = R"("temperature":0)";
    const Workload w(o);
    EXPECT_TRUE(w.needs_replies());
    Session s;
    w.begin(0, s);
    std::string first, second, third;
    ASSERT_TRUE(w.next(s, "\"m\"", first));
    w.reply(s, R"(an \"answer\")");
    ASSERT_TRUE(w.next(s, "\"m\"", second));
    w.reply(s, "again");
    ASSERT_TRUE(w.next(s, "\"m\"", third));
    EXPECT_FALSE(w.next(s, "\"m\"", third));
    for (const auto* body : {&first, &second, &third}) EXPECT_TRUE(valid_json(*body)) << *body;
    // Each turn starts with the whole previous turn's messages.
    const auto messages_of = [](const std::string& body) {
        const auto begin = body.find("\"messages\":[") + 12;
        return body.substr(begin, body.find("],\"max_tokens\"") - begin);
    };
    EXPECT_TRUE(messages_of(second).starts_with(messages_of(first)));
    EXPECT_TRUE(messages_of(third).starts_with(messages_of(second)));
    EXPECT_NE(second.find(R"({"role":"assistant","content":"an \"answer\""})"), std::string::npos);
    EXPECT_TRUE(first.find(R"({"role":"system","content":")") != std::string::npos);
    EXPECT_NE(first.find(R"("stream":false,"temperature":0})"), std::string::npos);

    // Two sessions share the system prompt (the prefix) but not the user text.
    Session other;
    w.begin(1, other);
    std::string other_first;
    w.next(other, "\"m\"", other_first);
    const auto system_end = first.find("\"},") + 3;
    EXPECT_EQ(first.substr(0, system_end), other_first.substr(0, system_end));
    EXPECT_NE(first, other_first);
}

TEST(Workload, CompletionsAndFileEntries) {
    WorkloadOptions o;
    o.endpoint = Endpoint::completions;
    o.output_len = LengthDistribution::fixed_at(7);
    o.max_tokens_field = "max_completion_tokens";
    FileEntry e;
    e.turns = {R"(say \"hi\")"};
    e.max_tokens = 3;
    o.file = {e};
    const Workload w(o);
    Session s;
    w.begin(10, s);
    std::string body;
    ASSERT_TRUE(w.next(s, "\"m\"", body));
    EXPECT_TRUE(valid_json(body)) << body;
    EXPECT_NE(body.find(R"("prompt":"say \"hi\"\n\n")"), std::string::npos) << body;
    EXPECT_NE(body.find(R"("max_completion_tokens":3)"), std::string::npos) << body;

    WorkloadOptions chat;
    FileEntry m;
    m.messages = R"([{"role":"system","content":"be brief"},{"role":"user","content":"hi"}])";
    chat.file = {m};
    const Workload wc(chat);
    wc.begin(0, s);
    ASSERT_TRUE(wc.next(s, "\"m\"", body));
    EXPECT_TRUE(valid_json(body)) << body;
    EXPECT_NE(body.find(R"("messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}])"),
              std::string::npos);
    EXPECT_EQ(json_quote("a\"b\\c\n"), R"("a\"b\\c\n")");
}

// ---- reports ---------------------------------------------------------------------------------

BenchReport sample_report() {
    BenchReport report;
    report.started_at = "2026-11-25T12:00:00Z";
    report.base_url = "http://127.0.0.1:1/v1";
    report.endpoint = "chat";
    report.settings = {{"seed", "0"}};
    for (const auto& [model, c] : {std::pair{"a<b>", 1.0}, std::pair{"a<b>", 4.0}, std::pair{"gpt-4o-mini", 1.0}}) {
        Samples samples;
        for (int i = 0; i < 20; ++i) samples.requests.push_back(streamed(i * 0.1, 100 + i * c, 500 + 10 * i, 9));
        RunReport run;
        run.model = model;
        run.load = Load{Load::Mode::concurrency, c};
        run.summary = summarize(samples, {});
        pricing::Price price;
        price.input = 1;
        price.output = 2;
        run.price = price;
        run.cost_usd = price.cost(run.summary.input_tokens, 0, run.summary.output_tokens);
        report.runs.push_back(std::move(run));
    }
    return report;
}

TEST(Report, JsonCsvAndHtmlAreWellFormed) {
    const BenchReport report = sample_report();
    const std::string json = to_json(report);
    EXPECT_TRUE(valid_json(json)) << json;
    const std::string csv = to_csv(report);
    std::vector<std::string> lines;
    for (std::size_t at = 0; at < csv.size();) {
        const auto nl = csv.find('\n', at);
        lines.push_back(csv.substr(at, nl - at));
        at = nl + 1;
    }
    ASSERT_EQ(lines.size(), 4u);
    const auto commas = [](const std::string& l) { return std::count(l.begin(), l.end(), ','); };
    EXPECT_EQ(commas(lines[1]), commas(lines[0]));
    EXPECT_EQ(commas(lines[2]), commas(lines[0]));
    EXPECT_EQ(commas(lines[3]), commas(lines[0]));
    const std::string html = to_html(report);
    EXPECT_TRUE(html.starts_with("<!DOCTYPE html>"));
    EXPECT_NE(html.find("<svg"), std::string::npos);
    EXPECT_NE(html.find("Throughput and latency against load"), std::string::npos);
    EXPECT_NE(html.find("a&lt;b&gt;"), std::string::npos);  // escaped
    EXPECT_EQ(html.find("<script"), std::string::npos);      // self-contained, no scripts
    EXPECT_EQ(html.find("src="), std::string::npos);
    std::ostringstream text;
    print_summary(text, report);
    EXPECT_NE(text.str().find("Model comparison"), std::string::npos);
    EXPECT_NE(text.str().find("$/M tokens"), std::string::npos);
}

}  // namespace
}  // namespace switchyard::loadgen
