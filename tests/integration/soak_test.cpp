// The soak: the gateway under mixed traffic with faults on a schedule for a while (three minutes in
// the suite; bench/soak.sh runs it for 30), its resident memory sampled as it goes. Callers speak
// all three dialects, streaming and not, through a local tier (a simulated chat-only engine, so
// most requests are translated, and a real llama-server the gateway supervises) and a cloud tier
// (Anthropic, simulated). Meanwhile: the simulated engine answers 500, 429 and 503, hangs, drops
// streams and resets connections; it goes unhealthy and back; the llama-server is killed with
// SIGKILL; PostgreSQL (the ledger) and Redis (the fleet's state) are stopped and started again;
// the config is reloaded; keys are made and revoked; callers hang up mid-stream, ask for models
// that do not exist and flood the gateway with idle connections. At the end every request must
// have been answered and be in the ledger once, and memory must have stopped growing once warm.
//
//   SWITCHYARD_SOAK_SECONDS  how long the traffic runs (default 180)
//   SWITCHYARD_SOAK_CSV      where to write "seconds,rss_kib,requests" samples (none by default)
//   SWITCHYARD_SOAK_SKIP     faults to leave out, to find what memory follows: flood, redis,
//                            postgres, engine, keys, reload (comma-separated)
#include <gtest/gtest.h>

#include <signal.h>

#include <boost/asio.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "ledger/store.hpp"

namespace switchyard::testing {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

const std::map<std::string, std::string> kEnv{{"MASTER_KEY", "master-soak-000001"},
                                              {"SOAK_KEY", "sk-soak-0000000001"},
                                              {"CLAUDE_KEY", "sk-ant-soak-000001"}};
const std::map<std::string, std::string> kCaller{{"authorization", "Bearer sk-soak-0000000001"}};
const std::map<std::string, std::string> kAdmin{{"authorization", "Bearer master-soak-000001"}};

int soak_seconds() {
    const char* text = std::getenv("SWITCHYARD_SOAK_SECONDS");
    const int seconds = text != nullptr ? std::atoi(text) : 0;
    return seconds > 0 ? seconds : 180;
}

struct Parts {
    const Sim& local;
    const Sim& cloud;
    std::string ledger;  // a postgres:// URL
    std::string redis;   // a redis:// URL
};

// `concurrency` is what a reload changes (a new generation each time, the same routing). The
// Responses store is small, so that it is full (and evicting) once warm: at its default 64 MiB it
// would grow through the whole run, by design.
std::string config(const Parts& parts, int concurrency) {
    return R"(
listeners: [{address: 127.0.0.1, port: 0}]
server: {io_threads: 2, shutdown_grace: 10s, max_connections: 300, first_byte_timeout: 1s,
         responses_store_bytes: 256KiB}
auth:
  master_key: ${MASTER_KEY}
state: {url: )" + parts.redis + R"(, timeout: 50ms}
keys:
  - {name: soak, key: "${SOAK_KEY}", limits: {rpm: 1000000, tpm: 1000000000}}
ledger:
  url: )" + parts.ledger + R"(
  flush_interval: 200ms
  spool_dir: )" + temp_dir() + R"(/soak-spool
upstreams:
  - name: local
    type: openai
    local: true
    base_url: )" + parts.local.url() + R"(/v1
    timeouts: {first_byte: 2s, idle: 2s}
    health: {interval: 200ms, timeout: 500ms, unhealthy_threshold: 2}
    breaker: {consecutive_failures: 3, cooldown: 300ms}
  - name: cloud
    type: anthropic
    api_key: ${CLAUDE_KEY}
    default_max_tokens: 64
    base_url: )" + parts.cloud.url() + R"(/v1
    timeouts: {first_byte: 5s, idle: 5s}
engines:
  - name: engine
    command: [")" + llama_server_binary() + R"(", -m, "${MODEL}", --host, 127.0.0.1, --port, "${PORT}", -c, "1024", -np, "2", -t, "1", --no-webui]
    model: )" + tiny_model() + R"(
    preload: true
    load_timeout: 60s
    drain_timeout: 2s
    stop_grace: 2s
    restart: {backoff_base: 200ms, backoff_max: 1s, max_restarts: 1000, window: 1m}
models:
  - name: m
    deployments:
      - {upstream: local, max_concurrency: )" + std::to_string(concurrency) + R"(}
      - {engine: engine, max_concurrency: 2}
      - {upstream: cloud, model: claude-soak, tier: 2}
)";
}

