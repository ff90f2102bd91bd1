// The simulator's network side: one io_context and one acceptor per I/O thread (SO_REUSEPORT shares
// the port between them when there are several), and one coroutine per connection that reads HTTP/1.1
// requests with Beast and answers in OpenAI's and Anthropic's shapes, with the latencies, faults and
// tool calls the knobs and headers ask for.
#include "sim/server.hpp"

#include <sys/socket.h>

#include <unistd.h>

#include <array>
#include <atomic>
#include <charconv>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <thread>
#include <type_traits>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "sim/anthropic.hpp"
#include "sim/knobs.hpp"
#include "sim/ledger.hpp"
#include "sim/openai.hpp"
#include "sim/request.hpp"
#include "sim/responses.hpp"
#include "sim/wordgen.hpp"

namespace sim {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using Socket = tcp::socket::lowest_layer_type;
using TlsStream = asio::ssl::stream<tcp::socket>;

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::uint32_t kHeaderLimit = 64 * 1024;
constexpr std::uint64_t kBodyLimit = 64ULL * 1024 * 1024;

// What every connection on every thread shares.
struct Simulator {
  explicit Simulator(const Options& opts)
      : options(opts), knobs(opts.knobs), started(static_cast<std::int64_t>(std::time(nullptr))) {
    render_models(models_body, options.models, started);
    if (!options.api_key.empty()) bearer = "Bearer " + options.api_key;
    retry_after = fmt::format("Retry-After: {}\r\n", options.retry_after_s);
  }

  bool knows_model(std::string_view model) const {
    for (const auto& known : options.models) {
      if (known == model) return true;
    }
    return false;
  }

  const Options& options;
  KnobBoard knobs;
  Ledger ledger;
  std::int64_t started;     // "created" of the model objects
  std::string models_body;  // the GET /v1/models answer, rendered once
  std::string bearer;       // the Authorization value required; empty: no key
  std::string retry_after;  // header line sent with injected 429s
  std::optional<asio::ssl::context> tls;
};

Rng& thread_rng() {
  thread_local Rng rng((static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}());
  return rng;
}

bool roll(double rate) {
  if (rate >= 1) return true;
  if (rate <= 0) return false;
  return thread_rng().unit() < rate;
}

std::string new_id(std::string_view prefix) {
  Rng& rng = thread_rng();
  return fmt::format("{}{:016x}{:08x}", prefix, rng.next(), static_cast<std::uint32_t>(rng.next()));
}

std::string_view reason(unsigned status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 529: return "Overloaded";
    default: return "Unknown";
  }
}

// True when the peer closed or reset its side: a peek sees end of stream or an error rather than bytes.
bool peer_gone(Socket& socket) {
  char byte = 0;
  const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  return false;
}

// Appends one SSE event "data: <payload>\n\n", preceded by "event: <name>\n" when named (Responses
// and Messages name every event), as an HTTP chunk when chunked.
void frame_event(std::string& out, std::string_view payload, bool chunked, std::string_view name = {}) {
  const std::size_t event_line = name.empty() ? 0 : name.size() + 8;
  if (chunked) fmt::format_to(std::back_inserter(out), "{:x}\r\n", payload.size() + 8 + event_line);
  if (!name.empty()) {
    out += "event: ";
    out += name;
    out += '\n';
  }
  out += "data: ";
  out += payload;
  out += "\n\n";
  if (chunked) out += "\r\n";
}

std::optional<std::int64_t> header_count(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

// x-sim-* headers override the knobs for one request; x-sim-fault always applies (rate 1).
std::optional<std::string> apply_overrides(const http::fields& headers, Knobs& knobs) {
  if (auto it = headers.find("x-sim-fault"); it != headers.end()) {
    const auto fault = parse_fault(it->value());
    if (!fault) return fmt::format("invalid x-sim-fault header '{}'", it->value());
    knobs.fault = *fault;
    knobs.fault_rate = 1.0;
  }
  if (auto it = headers.find("x-sim-tool-calls"); it != headers.end()) {
    const auto mode = parse_tool_calls(it->value());
    if (!mode) return fmt::format("invalid x-sim-tool-calls header '{}': expected auto or off", it->value());
    knobs.auto_tool_calls = *mode;
  }
  const std::pair<std::string_view, std::int64_t Knobs::*> numeric[] = {
      {"x-sim-ttft-ms", &Knobs::ttft_ms}, {"x-sim-itl-ms", &Knobs::itl_ms}, {"x-sim-tokens", &Knobs::tokens}};
  for (const auto& [name, member] : numeric) {
    auto it = headers.find(name);
    if (it == headers.end()) continue;
    const auto value = header_count(it->value());
    if (!value) return fmt::format("invalid {} header '{}': expected a non-negative integer", name, it->value());
    knobs.*member = *value;
  }
  return std::nullopt;
}

enum class Endpoint { chat, completions, embeddings, responses, messages };

std::string_view path_of(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::chat: return "/v1/chat/completions";
    case Endpoint::completions: return "/v1/completions";
    case Endpoint::embeddings: return "/v1/embeddings";
    case Endpoint::responses: return "/v1/responses";
    case Endpoint::messages: return "/v1/messages";
  }
  return "";
}

std::string_view id_prefix(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::chat: return "chatcmpl-";
    case Endpoint::completions: return "cmpl-";
    case Endpoint::embeddings: return "";
    case Endpoint::responses: return "resp_";
    case Endpoint::messages: return "msg_";
  }
  return "";
}

// How a handled request leaves the connection.
enum class After {
  keep_alive,  // read the next request
  close,       // close gracefully (Connection: close, or HTTP/1.0 without keep-alive)
  abort,       // already torn down, or the peer is gone
};

// Why generation ended, named per dialect by the finish_* functions.
enum class Finish { stop, length, tool_call };

