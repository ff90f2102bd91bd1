// The web console's sign-ins: a random session id (the cookie) per sign-in, with its role, the key
// it came from, its CSRF token and its expiry. Bounded: at most `max` sessions; a new sign-in
// beyond ends the one that expires first. Ids are kept only as SHA-256 digests. Used by console
// requests only (a mutex; nothing on the model request path).
//
// A fleet (`state:` Redis) keeps its sessions in Redis too, so that every instance knows a sign-in
// and a restart keeps it: `<prefix>:console:session:<the id's SHA-256>` holds the session's fields
// (encode()), expiring with the session (Redis ends it). While Redis answers it is the truth: a
// session found there is taken into this table (adopt()) for the rest of its life, one gone from
// there is ended here. console.cpp does the Redis calls.
//
// Without a fleet, a gateway with a ledger keeps its sign-ins in the ledger's database instead
// (table console_sessions: the id's digest, encode()'s fields, the expiry), written on sign-in and
// sign-out and read at start (adopt_digest()), so that a restart does not sign everyone out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"

namespace switchyard::console {

enum class Role { viewer, admin };
std::string_view to_string(Role role);

struct Session {
    Role role = Role::viewer;
    std::string key;       // the key's name; empty: the master key
    std::string csrf;      // sent back by the page in x-csrf-token on every POST and DELETE
    SteadyTime expires{};
    std::int64_t expires_unix_ms = 0;
};

class Sessions {
public:
    Sessions(std::size_t max, std::chrono::milliseconds ttl, const Clock& clock);

    struct Opened {
        std::string id;  // the cookie's value: 256 random bits, hex
        Session session;
    };
    Opened open(Role role, std::string key);
    // A session another instance opened (or this one, before a restart), found in Redis with
    // `remaining` of its life: kept here as if opened here (within the bound).
    void adopt(std::string_view id, Session session, std::chrono::milliseconds remaining);
    // The same by the id's digest (session_digest): a sign-in the ledger's database kept across a
    // restart (a gateway without a fleet).
    void adopt_digest(std::string digest, Session session, std::chrono::milliseconds remaining);
    // The live session of a cookie value; an expired one is ended.
    std::optional<Session> find(std::string_view id);
    bool close(std::string_view id);
    // Ends every session of a key (revoked, or its role changed); their digests.
    std::vector<std::string> close_key(std::string_view key);
    std::size_t size() const;
    std::chrono::milliseconds ttl() const { return ttl_; }

private:
    // Ends the expired sessions, then, while full, the one that would end first (mutex_ held).
    void make_room(SteadyTime now);

    const std::size_t max_;
    const std::chrono::milliseconds ttl_;
    const Clock& clock_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Session> by_digest_;
};

// 2 * `bytes` hex digits from OpenSSL's generator.
std::string random_hex(std::size_t bytes);

// How a session id is kept: its SHA-256, hex.
std::string session_digest(std::string_view id);

// A session in Redis: its key, and its fields as text ("1 <role> <csrf> <expires_unix_ms> <key
// name>"); decode() gives nullopt for anything else (its steady expiry is left for adopt()).
std::string session_key(std::string_view prefix, std::string_view id);
std::string encode(const Session& session);
std::optional<Session> decode(std::string_view text);

}  // namespace switchyard::console
