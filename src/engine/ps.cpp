#include "engine/ps.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <simdjson.h>

#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "core/table.hpp"
#include "core/url.hpp"

namespace switchyard::engine {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// The member `key` of `object` into `out`; left as it is when missing or of another type.
template <typename T>
void read(simdjson::dom::element object, const char* key, T& out) {
    T value{};
    if (object[key].get(value) == simdjson::SUCCESS) out = value;
}

std::string bytes_text(std::uint64_t bytes) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(1);
    if (bytes >= (1ull << 30)) {
        out << static_cast<double>(bytes) / (1ull << 30) << "GiB";
    } else if (bytes >= (1ull << 20)) {
        out << static_cast<double>(bytes) / (1ull << 20) << "MiB";
    } else if (bytes > 0) {
        out << static_cast<double>(bytes) / 1024 << "KiB";
    } else {
        return "-";
    }
    return out.str();
}

// An engine's `models` as "a:loaded,b:unloaded" (a name alone when its state is not known); "-"
// for a single-model engine.
std::string models_text(simdjson::dom::element engine) {
    simdjson::dom::array models;
    if (engine["models"].get_array().get(models) != simdjson::SUCCESS) return "-";
    std::string out;
    for (simdjson::dom::element model : models) {
        std::string_view name, state;
        read(model, "name", name);
        read(model, "state", state);
        if (!out.empty()) out += ',';
        out += std::string(name) + (state.empty() ? "" : ":" + std::string(state));
    }
    return out.empty() ? "-" : out;
}

std::string uptime_text(std::int64_t seconds) {
    if (seconds <= 0) return "-";
    std::ostringstream out;
    if (seconds >= 3600) out << seconds / 3600 << "h" << (seconds % 3600) / 60 << "m";
    else if (seconds >= 60) out << seconds / 60 << "m" << seconds % 60 << "s";
    else out << seconds << "s";
    return out.str();
}


int print(const PsOptions& options, const char* command, const std::string& path,
          std::string (*table)(const std::string&, std::string*)) {
    std::string body;
    if (const int failed = admin_get(options.url, options.key_env, command, path, body)) return failed;
    if (options.json) {
        std::cout << body << "\n";
        return 0;
    }
    std::string why;
    const std::string text = table(body, &why);
    if (text.empty()) {
        std::cerr << "switchyard " << command << ": " << why << "\n";
        return 1;
    }
    std::cout << text;
    return 0;
}

}  // namespace

int admin_get(const std::string& gateway, const std::string& key_env, const char* command, const std::string& path,
              std::string& body, std::chrono::seconds timeout) {
    std::string why;
    const auto url = parse_url(gateway, &why);
    if (!url) {
        std::cerr << "switchyard " << command << ": --url: " << why << "\n";
        return 2;
    }
    if (url->tls) {
        std::cerr << "switchyard " << command << ": only http:// gateways are supported\n";
        return 2;
    }
    const char* key = std::getenv(key_env.c_str());
    if (key == nullptr || *key == '\0') {
        std::cerr << "switchyard " << command << ": set " << key_env << " to the gateway's master key\n";
        return 2;
    }
    int status = 0;
    try {
        asio::io_context io;
        asio::ip::tcp::resolver resolver(io);
        beast::tcp_stream stream(io);
        stream.expires_after(timeout);
        stream.connect(resolver.resolve(url->host, std::to_string(url->port)));
        http::request<http::empty_body> request{http::verb::get, path, 11};
        request.set(http::field::host, url->host_header());
        request.set(http::field::authorization, std::string("Bearer ") + key);
        request.set(http::field::connection, "close");
        http::write(stream, request);
        beast::flat_buffer buffer;
        http::response<http::string_body> response;
        http::read(stream, buffer, response);
        status = response.result_int();
        body = std::move(response.body());
    } catch (const std::exception& e) {
        std::cerr << "switchyard " << command << ": cannot reach " << gateway << ": " << e.what() << "\n";
        return 1;
    }
    if (status != 200) {
        std::cerr << "switchyard " << command << ": the gateway answered " << status << ": " << body << "\n";
        return 1;
    }
    return 0;
}