std::string_view chat_finish(Finish finish) {
  return finish == Finish::stop ? "stop" : finish == Finish::length ? "length" : "tool_calls";
}

std::string_view anthropic_stop(Finish finish) {
  return finish == Finish::stop ? "end_turn" : finish == Finish::length ? "max_tokens" : "tool_use";
}

// How one generation request is to be answered, once faults are drawn.
struct Plan {
  Clock::time_point start;
  milliseconds slow_headers{0};
  milliseconds ttft{0};
  milliseconds itl{0};
  std::uint64_t tokens = 0;                 // content tokens (pieces) to generate
  Finish finish = Finish::stop;             // length when max_tokens cut the completion short
  std::optional<std::uint64_t> drop_after;  // drop:N while streaming
  milliseconds linger{0};  // x-sim-linger-ms: a stream's last event is sent, its end this much later
};

// What the answer says: generated words, the echo of a tool result, or a tool call.
enum class AnswerKind { words, echo, tool_call };

struct Answer {
  AnswerKind kind = AnswerKind::words;
  std::string_view text;  // echo: the text
  ToolCall call;          // tool_call
  // Messages, Responses: the query of the web search the text follows (x-sim-web-search), or empty.
  std::string_view search_query;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Bytes of a tool call's arguments per streamed piece; each piece counts as one completion token.
constexpr std::size_t kArgumentSlice = 8;

// Cuts an answer into the pieces sent one per token: generated words (" word" after the first), the
// words of an echoed text (each with the whitespace before it), or slices of a tool call's arguments
// (never inside a UTF-8 sequence, so each piece is valid text on its own).
class Pieces {
 public:
  Pieces(const Answer& answer, std::uint64_t seed) : answer_(answer), words_(seed) {}

  // The next piece; generated words are built in scratch. Empty once an echo or arguments run out.
  std::string_view next(std::string& scratch) {
    if (answer_.kind == AnswerKind::words) {
      scratch.clear();
      if (at_++ > 0) scratch += ' ';
      scratch += words_.next_word();
      return scratch;
    }
    const std::string_view text = answer_.kind == AnswerKind::echo ? answer_.text : answer_.call.arguments;
    std::size_t end = at_;
    if (answer_.kind == AnswerKind::echo) {
      while (end < text.size() && is_space(text[end])) ++end;
      while (end < text.size() && !is_space(text[end])) ++end;
    } else {
      end = std::min(at_ + kArgumentSlice, text.size());
      while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
    }
    const std::string_view piece = text.substr(at_, end - at_);
    at_ = end;
    return piece;
  }

 private:
  const Answer& answer_;
  WordStream words_;
  std::size_t at_ = 0;  // words: pieces made; otherwise the offset in the text
};

// Pieces in a tool call's arguments.
std::uint64_t count_slices(std::string_view arguments) {
  Answer answer;
  answer.kind = AnswerKind::tool_call;
  answer.call.arguments = arguments;
  Pieces pieces(answer, 0);
  std::string unused;
  std::uint64_t count = 0;
  while (!pieces.next(unused).empty()) ++count;
  return count;
}

template <class Stream>
class Session {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  Session(Stream stream, Simulator& sim) : stream_(std::move(stream)), sim_(sim), timer_(stream_.get_executor()) {}

  asio::awaitable<void> run() {
    if constexpr (kTls) {
      auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::server, use_nothrow);
      if (ec) co_return;
    }
    for (;;) {
      parser_.emplace();
      parser_->header_limit(kHeaderLimit);
      parser_->body_limit(kBodyLimit);
      if (!co_await read_request()) co_return;
      const auto& request = parser_->get();
      keep_alive_ = request.keep_alive();
      version_ = request.version();
      watch_peer_ = true;
      const After after = co_await handle();
      if (after == After::abort) co_return;
      if (after == After::close) {
        close_gracefully();
        co_return;
      }
    }
  }

 private:
  Socket& socket() { return stream_.lowest_layer(); }

