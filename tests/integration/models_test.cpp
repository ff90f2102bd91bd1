// The model store with real processes: `switchyard pull` against a local server in Hugging Face's
// layout (the API's file list, resolve/main redirects to a CDN on another port with X-Linked-Etag
// and X-Linked-Size, ranges, a cut connection, a wrong checksum, a gated file), `list`, `show` and
// `rm` on the pulled files; the memory estimate against llama-server's own buffer sizes; and
// memory placement in the gateway with real llama-server engines under a host budget.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "harness.hpp"
#include "models/estimate.hpp"
#include "models/gguf.hpp"

namespace switchyard::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string sha256_hex(const std::string& bytes) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
    std::string out;
    char hex[3];
    for (unsigned char c : digest) {
        std::snprintf(hex, sizeof hex, "%02x", c);
        out += hex;
    }
    return out;
}

// A hub in Hugging Face's layout and a CDN on another port: GET /api/models/ORG/REPO lists the
// repository's files; GET /ORG/REPO/resolve/main/FILE redirects (302) to the CDN with the file's
// sha256 in X-Linked-Etag and its size in X-Linked-Size; the CDN serves the bytes, honouring
// Range unless told not to, and can cut its next answer halfway.
class Hub {
public:
    struct File {
        std::string bytes;
        std::string published_sha;  // X-Linked-Etag; the real sha256 unless a test lies
        bool gated = false;         // 401 without "Authorization: Bearer hf-secret-token"
    };

    Hub() : hub_(listen_on()), cdn_(listen_on()) {
        hub_thread_ = std::thread([this] { serve(hub_.fd, true); });
        cdn_thread_ = std::thread([this] { serve(cdn_.fd, false); });
    }
    ~Hub() {
        stop_ = true;
        ::shutdown(hub_.fd, SHUT_RDWR);
        ::shutdown(cdn_.fd, SHUT_RDWR);
        ::close(hub_.fd);
        ::close(cdn_.fd);
        hub_thread_.join();
        cdn_thread_.join();
    }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(hub_.port); }
    void add(const std::string& repo, const std::string& file, std::string bytes, bool gated = false) {
        std::lock_guard lock(mutex_);
        File f{std::move(bytes), "", gated};
        f.published_sha = sha256_hex(f.bytes);
        files_[repo + "/" + file] = std::move(f);
    }
    void lie_about_sha(const std::string& path) {
        std::lock_guard lock(mutex_);
        files_[path].published_sha = std::string(64, 'a');
    }
    std::atomic<bool> cut_next{false};       // the next CDN answer stops halfway
    std::atomic<bool> ignore_ranges{false};  // the CDN answers 200 with everything to a Range request
    std::vector<std::string> requests() {
        std::lock_guard lock(mutex_);
        return log_;
    }