long rss_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    }
    return -1;
}

// The number after `"key":` in the first object named `name` of a JSON text (-1: none).
long number_in(const std::string& json, const std::string& name, const std::string& key) {
    const auto at = json.find(R"("name":")" + name + '"');
    if (at == std::string::npos) return -1;
    const auto k = json.find('"' + key + R"(":)", at);
    if (k == std::string::npos) return -1;
    return std::atol(json.c_str() + k + key.size() + 3);
}

struct Sample {
    double seconds;
    long rss;
    long requests;
};

// What one caller request is, by its turn in the mix.
enum class Kind { chat, chat_stream, messages_stream, responses, hang_up, unknown_model, malformed, messages, count };

std::string body_of(Kind kind, int n) {
    const std::string user = R"({"role":"user","content":"soak turn )" + std::to_string(n) + R"("})";
    switch (kind) {
        case Kind::chat: return chat_body("m", false, R"("max_tokens":12)");
        case Kind::chat_stream:
        case Kind::hang_up: return chat_body("m", true, R"("max_tokens":12)");
        case Kind::messages_stream: return R"({"model":"m","max_tokens":12,"stream":true,"messages":[)" + user + "]}";
        case Kind::messages: return R"({"model":"m","max_tokens":12,"messages":[)" + user + "]}";
        case Kind::responses:
            return R"({"model":"m","max_output_tokens":12,"input":"soak turn )" + std::to_string(n) + R"("})";
        case Kind::unknown_model: return chat_body("nope-" + std::to_string(n));
        case Kind::malformed: return R"({"model":"m","messages":[{"role":)";
        case Kind::count: break;
    }
    return {};
}

std::string target_of(Kind kind) {
    switch (kind) {
        case Kind::messages_stream:
        case Kind::messages: return "/v1/messages";
        case Kind::responses: return "/v1/responses";
        default: return "/v1/chat/completions";
    }
}

// A streaming request whose caller reads the first bytes of the answer, then hangs up: those bytes.
std::string hang_up_mid_stream(int port, const std::string& body) {
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    const std::string request = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                kEnv.at("SOAK_KEY") + "\r\nContent-Type: application/json\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body;
    asio::write(socket, asio::buffer(request));
    char bytes[1024];
    boost::system::error_code ec;
    const std::size_t n = socket.read_some(asio::buffer(bytes), ec);
    return ec ? std::string() : std::string(bytes, n);
}

// What the callers saw.
struct Tally {
    std::atomic<long> sent{0};          // requests on the model endpoints (each owes a ledger row but those refused at the cap)
    std::atomic<long> unanswered{0};    // no HTTP status came back
    std::atomic<long> errors{0};        // 429 and 5xx that reached a caller
    std::atomic<long> refused_at_cap{0};  // 503 too_many_connections during the flood
    std::array<std::atomic<long>, static_cast<std::size_t>(Kind::count)> by_kind{};
    std::mutex mutex;
    std::vector<std::string> surprises;  // the first few answers no fault explains

    void surprise(const std::string& what) {
        std::lock_guard lock(mutex);
        if (surprises.size() < 10) surprises.push_back(what);
    }
    void answered(Kind kind, const Response& r) {
        const int expected = kind == Kind::unknown_model ? 404 : kind == Kind::malformed ? 400 : 200;
        if (r.status == 0) {
            ++unanswered;
        } else if (r.status == 503 && r.body.find("too_many_connections") != std::string::npos) {
            ++refused_at_cap;
        } else if (r.status == 429 || r.status >= 500) {
            ++errors;
        } else if (r.status != expected) {
            surprise(target_of(kind) + " " + std::to_string(r.status) + ": " + r.body.substr(0, 300));
        }
    }
};

