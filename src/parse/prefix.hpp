// The identity of a request's prompt prefix, for prefix-cache affinity (route: prefix-affinity).
// The parse stage hashes the whole rendered conversation as it reads the body: a head block for
// what engines render first (tools, then the system prompt or instructions), then each message in
// turn, long messages cut into fixed byte blocks. Block hashes are chained (each covers everything
// before it), so two requests share block i exactly when (barring hash collisions) their prompts
// agree up to its end. At most kMaxBlocks blocks are kept, in a fixed buffer: no allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace switchyard::parse {

struct PromptPrefix {
    static constexpr std::size_t kMaxBlocks = 64;
    static constexpr std::size_t kBlockBytes = 2048;  // a long message's blocks

    std::array<std::uint64_t, kMaxBlocks> blocks{};  // chained hashes, first block first
    std::array<std::uint32_t, kMaxBlocks> ends{};    // prompt bytes up to the end of each block
    std::size_t count = 0;
    // The session: an explicit affinity key's hash (prompt_cache_key, Anthropic metadata.user_id,
    // the x-session-id header), else the chained hash through the first message that is not a
    // system or developer message; 0: none. Sent to the same replica by rendezvous hashing on a
    // session's first turn, so that gateway instances agree without sharing their indexes.
    std::uint64_t session = 0;
    bool explicit_key = false;

    // Filled while parsing (see request.cpp), then chained by finish().
    std::array<std::uint64_t, 2> head{};  // tools; system or instructions (0: absent)
    std::array<std::uint32_t, 2> head_bytes{};
    std::size_t first_turn = kMaxBlocks;  // the last block of the first non-system message
    bool truncated = false;               // more blocks than kMaxBlocks (the rest is not identified)

    // A message's bytes (its JSON as sent), cut into blocks; `system` marks a system message.
    void add_message(std::string_view bytes, bool is_system);
    // Chains the blocks, head first, and sets `session` (unless an explicit key did).
    void finish();
    void set_key(std::string_view key);
};

// A fast 64-bit hash of bytes, eight at a time (not cryptographic; collisions cost only a worse
// routing choice).
std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed = 0);
std::uint64_t mix64(std::uint64_t x);

}  // namespace switchyard::parse