private:
    struct Listener {
        int fd = -1;
        int port = 0;
    };
    static Listener listen_on() {
        Listener l;
        l.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(l.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        if (::bind(l.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(l.fd, 16) != 0 ||
            ::getsockname(l.fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
            throw std::runtime_error("Hub: cannot listen");
        }
        l.port = ntohs(address.sin_port);
        return l;
    }

    static void send_all(int fd, const std::string& bytes) {
        std::size_t sent = 0;
        while (sent < bytes.size()) {
            const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) return;
            sent += static_cast<std::size_t>(n);
        }
    }

    void serve(int listener, bool hub) {
        while (!stop_) {
            const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) return;
            std::string head;
            char c;
            while (head.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) head += c;
            answer(fd, head, hub);
            ::close(fd);
        }
    }

    static std::string header(const std::string& head, const std::string& name) {
        std::string lower = head;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
        const auto at = lower.find("\r\n" + name + ":");
        if (at == std::string::npos) return "";
        auto start = at + 3 + name.size();
        while (start < head.size() && head[start] == ' ') ++start;
        return head.substr(start, head.find("\r\n", start) - start);
    }

    void answer(int fd, const std::string& head, bool hub) {
        const auto sp = head.find(' ');
        const std::string path = head.substr(sp + 1, head.find(' ', sp + 1) - sp - 1);
        const std::string auth = header(head, "authorization");
        const std::string range = header(head, "range");
        std::unique_lock lock(mutex_);
        log_.push_back(std::string(hub ? "hub " : "cdn ") + path + " range=" + range + " auth=" + (auth.empty() ? "no" : "yes"));
        auto reply = [&](const std::string& status, const std::string& headers, const std::string& body) {
            send_all(fd, "HTTP/1.1 " + status + "\r\n" + headers + "Content-Length: " + std::to_string(body.size()) +
                             "\r\nConnection: close\r\n\r\n" + body);
        };
        if (hub && path.starts_with("/api/models/")) {
            const std::string repo = path.substr(12);
            std::string siblings;
            for (const auto& [key, file] : files_) {
                if (!key.starts_with(repo + "/")) continue;
                siblings += std::string(siblings.empty() ? "" : ",") + R"({"rfilename":")" + key.substr(repo.size() + 1) + "\"}";
            }
            if (siblings.empty()) return reply("404 Not Found", "", R"({"error":"Repository not found"})");
            return reply("200 OK", "Content-Type: application/json\r\n",
                         R"({"id":")" + repo + R"(","siblings":[{"rfilename":"README.md"},)" + siblings + "]}");
        }
        const std::string marker = hub ? "/resolve/main/" : "/cdn/";
        const auto at = path.find(marker);
        std::string key;
        if (hub && at != std::string::npos) key = path.substr(1, at - 1) + "/" + path.substr(at + marker.size());
        if (!hub && path.starts_with("/cdn/")) key = path.substr(5);
        const auto found = files_.find(key);
        if (found == files_.end()) return reply("404 Not Found", "", "Entry not found");
        const File& file = found->second;
        if (hub) {
            if (file.gated && auth != "Bearer hf-secret-token") {
                return reply("401 Unauthorized", "", "Access to model is restricted. You must have access to it and be authenticated.");
            }
            return reply("302 Found",
                         "Location: http://127.0.0.1:" + std::to_string(cdn_.port) + "/cdn/" + key + "\r\nX-Linked-Etag: \"" +
                             file.published_sha + "\"\r\nX-Linked-Size: " + std::to_string(file.bytes.size()) +
                             "\r\nETag: \"0123456789abcdef0123456789abcdef01234567\"\r\n",
                         "");
        }
        std::size_t from = 0;
        if (range.starts_with("bytes=") && !ignore_ranges) from = std::stoul(range.substr(6));
        const std::string body = file.bytes.substr(std::min(from, file.bytes.size()));
        std::string status = "200 OK";
        std::string headers = "Accept-Ranges: bytes\r\n";
        if (from > 0) {
            status = "206 Partial Content";
            headers += "Content-Range: bytes " + std::to_string(from) + "-" + std::to_string(file.bytes.size() - 1) + "/" +
                       std::to_string(file.bytes.size()) + "\r\n";
        }
        if (cut_next.exchange(false)) {  // headers promise everything; half comes, then the connection closes
            send_all(fd, "HTTP/1.1 " + status + "\r\n" + headers + "Content-Length: " + std::to_string(body.size()) +
                             "\r\nConnection: close\r\n\r\n" + body.substr(0, body.size() / 2));
            return;
        }
        lock.unlock();
        reply(status, headers, body);
    }

    Listener hub_;
    Listener cdn_;
    std::thread hub_thread_;
    std::thread cdn_thread_;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::map<std::string, File> files_;
    std::vector<std::string> log_;
};

struct CliRun {
    int status = -1;
    std::string output;
};

// `switchyard ARGS` to its end.
CliRun cli(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {}) {
    CommandRun run = run_command("cli", args, {}, env);
    return {run.exit_code, std::move(run.log)};
}

class ModelsPull : public ::testing::Test {
protected:
    void SetUp() override {
        if (!fs::exists(tiny_model())) GTEST_SKIP() << "the tiny model is missing: run scripts/setup";
        dir = temp_dir() + "/store-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
        fs::remove_all(dir);
        tiny = read_all(tiny_model());
        hub.add("org/repo", "tiny-F32.gguf", tiny);
    }
    CliRun pull(const std::vector<std::string>& args, std::map<std::string, std::string> env = {}) {
        env.emplace("HF_ENDPOINT", hub.url());
        env.emplace("HF_TOKEN", "");
        std::vector<std::string> all{"pull"};
        all.insert(all.end(), args.begin(), args.end());
        all.insert(all.end(), {"--models-dir", dir});
        return cli(all, env);
    }
    std::string dir;
    std::string tiny;
    Hub hub;
};

