#include "console/console.hpp"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <span>
#include <vector>

#include "console/assets.hpp"
#include "console/sessions.hpp"
#include "core/digest.hpp"
#include "core/error.hpp"
#include "ledger/ledger.hpp"
#include "server/admin.hpp"
#include "server/runtime.hpp"

namespace switchyard::console {

namespace {

void add_header(std::string& out, std::string_view name, std::string_view value) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
}

// The headers every console answer carries.
Reply secured(wire::LocalResponse response, std::string_view cache_control) {
    Reply reply;
    reply.response = std::move(response);
    add_header(reply.headers, "Content-Security-Policy", kPolicy);
    add_header(reply.headers, "X-Content-Type-Options", "nosniff");
    add_header(reply.headers, "X-Frame-Options", "DENY");
    add_header(reply.headers, "Referrer-Policy", "no-referrer");
    add_header(reply.headers, "Cross-Origin-Opener-Policy", "same-origin");
    add_header(reply.headers, "Cross-Origin-Resource-Policy", "same-origin");
    add_header(reply.headers, "Cache-Control", cache_control);
    return reply;
}

Reply error(ApiError e) { return secured(wire::error_response(e), "no-store"); }

// If-None-Match holds `etag` (or "*"); weak forms compare equal for GET (RFC 9110, 13.1.2).
bool matches(std::string_view header, std::string_view etag) {
    while (!header.empty()) {
        const auto comma = header.find(',');
        std::string_view item = header.substr(0, comma);
        header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (item.starts_with("W/")) item.remove_prefix(2);
        if (item == "*" || item == etag) return true;
    }
    return false;
}

Reply asset(const Request& request, std::string_view name) {
    if (name.empty()) name = "index.html";
    for (const Asset& file : assets()) {
        if (file.name != name) continue;
        if (request.method != "GET" && request.method != "HEAD") {
            wire::LocalResponse refused = wire::error_response(
                ApiError{405, "Method " + std::string(request.method) + " is not allowed on " + std::string(request.path) +
                                  "; use GET",
                         "invalid_request_error", std::nullopt, "method_not_allowed"});
            refused.allow = "GET, HEAD";
            return secured(std::move(refused), "no-store");
        }
        wire::LocalResponse response;
        if (matches(request.if_none_match, file.etag)) {
            response.status = 304;
        } else {
            response.body = std::string(file.bytes);
        }
        response.content_type = file.content_type;
        // Revalidated on each load (one 304 per file): the page and its modules always match.
        Reply reply = secured(std::move(response), "no-cache");
        add_header(reply.headers, "ETag", file.etag);
        return reply;
    }
    return error(ApiError::not_found("no console page " + std::string(request.path), "unknown_url"));
}

std::string set_cookie(const config::Console& console, std::string_view id, long max_age_s) {
    std::string out = std::string(kSessionCookie) + "=" + std::string(id) + "; Path=" + console.path +
                      "; Max-Age=" + std::to_string(max_age_s) + "; HttpOnly; SameSite=Strict";
    if (console.secure_cookie) out += "; Secure";
    return out;
}

// A cross-site request: an Origin that is not this host's, or Sec-Fetch-Site saying so. (Requests
// without either come from scripts, which no page can make carry the cookie.)
bool cross_site(const Request& request) {
    if (!request.fetch_site.empty() && request.fetch_site != "same-origin" && request.fetch_site != "none") return true;
    if (request.origin.empty()) return false;
    const std::string_view origin = request.origin;
    const auto scheme = origin.find("://");
    return scheme == std::string_view::npos || origin.substr(scheme + 3) != request.host;
}

Reply session_body(const Session& session, int status = 200) {
    wire::LocalResponse response;
    response.status = status;
    response.body = "{\"role\":\"" + std::string(to_string(session.role)) + "\",\"key\":";
    if (session.key.empty()) {
        response.body += "null";
    } else {
        append_json_string(response.body, session.key);
    }
    response.body += ",\"csrf\":\"" + session.csrf + "\",\"expires_ms\":" + std::to_string(session.expires_unix_ms) + "}";
    return secured(std::move(response), "no-store");
}

// A fleet's sessions in Redis (sessions.hpp). Each call's outcome is noted as the fleet's are; when
// Redis does not answer, the instance goes on with what its own table knows.
bool in_redis(server::Shared& shared, const Request& request) { return shared.fleet && request.state != nullptr; }

// One call; ok() is false for an error reply too (then noted as unavailable).
boost::asio::awaitable<state::Result> redis(server::Shared& shared, const Request& request,
                                            std::span<const std::string_view> argv) {
    state::Result result = co_await request.state->call(argv);
    const bool ok = result.ok() && !result.reply->is_error();
    shared.fleet->note(ok, "console session: " + (result.ok() ? result.reply->text : result.unavailable));
    if (!ok) result.reply.reset();
    co_return result;
}

// Without a fleet, the ledger's database keeps the sign-ins for the next start (sessions.hpp); not
// waited for: a database that is away costs a sign-in nothing (the session is then this run's only).
bool in_ledger(const server::Shared& shared) { return !shared.fleet && shared.ledger; }

boost::asio::awaitable<void> share_session(server::Shared& shared, const Request& request,
                                           const Sessions::Opened& opened) {
    if (in_ledger(shared)) {
        shared.ledger->post(
            [kept = ledger::StoredSession{session_digest(opened.id), encode(opened.session),
                                          opened.session.expires_unix_ms}](ledger::Store& store) {
                store.save_session(kept);
            },
            "keeping a console sign-in");
    }
    if (!in_redis(shared, request)) co_return;
    const std::string key = session_key(shared.fleet->config().prefix, opened.id);
    const std::string value = encode(opened.session);
    const std::string ttl = std::to_string(shared.console_sessions.ttl().count());
    const std::string_view argv[] = {"SET", key, value, "PX", ttl};
    co_await redis(shared, request, argv);
}

boost::asio::awaitable<void> unshare_session(server::Shared& shared, const Request& request, std::string_view id) {
    if (in_ledger(shared)) {
        shared.ledger->post([digest = session_digest(id)](ledger::Store& store) { store.delete_session(digest); },
                            "ending a console sign-in");
    }
    if (!in_redis(shared, request)) co_return;
    const std::string key = session_key(shared.fleet->config().prefix, id);
    const std::string_view argv[] = {"DEL", key};
    co_await redis(shared, request, argv);
}

// The session of cookie value `id` as the fleet's Redis has it: taken into this instance's table
// when found, ended here when Redis no longer has it. Without an answer, the table decides.
boost::asio::awaitable<void> refresh_session(server::Shared& shared, const Request& request, std::string_view id) {
    if (!in_redis(shared, request) || id.size() != 64) co_return;
    const std::string key = session_key(shared.fleet->config().prefix, id);
    const std::string_view get[] = {"GET", key};
    const state::Result found = co_await redis(shared, request, get);
    if (!found.ok()) co_return;
    std::optional<Session> session;
    if (found.reply->type == state::Reply::Type::string) session = decode(found.reply->text);
    if (!session) {
        shared.console_sessions.close(id);
        co_return;
    }
    const std::string_view pttl[] = {"PTTL", key};
    const state::Result left = co_await redis(shared, request, pttl);
    if (!left.ok() || left.reply->type != state::Reply::Type::integer || left.reply->integer <= 0) {
        if (left.ok()) shared.console_sessions.close(id);  // it expired between the two calls
        co_return;
    }
    shared.console_sessions.adopt(id, std::move(*session), std::chrono::milliseconds(left.reply->integer));
}

// POST api/session {"key": "..."}: the master key signs in as admin; a key with a role as that role.
boost::asio::awaitable<Reply> sign_in(server::Shared& shared, const Request& request) {
    const config::Console& console = shared.boot.console;
    if (cross_site(request)) {
        co_return error(ApiError{403, "sign-in must come from the console's own page", "permission_error",
                                 std::nullopt, "cross_site_request"});
    }
    std::string key;
    {
        simdjson::ondemand::parser parser;
        const simdjson::padded_string padded(request.body);
        simdjson::ondemand::document doc;
        std::string_view text;
        if (parser.iterate(padded).get(doc) || doc["key"].get_string().get(text)) {
            co_return error(
                ApiError::invalid_request("the body must be {\"key\": \"<API key>\"}", "key", "invalid_body"));
        }
        key = std::string(text);
    }
    std::optional<Role> role;
    std::string name;
    if (shared.keys.has_master() && shared.keys.is_master(key)) {
        role = Role::admin;
    } else if (const auto entry = shared.keys.find(key)) {
        name = entry->policy.name;
        if (entry->policy.role == "admin") role = Role::admin;
        if (entry->policy.role == "viewer") role = Role::viewer;
        if (!role) {
            co_return error(ApiError{403, "key '" + name + "' has no console role (give it role: viewer or role: admin)",
                                     "permission_error", "key", "no_console_role"});
        }
    }
    if (!role) {
        co_return error(ApiError{401, "that is not the master key nor a key of this gateway", "invalid_request_error",
                                 "key", "invalid_api_key"});
    }
    const Sessions::Opened opened = shared.console_sessions.open(*role, name);
    co_await share_session(shared, request, opened);
    spdlog::info("console: {} signed in as {}", name.empty() ? std::string("the master key") : "key '" + name + "'",
                 to_string(*role));
    Reply reply = session_body(opened.session, 201);
    add_header(reply.headers, "Set-Cookie",
               set_cookie(console, opened.id,
                          static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(console.session_ttl).count())));
    co_return reply;
}