std::string ps_table(const std::string& json, std::string* why) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(json).get(root) != simdjson::SUCCESS) {
        *why = "the gateway's answer is not JSON";
        return {};
    }
    simdjson::dom::array data;
    if (root["data"].get_array().get(data) != simdjson::SUCCESS) {
        *why = "the gateway's answer has no engine list";
        return {};
    }
    std::vector<std::vector<std::string>> rows{
        {"NAME", "STATE", "PID", "RSS", "GPU", "ESTIMATE", "IN FLIGHT", "UPTIME", "RESTARTS", "MODELS", "DETAIL"}};
    for (simdjson::dom::element engine : data) {
        std::string_view name, state, detail, last_error;
        std::int64_t pid = 0, uptime = 0;
        std::uint64_t rss = 0, in_flight = 0, restarts = 0, gpu = 0;
        read(engine, "name", name);
        read(engine, "state", state);
        read(engine, "detail", detail);
        read(engine, "last_error", last_error);
        read(engine, "pid", pid);
        read(engine, "uptime_s", uptime);
        read(engine, "rss_bytes", rss);
        read(engine, "in_flight", in_flight);
        read(engine, "restarts", restarts);
        const bool has_gpu = engine["gpu_memory_bytes"].get(gpu) == simdjson::SUCCESS;
        // The memory estimate, and its error against what the engine uses once ready: "1.2GiB (+8%)".
        std::uint64_t estimate = 0;
        double estimate_error = 0;
        std::string estimate_text = "-";
        if (engine["estimate_bytes"].get(estimate) == simdjson::SUCCESS) {
            estimate_text = bytes_text(estimate);
            if (engine["estimate_error"].get(estimate_error) == simdjson::SUCCESS) {
                char percent[16];
                std::snprintf(percent, sizeof percent, " (%+.0f%%)", estimate_error * 100);
                estimate_text += percent;
            }
        }
        std::string note(detail);
        if (state == "failed" && !last_error.empty()) note = std::string(last_error) + (note.empty() ? "" : "; " + note);
        rows.push_back({std::string(name), std::string(state), pid > 0 ? std::to_string(pid) : "-", bytes_text(rss),
                        has_gpu ? bytes_text(gpu) : "-", estimate_text, std::to_string(in_flight), uptime_text(uptime),
                        std::to_string(restarts), models_text(engine), note});
    }
    return columns(rows);
}

std::string models_table(const std::string& json, std::string* why) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    simdjson::dom::array data;
    if (parser.parse(json).get(root) != simdjson::SUCCESS || root["data"].get_array().get(data) != simdjson::SUCCESS) {
        *why = "the gateway's answer is not a model list";
        return {};
    }
    std::vector<std::vector<std::string>> rows{{"MODEL", "DEPLOYMENT", "TIER", "ON", "HEALTHY", "BREAKER", "IN FLIGHT"}};
    for (simdjson::dom::element model : data) {
        std::string_view model_name;
        read(model, "name", model_name);
        simdjson::dom::array deployments;
        if (model["deployments"].get_array().get(deployments) != simdjson::SUCCESS) continue;
        bool first = true;
        for (simdjson::dom::element d : deployments) {
            std::string_view name, on, breaker;
            std::uint64_t tier = 0, in_flight = 0;
            bool healthy = false;
            read(d, "name", name);
            read(d, "tier", tier);
            read(d, "healthy", healthy);
            read(d, "breaker", breaker);
            read(d, "in_flight", in_flight);
            std::string where;
            if (d["engine"].get(on) == simdjson::SUCCESS) {
                where = "engine " + std::string(on);
            } else if (d["upstream"].get(on) == simdjson::SUCCESS) {
                where = "upstream " + std::string(on);
            }
            rows.push_back({first ? std::string(model_name) : "", std::string(name), std::to_string(tier), where,
                            healthy ? "yes" : "no", std::string(breaker), std::to_string(in_flight)});
            first = false;
        }
    }
    return columns(rows);
}

int run_ps(const PsOptions& options) { return print(options, "ps", "/admin/engines", ps_table); }
int run_models(const PsOptions& options) { return print(options, "models", "/admin/models", models_table); }

}  // namespace switchyard::engine
