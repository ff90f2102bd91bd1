// The numbers `switchyard bench` reports, defined as vLLM's benchmark_serving defines them:
// time to first token (TTFT), time per output token excluding the first (TPOT), inter-token
// latency (ITL, every gap between successive token-bearing chunks), end-to-end latency (E2EL),
// request and token throughput, goodput under latency objectives, and errors by kind. Pure
// functions over the per-request records the runner collects.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::loadgen {

// How a request failed: an HTTP error status; no connection (refused, DNS, TLS); the timeout; the
// connection closed or reset before a response head; closed in the middle of the body; an SSE error
// event; a response that is not HTTP/1.1 as it should be.
enum class ErrorKind : std::uint8_t { none, http, connect, timeout, closed, broken_stream, stream_error, bad_response };

struct RequestRecord {
    double start_s = 0;   // when the request was sent (connecting included), seconds since the run began
    double due_s = -1;    // when a session's arrival was due (rate mode, its first turn); -1: none
    double end_s = 0;     // when its last byte arrived
    double ttft_ms = -1;  // first token-bearing chunk; streaming only (-1: none)
    std::uint32_t input_tokens = 0;  // from the server's usage
    std::uint32_t output_tokens = 0;
    std::uint32_t cached_tokens = 0;
    std::uint32_t itl_begin = 0;  // this request's gaps in Samples::itl_ms
    std::uint32_t itl_count = 0;
    std::uint16_t status = 0;
    ErrorKind error = ErrorKind::none;
    bool usage = false;   // the server reported usage
    bool warmup = false;  // excluded from every metric

    double e2e_ms() const { return (end_s - start_s) * 1000.0; }
    bool ok() const { return error == ErrorKind::none; }
};

// Everything one run collected (all threads merged).
struct Samples {
    std::vector<RequestRecord> requests;
    std::vector<float> itl_ms;
    void append(const Samples& other);
};

// Summary statistics of one metric.
struct Stat {
    std::size_t count = 0;
    double mean = 0, stddev = 0, min = 0, median = 0, p90 = 0, p99 = 0, max = 0;
};

// The p-th percentile (0..100) of sorted values, interpolating linearly between the two nearest
// ranks (numpy's default, as vLLM uses). 0 for no values.
double percentile(const std::vector<double>& sorted, double p);
Stat describe(std::vector<double> values);  // sorts its copy

// Latency objectives for goodput, in milliseconds: "ttft:500,tpot:50,e2el:2000".
struct Objectives {
    std::optional<double> ttft_ms;
    std::optional<double> tpot_ms;
    std::optional<double> e2el_ms;
    bool empty() const { return !ttft_ms && !tpot_ms && !e2el_ms; }
};
std::optional<Objectives> parse_objectives(std::string_view text, std::string* why);

// TPOT of one request: (E2EL - TTFT) / (output tokens - 1); nullopt without a TTFT or with fewer
// than 2 output tokens.
std::optional<double> tpot_ms(const RequestRecord& r);
// Whether a successful request meets every objective (a non-streamed request's TTFT is its E2EL).
bool meets(const RequestRecord& r, const Objectives& objectives);

std::string error_label(const RequestRecord& r);  // "http 429", "connect", "timeout", ...

struct Summary {
    double duration_s = 0;  // first measured send to last measured completion
    std::size_t completed = 0;
    std::size_t failed = 0;
    std::size_t warmup = 0;  // requests excluded as warm-up
    std::map<std::string, std::size_t> errors;
    std::size_t usage_missing = 0;  // successful requests whose server reported no usage
    std::uint64_t input_tokens = 0, output_tokens = 0, cached_tokens = 0;
    double request_throughput = 0;  // completed requests per second
    double output_throughput = 0;   // output tokens per second
    double total_throughput = 0;    // input + output tokens per second
    std::optional<double> goodput;  // requests per second meeting the objectives
    std::size_t good = 0;
    Stat ttft, tpot, itl, e2el;
    // Per-request values of successful requests, for plots.
    std::vector<double> ttft_values, tpot_values, e2el_values, itl_values;
};

Summary summarize(const Samples& samples, const Objectives& objectives);

}  // namespace switchyard::loadgen
