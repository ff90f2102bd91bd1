// Test harness for integration tests: starts the real gateway, simulators and llama-server as
// child processes on loopback ports chosen by the OS, and talks to them over real sockets.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace switchyard::testing {

// A child process, stopped (SIGTERM, then SIGKILL) when the object goes away. With `user`, it runs
// as that user (the tests run as root, and PostgreSQL refuses to).
class Process {
public:
    Process(std::string name, std::vector<std::string> argv, std::map<std::string, std::string> env = {},
            const std::string& user = "");
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }
    bool running();
    // Sends `signal` and waits up to `timeout` for the exit; returns the exit status or nullopt.
    std::optional<int> stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    const std::string& log_path() const { return log_path_; }
    std::string log() const;

private:
    std::string name_;
    std::string log_path_;
    pid_t pid_ = -1;
    std::optional<int> status_;
};

std::string temp_dir();  // one per test process, removed at exit
std::string write_file(const std::string& name, const std::string& text);
// Waits for a ready file written by a child and returns the first port in it, looking every
// `poll` (zero: at once again, to act the moment the file appears).
int wait_for_port(const std::string& ready_file, Process& process,
                  std::chrono::milliseconds timeout = std::chrono::seconds(20),
                  std::chrono::milliseconds poll = std::chrono::milliseconds(10));

std::string gateway_binary();
std::string sim_binary();

// A `switchyard` command (`args` after the binary) run to its end, killed after `timeout`: its exit
// code (-1 when killed), what it printed (stdout and stderr), and the file `out_path` it was told
// to write (empty: none).
struct CommandRun {
    int exit_code = -1;
    std::string log;
    std::string file;
};
CommandRun run_command(const std::string& name, const std::vector<std::string>& args, const std::string& out_path = {},
                       std::map<std::string, std::string> env = {},
                       std::chrono::seconds timeout = std::chrono::seconds(60));

struct Sim {
    std::unique_ptr<Process> process;
    int port = 0;
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};
Sim start_sim(const std::vector<std::string>& args = {});

struct Gateway {
    std::unique_ptr<Process> process;
    int port = 0;
    std::string config_path;  // the file it was started on (rewrite it, then reload)
};
// Starts `switchyard serve` on `yaml`, in which "${PORT}" and the like stay as written.
// `prefix`: a command that runs the gateway (e.g. {"/usr/bin/prlimit", "--nofile=128"}: execve takes no PATH).
Gateway start_gateway(const std::string& yaml, std::map<std::string, std::string> env = {},
                      std::vector<std::string> prefix = {});

struct Response {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    std::string header(const std::string& name) const;
};

// One HTTP/1.1 request on a fresh connection (Connection: close).
Response request(int port, const std::string& method, const std::string& target, const std::string& body = "",
                 const std::map<std::string, std::string>& headers = {});
inline Response post(int port, const std::string& target, const std::string& body,
                     const std::map<std::string, std::string>& headers = {}) {
    return request(port, "POST", target, body, headers);
}
inline Response get(int port, const std::string& target, const std::map<std::string, std::string>& headers = {}) {
    return request(port, "GET", target, "", headers);
}

// A streamed response: body pieces with the time each arrived, relative to the request.
struct StreamedResponse {
    int status = 0;
    std::map<std::string, std::string> headers;
    std::vector<std::pair<std::chrono::milliseconds, std::string>> pieces;
    std::string body() const;
};
StreamedResponse post_streaming(int port, const std::string& target, const std::string& body,
                                const std::map<std::string, std::string>& headers = {});

