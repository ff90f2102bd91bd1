// The `console` section: the web console's path, sessions and cookie (src/console).
// `console: false` turns it off; `console: true` or a mapping turns it on (on by default).
#include "config/sections.hpp"

namespace switchyard::config {

void read_console(Reader& in, const YAML::Node& node, Console& out) {
    if (node.IsScalar()) {
        const std::string& text = node.Scalar();
        if (text == "false" || text == "true") {
            out.enabled = text == "true";
        } else {
            in.error(node, "'console' must be true, false or a mapping {path, session_ttl, max_sessions, secure_cookie, sample_interval}");
        }
        return;
    }
    if (!in.expect_map(node, "'console'", {"enabled", "path", "session_ttl", "max_sessions", "secure_cookie", "sample_interval"})) return;
    in.boolean(node, "enabled", out.enabled);
    in.string(node, "path", out.path);
    in.duration(node, "session_ttl", out.session_ttl);
    in.integer(node, "max_sessions", out.max_sessions, 1, 1'000'000);
    in.boolean(node, "secure_cookie", out.secure_cookie);
    in.duration(node, "sample_interval", out.sample_interval);
    if (out.sample_interval < std::chrono::seconds(1) || out.sample_interval > std::chrono::minutes(5)) {
        in.error(node["sample_interval"], "'console.sample_interval' must be from 1s to 5m");
    }
    if (out.session_ttl < std::chrono::minutes(1)) {
        in.error(node["session_ttl"], "'console.session_ttl' must be at least 1m");
    }
    const bool plain = out.path.find_first_of("\"'<>\\ ?#;,%") == std::string::npos;
    if (!out.path.starts_with('/') || !out.path.ends_with('/') || !plain) {
        in.error(node["path"], "'console.path' must start and end with '/' and hold no quotes, spaces, '?', '#', "
                               "';', ',' or '%', such as /ui/");
    } else if (out.path == "/" || out.path.starts_with("/v1/") || out.path.starts_with("/admin/")) {
        in.error(node["path"], "'console.path' '" + out.path + "' would hide the gateway's own endpoints; use a "
                               "path of its own such as /ui/");
    }
}

}  // namespace switchyard::config