void caller(int port, int first, int step, const std::atomic<bool>& stop, Tally& tally) {
    for (int n = first; !stop; n += step) {
        const auto kind = static_cast<Kind>(n % static_cast<int>(Kind::count));
        ++tally.sent;
        ++tally.by_kind[static_cast<std::size_t>(kind)];
        try {
            if (kind == Kind::hang_up) {
                const std::string begun = hang_up_mid_stream(port, body_of(kind, n));
                if (begun.rfind("HTTP/1.1 ", 0) != 0) {
                    ++tally.unanswered;
                } else if (begun.find("too_many_connections") != std::string::npos) {
                    ++tally.refused_at_cap;
                }
            } else {
                tally.answered(kind, post(port, target_of(kind), body_of(kind, n), kCaller));
            }
        } catch (const std::exception& e) {
            ++tally.unanswered;
            tally.surprise(std::string("exception: ") + e.what());
        }
    }
}

// The faults and changes, one at a time, on a rhythm of 250 ms ticks that repeats every 30 s.
class Chaos {
public:
    Chaos(Gateway& gateway, Parts parts, Sim& local, Postgres& pg, RedisServer& redis, Tally& tally)
        : gateway_(gateway), parts_(parts), local_(local), pg_(pg), redis_(redis), tally_(tally) {}

    void tick(int t) {
        if (const char* skip = std::getenv("SWITCHYARD_SOAK_SKIP"); skip != nullptr && skipped(skip, t)) return;
        if (t % 4 == 0) key_made_used_revoked(t);
        if (t % 28 == 14) reload(t);
        switch (t % 120) {
            case 10: sim(R"({"fault":"503","fault_rate":1})"); break;
            case 16: sim(R"({"fault":"429","fault_rate":0.5})"); break;
            case 22: sim(R"({"fault":"hang","fault_rate":0.1})"); break;
            case 28: sim(R"({"fault":"drop:3","fault_rate":0.3})"); break;
            case 34: sim(R"({"fault":"reset","fault_rate":0.2})"); break;
            case 40: sim(R"({"fault":"500","fault_rate":0.03})"); break;
            case 50: sim(R"({"healthy":false})"); break;
            case 58: sim(R"({"healthy":true})"); break;
            case 64: kill_engine(); break;
            case 76: pg_.stop(SIGINT); break;
            case 88: pg_.start(); break;
            case 96: redis_.stop(SIGKILL); break;
            case 100: redis_.start(); break;
            case 106: flood(300); break;
            case 114: idle_.clear(); break;
            default: break;
        }
    }
    void end() {
        idle_.clear();
        if (!pg_.running()) pg_.start();
        if (!redis_.running()) redis_.start();
        sim(R"({"fault":"none","healthy":true})");
    }
    int engine_kills() const { return engine_kills_; }

private:
    // For finding what memory follows (bench runs): SWITCHYARD_SOAK_SKIP lists faults left out.
    static bool skipped(std::string_view skip, int t) {
        const int at = t % 120;
        return (skip.find("flood") != std::string_view::npos && at == 106) ||
               (skip.find("redis") != std::string_view::npos && (at == 96 || at == 100)) ||
               (skip.find("postgres") != std::string_view::npos && (at == 76 || at == 88)) ||
               (skip.find("engine") != std::string_view::npos && at == 64) ||
               (skip.find("keys") != std::string_view::npos && t % 4 == 0) ||
               (skip.find("reload") != std::string_view::npos && t % 28 == 14);
    }
    void sim(const std::string& json) { post(local_.port, "/sim/config", json); }