  asio::awaitable<bool> read_request() {
    auto [ec, bytes] = co_await http::async_read_header(stream_, buffer_, *parser_, use_nothrow);
    if (!ec && !parser_->is_done()) {
      if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
        if (!co_await send("HTTP/1.1 100 Continue\r\n\r\n")) co_return false;
      }
      auto [body_ec, body_bytes] = co_await http::async_read(stream_, buffer_, *parser_, use_nothrow);
      ec = body_ec;
    }
    if (!ec) co_return true;
    const bool malformed = ec.category() == http::make_error_code(http::error::bad_target).category() &&
                           ec != http::error::end_of_stream && ec != http::error::partial_message;
    if (malformed) {
      anthropic_ = false;
      keep_alive_ = false;
      version_ = 11;
      const bool too_large = ec == http::error::body_limit;
      co_await fail(too_large ? 413 : 400, too_large ? "request body too large" : "malformed HTTP request",
                    "invalid_request_error", "", "");
    }
    co_return false;
  }

  asio::awaitable<After> handle() {
    const auto& request = parser_->get();
    const std::string_view target = request.target();
    const std::string_view path = target.substr(0, target.find('?'));
    const http::verb method = request.method();
    const bool get = method == http::verb::get;
    const bool post = method == http::verb::post;

    // Messages errors are Anthropic's shape; everything else answers as OpenAI does.
    anthropic_ = path == "/v1/messages" || path.starts_with("/v1/messages/");
    if (path == "/v1/chat/completions" && post) co_return co_await generate(Endpoint::chat);
    if (path == "/v1/completions" && post) co_return co_await generate(Endpoint::completions);
    if (path == "/v1/embeddings" && post) co_return co_await generate(Endpoint::embeddings);
    if (path == "/v1/responses" && post) co_return co_await generate(Endpoint::responses);
    if (path == "/v1/messages" && post) co_return co_await generate(Endpoint::messages);
    if (path == "/v1/responses/input_tokens" && post) co_return co_await count_tokens(path);
    if (path == "/v1/messages/count_tokens" && post) co_return co_await count_tokens(path);
    if (path == "/sim/stats" && get) {
      body_.clear();
      sim_.ledger.render(body_);
      co_return co_await respond(200);
    }
    if (path == "/sim/config" && (get || post)) co_return co_await configure(post);
    if (path == "/sim/reset" && post) {
      sim_.ledger.reset();
      body_.assign("{\"status\":\"ok\"}");
      co_return co_await respond(200);
    }

    const bool models = path == "/v1/models" || path.starts_with("/v1/models/");
    const bool known = models || path == "/health" || path == "/v1/chat/completions" ||
                       path == "/v1/completions" || path == "/v1/embeddings" || path == "/v1/responses" ||
                       path == "/v1/messages" || path == "/v1/responses/input_tokens" ||
                       path == "/v1/messages/count_tokens";
    sim_.ledger.count_request(known ? (models ? "/v1/models" : path) : "(other)");
    if (!known) {
      co_return co_await fail(404, fmt::format("Invalid URL ({} {})", request.method_string(), path),
                              "invalid_request_error", "", "");
    }
    if (!get || !(models || path == "/health")) {  // generation paths take POST only (handled above)
      co_return co_await fail(405, fmt::format("Method {} not allowed on {}", request.method_string(), path),
                              "invalid_request_error", "", "");
    }
    if (path == "/health") {
      const bool healthy = sim_.knobs.snapshot().healthy;
      body_.assign(healthy ? "{\"status\":\"ok\"}" : "{\"status\":\"unhealthy\"}");
      co_return co_await respond(healthy ? 200 : 503);
    }
    if (!authorized()) co_return co_await unauthorized();
    if (path == "/v1/models") {
      body_.assign(sim_.models_body);
      co_return co_await respond(200);
    }
    const std::string_view id = path.substr(std::string_view("/v1/models/").size());
    if (sim_.options.strict_models && !sim_.knows_model(id)) co_return co_await model_not_found(id);
    body_.clear();
    render_model(body_, id, sim_.started);
    co_return co_await respond(200);
  }

  asio::awaitable<After> configure(bool post) {
    if (post) {
      body_in_.assign(parser_->get().body());
      const auto error = sim_.knobs.edit([this](Knobs& knobs) { return parse_config(body_in_, knobs); });
      if (error) co_return co_await fail(400, *error, "invalid_request_error", "", "");
    }
    body_.clear();
    render_knobs(body_, sim_.knobs.snapshot());
    co_return co_await respond(200);
  }

  // POST /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses and /v1/messages.
  asio::awaitable<After> generate(Endpoint endpoint) {
    const auto& request = parser_->get();
    Ledger& ledger = sim_.ledger;
    ledger.count_generation(path_of(endpoint), request, request.body());
    const Ledger::InFlight in_flight(ledger);
    if (!authorized()) {
      ledger.count_rejected();
      co_return co_await unauthorized();
    }
    if (anthropic_ && request.find("anthropic-version") == request.end()) {
      ledger.count_rejected();
      co_return co_await fail(400, "anthropic-version: header is required", "invalid_request_error", "", "");
    }

    body_in_.assign(request.body());
    Generation generation;
    EmbeddingRequest embedding;
    std::optional<Invalid> invalid;
    switch (endpoint) {
      case Endpoint::chat: invalid = parse_chat(body_in_, generation); break;
      case Endpoint::completions: invalid = parse_completion(body_in_, generation); break;
      case Endpoint::embeddings: invalid = parse_embeddings(body_in_, embedding); break;
      case Endpoint::responses: invalid = parse_responses(body_in_, generation, false); break;
      case Endpoint::messages: invalid = parse_messages(body_in_, generation, false); break;
    }
    if (invalid) {
      ledger.count_rejected();
      co_return co_await fail(400, invalid->message, "invalid_request_error", invalid->param, "");
    }
    const std::string& model = endpoint == Endpoint::embeddings ? embedding.model : generation.model;
    if (sim_.options.strict_models && !sim_.knows_model(model)) {
      ledger.count_rejected();
      co_return co_await model_not_found(model);
    }
    ledger.count_model(model);

    Knobs knobs = sim_.knobs.snapshot();
    if (auto bad = apply_overrides(request, knobs)) {
      ledger.count_rejected();
      co_return co_await fail(400, *bad, "invalid_request_error", "", "");
    }
    Answer answer;
    if (endpoint == Endpoint::chat || endpoint == Endpoint::responses || endpoint == Endpoint::messages) {
      if (auto bad = choose_answer(endpoint, request, generation, knobs, answer)) {
        ledger.count_rejected();
        co_return co_await fail(400, *bad, "invalid_request_error", "", "");
      }
    }
    const bool stream = endpoint != Endpoint::embeddings && generation.stream;
    Fault fault;
    if (knobs.fault.kind != FaultKind::none && roll(knobs.fault_rate)) {
      fault = knobs.fault;
      ledger.count_fault();
    }
    switch (fault.kind) {
      case FaultKind::status_429:
        co_return co_await fail(429,
                                anthropic_ ? "Number of requests has exceeded your rate limit (injected)."
                                           : "Rate limit reached (injected by switchyard-sim).",
                                "requests", "", "rate_limit_exceeded", sim_.retry_after);
      case FaultKind::status_500:
        co_return co_await fail(500, "The server had an error while processing your request (injected).",
                                "server_error", "", "");
      case FaultKind::status_503:
        // Anthropic says "overloaded" with its own status, 529.
        if (anthropic_) co_return co_await fail(529, "Overloaded (injected by switchyard-sim).", "", "", "");
        co_return co_await fail(503, "The server is overloaded or not ready yet (injected).", "server_error", "",
                                "");
      case FaultKind::reset:
        reset();
        co_return After::abort;
      case FaultKind::hang:
        co_await hang();
        ledger.count_cancelled();
        co_return After::abort;
      case FaultKind::drop:
        if (!stream) {
          close_abruptly();
          co_return After::abort;
        }
        break;
      case FaultKind::none:
      case FaultKind::slow_headers:
        break;
    }

    Plan plan;
    plan.start = Clock::now();
    if (fault.kind == FaultKind::slow_headers) plan.slow_headers = milliseconds(fault.arg);
    if (fault.kind == FaultKind::drop) plan.drop_after = static_cast<std::uint64_t>(fault.arg);
    plan.ttft = milliseconds(knobs.ttft_ms);
    plan.itl = milliseconds(knobs.itl_ms);
    if (auto it = request.find("x-sim-linger-ms"); it != request.end()) {
      const auto linger = header_count(it->value());
      if (!linger) co_return co_await fail(400, fmt::format("invalid x-sim-linger-ms header '{}'", it->value()),
                                           "invalid_request_error", "", "");
      plan.linger = milliseconds(*linger);
    }
    if (endpoint == Endpoint::embeddings) co_return co_await embed(embedding, plan);

    // A tool call is sent whole, whatever max_tokens says; words and echoes stop at max_tokens.
    if (answer.kind == AnswerKind::tool_call) {
      plan.tokens = count_slices(answer.call.arguments);
      plan.finish = Finish::tool_call;
    } else {
      plan.tokens = answer.kind == AnswerKind::echo ? count_words(answer.text)
                                                    : static_cast<std::uint64_t>(knobs.tokens);
      if (generation.max_tokens && static_cast<std::uint64_t>(*generation.max_tokens) < plan.tokens) {
        plan.tokens = static_cast<std::uint64_t>(*generation.max_tokens);
        plan.finish = Finish::length;
      }
    }
    ledger.add_prompt_tokens(generation.prompt_tokens);
    if (stream) co_return co_await stream_completion(endpoint, generation, plan, answer);
    co_return co_await complete(endpoint, generation, plan, answer);
  }

  // Picks what a chat, Responses or Messages request is answered with: a tool call named by
  // x-sim-tool-call (arguments from x-sim-tool-arguments, else built from the schema when it names the
  // first tool offered, else {}), unless x-sim-tool-call-once is true and the last input is a tool
  // result; the echo of a tool result when the last input is one; a call of the first tool offered
  // under --tool-calls auto; generated words otherwise. Error: a bad header.
  std::optional<std::string> choose_answer(Endpoint endpoint, const http::fields& headers,
                                           const Generation& generation, const Knobs& knobs, Answer& answer) {
    bool once = false;
    if (auto it = headers.find("x-sim-tool-call-once"); it != headers.end()) {
      if (it->value() != "true" && it->value() != "false") {
        return fmt::format("invalid x-sim-tool-call-once header '{}': expected true or false", it->value());
      }
      once = it->value() == "true";
    }
    // x-sim-web-search: QUERY — a Messages or Responses request offering the provider's web search
    // tool gets its text after a search for QUERY (Anthropic's blocks and events for it; OpenAI's
    // web_search_call item and url_citation annotation).
    search_query_.clear();
    if (auto it = headers.find("x-sim-web-search");
        it != headers.end() && (endpoint == Endpoint::messages || endpoint == Endpoint::responses) &&
        generation.web_search_tool) {
      search_query_.assign(it->value());
      answer.search_query = search_query_;
      // A request whose only tool is the web search (Claude Code's WebSearch tool sends one, the
      // search forced) is answered with the search, whatever x-sim-tool-call names.
      if (generation.tool_name.empty()) return std::nullopt;
    }
    std::string_view name;
    std::string_view arguments;
    if (auto it = headers.find("x-sim-tool-call"); it != headers.end() && !(once && generation.tool_result)) {
      name = it->value();
      if (name.empty()) return std::string("invalid x-sim-tool-call header: expected a tool name");
      arguments = name == generation.tool_name ? std::string_view(generation.tool_arguments) : "{}";
      if (auto args = headers.find("x-sim-tool-arguments"); args != headers.end()) {
        arguments = args->value();
        if (!is_json_object(arguments)) {
          return fmt::format("invalid x-sim-tool-arguments header '{}': expected a JSON object", arguments);
        }
      }
    } else if (generation.tool_result) {
      answer_text_.assign("Tool result: ");
      answer_text_ += generation.tool_result_text;
      answer.kind = AnswerKind::echo;
      answer.text = answer_text_;
      return std::nullopt;
    } else if (knobs.auto_tool_calls && !generation.tool_name.empty()) {
      name = generation.tool_name;
      arguments = generation.tool_arguments;
    } else {
      for (const auto& rule : sim_.options.answers) {
        if ((rule.model == "*" || rule.model == generation.model) &&
            generation.prompt_text.find(rule.contains) != std::string::npos) {
          answer.kind = AnswerKind::echo;
          answer.text = rule.answer;
          break;
        }
      }
      return std::nullopt;
    }
    call_id_ = new_id(endpoint == Endpoint::messages ? "toolu_" : "call_");
    item_id_ = endpoint == Endpoint::responses ? new_id("fc_") : std::string();
    tool_name_.assign(name);
    arguments_.assign(arguments);
    answer.kind = AnswerKind::tool_call;
    answer.call = ToolCall{call_id_, item_id_, tool_name_, arguments_};
    answer.search_query = {};  // a call, not text: no search before it
    return std::nullopt;
  }

  // A whole completion, sent after ttft + (tokens - 1) * itl (plus any slow-headers delay).
  asio::awaitable<After> complete(Endpoint endpoint, const Generation& generation, const Plan& plan,
                                  const Answer& answer) {
    const auto gaps = plan.tokens > 0 ? static_cast<std::int64_t>(plan.tokens - 1) : 0;
    if (!co_await pause_until(plan.start + plan.slow_headers + plan.ttft + plan.itl * gaps)) {
      sim_.ledger.count_cancelled();
      co_return After::abort;
    }
    text_.clear();
    const ToolCall* call = answer.kind == AnswerKind::tool_call ? &answer.call : nullptr;
    if (call == nullptr) {
      Pieces pieces(answer, generation.seed);
      for (std::uint64_t i = 0; i < plan.tokens; ++i) text_ += pieces.next(token_);
    }
    const std::string id = new_id(id_prefix(endpoint));
    const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
    const Stamp stamp{id, now, generation.model};
    const Usage usage{generation.prompt_tokens, plan.tokens};
    body_.clear();
    switch (endpoint) {
      case Endpoint::chat:
        if (call != nullptr) {
          render_chat_tool_completion(body_, stamp, *call, usage);
        } else {
          render_chat_completion(body_, stamp, text_, chat_finish(plan.finish), usage);
        }
        break;
      case Endpoint::completions:
        render_text_completion(body_, stamp, text_, chat_finish(plan.finish), usage);
        break;
      case Endpoint::messages:
        anthropic::render_message(body_, id, generation.model, text_, call, anthropic_stop(plan.finish), usage,
                                  answer.search_query);
        break;
      case Endpoint::responses: {
        const std::string item_id = call != nullptr ? std::string() : new_id("msg_");
        const std::string search_id = answer.search_query.empty() ? std::string() : new_id("ws_");
        const responses::Head head{id, now, generation.model, call != nullptr ? call->item_id : item_id, call,
                                   answer.search_query, search_id, generation.include_sources};
        if (!answer.search_query.empty()) text_.insert(0, responses::kLeadIn);
        responses::render_response(body_, head,
                                   plan.finish == Finish::length ? responses::Status::incomplete
                                                                 : responses::Status::completed,
                                   text_, usage);
        break;
      }
      case Endpoint::embeddings:
        break;
    }
    const After after = co_await respond(200);
    if (after == After::abort) {
      sim_.ledger.count_cancelled();
    } else {
      sim_.ledger.add_completion_tokens(plan.tokens);
      sim_.ledger.count_completed();
    }
    co_return after;
  }

  // Appends event_ to head_ as one SSE event (named for Responses and Messages).
  void frame(std::string_view name = {}) { frame_event(head_, event_, chunked_, name); }

  // Server-sent events. Chat and completions: the role chunk (chat) with the headers, a chunk per
  // token, the finish chunk, the usage chunk when asked for, then [DONE], each its own write.
  // Messages: message_start, content_block_start and ping with the headers, a content_block_delta per
  // token, then content_block_stop, message_delta and message_stop in one write. Responses:
  // response.created, response.in_progress, output_item.added (and content_part.added) with the
  // headers, a delta per token, then the .done events and response.completed (or .incomplete) in one
  // write. A tool call streams its arguments in slices the same way.
  asio::awaitable<After> stream_completion(Endpoint endpoint, const Generation& generation, const Plan& plan,
                                           const Answer& answer) {
    Ledger& ledger = sim_.ledger;
    chunked_ = version_ >= 11;  // HTTP/1.0 gets the raw event stream, ended by closing
    if (!chunked_) keep_alive_ = false;
    const std::string id = new_id(id_prefix(endpoint));
    const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
    const Stamp stamp{id, now, generation.model};
    const ToolCall* call = answer.kind == AnswerKind::tool_call ? &answer.call : nullptr;
    const int text_index = answer.search_query.empty() ? 0 : anthropic::kSearchTextIndex;  // Messages
    const std::string item_id = endpoint == Endpoint::responses && call == nullptr ? new_id("msg_") : std::string();
    const bool responses_search = endpoint == Endpoint::responses && !answer.search_query.empty();
    const std::string search_id = responses_search ? new_id("ws_") : std::string();
    const responses::Head head{id,   now, generation.model, call != nullptr ? call->item_id : item_id, call,
                               responses_search ? answer.search_query : std::string_view(), search_id,
                               generation.include_sources};
    const bool null_usage = generation.include_usage;
    std::uint64_t sequence = 0;  // Responses' sequence_number
    std::uint64_t sent = 0;
    const auto give_up = [&] {
      ledger.add_completion_tokens(sent);
      ledger.count_cancelled();
      return After::abort;
    };

    const auto headers_at = plan.start + plan.slow_headers;
    if (!co_await pause_until(headers_at)) co_return give_up();
    head_.assign("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n");
    add_request_id();
    if (chunked_) head_ += "Transfer-Encoding: chunked\r\n";
    if (!keep_alive_) head_ += "Connection: close\r\n";
    head_ += "\r\n";
    switch (endpoint) {
      case Endpoint::chat:
        event_.clear();
        render_chat_chunk(event_, stamp, Delta::role, "", null_usage);
        frame();
        if (call != nullptr) {
          event_.clear();
          render_chat_tool_chunk(event_, stamp, *call, true, "", null_usage);
          frame();
        }
        break;
      case Endpoint::messages:
        event_.clear();
        anthropic::render_message_start(event_, id, generation.model, generation.prompt_tokens);
        frame("message_start");
        if (!answer.search_query.empty()) {
          for (const auto& [name, payload] : anthropic::search_events(answer.search_query)) {
            event_ = payload;
            frame(name);
          }
        } else {
          event_.clear();
          anthropic::render_block_start(event_, call);
          frame("content_block_start");
        }
        event_.clear();
        anthropic::render_ping(event_);
        frame("ping");
        break;
      case Endpoint::responses:
        event_.clear();
        responses::render_response_event(event_, "response.created", sequence++, head, responses::Status::in_progress,
                                         "", {});
        frame("response.created");
        event_.clear();
        responses::render_response_event(event_, "response.in_progress", sequence++, head,
                                         responses::Status::in_progress, "", {});
        frame("response.in_progress");
        if (responses_search) {
          for (const auto& [name, payload] : responses::search_events(head, sequence)) {
            event_ = payload;
            frame(name);
          }
        }
        event_.clear();
        responses::render_item_event(event_, sequence++, head, false, "");
        frame("response.output_item.added");
        if (call == nullptr) {
          event_.clear();
          responses::render_part_event(event_, sequence++, head, false, "");
          frame("response.content_part.added");
        }
        if (responses_search) {  // the lead-in, uncited, before the words
          event_.clear();
          responses::render_delta(event_, sequence++, head, responses::kLeadIn);
          frame("response.output_text.delta");
        }
        break;
      case Endpoint::completions:
      case Endpoint::embeddings:
        break;
    }
    if (!co_await send(head_)) co_return give_up();

    Pieces pieces(answer, generation.seed);
    text_.clear();  // what has been sent: Responses repeats it in its closing events
    if (responses_search) text_ = responses::kLeadIn;
    const std::uint64_t last = plan.drop_after ? std::min(*plan.drop_after, plan.tokens) : plan.tokens;
    const auto first_token_at = headers_at + plan.ttft;
    while (sent < last) {
      if (!co_await pause_until(first_token_at + plan.itl * static_cast<std::int64_t>(sent))) co_return give_up();
      const std::string_view piece = pieces.next(token_);
      if (endpoint == Endpoint::responses) text_ += piece;
      event_.clear();
      head_.clear();
      switch (endpoint) {
        case Endpoint::chat:
          if (call != nullptr) {
            render_chat_tool_chunk(event_, stamp, *call, false, piece, null_usage);
          } else {
            render_chat_chunk(event_, stamp, Delta::content, piece, null_usage);
          }
          frame();
          break;
        case Endpoint::completions:
          render_text_chunk(event_, stamp, piece, "", null_usage);
          frame();
          break;
        case Endpoint::messages:
          anthropic::render_block_delta(event_, call != nullptr, piece, text_index);
          frame("content_block_delta");
          break;
        case Endpoint::responses:
          responses::render_delta(event_, sequence++, head, piece);
          frame(call != nullptr ? "response.function_call_arguments.delta" : "response.output_text.delta");
          break;
        case Endpoint::embeddings:
          break;
      }
      if (!co_await send(head_)) co_return give_up();
      ++sent;
    }
    if (plan.drop_after) {
      // drop:N: the cut a crashed or killed upstream leaves, with no finish chunk and no terminating chunk.
      ledger.add_completion_tokens(sent);
      close_abruptly();
      co_return After::abort;
    }
    if (plan.tokens == 0 && !co_await pause_until(first_token_at)) co_return give_up();

    head_.clear();
    const Usage usage{generation.prompt_tokens, sent};
    switch (endpoint) {
      case Endpoint::chat:
      case Endpoint::completions: {
        const bool chat = endpoint == Endpoint::chat;
        event_.clear();
        if (chat) {
          render_chat_chunk(event_, stamp, Delta::finish, chat_finish(plan.finish), null_usage);
        } else {
          render_text_chunk(event_, stamp, "", chat_finish(plan.finish), null_usage);
        }
        frame();
        if (!co_await send(head_)) co_return give_up();
        head_.clear();
        if (generation.include_usage) {
          event_.clear();
          render_usage_chunk(event_, stamp, chat ? "chat.completion.chunk" : "text_completion", usage);
          frame();
          if (!co_await send(head_)) co_return give_up();
          head_.clear();
        }
        frame_event(head_, "[DONE]", chunked_);
        break;
      }
      case Endpoint::messages:
        event_.clear();
        anthropic::render_block_stop(event_, text_index);
        frame("content_block_stop");
        event_.clear();
        anthropic::render_message_delta(event_, anthropic_stop(plan.finish), sent, !answer.search_query.empty());
        frame("message_delta");
        event_.clear();
        anthropic::render_message_stop(event_);
        frame("message_stop");
        break;
      case Endpoint::responses: {
        const std::string_view done_text = call != nullptr ? call->arguments : std::string_view(text_);
        if (responses_search) {
          event_.clear();
          responses::render_annotation_event(event_, sequence++, head, text_);
          frame("response.output_text.annotation.added");
        }
        event_.clear();
        responses::render_done(event_, sequence++, head, done_text);
        frame(call != nullptr ? "response.function_call_arguments.done" : "response.output_text.done");
        if (call == nullptr) {
          event_.clear();
          responses::render_part_event(event_, sequence++, head, true, text_);
          frame("response.content_part.done");
        }
        event_.clear();
        responses::render_item_event(event_, sequence++, head, true, text_);
        frame("response.output_item.done");
        const bool incomplete = plan.finish == Finish::length;
        const std::string_view type = incomplete ? "response.incomplete" : "response.completed";
        event_.clear();
        responses::render_response_event(event_, type, sequence++, head,
                                         incomplete ? responses::Status::incomplete : responses::Status::completed,
                                         text_, usage);
        frame(type);
        break;
      }
      case Endpoint::embeddings:
        break;
    }
    if (plan.linger.count() > 0) {
      // The last event goes now, the stream's end later (a server still busy after its answer).
      if (!co_await send(head_)) co_return give_up();
      head_.clear();
      if (!co_await pause_until(Clock::now() + plan.linger)) co_return give_up();
    }
    if (chunked_) head_ += "0\r\n\r\n";
    if (!co_await send(head_)) co_return give_up();
    ledger.add_completion_tokens(sent);
    ledger.count_completed();
    co_return keep_alive_ ? After::keep_alive : After::close;
  }

  // POST /v1/responses/input_tokens and /v1/messages/count_tokens: the prompt tally, with no
  // generation, latency or fault.
  asio::awaitable<After> count_tokens(std::string_view path) {
    const auto& request = parser_->get();
    sim_.ledger.count_request(path);
    if (!authorized()) co_return co_await unauthorized();
    if (anthropic_ && request.find("anthropic-version") == request.end()) {
      co_return co_await fail(400, "anthropic-version: header is required", "invalid_request_error", "", "");
    }
    body_in_.assign(request.body());
    Generation generation;
    const auto invalid =
        anthropic_ ? parse_messages(body_in_, generation, true) : parse_responses(body_in_, generation, true);
    if (invalid) co_return co_await fail(400, invalid->message, "invalid_request_error", invalid->param, "");
    body_.clear();
    if (anthropic_) {
      anthropic::render_input_tokens(body_, generation.prompt_tokens);
    } else {
      responses::render_input_tokens(body_, generation.prompt_tokens);
    }
    co_return co_await respond(200);
  }

  // Embeddings are answered after ttft (plus any slow-headers delay); itl does not apply.
  asio::awaitable<After> embed(const EmbeddingRequest& request, const Plan& plan) {
    Ledger& ledger = sim_.ledger;
    if (!co_await pause_until(plan.start + plan.slow_headers + plan.ttft)) {
      ledger.count_cancelled();
      co_return After::abort;
    }
    body_.clear();
    render_embeddings(body_, request, request.dimensions.value_or(sim_.options.embedding_dims), floats_);
    std::uint64_t tokens = 0;
    for (const auto& input : request.inputs) tokens += input.tokens;
    const After after = co_await respond(200);
    if (after == After::abort) {
      ledger.count_cancelled();
    } else {
      ledger.add_prompt_tokens(tokens);
      ledger.count_completed();
    }
    co_return after;
  }

  // OpenAI paths take "Authorization: Bearer KEY", Messages paths "x-api-key: KEY".
  bool authorized() const {
    if (sim_.bearer.empty()) return true;
    if (anthropic_) return parser_->get()["x-api-key"] == sim_.options.api_key;
    return parser_->get()[http::field::authorization] == sim_.bearer;
  }

  asio::awaitable<After> unauthorized() {
    if (anthropic_) {
      const bool missing = parser_->get().find("x-api-key") == parser_->get().end();
      co_return co_await fail(401, missing ? "x-api-key header is required" : "invalid x-api-key", "", "", "");
    }
    if (parser_->get().find(http::field::authorization) == parser_->get().end()) {
      co_return co_await fail(401,
                              "You didn't provide an API key. You need to provide your API key in an "
                              "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                              "invalid_request_error", "", "");
    }
    co_return co_await fail(401, "Incorrect API key provided.", "invalid_request_error", "", "invalid_api_key");
  }

  asio::awaitable<After> model_not_found(std::string_view model) {
    if (anthropic_) co_return co_await fail(404, fmt::format("model: {}", model), "", "", "");
    co_return co_await fail(404,
                            fmt::format("The model `{}` does not exist or you do not have access to it.", model),
                            "invalid_request_error", "", "model_not_found");
  }

  // The error body in the request's dialect: Anthropic's type follows from the status; OpenAI's
  // type, param and code are as given.
  asio::awaitable<After> fail(unsigned status, std::string_view message, std::string_view type,
                              std::string_view param, std::string_view code, std::string_view extra_headers = {}) {
    body_.clear();
    if (anthropic_) {
      anthropic::render_error(body_, status, message);
    } else {
      render_error(body_, message, type, param, code);
    }
    co_return co_await respond(status, extra_headers);
  }

  // Anthropic's API names each answer's request with a request-id header, which its SDKs read.
  void add_request_id() {
    static std::atomic<std::uint64_t> next{1};
    if (anthropic_) fmt::format_to(std::back_inserter(head_), "request-id: req_sim{:020}\r\n", next++);
  }

  // Sends head and body_ (JSON) in one write.
  asio::awaitable<After> respond(unsigned status, std::string_view extra_headers = {}) {
    head_.clear();
    fmt::format_to(std::back_inserter(head_),
                   "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n", status,
                   reason(status), body_.size());
    add_request_id();
    head_ += extra_headers;
    if (!keep_alive_) {
      head_ += "Connection: close\r\n";
    } else if (version_ < 11) {
      head_ += "Connection: keep-alive\r\n";
    }
    head_ += "\r\n";
    const std::array<asio::const_buffer, 2> buffers{asio::buffer(head_), asio::buffer(body_)};
    auto [ec, bytes] = co_await asio::async_write(stream_, buffers, use_nothrow);
    if (ec) co_return After::abort;
    co_return keep_alive_ ? After::keep_alive : After::close;
  }

  asio::awaitable<bool> send(std::string_view bytes) {
    auto [ec, written] = co_await asio::async_write(stream_, asio::buffer(bytes), use_nothrow);
    co_return !ec;
  }

  // Waits until deadline; false when the client went away meanwhile. While nothing has arrived from the
  // client, its socket is watched too: readable with nothing to peek means it closed. Once bytes are
  // waiting (a pipelined request, TLS records) the watch stops, since telling more would consume them.
  asio::awaitable<bool> pause_until(Clock::time_point deadline) {
    if (deadline <= Clock::now()) co_return true;
    timer_.expires_at(deadline);
    if (watch_peer_) {
      using namespace asio::experimental::awaitable_operators;
      auto woke = co_await (timer_.async_wait(use_nothrow) || socket().async_wait(Socket::wait_read, use_nothrow));
      if (woke.index() == 0) co_return true;
      const auto [ec] = std::get<1>(woke);
      if (ec || peer_gone(socket())) co_return false;
      watch_peer_ = false;
      timer_.expires_at(deadline);
    }
    auto [ec] = co_await timer_.async_wait(use_nothrow);
    co_return !ec;
  }

  // The hang fault: never answer; return once the client has gone away. What the client sends meanwhile
  // is read and discarded, since this connection will not answer it.
  asio::awaitable<void> hang() {
    std::array<char, 4096> sink{};
    for (;;) {
      auto [ec] = co_await socket().async_wait(Socket::wait_read, use_nothrow);
      if (ec || peer_gone(socket())) co_return;
      const auto n = ::recv(socket().native_handle(), sink.data(), sink.size(), MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) co_return;
    }
  }

  // The reset fault: SO_LINGER 0 makes close send an RST instead of a FIN.
  void reset() {
    boost::system::error_code ec;
    socket().set_option(asio::socket_base::linger(true, 0), ec);
    socket().close(ec);
  }

  void close_abruptly() {
    boost::system::error_code ec;
    socket().close(ec);
  }

  void close_gracefully() {
    boost::system::error_code ec;
    socket().shutdown(Socket::shutdown_send, ec);
    socket().close(ec);
  }

  Stream stream_;
  Simulator& sim_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;  // per connection, reused
  std::optional<http::request_parser<http::string_body>> parser_;
  PaddedBody body_in_;  // the request body as simdjson reads it
  std::string head_;    // response head, or the bytes of one stream write
  std::string body_;    // JSON response body
  std::string event_;   // one SSE payload
  std::string token_;   // one streamed token
  std::string text_;    // a whole completion, or what a stream has sent
  std::string answer_text_;  // an echoed tool result
  std::string search_query_;  // x-sim-web-search
  std::string call_id_;      // a tool call's call_... or toolu_... id
  std::string item_id_;      // a Responses function call's fc_... id
  std::string tool_name_;
  std::string arguments_;
  std::vector<float> floats_;
  bool keep_alive_ = true;
  bool chunked_ = true;     // the stream being sent uses chunked transfer encoding
  bool anthropic_ = false;  // the request is on a Messages path: Anthropic's auth and error shapes
  unsigned version_ = 11;
  bool watch_peer_ = true;
};

