// Start-up settings of switchyard-sim, filled from the command line by main.cpp. Everything that can
// change while the simulator runs lives in Knobs instead.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/knobs.hpp"

namespace sim {

// One line of an --answers file: requests for `model` ("*": any) whose prompt text contains
// `contains` are answered with `answer` (streamed word by word) instead of generated words.
struct AnswerRule {
  std::string model;
  std::string contains;
  std::string answer;
};

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8000;  // 0: the OS picks one; --ready-file tells which
  std::string ready_file;
  int threads = 1;
  std::vector<std::string> models;  // served by GET /v1/models; main.cpp defaults it to sim-model
  bool strict_models = false;       // unknown model -> 404 instead of being echoed
  int embedding_dims = 8;
  int retry_after_s = 1;  // Retry-After on injected 429s
  std::string tls_cert;   // both set: serve HTTPS
  std::string tls_key;
  std::string api_key;  // set: /v1/* require "Authorization: Bearer <key>"
  Knobs knobs;          // initial runtime knobs
  std::vector<AnswerRule> answers;  // --answers: scripted answers by model and prompt text, first match wins
};

}  // namespace sim
