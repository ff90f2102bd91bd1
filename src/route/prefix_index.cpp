#include "route/prefix_index.hpp"

#include <algorithm>
#include <bit>

namespace switchyard::route {

PrefixIndex::PrefixIndex(PrefixBounds bounds) : bounds_(bounds) {
    bounds_.entries = std::clamp<std::size_t>(bounds_.entries, 1, 1u << 30);
}

std::uint32_t PrefixIndex::find(std::uint64_t key) const {
    if (table_.empty()) return kNone;
    const std::size_t mask = table_.size() - 1;
    for (std::size_t i = key & mask;; i = (i + 1) & mask) {
        const std::uint32_t at = table_[i];
        if (at == kNone) return kNone;
        if (nodes_[at].key == key) return at;
    }
}

std::uint32_t PrefixIndex::match(std::span<const std::uint64_t> blocks, std::span<const std::uint32_t> ends,
                                 SteadyTime now) const {
    if (size_.load(std::memory_order_relaxed) == 0) return 0;
    const SteadyTime::rep oldest = (now - bounds_.idle).time_since_epoch().count();
    std::lock_guard lock(mutex_);
    std::uint32_t matched = 0;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        const std::uint32_t at = find(blocks[i]);
        if (at == kNone || nodes_[at].touched < oldest) break;
        matched = ends[i];
    }
    return matched;
}

void PrefixIndex::unlink(std::uint32_t node) {
    Node& n = nodes_[node];
    if (n.prev != kNone) nodes_[n.prev].next = n.next; else head_ = n.next;
    if (n.next != kNone) nodes_[n.next].prev = n.prev; else tail_ = n.prev;
    n.prev = n.next = kNone;
}

void PrefixIndex::push_front(std::uint32_t node) {
    Node& n = nodes_[node];
    n.prev = kNone;
    n.next = head_;
    if (head_ != kNone) nodes_[head_].prev = node;
    head_ = node;
    if (tail_ == kNone) tail_ = node;
}

void PrefixIndex::table_remove(std::uint64_t key) {
    // Linear probing's backward-shift deletion: no tombstones.
    const std::size_t mask = table_.size() - 1;
    std::size_t i = key & mask;
    while (nodes_[table_[i]].key != key) i = (i + 1) & mask;
    std::size_t j = i;
    while (true) {
        j = (j + 1) & mask;
        if (table_[j] == kNone) break;
        const std::size_t home = nodes_[table_[j]].key & mask;
        // Move j into the hole at i unless its home lies cyclically in (i, j].
        const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays) continue;
        table_[i] = table_[j];
        i = j;
    }
    table_[i] = kNone;
}

void PrefixIndex::erase(std::uint32_t node) {
    unlink(node);
    table_remove(nodes_[node].key);
    used_bytes_ -= nodes_[node].bytes;
    nodes_[node].next = free_;
    free_ = node;
    size_.fetch_sub(1, std::memory_order_relaxed);
}

void PrefixIndex::insert(std::span<const std::uint64_t> blocks, std::span<const std::uint32_t> ends, SteadyTime now) {
    if (blocks.empty()) return;
    std::lock_guard lock(mutex_);
    if (table_.empty()) {
        table_.assign(std::bit_ceil(bounds_.entries * 2), kNone);
        nodes_.reserve(std::min<std::size_t>(bounds_.entries, 1024));
    }
    const SteadyTime::rep stamp = now.time_since_epoch().count();
    const std::size_t mask = table_.size() - 1;
    // Last block first: the earlier blocks end up the more recent, so eviction takes suffixes first.
    for (std::size_t k = blocks.size(); k-- > 0;) {
        const std::uint32_t block_size = ends[k] - (k > 0 ? ends[k - 1] : 0);
        std::uint32_t at = find(blocks[k]);
        if (at != kNone) {
            unlink(at);
        } else {
            if (size_.load(std::memory_order_relaxed) >= bounds_.entries) erase(tail_);
            if (free_ != kNone) {
                at = free_;
                free_ = nodes_[at].next;
            } else {
                at = static_cast<std::uint32_t>(nodes_.size());
                nodes_.emplace_back();
            }
            nodes_[at] = Node{blocks[k], stamp, block_size};
            std::size_t i = blocks[k] & mask;
            while (table_[i] != kNone) i = (i + 1) & mask;
            table_[i] = at;
            used_bytes_ += block_size;
            size_.fetch_add(1, std::memory_order_relaxed);
        }
        nodes_[at].touched = stamp;
        push_front(at);
    }
    // Over its bytes: the least recent go (never the block just refreshed last, the first one).
    while (used_bytes_ > bounds_.bytes && tail_ != head_) erase(tail_);
}

void PrefixIndex::clear() {
    std::lock_guard lock(mutex_);
    std::fill(table_.begin(), table_.end(), kNone);
    nodes_.clear();
    free_ = head_ = tail_ = kNone;
    used_bytes_ = 0;
    size_.store(0, std::memory_order_relaxed);
}

std::size_t PrefixIndex::bytes() const {
    std::lock_guard lock(mutex_);
    return used_bytes_;
}

std::size_t PrefixIndex::memory() const {
    std::lock_guard lock(mutex_);
    return nodes_.capacity() * sizeof(Node) + table_.capacity() * sizeof(std::uint32_t);
}

}  // namespace switchyard::route
