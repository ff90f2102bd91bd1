// src/models: the GGUF reader on the tiny models scripts/setup writes and on hand-made headers
// (every value type, versions 2 and 3, malformed ones), the memory estimate's formula, the
// placement decision, the store's names and the pull source syntax.
#include <gtest/gtest.h>

#include <optional>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "models/estimate.hpp"
#include "models/gguf.hpp"
#include "models/store.hpp"

namespace switchyard::models {
namespace {

// A GGUF header written by hand, little-endian.
class Builder {
public:
    Builder& u8(std::uint8_t v) { return raw(&v, 1); }
    Builder& u32(std::uint32_t v) { return raw(&v, 4); }
    Builder& u64(std::uint64_t v) { return raw(&v, 8); }
    Builder& f32(float v) { return raw(&v, 4); }
    Builder& str(std::string_view s) {
        u64(s.size());
        bytes.append(s);
        return *this;
    }
    Builder& header(std::uint32_t version, std::uint64_t tensors, std::uint64_t kvs) {
        bytes.append("GGUF");
        return u32(version).u64(tensors).u64(kvs);
    }
    Builder& kv_u32(std::string_view key, std::uint32_t v) { return str(key).u32(4).u32(v); }
    Builder& kv_str(std::string_view key, std::string_view v) { return str(key).u32(8).str(v); }
    Builder& tensor(std::string_view name, std::vector<std::uint64_t> dims, std::uint32_t type, std::uint64_t offset) {
        str(name).u32(static_cast<std::uint32_t>(dims.size()));
        for (auto d : dims) u64(d);
        return u32(type).u64(offset);
    }
    Builder& pad_to(std::size_t alignment) {
        while (bytes.size() % alignment != 0) bytes.push_back('\0');
        return *this;
    }
    std::string bytes;

private:
    Builder& raw(const void* p, std::size_t n) {
        bytes.append(static_cast<const char*>(p), n);
        return *this;
    }
};

std::string source_path(const std::string& relative) { return std::string(SWITCHYARD_SOURCE_DIR) + "/" + relative; }

std::string tiny_model(const char* env, const char* file) {
    if (const char* path = std::getenv(env); path && *path) return path;
    return source_path(std::string("models/") + file);
}

#define REQUIRE_FILE(path)                                                                          \
    if (!std::filesystem::exists(path)) GTEST_SKIP() << (path) << " is missing: run scripts/setup"

TEST(Gguf, ReadsTheTinyLlama) {
    const std::string path = tiny_model("SWITCHYARD_TINY_MODEL", "tiny-llama.gguf");
    REQUIRE_FILE(path);
    const auto result = read_file(path);
    ASSERT_TRUE(result.gguf) << result.error;
    const Gguf& g = *result.gguf;
    EXPECT_EQ(g.version, 3u);
    EXPECT_EQ(g.tensors.size(), 21u);
    EXPECT_EQ(g.metadata.size(), 25u);
    EXPECT_EQ(g.data_offset % g.alignment, 0u);
    const ModelInfo m = describe(g);
    EXPECT_EQ(m.architecture, "llama");
    EXPECT_EQ(m.name, "switchyard-tiny-llama");
    EXPECT_EQ(m.quantization, "F32");
    EXPECT_EQ(m.context_length, 512u);
    EXPECT_EQ(m.layers, 2u);
    EXPECT_EQ(m.embedding, 64u);
    EXPECT_EQ(m.heads, 4u);
    EXPECT_EQ(m.kv_heads, 2u);
    EXPECT_EQ(m.key_length, 16u);
    EXPECT_EQ(m.vocab, 863u);
    EXPECT_TRUE(m.chat_template);
    // gguf-py's reader says 738,048 bytes of tensors, all f32: 4 bytes a parameter.
    EXPECT_EQ(m.tensor_bytes, 738048u);
    EXPECT_EQ(m.parameters, 738048u / 4);
    // The tensors end exactly at the end of the file.
    std::uint64_t end = 0;
    for (const auto& t : g.tensors) end = std::max(end, g.data_offset + t.offset + t.bytes);
    EXPECT_LE(end, std::filesystem::file_size(path));
    EXPECT_GT(end + 64, std::filesystem::file_size(path));
    const Value* tokens = g.find("tokenizer.ggml.tokens");
    ASSERT_NE(tokens, nullptr);
    ASSERT_NE(tokens->as_array(), nullptr);
    EXPECT_EQ(tokens->as_array()->count, 863u);
    EXPECT_EQ(tokens->as_array()->head.size(), Array::kept_elements);  // summarized, not held
    EXPECT_NE(tokens->text().find("[string x 863:"), std::string::npos) << tokens->text();
}

TEST(Gguf, ReadsTheTinyLlama4Experts) {
    const std::string path = tiny_model("SWITCHYARD_TINY_LLAMA4_MODEL", "tiny-llama4-moe.gguf");
    REQUIRE_FILE(path);
    const auto result = read_file(path);
    ASSERT_TRUE(result.gguf) << result.error;
    const ModelInfo m = describe(*result.gguf);
    EXPECT_EQ(m.architecture, "llama4");
    EXPECT_EQ(m.layers, 4u);
    EXPECT_EQ(m.experts, 4u);
    EXPECT_EQ(m.tensor_bytes, 1283328u);
    EXPECT_EQ(result.gguf->tensors.size(), 47u);
}

TEST(Gguf, TruncatedTinyModelIsAClearError) {
    const std::string path = tiny_model("SWITCHYARD_TINY_MODEL", "tiny-llama.gguf");
    REQUIRE_FILE(path);
    std::ifstream in(path, std::ios::binary);
    std::stringstream all;
    all << in.rdbuf();
    const std::string bytes = all.str();
    // The header alone parses without the data, and is refused as a whole file.
    const auto header = read_file(path);
    ASSERT_TRUE(header.gguf);
    const std::string cut = bytes.substr(0, header.gguf->header_bytes);
    EXPECT_TRUE(parse(cut, false).gguf);
    const auto whole = parse(cut, true);
    EXPECT_FALSE(whole.gguf);
    EXPECT_NE(whole.error.find("truncated: tensor"), std::string::npos) << whole.error;
    // Every cut inside the header is an error, never a crash.
    for (std::size_t n = 0; n < header.gguf->header_bytes; n += 97) {
        const auto result = parse(std::string_view(bytes).substr(0, n), false);
        EXPECT_FALSE(result.gguf) << n;
        EXPECT_FALSE(result.error.empty());
    }
}

TEST(Gguf, EveryValueTypeAndVersion2) {
    for (std::uint32_t version : {2u, 3u}) {
        Builder b;
        b.header(version, 1, 14);
        b.str("a.u8").u32(0).u8(200);
        b.str("a.i8").u32(1).u8(0xff);
        b.str("a.u16").u32(2).u8(0x34).u8(0x12);
        b.str("a.i16").u32(3).u8(0xfe).u8(0xff);
        b.str("a.u32").u32(4).u32(70000);
        b.str("a.i32").u32(5).u32(0xfffffffd);
        b.str("a.f32").u32(6).f32(1.5f);
        b.str("a.bool").u32(7).u8(1);
        b.str("a.str").u32(8).str("hello");
        b.str("a.arr").u32(9).u32(4).u64(3).u32(1).u32(2).u32(3);
        b.str("a.u64").u32(10).u64(1ull << 40);
        b.str("a.i64").u32(11).u64(static_cast<std::uint64_t>(-5));
        b.str("a.f64").u32(12);
        double d = 2.25;
        b.bytes.append(reinterpret_cast<const char*>(&d), 8);
        b.str("a.nested").u32(9).u32(9).u64(2).u32(8).u64(1).str("x").u32(0).u64(0);
        b.tensor("w", {64, 2}, 12 /* q4_K? no: 256 elements a block */, 0);
        const auto refused = parse(b.bytes, false);
        ASSERT_FALSE(refused.gguf);
        EXPECT_NE(refused.error.find("not a multiple of the block size 256 of q4_K"), std::string::npos) << refused.error;

        Builder ok;
        ok.bytes = b.bytes.substr(0, b.bytes.size() - (8 + 1 + 4 + 16 + 4 + 8));
        ok.tensor("w", {512, 2}, 12, 0);
        const auto result = parse(ok.bytes, false);
        ASSERT_TRUE(result.gguf) << result.error;
        const Gguf& g = *result.gguf;
        EXPECT_EQ(g.version, version);
        EXPECT_EQ(g.find("a.u8")->text(), "200");
        EXPECT_EQ(g.find("a.i8")->text(), "-1");
        EXPECT_EQ(g.find("a.u16")->text(), "4660");
        EXPECT_EQ(g.find("a.i16")->text(), "-2");
        EXPECT_EQ(g.find("a.u32")->text(), "70000");
        EXPECT_EQ(g.find("a.i32")->text(), "-3");
        EXPECT_EQ(g.find("a.f32")->text(), "1.5");
        EXPECT_EQ(g.find("a.bool")->text(), "true");
        EXPECT_EQ(g.find("a.str")->text(), "\"hello\"");
        EXPECT_EQ(g.find("a.arr")->text(), "[uint32 x 3: 1, 2, 3]");
        EXPECT_EQ(g.find("a.u64")->text(), "1099511627776");
        EXPECT_EQ(g.find("a.i64")->text(), "-5");
        EXPECT_EQ(g.find("a.f64")->text(), "2.25");
        EXPECT_EQ(g.find("a.nested")->text(), "[array x 2: [string x 1: \"x\"], [uint8 x 0]]");
        ASSERT_EQ(g.tensors.size(), 1u);
        EXPECT_EQ(g.tensors[0].elements, 1024u);
        EXPECT_EQ(g.tensors[0].bytes, 4u * 144);  // 4 blocks of q4_K
        EXPECT_EQ(describe(g).quantization, "Q4_K");
    }
}

TEST(Gguf, MalformedHeadersAreClearErrors) {
    auto error_of = [](const std::string& bytes) {
        const auto result = parse(bytes, false);
        EXPECT_FALSE(result.gguf);
        return result.error;
    };
    EXPECT_NE(error_of("GGML\3\0\0\0").find("not a GGUF file"), std::string::npos);
    EXPECT_NE(error_of("").find("truncated"), std::string::npos);
    EXPECT_NE(error_of(Builder().header(1, 0, 0).bytes).find("version 1"), std::string::npos);
    EXPECT_NE(error_of(Builder().header(7, 0, 0).bytes).find("version 7 is not supported"), std::string::npos);
    EXPECT_NE(error_of(Builder().header(0x03000000, 0, 0).bytes).find("big-endian"), std::string::npos);
    // Absurd counts and lengths are refused before anything is allocated.
    EXPECT_NE(error_of(Builder().header(3, 0, 1ull << 60).bytes).find("metadata entries cannot fit"), std::string::npos);
    EXPECT_NE(error_of(Builder().header(3, ~0ull, 0).bytes).find("tensors cannot fit"), std::string::npos);
    EXPECT_NE(error_of(Builder().header(3, 0, 1).u64(~0ull).u64(0).u64(0).bytes).find("longer than the limit"), std::string::npos);
    EXPECT_NE(error_of(Builder().header(3, 0, 1).str("k").u32(9).u32(4).u64(1ull << 62).bytes).find("does not fit"),
              std::string::npos);
    EXPECT_NE(error_of(Builder().header(3, 0, 1).str("k").u32(8).u64(1000).bytes).find("truncated: string"),
              std::string::npos);
    EXPECT_NE(error_of(Builder().header(3, 0, 1).str("k").u32(13).u32(0).bytes).find("unknown value type 13"),
              std::string::npos);
    EXPECT_NE(error_of(Builder().header(3, 0, 1).str("k").u32(7).u8(2).bytes).find("a bool of value 2"), std::string::npos);
    EXPECT_NE(error_of(Builder().header(3, 0, 2).kv_u32("k", 1).kv_u32("k", 2).bytes).find("'k' appears twice"),
              std::string::npos);
    EXPECT_NE(error_of(Builder().header(3, 0, 1).str("general.alignment").u32(4).u32(48).bytes).find("power of two"),
              std::string::npos);
    // Arrays nested without end.
    Builder deep;
    deep.header(3, 0, 1).str("k").u32(9);
    for (int i = 0; i < 10; ++i) deep.u32(9).u64(1);
    EXPECT_NE(error_of(deep.bytes).find("nested deeper"), std::string::npos);
    // Tensors: dimensions, types, overflow, alignment, duplicates.
    auto tensor_error = [&](std::vector<std::uint64_t> dims, std::uint32_t type, std::uint64_t offset) {
        Builder b;
        b.header(3, 1, 0).tensor("t", std::move(dims), type, offset);
        b.bytes.append(64, '\0');
        return error_of(b.bytes);
    };
    EXPECT_NE(tensor_error({}, 0, 0).find("0 dimensions"), std::string::npos);
    EXPECT_NE(tensor_error({1, 1, 1, 1, 1}, 0, 0).find("5 dimensions"), std::string::npos);
    EXPECT_NE(tensor_error({4}, 4, 0).find("unknown ggml type 4"), std::string::npos);
    EXPECT_NE(tensor_error({1ull << 40, 1ull << 40}, 0, 0).find("more elements than 2^63"), std::string::npos);
    EXPECT_NE(tensor_error({4}, 0, 7).find("not a multiple of the alignment 32"), std::string::npos);
    EXPECT_NE(tensor_error({4}, 0, ~0ull - 31).find("ends past 2^64"), std::string::npos);
    Builder twice;
    twice.header(3, 2, 0).tensor("t", {4}, 0, 0).tensor("t", {4}, 0, 32);
    EXPECT_NE(error_of(twice.bytes).find("'t' appears twice"), std::string::npos);
}

TEST(Gguf, NotAFileIsAnError) {
    const auto missing = read_file("/nonexistent/model.gguf");
    EXPECT_FALSE(missing.gguf);
    EXPECT_NE(missing.error.find("cannot open /nonexistent/model.gguf"), std::string::npos);
    const auto dir = read_file("/tmp");
    EXPECT_FALSE(dir.gguf);
    EXPECT_NE(dir.error.find("not a regular file"), std::string::npos);
}

TEST(Gguf, PerLayerHeadCountsAndFileTypes) {
    Builder b;
    b.header(3, 0, 6).kv_str("general.architecture", "openelm").kv_u32("openelm.block_count", 3);
    b.str("openelm.attention.head_count_kv").u32(9).u32(4).u64(3).u32(2).u32(4).u32(6);
    b.kv_u32("openelm.attention.head_count", 8).kv_u32("openelm.embedding_length", 256).kv_u32("general.file_type", 15);
    const auto result = parse(b.bytes, false);
    ASSERT_TRUE(result.gguf) << result.error;
    const ModelInfo m = describe(*result.gguf);
    EXPECT_EQ(m.kv_heads, 6u);
    EXPECT_EQ(m.kv_heads_sum, 12u);
    EXPECT_EQ(m.key_length, 32u);
    EXPECT_EQ(m.quantization, "Q4_K_M");
    EXPECT_EQ(file_type_name(7), "Q8_0");
    EXPECT_EQ(file_type_name(4), "");
    ASSERT_NE(tensor_type(14), nullptr);
    EXPECT_EQ(tensor_type(14)->block_bytes, 210u);
    EXPECT_EQ(tensor_type(31), nullptr);
}

// --- The estimate -------------------------------------------------------------------------------

ModelInfo llama3_8b_q4_k_m() {
    ModelInfo m;  // Meta-Llama-3-8B-Instruct Q4_K_M as its GGUF header says
    m.architecture = "llama";
    m.tensor_bytes = 4'920'734'016ull;
    m.context_length = 8192;
    m.layers = 32;
    m.embedding = 4096;
    m.heads = 32;
    m.kv_heads = 8;
    m.kv_heads_sum = 8 * 32;
    m.key_length = m.value_length = 128;
    m.vocab = 128256;
    m.quantization = "Q4_K_M";
    return m;
}

TEST(Estimate, Llama3Formula) {
    const ModelInfo m = llama3_8b_q4_k_m();
    const Estimate e = estimate(m, read_shape({"llama-server", "-m", "x", "-c", "8192", "-np", "4"}));
    EXPECT_EQ(e.ctx, 8192u);
    EXPECT_EQ(e.slots, 4u);
    // llama.cpp prints "KV self size = 1024.00 MiB, K (f16): 512.00 MiB" for this model at 8192.
    EXPECT_EQ(e.kv, 1024ull << 20);
    // and a compute buffer of 258.50 MiB (the logits of a 512-token batch, mostly).
    EXPECT_NEAR(static_cast<double>(e.compute) / (1 << 20), 258.5, 1.0);
    const Estimate q8 = estimate(m, read_shape({"--ctx-size=8192", "-ctk", "q8_0", "--cache-type-v", "q4_0"}));
    EXPECT_EQ(q8.kv, (256ull << 20) * 34 / 32 + (256ull << 20) * 18 / 32);
    const Estimate model_ctx = estimate(m, read_shape({"-m", "x"}));
    EXPECT_EQ(model_ctx.ctx, 8192u);  // the model's own when -c is not given
    EXPECT_EQ(estimate(m, read_shape({"-c", "1000"})).ctx, 1024u);  // padded to 256
}

// Sliding-window attention: llama.cpp keeps only the window (and a batch) for those layers. The
// header says the window; which layers use it is the architecture's pattern, or the file's own.
TEST(Gguf, SlidingWindowLayersFromTheArchitecturesPatternOrTheFiles) {
    const auto info = [](std::string_view arch, std::uint32_t layers, std::optional<std::uint32_t> window,
                         std::vector<bool> pattern = {}, std::optional<std::uint32_t> shared_kv = std::nullopt) {
        Builder b;
        const std::string a(arch);
        b.header(3, 0, 4 + (window ? 1 : 0) + (pattern.empty() ? 0 : 1) + (shared_kv ? 1 : 0))
            .kv_str("general.architecture", a);
        b.kv_u32(a + ".block_count", layers).kv_u32(a + ".attention.head_count", 8).kv_u32(a + ".attention.head_count_kv", 4);
        if (window) b.kv_u32(a + ".attention.sliding_window", *window);
        if (shared_kv) b.kv_u32(a + ".attention.shared_kv_layers", *shared_kv);
        if (!pattern.empty()) {
            b.str(a + ".attention.sliding_window_pattern").u32(9).u32(7).u64(pattern.size());
            for (const bool swa : pattern) b.u8(swa ? 1 : 0);
        }
        const auto result = parse(b.bytes, false);
        EXPECT_TRUE(result.gguf) << result.error;
        return result.gguf ? describe(*result.gguf) : ModelInfo{};
    };
    // gemma3: 5 of every 6 layers on the window: 10 of 12 here.
    ModelInfo m = info("gemma3", 12, 1024);
    EXPECT_EQ(m.swa_window, 1024u);
    EXPECT_EQ(m.swa_layers, 10u);
    EXPECT_EQ(m.kv_heads_swa_sum, 40u);
    EXPECT_EQ(info("gemma3", 12, std::nullopt).swa_window, 0u);  // no window without the key
    // gemma2: every other layer, 4096 when the file says nothing.
    m = info("gemma2", 4, std::nullopt);
    EXPECT_EQ(m.swa_window, 4096u);
    EXPECT_EQ(m.swa_layers, 2u);
    // llama4: chunks of 8192 on 3 layers of 4, unless the file sets 0.
    EXPECT_EQ(info("llama4", 8, std::nullopt).swa_layers, 6u);
    EXPECT_EQ(info("llama4", 8, 0).swa_window, 0u);
    // The file's own pattern wins.
    m = info("gpt-oss", 4, 128, {true, true, true, false});
    EXPECT_EQ(m.swa_layers, 3u);
    EXPECT_EQ(info("llama", 8, 4096).swa_window, 0u);  // an architecture without sliding windows
    // An architecture not in the table, with the window and a flag per layer (granite-swa, mimo2,
    // step35...): as the file says; without the flags, no window.
    m = info("granite-swa", 4, 4096, {true, false, true, true});
    EXPECT_EQ(m.swa_window, 4096u);
    EXPECT_EQ(m.swa_layers, 3u);
    EXPECT_EQ(info("granite-swa", 4, 4096).swa_window, 0u);
    // exaone4: a window in the 64-layer model only (4096 unless the file says).
    EXPECT_EQ(info("exaone4", 30, 4096).swa_window, 0u);
    m = info("exaone4", 64, std::nullopt);
    EXPECT_EQ(m.swa_window, 4096u);
    EXPECT_EQ(m.swa_layers, 48u);
    // gemma3n: only its first 20 layers keep a KV cache (the others read theirs), 4 of 5 of them
    // on the window.
    m = info("gemma3n", 35, 512);
    EXPECT_EQ(m.kv_layers, 20u);
    EXPECT_EQ(m.kv_heads_sum, 20u * 4);
    EXPECT_EQ(m.swa_layers, 16u);
    EXPECT_EQ(m.kv_heads_swa_sum, 16u * 4);
    // gemma4: the file says how many of the last layers share.
    m = info("gemma4", 10, 1024, {true, true, true, true, false, true, true, true, true, false}, 4);
    EXPECT_EQ(m.kv_layers, 6u);
    EXPECT_EQ(m.kv_heads_sum, 24u);
    EXPECT_EQ(m.swa_layers, 5u);
    EXPECT_EQ(info("llama", 8, std::nullopt).kv_layers, 8u);
}

TEST(Estimate, SlidingWindowLayersKeepTheWindowNotTheContext) {
    ModelInfo m;  // gemma-3-27b: 62 layers, 16 KV heads of 128, a window of 1024 on 52 layers
    m.architecture = "gemma3";
    m.layers = 62;
    m.kv_heads = 16;
    m.kv_heads_sum = 16 * 62;
    m.swa_window = 1024;
    m.swa_layers = 52;
    m.kv_heads_swa_sum = 16 * 52;
    m.key_length = m.value_length = 128;
    const std::uint64_t per_layer_cell = 16 * 256 * 2;  // K and V, f16
    // One slot given: the window and a batch, padded: 1536 cells on the 52 layers.
    Estimate e = estimate(m, read_shape({"-c", "32768", "-np", "1"}));
    EXPECT_EQ(e.swa_ctx, 1536u);
    EXPECT_EQ(e.kv, 10 * 32768 * per_layer_cell + 52 * 1536 * per_layer_cell);
    // Slots left to llama-server: 4, unified, so the window is kept for each: 4 x 1024 + 512.
    e = estimate(m, read_shape({"-c", "32768"}));
    EXPECT_EQ(e.swa_ctx, 4608u);
    // Given slots and a unified cache, likewise; --swa-full keeps the whole context.
    EXPECT_EQ(estimate(m, read_shape({"-c", "32768", "-np", "2", "-kvu"})).swa_ctx, 2560u);
    e = estimate(m, read_shape({"-c", "32768", "-np", "2", "--swa-full"}));
    EXPECT_EQ(e.swa_ctx, 32768u);
    EXPECT_EQ(e.kv, 62 * 32768 * per_layer_cell);
    // Never more than the context.
    EXPECT_EQ(estimate(m, read_shape({"-c", "1024", "-np", "1"})).swa_ctx, 1024u);

    // The compute buffer: the logits of a batch (a vocabulary of 262,144) outweigh the attention's
    // f16 masks (32768 + 1536 cells x 512); with flash attention off the scores of a batch over the
    // whole context (x 32 heads, f32) outweigh them.
    m.vocab = 262144;
    m.embedding = 5376;
    m.heads = 32;
    e = estimate(m, read_shape({"-c", "32768", "-np", "1"}));
    EXPECT_EQ(e.compute, 4ull * 512 * (262144 + 5376));
    e = estimate(m, read_shape({"-c", "32768", "-np", "1", "-fa", "off"}));
    EXPECT_EQ(e.compute, (32768ull + 1536) * 512 * 4 + 32768ull * 512 * 32 * 4);
}

// A router engine holds, at worst, its --models-max largest models at once, each a llama-server
// with the router's command line, beside the router itself.
TEST(Estimate, ARouterIsItsLargestModelsLoadedAtOnce) {
    ModelInfo big = llama3_8b_q4_k_m();
    big.name = "big";
    ModelInfo small = big;
    small.name = "small";
    small.tensor_bytes = 1ull << 30;
    ModelInfo mid = big;
    mid.name = "mid";
    mid.tensor_bytes = 2ull << 30;
    const std::vector<ModelInfo> models{small, big, mid};
    const auto one = [&](const ModelInfo& m, const EngineShape& shape) { return estimate(m, shape, kHostOverhead).total(); };

    EngineShape shape = read_shape({"llama-server", "--models-dir", "/m", "-c", "8192", "--models-max", "2"});
    EXPECT_EQ(shape.models_max, 2u);
    std::vector<std::size_t> loaded;
    Estimate e = router_estimate(models, shape, kHostOverhead, &loaded);
    EXPECT_EQ(loaded, (std::vector<std::size_t>{1, 2}));  // big, then mid
    EXPECT_EQ(e.total(), kHostOverhead + one(big, shape) + one(mid, shape));
    EXPECT_EQ(e.weights, big.tensor_bytes + mid.tensor_bytes);
    EXPECT_EQ(e.ctx, 8192u);
    // The default (4) and 0 (no limit) load all three.
    shape = read_shape({"llama-server", "--models-dir", "/m", "-c", "8192"});
    EXPECT_EQ(router_estimate(models, shape, kHostOverhead).total(),
              kHostOverhead + one(big, shape) + one(mid, shape) + one(small, shape));
    shape.models_max = 0;
    EXPECT_EQ(router_estimate(models, shape, kHostOverhead, &loaded).weights,
              big.tensor_bytes + mid.tensor_bytes + small.tensor_bytes);
    EXPECT_EQ(loaded.size(), 3u);

    shape.models_max = 2;
    const std::string why = router_never_fits(models, {"s", "b", "m"}, shape, kHostOverhead, 4ull << 30, "the host");
    EXPECT_NE(why.find("needs 9.1 GiB with its 2 largest models loaded (--models-max 2) at ctx 8192: b 5.9 GiB, m 3.3 GiB; "
                       "the host has 4.0 GiB; try --models-max 1, a smaller ctx or smaller quantizations"),
              std::string::npos)
        << why;
}

TEST(Estimate, NeverFitsSaysWhatToTry) {
    const ModelInfo m = llama3_8b_q4_k_m();
    const EngineShape shape = read_shape({"-c", "65536", "-np", "4"});
    const std::string why = never_fits(m, shape, kDefaultOverhead, 8ull << 30, "GPU group 'gpu0'");
    EXPECT_NE(why.find("needs 12.9 GiB at ctx 65536 x 4 slots"), std::string::npos) << why;
    EXPECT_NE(why.find("GPU group 'gpu0' has 8.0 GiB; try ctx 16384 or a smaller quantization than Q4_K_M"),
              std::string::npos)
        << why;
}

TEST(Estimate, PlacementStopsLeastRecentlyUsedFirst) {
    const std::uint64_t gib = 1ull << 30;
    // Fits beside the others.
    EXPECT_TRUE(place(10 * gib, 2 * gib, {{0, 3 * gib, 5}, {1, 4 * gib, 1}}).now);
    // Never fits.
    EXPECT_TRUE(place(10 * gib, 11 * gib, {}).never);
    // Needs room: the least recently used goes first, and only as many as needed.
    auto p = place(10 * gib, 5 * gib, {{0, 3 * gib, 5}, {1, 4 * gib, 1}, {2, 2 * gib, 3}});
    EXPECT_FALSE(p.now);
    EXPECT_EQ(p.evict, (std::vector<std::size_t>{1}));
    p = place(10 * gib, 8 * gib, {{0, 3 * gib, 5}, {1, 4 * gib, 1}, {2, 2 * gib, 3}});
    EXPECT_EQ(p.evict, (std::vector<std::size_t>{1, 2, 0}));
    // One already stopping counts as gone once it exits: nothing more to stop, but wait.
    p = place(10 * gib, 5 * gib, {{0, 3 * gib, 5}, {1, 4 * gib, 1, true}});
    EXPECT_FALSE(p.now);
    EXPECT_TRUE(p.evict.empty());
}

TEST(Estimate, MemAvailable) {
    EXPECT_EQ(parse_mem_available("MemTotal:       32817612 kB\nMemFree:  1 kB\nMemAvailable:   24683212 kB\n"),
              std::optional<std::uint64_t>(24683212ull * 1024));
    EXPECT_FALSE(parse_mem_available("MemTotal: 1 kB\n"));
}

// --- The store --------------------------------------------------------------------------------

TEST(Store, SourcesAndSplitNames) {
    auto s = parse_source("hf:org/repo/sub/model-Q4_K_M.gguf");
    ASSERT_TRUE(s.ok()) << s.error;
    EXPECT_EQ(s.repo, "org/repo");
    EXPECT_EQ(s.file, "sub/model-Q4_K_M.gguf");
    s = parse_source("hf:org/repo:q4_k_m");
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s.quant, "q4_k_m");
    EXPECT_TRUE(s.file.empty());
    s = parse_source("https://example.com/a/b.gguf?download=true");
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s.url, "https://example.com/a/b.gguf?download=true");
    EXPECT_EQ(default_name(s), "b");
    EXPECT_FALSE(parse_source("hf:org").ok());
    EXPECT_FALSE(parse_source("ftp://x/y.gguf").ok());
    EXPECT_FALSE(parse_source("hf:org/repo/../x.gguf").ok());