// The request's live session whose key still has its role; nullopt after ending a stale one.
boost::asio::awaitable<std::optional<Session>> current_session(server::Shared& shared, const Request& request,
                                                               std::string_view id) {
    co_await refresh_session(shared, request, id);
    auto session = shared.console_sessions.find(id);
    if (!session) co_return std::nullopt;
    bool valid = false;
    if (session->key.empty()) {
        valid = shared.keys.has_master();
    } else if (const auto entry = shared.keys.by_name(session->key)) {
        valid = entry->policy.role == to_string(session->role);
    }
    if (!valid) {
        shared.console_sessions.close(id);
        co_await unshare_session(shared, request, id);
        co_return std::nullopt;
    }
    co_return session;
}

boost::asio::awaitable<Reply> api(server::Shared& shared, const Request& request, std::string_view rest) {
    const bool reading = request.method == "GET" || request.method == "HEAD";
    if (rest == "session" && request.method == "POST") co_return co_await sign_in(shared, request);
    const std::string_view id = cookie_value(request.cookie, kSessionCookie);
    const std::optional<Session> session = co_await current_session(shared, request, id);
    if (!session && rest == "session" && reading) {  // the page asks at load: not an error
        wire::LocalResponse response;
        response.body = R"({"role":null})";
        co_return secured(std::move(response), "no-store");
    }
    if (!session) {
        co_return error(ApiError{401, "sign in first (POST " + shared.boot.console.path + "api/session)",
                                 "invalid_request_error", std::nullopt, "not_signed_in"});
    }
    if (!reading) {
        if (cross_site(request)) {
            co_return error(ApiError{403, "a change must come from the console's own page", "permission_error",
                                     std::nullopt, "cross_site_request"});
        }
        if (request.csrf.size() != session->csrf.size() || !constant_time_equals(request.csrf, session->csrf)) {
            co_return error(ApiError{403, "missing or wrong x-csrf-token (GET " + shared.boot.console.path +
                                              "api/session gives it)",
                                     "permission_error", std::nullopt, "csrf_token_invalid"});
        }
    }
    if (rest == "session") {
        if (reading) co_return session_body(*session);
        if (request.method == "DELETE") {
            shared.console_sessions.close(id);
            co_await unshare_session(shared, request, id);
            wire::LocalResponse response;
            response.body = R"({"signed_out":true})";
            Reply reply = secured(std::move(response), "no-store");
            add_header(reply.headers, "Set-Cookie", set_cookie(shared.boot.console, "", 0));
            co_return reply;
        }
    }
    if (!reading && session->role != Role::admin) {
        co_return error(ApiError{403, "this session is read only (role viewer); changes need role admin",
                                 "permission_error", std::nullopt, "console_read_only"});
    }
    const std::string admin_path = "/admin/" + std::string(rest);
    const server::AdminRequest admin_request{request.method, admin_path, request.body, {}, request.query};
    wire::LocalResponse response = co_await server::admin_authorized(shared, admin_request);
    co_return secured(std::move(response), "no-store");
}

}  // namespace