    void key_made_used_revoked(int t) {
        const std::string name = "temp-" + std::to_string(t);
        const Response made = post(gateway_.port, "/admin/keys", R"({"name":")" + name + R"("})", kAdmin);
        if (made.status == 503 && made.body.find("ledger_unavailable") != std::string::npos) return;  // PostgreSQL away
        if (made.status != 201) {
            tally_.surprise("admin key: " + std::to_string(made.status) + " " + made.body);
            return;
        }
        const auto at = made.body.find(R"("key":")");
        const std::string secret = made.body.substr(at + 7, made.body.find('"', at + 7) - at - 7);
        ++tally_.sent;
        tally_.answered(Kind::chat, post(gateway_.port, "/v1/chat/completions", body_of(Kind::chat, t),
                                         {{"authorization", "Bearer " + secret}}));
        request(gateway_.port, "DELETE", "/admin/keys/" + name, "", kAdmin);
    }

    void reload(int t) {
        std::ofstream(gateway_.config_path) << config(parts_, t % 56 == 14 ? 6 : 8);
        ::kill(gateway_.process->pid(), SIGHUP);
    }

    void kill_engine() {
        const Response r = request(gateway_.port, "GET", "/admin/engines", "", kAdmin);
        const long pid = number_in(r.body, "engine", "pid");
        if (pid > 0 && ::kill(static_cast<pid_t>(pid), SIGKILL) == 0) ++engine_kills_;
    }

    void flood(int count) {
        for (int i = 0; i < count; ++i) {
            tcp::socket socket(io_);
            boost::system::error_code ec;
            socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(gateway_.port)}, ec);
            if (!ec) idle_.push_back(std::move(socket));
        }
    }

    Gateway& gateway_;
    Parts parts_;
    Sim& local_;
    Postgres& pg_;
    RedisServer& redis_;
    Tally& tally_;
    asio::io_context io_;
    std::vector<tcp::socket> idle_;
    int engine_kills_ = 0;
};

