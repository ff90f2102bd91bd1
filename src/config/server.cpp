// The `listeners` and `server` sections: where the gateway listens and the limits of its HTTP
// server.
#include "config/sections.hpp"

namespace switchyard::config {

void read_listeners(Reader& in, const YAML::Node& node, Gateway& out) {
    if (!node) {
        out.listeners.push_back({});
        return;
    }
    if (!node.IsSequence() || node.size() == 0) {
        in.error(node, "'listeners' must be a non-empty list of {address, port}");
        return;
    }
    for (const auto& item : node) {
        Listener listener;
        if (in.expect_map(item, "a listener", {"address", "port"})) {
            in.string(item, "address", listener.address);
            in.integer(item, "port", listener.port, 0, 65535);
        }
        out.listeners.push_back(std::move(listener));
    }
}

void read_server(Reader& in, const YAML::Node& node, Server& out) {
    if (!in.expect_map(node, "'server'",
                       {"io_threads", "max_body_bytes", "max_header_bytes", "max_headers", "request_read_timeout",
                        "keepalive_timeout", "shutdown_grace", "expose_upstream_address", "metrics", "debug",
                        "responses_store_bytes", "responses_store_ttl", "responses_store_persist", "stream_keepalive", "max_connections",
                        "first_byte_timeout"})) {
        return;
    }
    in.integer(node, "io_threads", out.io_threads, 1, 256);
    in.size(node, "max_body_bytes", out.max_body_bytes);
    in.size(node, "max_header_bytes", out.max_header_bytes);
    in.integer(node, "max_headers", out.max_headers, 1, 10000);
    in.duration(node, "request_read_timeout", out.request_read_timeout);
    in.duration(node, "keepalive_timeout", out.keepalive_timeout);
    in.duration(node, "shutdown_grace", out.shutdown_grace);
    in.boolean(node, "expose_upstream_address", out.expose_upstream_address);
    in.boolean(node, "metrics", out.metrics);
    in.boolean(node, "debug", out.debug);
    in.size(node, "responses_store_bytes", out.responses_store_bytes);
    in.duration(node, "responses_store_ttl", out.responses_store_ttl);
    in.boolean(node, "responses_store_persist", out.responses_store_persist);
    in.duration_or_zero(node, "stream_keepalive", out.stream_keepalive);
    in.integer(node, "max_connections", out.max_connections, 0, 100000000);
    in.duration(node, "first_byte_timeout", out.first_byte_timeout);
}

}  // namespace switchyard::config
