// Stage "admit": decides whether a request may go on, and holds what it took. A request is
// checked against its key (the models it may use, requests in flight, budgets, rate limits), then
// its model's rate limits, in Redis for a fleet (`state:`) or in-process, with its tokens estimated
// up front. What was taken lives in the `Admission` until the request is accounted for: corrected
// by the real usage then, or given back whole if the request never reached an upstream (on any
// path, the destructor included), so no caller gives anything back by hand.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "auth/keys.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "limit/limiter.hpp"
#include "metrics/metrics.hpp"
#include "parse/request.hpp"
#include "state/fleet.hpp"

namespace switchyard::admit {

namespace asio = boost::asio;

// What an admission decides with, besides the request: the fleet (null: in-process limits), this
// thread's Redis connection, the model's in-process limiter (null: none) and the clock limiters
// are read with.
struct Context {
    state::Fleet* fleet = nullptr;
    state::Connection* state = nullptr;
    std::shared_ptr<limit::RateLimiter> model_limiter;
    const Clock& clock;
};

// A request refused at admission: the error the caller gets, and why, for /metrics.
struct Refused {
    ApiError error;
    std::optional<metrics::Refusal> why;
};

class Admission {
public:
    Admission() = default;
    Admission(Admission&& other) noexcept { *this = std::move(other); }
    Admission& operator=(Admission&& other) noexcept;
    Admission(const Admission&) = delete;
    Admission& operator=(const Admission&) = delete;
    ~Admission() { give_back(); }

    // The request was served: the limits are corrected by what it really used (tokens), and the
    // key's budget is charged `cost` unless spend() charged it already.
    void settle(double used_tokens, double cost);
    // The request never reached an upstream (refused later, or its engine failed): everything is
    // given back. Also what the destructor does to an admission not settled.
    void give_back();
    // Charges the key's budget `cost` now, once (before a response's last bytes reach the caller,
    // so that its next request, on whichever connection, sees it).
    void spend(double cost);

    double estimated_tokens() const { return estimated_; }
    // The key's budget is charged by spend() (a key with a budget).
    bool charges_budget() const { return key_ && key_->budget.any(); }

private:
    friend asio::awaitable<std::variant<Admission, Refused>> admit(const Context&, std::shared_ptr<auth::KeyEntry>,
                                                                   const config::Model&, double, std::string&);
    void correct(double delta);

    std::shared_ptr<auth::KeyEntry> key_;  // holds one of its in-flight slots
    limit::RateLimiter* key_limiter_ = nullptr;
    limit::RateLimiter* model_limiter_ = nullptr;
    std::shared_ptr<limit::RateLimiter> key_limiter_owner_;  // a fleet's fail-open limiter (the key's own: key_)
    std::shared_ptr<limit::RateLimiter> model_limiter_owner_;
    state::Fleet* fleet_ = nullptr;
    state::Connection* state_ = nullptr;
    std::array<state::Limit, 2> fleet_limits_{};
    std::size_t fleet_count_ = 0;
    const Clock* clock_ = nullptr;
    double estimated_ = 0;
    bool open_ = false;   // holds something that is not settled yet
    bool spent_ = false;  // the budget was charged
};

// Tokens a request is admitted with before its usage is known: about 4 bytes a prompt token, plus
// max_tokens (256 when absent) for what it will generate.
double estimate_tokens(parse::Endpoint endpoint, std::string_view body, const parse::RequestFacts& facts);

// Admits a request of `key` (null: callers are not authenticated) for `model` with `estimated`
// tokens, or refuses it. The x-ratelimit-* header lines of the limits it was checked against are
// appended to `headers` either way.
asio::awaitable<std::variant<Admission, Refused>> admit(const Context& context, std::shared_ptr<auth::KeyEntry> key,
                                                        const config::Model& model, double estimated,
                                                        std::string& headers);

}  // namespace switchyard::admit
