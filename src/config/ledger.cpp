// The `ledger` section: where each request's row is written (SQLite or PostgreSQL) and how rows
// are batched.
#include "config/sections.hpp"

namespace switchyard::config {

// `ledger: PATH` or a mapping with url, flush_interval, queue_size, batch_size.
void read_ledger(Reader& in, const YAML::Node& node, Ledger& out) {
    const bool short_form = node.IsScalar();
    if (short_form) {
        out.url = in.expand(node, node.Scalar());
    } else {
        if (!in.expect_map(node, "'ledger'", {"url", "flush_interval", "queue_size", "batch_size"})) return;
        in.string(node, "url", out.url);
        in.duration(node, "flush_interval", out.flush_interval);
        in.integer(node, "queue_size", out.queue_size, 1, 100'000'000);
        in.integer(node, "batch_size", out.batch_size, 1, 1'000'000);
    }
    if (!out.url.empty() && !out.url.starts_with("postgres://") && !out.url.starts_with("postgresql://") &&
        out.url.find("://") != std::string::npos) {
        in.error(short_form ? node : node["url"], "ledger url must be a file path, sqlite:PATH or postgres://...");
    }
}

}  // namespace switchyard::config
