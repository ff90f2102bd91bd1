#include "harness.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace switchyard::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "switchyard-test-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path = pattern;
    }
    ~TempDir() {
        if (std::getenv("SWITCHYARD_KEEP_TEST_FILES") == nullptr) {
            std::error_code ignored;
            std::filesystem::remove_all(path, ignored);
        }
    }
};

int counter = 0;

}  // namespace

std::string temp_dir() {
    static TempDir dir;
    return dir.path;
}

std::string write_file(const std::string& name, const std::string& text) {
    const std::string path = temp_dir() + "/" + name;
    std::ofstream(path) << text;
    return path;
}

Process::Process(std::string name, std::vector<std::string> argv, std::map<std::string, std::string> env,
                 const std::string& user)
    : name_(std::move(name)) {
    // Looked up before fork: getpwnam is not safe in the child of a threaded process.
    std::optional<std::pair<uid_t, gid_t>> ids;
    if (!user.empty()) {
        const passwd* entry = ::getpwnam(user.c_str());
        if (entry == nullptr) throw std::runtime_error("no user '" + user + "' to run " + name_ + " as");
        ids.emplace(entry->pw_uid, entry->pw_gid);
    }
    log_path_ = temp_dir() + "/" + name_ + "-" + std::to_string(++counter) + ".log";
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string entry(*e);
        const auto eq = entry.find('=');
        if (eq != std::string::npos && env.contains(entry.substr(0, eq))) continue;
        environment.push_back(entry);
    }
    for (const auto& [key, value] : env) environment.push_back(key + "=" + value);
    std::vector<char*> args;
    for (auto& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& entry : environment) envp.push_back(entry.data());
    envp.push_back(nullptr);

    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
        if (::getppid() != parent) ::_exit(127);
        const int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        if (ids) {
            const gid_t gid = ids->second;
            if (::setgroups(1, &gid) != 0 || ::setgid(gid) != 0 || ::setuid(ids->first) != 0 || ::chdir("/") != 0) {
                ::_exit(126);
            }
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a change of user clears it
            if (::getppid() != parent) ::_exit(127);
        }
        ::execve(args[0], args.data(), envp.data());
        ::_exit(127);
    }
}

Process::~Process() {
    if (running()) stop(SIGTERM, std::chrono::seconds(5));
    if (running()) stop(SIGKILL, std::chrono::seconds(5));
    // A sanitizer build of the gateway (SWITCHYARD_GATEWAY_BIN) reports into its log.
    const std::string text = log();
    for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"}) {
        if (text.find(marker) != std::string::npos) {
            ADD_FAILURE() << name_ << " reported a sanitizer error:\n" << text;
            break;
        }
    }
}

bool Process::running() {
    if (status_ || pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        status_ = status;
        return false;
    }
    return true;
}

std::optional<int> Process::stop(int signal, std::chrono::milliseconds timeout) {
    if (running()) ::kill(pid_, signal);
    const auto deadline = Clock::now() + timeout;
    while (running() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!status_) return std::nullopt;
    return WIFEXITED(*status_) ? WEXITSTATUS(*status_) : 128 + WTERMSIG(*status_);
}

std::string Process::log() const {
    std::ifstream in(log_path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

int wait_for_port(const std::string& ready_file, Process& process, std::chrono::milliseconds timeout,
                  std::chrono::milliseconds poll) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        std::ifstream in(ready_file);
        int port = 0;
        if (in >> port && port > 0) return port;
        if (!process.running()) throw std::runtime_error("process exited before it was ready:\n" + process.log());
        if (poll.count() > 0) std::this_thread::sleep_for(poll);
    }
    throw std::runtime_error("process not ready in time:\n" + process.log());
}

// SWITCHYARD_GATEWAY_BIN runs the suite against another build of the gateway (an ASan one, say).
std::string gateway_binary() {
    const char* other = std::getenv("SWITCHYARD_GATEWAY_BIN");
    return other != nullptr && *other != '\0' ? other : SWITCHYARD_BIN;
}

