#include "console/sessions.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <stdexcept>
#include <vector>

#include "core/digest.hpp"

namespace switchyard::console {

std::string_view to_string(Role role) { return role == Role::admin ? "admin" : "viewer"; }

std::string random_hex(std::size_t bytes) {
    std::vector<unsigned char> raw(bytes);
    if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) throw std::runtime_error("the random generator failed");
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes * 2);
    for (const unsigned char c : raw) {
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
    return out;
}

Sessions::Sessions(std::size_t max, std::chrono::milliseconds ttl, const Clock& clock)
    : max_(std::max<std::size_t>(max, 1)), ttl_(ttl), clock_(clock) {}

Sessions::Opened Sessions::open(Role role, std::string key) {
    Opened opened;
    opened.id = random_hex(32);
    opened.session.role = role;
    opened.session.key = std::move(key);
    opened.session.csrf = random_hex(32);
    const SteadyTime now = clock_.now();
    opened.session.expires = now + ttl_;
    opened.session.expires_unix_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch() + ttl_)
            .count();
    std::lock_guard lock(mutex_);
    make_room(now);
    by_digest_.emplace(sha256_hex(opened.id), opened.session);
    return opened;
}

void Sessions::make_room(SteadyTime now) {
    std::erase_if(by_digest_, [&](const auto& entry) { return entry.second.expires <= now; });
    while (by_digest_.size() >= max_) {  // full: the session that would end first goes
        auto first = std::min_element(by_digest_.begin(), by_digest_.end(), [](const auto& a, const auto& b) {
            return a.second.expires < b.second.expires;
        });
        by_digest_.erase(first);
    }
}

void Sessions::adopt(std::string_view id, Session session, std::chrono::milliseconds remaining) {
    adopt_digest(sha256_hex(id), std::move(session), remaining);
}

void Sessions::adopt_digest(std::string digest, Session session, std::chrono::milliseconds remaining) {
    const SteadyTime now = clock_.now();
    session.expires = now + std::min(remaining, ttl_);
    std::lock_guard lock(mutex_);
    if (!by_digest_.contains(digest)) make_room(now);
    by_digest_.insert_or_assign(std::move(digest), std::move(session));
}

std::string session_digest(std::string_view id) { return sha256_hex(id); }

std::string session_key(std::string_view prefix, std::string_view id) {
    return std::string(prefix) + ":console:session:" + sha256_hex(id);
}

std::string encode(const Session& session) {
    return "1 " + std::string(to_string(session.role)) + " " + session.csrf + " " +
           std::to_string(session.expires_unix_ms) + " " + session.key;
}

std::optional<Session> decode(std::string_view text) {
    // "1 <role> <csrf> <expires_unix_ms> <key name>"; the name is the rest (it may hold spaces).
    std::string_view fields[4];
    for (auto& field : fields) {
        const std::size_t space = text.find(' ');
        if (space == std::string_view::npos) return std::nullopt;
        field = text.substr(0, space);
        text.remove_prefix(space + 1);
    }
    if (fields[0] != "1" || (fields[1] != "admin" && fields[1] != "viewer") || fields[2].size() != 64) return std::nullopt;
    Session session;
    session.role = fields[1] == "admin" ? Role::admin : Role::viewer;
    session.csrf = std::string(fields[2]);
    const auto [end, ec] = std::from_chars(fields[3].data(), fields[3].data() + fields[3].size(), session.expires_unix_ms);
    if (ec != std::errc() || end != fields[3].data() + fields[3].size()) return std::nullopt;
    session.key = std::string(text);
    return session;
}

std::optional<Session> Sessions::find(std::string_view id) {
    if (id.size() != 64) return std::nullopt;
    const std::string digest = sha256_hex(id);
    std::lock_guard lock(mutex_);
    const auto it = by_digest_.find(digest);
    if (it == by_digest_.end()) return std::nullopt;
    if (it->second.expires <= clock_.now()) {
        by_digest_.erase(it);
        return std::nullopt;
    }
    return it->second;
}

bool Sessions::close(std::string_view id) {
    const std::string digest = sha256_hex(id);
    std::lock_guard lock(mutex_);
    return by_digest_.erase(digest) > 0;
}

std::vector<std::string> Sessions::close_key(std::string_view key) {
    std::vector<std::string> closed;
    std::lock_guard lock(mutex_);
    std::erase_if(by_digest_, [&](const auto& entry) {
        if (entry.second.key != key) return false;
        closed.push_back(entry.first);
        return true;
    });
    return closed;
}

std::size_t Sessions::size() const {
    std::lock_guard lock(mutex_);
    return by_digest_.size();
}

}  // namespace switchyard::console