    const auto split = split_part("Big-Q4_K_M-00002-of-00003.gguf");
    ASSERT_TRUE(split);
    EXPECT_EQ(split->stem, "Big-Q4_K_M");
    EXPECT_EQ(split->index, 2u);
    EXPECT_EQ(split->count, 3u);
    EXPECT_FALSE(split_part("model.gguf"));

    const std::vector<std::string> files{"README.md", "m-Q4_K_M.gguf", "m-Q8_0-00001-of-00002.gguf",
                                         "m-Q8_0-00002-of-00002.gguf", "m-Q4_K_S.gguf"};
    std::string why;
    EXPECT_EQ(choose_files(files, "q4_k_m", &why), (std::vector<std::string>{"m-Q4_K_M.gguf"}));
    EXPECT_EQ(choose_files(files, "Q8_0", &why),
              (std::vector<std::string>{"m-Q8_0-00001-of-00002.gguf", "m-Q8_0-00002-of-00002.gguf"}));
    EXPECT_TRUE(choose_files(files, "Q4", &why).empty());
    EXPECT_NE(why.find("m-Q4_K_M.gguf"), std::string::npos) << why;
    EXPECT_TRUE(choose_files(files, "Q2_K", &why).empty());
    EXPECT_NE(why.find("no .gguf file"), std::string::npos) << why;

