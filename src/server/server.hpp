// The gateway process: binds the listeners on every I/O thread (SO_REUSEPORT, one acceptor per
// thread), runs the threads, and on SIGTERM/SIGINT drains: stops accepting, closes idle
// connections, lets requests in flight finish up to `server.shutdown_grace`, then exits.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <cstdint>
#include <memory>
#include <vector>

#include "config/config.hpp"

namespace switchyard::server {

struct Shared;
struct Worker;

class Server {
public:
    // `config_path`: where `config` was read from; SIGHUP and POST /admin/reload read it again.
    explicit Server(config::Gateway config, std::string config_path = {});
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds every listener; returns the bound port of each (useful with port 0). Throws on failure.
    std::vector<std::uint16_t> bind();
    // Serves until SIGTERM or SIGINT, then drains; SIGHUP reloads the config. Returns the process
    // exit code.
    int run();

private:
    bool drain_and_stop();  // true when requests were still in flight at the deadline

    boost::asio::io_context control_;  // signals and reloads, on the thread that called run()
    // Taken when the server is made, before bind() tells anyone it is up: a SIGHUP or SIGTERM that
    // comes before run() waits for it, queued, instead of ending the process by default action.
    boost::asio::signal_set signals_;
    std::unique_ptr<Shared> shared_;
    std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace switchyard::server
