// The `switchyard` command: `serve` runs the gateway, `check-config` validates a config file.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "config/config.hpp"
#include "server/server.hpp"

namespace {

using namespace switchyard;

int report_errors(const std::string& path, const config::LoadResult& result) {
    for (const auto& error : result.errors) std::cerr << path << ": " << config::to_string(error) << "\n";
    std::cerr << path << ": " << result.errors.size() << (result.errors.size() == 1 ? " error" : " errors") << "\n";
    return 1;
}

void write_ready_file(const std::string& path, const std::vector<std::uint16_t>& ports) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp);
        for (auto port : ports) out << port << "\n";
    }
    std::filesystem::rename(tmp, path);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Switchyard: an OpenAI-compatible gateway for local and cloud LLMs"};
    app.require_subcommand(1);

    std::string config_path;
    std::string ready_file;
    std::string log_level = "info";
    auto* serve = app.add_subcommand("serve", "Run the gateway");
    serve->add_option("-c,--config", config_path, "Configuration file (YAML)")->required();
    serve->add_option("--ready-file", ready_file, "Write the bound port of each listener here once listening");
    serve->add_option("--log-level", log_level, "Log level")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
        ->capture_default_str();

    std::string check_path;
    auto* check = app.add_subcommand("check-config", "Validate a configuration file and report every error");
    check->add_option("config", check_path, "Configuration file (YAML)")->required();

    app.add_subcommand("version", "Print the version");

    CLI11_PARSE(app, argc, argv);

    if (app.got_subcommand("version")) {
        std::cout << "switchyard 0.1.0\n";
        return 0;
    }
    if (check->parsed()) {
        const auto result = config::load_file(check_path);
        if (!result.gateway) return report_errors(check_path, result);
        const auto& gateway = *result.gateway;
        std::cout << check_path << ": OK (" << gateway.listeners.size() << " listener(s), " << gateway.upstreams.size()
                  << " upstream(s), " << gateway.models.size() << " model(s))\n";
        return 0;
    }

    spdlog::set_level(spdlog::level::from_str(log_level));
    auto result = config::load_file(config_path);
    if (!result.gateway) return report_errors(config_path, result);
    try {
        server::Server gateway(std::move(*result.gateway));
        const auto ports = gateway.bind();
        for (auto port : ports) spdlog::info("listening on port {}", port);
        if (!ready_file.empty()) write_ready_file(ready_file, ports);
        return gateway.run();
    } catch (const std::exception& e) {
        spdlog::critical("cannot start: {}", e.what());
        return 1;
    }
}