    EXPECT_TRUE(valid_name("llama-3-8b.Q4_K_M"));
    EXPECT_FALSE(valid_name("../x"));
    EXPECT_FALSE(valid_name(""));
    EXPECT_FALSE(valid_name("a/b"));
}

TEST(Store, ListsResolvesAndRemoves) {
    const std::string path = tiny_model("SWITCHYARD_TINY_MODEL", "tiny-llama.gguf");
    REQUIRE_FILE(path);
    const auto dir = std::filesystem::temp_directory_path() / ("models-store-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::filesystem::copy_file(path, dir / "tiny.gguf");
    std::ofstream(dir / "half.gguf.partial") << "GGUF";
    std::ofstream(dir / "broken.gguf") << "not a model";
    const Store store(dir.string());
    const auto entries = store.list();
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].name, "broken");
    EXPECT_FALSE(entries[0].error.empty());
    EXPECT_EQ(entries[1].name, "tiny");
    EXPECT_EQ(entries[1].info.architecture, "llama");
    EXPECT_EQ(entries[1].bytes, std::filesystem::file_size(path));
    EXPECT_EQ(store.resolve("tiny"), (dir / "tiny.gguf").string());
    EXPECT_EQ(store.resolve("/abs/model.gguf"), "/abs/model.gguf");  // a path stays a path
    EXPECT_EQ(store.resolve("missing"), "missing");
    std::string why;
    EXPECT_TRUE(store.remove("tiny", &why)) << why;
    EXPECT_FALSE(std::filesystem::exists(dir / "tiny.gguf"));
    EXPECT_FALSE(store.remove("tiny", &why));
    EXPECT_NE(why.find("no model 'tiny'"), std::string::npos);
    std::filesystem::remove_all(dir);
}