CommandRun run_command(const std::string& name, const std::vector<std::string>& args, const std::string& out_path,
                       std::map<std::string, std::string> env, std::chrono::seconds timeout) {
    std::vector<std::string> argv{gateway_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    Process process(name, argv, std::move(env));
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (process.running() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CommandRun run;
    const auto status = process.stop(SIGKILL);
    run.exit_code = status ? *status : -1;
    run.log = process.log();
    if (!out_path.empty()) {
        std::ifstream in(out_path);
        std::stringstream text;
        text << in.rdbuf();
        run.file = text.str();
    }
    return run;
}
std::string sim_binary() { return SWITCHYARD_SIM_BIN; }

Sim start_sim(const std::vector<std::string>& args) {
    Sim sim;
    const std::string ready = temp_dir() + "/sim-ready-" + std::to_string(++counter);
    std::vector<std::string> argv{sim_binary(), "--ready-file", ready};
    // A port given in `args` (to restart a simulator where it was) wins over the OS's choice.
    if (std::find(args.begin(), args.end(), "--port") == args.end()) argv.insert(argv.end(), {"--port", "0"});
    argv.insert(argv.end(), args.begin(), args.end());
    sim.process = std::make_unique<Process>("sim", argv);
    sim.port = wait_for_port(ready, *sim.process);
    return sim;
}

Gateway start_gateway(const std::string& yaml, std::map<std::string, std::string> env,
                      std::vector<std::string> prefix) {
    Gateway gateway;
    const std::string config = write_file("gateway-" + std::to_string(++counter) + ".yaml", yaml);
    const std::string ready = temp_dir() + "/gateway-ready-" + std::to_string(counter);
    for (const std::string& arg : {gateway_binary(), std::string("serve"), std::string("--config"), config,
                                   std::string("--ready-file"), ready}) {
        prefix.push_back(arg);
    }
    gateway.process = std::make_unique<Process>("gateway", std::move(prefix), std::move(env));
    gateway.port = wait_for_port(ready, *gateway.process);
    gateway.config_path = config;
    return gateway;
}

std::string Response::header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
}

namespace {

template <typename Message>
std::map<std::string, std::string> lower_headers(const Message& message) {
    std::map<std::string, std::string> out;
    for (const auto& field : message) {
        std::string name(field.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out[name] = std::string(field.value());
    }
    return out;
}

http::request<http::string_body> make_request(const std::string& method, const std::string& target,
                                              const std::string& body,
                                              const std::map<std::string, std::string>& headers) {
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::connection, "close");
    if (!body.empty() || method == "POST") {
        req.set(http::field::content_type, "application/json");
        req.body() = body;
        req.prepare_payload();
    }
    for (const auto& [name, value] : headers) req.set(name, value);
    return req;
}

}  // namespace

Response request(int port, const std::string& method, const std::string& target, const std::string& body,
                 const std::map<std::string, std::string>& headers) {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    http::write(stream, make_request(method, target, body, headers));
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    beast::error_code ec;
    http::read(stream, buffer, parser, ec);
    Response out;
    if (ec && !parser.is_header_done()) throw std::runtime_error("no response: " + ec.message());
    out.status = static_cast<int>(parser.get().result_int());
    out.headers = lower_headers(parser.get());
    out.body = parser.get().body();
    return out;
}

std::string StreamedResponse::body() const {
    std::string out;
    for (const auto& piece : pieces) out += piece.second;
    return out;
}

StreamedResponse post_streaming(int port, const std::string& target, const std::string& body,
                                const std::map<std::string, std::string>& headers) {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    const auto start = Clock::now();
    http::write(stream, make_request("POST", target, body, headers));
    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    http::read_header(stream, buffer, parser);
    StreamedResponse out;
    out.status = static_cast<int>(parser.get().result_int());
    out.headers = lower_headers(parser.get());
    char data[8192];
    while (!parser.is_done()) {
        parser.get().body().data = data;
        parser.get().body().size = sizeof data;
        beast::error_code ec;
        http::read_some(stream, buffer, parser, ec);
        const std::size_t got = sizeof data - parser.get().body().size;
        if (got > 0) {
            out.pieces.emplace_back(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start),
                                    std::string(data, got));
        }
        if (ec == http::error::need_buffer) continue;
        if (ec) break;
    }
    return out;
}