template <class Stream>
asio::awaitable<void> serve(Stream stream, Simulator& sim) {
  Session<Stream> session(std::move(stream), sim);
  co_await session.run();
}

void log_failure(std::exception_ptr failure) {
  if (!failure) return;
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    spdlog::warn("connection failed: {}", e.what());
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, Simulator& sim) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      // Out of descriptors, typically: back off instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer backoff(acceptor.get_executor(), milliseconds(50));
      co_await backoff.async_wait(use_nothrow);
      continue;
    }
    boost::system::error_code option_ec;
    socket.set_option(tcp::no_delay(true), option_ec);
    const auto executor = socket.get_executor();
    if (sim.tls) {
      sim.ledger.count_connection();
      asio::co_spawn(executor, serve(TlsStream(std::move(socket), *sim.tls), sim), log_failure);
    } else {
      sim.ledger.count_connection();
      asio::co_spawn(executor, serve(std::move(socket), sim), log_failure);
    }
  }
}

tcp::endpoint resolve(asio::io_context& context, const std::string& host, std::uint16_t port) {
  tcp::resolver resolver(context);
  const auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive);
  if (results.empty()) throw std::runtime_error(fmt::format("cannot resolve {}", host));
  return results.begin()->endpoint();
}

tcp::acceptor listen(asio::io_context& context, const tcp::endpoint& endpoint, bool share_port) {
  tcp::acceptor acceptor(context);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  if (share_port) acceptor.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
  return acceptor;
}

