#include "server/metrics_page.hpp"

#include <map>
#include <tuple>

#include "server/overload.hpp"
#include "server/runtime.hpp"

namespace switchyard::server {

namespace {

using metrics::append_escaped;
using metrics::append_header;
using metrics::append_number;
using metrics::append_sample;

// The request series' histograms, in the order they are rendered. A new one is a line here
// beside its Histogram in metrics::Series.
struct HistogramFamily {
    std::string_view name;
    std::string_view help;
    metrics::Histogram metrics::Series::*series;
};
constexpr HistogramFamily kHistograms[] = {
    {"switchyard_request_duration_seconds", "From a request's arrival to the last byte sent.",
     &metrics::Series::duration},
    {"switchyard_time_to_first_token_seconds", "From sending a request upstream to its first body byte.",
     &metrics::Series::ttft},
    {"switchyard_inter_token_latency_seconds",
     "Mean time between two output tokens of a request: (duration - time to first token) / (tokens - 1).",
     &metrics::Series::tpot},
};

// One histogram of one label set, summed over the I/O threads.
struct HistogramTotals {
    std::array<std::uint64_t, metrics::kBuckets.size() + 1> counts{};
    double sum = 0;
};

// One label set's series, summed over the I/O threads.
struct Totals {
    std::uint64_t requests = 0;
    std::uint64_t prompt = 0;
    std::uint64_t cached = 0;
    std::uint64_t completion = 0;
    double cost = 0;
    std::array<HistogramTotals, std::size(kHistograms)> histograms{};
};

// The request series' counters, in the order they are rendered.
struct CounterFamily {
    std::string_view name;
    std::string_view help;
    double (*value)(const Totals&);
};
constexpr CounterFamily kCounters[] = {
    {"switchyard_requests_total",
     "Requests answered on the OpenAI endpoints, by model asked for, deployment, tier, key and status class.",
     [](const Totals& t) { return static_cast<double>(t.requests); }},
    {"switchyard_prompt_tokens_total", "Prompt tokens, as the upstreams reported them (or estimated).",
     [](const Totals& t) { return static_cast<double>(t.prompt); }},
    {"switchyard_cached_prompt_tokens_total",
     "Of the prompt tokens, those the upstream served from its prompt cache (llama-server timings.cache_n, "
     "OpenAI cached_tokens, Anthropic cache_read_input_tokens): divided by switchyard_prompt_tokens_total, a "
     "deployment's cache hit ratio.",
     [](const Totals& t) { return static_cast<double>(t.cached); }},
    {"switchyard_completion_tokens_total", "Completion tokens, as reported (or estimated).",
     [](const Totals& t) { return static_cast<double>(t.completion); }},
    {"switchyard_cost_dollars_total", "What the requests cost, in US dollars.", [](const Totals& t) { return t.cost; }},
};

using Key = std::tuple<std::string, std::string, int, std::string, std::string>;

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    append_header(out, name, type, help);
}

// {model="..",deployment="..",tier="..",key="..",status=".."} with `extra` (e.g. le="0.5") appended.
std::string labels_of(const Key& k, std::string_view extra = {}) {
    std::string out = "{model=\"";
    append_escaped(out, std::get<0>(k));
    out += "\",deployment=\"";
    append_escaped(out, std::get<1>(k));
    out += "\",tier=\"" + std::to_string(std::get<2>(k)) + "\",key=\"";
    append_escaped(out, std::get<3>(k));
    out += "\",status=\"";
    append_escaped(out, std::get<4>(k));
    out += '"';
    if (!extra.empty()) {
        out += ',';
        out += extra;
    }
    out += '}';
    return out;
}

void sample(std::string& out, std::string_view name, std::string_view labels, double value) {
    append_sample(out, name, labels, value);
}

void histogram(std::string& out, std::string_view name, std::string_view help, const std::map<Key, Totals>& all,
               std::size_t index) {
    header(out, name, "histogram", help);
    const std::string bucket = std::string(name) + "_bucket";
    for (const auto& [key, totals] : all) {
        const auto& counts = totals.histograms[index].counts;
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < counts.size(); ++i) {
            cumulative += counts[i];
            std::string le = "le=\"";
            if (i < metrics::kBuckets.size()) {
                append_number(le, metrics::kBuckets[i]);
            } else {
                le += "+Inf";
            }
            le += '"';
            sample(out, bucket, labels_of(key, le), static_cast<double>(cumulative));
        }
        sample(out, std::string(name) + "_sum", labels_of(key), totals.histograms[index].sum);
        sample(out, std::string(name) + "_count", labels_of(key), static_cast<double>(cumulative));
    }
}

