#include "account/account.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "core/clock.hpp"
#include "usage/usage.hpp"

namespace switchyard::account {

namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

}  // namespace

std::string_view to_string(Stage stage) {
    switch (stage) {
        case Stage::authenticate: return "authenticate";
        case Stage::parse: return "parse";
        case Stage::route: return "route";
        case Stage::admit: return "admit";
        case Stage::engines: return "engines";
        case Stage::forward: return "forward";
        case Stage::count: break;
    }
    return "?";
}

Trace::Trace(const Sinks& sinks, std::string_view request_id, bool stage_times)
    : sinks_(sinks),
      arrived_(Clock::now()),
      request_id_(request_id),
      keep_row_(sinks.ledger != nullptr || sinks.access_log != nullptr),
      keep_content_(sinks.access_log != nullptr && sinks.access_log->content()),
      keep_stages_(stage_times && sinks.access_log != nullptr) {
    if (keep_row_) {
        arrived_ms_ = unix_ms();
    }
    if (keep_content_) content_limit_ = 2 * sinks.access_log->max_content_bytes() + 64;
}

void Trace::authenticated(const auth::KeyEntry* key) {
    if (key == nullptr) return;
    key_ = key->policy.name;
    key_entry_ = key;
    if (keep_row_) {
        row_.key = key->policy.name;
        row_.labels = key->labels_json;
    }
}

void Trace::parsed(parse::Endpoint endpoint, std::string_view body, const parse::RequestFacts& facts) {
    model_ = facts.model;
    if (keep_content_) content_.prompt = prompt_text(endpoint, body, content_limit_);
    if (keep_row_) {
        row_.model = facts.model;
        row_.stream = facts.stream;
    }
}

// Checked on the recording thread, where the revocation's forget_key() is posted after the flag
// is set: a series made before the flag was seen is dropped by it, none is made after.
std::string_view Trace::key_label() const {
    return key_entry_ != nullptr && key_entry_->revoked.load() ? std::string_view() : key_;
}

double Trace::overhead_ms(const forward::Outcome& outcome, Clock::time_point end) const {
    const auto own = (end - arrived_) - outcome.upstream_time - outcome.waited - waited_;
    return std::max(0.0, std::chrono::duration<double, std::milli>(own).count());
}

void Trace::refused(const ApiError& error, std::optional<metrics::Refusal> why, admit::Admission* admission) {
    if (admission != nullptr) admission->give_back();
    const Clock::time_point end = Clock::now();
    const double elapsed_ms = ms_between(arrived_, end);
    if (sinks_.metrics != nullptr) {
        metrics::Observation observation;
        observation.model = model_label_;
        observation.key = key_label();
        observation.status = error.status;
        observation.duration_s = elapsed_ms / 1000;
        observation.overhead_s = std::max(0.0, elapsed_ms - std::chrono::duration<double, std::milli>(waited_).count()) / 1000;
        sinks_.metrics->record(observation);
        if (why) sinks_.metrics->refused(*why);
    }
    if (!keep_row_) return;
    row_.ts_ms = arrived_ms_;
    row_.request_id = std::string(request_id_);
    row_.status = error.status;
    row_.error = error.message;
    row_.total_ms = elapsed_ms;
    row_.overhead_ms = std::max(0.0, elapsed_ms - std::chrono::duration<double, std::milli>(waited_).count());
    emit();
}

void Trace::served(const Served& served) {
    const forward::Outcome& outcome = served.outcome;
    if (!outcome.error.empty()) {
        spdlog::warn("request {} model={} deployment={} status={}: {}", request_id_, model_,
                     outcome.deployment ? outcome.deployment->name : "-", outcome.status, outcome.error);
    }
    if (keep_content_ && !outcome.stream && outcome.status / 100 == 2) {
        usage::append_completion_text(served.captured, content_.completion, content_limit_);
    }

    // Tokens, cost, and what admission took corrected by them.
    const usage::Usage& used = outcome.usage;
    const double cost = outcome.deployment != nullptr ? served.pricer.cost(*outcome.deployment, used) : 0.0;
    served.admission.settle(static_cast<double>(used.prompt + used.completion), cost);

    const Clock::time_point end = Clock::now();
    const double elapsed_ms = ms_between(arrived_, end);
    const double overhead = overhead_ms(outcome, end);
    if (sinks_.metrics != nullptr) {
        metrics::Observation observation;
        observation.model = model_label_;
        if (outcome.deployment != nullptr) {
            observation.deployment = outcome.deployment->name;
            observation.tier = static_cast<int>(outcome.deployment->tier);
        }
        observation.key = key_label();
        observation.status = outcome.status;
        observation.prompt_tokens = used.prompt;
        observation.cached_tokens = used.cached_prompt();
        observation.completion_tokens = used.completion;
        observation.cost = cost;
        observation.duration_s = elapsed_ms / 1000;
        observation.ttft_s = outcome.ttft_ms >= 0 ? outcome.ttft_ms / 1000 : -1;
        observation.overhead_s = overhead / 1000;
        sinks_.metrics->record(observation);
    }
    if (!keep_row_) return;
    row_.ts_ms = arrived_ms_;
    row_.request_id = std::string(request_id_);
    if (outcome.deployment != nullptr) {
        const auto& upstream = served.config.upstreams[outcome.deployment->upstream];
        row_.deployment = outcome.deployment->name;
        row_.upstream = upstream.name;
        row_.tier = static_cast<int>(outcome.deployment->tier);
        row_.local = upstream.local;
        if (outcome.status / 100 == 2 && outcome.served_by != nullptr) row_.served_model = outcome.served_by->name;
    }
    row_.status = outcome.status;
    row_.prompt_tokens = used.prompt;
    row_.cached_tokens = used.cached_prompt();
    row_.completion_tokens = used.completion;
    row_.usage_estimated = outcome.usage_estimated;
    row_.cost_usd = cost;
    row_.ttft_ms = outcome.ttft_ms;
    row_.total_ms = elapsed_ms;
    row_.overhead_ms = overhead;
    row_.retries = outcome.attempts > 0 ? static_cast<int>(outcome.attempts) - 1 : 0;
    row_.fallback = outcome.served_by != nullptr && outcome.served_by != &served.model;
    row_.error = outcome.error;
    emit();
}

void Trace::emit() {
    if (sinks_.access_log != nullptr) {
        std::string stages;
        if (keep_stages_) {
            // Milliseconds from arrival to the end of each stage the request reached.
            stages += '{';
            for (std::size_t i = 0; i < stage_end_.size(); ++i) {
                if (stage_end_[i] == Clock::time_point{}) continue;
                if (stages.size() > 1) stages += ',';
                char number[48];
                std::snprintf(number, sizeof number, "\":%.3f", ms_between(arrived_, stage_end_[i]));
                stages += '"';
                stages += to_string(static_cast<Stage>(i));
                stages += number;
            }
            stages += '}';
        }
        sinks_.access_log->write(row_, keep_content_ ? &content_ : nullptr, stages);
    }
    if (sinks_.ledger != nullptr) sinks_.ledger->record(std::move(row_));
}

}  // namespace switchyard::account
