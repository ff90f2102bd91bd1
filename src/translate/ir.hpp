// Stage "translate", the common form: what a request, an answer and a stream's events mean,
// whatever the dialect (OpenAI Chat Completions, OpenAI Responses, Anthropic Messages) they came in.
// Each dialect's module reads its own JSON into this form and writes this form as its own JSON
// (dialects/*.cpp); the gateway translates a body or a stream from dialect A to dialect B as read
// with A, then written with B. Nothing here does I/O.
//
// Text is kept as raw JSON: a `Json` is the bytes of one JSON value as they stand in the source
// (a string literal with its quotes and escapes, a number, an object), viewing the source body or
// event, or text the reader made and kept in the request's `Arena`. Writers copy it as it is, so
// prompts, deltas and schemas cross from one dialect to another without being unescaped and
// escaped again; only where the meaning needs it (an Anthropic `input` object that is an OpenAI
// `arguments` string) is a value converted (json.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::translate {

enum class Dialect : std::uint8_t { chat, responses, messages };
inline constexpr std::size_t kDialects = 3;
std::string_view to_string(Dialect dialect);  // "chat", "responses", "messages" (config and metrics names)

// The bytes of one JSON value (empty: absent). See above.
using Json = std::string_view;

// Owns the text a reader makes (generated ids, converted values); a `Json` may view it. Stable:
// nothing it holds moves when more is added.
class Arena {
public:
    Json keep(std::string text) { return items_.emplace_back(std::move(text)); }

private:
    std::deque<std::string> items_;
};

// --- Requests -------------------------------------------------------------------------------

enum class PartKind : std::uint8_t {
    text,         // text: a string literal
    image,        // image: url (an https or a data: URL literal) or media_type + data (base64 literal)
    document,     // a PDF or text document (Anthropic's document block; Responses' input_file)
    tool_call,    // the assistant called a tool: id, name, arguments
    tool_result,  // the result of a call: id (of the call), content (text/image parts), is_error
    reasoning,    // the model's thinking: text (may be empty), signature / encrypted, or redacted data
    web_search,   // a web search the provider ran for the model (answers only): id, text (the query),
                  // sources (what it found)
};

// A web page a search found (url and title: string literals).
struct WebSource {
    Json url;
    Json title;
};

// Where a piece of an answer's text comes from: a page a web search found. `cited_text` is the
// quoted passage (a string literal, or empty).
struct Citation {
    Json url;
    Json title;
    Json cited_text;
};

struct Part {
    PartKind kind = PartKind::text;
    Json text;  // text, reasoning: a string literal

    // image / document
    Json url;         // a string literal: https URL or data: URL
    Json media_type;  // "image/png", "application/pdf": a string literal
    Json data;        // base64 bytes: a string literal
    Json detail;      // OpenAI's image detail ("auto", "low", "high"): a string literal
    Json file_id;     // a provider's file id: a string literal
    Json title;       // a document's title

    // tool_call / tool_result
    Json id;         // the call's id: a string literal
    Json name;       // the tool's name: a string literal
    Json arguments;  // tool_call: the arguments as a JSON *string* literal of JSON text (OpenAI's form)
    std::vector<Part> content;  // tool_result: text and image parts (a plain string is one text part)
    bool is_error = false;      // tool_result

    // reasoning
    Json signature;  // Anthropic's thinking signature, or Responses' encrypted_content: a string literal
    Json redacted;   // Anthropic's redacted_thinking data: a string literal
    Json item_id;    // Responses' reasoning item id, to send it back as it was

    Json cache_control;  // Anthropic's prompt-caching marker on this part (an object), if any

    // web_search: the pages found; text (answers): the pages this text cites
    std::vector<WebSource> sources;
    std::vector<Citation> citations;
};

enum class Role : std::uint8_t { user, assistant };

struct Message {
    Role role = Role::user;
    std::vector<Part> parts;  // tool results travel in user messages, calls in assistant messages
};

struct Tool {
    Json name;         // a string literal
    Json description;  // a string literal, or empty
    Json parameters;   // the JSON Schema of its input (an object), or empty
    std::optional<bool> strict;
    Json cache_control;
    // A Responses `custom` tool (free-form text input, e.g. Codex's apply_patch; `format` its
    // grammar, an object, or empty). Other dialects see it as a function whose one parameter is the
    // string "input"; its calls' arguments are then {"input":"<text>"}, which the Responses writer
    // turns back into a custom_tool_call with that text.
    bool custom = false;
    Json format;
    // The provider's own web search (Responses' `web_search` tool, Anthropic's
    // `web_search_20250305` server tool): the provider runs the searches, the answer carries them
    // (PartKind::web_search) and the text cites the pages. Chat's callers ask for it with
    // `web_search_options`, read as this tool.
    bool web_search = false;
    Json allowed_domains, blocked_domains;  // arrays of string literals, or empty
    Json user_location;                     // {"type":"approximate","city",...} (the same in both), or empty
    std::optional<std::int64_t> max_uses;   // Anthropic's limit of searches per request
    Json search_context_size;               // OpenAI's "low" | "medium" | "high" (a string literal), or empty
};

struct ToolChoice {
    enum class Mode : std::uint8_t { unset, auto_, none, required, named };
    Mode mode = Mode::unset;
    Json name;                              // named: a string literal
    std::optional<bool> parallel;           // parallel tool calls allowed (OpenAI parallel_tool_calls;
                                            // Anthropic !disable_parallel_tool_use)
};