void end_key_sessions(server::Shared& shared, std::string_view name) {
    const std::vector<std::string> closed = shared.console_sessions.close_key(name);
    if (in_ledger(shared) && !closed.empty()) {
        shared.ledger->post(
            [closed](ledger::Store& store) {
                for (const std::string& digest : closed) store.delete_session(digest);
            },
            "ending a revoked key's console sign-ins");
    }
}

std::string_view cookie_value(std::string_view header, std::string_view name) {
    while (!header.empty()) {
        const auto semi = header.find(';');
        std::string_view item = header.substr(0, semi);
        header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        const auto eq = item.find('=');
        if (eq != std::string_view::npos && item.substr(0, eq) == name) return item.substr(eq + 1);
    }
    return {};
}

bool serves(const config::Console& console, std::string_view path) {
    if (!console.enabled) return false;
    const std::string_view root = console.path;
    return path.starts_with(root) || path == root.substr(0, root.size() - 1);
}

boost::asio::awaitable<Reply> serve(server::Shared& shared, Request request) {
    const std::string& root = shared.boot.console.path;
    if (request.path.size() < root.size()) {  // the path without its last '/'
        wire::LocalResponse response;
        response.status = 308;
        Reply reply = secured(std::move(response), "no-store");
        add_header(reply.headers, "Location", root);
        co_return reply;
    }
    const std::string_view rest = request.path.substr(root.size());
    if (rest.starts_with("api/")) co_return co_await api(shared, request, rest.substr(4));
    co_return asset(request, rest);
}

}  // namespace switchyard::console
