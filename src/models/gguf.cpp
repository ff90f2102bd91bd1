#include "models/gguf.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <set>
#include <sstream>

namespace switchyard::models {

namespace {

constexpr std::uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr std::uint64_t kMaxString = 16u << 20;  // a chat template is a few KiB; a key a few bytes
constexpr std::uint64_t kMaxKey = 64u << 10;
constexpr std::size_t kMaxDims = 4;             // GGML_MAX_DIMS
constexpr std::size_t kMaxDepth = 3;            // arrays of arrays of arrays
constexpr std::size_t kKeptNumbers = 1024;      // per-layer values (head counts) fit

// ggml's type_traits (ggml/src/ggml.c): elements and bytes per block.
constexpr std::array<TensorType, 35> kTypes = {{
    {0, "f32", 1, 4},        {1, "f16", 1, 2},        {2, "q4_0", 32, 18},     {3, "q4_1", 32, 20},
    {6, "q5_0", 32, 22},     {7, "q5_1", 32, 24},     {8, "q8_0", 32, 34},     {9, "q8_1", 32, 36},
    {10, "q2_K", 256, 84},   {11, "q3_K", 256, 110},  {12, "q4_K", 256, 144},  {13, "q5_K", 256, 176},
    {14, "q6_K", 256, 210},  {15, "q8_K", 256, 292},  {16, "iq2_xxs", 256, 66}, {17, "iq2_xs", 256, 74},
    {18, "iq3_xxs", 256, 98}, {19, "iq1_s", 256, 50}, {20, "iq4_nl", 32, 18},  {21, "iq3_s", 256, 110},
    {22, "iq2_s", 256, 82},  {23, "iq4_xs", 256, 136}, {24, "i8", 1, 1},       {25, "i16", 1, 2},
    {26, "i32", 1, 4},       {27, "i64", 1, 8},       {28, "f64", 1, 8},       {29, "iq1_m", 256, 56},
    {30, "bf16", 1, 2},      {34, "tq1_0", 256, 54},  {35, "tq2_0", 256, 66},  {39, "mxfp4", 32, 17},
    {40, "nvfp4", 64, 36},   {41, "q1_0", 128, 18},   {42, "q2_0", 64, 18},
}};

// llama.h's llama_ftype.
constexpr std::array<std::pair<std::uint32_t, std::string_view>, 36> kFileTypes = {{
    {0, "F32"},      {1, "F16"},       {2, "Q4_0"},     {3, "Q4_1"},     {7, "Q8_0"},     {8, "Q5_0"},
    {9, "Q5_1"},     {10, "Q2_K"},     {11, "Q3_K_S"},  {12, "Q3_K_M"},  {13, "Q3_K_L"},  {14, "Q4_K_S"},
    {15, "Q4_K_M"},  {16, "Q5_K_S"},   {17, "Q5_K_M"},  {18, "Q6_K"},    {19, "IQ2_XXS"}, {20, "IQ2_XS"},
    {21, "Q2_K_S"},  {22, "IQ3_XS"},   {23, "IQ3_XXS"}, {24, "IQ1_S"},   {25, "IQ4_NL"},  {26, "IQ3_S"},
    {27, "IQ3_M"},   {28, "IQ2_S"},    {29, "IQ2_M"},   {30, "IQ4_XS"},  {31, "IQ1_M"},   {32, "BF16"},
    {36, "TQ1_0"},   {37, "TQ2_0"},    {38, "MXFP4_MOE"}, {39, "NVFP4"}, {40, "Q1_0"},    {41, "Q2_0"},
}};

// Bytes a value of `type` takes at least (a fixed size for scalars; a string's length field; an
// array's type and count), so that a count can be checked against the bytes left.
std::uint64_t min_size(ValueType type) {
    switch (type) {
        case ValueType::uint8: case ValueType::int8: case ValueType::boolean: return 1;
        case ValueType::uint16: case ValueType::int16: return 2;
        case ValueType::uint32: case ValueType::int32: case ValueType::float32: return 4;
        case ValueType::uint64: case ValueType::int64: case ValueType::float64: return 8;
        case ValueType::string: return 8;
        case ValueType::array: return 12;
    }
    return 1;
}
bool fixed_size(ValueType type) { return type != ValueType::string && type != ValueType::array; }
bool known(std::uint32_t type) { return type <= static_cast<std::uint32_t>(ValueType::float64); }

struct Failure {
    std::string message;
};

class Cursor {
public:
    Cursor(const ReadAt& read, std::uint64_t total) : read_(read), total_(total) {}