// Raw bytes: connects, writes `bytes`, reads until the peer closes or `timeout`.
std::string raw_exchange(int port, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

// An upstream that misbehaves in a way switchyard-sim does not: on a loopback port of its own, a
// thread answers each request (read up to the end of its Content-Length body) with the fixed
// `response` bytes, then closes the connection.
class ScriptedUpstream {
public:
    explicit ScriptedUpstream(std::string response);
    ~ScriptedUpstream();
    ScriptedUpstream(const ScriptedUpstream&) = delete;
    ScriptedUpstream& operator=(const ScriptedUpstream&) = delete;

    int port() const { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int answered() const { return answered_.load(); }  // requests read and answered

private:
    void serve();

    std::string response_;
    int listener_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> answered_{0};
    std::thread thread_;
};

// GET /sim/stats of a simulator, as text (tests look for substrings or parse numbers).
std::string sim_stats(const Sim& sim);
// The value of the /metrics sample whose name and labels start as `prefix` ("name{a=\"b\"" or
// "name "); a test failure and -1 when there is none.
double metric(const std::string& page, const std::string& prefix);
std::optional<double> find_metric(const std::string& page, const std::string& prefix);  // no failure
long stat_number(const std::string& stats_json, const std::string& key);

std::string chat_body(const std::string& model, bool stream = false, const std::string& extra = "");

}  // namespace switchyard::testing

namespace switchyard::testing {

// A port that was free a moment ago (for programs that cannot report the port they bound).
int free_port();
// Polls GET `path` until it answers 200 or `timeout` passes; false on timeout.
bool wait_until_ok(int port, const std::string& path, Process& process, std::chrono::milliseconds timeout);

// llama-server and the tiny test models: from SWITCHYARD_LLAMA_SERVER / SWITCHYARD_TINY_MODEL /
// SWITCHYARD_TINY_LLAMA4_MODEL, else where scripts/setup puts them in the source tree.
std::string llama_server_binary();
std::string tiny_model();
std::string tiny_llama4_model();

// A llama-server on `model` at a free loopback port, healthy (throws with its log otherwise).
struct LlamaServer {
    std::unique_ptr<Process> process;
    int port = 0;
};
LlamaServer start_llama_server(const std::string& model, int slots = 2);

}  // namespace switchyard::testing

namespace switchyard::testing {

// A PostgreSQL server of the test's own: a cluster made by initdb in the test's temp dir
// (trust auth, UTF-8, fsync off), listening on a free loopback port and on a socket in its data
// dir. When the tests run as root it runs as the `postgres` user. The binaries come from
// SWITCHYARD_PG_BINDIR, else `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin.
class Postgres {
public:
    Postgres();  // initdb, then start()
    ~Postgres();
    Postgres(const Postgres&) = delete;
    Postgres& operator=(const Postgres&) = delete;

    // Starts the server on its port and data dir (again, after stop()); waits until it accepts.
    void start();
    // SIGINT: a fast clean shutdown (clients are disconnected); SIGKILL: a crash (the next start()
    // recovers). SIGTERM would wait for every client to leave.
    void stop(int signal = SIGINT);
    // SIGSTOP / SIGCONT to the server and every process it forked: a database that hangs
    // (connections stay open, queries are taken and never answered).
    void pause();
    void resume();
    bool running() { return process_ && process_->running(); }
    int port() const { return port_; }
    // postgres://postgres@127.0.0.1:PORT/DATABASE
    std::string url(const std::string& database = "postgres") const;
    // Creates a database (dropped first if it exists).
    void create_database(const std::string& name);
    // Runs SQL on a database; throws with the server's message.
    void exec(const std::string& database, const std::string& sql);
    std::string log() const { return process_ ? process_->log() : std::string(); }

private:
    std::string bindir_;
    std::string data_dir_;
    std::string user_;  // empty: this process's user
    int port_ = 0;
    std::unique_ptr<Process> process_;
};

std::string postgres_bindir();  // empty when no PostgreSQL server binaries are found

}  // namespace switchyard::testing


namespace switchyard::testing {

// A redis-server of the test's own on a free loopback port, with no persistence (--save '',
// --appendonly no): a kill or a stop loses everything, as a crashed cache would. The binary comes
// from SWITCHYARD_REDIS_SERVER, else redis-server on the PATH.
class RedisServer {
public:
    // start(); `args` are added to redis-server's command line (--requirepass ...).
    explicit RedisServer(std::vector<std::string> args = {});
    ~RedisServer();
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    // Starts the server on its port (again, after stop()); waits until it answers PING.
    void start();
    // SIGKILL by default: a crash.
    void stop(int signal = SIGKILL);
    // SIGSTOP / SIGCONT: a server that hangs (connections stay open, nothing is answered).
    void pause();
    void resume();
    bool running() { return process_ && process_->running(); }
    int port() const { return port_; }
    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
    // One inline command ("GET key"); returns the first line of the reply ("+OK", ":3", "$5" ...)
    // or, for a bulk string, its text. Throws when the server does not answer.
    std::string command(const std::string& inline_command);

private:
    int port_ = 0;
    std::vector<std::string> args_;
    std::unique_ptr<Process> process_;
};

bool redis_available();  // a redis-server binary is there

}  // namespace switchyard::testing
