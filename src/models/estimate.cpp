#include "models/estimate.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace switchyard::models {

namespace {

std::optional<std::uint64_t> number(std::string_view text) {
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return n;
}

}  // namespace

EngineShape read_shape(const std::vector<std::string>& command) {
    EngineShape shape;
    for (std::size_t i = 0; i < command.size(); ++i) {
        std::string_view flag = command[i];
        std::string_view value;
        if (const auto eq = flag.find('='); flag.starts_with("--") && eq != std::string_view::npos) {
            value = flag.substr(eq + 1);
            flag = flag.substr(0, eq);
        } else if (i + 1 < command.size()) {
            value = command[i + 1];
        }
        if (flag == "-c" || flag == "--ctx-size") {
            shape.ctx = number(value).value_or(shape.ctx);
        } else if (flag == "-np" || flag == "--parallel") {
            shape.slots = std::max<std::uint64_t>(1, number(value).value_or(shape.slots));
            shape.slots_given = number(value).has_value();
        } else if (flag == "-kvu" || flag == "--kv-unified") {
            shape.unified = true;
        } else if (flag == "-no-kvu" || flag == "--no-kv-unified") {
            shape.unified = false;
        } else if (flag == "--swa-full") {
            shape.swa_full = true;
        } else if (flag == "--models-max") {
            shape.models_max = number(value).value_or(shape.models_max);
        } else if (flag == "-fa" || flag == "--flash-attn") {
            shape.flash_attn_off = value == "off" || value == "0" || value == "false";
        } else if (flag == "-ub" || flag == "--ubatch-size") {
            shape.ubatch = std::max<std::uint64_t>(1, number(value).value_or(shape.ubatch));
        } else if (flag == "-ctk" || flag == "--cache-type-k") {
            shape.cache_k = std::string(value);
        } else if (flag == "-ctv" || flag == "--cache-type-v") {
            shape.cache_v = std::string(value);
        }
    }
    return shape;
}

std::optional<double> cache_type_bytes(std::string_view type) {
    if (type == "f32") return 4.0;
    if (type == "f16" || type == "bf16") return 2.0;
    if (type == "q8_0") return 34.0 / 32;
    if (type == "q4_0" || type == "iq4_nl") return 18.0 / 32;
    if (type == "q4_1") return 20.0 / 32;
    if (type == "q5_0") return 22.0 / 32;
    if (type == "q5_1") return 24.0 / 32;
    return std::nullopt;
}

Estimate estimate(const ModelInfo& model, const EngineShape& shape, std::uint64_t overhead) {
    Estimate e;
    e.slots = std::max<std::uint64_t>(1, shape.slots);
    std::uint64_t ctx = shape.ctx > 0 ? shape.ctx : model.context_length * 1;
    if (ctx == 0) ctx = 4096;
    e.ctx = (ctx + 255) / 256 * 256;  // llama.cpp pads the cache to 256 cells
    e.weights = model.tensor_bytes;
    const double k_bytes = cache_type_bytes(shape.cache_k).value_or(2.0);
    const double v_bytes = cache_type_bytes(shape.cache_v).value_or(2.0);
    // kv_heads_sum is over the layers (a per-layer head count array sums them).
    const double per_cell = static_cast<double>(model.kv_heads_sum) *
                            (static_cast<double>(model.key_length) * k_bytes + static_cast<double>(model.value_length) * v_bytes);
    // Sliding-window layers keep only the window (for each sequence when the cache is unified)
    // and a batch, as llama.cpp sizes its iSWA cache.
    double swa_per_cell = 0;
    if (model.swa_window > 0 && model.kv_heads_swa_sum > 0) {
        const bool unified = shape.unified.value_or(!shape.slots_given);
        const std::uint64_t sequences = shape.slots_given ? e.slots : 4;  // llama-server's automatic slots
        const std::uint64_t cells = model.swa_window * (unified ? sequences : 1) + shape.ubatch;
        e.swa_ctx = shape.swa_full ? e.ctx : (std::min(e.ctx, cells) + 255) / 256 * 256;
        swa_per_cell = static_cast<double>(model.kv_heads_swa_sum) *
                       (static_cast<double>(model.key_length) * k_bytes + static_cast<double>(model.value_length) * v_bytes);
    }
    e.kv = static_cast<std::uint64_t>((per_cell - swa_per_cell) * static_cast<double>(e.ctx) +
                                      swa_per_cell * static_cast<double>(e.swa_ctx));
    const std::uint64_t logits = 4 * shape.ubatch * (model.vocab + model.embedding);
    const std::uint64_t mask_bytes = shape.flash_attn_off ? 4 : 2;
    const std::uint64_t full_cells = model.kv_heads_sum > model.kv_heads_swa_sum ? e.ctx : 0;
    std::uint64_t attention = (full_cells + e.swa_ctx) * shape.ubatch * mask_bytes;
    if (shape.flash_attn_off) attention += std::max(full_cells, e.swa_ctx) * shape.ubatch * model.heads * 4;
    e.compute = std::max(logits, attention);
    e.overhead = overhead;
    return e;
}

