// The web console: a single page app (src/console/assets, built into the binary) and its API,
// served under `console.path` (/ui/ by default) on the gateway's listeners.
//   GET  /ui/, /ui/<file>       the assets: strong ETag, revalidated (Cache-Control: no-cache), 304
//   POST /ui/api/session        sign in with {"key": master key or a key with a `role`}: a session
//                               cookie (HttpOnly, SameSite=Strict, Path=/ui/, Max-Age) and a CSRF token
//   GET  /ui/api/session        the session's role, key name, CSRF token and expiry; DELETE: sign out
//   *    /ui/api/<path>         the admin API's /admin/<path> (server/admin.hpp, console/data.hpp) for
//                               a session: GET for viewers and admins; POST, PATCH and DELETE for admins,
//                               with the session's CSRF token in x-csrf-token and a same-origin request
// Every answer carries a strict Content-Security-Policy (nothing inline, nothing from another
// origin, no framing) and nosniff. None of this is on the model request path.
#pragma once

#include <boost/asio.hpp>

#include <string>
#include <string_view>

#include "config/config.hpp"
#include "http/wire.hpp"

namespace switchyard::server {
struct Shared;
}
namespace switchyard::state {
class Connection;
}

namespace switchyard::console {

inline constexpr std::string_view kSessionCookie = "switchyard_session";
inline constexpr std::string_view kPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// What the console reads of a request.
struct Request {
    std::string_view method;
    std::string_view path;   // without the query
    std::string_view query;  // after '?'
    std::string_view body;
    std::string_view cookie;         // the Cookie header
    std::string_view if_none_match;  // If-None-Match
    std::string_view origin;         // Origin
    std::string_view host;           // Host
    std::string_view fetch_site;     // Sec-Fetch-Site
    std::string_view csrf;           // x-csrf-token
    state::Connection* state = nullptr;  // the I/O thread's Redis connection (a fleet), for sessions
};

struct Reply {
    wire::LocalResponse response;
    std::string headers;  // whole header lines; the caller points response.extra_headers here
};

// Whether the console serves `path` (it is on and the path is under console.path, or is that path
// without its last '/').
bool serves(const config::Console& console, std::string_view path);

boost::asio::awaitable<Reply> serve(server::Shared& shared, Request request);

// Ends every console sign-in of key `name` (revoked), here and in the ledger's database that keeps
// them without a fleet (a fleet's Redis copies end when their instance finds the key gone).
void end_key_sessions(server::Shared& shared, std::string_view name);

// The value of cookie `name` in a Cookie header; empty when absent.
std::string_view cookie_value(std::string_view header, std::string_view name);

}  // namespace switchyard::console