TEST_F(ModelsPull, HfFileThroughARedirectIsVerifiedAndListed) {
    const CliRun run = pull({"hf:org/repo/tiny-F32.gguf"});
    ASSERT_EQ(run.status, 0) << run.output;
    EXPECT_NE(run.output.find("sha256 verified"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("pulled tiny-F32"), std::string::npos) << run.output;
    EXPECT_EQ(read_all(dir + "/tiny-F32.gguf"), tiny);
    EXPECT_FALSE(fs::exists(dir + "/tiny-F32.gguf.partial"));
    const auto requests = hub.requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[0], "hub /org/repo/resolve/main/tiny-F32.gguf range= auth=no");
    EXPECT_EQ(requests[1], "cdn /cdn/org/repo/tiny-F32.gguf range= auth=no");

    const CliRun list = cli({"list", "--models-dir", dir});
    ASSERT_EQ(list.status, 0) << list.output;
    EXPECT_NE(list.output.find("NAME"), std::string::npos) << list.output;
    EXPECT_TRUE(std::regex_search(list.output, std::regex(R"(tiny-F32 +0\.7 MiB +llama +184\.5K +F32 +512 +-)"))) << list.output;
    const CliRun show = cli({"show", "tiny-F32", "--models-dir", dir});
    ASSERT_EQ(show.status, 0) << show.output;
    EXPECT_NE(show.output.find("chat template   present"), std::string::npos) << show.output;
    EXPECT_NE(show.output.find("tensors         21"), std::string::npos) << show.output;
    EXPECT_NE(show.output.find("tokenizer.ggml.tokens = [string x 863:"), std::string::npos) << show.output;
    // Pulled again: already there.
    const CliRun again = pull({"hf:org/repo/tiny-F32.gguf"});
    EXPECT_EQ(again.status, 1);
    EXPECT_NE(again.output.find("already in the store"), std::string::npos) << again.output;
}

TEST_F(ModelsPull, ChoosesByQuantizationAndFetchesEverySplitPart) {
    hub.add("org/repo", "tiny-Q8_0.gguf", tiny);
    // Two parts of a "split model" (each a whole GGUF, as gguf-split writes them).
    const std::string moe = read_all(tiny_llama4_model());
    hub.add("org/repo", "big-Q4_0-00001-of-00002.gguf", tiny);
    hub.add("org/repo", "big-Q4_0-00002-of-00002.gguf", moe);
    CliRun run = pull({"hf:org/repo:q8_0", "--as", "eight"});
    ASSERT_EQ(run.status, 0) << run.output;
    EXPECT_EQ(read_all(dir + "/eight.gguf"), tiny);
    run = pull({"hf:org/repo:Q4_0"});
    ASSERT_EQ(run.status, 0) << run.output;
    EXPECT_EQ(read_all(dir + "/repo-Q4_0-00001-of-00002.gguf"), tiny) << run.output;
    EXPECT_EQ(read_all(dir + "/repo-Q4_0-00002-of-00002.gguf"), moe);
    const CliRun list = cli({"list", "--models-dir", dir, "--json"});
    EXPECT_NE(list.output.find(R"("name":"repo-Q4_0","path":")" + dir + R"(/repo-Q4_0-00001-of-00002.gguf","files":2)"),
              std::string::npos)
        << list.output;
    // show reads every part: the tensors of both files, the metadata of the first.
    const CliRun one = cli({"show", "eight", "--models-dir", dir, "--json"});
    const CliRun split = cli({"show", "repo-Q4_0", "--models-dir", dir, "--json"});
    ASSERT_EQ(split.status, 0) << split.output;
    const auto number = [](const std::string& json, const std::string& field) {
        const auto at = json.find("\"" + field + "\":");
        return at == std::string::npos ? -1L : std::stol(json.substr(at + field.size() + 3));
    };
    const long moe_tensors = number(cli({"show", tiny_llama4_model(), "--json"}).output, "tensors");
    EXPECT_EQ(number(split.output, "files"), 2) << split.output;
    EXPECT_EQ(number(split.output, "tensors"), number(one.output, "tensors") + moe_tensors) << split.output;
    EXPECT_GT(number(split.output, "parameters"), number(one.output, "parameters")) << split.output;
    const CliRun text = cli({"show", "repo-Q4_0", "--models-dir", dir});
    EXPECT_NE(text.output.find("(part 1 of 2)"), std::string::npos) << text.output;
    run = pull({"hf:org/repo:Q5_K_M"});
    EXPECT_EQ(run.status, 1);
    EXPECT_NE(run.output.find("no .gguf file is tagged Q5_K_M; the repository has: big-Q4_0-00001-of-00002.gguf"),
              std::string::npos)
        << run.output;
    run = pull({"hf:org/missing:Q4_0"});
    EXPECT_EQ(run.status, 1);
    EXPECT_NE(run.output.find("no repository org/missing"), std::string::npos) << run.output;
}