TEST(Soak, MixedTrafficWithFaultsLosesNothingAndMemoryStaysFlat) {
    if (!redis_available() || postgres_bindir().empty()) GTEST_SKIP() << "needs redis-server and PostgreSQL";
    const int seconds = soak_seconds();
    Sim local = start_sim({"--ttft-ms", "3", "--itl-ms", "1", "--tokens", "12", "--threads", "2"});
    Sim cloud = start_sim({"--ttft-ms", "8", "--itl-ms", "1", "--tokens", "12"});
    Postgres pg;
    pg.create_database("soak");
    RedisServer redis;
    const Parts parts{local, cloud, pg.url("soak"), redis.url()};
    Gateway gateway = start_gateway(config(parts, 8), kEnv);
    const pid_t pid = gateway.process->pid();

    Tally tally;
    std::atomic<bool> stop{false};
    std::vector<std::thread> callers;
    for (int t = 0; t < 6; ++t) callers.emplace_back([&, t] { caller(gateway.port, t, 6, stop, tally); });
    // The chaos runs on this thread: a server it restarts is its child, killed when the thread that
    // started it ends (the harness sets PR_SET_PDEATHSIG), and this thread lasts the whole test.
    std::vector<Sample> samples;
    std::thread sampler([&] {
        const auto start = std::chrono::steady_clock::now();
        while (!stop) {
            std::this_thread::sleep_for(500ms);
            samples.push_back({std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                               rss_kib(pid), tally.sent.load()});
        }
    });
    Chaos chaos(gateway, parts, local, pg, redis, tally);
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    for (int t = 1; std::chrono::steady_clock::now() < end; ++t) {
        std::this_thread::sleep_for(250ms);
        try {
            chaos.tick(t);
        } catch (const std::exception& e) {
            tally.surprise("tick " + std::to_string(t) + ": " + e.what());
        }
    }
    stop = true;
    for (auto& thread : callers) thread.join();
    sampler.join();
    chaos.end();
    ASSERT_TRUE(gateway.process->running()) << gateway.process->log();

    // The rows spooled while PostgreSQL was away are replayed before the gateway stops.
    std::string page;
    for (int i = 0; i < 200; ++i) {
        page = get(gateway.port, "/metrics").body;
        if (find_metric(page, "switchyard_ledger_spool_rows ").value_or(1) == 0) break;
        std::this_thread::sleep_for(100ms);
    }
    ASSERT_EQ(gateway.process->stop(SIGTERM), 0);  // writes every queued row

    if (const char* csv = std::getenv("SWITCHYARD_SOAK_CSV")) {
        std::ofstream out(csv);
        out << "seconds,rss_kib,requests\n";
        for (const auto& s : samples) out << s.seconds << ',' << s.rss << ',' << s.requests << '\n';
    }

    // Every request answered; the few errors are what the faults leave after retries and fallback.
    for (const auto& surprise : tally.surprises) ADD_FAILURE() << surprise;
    const long sent = tally.sent.load();
    EXPECT_EQ(tally.unanswered.load(), 0);
    EXPECT_LT(static_cast<double>(tally.errors.load()), 0.02 * static_cast<double>(sent));
    EXPECT_GT(sent, 20L * seconds) << "too little traffic for a soak";
    EXPECT_GE(chaos.engine_kills(), 1);

    // Every request is in the ledger, once.
    ASSERT_TRUE(pg.running()) << pg.log();
    auto store = ledger::open_store(parts.ledger);
    std::map<std::string, int> rows;
    store->each_row(0, INT64_MAX, [&](const ledger::Row& row) { ++rows[row.request_id]; });
    long total = 0;
    for (const auto& [id, n] : rows) total += n;
    EXPECT_EQ(total, sent - tally.refused_at_cap.load()) << "the connections refused at the cap owe no row";
    EXPECT_EQ(static_cast<long>(rows.size()), total) << "a request id with more than one row";
    EXPECT_EQ(find_metric(page, "switchyard_ledger_lost_rows_total ").value_or(-1), 0);

    // Names callers made up and revoked keys leave no series behind.
    EXPECT_EQ(page.find("nope-"), std::string::npos);
    EXPECT_EQ(page.find("key=\"temp-"), std::string::npos);

    // Memory: once warm (the first quarter), the last quarter's median RSS is within 5% of the
    // second's, and its peak within 10% of the second's. A leak moves the median; a burst of
    // requests held at once (when the machine is busy and answers slow) moves only the peak, which
    // is why the peak gets the wider bound.
    ASSERT_GE(samples.size(), 8u);
    const std::size_t q = samples.size() / 4;
    auto peak = [&](std::size_t from, std::size_t to) {
        long most = 0;
        for (std::size_t i = from; i < to; ++i) most = std::max(most, samples[i].rss);
        return most;
    };
    auto median = [&](std::size_t from, std::size_t to) {
        std::vector<long> values;
        for (std::size_t i = from; i < to; ++i) values.push_back(samples[i].rss);
        std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2), values.end());
        return values[values.size() / 2];
    };
    const long warm = peak(q, 2 * q);
    const long last = peak(3 * q, samples.size());
    const long warm_median = median(q, 2 * q);
    const long last_median = median(3 * q, samples.size());
    std::ostringstream trace;
    for (const auto& s : samples) trace << s.rss / 1024 << ' ';
    EXPECT_LE(last_median, warm_median + warm_median / 20) << "RSS (MiB) every 0.5 s: " << trace.str();
    EXPECT_LE(last, warm + warm / 10) << "RSS (MiB) every 0.5 s: " << trace.str();
    std::printf("soak: %ds, %ld requests (%ld hung up, %ld unknown model), %ld 429/5xx, %ld refused at the cap, "
                "%d engine kills; RSS median warm %ld KiB, last quarter %ld KiB (%+.1f%%); peak %ld, %ld KiB (%+.1f%%)\n",
                seconds, sent, tally.by_kind[static_cast<std::size_t>(Kind::hang_up)].load(),
                tally.by_kind[static_cast<std::size_t>(Kind::unknown_model)].load(), tally.errors.load(),
                tally.refused_at_cap.load(), chaos.engine_kills(), warm_median, last_median,
                100.0 * static_cast<double>(last_median - warm_median) / static_cast<double>(warm_median), warm, last,
                100.0 * static_cast<double>(last - warm) / static_cast<double>(warm));
}

}  // namespace
}  // namespace switchyard::testing
