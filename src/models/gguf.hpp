// A reader of GGUF model headers (llama.cpp's file format, versions 2 and 3): the metadata
// key/values of every type, arrays included, and the tensor infos with their ggml types and sizes.
// It reads only the header region, never the weights; every count and length is checked against
// the bytes that remain before anything is allocated, so a truncated or hostile file gives an
// error value, never a crash or a huge allocation. Pure apart from read_file().
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace switchyard::models {

// GGUF's metadata value types (gguf_type).
enum class ValueType : std::uint32_t {
    uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, boolean = 7,
    string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12,
};
std::string_view to_string(ValueType type);

struct Array;
// One metadata value. Integers keep their sign apart (uint64_t or int64_t) whatever their width.
struct Value {
    ValueType type = ValueType::uint8;
    std::variant<std::uint64_t, std::int64_t, double, bool, std::string, std::shared_ptr<Array>> data;

    std::optional<std::uint64_t> as_uint() const;  // a non-negative integer of any width
    const std::string* as_string() const;
    const Array* as_array() const;
    // As `show` prints it: numbers, quoted strings (long ones cut), arrays summarized.
    std::string text(std::size_t max_chars = 80) const;
};
// An array keeps its element type and count, but only its first `kept_elements` values: a
// tokenizer's 150,000 tokens are summarized, not held.
struct Array {
    static constexpr std::size_t kept_elements = 16;
    ValueType element = ValueType::uint8;
    std::uint64_t count = 0;
    std::vector<Value> head;
};

// ggml tensor types: name, elements per block and bytes per block (ggml's type_traits).
struct TensorType {
    std::uint32_t id = 0;
    std::string_view name;  // "f16", "q4_K"...
    std::uint32_t block_elements = 0;
    std::uint32_t block_bytes = 0;
};
const TensorType* tensor_type(std::uint32_t id);  // nullptr: unknown or removed

struct TensorInfo {
    std::string name;
    std::vector<std::uint64_t> dims;
    std::uint32_t type = 0;
    std::uint64_t offset = 0;    // within the data section
    std::uint64_t elements = 0;  // product of dims
    std::uint64_t bytes = 0;     // elements / block_elements * block_bytes
};

struct Gguf {
    std::uint32_t version = 0;
    std::vector<std::pair<std::string, Value>> metadata;  // in file order
    std::vector<TensorInfo> tensors;
    std::uint64_t alignment = 32;
    std::uint64_t data_offset = 0;  // where the tensor data begins (aligned)
    std::uint64_t header_bytes = 0;  // bytes read for the header (before the alignment padding)

    const Value* find(std::string_view key) const;
    std::optional<std::uint64_t> uint(std::string_view key) const;
    std::optional<std::string> string(std::string_view key) const;
};

// Random access to the file's bytes: fills `out` with `size` bytes at `offset`; false when they are
// not there (past the end).
using ReadAt = std::function<bool(std::uint64_t offset, std::size_t size, char* out)>;

struct ParseResult {
    std::optional<Gguf> gguf;
    std::string error;  // when !gguf: what is wrong and at which byte offset
};

// The header of a GGUF of `total_size` bytes read through `read`. With `check_data`, every
// tensor's data must also lie within `total_size` (a whole file); without, only the header need be
// there (a header cut from a file).
ParseResult parse(const ReadAt& read, std::uint64_t total_size, bool check_data);
ParseResult parse(std::string_view bytes, bool check_data);
// The header of the file at `path`, read in chunks (the weights are not read).
ParseResult read_file(const std::string& path);

// What `list`, `show` and the memory estimate want to know of a model.
struct ModelInfo {
    std::string architecture;  // general.architecture
    std::string name;          // general.name
    std::uint64_t parameters = 0;    // elements of every tensor
    std::uint64_t tensor_bytes = 0;  // bytes of every tensor's data
    std::string quantization;        // from general.file_type ("Q4_K_M"), else the commonest tensor type
    std::uint64_t context_length = 0;
    std::uint64_t layers = 0;        // <arch>.block_count
    std::uint64_t embedding = 0;     // <arch>.embedding_length
    std::uint64_t heads = 0;         // <arch>.attention.head_count
    std::uint64_t kv_heads = 0;      // <arch>.attention.head_count_kv (heads when absent; max over layers)
    std::uint64_t kv_heads_sum = 0;  // over the layers with a KV cache (a per-layer array), else x kv_heads
    std::uint64_t kv_layers = 0;     // layers with a KV cache of their own (others share one: gemma3n, gemma4)
    // Sliding-window attention (llama.cpp's iSWA cache), for the architectures that have it:
    // the window in tokens (0: none) and the KV heads of the layers that use it (of kv_heads_sum).
    std::uint64_t swa_window = 0;
    std::uint64_t swa_layers = 0;
    std::uint64_t kv_heads_swa_sum = 0;
    std::uint64_t key_length = 0;    // per head; embedding / heads when absent
    std::uint64_t value_length = 0;
    std::uint64_t experts = 0;       // <arch>.expert_count
    std::uint64_t vocab = 0;         // tokenizer.ggml.tokens' count
    bool chat_template = false;      // tokenizer.chat_template present
    std::uint64_t split_count = 0;   // split.count (a file of a split model), 0 otherwise
};
ModelInfo describe(const Gguf& gguf);

// llama.cpp's file type names (LLAMA_FTYPE_MOSTLY_Q4_K_M = 15 -> "Q4_K_M"); empty when unknown.
std::string_view file_type_name(std::uint64_t file_type);

}  // namespace switchyard::models
