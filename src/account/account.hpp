// Stage "account": the one place where a request's end becomes its records. A `Trace` collects
// what the stages learn of one request (its key, model, stream flag, content for an access log
// that keeps it, when each stage ended); when the request ends, refused by a stage or served by
// the forward stage, the trace turns that into the metrics observation, the ledger row and the
// access-log line, and settles what admission took (corrected by the real usage, or given back).
// The gateway's own time is reported here too: overhead = total time minus the time spent on
// upstreams (connecting, waiting for the answer, reading it) and waiting for capacity (a
// deployment's queue, the pause between attempts, an engine starting).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "account/access_log.hpp"
#include "account/pricer.hpp"
#include "admit/admit.hpp"
#include "auth/keys.hpp"
#include "config/config.hpp"
#include "core/error.hpp"
#include "forward/forward.hpp"
#include "ledger/ledger.hpp"
#include "ledger/row.hpp"
#include "metrics/metrics.hpp"
#include "parse/request.hpp"

namespace switchyard::account {

// Where an accounted request goes: this thread's metrics (null: off), the ledger and the access
// log (null: none).
struct Sinks {
    metrics::Shard* metrics = nullptr;
    ledger::Ledger* ledger = nullptr;
    AccessLog* access_log = nullptr;
};

// The pipeline's stages, for the per-stage times of the debug access log.
enum class Stage : std::uint8_t { authenticate, parse, route, admit, engines, forward, count };
std::string_view to_string(Stage stage);

class Trace {
public:
    // `stage_times`: keep when each stage ended (the debug access log's "stages").
    Trace(const Sinks& sinks, std::string_view request_id, bool stage_times);

    std::chrono::steady_clock::time_point arrived() const { return arrived_; }

    // What the stages learnt, as they learn it.
    void authenticated(const auth::KeyEntry* key);
    void parsed(parse::Endpoint endpoint, std::string_view body, const parse::RequestFacts& facts);
    // The route stage found the model asked for: from here its name labels the metrics. A name that
    // no model has is counted under model="" (a series per name a caller makes up would grow
    // /metrics and the gateway's memory without bound).
    void routed() { model_label_ = model_; }
    void ended(Stage stage) {
        if (keep_stages_) stage_end_[static_cast<std::size_t>(stage)] = std::chrono::steady_clock::now();
    }
    // Time the request spent waiting for capacity outside the forward stage (an engine starting).
    void waited(std::chrono::nanoseconds time) { waited_ += time; }
    std::chrono::nanoseconds waited_so_far() const { return waited_; }

    // An access log that keeps content collects the completion here (null otherwise), at most
    // content_limit() bytes.
    std::string* completion() { return keep_content_ ? &content_.completion : nullptr; }
    std::size_t content_limit() const { return content_limit_; }

    // The request ends refused by a stage before any upstream answered; what admission took, if it
    // got that far, is given back.
    void refused(const ApiError& error, std::optional<metrics::Refusal> why, admit::Admission* admission = nullptr);

    struct Served {
        const forward::Outcome& outcome;
        const config::Gateway& config;
        const Pricer& pricer;
        const config::Model& model;     // the model asked for
        std::string_view captured;      // a non-streaming answer's body, read for its completion text
        admit::Admission& admission;
    };
    // The request ends after the forward stage, answered by an upstream or with its error.
    void served(const Served& served);

    // The gateway's own time so far, or of the whole request once it ended: total minus what
    // `outcome` spent on upstreams and waiting, and minus waited().
    double overhead_ms(const forward::Outcome& outcome, std::chrono::steady_clock::time_point end) const;

private:
    void emit();

    Sinks sinks_;
    std::chrono::steady_clock::time_point arrived_;
    std::int64_t arrived_ms_ = 0;  // wall clock, for the ledger
    std::string_view request_id_;
    std::string_view model_;        // asked for, once parsed
    std::string_view model_label_;  // model_, once routed
    std::string_view key_;    // the key's name, once authenticated
    const auth::KeyEntry* key_entry_ = nullptr;
    std::string_view key_label() const;  // key_, or "" when the key was revoked meanwhile
    bool keep_row_;
    bool keep_content_;
    bool keep_stages_;
    std::size_t content_limit_ = 0;
    std::chrono::nanoseconds waited_{};
    std::array<std::chrono::steady_clock::time_point, static_cast<std::size_t>(Stage::count)> stage_end_{};
    ledger::Row row_;
    Content content_;
};

// Charges a key's budget with a response's cost as soon as its usage is settled, before its last
// bytes reach the caller (see forward::UsageSink), so that the key's next request sees it.
class BudgetCharge final : public forward::UsageSink {
public:
    BudgetCharge(admit::Admission& admission, const Pricer& pricer) : admission_(admission), pricer_(pricer) {}
    void settled(const config::Deployment& deployment, const usage::Usage& usage) override {
        const double cost = pricer_.cost(deployment, usage);
        if (cost > 0) admission_.spend(cost);
    }

private:
    admit::Admission& admission_;
    const Pricer& pricer_;
};

}  // namespace switchyard::account
