// What the router sent one deployment lately, as chained prompt-block hashes (parse/prefix.hpp):
// an approximation of the prefixes its engine still holds in its KV and prompt caches, for the
// prefix-affinity strategy. Bounded in entries (memory: 32 bytes each, allocated on first use up
// to the bound) and in the prompt bytes the entries stand for (the engine's cache capacity); the
// least recently routed block goes first, as an engine's LRU eviction would, and a block not
// routed for `idle` counts as gone. A request's blocks are refreshed last to first, so a prefix
// outlives the turns that extend it. Forgotten whole when the engine restarts (see Router).
// Thread-safe (one lock); time is the caller's (the router's injected clock).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "core/clock.hpp"

namespace switchyard::route {

struct PrefixBounds {
    std::size_t entries = 65536;
    std::size_t bytes = 64u << 20;  // prompt bytes
    std::chrono::nanoseconds idle = std::chrono::minutes(30);
};

class PrefixIndex {
public:
    explicit PrefixIndex(PrefixBounds bounds = {});

    // Prompt bytes of the longest prefix of `blocks` held (0: none). `ends[i]`: the bytes through block i.
    std::uint32_t match(std::span<const std::uint64_t> blocks, std::span<const std::uint32_t> ends,
                        SteadyTime now) const;
    // The request was sent here: its blocks become the most recently used.
    void insert(std::span<const std::uint64_t> blocks, std::span<const std::uint32_t> ends, SteadyTime now);
    void clear();
    // clear() when it holds anything (cheap otherwise).
    void forget() {
        if (size_.load(std::memory_order_relaxed) > 0) clear();
    }
    std::size_t size() const { return size_.load(std::memory_order_relaxed); }
    std::size_t bytes() const;
    std::size_t memory() const;  // bytes of memory it uses now
    const PrefixBounds& bounds() const { return bounds_; }

private:
    static constexpr std::uint32_t kNone = 0xffffffffu;
    struct Node {
        std::uint64_t key = 0;
        SteadyTime::rep touched = 0;
        std::uint32_t bytes = 0;
        std::uint32_t prev = kNone;  // towards the most recent
        std::uint32_t next = kNone;  // towards the least recent
    };
    std::uint32_t find(std::uint64_t key) const;  // node index or kNone (lock held)
    void unlink(std::uint32_t node);
    void push_front(std::uint32_t node);
    void erase(std::uint32_t node);  // unlinks, drops from the table, frees
    void table_remove(std::uint64_t key);

    PrefixBounds bounds_;
    mutable std::mutex mutex_;
    std::vector<Node> nodes_;
    std::vector<std::uint32_t> table_;  // open addressing (linear probing), node indexes
    std::uint32_t free_ = kNone;        // freed nodes, chained by `next`
    std::uint32_t head_ = kNone;        // most recent
    std::uint32_t tail_ = kNone;        // least recent
    std::size_t used_bytes_ = 0;
    std::atomic<std::size_t> size_{0};
};

}  // namespace switchyard::route