std::string raw_exchange(int port, const std::string& bytes, std::chrono::milliseconds timeout) {
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    boost::system::error_code ec;
    if (!bytes.empty()) asio::write(socket, asio::buffer(bytes), ec);
    // Plain poll/recv: Asio's blocking reads would ignore a receive timeout.
    const int fd = socket.native_handle();
    const auto deadline = Clock::now() + timeout;
    std::string out;
    char data[4096];
    while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) break;
        pollfd pfd{fd, POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) break;
        const auto n = ::recv(fd, data, sizeof data, 0);
        if (n <= 0) break;
        out.append(data, static_cast<std::size_t>(n));
    }
    return out;
}

ScriptedUpstream::ScriptedUpstream(std::string response) : response_(std::move(response)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 16) != 0 || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        throw std::runtime_error("scripted upstream: cannot listen on loopback");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
}

ScriptedUpstream::~ScriptedUpstream() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
}

void ScriptedUpstream::serve() {
    while (!stop_) {
        pollfd listening{listener_, POLLIN, 0};
        if (::poll(&listening, 1, 50) <= 0) continue;
        const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        // The head, then as many body bytes as its Content-Length says.
        std::string in;
        std::size_t wanted = std::string::npos;
        char data[4096];
        const auto deadline = Clock::now() + std::chrono::seconds(5);
        while (!stop_ && Clock::now() < deadline && (wanted == std::string::npos || in.size() < wanted)) {
            pollfd readable{fd, POLLIN, 0};
            if (::poll(&readable, 1, 50) <= 0) continue;
            const auto n = ::recv(fd, data, sizeof data, 0);
            if (n <= 0) break;
            in.append(data, static_cast<std::size_t>(n));
            const auto head_end = in.find("\r\n\r\n");
            if (wanted == std::string::npos && head_end != std::string::npos) {
                std::string head = in.substr(0, head_end);
                std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return std::tolower(c); });
                const auto at = head.find("\r\ncontent-length:");
                wanted = head_end + 4 + (at == std::string::npos ? 0 : std::strtoul(head.c_str() + at + 17, nullptr, 10));
            }
        }
        if (wanted != std::string::npos && in.size() >= wanted) {
            std::size_t sent = 0;
            while (sent < response_.size()) {
                const auto n = ::send(fd, response_.data() + sent, response_.size() - sent, MSG_NOSIGNAL);
                if (n <= 0) break;
                sent += static_cast<std::size_t>(n);
            }
            ++answered_;
        }
        ::close(fd);
    }
}

std::string sim_stats(const Sim& sim) { return request(sim.port, "GET", "/sim/stats").body; }

long stat_number(const std::string& stats_json, const std::string& key) {
    const std::string needle = "\"" + key + "\":";
    const auto at = stats_json.find(needle);
    if (at == std::string::npos) return -1;
    return std::strtol(stats_json.c_str() + at + needle.size(), nullptr, 10);
}

std::optional<double> find_metric(const std::string& page, const std::string& prefix) {
    std::size_t at = 0;
    while ((at = page.find(prefix, at)) != std::string::npos) {
        if (at == 0 || page[at - 1] == '\n') {
            const auto end = page.find('\n', at);
            const std::string line = page.substr(at, end - at);
            return std::stod(line.substr(line.rfind(' ') + 1));
        }
        ++at;
    }
    return std::nullopt;
}

double metric(const std::string& page, const std::string& prefix) {
    if (const auto value = find_metric(page, prefix)) return *value;
    ADD_FAILURE() << "no sample " << prefix;
    return -1;
}

