// `switchyard pull`: downloads a GGUF model into the store from a Hugging Face repository (its
// API lists the files; resolve/main/FILE serves them, through redirects, with the sha256 in
// X-Linked-Etag) or any http(s) URL. Resumes a FILE.partial with a Range request, verifies size and
// sha256 when the source publishes them, fsyncs and renames into place, so a model in the store is
// always whole. A command-line tool: blocking I/O on the caller's thread (Boost.Beast, OpenSSL).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>

#include "models/store.hpp"

namespace switchyard::models {

struct PullOptions {
    std::string source;      // hf:ORG/REPO/FILE.gguf, hf:ORG/REPO:QUANT or an http(s) URL
    std::string name;        // --as; empty: from the file name
    std::string models_dir;  // the store
    bool progress_bar = false;  // a redrawn bar (a terminal); otherwise a plain line now and then
    std::string ca_file;        // extra CA certificates (tests); empty: the system's
    // Where progress and errors go (null: stderr) and the result line (null: stdout).
    std::ostream* log = nullptr;
    std::ostream* out = nullptr;
    // Called as bytes arrive (bytes so far, the file's size or 0): the engine supervisor shows it.
    std::function<void(std::uint64_t done, std::uint64_t total)> on_progress;
    // Set by another thread to give up: the download stops at its next read (within kIoTimeout of
    // a stalled server) and keeps its partial file, to be resumed.
    const std::atomic<bool>* cancel = nullptr;
};

// Runs the pull, writing progress and errors to `log` and the result to `out`; the exit status
// (0 done, 1 failed, 2 a usage error). `env` gives HF_ENDPOINT and HF_TOKEN (never printed).
int pull(const PullOptions& options, const Env& env);

// The sha256 an HTTP response publishes: X-Linked-Etag (Hugging Face's LFS files) or ETag, when it
// is 64 hex digits (quotes and a weak W/ dropped); empty otherwise.
std::string sha256_of_etag(std::string_view etag);

// "bytes 100-199/1000" -> {100, 199, 1000} (total 0 when "*").
struct ContentRange {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    std::uint64_t total = 0;
};
std::optional<ContentRange> parse_content_range(std::string_view text);

// One progress line: "  42% 1.2 GiB / 2.9 GiB  85.3 MiB/s  ETA 21s".
std::string progress_text(std::uint64_t done, std::uint64_t total, double rate_bytes_per_s);

}  // namespace switchyard::models