// Writes the port then renames, so a harness polling for the file never reads it half-written.
void write_ready_file(const std::string& path, std::uint16_t port) {
  const std::string temporary = fmt::format("{}.tmp.{}", path, ::getpid());
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << port << '\n';
    out.close();
    if (!out) throw std::runtime_error(fmt::format("cannot write {}", temporary));
  }
  std::filesystem::rename(temporary, path);
}

}  // namespace

int run_simulator(const Options& options) {
  Simulator sim(options);
  if (!options.tls_cert.empty()) {
    sim.tls.emplace(asio::ssl::context::tls_server);
    sim.tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3);
    sim.tls->use_certificate_chain_file(options.tls_cert);
    sim.tls->use_private_key_file(options.tls_key, asio::ssl::context::pem);
  }

  const auto threads = static_cast<std::size_t>(options.threads);
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<tcp::acceptor> acceptors;
  contexts.reserve(threads);
  acceptors.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
    // The first acceptor takes the requested port (perhaps 0); the others join the one it got.
    // SO_REUSEPORT only with several threads: a lone simulator must not silently share a busy port.
    const tcp::endpoint endpoint =
        i == 0 ? resolve(*contexts[0], options.host, options.port) : acceptors[0].local_endpoint();
    acceptors.push_back(listen(*contexts[i], endpoint, threads > 1));
  }
  const std::uint16_t port = acceptors[0].local_endpoint().port();
  spdlog::info("switchyard-sim listening on {}://{}:{} ({} thread{}, models: {})", sim.tls ? "https" : "http",
               options.host, port, threads, threads == 1 ? "" : "s", fmt::join(options.models, ", "));
  // Signals are taken before the ready file says we are up: one sent at once is handled, not fatal.
  asio::signal_set signals(*contexts[0], SIGINT, SIGTERM);
  signals.async_wait([&contexts](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: stopping", signal);
    for (auto& context : contexts) context->stop();
  });
  if (!options.ready_file.empty()) write_ready_file(options.ready_file, port);

  for (std::size_t i = 0; i < threads; ++i) {
    asio::co_spawn(*contexts[i], accept_loop(acceptors[i], sim), log_failure);
  }

  std::vector<std::thread> workers;
  for (std::size_t i = 1; i < threads; ++i) {
    workers.emplace_back([&context = *contexts[i]] { context.run(); });
  }
  contexts[0]->run();
  for (auto& worker : workers) worker.join();
  return 0;
}

}  // namespace sim