std::string chat_body(const std::string& model, bool stream, const std::string& extra) {
    std::string body = R"({"model":")" + model + R"(","messages":[{"role":"user","content":"Say something about trains."}])";
    if (stream) body += R"(,"stream":true)";
    if (!extra.empty()) body += "," + extra;
    body += "}";
    return body;
}

}  // namespace switchyard::testing

namespace switchyard::testing {

int free_port() {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return acceptor.local_endpoint().port();
}

bool wait_until_ok(int port, const std::string& path, Process& process, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        if (!process.running()) return false;
        try {
            if (request(port, "GET", path).status == 200) return true;
        } catch (const std::exception&) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

namespace {
std::string from_env_or(const char* name, const std::string& fallback) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : fallback;
}
}  // namespace

std::string llama_server_binary() {
    return from_env_or("SWITCHYARD_LLAMA_SERVER",
                       std::string(SWITCHYARD_SOURCE_DIR) + "/third_party/llama.cpp/build/bin/llama-server");
}
std::string tiny_model() {
    return from_env_or("SWITCHYARD_TINY_MODEL", std::string(SWITCHYARD_SOURCE_DIR) + "/models/tiny-llama.gguf");
}
std::string tiny_llama4_model() {
    return from_env_or("SWITCHYARD_TINY_LLAMA4_MODEL",
                       std::string(SWITCHYARD_SOURCE_DIR) + "/models/tiny-llama4-moe.gguf");
}

LlamaServer start_llama_server(const std::string& model, int slots) {
    const std::string binary = llama_server_binary();
    if (!std::filesystem::exists(binary) || !std::filesystem::exists(model)) {
        throw std::runtime_error("llama-server or the tiny model is missing (" + binary + ", " + model +
                                 "); run scripts/setup");
    }
    LlamaServer server;
    server.port = free_port();
    server.process = std::make_unique<Process>(
        "llama-server", std::vector<std::string>{binary, "-m", model, "--host", "127.0.0.1", "--port",
                                                 std::to_string(server.port), "-c", "1024", "-np", std::to_string(slots), "-t", "1",
                                                 "--no-webui"});
    if (!wait_until_ok(server.port, "/health", *server.process, std::chrono::seconds(60))) {
        throw std::runtime_error("llama-server did not become healthy:\n" + server.process->log());
    }
    return server;
}


}  // namespace switchyard::testing

namespace switchyard::testing {

namespace {

bool has_server(const std::filesystem::path& dir) {
    return std::filesystem::exists(dir / "initdb") && std::filesystem::exists(dir / "postgres");
}

// Runs a command and returns its first line of output ("" on failure).
std::string first_line_of(const std::string& command) {
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return {};
    char line[4096] = {};
    const bool got = std::fgets(line, sizeof line, pipe) != nullptr;
    ::pclose(pipe);
    std::string out = got ? line : "";
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}

}  // namespace

std::string postgres_bindir() {
    if (const char* dir = std::getenv("SWITCHYARD_PG_BINDIR"); dir != nullptr && *dir != '\0') {
        return has_server(dir) ? dir : "";
    }
    // pg_config comes with libpq-dev, which may be newer than the server: check it has the server.
    if (const std::string dir = first_line_of("pg_config --bindir 2>/dev/null"); !dir.empty() && has_server(dir)) {
        return dir;
    }
    // Debian and Ubuntu: /usr/lib/postgresql/<major>/bin; the newest major wins.
    std::string best;
    int best_major = -1;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
        const std::string name = entry.path().filename().string();
        const int major = std::atoi(name.c_str());
        if (major > best_major && has_server(entry.path() / "bin")) {
            best_major = major;
            best = (entry.path() / "bin").string();
        }
    }
    if (!best.empty()) return best;
    // Elsewhere (Fedora, Homebrew): initdb on PATH.
    if (const std::string initdb = first_line_of("command -v initdb 2>/dev/null"); !initdb.empty()) {
        const auto dir = std::filesystem::path(initdb).parent_path();
        if (has_server(dir)) return dir.string();
    }
    return {};
}