// Prometheus label names: [a-zA-Z_][a-zA-Z0-9_]*.
std::string label_name(std::string_view raw) {
    std::string out = "label_";
    for (const char c : raw) out += std::isalnum(static_cast<unsigned char>(c)) || c == '_' ? c : '_';
    return out;
}

// The I/O threads' request series, summed by label set, and their refusals.
struct RequestTotals {
    std::map<Key, Totals> series;
    std::array<std::uint64_t, static_cast<std::size_t>(metrics::Refusal::count)> refusals{};
    HistogramTotals overhead;  // the gateway's own time, all requests together
};

RequestTotals sum_workers(const Shared& shared) {
    RequestTotals all;
    for (Worker* worker : shared.workers) {
        worker->metrics.each([&](const metrics::Labels& l, const metrics::Series& s) {
            Totals& t = all.series[Key{l.model, l.deployment, l.tier, l.key, l.status}];
            t.requests += s.requests.get();
            t.prompt += s.prompt_tokens.get();
            t.cached += s.cached_tokens.get();
            t.completion += s.completion_tokens.get();
            t.cost += s.cost.get();
            for (std::size_t h = 0; h < std::size(kHistograms); ++h) {
                const metrics::Histogram& observed = s.*kHistograms[h].series;
                HistogramTotals& total = t.histograms[h];
                for (std::size_t i = 0; i <= metrics::kBuckets.size(); ++i) total.counts[i] += observed.bucket(i);
                total.sum += observed.sum();
            }
        });
        for (std::size_t i = 0; i < all.refusals.size(); ++i) {
            all.refusals[i] += worker->metrics.refusals(static_cast<metrics::Refusal>(i));
        }
        const metrics::Histogram& overhead = worker->metrics.overhead();
        for (std::size_t i = 0; i <= metrics::kBuckets.size(); ++i) all.overhead.counts[i] += overhead.bucket(i);
        all.overhead.sum += overhead.sum();
    }
    return all;
}

void render_requests(std::string& out, const RequestTotals& all) {
    for (const auto& counter : kCounters) {
        header(out, counter.name, "counter", counter.help);
        for (const auto& [key, totals] : all.series) sample(out, counter.name, labels_of(key), counter.value(totals));
    }
    for (std::size_t h = 0; h < std::size(kHistograms); ++h) {
        histogram(out, kHistograms[h].name, kHistograms[h].help, all.series, h);
    }
    // The gateway's own time: one family without labels (its buckets are finer than the others').
    constexpr std::string_view kOverhead = "switchyard_gateway_overhead_seconds";
    header(out, kOverhead, "histogram",
           "The gateway's own time per request: its total minus the time spent on upstreams and waiting for "
           "capacity.");
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < all.overhead.counts.size(); ++i) {
        cumulative += all.overhead.counts[i];
        std::string le = "{le=\"";
        if (i < metrics::kOverheadBuckets.size()) {
            append_number(le, metrics::kOverheadBuckets[i]);
        } else {
            le += "+Inf";
        }
        le += "\"}";
        sample(out, std::string(kOverhead) + "_bucket", le, static_cast<double>(cumulative));
    }
    sample(out, std::string(kOverhead) + "_sum", "", all.overhead.sum);
    sample(out, std::string(kOverhead) + "_count", "", static_cast<double>(cumulative));
    header(out, "switchyard_refusals_total", "counter", "Requests refused before reaching an upstream, by reason.");
    for (std::size_t i = 0; i < all.refusals.size(); ++i) {
        std::string labels = "{reason=\"";
        labels += metrics::to_string(static_cast<metrics::Refusal>(i));
        labels += "\"}";
        sample(out, "switchyard_refusals_total", labels, static_cast<double>(all.refusals[i]));
    }
}