    std::uint64_t pos() const { return pos_; }
    std::uint64_t left() const { return total_ - pos_; }

    [[noreturn]] void fail(const std::string& what) const {
        throw Failure{what + " (at byte " + std::to_string(pos_) + ")"};
    }
    void need(std::uint64_t n, std::string_view what) const {
        if (n > left()) {
            fail("truncated: " + std::string(what) + " needs " + std::to_string(n) + " bytes, " +
                 std::to_string(left()) + " left");
        }
    }
    void bytes(char* out, std::size_t n, std::string_view what) {
        need(n, what);
        if (n > 0 && !read_(pos_, n, out)) fail("cannot read " + std::string(what));
        pos_ += n;
    }
    template <typename T>
    T number(std::string_view what) {
        T value{};
        char raw[sizeof(T)];
        bytes(raw, sizeof raw, what);
        std::memcpy(&value, raw, sizeof value);  // GGUF is little-endian, as are the machines we run on
        return value;
    }
    void skip(std::uint64_t n, std::string_view what) {
        need(n, what);
        pos_ += n;
    }
    std::string string(std::uint64_t limit, std::string_view what) {
        const auto length = number<std::uint64_t>(what);
        if (length > limit) fail(std::string(what) + " of " + std::to_string(length) + " bytes is longer than the limit of " + std::to_string(limit));
        need(length, what);
        std::string out(static_cast<std::size_t>(length), '\0');
        bytes(out.data(), out.size(), what);
        return out;
    }

private:
    const ReadAt& read_;
    std::uint64_t total_;
    std::uint64_t pos_ = 0;
};

Value read_value(Cursor& in, ValueType type, std::size_t depth);

std::shared_ptr<Array> read_array(Cursor& in, std::size_t depth) {
    if (depth >= kMaxDepth) in.fail("arrays nested deeper than " + std::to_string(kMaxDepth));
    auto array = std::make_shared<Array>();
    const auto element = in.number<std::uint32_t>("array element type");
    if (!known(element)) in.fail("unknown array element type " + std::to_string(element));
    array->element = static_cast<ValueType>(element);
    array->count = in.number<std::uint64_t>("array count");
    // Every element takes at least min_size bytes: a count beyond what is left cannot be right.
    if (array->count > in.left() / min_size(array->element)) {
        in.fail("array of " + std::to_string(array->count) + " " + std::string(to_string(array->element)) +
                " values does not fit in the " + std::to_string(in.left()) + " bytes left");
    }
    const std::size_t keep = fixed_size(array->element) ? kKeptNumbers : Array::kept_elements;
    std::uint64_t i = 0;
    for (; i < array->count && i < keep; ++i) array->head.push_back(read_value(in, array->element, depth + 1));
    if (i < array->count && fixed_size(array->element)) {
        in.skip((array->count - i) * min_size(array->element), "array values");
    } else {
        for (; i < array->count; ++i) {
            if (array->element == ValueType::string) {
                const auto length = in.number<std::uint64_t>("string length");
                if (length > kMaxString) in.fail("a string of " + std::to_string(length) + " bytes");
                in.skip(length, "string");
            } else {
                (void)read_array(in, depth + 1);  // an array of arrays: read and dropped
            }
        }
    }
    return array;
}

Value read_value(Cursor& in, ValueType type, std::size_t depth) {
    Value value;
    value.type = type;
    switch (type) {
        case ValueType::uint8: value.data = std::uint64_t{in.number<std::uint8_t>("uint8")}; break;
        case ValueType::int8: value.data = std::int64_t{in.number<std::int8_t>("int8")}; break;
        case ValueType::uint16: value.data = std::uint64_t{in.number<std::uint16_t>("uint16")}; break;
        case ValueType::int16: value.data = std::int64_t{in.number<std::int16_t>("int16")}; break;
        case ValueType::uint32: value.data = std::uint64_t{in.number<std::uint32_t>("uint32")}; break;
        case ValueType::int32: value.data = std::int64_t{in.number<std::int32_t>("int32")}; break;
        case ValueType::uint64: value.data = in.number<std::uint64_t>("uint64"); break;
        case ValueType::int64: value.data = in.number<std::int64_t>("int64"); break;
        case ValueType::float32: value.data = double{in.number<float>("float32")}; break;
        case ValueType::float64: value.data = in.number<double>("float64"); break;
        case ValueType::boolean: {
            const auto b = in.number<std::uint8_t>("bool");
            if (b > 1) in.fail("a bool of value " + std::to_string(b));
            value.data = b == 1;
            break;
        }
        case ValueType::string: value.data = in.string(kMaxString, "string"); break;
        case ValueType::array: value.data = read_array(in, depth); break;
    }
    return value;
}

void read_tensor(Cursor& in, Gguf& out, std::set<std::string>& names) {
    TensorInfo t;
    t.name = in.string(kMaxKey, "tensor name");
    if (!names.insert(t.name).second) in.fail("tensor '" + t.name + "' appears twice");
    const auto dims = in.number<std::uint32_t>("tensor dimension count");
    if (dims == 0 || dims > kMaxDims) {
        in.fail("tensor '" + t.name + "' has " + std::to_string(dims) + " dimensions (1 to 4 allowed)");
    }
    t.elements = 1;
    for (std::uint32_t d = 0; d < dims; ++d) {
        const auto n = in.number<std::uint64_t>("tensor dimension");
        if (n > static_cast<std::uint64_t>(INT64_MAX)) in.fail("tensor '" + t.name + "' has a dimension of " + std::to_string(n));
        t.dims.push_back(n);
        if (__builtin_mul_overflow(t.elements, n, &t.elements) || t.elements > static_cast<std::uint64_t>(INT64_MAX)) {
            in.fail("tensor '" + t.name + "' has more elements than 2^63");
        }
    }
    t.type = in.number<std::uint32_t>("tensor type");
    const TensorType* type = tensor_type(t.type);
    if (type == nullptr) in.fail("tensor '" + t.name + "' has unknown ggml type " + std::to_string(t.type));
    if (t.dims[0] % type->block_elements != 0) {
        in.fail("tensor '" + t.name + "' has a first dimension of " + std::to_string(t.dims[0]) +
                ", not a multiple of the block size " + std::to_string(type->block_elements) + " of " +
                std::string(type->name));
    }
    const std::uint64_t blocks = t.elements / type->block_elements;
    if (__builtin_mul_overflow(blocks, std::uint64_t{type->block_bytes}, &t.bytes)) {
        in.fail("tensor '" + t.name + "' is larger than 2^64 bytes");
    }
    t.offset = in.number<std::uint64_t>("tensor offset");
    out.tensors.push_back(std::move(t));
}

// "1.5 KiB"
std::string bytes_text(std::uint64_t n) {
    std::ostringstream out;
    out.precision(3);
    if (n >= (1ull << 30)) out << static_cast<double>(n) / (1ull << 30) << " GiB";
    else if (n >= (1ull << 20)) out << static_cast<double>(n) / (1ull << 20) << " MiB";
    else out << n << " bytes";
    return out.str();
}

}  // namespace

std::string_view to_string(ValueType type) {
    switch (type) {
        case ValueType::uint8: return "uint8";
        case ValueType::int8: return "int8";
        case ValueType::uint16: return "uint16";
        case ValueType::int16: return "int16";
        case ValueType::uint32: return "uint32";
        case ValueType::int32: return "int32";
        case ValueType::float32: return "float32";
        case ValueType::boolean: return "bool";
        case ValueType::string: return "string";
        case ValueType::array: return "array";
        case ValueType::uint64: return "uint64";
        case ValueType::int64: return "int64";
        case ValueType::float64: return "float64";
    }
    return "?";
}

const TensorType* tensor_type(std::uint32_t id) {
    for (const auto& type : kTypes) {
        if (type.id == id) return &type;
    }
    return nullptr;
}

std::string_view file_type_name(std::uint64_t file_type) {
    for (const auto& [id, name] : kFileTypes) {
        if (id == file_type) return name;
    }
    return {};
}

std::optional<std::uint64_t> Value::as_uint() const {
    if (const auto* u = std::get_if<std::uint64_t>(&data)) return *u;
    if (const auto* i = std::get_if<std::int64_t>(&data); i && *i >= 0) return static_cast<std::uint64_t>(*i);
    return std::nullopt;
}
const std::string* Value::as_string() const { return std::get_if<std::string>(&data); }
const Array* Value::as_array() const {
    const auto* a = std::get_if<std::shared_ptr<Array>>(&data);
    return a ? a->get() : nullptr;
}

std::string Value::text(std::size_t max_chars) const {
    if (const auto* u = std::get_if<std::uint64_t>(&data)) return std::to_string(*u);
    if (const auto* i = std::get_if<std::int64_t>(&data)) return std::to_string(*i);
    if (const auto* d = std::get_if<double>(&data)) {
        std::ostringstream out;
        out << *d;
        return out.str();
    }
    if (const auto* b = std::get_if<bool>(&data)) return *b ? "true" : "false";
    if (const auto* s = std::get_if<std::string>(&data)) {
        std::string out = "\"";
        for (const char c : *s) {
            if (out.size() >= max_chars) {
                out += "...\" (" + std::to_string(s->size()) + " bytes)";
                return out;
            }
            if (c == '\n') out += "\\n";
            else if (c == '"') out += "\\\"";
            else if (static_cast<unsigned char>(c) < 0x20) out += ' ';
            else out += c;
        }
        return out + "\"";
    }
    const Array* array = as_array();
    std::string out = "[" + std::string(to_string(array->element)) + " x " + std::to_string(array->count);
    if (array->count > 0) out += ":";
    std::size_t shown = 0;
    for (const auto& item : array->head) {
        const std::string piece = " " + item.text(24);
        if (out.size() + piece.size() > max_chars || shown == 8) {
            out += " ...";
            return out + "]";
        }
        out += piece + (shown + 1 < array->count ? "," : "");
        ++shown;
    }
    if (shown < array->count) out += " ...";
    return out + "]";
}

const Value* Gguf::find(std::string_view key) const {
    for (const auto& [k, v] : metadata) {
        if (k == key) return &v;
    }
    return nullptr;
}
std::optional<std::uint64_t> Gguf::uint(std::string_view key) const {
    const Value* v = find(key);
    return v ? v->as_uint() : std::nullopt;
}
std::optional<std::string> Gguf::string(std::string_view key) const {
    const Value* v = find(key);
    const std::string* s = v ? v->as_string() : nullptr;
    return s ? std::optional<std::string>(*s) : std::nullopt;
}

ParseResult parse(const ReadAt& read, std::uint64_t total_size, bool check_data) {
    ParseResult result;
    Cursor in(read, total_size);
    try {
        Gguf g;
        const auto magic = in.number<std::uint32_t>("magic");
        if (magic != kMagic) {
            in.fail("not a GGUF file: the magic is not \"GGUF\"");
        }
        g.version = in.number<std::uint32_t>("version");
        if (g.version == 1) in.fail("GGUF version 1 (files from before August 2023) is not supported");
        if ((g.version & 0xffff) == 0 && g.version != 0) in.fail("a big-endian GGUF file is not supported");
        if (g.version < 2 || g.version > 3) in.fail("GGUF version " + std::to_string(g.version) + " is not supported (2 and 3 are)");
        const auto tensor_count = in.number<std::uint64_t>("tensor count");
        const auto kv_count = in.number<std::uint64_t>("metadata count");
        // The smallest key/value is 13 bytes (length, type, one byte); the smallest tensor info 32.
        if (kv_count > in.left() / 13) {
            in.fail(std::to_string(kv_count) + " metadata entries cannot fit in the " + std::to_string(in.left()) + " bytes left");
        }
        if (tensor_count > in.left() / 32) {
            in.fail(std::to_string(tensor_count) + " tensors cannot fit in the " + std::to_string(in.left()) + " bytes left");
        }
        std::set<std::string> keys;
        for (std::uint64_t i = 0; i < kv_count; ++i) {
            std::string key = in.string(kMaxKey, "metadata key");
            if (!keys.insert(key).second) in.fail("metadata key '" + key + "' appears twice");
            const auto type = in.number<std::uint32_t>("value type");
            if (!known(type)) in.fail("metadata key '" + key + "' has unknown value type " + std::to_string(type));
            Value value = read_value(in, static_cast<ValueType>(type), 0);
            g.metadata.emplace_back(std::move(key), std::move(value));
        }
        if (const Value* alignment = g.find("general.alignment")) {
            const auto a = alignment->as_uint();
            if (alignment->type != ValueType::uint32 || !a || *a == 0 || (*a & (*a - 1)) != 0) {
                in.fail("general.alignment must be a uint32 power of two");
            }
            g.alignment = *a;
        }
        std::set<std::string> names;
        for (std::uint64_t i = 0; i < tensor_count; ++i) read_tensor(in, g, names);
        g.header_bytes = in.pos();
        g.data_offset = (in.pos() + g.alignment - 1) / g.alignment * g.alignment;
        for (const auto& t : g.tensors) {
            if (t.offset % g.alignment != 0) {
                in.fail("tensor '" + t.name + "' has offset " + std::to_string(t.offset) + ", not a multiple of the alignment " +
                        std::to_string(g.alignment));
            }
            std::uint64_t end = 0;
            if (__builtin_add_overflow(t.offset, t.bytes, &end) || __builtin_add_overflow(end, g.data_offset, &end)) {
                in.fail("tensor '" + t.name + "' ends past 2^64");
            }
            if (check_data && end > total_size) {
                in.fail("truncated: tensor '" + t.name + "' (" + bytes_text(t.bytes) + ") ends at byte " +
                        std::to_string(end) + " of a " + std::to_string(total_size) + "-byte file");
            }
        }
        result.gguf = std::move(g);
    } catch (const Failure& failure) {
        result.error = failure.message;
    }
    return result;
}

ParseResult parse(std::string_view bytes, bool check_data) {
    const ReadAt read = [bytes](std::uint64_t offset, std::size_t size, char* out) {
        if (offset > bytes.size() || size > bytes.size() - offset) return false;
        std::memcpy(out, bytes.data() + offset, size);
        return true;
    };
    return parse(read, bytes.size(), check_data);
}

ParseResult read_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {std::nullopt, "cannot open " + path + ": " + std::strerror(errno)};
    struct stat info {};
    if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        ::close(fd);
        return {std::nullopt, path + " is not a regular file"};
    }
    // One window of the file at a time: the header is read front to back in small pieces.
    constexpr std::size_t window_bytes = 1 << 20;
    std::string window;
    std::uint64_t window_at = 0;
    const ReadAt read = [&](std::uint64_t offset, std::size_t size, char* out) {
        if (offset < window_at || offset + size > window_at + window.size()) {
            window.resize(std::max(size, window_bytes));
            std::size_t got = 0;
            while (got < window.size()) {
                const ssize_t n = ::pread(fd, window.data() + got, window.size() - got, static_cast<off_t>(offset + got));
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) break;
                got += static_cast<std::size_t>(n);
            }
            window.resize(got);
            window_at = offset;
            if (got < size) return false;
        }
        std::memcpy(out, window.data() + (offset - window_at), size);
        return true;
    };
    ParseResult result = parse(read, static_cast<std::uint64_t>(info.st_size), true);
    ::close(fd);
    if (!result.gguf) result.error = path + ": " + result.error;
    return result;
}