TEST(Store, ASplitModelIsReadWithEveryPart) {
    const std::string path = tiny_model("SWITCHYARD_TINY_MODEL", "tiny-llama.gguf");
    REQUIRE_FILE(path);
    const auto dir = std::filesystem::temp_directory_path() / ("models-split-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::filesystem::copy_file(path, dir / "big-00001-of-00002.gguf");
    std::string why;
    EXPECT_FALSE(read_model((dir / "big-00001-of-00002.gguf").string(), &why));
    EXPECT_NE(why.find("big-00002-of-00002.gguf"), std::string::npos) << why;  // the missing part
    std::filesystem::copy_file(path, dir / "big-00002-of-00002.gguf");
    const auto info = read_model((dir / "big-00001-of-00002.gguf").string(), &why);
    ASSERT_TRUE(info) << why;
    EXPECT_EQ(info->tensor_bytes, 2u * 738048);
    EXPECT_EQ(info->parameters, 2u * 738048 / 4);
    const auto entry = Store(dir.string()).find("big");
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->paths.size(), 2u);
    EXPECT_EQ(entry->info.tensor_bytes, 2u * 738048);
    EXPECT_EQ(Store(dir.string()).resolve("big"), (dir / "big-00001-of-00002.gguf").string());
    std::filesystem::remove_all(dir);
}

TEST(Store, DefaultDirectory) {
    EXPECT_EQ(default_models_dir([](std::string_view k) -> std::optional<std::string> {
                  if (k == "SWITCHYARD_MODELS_DIR") return "/srv/models";
                  return std::nullopt;
              }),
              "/srv/models");
    EXPECT_EQ(default_models_dir([](std::string_view k) -> std::optional<std::string> {
                  if (k == "XDG_DATA_HOME") return "/x";
                  if (k == "HOME") return "/home/u";
                  return std::nullopt;
              }),
              "/x/switchyard/models");
    EXPECT_EQ(default_models_dir([](std::string_view k) -> std::optional<std::string> {
                  if (k == "HOME") return "/home/u";
                  return std::nullopt;
              }),
              "/home/u/.local/share/switchyard/models");
}

}  // namespace
}  // namespace switchyard::models
