// The memory an engine will need before it starts, from its model's GGUF header and its command
// line (context, parallel slots, micro-batch, KV cache types), and the placement decision made with
// it: which loaded engines to stop, least recently used first, so that a group's loaded set fits
// its budget, or that a model can never fit. Pure functions; docs/engines.md gives the formula and
// its measured error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/gguf.hpp"

namespace switchyard::models {

// What of an engine's llama-server command line the estimate needs.
struct EngineShape {
    std::uint64_t ctx = 0;     // -c / --ctx-size: the whole KV cache over every slot; 0: the model's
    std::uint64_t slots = 1;   // -np / --parallel
    std::uint64_t ubatch = 512;  // -ub / --ubatch-size
    std::string cache_k = "f16";  // -ctk / --cache-type-k
    std::string cache_v = "f16";  // -ctv / --cache-type-v
    bool slots_given = false;     // -np given; else llama-server picks 4 slots and a unified cache
    std::optional<bool> unified;  // -kvu / -no-kvu; else unified when the slots are not given
    bool swa_full = false;        // --swa-full: sliding-window layers cache the whole context
    bool flash_attn_off = false;  // -fa off: attention scores are materialized (auto/on: they are not)
    std::uint64_t models_max = 4;  // --models-max (a router: models loaded at once; 0: no limit)
};
EngineShape read_shape(const std::vector<std::string>& command);
// Bytes per cached element of a KV cache type ("f16" 2, "q8_0" 34/32...); nullopt when unknown.
std::optional<double> cache_type_bytes(std::string_view type);

struct Estimate {
    std::uint64_t ctx = 0;      // the KV cache's cells, over every slot (padded as llama.cpp does)
    std::uint64_t slots = 1;
    std::uint64_t weights = 0;  // every tensor's bytes
    std::uint64_t kv = 0;       // layers x cells x (kv heads x (key + value length)) x cache type bytes
    std::uint64_t swa_ctx = 0;  // the sliding-window layers' cells (0: none): the window x sequences
                                // (1 unless unified) + ubatch, padded to 256, at most ctx
    // The larger of a batch's logits, 4 bytes x ubatch x (vocabulary + embedding), and its
    // attention's buffers: an attention mask of cells x ubatch per cache (full and sliding-window),
    // f16 (f32 with flash attention off, which adds the scores: cells x ubatch x heads x 4 bytes)
    std::uint64_t compute = 0;
    std::uint64_t overhead = 0; // the process itself (code, threads, buffers), a constant
    std::uint64_t total() const { return weights + kv + compute + overhead; }
};
// The process overhead: llama-server's resident memory beyond its buffers is about 16 MiB on the
// CPU (measured with the tiny models: 16-18 MiB RSS in all); on a GPU the CUDA context and kernels
// take more, 512 MiB here until a GPU run measures it.
inline constexpr std::uint64_t kHostOverhead = 16ull << 20;
inline constexpr std::uint64_t kGpuOverhead = 512ull << 20;
inline constexpr std::uint64_t kDefaultOverhead = kHostOverhead;
Estimate estimate(const ModelInfo& model, const EngineShape& shape, std::uint64_t overhead = kDefaultOverhead);

// A router engine (llama-server --models-dir): its own process and, at worst, the `models_max`
// largest of its models loaded at once, each a child llama-server with the router's command line
// (so each with its own context, slots and process overhead). `loaded` gets the indices of those
// models, largest first.
Estimate router_estimate(const std::vector<ModelInfo>& models, const EngineShape& shape, std::uint64_t overhead,
                         std::vector<std::size_t>* loaded = nullptr);

// "41.2 GiB", "512.0 MiB"
std::string gib_text(std::uint64_t bytes);

// Why a model can never fit a budget, with the numbers and what to try: "needs 41.2 GiB at ctx
// 32768 x 4 slots; the group has 24.0 GiB; try ctx 8192 or a smaller quantization".
std::string never_fits(const ModelInfo& model, const EngineShape& shape, std::uint64_t overhead,
                       std::uint64_t budget, std::string_view where);

// The same for a router: "needs 9.1 GiB with its 2 largest models loaded (--models-max 2) at ctx
// 8192: a 4.9 GiB, b 4.2 GiB; the host has 8.0 GiB; try --models-max 1, a smaller ctx or smaller
// quantizations".
std::string router_never_fits(const std::vector<ModelInfo>& models, const std::vector<std::string>& names,
                              const EngineShape& shape, std::uint64_t overhead, std::uint64_t budget,
                              std::string_view where);

// MemAvailable of a /proc/meminfo text, in bytes.
std::optional<std::uint64_t> parse_mem_available(std::string_view meminfo);

// An engine holding (or about to hold) memory in a group.
struct Resident {
    std::size_t engine = 0;
    std::uint64_t bytes = 0;     // its estimate (or what it really uses, when larger)
    std::int64_t last_used = 0;  // any monotonic time; smaller is older
    bool stopping = false;       // already on its way out: its memory comes back when it exits
};
struct Placement {
    bool never = false;            // larger than the whole budget
    bool now = false;              // fits beside the residents as they are
    std::vector<std::size_t> evict;  // stop these (least recently used first), then wait
};
// Where `need` bytes go in a group of `budget` bytes holding `residents` (the starting engine not
// among them).
Placement place(std::uint64_t budget, std::uint64_t need, const std::vector<Resident>& residents);

}  // namespace switchyard::models