namespace {

// Sliding-window attention as llama.cpp reads it (src/models/<arch>.cpp of the release that
// scripts/setup builds): the layers that use the window follow a pattern of n_pattern (every
// n-th layer attends to everything: the last of each group, or the first with dense_first),
// unless the file gives <arch>.attention.sliding_window_pattern (a count, or one bool per layer).
// The window is <arch>.attention.sliding_window, else the default (`needs_key`: no window without
// the key); llama4's chunked attention is 8192 tokens unless the key says 0; exaone4 has a window
// in its 64-layer model only; smallthinker's is 4096 whenever the key is there. An architecture
// not in the table whose file gives the window and one bool per layer (granite-swa, mimo2, step35,
// gemma4...) uses them, as llama.cpp reads them; any other attends to everything in every layer.
struct SwaRule {
    std::string_view arch;
    std::uint64_t pattern;
    std::uint64_t default_window;
    bool needs_key;
    bool dense_first;
};
constexpr SwaRule kSwaRules[] = {
    {"gemma2", 2, 4096, false, false},   {"gemma3", 6, 0, true, false},       {"cohere2", 4, 0, false, false},
    {"cohere2moe", 4, 0, false, true},   {"gpt-oss", 2, 0, false, false},     {"olmo2", 4, 0, true, false},
    {"llama4", 4, 8192, false, false},   {"gemma3n", 5, 0, true, false},      {"exaone4", 4, 4096, false, false},
    {"exaone-moe", 4, 128, false, false}, {"plamo3", 8, 0, true, false},      {"mellum", 4, 0, true, false},
    {"afmoe", 4, 0, true, false},        {"smallthinker", 4, 0, true, true},  {"laguna", 4, 0, true, true},
    {"muse-glimmer", 4, 0, true, false},
};

// Which layers use the sliding window (empty: none).
std::vector<bool> swa_layers(const Gguf& g, const ModelInfo& m, std::uint64_t& window) {
    window = 0;
    const SwaRule* rule = nullptr;
    for (const auto& r : kSwaRules) {
        if (m.architecture == r.arch) rule = &r;
    }
    if (m.layers == 0) return {};
    const std::string a = m.architecture + ".";
    const auto key = g.uint(a + "attention.sliding_window");
    const Value* given = g.find(a + "attention.sliding_window_pattern");
    std::vector<bool> swa(m.layers, false);
    // One flag per layer, as the file says; false when it says something else.
    const auto per_layer = [&] {
        const Array* layers = given != nullptr ? given->as_array() : nullptr;
        if (layers == nullptr || layers->head.size() != m.layers) return false;
        for (std::size_t il = 0; il < m.layers; ++il) {
            const auto* flag = std::get_if<bool>(&layers->head[il].data);
            swa[il] = flag != nullptr ? *flag : layers->head[il].as_uint().value_or(0) != 0;
        }
        return true;
    };
    if (rule == nullptr) {
        window = key.value_or(0);
        if (window == 0 || !per_layer()) {
            window = 0;
            return {};
        }
        return swa;
    }
    if (rule->arch == "llama4") {
        if (key && *key == 0) return {};
        window = rule->default_window;
    } else if (rule->arch == "exaone4") {
        window = m.layers == 64 ? key.value_or(rule->default_window) : 0;
    } else if (rule->arch == "smallthinker") {
        window = key && *key > 0 ? 4096 : 0;
    } else if (rule->needs_key) {
        window = key.value_or(0);
    } else {
        window = key && *key > 0 ? *key : rule->default_window;
    }
    if (window == 0) return {};
    std::uint64_t pattern = rule->pattern;
    if (given != nullptr) {
        if (per_layer()) return swa;
        pattern = given->as_uint().value_or(pattern);
    }
    for (std::uint64_t il = 0; il < m.layers; ++il) {
        swa[il] = pattern == 0 || (rule->dense_first ? il % pattern != 0 : il % pattern < pattern - 1);
    }
    return swa;
}

}  // namespace