// Deployments, queues and routing events, from the router of the current generation.
void render_routing(std::string& out, Generation& generation) {
    route::Router& router = generation.router;
    struct Gauge {
        std::string_view name, type, help;
        double (*value)(const route::DeploymentStatus&);
    };
    static constexpr Gauge kDeploymentGauges[] = {
        {"switchyard_deployment_requests_in_flight", "gauge", "Requests in flight on a deployment.",
         [](const route::DeploymentStatus& s) { return static_cast<double>(s.outstanding); }},
        {"switchyard_deployment_healthy", "gauge", "1 when the deployment's upstream passes its health checks.",
         [](const route::DeploymentStatus& s) { return s.healthy ? 1.0 : 0.0; }},
        {"switchyard_deployment_breaker_state", "gauge", "Circuit breaker: 0 closed, 1 half-open, 2 open.",
         [](const route::DeploymentStatus& s) {
             return s.breaker == route::Breaker::State::closed      ? 0.0
                    : s.breaker == route::Breaker::State::half_open ? 1.0
                                                                    : 2.0;
         }},
        {"switchyard_deployment_breaker_opened_total", "counter", "Times the deployment's breaker opened.",
         [](const route::DeploymentStatus& s) { return static_cast<double>(s.breaker_opened); }},
        {"switchyard_deployment_cooling_down", "gauge", "1 while the deployment rests after a 429.",
         [](const route::DeploymentStatus& s) { return s.cooling_down ? 1.0 : 0.0; }},
        {"switchyard_deployment_latency_ewma_seconds", "gauge",
         "Peak-EWMA of the deployment's time to first byte (the latency strategy's measure).",
         [](const route::DeploymentStatus& s) { return s.latency_ms / 1000.0; }},
    };
    for (const auto& gauge : kDeploymentGauges) {
        header(out, gauge.name, gauge.type, gauge.help);
        for (std::size_t id = 0; id < generation.config.deployment_count; ++id) {
            const auto status = router.status(id);
            std::string labels = "{model=\"";
            append_escaped(labels, status.model);
            labels += "\",deployment=\"";
            append_escaped(labels, status.name);
            labels += "\",tier=\"" + std::to_string(status.tier) + "\"}";
            sample(out, gauge.name, labels, gauge.value(status));
        }
    }
    header(out, "switchyard_queued_requests", "gauge", "Requests waiting in a model's tier queues.");
    for (const auto& model : generation.config.models) {
        std::string labels = "{model=\"";
        append_escaped(labels, model.name);
        labels += "\"}";
        sample(out, "switchyard_queued_requests", labels, static_cast<double>(router.queued(model)));
    }
    const auto& c = router.counters();
    const std::pair<std::string_view, const std::atomic<std::uint64_t>*> kRouting[] = {
        {"switchyard_retries_total", &c.retries},
        {"switchyard_fallbacks_total", &c.fallbacks},
        {"switchyard_spills_total", &c.spills},
        {"switchyard_queued_total", &c.queued},
        {"switchyard_queue_timeouts_total", &c.queue_timeouts},
        {"switchyard_saturated_refusals_total", &c.rejected},
        {"switchyard_retry_budget_exhausted_total", &c.budget_exhausted},
        {"switchyard_affinity_matched_total", &c.affinity_matched},
        {"switchyard_affinity_overridden_total", &c.affinity_overridden},
        {"switchyard_affinity_hashed_total", &c.affinity_hashed},
        {"switchyard_affinity_forgotten_total", &c.affinity_forgotten},
    };
    for (const auto& [name, counter] : kRouting) {
        header(out, name, "counter", "Routing events (see docs/observability.md).");
        sample(out, name, "", static_cast<double>(counter->load()));
    }
}

// A single sample without labels under its own header.
void single(std::string& out, std::string_view name, std::string_view type, std::string_view help, double value) {
    header(out, name, type, help);
    sample(out, name, "", value);
}