TEST_F(ModelsPull, ACutConnectionKeepsThePartialAndTheNextPullResumes) {
    hub.cut_next = true;
    CliRun run = pull({"hf:org/repo/tiny-F32.gguf", "--as", "tiny"});
    EXPECT_EQ(run.status, 1) << run.output;
    EXPECT_NE(run.output.find("cut"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("run the same pull again to resume"), std::string::npos) << run.output;
    EXPECT_FALSE(fs::exists(dir + "/tiny.gguf"));
    ASSERT_TRUE(fs::exists(dir + "/tiny.gguf.partial"));
    const auto kept = fs::file_size(dir + "/tiny.gguf.partial");
    EXPECT_GT(kept, 0u);
    EXPECT_LT(kept, tiny.size());
    const CliRun list = cli({"list", "--models-dir", dir});
    EXPECT_NE(list.output.find("no models in"), std::string::npos) << list.output;  // a partial is not a model

    run = pull({"hf:org/repo/tiny-F32.gguf", "--as", "tiny"});
    ASSERT_EQ(run.status, 0) << run.output;
    EXPECT_NE(run.output.find("resuming at " + std::to_string(kept) + " bytes"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("sha256 verified"), std::string::npos) << run.output;
    EXPECT_EQ(read_all(dir + "/tiny.gguf"), tiny);
    const auto requests = hub.requests();
    EXPECT_EQ(requests.back(), "cdn /cdn/org/repo/tiny-F32.gguf range=bytes=" + std::to_string(kept) + "- auth=no");
}

TEST_F(ModelsPull, AServerThatIgnoresRangesRestartsCleanly) {
    fs::create_directories(dir);
    std::ofstream(dir + "/tiny.gguf.partial", std::ios::binary) << tiny.substr(0, 1000);
    hub.ignore_ranges = true;
    const CliRun run = pull({"hf:org/repo/tiny-F32.gguf", "--as", "tiny"});
    ASSERT_EQ(run.status, 0) << run.output;
    EXPECT_EQ(read_all(dir + "/tiny.gguf"), tiny);
    EXPECT_EQ(hub.requests().back(), "cdn /cdn/org/repo/tiny-F32.gguf range=bytes=1000- auth=no");
}

TEST_F(ModelsPull, AWrongChecksumDeletesThePartial) {
    hub.lie_about_sha("org/repo/tiny-F32.gguf");
    const CliRun run = pull({"hf:org/repo/tiny-F32.gguf", "--as", "tiny"});
    EXPECT_EQ(run.status, 1);
    EXPECT_NE(run.output.find("checksum mismatch: the source publishes sha256 " + std::string(64, 'a')), std::string::npos)
        << run.output;
    EXPECT_NE(run.output.find("the partial file was deleted"), std::string::npos);
    EXPECT_FALSE(fs::exists(dir + "/tiny.gguf.partial"));
    EXPECT_FALSE(fs::exists(dir + "/tiny.gguf"));
}

TEST_F(ModelsPull, AGatedFileNeedsHfTokenWhichStaysWithTheHub) {
    hub.add("org/gated", "tiny-F32.gguf", tiny, true);
    CliRun run = pull({"hf:org/gated/tiny-F32.gguf"});
    EXPECT_EQ(run.status, 1);
    EXPECT_NE(run.output.find("answered 401: the file is gated or private; set HF_TOKEN"), std::string::npos) << run.output;
    EXPECT_FALSE(fs::exists(dir + "/tiny-F32.gguf.partial"));
    run = pull({"hf:org/gated/tiny-F32.gguf"}, {{"HF_TOKEN", "hf-secret-token"}});
    ASSERT_EQ(run.status, 0) << run.output;
    EXPECT_EQ(run.output.find("hf-secret-token"), std::string::npos) << run.output;  // never printed
    const auto requests = hub.requests();
    EXPECT_EQ(requests[requests.size() - 2], "hub /org/gated/resolve/main/tiny-F32.gguf range= auth=yes");
    EXPECT_EQ(requests.back(), "cdn /cdn/org/gated/tiny-F32.gguf range= auth=no");  // not sent to the CDN
    run = pull({"hf:org/repo/nothing.gguf"});
    EXPECT_EQ(run.status, 1);
    EXPECT_NE(run.output.find("answered 404: no such file"), std::string::npos) << run.output;
    run = pull({"https://127.0.0.1:1/x.gguf"});
    EXPECT_EQ(run.status, 1);
    EXPECT_NE(run.output.find("cannot reach https://127.0.0.1:1"), std::string::npos) << run.output;
}

// --- The store and the engines that use it --------------------------------------------------------

TEST(ModelsStore, RmIsRefusedWhileAnEngineUsesTheModel) {
    if (!fs::exists(tiny_model())) GTEST_SKIP() << "the tiny model is missing: run scripts/setup";
    const std::string dir = temp_dir() + "/store-rm";
    fs::create_directories(dir);
    fs::copy_file(tiny_model(), dir + "/tiny.gguf", fs::copy_options::overwrite_existing);
    fs::copy_file(tiny_model(), dir + "/spare.gguf", fs::copy_options::overwrite_existing);
    const std::string config = write_file("rm.yaml", R"(
listeners: [{address: 127.0.0.1, port: 0}]
models_dir: )" + dir + R"(
engines:
  - name: local
    command: [llama-server, -m, "${MODEL}", --port, "${PORT}"]
    model: tiny
models:
  - name: local
    deployments: [{engine: local}]
)");
    CliRun run = cli({"list", "-c", config});
    ASSERT_EQ(run.status, 0) << run.output;
    EXPECT_TRUE(std::regex_search(run.output, std::regex(R"(tiny +0\.7 MiB +llama .* local\n)"))) << run.output;
    EXPECT_TRUE(std::regex_search(run.output, std::regex(R"(spare +0\.7 MiB +llama .* -\n)"))) << run.output;
    run = cli({"rm", "tiny", "-c", config});
    EXPECT_EQ(run.status, 1);
    EXPECT_NE(run.output.find("tiny is used by engine local"), std::string::npos) << run.output;
    EXPECT_TRUE(fs::exists(dir + "/tiny.gguf"));
    run = cli({"rm", "spare", "-c", config});
    EXPECT_EQ(run.status, 0) << run.output;
    EXPECT_FALSE(fs::exists(dir + "/spare.gguf"));
    run = cli({"rm", "tiny", "-c", config, "--force"});
    EXPECT_EQ(run.status, 0) << run.output;
    EXPECT_FALSE(fs::exists(dir + "/tiny.gguf"));
    run = cli({"rm", "tiny", "-c", config});
    EXPECT_EQ(run.status, 1);
    EXPECT_NE(run.output.find("no model 'tiny'"), std::string::npos) << run.output;
}

// --- The estimate against llama-server's own numbers ----------------------------------------------

// The MiB figure after `label` on a line of llama-server's log that holds `label` (summed over
// every such line: one KV buffer a cache, several with sliding-window layers).
double log_mib(const std::string& whole_log, const std::string& label) {
    // llama-server first sizes everything in a dry run (to fit the memory) and prints it; the
    // buffers it then allocates are printed after its model buffer.
    const auto real = whole_log.rfind("CPU_Mapped model buffer size");
    const std::string log = real == std::string::npos ? whole_log : whole_log.substr(real);
    double sum = 0;
    std::istringstream lines(log);
    std::string line;
    const std::regex number(label + R"( += +([0-9.]+) MiB)");
    while (std::getline(lines, line)) {
        std::smatch m;
        if (std::regex_search(line, m, number)) sum += std::stod(m[1]);
    }
    return sum;
}

// llama-server prints its buffers in MiB with two decimals: the weights (its model buffer) and the
// KV cache are estimated to that rounding; the compute buffer, which llama.cpp sizes from its graph,
// within 1.5 MiB on these tiny models: the larger of the logits, 4 bytes x ubatch x (vocabulary +
// embedding), and the attention's masks (and scores, flash attention off) at long contexts. On real
// models the logits dominate short contexts: 258.5 MiB for Llama 3 8B, as the estimate gives.
TEST(ModelsEstimate, MatchesLlamaServersBufferSizes) {
    if (!fs::exists(llama_server_binary()) || !fs::exists(tiny_model())) GTEST_SKIP() << "run scripts/setup";
    struct Case {
        std::string model;
        std::vector<std::string> args;
    };
    // The llama4 model's chunked attention (8192 tokens on 3 of its 4 layers) keeps the window only
    // once the context is longer: 8704 cells for one slot; 33280 with llama-server's automatic 4
    // slots and unified cache. At long contexts the attention's mask (and, with flash attention
    // off, its scores) outgrow the logits in the compute buffer.
    const std::vector<Case> cases{{tiny_model(), {"-c", "256", "-np", "1"}},
                                  {tiny_model(), {"-c", "2048", "-np", "4"}},
                                  {tiny_model(), {"-c", "32768", "-np", "1"}},
                                  {tiny_llama4_model(), {"-c", "512", "-np", "1", "-ub", "128"}},
                                  {tiny_llama4_model(), {"-c", "1024", "-np", "2"}},
                                  {tiny_llama4_model(), {"-c", "65536", "-np", "1"}},
                                  {tiny_llama4_model(), {"-c", "40960", "-ub", "512"}},
                                  {tiny_llama4_model(), {"-c", "65536", "-np", "1", "-fa", "off"}}};
    for (const auto& c : cases) {
        std::vector<std::string> argv{llama_server_binary(), "-m", c.model, "--host", "127.0.0.1", "--port",
                                      std::to_string(free_port()), "-t", "1", "--no-webui", "-v"};
        argv.insert(argv.end(), c.args.begin(), c.args.end());
        Process server("llama-estimate", argv);
        // Its real buffers: the compute buffer printed after the mapped model buffer (a dry run
        // prints them all first).
        std::string log;
        const auto allocated = [&log] {
            const auto model = log.rfind("CPU_Mapped model buffer size");
            return model != std::string::npos && log.find("compute buffer size", model) != std::string::npos;
        };
        for (int i = 0; i < 600 && !allocated(); ++i) {
            std::this_thread::sleep_for(50ms);
            log = server.log();
        }
        ASSERT_TRUE(allocated()) << log;
        const auto parsed = models::read_file(c.model);
        ASSERT_TRUE(parsed.gguf) << parsed.error;
        std::vector<std::string> command{"llama-server"};
        command.insert(command.end(), c.args.begin(), c.args.end());
        const models::Estimate e = models::estimate(models::describe(*parsed.gguf), models::read_shape(command));
        const double mib = 1 << 20;
        std::string what = c.model;
        for (const auto& arg : c.args) what += " " + arg;
        EXPECT_NEAR(static_cast<double>(e.weights) / mib, log_mib(log, "CPU_Mapped model buffer size"), 0.006) << what;
        EXPECT_NEAR(static_cast<double>(e.kv) / mib, log_mib(log, "CPU KV buffer size"), 0.011) << what;
        const double compute = log_mib(log, "CPU compute buffer size");
        EXPECT_GT(compute, 0) << what;
        EXPECT_NEAR(static_cast<double>(e.compute) / mib, compute, 1.5) << what;
        std::cout << what << ": weights " << e.weights / mib << " MiB, KV " << e.kv / mib << " (log "
                  << log_mib(log, "CPU KV buffer size") << "), compute " << e.compute / mib << " (log " << compute << ")\n";
        server.stop(SIGTERM, 5s);
    }
}

// --- Placement by memory in the gateway ------------------------------------------------------------

const std::map<std::string, std::string> kEnv{{"MASTER_KEY", "master-secret-0001"}, {"CALLER_KEY", "sk-caller-00000001"}};
const std::map<std::string, std::string> kCaller{{"authorization", "Bearer sk-caller-00000001"}};
const std::map<std::string, std::string> kMaster{{"authorization", "Bearer master-secret-0001"}};

std::string engine(const std::string& name, const std::string& ctx, const std::string& model = "tiny") {
    return "  - name: " + name + R"(
    command: [")" + llama_server_binary() + R"(", -m, "${MODEL}", --host, 127.0.0.1, --port, "${PORT}", -c, ")" + ctx +
           R"(", -np, "1", -t, "1", --no-webui]
    model: )" + model + R"(
    load_timeout: 60s
    drain_timeout: 5s
    stop_grace: 3s
)";
}

// Two engines of about 18.6 MiB each (estimated) under a host budget of 30 MiB: the second stops the
// first, least recently used; a third at a context that could never fit is refused with the
// numbers, and its model's requests go to the cloud tier meanwhile.
TEST(ModelsPlacement, ByMemoryUnderAHostBudget) {
    if (!fs::exists(llama_server_binary()) || !fs::exists(tiny_model())) GTEST_SKIP() << "run scripts/setup";
    const std::string dir = temp_dir() + "/store-placement";
    fs::create_directories(dir);
    fs::copy_file(tiny_model(), dir + "/tiny.gguf", fs::copy_options::overwrite_existing);
    auto sim = start_sim();
    auto gateway = start_gateway(R"(
listeners: [{address: 127.0.0.1, port: 0}]
server: {io_threads: 2, shutdown_grace: 5s}
auth:
  master_key: ${MASTER_KEY}
keys:
  - {name: caller, key: "${CALLER_KEY}"}
models_dir: )" + dir + R"(
host_memory: 30MiB
upstreams:
  - {name: cloud, base_url: ")" + sim.url() + R"("}
engines:
)" + engine("one", "512") + engine("two", "512") + engine("huge", "4194304") + R"(
models:
  - name: one
    deployments: [{engine: one}]
  - name: two
    deployments: [{engine: two}]
  - name: huge
    deployments: [{engine: huge}, {upstream: cloud, model: gpt-4o-mini, tier: 2}]
  - name: huge-only
    deployments: [{engine: huge}]
)",
                                 kEnv);
    auto ask = [&](const std::string& model) {
        return post(gateway.port, "/v1/chat/completions", chat_body(model, false, R"("max_tokens":4)"), kCaller);
    };
    auto engines = [&] { return request(gateway.port, "GET", "/admin/engines", "", kMaster).body; };
    auto r = ask("one");
    ASSERT_EQ(r.status, 200) << r.body;
    r = ask("two");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-upstream"), "two");
    std::string json = engines();
    EXPECT_NE(json.find(R"("name":"one","state":"stopped","detail":"making room by memory for engine 'two' (needs )"),
              std::string::npos)
        << json;
    EXPECT_NE(json.find(R"("name":"two","state":"ready")"), std::string::npos) << json;
    // The estimate and, once ready and measured, its error.
    const std::regex measured(R"re("name":"two".*"estimate_bytes":[0-9]{8},"estimate_error":-?[0-9]\.[0-9]{4})re");
    for (int i = 0; i < 40 && !std::regex_search(json, measured); ++i) {
        std::this_thread::sleep_for(100ms);
        json = engines();
    }
    EXPECT_TRUE(std::regex_search(json, measured)) << json;
    const std::string metrics = request(gateway.port, "GET", "/metrics", "", kMaster).body;
    EXPECT_NE(metrics.find("switchyard_engine_memory_estimate_bytes{engine=\"two\"}"), std::string::npos);
    EXPECT_NE(metrics.find("switchyard_engine_memory_estimate_error_ratio{engine=\"two\"}"), std::string::npos);
    Process ps("ps", {gateway_binary(), "ps", "--url", "http://127.0.0.1:" + std::to_string(gateway.port), "--key-env", "MASTER_KEY"},
               kEnv);
    ASSERT_EQ(ps.stop(0, 10s), std::optional<int>(0)) << ps.log();
    EXPECT_TRUE(std::regex_search(ps.log(), std::regex(R"(two +ready .* [0-9.]+MiB \([+-][0-9]+%\))"))) << ps.log();
    std::cout << ps.log();  // the estimate's error against the engine's RSS, for docs/engines.md

    // Never fits: the cloud tier answers; alone, the caller gets the numbers.
    r = ask("huge");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-upstream"), "cloud");
    r = ask("huge-only");
    EXPECT_EQ(r.status, 503) << r.body;
    std::cout << r.body << "\n";
    // (4 GiB of it the attention mask of a 512-token batch over 4 million cells)
    EXPECT_NE(r.body.find("does not fit: needs 5.0 GiB at ctx 4194304 x 1 slot (weights 0.7 MiB, KV cache 1.0 GiB, "
                          "compute and overhead 4.0 GiB)"),
              std::string::npos)
        << r.body;
    EXPECT_NE(r.body.find("the host budget (host_memory) has 30.0 MiB; try ctx 8192 or a smaller quantization than F32"),
              std::string::npos)
        << r.body;
    json = engines();
    EXPECT_NE(json.find(R"("name":"two","state":"ready")"), std::string::npos) << json;  // untouched
}


// An engine whose model is missing from the store pulls it (`pull:`) before its first start: the
// first request waits while the file comes from the hub and the engine loads, then is answered;
// the file is in the store, whole and verified, and a second start does not fetch it again. A
// source that cannot be fetched fails the engine with the pull's own words, which the caller gets
// (and the cloud tier answers where there is one).
TEST_F(ModelsPull, AnEngineWithAMissingModelPullsItBeforeItsFirstStart) {
    if (!fs::exists(llama_server_binary())) GTEST_SKIP() << "run scripts/setup";
    auto sim = start_sim();
    const std::string yaml = R"(
listeners: [{address: 127.0.0.1, port: 0}]
server: {io_threads: 2, shutdown_grace: 5s}
auth:
  master_key: ${MASTER_KEY}
keys:
  - {name: caller, key: "${CALLER_KEY}"}
models_dir: )" + dir + R"(
upstreams:
  - {name: cloud, base_url: ")" + sim.url() + R"("}
engines:
)" + engine("local", "512") + "    pull: hf:org/repo/tiny-F32.gguf\n" +
                             engine("gone", "512", "gone") + "    pull: hf:org/repo/missing-Q4_K_M.gguf\n" + R"(
models:
  - name: local
    deployments: [{engine: local}]
  - name: gone-only
    deployments: [{engine: gone}]
  - name: gone
    deployments: [{engine: gone}, {upstream: cloud, model: gpt-4o-mini, tier: 2}]
)";
    auto env = kEnv;
    env["HF_ENDPOINT"] = hub.url();
    auto gateway = start_gateway(yaml, env);
    auto ask = [&](const std::string& model) {
        return post(gateway.port, "/v1/chat/completions", chat_body(model, false, R"("max_tokens":4)"), kCaller);
    };

    auto r = ask("local");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-upstream"), "local");
    ASSERT_TRUE(fs::exists(dir + "/tiny.gguf"));
    EXPECT_EQ(read_all(dir + "/tiny.gguf"), tiny);
    EXPECT_FALSE(fs::exists(dir + "/tiny.gguf.partial"));
    const auto fetched = [&] {
        std::size_t n = 0;
        for (const auto& line : hub.requests()) n += line.starts_with("cdn /cdn/org/repo/tiny-F32.gguf") ? 1 : 0;
        return n;
    };
    EXPECT_EQ(fetched(), 1u);
    std::string json = request(gateway.port, "GET", "/admin/engines", "", kMaster).body;
    EXPECT_NE(json.find(R"("name":"local","state":"ready")"), std::string::npos) << json;

    // Restarted through the admin API: the model is there, nothing is fetched again.
    const std::regex pid_of_local(R"re("name":"local","state":"ready"[^}]*"pid":([0-9]+))re");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(json, m, pid_of_local)) << json;
    const std::string first_pid = m[1];
    ASSERT_EQ(request(gateway.port, "POST", "/admin/engines/local/restart", "", kMaster).status, 202);
    for (int i = 0; i < 100; ++i) {
        json = request(gateway.port, "GET", "/admin/engines", "", kMaster).body;
        if (std::regex_search(json, m, pid_of_local) && m[1] != first_pid) break;
        std::this_thread::sleep_for(100ms);
    }
    ASSERT_TRUE(std::regex_search(json, m, pid_of_local) && m[1] != first_pid) << json;
    r = ask("local");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(fetched(), 1u);

    // A source the hub does not have: the cloud tier answers meanwhile; alone, the caller hears why.
    r = ask("gone");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-switchyard-upstream"), "cloud");
    r = ask("gone-only");
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_NE(r.body.find("engine 'gone' failed: pulling hf:org/repo/missing-Q4_K_M.gguf failed: "), std::string::npos)
        << r.body;
    EXPECT_NE(r.body.find("answered 404: no such file"), std::string::npos) << r.body;
    EXPECT_FALSE(fs::exists(dir + "/gone.gguf"));
    EXPECT_FALSE(fs::exists(dir + "/gone.gguf.partial"));
}

}  // namespace
}  // namespace switchyard::testing