// How much the model may think before answering: an effort (OpenAI reasoning.effort:
// "minimal"|"low"|"medium"|"high") or a token budget (Anthropic thinking.budget_tokens).
struct Reasoning {
    bool enabled = false;
    Json effort;                          // a string literal, or empty
    std::optional<std::int64_t> budget;   // tokens
    bool summary = false;                 // Responses: reasoning.summary asked for
};

// A structured output format: JSON (any object) or a JSON Schema.
struct Format {
    enum class Kind : std::uint8_t { text, json_object, json_schema };
    Kind kind = Kind::text;
    Json name;    // json_schema: a string literal
    Json schema;  // json_schema: an object
    std::optional<bool> strict;
};

// A request field the reader does not map. The writer of another dialect refuses it with a 400
// naming it when dropping it would change what the caller gets; else it is dropped (and said in
// the docs).
struct Unmapped {
    std::string_view name;  // the field as the caller spelt it ("n", "logprobs", "top_k")
    Json value;
    bool changes_meaning = true;
};

struct Request {
    Json model;                  // a string literal
    std::vector<Part> system;    // system / developer instructions: text parts
    std::vector<Message> messages;
    std::vector<Tool> tools;
    ToolChoice tool_choice;
    std::optional<std::int64_t> max_tokens;  // max_tokens / max_completion_tokens / max_output_tokens
    Json temperature, top_p, top_k;          // numbers
    std::vector<Json> stop;                  // string literals
    Json seed;                               // chat only
    Json user;                               // an end-user id: OpenAI's user, Anthropic's metadata.user_id
    Json cache_key;                          // an affinity key: prompt_cache_key (OpenAI)
    Reasoning reasoning;
    Format format;
    bool stream = false;
    std::vector<Unmapped> unmapped;
    Arena arena;

    // The request offers the provider's web search (chat has no such tool).
    bool offers_web_search() const {
        for (const Tool& tool : tools) {
            if (tool.web_search) return true;
        }
        return false;
    }
};

// --- Answers --------------------------------------------------------------------------------

// Why the model stopped. One table (dialect.cpp) maps it to and from each dialect's words.
enum class Stop : std::uint8_t {
    unknown,
    end_turn,        // chat "stop", messages "end_turn", responses completed
    max_tokens,      // chat "length", messages "max_tokens", responses incomplete (max_output_tokens)
    stop_sequence,   // chat "stop", messages "stop_sequence"
    tool_use,        // chat "tool_calls", messages "tool_use", responses completed with function calls
    content_filter,  // chat "content_filter", messages "refusal", responses incomplete (content_filter)
    pause,           // messages "pause_turn"
};

// Token usage, in one convention: `input` is every prompt token, cached or not (OpenAI's
// prompt_tokens; Anthropic's input_tokens + cache_read_input_tokens + cache_creation_input_tokens).
struct Usage {
    std::int64_t input = 0;
    std::int64_t cached = 0;       // of input, read from a prompt cache
    std::int64_t cache_write = 0;  // of input, written to a prompt cache (Anthropic)
    std::int64_t output = 0;
    std::int64_t reasoning = 0;    // of output, spent thinking
    bool found = false;            // the upstream reported it
    std::int64_t web_searches = 0; // searches the provider ran (Anthropic's server_tool_use.web_search_requests)
};

struct Response {
    Json id;     // a string literal: the upstream's id of the answer
    Json model;  // a string literal: the model that answered
    std::int64_t created = 0;  // Unix seconds
    std::vector<Part> content;  // text, reasoning and tool_call parts, in order
    Stop stop = Stop::unknown;
    Json stop_sequence;  // the stop sequence met, a string literal
    Usage usage;
    Arena arena;
};

// An error from an upstream, in any dialect's shape.
struct Error {
    int status = 500;  // HTTP status (0 inside a stream: taken from the type)
    Json type;         // a string literal: "invalid_request_error", "overloaded_error", ...
    Json message;      // a string literal
    Json code;         // a string literal, or empty
    Json param;
};

// --- Streams --------------------------------------------------------------------------------

// One step of an answer being generated. Readers turn a dialect's events into these (none, one or
// several per event); writers turn them into the caller's dialect's events. Blocks are opened and
// closed in order, one at a time; `index` counts them from 0 in the order they opened.
// web_search: a search the provider runs; its deltas are pieces of its input ({"query":...}) and
// the pages it found come as a `sources` event.
enum class BlockKind : std::uint8_t { text, reasoning, tool_call, web_search };

struct Event {
    enum class Kind : std::uint8_t {
        start,        // the answer began: id, model, created; usage.input when known up front
        block_start,  // a block opened: block, index; tool_call: id and name
        delta,        // more of the open block: text (text, reasoning, or the arguments' next piece)
        signature,    // a reasoning block's signature (text)
        sources,      // the pages a web search found: id (the search's), sources; between blocks
        citation,     // the open text block cites a page: citation
        block_stop,   // the open block is complete
        finish,       // the model stopped: stop, stop_sequence; usage when known
        usage,        // usage alone (a chat stream's usage chunk after the finish)
        error,        // the stream failed: error
        done,         // the answer is over (the writer ends its stream)
    };
    Kind kind = Kind::start;
    BlockKind block = BlockKind::text;
    std::size_t index = 0;
    Json id, name;  // start: the answer's id; block_start of a tool call: its id and name
    Json model;     // start: the model that answers
    Json text;      // delta, signature: a string literal (the next piece, escaped as JSON)
    std::int64_t created = 0;
    Stop stop = Stop::unknown;
    Json stop_sequence;
    Usage usage;
    Error error;
    const std::vector<WebSource>* sources = nullptr;  // sources (valid during the call)
    const Citation* citation = nullptr;               // citation (likewise)
};

}  // namespace switchyard::translate
