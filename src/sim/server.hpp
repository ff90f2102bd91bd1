// Entry point of the simulator's network side.
#pragma once

#include "sim/options.hpp"

namespace sim {

// Listens, serves until SIGINT or SIGTERM and returns the exit code. Start-up failures (bind, TLS
// files, ready file) throw.
int run_simulator(const Options& options);

}  // namespace sim
