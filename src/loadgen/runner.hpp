// Drives one load point of `switchyard bench`: a fixed number of concurrent sessions, or sessions
// arriving as a Poisson process at a given rate, for a request count or a duration, after a
// warm-up. One io_context per thread; each thread owns its connections, buffers and samples, and
// threads share only atomic counters. Returns every request's record.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "loadgen/client.hpp"
#include "loadgen/metrics.hpp"
#include "loadgen/workload.hpp"

namespace switchyard::loadgen {

struct Load {
    enum class Mode { concurrency, rate };
    Mode mode = Mode::concurrency;
    double value = 1;  // sessions in flight, or sessions started per second
    std::string describe() const;  // "concurrency 4", "rate 10/s"
};

struct RunOptions {
    const Target* target = nullptr;
    const Workload* workload = nullptr;
    std::string model;
    Load load;
    std::uint64_t requests = 0;     // measured requests (0: until the duration ends)
    double duration_s = 0;          // measured seconds (0: until the request count is reached)
    std::uint64_t warmup_requests = 0;
    double warmup_s = 0;
    unsigned threads = 1;
    double timeout_s = 600;
    bool progress = false;          // a live line on stderr
    std::string progress_label;
};

struct RunResult {
    Samples samples;
    double wall_s = 0;
    std::string first_error;  // the first failure's kind and, for an HTTP error, the start of its body
};

RunResult run_load(const RunOptions& options);

}  // namespace switchyard::loadgen
