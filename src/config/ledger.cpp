// The `ledger` section: where each request's row is written (SQLite or PostgreSQL), how rows
// are batched, and where they wait when the database cannot take them (the spool).
#include <filesystem>

#include "config/sections.hpp"

namespace switchyard::config {

namespace {

constexpr std::size_t kMinSpoolBytes = std::size_t{1} << 20;

// Beside a SQLite file (its directory is writable, SQLite needs it so); for a server, the
// conventional state directory.
std::string default_spool_dir(const std::string& url) {
    if (url.starts_with("postgres://") || url.starts_with("postgresql://")) return "/var/lib/switchyard";
    const std::filesystem::path file(url.starts_with("sqlite:") ? url.substr(7) : url);
    return file.has_parent_path() ? file.parent_path().string() : std::string(".");
}

}  // namespace

// `ledger: PATH` or a mapping with url, flush_interval, queue_size, batch_size, spool_dir,
// spool_max_bytes, write_timeout.
void read_ledger(Reader& in, const YAML::Node& node, Ledger& out) {
    const bool short_form = node.IsScalar();
    if (short_form) {
        out.url = in.expand(node, node.Scalar());
    } else {
        if (!in.expect_map(node, "'ledger'",
                           {"url", "flush_interval", "queue_size", "batch_size", "spool_dir", "spool_max_bytes", "write_timeout",
                            "key_sync"})) {
            return;
        }
        in.string(node, "url", out.url);
        in.duration(node, "flush_interval", out.flush_interval);
        in.duration(node, "write_timeout", out.write_timeout);
        in.duration_or_zero(node, "key_sync", out.key_sync);
        in.integer(node, "queue_size", out.queue_size, 1, 100'000'000);
        in.integer(node, "batch_size", out.batch_size, 1, 1'000'000);
        in.string(node, "spool_dir", out.spool_dir);
        in.size(node, "spool_max_bytes", out.spool_max_bytes);
        if (node["spool_max_bytes"] && out.spool_max_bytes < kMinSpoolBytes) {
            in.error(node["spool_max_bytes"], "'spool_max_bytes' must be at least 1MiB");
        }
    }
    if (!out.url.empty() && out.spool_dir.empty()) out.spool_dir = default_spool_dir(out.url);
    if (!out.url.empty() && !out.url.starts_with("postgres://") && !out.url.starts_with("postgresql://") &&
        out.url.find("://") != std::string::npos) {
        in.error(short_form ? node : node["url"], "ledger url must be a file path, sqlite:PATH or postgres://...");
    }
}

}  // namespace switchyard::config