void render_engines(std::string& out, const engine::Supervisor& supervisor) {
    const auto engines = supervisor.status();
    const auto engine_label = [](const engine::Status& status) {
        std::string labels = "{engine=\"";
        append_escaped(labels, status.name);
        return labels + '"';
    };
    header(out, "switchyard_engine_state", "gauge", "1 for the state each supervised engine is in, 0 for the others.");
    for (const auto& status : engines) {
        for (const auto state : {engine::State::stopped, engine::State::loading, engine::State::ready,
                                 engine::State::draining, engine::State::failed}) {
            sample(out, "switchyard_engine_state",
                   engine_label(status) + ",state=\"" + std::string(engine::to_string(state)) + "\"}",
                   status.state == state ? 1 : 0);
        }
    }
    header(out, "switchyard_engine_restarts_total", "counter", "Restarts of an engine (crashes, memory limits, failed checks).");
    for (const auto& status : engines) {
        sample(out, "switchyard_engine_restarts_total", engine_label(status) + "}", static_cast<double>(status.restarts));
    }
    header(out, "switchyard_engine_memory_bytes", "gauge",
           "An engine's memory: resident (kind=\"rss\") and on the GPU (kind=\"gpu\", when nvidia-smi is there).");
    for (const auto& status : engines) {
        sample(out, "switchyard_engine_memory_bytes", engine_label(status) + ",kind=\"rss\"}",
               static_cast<double>(status.rss_bytes));
        if (status.gpu_bytes) {
            sample(out, "switchyard_engine_memory_bytes", engine_label(status) + ",kind=\"gpu\"}",
                   static_cast<double>(*status.gpu_bytes));
        }
    }
    header(out, "switchyard_engine_memory_estimate_bytes", "gauge",
           "An engine's memory estimated from its GGUF header before it starts (weights, KV cache, compute, overhead).");
    for (const auto& status : engines) {
        if (status.estimate_bytes) {
            sample(out, "switchyard_engine_memory_estimate_bytes", engine_label(status) + "}",
                   static_cast<double>(*status.estimate_bytes));
        }
    }
    header(out, "switchyard_engine_memory_estimate_error_ratio", "gauge",
           "(used - estimate) / estimate of a ready engine: GPU memory in a GPU group with nvidia-smi, else RSS.");
    for (const auto& status : engines) {
        if (status.estimate_error) {
            sample(out, "switchyard_engine_memory_estimate_error_ratio", engine_label(status) + "}", *status.estimate_error);
        }
    }
    header(out, "switchyard_engine_requests_in_flight", "gauge", "Requests in flight on an engine's deployments.");
    for (const auto& status : engines) {
        sample(out, "switchyard_engine_requests_in_flight", engine_label(status) + "}",
               static_cast<double>(status.in_flight));
    }
    header(out, "switchyard_engine_uptime_seconds", "gauge", "Seconds since the engine became ready (0 when not running).");
    for (const auto& status : engines) {
        sample(out, "switchyard_engine_uptime_seconds", engine_label(status) + "}", status.uptime_s);
    }
}

void render_config(std::string& out, const Shared& shared, const Generation& generation) {
    single(out, "switchyard_config_generation", "gauge", "The config in use: 1 at start, one more each applied reload.",
           static_cast<double>(generation.number));
    header(out, "switchyard_config_reloads_total", "counter", "Config reloads (SIGHUP or POST /admin/reload), by result.");
    sample(out, "switchyard_config_reloads_total", "{result=\"applied\"}", static_cast<double>(shared.reloads_applied.load()));
    sample(out, "switchyard_config_reloads_total", "{result=\"refused\"}", static_cast<double>(shared.reloads_refused.load()));
    single(out, "switchyard_config_last_reload_success_timestamp_seconds", "gauge",
           "When the config in use was loaded (start-up or the last applied reload), Unix seconds.",
           static_cast<double>(shared.last_reload_ok_ms.load()) / 1000.0);
}

