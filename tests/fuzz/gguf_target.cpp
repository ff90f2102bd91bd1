// The fuzz target of our GGUF header reader (src/models/gguf.cpp); targets.hpp says what it checks.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "models/gguf.hpp"
#include "targets.hpp"

namespace switchyard::fuzz {

namespace {

[[noreturn]] void violated(const std::string& what, std::string_view input) {
    std::fprintf(stderr, "fuzz property violated: %s\ninput: %zu bytes, first %02x\n", what.c_str(), input.size(),
                 input.empty() ? 0u : static_cast<unsigned char>(input[0]));
    std::abort();
}

// A summary of a parse to compare two readings by: the error, or every key, value and tensor.
std::string summary(const models::ParseResult& result) {
    if (!result.gguf) return "error: " + result.error;
    std::string out = "v" + std::to_string(result.gguf->version) + " data@" + std::to_string(result.gguf->data_offset);
    for (const auto& [key, value] : result.gguf->metadata) out += "\n" + key + "=" + value.text(200);
    for (const auto& t : result.gguf->tensors) {
        out += "\n" + t.name + " " + std::to_string(t.type) + " " + std::to_string(t.elements) + " @" + std::to_string(t.offset);
    }
    return out;
}

void check_array(const models::Value& value, std::string_view input) {
    const models::Array* array = value.as_array();
    if (array == nullptr) return;
    if (array->head.size() > array->count) violated("an array holds more values than its count", input);
    for (const auto& item : array->head) {
        if (item.type != array->element) violated("an array value of another type than the array's", input);
        check_array(item, input);
    }
}

}  // namespace

void gguf_header(std::string_view input) {
    const models::ParseResult header = models::parse(input, false);
    const models::ParseResult whole = models::parse(input, true);
    if (!header.gguf && header.error.empty()) violated("a refusal without a reason", input);
    if (whole.gguf && !header.gguf) violated("accepted as a whole file but not as a header", input);
    // Small windows at offsets the bytes pick, as read_file reads a file.
    const std::size_t window = 1 + (input.empty() ? 0 : static_cast<unsigned char>(input.back()) % 61);
    const models::ReadAt windowed = [&](std::uint64_t offset, std::size_t size, char* out) {
        for (std::size_t done = 0; done < size;) {
            if (offset + done >= input.size()) return false;
            const std::size_t n = std::min({window, size - done, input.size() - static_cast<std::size_t>(offset + done)});
            std::memcpy(out + done, input.data() + offset + done, n);
            done += n;
        }
        return true;
    };
    const models::ParseResult again = models::parse(windowed, input.size(), false);
    if (summary(again) != summary(header)) {
        violated("read in windows of " + std::to_string(window) + " bytes, the header reads otherwise:\n" + summary(again) +
                     "\nversus\n" + summary(header),
                 input);
    }
    if (!header.gguf) return;
    const models::Gguf& g = *header.gguf;
    if (g.header_bytes > input.size()) violated("the header is longer than the input", input);
    if (g.data_offset < g.header_bytes || g.data_offset % g.alignment != 0) violated("a misplaced data offset", input);
    for (const auto& t : g.tensors) {
        const models::TensorType* type = models::tensor_type(t.type);
        if (type == nullptr) violated("a tensor of an unknown type accepted", input);
        std::uint64_t elements = 1;
        for (auto d : t.dims) elements *= d;
        if (elements != t.elements || t.bytes != t.elements / type->block_elements * type->block_bytes ||
            t.elements % type->block_elements != 0) {
            violated("tensor '" + t.name + "' sizes do not add up", input);
        }
    }
    for (const auto& [key, value] : g.metadata) check_array(value, input);
    (void)models::describe(g);
}

}  // namespace switchyard::fuzz
