// switchyard-sim: an OpenAI- and Anthropic-compatible fake LLM server with fault injection, the
// upstream that Switchyard's tests and benchmarks run against. This file turns the command line into
// Options.
#include <exception>
#include <fstream>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "sim/knobs.hpp"
#include "sim/options.hpp"
#include "sim/server.hpp"

int main(int argc, char** argv) {
  sim::Options options;
  std::string fault = "none";
  std::string log_level = "info";
  std::string tool_calls = "off";
  int port = options.port;

  CLI::App app{"switchyard-sim: OpenAI- and Anthropic-compatible LLM server simulator with fault injection"};
  app.add_option("--host", options.host, "address to listen on")->capture_default_str();
  app.add_option("--port", port, "port to listen on; 0 lets the OS choose")->check(CLI::Range(0, 65535))->capture_default_str();
  app.add_option("--ready-file", options.ready_file, "once listening, write the port number here (atomically)");
  app.add_option("--threads", options.threads, "I/O threads, each with its own acceptor")->check(CLI::Range(1, 256))->capture_default_str();
  app.add_option("--model", options.models, "model served by /v1/models (repeatable; default sim-model)");
  app.add_flag("--strict-models", options.strict_models, "answer 404 for models not given with --model");
  app.add_option("--ttft-ms", options.knobs.ttft_ms, "time to first token, ms")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--itl-ms", options.knobs.itl_ms, "inter-token latency, ms")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--tokens", options.knobs.tokens, "completion length; max_tokens caps it")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--embedding-dims", options.embedding_dims, "embedding vector length")->check(CLI::Range(1, 65536))->capture_default_str();
  app.add_option("--fault", fault, "none | 429 | 500 | 503 | reset | hang | drop:N | slow-headers:MS")->capture_default_str();
  app.add_option("--fault-rate", options.knobs.fault_rate, "share of requests that get the fault")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  app.add_option("--tool-calls", tool_calls, "auto: requests that offer tools get a call of the first | off")
      ->check(CLI::IsMember({"auto", "off"}))
      ->capture_default_str();
  app.add_option("--retry-after", options.retry_after_s, "Retry-After seconds on injected 429s")->check(CLI::NonNegativeNumber)->capture_default_str();
  auto* cert = app.add_option("--tls-cert", options.tls_cert, "PEM certificate chain: serve HTTPS")->check(CLI::ExistingFile);
  auto* key = app.add_option("--tls-key", options.tls_key, "PEM private key for --tls-cert")->check(CLI::ExistingFile);
  cert->needs(key);
  key->needs(cert);
  app.add_option("--api-key", options.api_key, "require Authorization: Bearer KEY on /v1/*");
  std::string answers_file;
  app.add_option("--answers", answers_file,
                 "scripted answers, one rule a line: MODEL<TAB>PROMPT SUBSTRING<TAB>ANSWER (MODEL * for any)")
      ->check(CLI::ExistingFile);
  app.add_option("--log-level", log_level, "trace | debug | info | warn | error | off")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const auto parsed_fault = sim::parse_fault(fault);
  if (!parsed_fault) {
    fmt::print(stderr, "--fault: unknown fault '{}'\n", fault);
    return 2;
  }
  options.knobs.fault = *parsed_fault;
  if (!answers_file.empty()) {
    std::ifstream in(answers_file);
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line.front() == '#') continue;
      const auto first = line.find('\t');
      const auto second = first == std::string::npos ? first : line.find('\t', first + 1);
      if (second == std::string::npos) {
        fmt::print(stderr, "--answers: {} line {}: expected MODEL<TAB>SUBSTRING<TAB>ANSWER\n", answers_file, number);
        return 2;
      }
      options.answers.push_back(
          {line.substr(0, first), line.substr(first + 1, second - first - 1), line.substr(second + 1)});
    }
  }
  options.knobs.auto_tool_calls = tool_calls == "auto";
  options.port = static_cast<std::uint16_t>(port);
  if (options.models.empty()) options.models.push_back("sim-model");
  spdlog::set_level(spdlog::level::from_str(log_level));

  try {
    return sim::run_simulator(options);
  } catch (const std::exception& e) {
    spdlog::error("switchyard-sim: {}", e.what());
    return 1;
  }
}
