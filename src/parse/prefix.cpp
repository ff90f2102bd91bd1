#include "parse/prefix.hpp"

namespace switchyard::parse {

std::uint64_t mix64(std::uint64_t x) {
    // splitmix64's finalizer
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed) {
    constexpr std::uint64_t k = 0x9e3779b97f4a7c15ULL;
    std::uint64_t h = seed ^ (bytes.size() * k);
    const char* p = bytes.data();
    std::size_t n = bytes.size();
    while (n >= 8) {
        std::uint64_t word;
        std::memcpy(&word, p, 8);
        h = (h ^ word) * k;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    if (n > 0) {
        std::uint64_t word = 0;
        std::memcpy(&word, p, n);
        h = (h ^ word) * k;
        h ^= h >> 29;
    }
    return mix64(h);
}

void PromptPrefix::add_message(std::string_view bytes, bool is_system) {
    // Blocks are stored unchained here (finish() chains them); index 0 is kept for the head.
    if (count == 0) count = 1;
    std::uint32_t end = count > 1 ? ends[count - 1] : 0;
    do {
        if (count >= kMaxBlocks) {
            truncated = true;
            return;
        }
        const std::string_view block = bytes.substr(0, kBlockBytes);
        bytes.remove_prefix(block.size());
        end += static_cast<std::uint32_t>(block.size());
        blocks[count] = hash_bytes(block, 0x5eed);
        ends[count] = end;
        ++count;
    } while (!bytes.empty());
    if (!is_system && first_turn == kMaxBlocks) first_turn = count - 1;
}

void PromptPrefix::set_key(std::string_view key) {
    if (key.empty()) return;
    session = hash_bytes(key, 0x6b6579) | 1;
    explicit_key = true;
}

void PromptPrefix::finish() {
    if (count == 0) count = 1;
    const bool has_head = head[0] != 0 || head[1] != 0;
    const std::uint32_t head_size = head_bytes[0] + head_bytes[1];
    std::uint64_t chain = mix64(head[0] * 31 + head[1] + 1);
    std::size_t out = 0;
    if (has_head) {
        blocks[0] = chain;
        ends[0] = head_size;
        out = 1;
    }
    const std::size_t first_turn_in = first_turn;
    first_turn = kMaxBlocks;
    for (std::size_t i = 1; i < count; ++i) {
        chain = mix64(chain ^ (blocks[i] + 0x9e3779b97f4a7c15ULL * i));
        blocks[out] = chain;
        ends[out] = ends[i] + head_size;
        if (i == first_turn_in) first_turn = out;
        ++out;
    }
    count = out;
    if (!explicit_key) session = first_turn < count ? (blocks[first_turn] | 1) : 0;
}

}  // namespace switchyard::parse