Postgres::Postgres() {
    bindir_ = postgres_bindir();
    if (bindir_.empty()) {
        throw std::runtime_error("PostgreSQL server binaries (initdb, postgres) not found; run scripts/setup or set "
                                 "SWITCHYARD_PG_BINDIR");
    }
    data_dir_ = temp_dir() + "/postgres-" + std::to_string(++counter);
    std::filesystem::create_directory(data_dir_);
    ::chmod(data_dir_.c_str(), 0700);
    if (::geteuid() == 0) {
        // PostgreSQL refuses to run as root. The `postgres` user must reach the data dir through
        // the test's temp dir (0700 from mkdtemp): it may pass through it, not list it.
        user_ = "postgres";
        const passwd* entry = ::getpwnam(user_.c_str());
        if (entry == nullptr) {
            throw std::runtime_error("running as root and there is no 'postgres' user to run PostgreSQL as");
        }
        ::chmod(temp_dir().c_str(), 0711);
        if (::chown(data_dir_.c_str(), entry->pw_uid, entry->pw_gid) != 0) {
            throw std::runtime_error("cannot give " + data_dir_ + " to the postgres user");
        }
    }
    Process initdb("initdb",
                   {bindir_ + "/initdb", "-D", data_dir_, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
                    "--no-sync", "--no-instructions"},
                   {}, user_);
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (initdb.running() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto status = initdb.stop(SIGKILL, std::chrono::seconds(1));
    if (status != 0) throw std::runtime_error("initdb failed:\n" + initdb.log());
    port_ = free_port();
    start();
}

Postgres::~Postgres() { stop(SIGINT); }

void Postgres::start() {
    if (running()) return;
    const std::string conninfo =
        "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=postgres user=postgres connect_timeout=2";
    // After a crash the old server's processes may hold its shared memory for a moment: the new
    // one then exits at once and is tried again.
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (true) {
        process_ = std::make_unique<Process>(
            "postgres",
            std::vector<std::string>{bindir_ + "/postgres", "-D", data_dir_, "-p", std::to_string(port_), "-k",
                                     data_dir_, "-c", "listen_addresses=127.0.0.1",
                                     // fsync off: fast, and a killed server loses nothing (the OS keeps
                                     // what was written); commits stay synchronous for that reason.
                                     "-c", "fsync=off", "-c", "max_connections=40", "-c", "shared_buffers=16MB"},
            std::map<std::string, std::string>{}, user_);
        while (process_->running()) {
            if (PQping(conninfo.c_str()) == PQPING_OK) return;
            if (Clock::now() > deadline) {
                throw std::runtime_error("postgres did not start in time:\n" + process_->log());
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (Clock::now() > deadline) throw std::runtime_error("postgres exited at start:\n" + process_->log());
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

void Postgres::stop(int signal) {
    if (!process_) return;
    process_->stop(signal, std::chrono::seconds(10));
    if (process_->running()) process_->stop(SIGKILL, std::chrono::seconds(5));
}

namespace {

// `pid` and the processes whose parent it is, from /proc.
std::vector<pid_t> with_children(pid_t pid) {
    std::vector<pid_t> out{pid};
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(entry.path() / "stat");
        std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
        const auto close = text.rfind(')');  // the command may hold spaces and parentheses
        if (close == std::string::npos) continue;
        std::istringstream rest(text.substr(close + 2));
        char state = 0;
        pid_t parent = 0;
        rest >> state >> parent;
        if (parent == pid) out.push_back(static_cast<pid_t>(std::stoi(name)));
    }
    return out;
}

}  // namespace

void Postgres::pause() {
    if (!process_) return;
    for (const pid_t pid : with_children(process_->pid())) ::kill(pid, SIGSTOP);
}

void Postgres::resume() {
    if (!process_) return;
    for (const pid_t pid : with_children(process_->pid())) ::kill(pid, SIGCONT);
}

std::string Postgres::url(const std::string& database) const {
    return "postgres://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

void Postgres::exec(const std::string& database, const std::string& sql) {
    PGconn* conn = PQconnectdb(("host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + database +
                                " user=postgres connect_timeout=5")
                                   .c_str());
    PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);  // "does not exist, skipping"
    std::string error;
    if (PQstatus(conn) != CONNECTION_OK) {
        error = PQerrorMessage(conn);
    } else {
        PGresult* result = PQexec(conn, sql.c_str());
        const auto status = PQresultStatus(result);
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) error = PQresultErrorMessage(result);
        PQclear(result);
    }
    PQfinish(conn);
    if (!error.empty()) throw std::runtime_error("postgres: " + sql + ": " + error);
}

void Postgres::create_database(const std::string& name) {
    exec("postgres", "DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)");
    exec("postgres", "CREATE DATABASE \"" + name + "\"");
}

}  // namespace switchyard::testing

namespace switchyard::testing {

namespace {
// A full path (the harness execs without a PATH search): SWITCHYARD_REDIS_SERVER, else redis-server
// found on the PATH; empty when there is none.
std::string redis_server_binary() {
    const std::string named = from_env_or("SWITCHYARD_REDIS_SERVER", "");
    if (!named.empty()) return std::filesystem::exists(named) ? named : "";
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const auto candidate = std::filesystem::path(dir.empty() ? "." : dir) / "redis-server";
        if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
    return "";
}

// Sends one inline command and reads one reply (a bulk string's text, or the first line).
std::optional<std::string> redis_exchange(int port, const std::string& inline_command) {
    try {
        asio::io_context io;
        tcp::socket socket(io);
        socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
        const std::string line = inline_command + "\r\n";
        asio::write(socket, asio::buffer(line));
        std::string reply;
        asio::read_until(socket, asio::dynamic_buffer(reply), "\r\n");
        const auto end = reply.find("\r\n");
        std::string first = reply.substr(0, end);
        if (first.starts_with("$") && first != "$-1") {
            const std::size_t length = std::stoul(first.substr(1));
            while (reply.size() < end + 2 + length + 2) {
                char chunk[4096];
                const std::size_t n = socket.read_some(asio::buffer(chunk));
                reply.append(chunk, n);
            }
            return reply.substr(end + 2, length);
        }
        return first;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}
}  // namespace

bool redis_available() { return !redis_server_binary().empty(); }

RedisServer::RedisServer(std::vector<std::string> args) : port_(free_port()), args_(std::move(args)) { start(); }

RedisServer::~RedisServer() { stop(SIGKILL); }

void RedisServer::start() {
    if (running()) return;
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (true) {
        std::vector<std::string> argv{redis_server_binary(), "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", temp_dir()};
        argv.insert(argv.end(), args_.begin(), args_.end());
        process_ = std::make_unique<Process>("redis", argv);
        while (process_->running()) {
            // With a password, PING is refused (-NOAUTH) but answered: the server is up.
            const auto pong = redis_exchange(port_, "PING");
            if (pong && (*pong == "+PONG" || pong->starts_with("-NOAUTH"))) return;
            if (Clock::now() > deadline) throw std::runtime_error("redis-server did not start in time:\n" + process_->log());
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        // The port may still be held by the killed server's socket for a moment.
        if (Clock::now() > deadline) throw std::runtime_error("redis-server exited at start:\n" + process_->log());
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

void RedisServer::stop(int signal) {
    if (!process_) return;
    if (signal != SIGCONT) ::kill(process_->pid(), SIGCONT);  // a paused server must be able to die
    process_->stop(signal, std::chrono::seconds(10));
    process_.reset();
}

void RedisServer::pause() {
    if (process_) ::kill(process_->pid(), SIGSTOP);
}

void RedisServer::resume() {
    if (process_) ::kill(process_->pid(), SIGCONT);
}

std::string RedisServer::command(const std::string& inline_command) {
    auto reply = redis_exchange(port_, inline_command);
    if (!reply) throw std::runtime_error("redis-server did not answer " + inline_command);
    return *reply;
}

}  // namespace switchyard::testing