ModelInfo describe(const Gguf& g) {
    ModelInfo m;
    m.architecture = g.string("general.architecture").value_or("");
    m.name = g.string("general.name").value_or("");
    std::map<std::uint32_t, std::uint64_t> bytes_by_type;
    for (const auto& t : g.tensors) {
        m.parameters += t.elements;
        m.tensor_bytes += t.bytes;
        if (t.dims.size() >= 2) bytes_by_type[t.type] += t.bytes;
    }
    if (const auto ft = g.uint("general.file_type"); ft && !file_type_name(*ft).empty()) {
        m.quantization = std::string(file_type_name(*ft));
    } else if (!bytes_by_type.empty()) {
        const auto most = std::max_element(bytes_by_type.begin(), bytes_by_type.end(),
                                           [](const auto& a, const auto& b) { return a.second < b.second; });
        std::string name(tensor_type(most->first)->name);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
        m.quantization = name;
    }
    const std::string a = m.architecture + ".";
    m.context_length = g.uint(a + "context_length").value_or(0);
    m.layers = g.uint(a + "block_count").value_or(0);
    m.embedding = g.uint(a + "embedding_length").value_or(0);
    m.experts = g.uint(a + "expert_count").value_or(0);
    // Head counts are a number, or an array with one per layer (OpenELM, some hybrids).
    auto per_layer = [&](const std::string& key, std::uint64_t& most, std::uint64_t& sum) {
        const Value* v = g.find(key);
        if (v == nullptr) return false;
        if (const auto n = v->as_uint()) {
            most = *n;
            sum = *n * m.layers;
            return true;
        }
        const Array* array = v->as_array();
        if (array == nullptr) return false;
        most = sum = 0;
        for (const auto& item : array->head) {
            const auto n = item.as_uint().value_or(0);
            most = std::max(most, n);
            sum += n;
        }
        return true;
    };
    std::uint64_t heads_sum = 0;
    per_layer(a + "attention.head_count", m.heads, heads_sum);
    if (!per_layer(a + "attention.head_count_kv", m.kv_heads, m.kv_heads_sum)) {
        m.kv_heads = m.heads;
        m.kv_heads_sum = heads_sum;
    }
    // Layers that keep no KV cache of their own (they read an earlier layer's): gemma3n's after
    // its 20th, gemma4's last `shared_kv_layers`, as llama.cpp's has_kv() says.
    const Value* per = g.find(a + "attention.head_count_kv");
    const Array* kv_array = per != nullptr ? per->as_array() : nullptr;
    const auto kv_heads_of = [&](std::size_t il) {
        return kv_array != nullptr && il < kv_array->head.size() ? kv_array->head[il].as_uint().value_or(0) : m.kv_heads;
    };
    m.kv_layers = m.layers;
    if (m.architecture == "gemma3n") {
        m.kv_layers = std::min<std::uint64_t>(m.layers, 20);
    } else if (const auto shared = g.uint(a + "attention.shared_kv_layers"); shared && *shared < m.layers) {
        m.kv_layers = m.layers - *shared;
    }
    if (m.kv_layers < m.layers) {
        m.kv_heads_sum = 0;
        for (std::size_t il = 0; il < m.kv_layers; ++il) m.kv_heads_sum += kv_heads_of(il);
    }
    const std::vector<bool> swa = swa_layers(g, m, m.swa_window);
    if (!swa.empty()) {
        for (std::size_t il = 0; il < std::min<std::size_t>(swa.size(), m.kv_layers); ++il) {
            if (!swa[il]) continue;
            ++m.swa_layers;
            m.kv_heads_swa_sum += kv_heads_of(il);
        }
    }
    const std::uint64_t head_dim = m.heads > 0 ? m.embedding / m.heads : 0;
    m.key_length = g.uint(a + "attention.key_length").value_or(head_dim);
    m.value_length = g.uint(a + "attention.value_length").value_or(head_dim);
    if (const Value* tokens = g.find("tokenizer.ggml.tokens"); tokens && tokens->as_array()) {
        m.vocab = tokens->as_array()->count;
    }
    m.chat_template = g.find("tokenizer.chat_template") != nullptr;
    m.split_count = g.uint("split.count").value_or(0);
    return m;
}

}  // namespace switchyard::models