Estimate router_estimate(const std::vector<ModelInfo>& models, const EngineShape& shape, std::uint64_t overhead,
                         std::vector<std::size_t>* loaded) {
    std::vector<std::pair<std::uint64_t, std::size_t>> sizes;  // (total, index)
    std::vector<Estimate> each;
    for (std::size_t i = 0; i < models.size(); ++i) {
        each.push_back(estimate(models[i], shape, overhead));
        sizes.emplace_back(each.back().total(), i);
    }
    std::stable_sort(sizes.begin(), sizes.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    const std::size_t at_once = shape.models_max == 0 ? sizes.size() : std::min<std::size_t>(shape.models_max, sizes.size());
    Estimate e;
    e.slots = std::max<std::uint64_t>(1, shape.slots);
    e.overhead = overhead;  // the router itself
    if (loaded != nullptr) loaded->clear();
    for (std::size_t k = 0; k < at_once; ++k) {
        const Estimate& child = each[sizes[k].second];
        e.ctx = std::max(e.ctx, child.ctx);
        e.swa_ctx = std::max(e.swa_ctx, child.swa_ctx);
        e.weights += child.weights;
        e.kv += child.kv;
        e.compute += child.compute;
        e.overhead += child.overhead;
        if (loaded != nullptr) loaded->push_back(sizes[k].second);
    }
    return e;
}

std::string gib_text(std::uint64_t bytes) {
    char text[32];
    if (bytes >= (1ull << 30)) {
        std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1ull << 30));
    } else {
        std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1ull << 20));
    }
    return text;
}

std::string never_fits(const ModelInfo& model, const EngineShape& shape, std::uint64_t overhead,
                       std::uint64_t budget, std::string_view where) {
    const Estimate need = estimate(model, shape, overhead);
    std::string out = "needs " + gib_text(need.total()) + " at ctx " + std::to_string(need.ctx) + " x " +
                      std::to_string(need.slots) + (need.slots == 1 ? " slot" : " slots") + " (weights " +
                      gib_text(need.weights) + ", KV cache " + gib_text(need.kv) + ", compute and overhead " +
                      gib_text(need.compute + need.overhead) + "); " + std::string(where) + " has " + gib_text(budget) +
                      "; try ";
    // The largest power-of-two context (at least 256 per slot) that would fit.
    EngineShape smaller = shape;
    std::uint64_t fitting = 0;
    for (std::uint64_t ctx = need.ctx / 2; ctx >= 256 * need.slots; ctx /= 2) {
        smaller.ctx = ctx;
        if (estimate(model, smaller, overhead).total() <= budget) {
            fitting = ctx;
            break;
        }
    }
    if (fitting > 0) out += "ctx " + std::to_string(fitting) + " or ";
    out += "a smaller quantization";
    if (!model.quantization.empty()) out += " than " + model.quantization;
    return out;
}

std::string router_never_fits(const std::vector<ModelInfo>& models, const std::vector<std::string>& names,
                              const EngineShape& shape, std::uint64_t overhead, std::uint64_t budget,
                              std::string_view where) {
    std::vector<std::size_t> loaded;
    const Estimate need = router_estimate(models, shape, overhead, &loaded);
    std::string out = "needs " + gib_text(need.total()) + " with its " +
                      (loaded.size() == 1 ? std::string("largest model") : std::to_string(loaded.size()) + " largest models") +
                      " loaded (--models-max " + std::to_string(shape.models_max) + ") at ctx " + std::to_string(need.ctx) + ":";
    for (std::size_t k = 0; k < loaded.size(); ++k) {
        const std::size_t i = loaded[k];
        out += (k == 0 ? " " : ", ") + (i < names.size() ? names[i] : models[i].name) + " " +
               gib_text(estimate(models[i], shape, overhead).total());
    }
    out += "; " + std::string(where) + " has " + gib_text(budget) + "; try ";
    if (loaded.size() > 1) out += "--models-max " + std::to_string(loaded.size() - 1) + ", ";
    out += "a smaller ctx or smaller quantizations";
    return out;
}

std::optional<std::uint64_t> parse_mem_available(std::string_view text) {
    const auto at = text.find("MemAvailable:");
    if (at == std::string_view::npos) return std::nullopt;
    std::size_t pos = at + 13;
    while (pos < text.size() && text[pos] == ' ') ++pos;
    std::uint64_t kib = 0;
    const auto [end, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), kib);
    if (ec != std::errc{}) return std::nullopt;
    return kib * 1024;
}

Placement place(std::uint64_t budget, std::uint64_t need, const std::vector<Resident>& residents) {
    Placement p;
    if (need > budget) {
        p.never = true;
        return p;
    }
    std::uint64_t held = 0;
    std::uint64_t staying = 0;  // held by engines that are not on their way out
    for (const auto& r : residents) {
        held += r.bytes;
        if (!r.stopping) staying += r.bytes;
    }
    if (held + need <= budget) {
        p.now = true;
        return p;
    }
    std::vector<const Resident*> order;
    for (const auto& r : residents) {
        if (!r.stopping) order.push_back(&r);
    }
    std::stable_sort(order.begin(), order.end(), [](const Resident* a, const Resident* b) { return a->last_used < b->last_used; });
    for (const Resident* r : order) {
        if (staying + need <= budget) break;
        p.evict.push_back(r->engine);
        staying -= r->bytes;
    }
    return p;
}

}  // namespace switchyard::models