void render_ledger(std::string& out, ledger::Ledger& ledger) {
    const auto stats = ledger.stats();
    single(out, "switchyard_ledger_queued_rows", "gauge",
           "Ledger rows in memory: waiting for the writer, or refused by the spool.", static_cast<double>(stats.queued));
    single(out, "switchyard_ledger_written_rows_total", "counter", "Ledger rows written to the database (replayed ones too).",
           static_cast<double>(stats.written));
    single(out, "switchyard_ledger_spooled_rows_total", "counter",
           "Ledger rows the database did not take, appended to the spool file.", static_cast<double>(stats.spooled));
    single(out, "switchyard_ledger_replayed_rows_total", "counter", "Spooled ledger rows written to the database.",
           static_cast<double>(stats.replayed));
    single(out, "switchyard_ledger_lost_rows_total", "counter",
           "Ledger rows lost: the queue full, the spool full, or its disk failing.", static_cast<double>(stats.lost));
    single(out, "switchyard_ledger_spool_rows", "gauge", "Ledger rows in the spool, not yet replayed.",
           static_cast<double>(stats.spool_rows));
    single(out, "switchyard_ledger_spool_bytes", "gauge", "Bytes of the ledger rows in the spool, not yet replayed.",
           static_cast<double>(stats.spool_bytes));
    single(out, "switchyard_ledger_failed_batches_total", "counter",
           "Ledger batches whose write to the database failed (spooled, or kept and retried).",
           static_cast<double>(stats.failed_batches));
    single(out, "switchyard_ledger_conversations_saved_total", "counter",
           "Responses conversations written to the ledger's database (for previous_response_id).",
           static_cast<double>(stats.conversations_saved));
    single(out, "switchyard_ledger_conversations_dropped_total", "counter",
           "Responses conversations not written to the database (its queue full or the database failing).",
           static_cast<double>(stats.conversations_dropped));
}

// Each key's labels, as an info metric.
void render_keys(std::string& out, const std::vector<std::shared_ptr<auth::KeyEntry>>& keys) {
    header(out, "switchyard_key_info", "gauge", "Each API key's labels, to join with the key label of other series.");
    for (const auto& key : keys) {
        std::string labels = "{key=\"";
        append_escaped(labels, key->policy.name);
        labels += '"';
        for (const auto& [name, value] : key->policy.labels) {
            labels += ',' + label_name(name) + "=\"";
            append_escaped(labels, value);
            labels += '"';
        }
        labels += '}';
        sample(out, "switchyard_key_info", labels, 1);
    }
}

}  // namespace

std::string render_metrics(Shared& shared) {
    const RequestTotals totals = sum_workers(shared);
    std::string out;
    out.reserve(16 * 1024);
    render_requests(out, totals);
    const std::shared_ptr<Generation> generation = shared.current();
    render_routing(out, *generation);
    single(out, "switchyard_requests_in_flight", "gauge", "Requests being read, forwarded or answered.",
           static_cast<double>(shared.in_flight.load()));
    single(out, "switchyard_open_connections", "gauge", "Open caller connections.",
           static_cast<double>(shared.open_connections.load()));
    single(out, "switchyard_connections_max", "gauge",
           "Caller connections kept open at most (server.max_connections, or from the descriptor limit).",
           static_cast<double>(overload::connection_cap(generation->config.server, shared.fd_limit)));
    single(out, "switchyard_connections_shed_total", "counter",
           "Idle caller connections closed to make room near the connection cap.",
           static_cast<double>(shared.connections_shed.load()));
    single(out, "switchyard_connections_refused_total", "counter",
           "Caller connections answered 503 and closed at the connection cap.",
           static_cast<double>(shared.connections_refused.load()));
    single(out, "switchyard_accept_errors_total", "counter",
           "Failed accepts of caller connections (out of descriptors, network errors).",
           static_cast<double>(shared.accept_errors.load()));
    if (shared.fleet) shared.fleet->render_metrics(out);
    if (!shared.engines.empty()) render_engines(out, shared.engines);
    render_config(out, shared, *generation);
    if (shared.ledger) render_ledger(out, *shared.ledger);
    if (shared.access_log) {
        single(out, "switchyard_access_log_dropped_lines_total", "counter",
               "Access log lines dropped because its writer fell 8192 lines behind (the ledger has every request).",
               static_cast<double>(shared.access_log->dropped()));
    }
    const auto keys = shared.keys.list();
    if (!keys.empty()) render_keys(out, keys);
    return out;
}

}  // namespace switchyard::server
