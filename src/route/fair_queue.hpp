// Weighted fair order for the requests waiting in a tier's queue, in the manner of the Virtual
// Token Counter (Sheng et al., "Fairness in Serving Large Language Models", OSDI 2024): each
// client (a key) has a counter of the tokens it was granted divided by its weight; a freed slot
// goes to the oldest waiter of the client with the lowest counter, and that counter grows by the
// request's estimated tokens / weight, corrected by credit() to the tokens it used once it is
// over. A client that becomes active again (its first waiter) has its counter lifted to the lowest
// of the active clients' counters, so credit is not banked while idle, and it keeps a higher
// counter it already had, so a heavy client's turns do not reset it.
// State is bounded: at most kMaxClients counters; past it, the inactive client with the lowest
// counter is forgotten (it would be lifted anyway on its return). No clock: order is by tokens.
// Not thread-safe: the tier's queue lock guards it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <utility>
#include <vector>

namespace switchyard::route {

template <typename T>
class FairQueue {
public:
    static constexpr std::size_t kMaxClients = 4096;

    struct Entry {
        std::uint64_t client;
        double cost;  // tokens / weight, charged when granted
        T item;
    };

    std::size_t size() const { return entries_.size(); }
    bool empty() const { return entries_.empty(); }

    void push(std::uint64_t client, double tokens, double weight, T item) {
        Client& c = client_state(client);
        if (c.waiting == 0) {
            const double floor = min_active();
            if (floor != kNoActive) c.counter = std::max(c.counter, floor);
        }
        ++c.waiting;
        entries_.push_back(Entry{client, tokens / std::max(weight, 1e-9), std::move(item)});
    }

    // The entry to serve next (the queue is not empty); pop() removes it and charges its client.
    std::size_t next() const {
        std::size_t best = 0;
        double best_counter = std::numeric_limits<double>::infinity();
        for (std::size_t i = 0; i < entries_.size(); ++i) {
            const double value = find(entries_[i].client)->counter;
            if (value < best_counter) {  // strictly: the oldest entry among equals
                best_counter = value;
                best = i;
            }
        }
        return best;
    }
    // The oldest of the entries whose client's counter is within `slack` of the lowest waiting
    // client's (at most `window` of them looked at, oldest first) for which `accept(item)` is true;
    // size() when none is. Prefix affinity in the queue (route/router.cpp): a freed slot may go to
    // a waiter whose prompt that deployment holds, ahead of the fairest one, within this slack.
    template <typename Accept>
    std::size_t find_within(double slack, std::size_t window, Accept&& accept) const {
        const double low = min_active();
        std::size_t looked = 0;
        for (std::size_t i = 0; i < entries_.size() && looked < window; ++i) {
            if (find(entries_[i].client)->counter > low + slack) continue;
            ++looked;
            if (accept(entries_[i].item)) return i;
        }
        return entries_.size();
    }
    const T& at(std::size_t index) const { return entries_[index].item; }
    T pop() { return pop(next()); }
    // Removes entry `at` (from next() or find_within()) and charges its client.
    T pop(std::size_t at) {
        Entry entry = std::move(entries_[at]);
        entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(at));
        Client& c = *find(entry.client);
        c.counter += entry.cost;
        --c.waiting;
        return std::move(entry.item);
    }
    // Removes a waiter: one that gave up (timed out, went away) is not charged; one that found a
    // slot by itself (`charge`) is.
    bool erase(const T& item, bool charge = false) {
        for (auto it = entries_.begin(); it != entries_.end(); ++it) {
            if (it->item != item) continue;
            Client& c = *find(it->client);
            --c.waiting;
            if (charge) c.counter += it->cost;
            entries_.erase(it);
            return true;
        }
        return false;
    }
    // A granted request used `delta` more tokens / weight than it was charged (negative: fewer):
    // its client's counter counts what was served (not below 0). A forgotten client: nothing.
    void credit(std::uint64_t client, double delta) {
        if (Client* c = find(client)) c->counter = std::max(0.0, c->counter + delta);
    }
    double counter(std::uint64_t client) const {
        const Client* c = find(client);
        return c != nullptr ? c->counter : 0;
    }
    std::size_t clients() const { return clients_.size(); }

private:
    static constexpr double kNoActive = -1;
    struct Client {
        std::uint64_t id;
        double counter = 0;
        std::size_t waiting = 0;
    };
    const Client* find(std::uint64_t id) const {
        for (const Client& c : clients_) {
            if (c.id == id) return &c;
        }
        return nullptr;
    }
    Client* find(std::uint64_t id) { return const_cast<Client*>(std::as_const(*this).find(id)); }
    double min_active() const {
        double low = kNoActive;
        for (const Client& c : clients_) {
            if (c.waiting > 0 && (low == kNoActive || c.counter < low)) low = c.counter;
        }
        return low;
    }
    Client& client_state(std::uint64_t id) {
        if (Client* c = find(id)) return *c;
        if (clients_.size() >= kMaxClients) {
            auto drop = clients_.end();
            for (auto it = clients_.begin(); it != clients_.end(); ++it) {
                if (it->waiting == 0 && (drop == clients_.end() || it->counter < drop->counter)) drop = it;
            }
            if (drop != clients_.end()) clients_.erase(drop);
        }
        clients_.push_back(Client{id});
        return clients_.back();
    }

    std::deque<Entry> entries_;
    std::vector<Client> clients_;
};

}  // namespace switchyard::route
