// The Anthropic Messages dialect (translate/dialect.hpp): /v1/messages request bodies, whole
// answers, errors and SSE streams (message_start ... message_stop), as Claude Code and Anthropic's
// SDKs send and read them, to and from the common form (ir.hpp).
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "parse/json_locate.hpp"
#include "translate/dialects/dialects.hpp"
#include "translate/json.hpp"

namespace switchyard::translate::messages {

namespace od = simdjson::ondemand;

namespace {

// Returns the simdjson error of `expr` (an error_code) from the enclosing function. Each use has a
// name of its own: a use may hold a lambda that uses it again (json::each_field's callbacks).
#define SY_TRY(expr) SY_TRY_NAMED(expr, SY_CONCAT(sy_error_, __COUNTER__))
#define SY_CONCAT(a, b) SY_CONCAT_(a, b)
#define SY_CONCAT_(a, b) a##b
#define SY_TRY_NAMED(expr, name)             \
    do {                                     \
        if (auto name = (expr)) return name; \
    } while (0)

// The text of a string literal as a view into it, for names and words (no escapes in them).
std::string_view inner(Json literal) {
    return literal.size() >= 2 && literal.front() == '"' ? literal.substr(1, literal.size() - 2) : std::string_view();
}

// A raw JSON value of an On-Demand value.
simdjson::error_code raw_of(od::value value, Json& out) { return json::raw(value).get(out); }

// --- Usage: Anthropic counts input apart from the cache; the common form counts it all --------

struct AnthropicUsage {
    std::int64_t input_tokens = 0;
    std::int64_t cache_read = 0;
    std::int64_t cache_creation = 0;
    std::int64_t output_tokens = 0;
    std::int64_t web_searches = 0;  // server_tool_use.web_search_requests
    bool found = false;
    bool has_input = false;  // input_tokens was given (a message_delta may leave it out)
};

simdjson::error_code read_usage(od::value value, AnthropicUsage& out) {
    out.found = true;
    return json::each_field(value, [&](std::string_view key, od::value v) -> simdjson::error_code {
        if (key == "server_tool_use") {
            od::json_type type;
            SY_TRY(v.type().get(type));
            if (type != od::json_type::object) return simdjson::SUCCESS;
            return json::each_field(v, [&](std::string_view k, od::value n) -> simdjson::error_code {
                if (k == "web_search_requests") return n.get_int64().get(out.web_searches);
                return simdjson::SUCCESS;
            });
        }
        std::int64_t* target = key == "input_tokens"                  ? &out.input_tokens
                               : key == "output_tokens"               ? &out.output_tokens
                               : key == "cache_read_input_tokens"     ? &out.cache_read
                               : key == "cache_creation_input_tokens" ? &out.cache_creation
                                                                      : nullptr;
        if (target == nullptr) return simdjson::SUCCESS;  // server_tool_use, service_tier, cache_creation{...}
        bool is_null = false;
        SY_TRY(v.is_null().get(is_null));
        if (is_null) return simdjson::SUCCESS;
        SY_TRY(v.get_int64().get(*target));
        if (target == &out.input_tokens) out.has_input = true;
        return simdjson::SUCCESS;
    });
}

Usage to_common(const AnthropicUsage& usage) {
    Usage out;
    out.input = usage.input_tokens + usage.cache_read + usage.cache_creation;
    out.cached = usage.cache_read;
    out.cache_write = usage.cache_creation;
    out.output = usage.output_tokens;
    out.web_searches = usage.web_searches;
    out.found = usage.found;
    return out;
}

// The uncached input: the common form's input less what the cache read and wrote.
std::int64_t uncached_input(const Usage& usage) {
    return std::max<std::int64_t>(0, usage.input - usage.cached - usage.cache_write);
}

void write_usage_fields(json::Writer& w, const Usage& usage) {
    w.key("input_tokens").number(uncached_input(usage));
    w.key("cache_creation_input_tokens").number(usage.cache_write);
    w.key("cache_read_input_tokens").number(usage.cached);
}

// The searches a provider's web search ran, as Anthropic counts them (after output_tokens).
void write_server_tool_use(json::Writer& w, const Usage& usage) {
    if (usage.web_searches <= 0) return;
    w.key("server_tool_use").object().key("web_search_requests").number(usage.web_searches).end_object();
}

// --- Web search in answers: another provider's searches as Anthropic's blocks ----------------------
// Anthropic's pages carry an encrypted_content (and citations an encrypted_index) that only it can
// read back; a search that ran elsewhere has none, and a caller sending such blocks back in a later
// turn has them dropped by the reader of requests (the search is not run again).

void write_search_use(json::Writer& w, std::string_view id, Json query) {
    w.object().field_text("type", "server_tool_use").field_text("id", id).field_text("name", "web_search");
    w.key("input").object().field("query", query.empty() ? Json("\"\"") : query).end_object();
    w.end_object();
}

// The web_search_tool_result's content: the pages found. A page with no title (OpenAI gives none
// but where the text cites it) is titled with its url.
void write_search_result_content(json::Writer& w, const std::vector<WebSource>& pages) {
    w.key("content").array();
    for (const auto& page : pages) {
        w.object().field_text("type", "web_search_result").field("url", page.url);
        w.field("title", page.title.empty() ? page.url : page.title);
        w.field_text("encrypted_content", "").key("page_age").null().end_object();
    }
    w.end_array();
}

void write_citation(json::Writer& w, const Citation& citation) {
    w.object().field_text("type", "web_search_result_location").field("url", citation.url);
    w.field("title", citation.title.empty() ? citation.url : citation.title);
    w.field_text("encrypted_index", "");
    w.field("cited_text", citation.cited_text.empty() ? Json("\"\"") : citation.cited_text).end_object();
}

// --- Ids: Anthropic's ids are [A-Za-z0-9_-]+; others' ids that fit are kept --------------------

bool usable_id(Json literal) {
    const std::string_view text = inner(literal);
    if (text.empty() || literal.size() < 2) return false;
    return std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

bool starts_with(Json literal, std::string_view prefix) { return inner(literal).starts_with(prefix); }

// A search's id: the provider's when it is Anthropic's, else one made like Anthropic's.
std::string search_id(Json id, std::string_view seed, std::size_t n) {
    if (starts_with(id, "srvtoolu_") && usable_id(id)) return std::string(inner(id));
    return json::make_id("srvtoolu_", seed, n);
}

// --- Requests: reading ------------------------------------------------------------------------

// The body, and a padded copy On-Demand reads: views into the copy are moved back into the body,
// which outlives the request (the copy does not).
class Source {
public:
    explicit Source(std::string_view body) : body_(body), padded_(body) {}
    Json in_body(std::string_view view) const {
        if (view.empty()) return view;
        return body_.substr(static_cast<std::size_t>(view.data() - padded_.data()), view.size());
    }
    simdjson::padded_string& padded() { return padded_; }

private:
    std::string_view body_;
    simdjson::padded_string padded_;
};

struct RequestRead {
    Source& source;
    Request& out;
    std::optional<ApiError> refusal;  // a request Anthropic's API would refuse
    std::string_view field;           // the top-level field being read, named by a malformed-body error
    std::vector<Part> late_system;    // text of system messages inside `messages`, joined to system last

    simdjson::error_code refuse(std::string message, std::string param) {
        refusal = ApiError::invalid_request(std::move(message), std::move(param));
        return simdjson::UNEXPECTED_ERROR;
    }
    simdjson::error_code literal(od::value value, Json& out_json) {
        Json raw;
        SY_TRY(raw_of(value, raw));
        out_json = source.in_body(raw);
        return simdjson::SUCCESS;
    }
    simdjson::error_code string(od::value value, Json& out_json) {
        od::json_type type;
        SY_TRY(value.type().get(type));
        if (type != od::json_type::string) return simdjson::INCORRECT_TYPE;
        return literal(value, out_json);
    }
};

simdjson::error_code read_blocks(RequestRead& r, od::value value, std::vector<Part>& out);

// An image or document `source`: base64 (media_type, data), url, file, or plain text.
simdjson::error_code read_source(RequestRead& r, od::value value, Part& part) {
    Json type, data;
    SY_TRY(json::each_field(value, [&](std::string_view key, od::value v) -> simdjson::error_code {
        if (key == "type") {
            SY_TRY(r.string(v, type));
        } else if (key == "media_type") {
            SY_TRY(r.string(v, part.media_type));
        } else if (key == "data") {
            SY_TRY(r.string(v, data));
        } else if (key == "url") {
            SY_TRY(r.string(v, part.url));
        } else if (key == "file_id") {
            SY_TRY(r.string(v, part.file_id));
        }
        return simdjson::SUCCESS;
    }));
    // A plain-text document's data is its text, not base64: kept as the part's text.
    if (json::is(type, "text")) {
        part.text = data;
    } else {
        part.data = data;
    }
    return simdjson::SUCCESS;
}

// One content block of a message (or of a tool_result's content) into `out`; a block the common
// form has no place for (server tool blocks, search results) is Unmapped under its type's name.
simdjson::error_code read_block(RequestRead& r, od::value value, std::vector<Part>& out) {
    Part part;
    Json type, input;
    const std::size_t unmapped_before = r.out.unmapped.size();  // (a dropped block's content may add some)
    SY_TRY(json::each_field(value, [&](std::string_view key, od::value v) -> simdjson::error_code {
        if (key == "type") {
            SY_TRY(r.string(v, type));
        } else if (key == "text" || key == "thinking") {
            SY_TRY(r.string(v, part.text));
        } else if (key == "signature") {
            SY_TRY(r.string(v, part.signature));
        } else if (key == "data") {
            SY_TRY(r.string(v, part.redacted));
        } else if (key == "id" || key == "tool_use_id") {
            SY_TRY(r.string(v, part.id));
        } else if (key == "name") {
            SY_TRY(r.string(v, part.name));
        } else if (key == "title") {
            SY_TRY(r.literal(v, part.title));
        } else if (key == "input") {
            SY_TRY(r.literal(v, input));
        } else if (key == "is_error") {
            SY_TRY(v.get_bool().get(part.is_error));
        } else if (key == "cache_control") {
            SY_TRY(r.literal(v, part.cache_control));
        } else if (key == "source") {
            SY_TRY(read_source(r, v, part));
        } else if (key == "content") {
            od::json_type content_type;
            SY_TRY(v.type().get(content_type));
            if (content_type == od::json_type::string) {
                Part text;
                SY_TRY(r.literal(v, text.text));
                part.content.push_back(text);
            } else {
                SY_TRY(read_blocks(r, v, part.content));
            }
        }
        return simdjson::SUCCESS;
    }));
    const std::string_view kind = inner(type);
    if (kind == "text") {
        part.kind = PartKind::text;
    } else if (kind == "image") {
        part.kind = PartKind::image;
    } else if (kind == "document") {
        part.kind = PartKind::document;
    } else if (kind == "tool_use") {
        // Anthropic refuses a call without its id or name; another dialect could not pair it.
        if (part.id.empty() || part.name.empty())
            return r.refuse("messages: a tool_use block needs its id and name", "messages");
        part.kind = PartKind::tool_call;
        std::string arguments;
        json::append_as_string(input.empty() ? Json("{}") : input, arguments);
        part.arguments = r.out.arena.keep(std::move(arguments));
    } else if (kind == "tool_result") {
        if (part.id.empty()) return r.refuse("messages: a tool_result block needs its tool_use_id", "messages");
        part.kind = PartKind::tool_result;
    } else if (kind == "thinking" || kind == "redacted_thinking") {
        part.kind = PartKind::reasoning;
    } else if (kind == "server_tool_use" || kind == "web_search_tool_result") {
        // A search Anthropic ran in an earlier turn (its results encrypted for Anthropic alone):
        // no other provider can take it. The text that used it stays.
        r.out.unmapped.resize(unmapped_before);
        return simdjson::SUCCESS;
    } else {
        r.out.unmapped.push_back({kind.empty() ? std::string_view("content") : kind, type, true});
        return simdjson::SUCCESS;
    }
    out.push_back(std::move(part));
    return simdjson::SUCCESS;
}

simdjson::error_code read_blocks(RequestRead& r, od::value value, std::vector<Part>& out) {
    return json::each_element(value, [&](od::value block) { return read_block(r, block, out); });
}

// `content`: a string (one text part) or an array of blocks.
simdjson::error_code read_content(RequestRead& r, od::value value, std::vector<Part>& out) {
    od::json_type type;
    SY_TRY(value.type().get(type));
    if (type == od::json_type::string) {
        Part text;
        SY_TRY(r.literal(value, text.text));
        out.push_back(text);
        return simdjson::SUCCESS;
    }
    return read_blocks(r, value, out);
}

// Claude Code (2.1.x, with the mid-conversation tool changes beta) sends {"role":"system"} messages
// inside `messages`. The common form has one system prompt: their text joins Request.system after
// the top-level system, in order (as the chat reader does with a mid-conversation system message).
// An approximation: where in the conversation the instruction came is lost.
simdjson::error_code read_message(RequestRead& r, od::value value, std::size_t index) {
    Message message;
    Json role;
    SY_TRY(json::each_field(value, [&](std::string_view key, od::value v) -> simdjson::error_code {
        if (key == "role") {
            SY_TRY(r.string(v, role));
        } else if (key == "content") {
            SY_TRY(read_content(r, v, message.parts));
        }
        return simdjson::SUCCESS;
    }));
    const std::string where = "messages." + std::to_string(index);
    if (json::is(role, "user")) {
        message.role = Role::user;
    } else if (json::is(role, "assistant")) {
        message.role = Role::assistant;
    } else if (json::is(role, "system")) {
        for (auto& part : message.parts) {
            if (part.kind != PartKind::text) {
                return r.refuse(where + ".content: a system message takes text blocks only", where + ".content");
            }
            r.late_system.push_back(std::move(part));
        }
        return simdjson::SUCCESS;
    } else {
        // Anthropic's own wording, which Claude Code recognises.
        return r.refuse(where + ".role: Input should be 'user' or 'assistant'", where + ".role");
    }
    r.out.messages.push_back(std::move(message));
    return simdjson::SUCCESS;
}

// Anthropic-defined client tools: Claude knows their schemas and the caller runs the calls. To
// another API each is a function of the same name with that schema (the descriptions are ours), so
// any model can call it and the caller runs the call as it would Claude's. Matched by type prefix,
// in order (the text editor's versions up to 20250124 have undo_edit). `computer_*` is not among
// them: its calls need screenshots and a model trained on them.
struct DefinedTool {
    std::string_view type_prefix;
    Json description;  // a string literal
    Json schema;       // an object
};

// The text editor's input (its commands, with or without undo_edit).
std::string editor_schema(bool undo) {
    std::string schema = R"({"type":"object","properties":{"command":{"type":"string","enum":["view","create","str_replace","insert")";
    if (undo) schema += R"(,"undo_edit")";
    schema +=
        R"(]},"path":{"type":"string","description":"Absolute path to the file or directory."},)"
        R"("file_text":{"type":"string","description":"create: the whole content of the new file."},)"
        R"("old_str":{"type":"string","description":"str_replace: the exact text to replace; it must occur once in the file, whitespace included."},)"
        R"("new_str":{"type":"string","description":"str_replace: the text that replaces old_str; insert: the text to insert."},)"
        R"("insert_line":{"type":"integer","description":"insert: the line after which the text goes (0: before the first line)."},)"
        R"("view_range":{"type":"array","items":{"type":"integer"},"description":"view: the first and last line to show, from 1; -1 as the last: to the end."}},)"
        R"("required":["command","path"]})";
    return schema;
}

const DefinedTool* defined_tool(Json type) {
    static const std::string editor = editor_schema(false), editor_with_undo = editor_schema(true);
    // The editor's description, the versions with undo_edit saying so.
    static const std::string editor_head =
        R"("View, create and edit text files. view shows a file with line numbers (or lists a directory); create )"
        R"(writes a new file; str_replace replaces one exact, unique occurrence of old_str with new_str; insert adds )"
        R"(new_str after line insert_line)";
    static const std::string editor_text = editor_head + R"(.")";
    static const std::string editor_with_undo_text = editor_head + R"(; undo_edit reverts the last edit of the file.")";
    static const std::array<DefinedTool, 5> tools{{
        {"bash_",
         R"("Run a command in a persistent bash shell and get its output. Send restart: true to start a new shell.")",
         R"({"type":"object","properties":{"command":{"type":"string","description":"The command to run."},)"
         R"("restart":{"type":"boolean","description":"Restart the shell instead of running a command."}}})"},
        {"text_editor_20250124", editor_with_undo_text, editor_with_undo},
        {"text_editor_2024", editor_with_undo_text, editor_with_undo},
        {"text_editor_", editor_text, editor},
        {"memory_",
         R"("A memory directory (/memories) kept between conversations: view it or a file, create a file, )"
         R"(str_replace or insert text in one, delete a file, rename one.")",
         R"({"type":"object","properties":{"command":{"type":"string","enum":["view","create","str_replace","insert","delete","rename"]},)"
         R"("path":{"type":"string","description":"The file or directory, under /memories."},)"
         R"("file_text":{"type":"string","description":"create: the content of the file."},)"
         R"("old_str":{"type":"string","description":"str_replace: the exact text to replace."},)"
         R"("new_str":{"type":"string","description":"str_replace: the new text."},)"
         R"("insert_line":{"type":"integer","description":"insert: the line after which insert_text goes."},)"
         R"("insert_text":{"type":"string","description":"insert: the text to insert."},)"
         R"("view_range":{"type":"array","items":{"type":"integer"},"description":"view: the first and last line to show."},)"
         R"("old_path":{"type":"string","description":"rename: the file to rename."},)"
         R"("new_path":{"type":"string","description":"rename: its new path."}},"required":["command"]})"},
    }};
    for (const auto& tool : tools) {
        if (inner(type).starts_with(tool.type_prefix)) return &tool;
    }
    return nullptr;
}

simdjson::error_code read_tool(RequestRead& r, od::value value) {
    od::object object;
    SY_TRY(value.get_object().get(object));
    Json raw_tool;
    SY_TRY(object.raw_json().get(raw_tool));
    SY_TRY(object.reset().error());
    Tool tool;
    Json type;
    SY_TRY(json::each_field(object, [&](std::string_view key, od::value v) -> simdjson::error_code {
        if (key == "type") {
            SY_TRY(r.string(v, type));
        } else if (key == "name") {
            SY_TRY(r.string(v, tool.name));
        } else if (key == "description") {
            SY_TRY(r.string(v, tool.description));
        } else if (key == "input_schema") {
            SY_TRY(r.literal(v, tool.parameters));
        } else if (key == "cache_control") {
            SY_TRY(r.literal(v, tool.cache_control));
        } else if (key == "strict") {
            bool strict = false;
            SY_TRY(v.get_bool().get(strict));
            tool.strict = strict;
        } else if (key == "allowed_domains") {
            SY_TRY(r.literal(v, tool.allowed_domains));
        } else if (key == "blocked_domains") {
            SY_TRY(r.literal(v, tool.blocked_domains));
        } else if (key == "user_location") {
            SY_TRY(r.literal(v, tool.user_location));
        } else if (key == "max_uses") {
            std::int64_t n = 0;
            SY_TRY(v.get_int64().get(n));
            tool.max_uses = n;
        }
        return simdjson::SUCCESS;
    }));
    // Anthropic's web search server tool: OpenAI's Responses API has its own (chat has none).
    if (inner(type).starts_with("web_search_")) {
        tool.web_search = true;
        if (tool.allowed_domains == "null") tool.allowed_domains = {};
        if (tool.blocked_domains == "null") tool.blocked_domains = {};
        if (tool.user_location == "null") tool.user_location = {};
        r.out.tools.push_back(tool);
        return simdjson::SUCCESS;
    }
    if (const DefinedTool* defined = defined_tool(type); defined != nullptr && !tool.name.empty()) {
        tool.description = defined->description;
        tool.parameters = defined->schema;
        r.out.tools.push_back(tool);
        return simdjson::SUCCESS;
    }
    // A server tool (web_fetch_..., code_execution_..., tool_search_...) runs at Anthropic, and the
    // computer tool needs a model trained on it: no other API has them for the model.
    if (!type.empty() && !json::is(type, "custom")) {
        r.out.unmapped.push_back({"tools", r.source.in_body(raw_tool), true});
        return simdjson::SUCCESS;
    }
    if (tool.name.empty()) return r.refuse("tools: a tool needs its name", "tools");
    r.out.tools.push_back(tool);
    return simdjson::SUCCESS;
}

simdjson::error_code read_tool_choice(RequestRead& r, od::value value) {
    ToolChoice& choice = r.out.tool_choice;
    SY_TRY(json::each_field(value, [&](std::string_view key, od::value v) -> simdjson::error_code {
        if (key == "type") {
            Json type;
            SY_TRY(r.string(v, type));
            const std::string_view word = inner(type);
            using Mode = ToolChoice::Mode;
            choice.mode = word == "auto"   ? Mode::auto_
                          : word == "any"  ? Mode::required
                          : word == "tool" ? Mode::named
                          : word == "none" ? Mode::none
                                           : Mode::unset;
            if (choice.mode == Mode::unset) {
                return r.refuse("tool_choice.type: must be one of auto, any, tool, none", "tool_choice");
            }
        } else if (key == "name") {
            SY_TRY(r.string(v, choice.name));
        } else if (key == "disable_parallel_tool_use") {
            bool disable = false;
            SY_TRY(v.get_bool().get(disable));
            choice.parallel = !disable;
        }
        return simdjson::SUCCESS;
    }));
    if (choice.mode == ToolChoice::Mode::named && choice.name.empty()) {
        return r.refuse("tool_choice.name: Field required (tool_choice of type tool names the tool)", "tool_choice.name");
    }
    return simdjson::SUCCESS;
}

simdjson::error_code read_thinking(RequestRead& r, od::value value) {
    Reasoning& reasoning = r.out.reasoning;
    return json::each_field(value, [&](std::string_view key, od::value v) -> simdjson::error_code {
        if (key == "type") {
            Json type;
            SY_TRY(r.string(v, type));
            reasoning.enabled = !json::is(type, "disabled");  // enabled, or the newer adaptive
        } else if (key == "budget_tokens") {
            std::int64_t budget = 0;
            SY_TRY(v.get_int64().get(budget));
            reasoning.budget = budget;
        }
        return simdjson::SUCCESS;
    });
}

// Structured outputs: output_format {type json_schema, schema}, or output_config {format, effort}.
simdjson::error_code read_output_format(RequestRead& r, od::value value) {
    return json::each_field(value, [&](std::string_view key, od::value v) -> simdjson::error_code {
        if (key == "type") {
            Json type;
            SY_TRY(r.string(v, type));
            if (json::is(type, "json_schema")) r.out.format.kind = Format::Kind::json_schema;
        } else if (key == "schema") {
            SY_TRY(r.literal(v, r.out.format.schema));
        }
        return simdjson::SUCCESS;
    });
}

simdjson::error_code read_output_config(RequestRead& r, od::value value) {
    return json::each_field(value, [&](std::string_view key, od::value v) -> simdjson::error_code {
        if (key == "format") {
            SY_TRY(read_output_format(r, v));
        } else if (key == "effort") {
            SY_TRY(r.string(v, r.out.reasoning.effort));
        }
        return simdjson::SUCCESS;
    });
}

simdjson::error_code read_system(RequestRead& r, od::value value) {
    od::json_type type;
    SY_TRY(value.type().get(type));
    if (type == od::json_type::string) {
        Part text;
        SY_TRY(r.literal(value, text.text));
        r.out.system.push_back(text);
        return simdjson::SUCCESS;
    }
    std::vector<Part> blocks;
    SY_TRY(read_blocks(r, value, blocks));
    for (auto& block : blocks) {
        if (block.kind != PartKind::text) return r.refuse("system: only text blocks are allowed", "system");
        r.out.system.push_back(std::move(block));
    }
    return simdjson::SUCCESS;
}

simdjson::error_code read_string_array(RequestRead& r, od::value value, std::vector<Json>& out) {
    return json::each_element(value, [&](od::value v) -> simdjson::error_code {
        Json literal;
        SY_TRY(r.string(v, literal));
        out.push_back(literal);
        return simdjson::SUCCESS;
    });
}

simdjson::error_code read_metadata(RequestRead& r, od::value value) {
    return json::each_field(value, [&](std::string_view key, od::value v) -> simdjson::error_code {
        if (key == "user_id") {
            bool is_null = false;
            SY_TRY(v.is_null().get(is_null));
            if (!is_null) SY_TRY(r.string(v, r.out.user));
        }
        return simdjson::SUCCESS;
    });
}

// Top-level fields the common form has no place for: whether dropping them changes the answer.
struct UnmappedField {
    std::string_view name;
    bool changes_meaning;
};
constexpr std::array<UnmappedField, 4> kUnmapped{{
    {"service_tier", false},  // a priority, not a meaning
    {"container", false},     // only server tools use it, and they are refused on their own
    {"mcp_servers", true},    // tools Anthropic calls on the caller's behalf
    // Claude Code's context editing ({"edits":[{"type":"clear_thinking_20251015",...}]}): how
    // Anthropic trims the context it keeps; another dialect's upstream keeps none to trim.
    {"context_management", false},
}};

simdjson::error_code read_top(RequestRead& r, std::string_view key, od::value v, bool& has_max_tokens) {
    Request& out = r.out;
    if (key == "model") return r.string(v, out.model);
    if (key == "system") return read_system(r, v);
    if (key == "messages") {
        return json::each_element(
            v, [&](od::value message, std::size_t index) { return read_message(r, message, index); });
    }
    if (key == "tools") {
        return json::each_element(v, [&](od::value tool) { return read_tool(r, tool); });
    }
    if (key == "tool_choice") return read_tool_choice(r, v);
    if (key == "max_tokens") {
        std::int64_t max_tokens = 0;
        SY_TRY(v.get_int64().get(max_tokens));
        out.max_tokens = max_tokens;
        has_max_tokens = true;
        return simdjson::SUCCESS;
    }
    if (key == "temperature") return r.literal(v, out.temperature);
    if (key == "top_p") return r.literal(v, out.top_p);
    if (key == "top_k") return r.literal(v, out.top_k);
    if (key == "stop_sequences") return read_string_array(r, v, out.stop);
    if (key == "stream") return v.get_bool().get(out.stream);
    if (key == "metadata") return read_metadata(r, v);
    if (key == "thinking") return read_thinking(r, v);
    if (key == "output_format") return read_output_format(r, v);
    if (key == "output_config") return read_output_config(r, v);
    Json raw;
    SY_TRY(r.literal(v, raw));
    for (const auto& row : kUnmapped) {
        if (row.name == key) {
            out.unmapped.push_back({row.name, raw, row.changes_meaning});
            return simdjson::SUCCESS;
        }
    }
    return simdjson::SUCCESS;  // anything else (unknown, or newer than this reader) is dropped
}

}  // namespace

std::optional<ApiError> read_request(std::string_view body, Request& out) {
    Source source(body);
    RequestRead r{source, out, std::nullopt, {}, {}};
    od::parser parser;
    od::document document;
    bool has_max_tokens = false;
    const auto read = [&]() -> simdjson::error_code {
        SY_TRY(parser.iterate(source.padded()).get(document));
        return json::each_field(document, [&](std::string_view key, od::value v) -> simdjson::error_code {
            r.field = key;
            SY_TRY(read_top(r, key, v, has_max_tokens));
            return simdjson::SUCCESS;
        });
    };
    if (const auto error = read()) {
        if (r.refusal) return r.refusal;
        std::string param(r.field);
        return ApiError::invalid_request(param + ": " + simdjson::error_message(error),
                                         param.empty() ? std::nullopt : std::optional<std::string>(param));
    }
    if (!has_max_tokens) return ApiError::invalid_request("max_tokens: Field required", "max_tokens");
    for (auto& part : r.late_system) out.system.push_back(std::move(part));
    return std::nullopt;
}

namespace {

// --- Requests: writing ------------------------------------------------------------------------

// What a reasoning effort becomes as a thinking budget (Anthropic takes only a budget, at least
// 1024 tokens). "minimal" asks for no thinking.
struct EffortBudget {
    std::string_view effort;
    std::int64_t budget;
};
constexpr std::array<EffortBudget, 6> kEffortBudgets{{
    {"minimal", 0},
    {"low", 1024},
    {"medium", 4096},
    {"high", 16384},
    {"xhigh", 32768},
    {"max", 32768},
}};
constexpr std::int64_t kDefaultBudget = 4096;  // thinking asked for without an effort or a budget
constexpr std::int64_t kMinBudget = 1024;      // Anthropic's least budget_tokens

std::int64_t thinking_budget(const Reasoning& reasoning) {
    if (!reasoning.enabled && reasoning.effort.empty()) return 0;
    if (reasoning.budget) return *reasoning.budget <= 0 ? 0 : std::max(*reasoning.budget, kMinBudget);
    if (!reasoning.effort.empty()) {
        for (const auto& row : kEffortBudgets) {
            if (json::is(reasoning.effort, row.effort)) return row.budget;
        }
    }
    return reasoning.enabled ? kDefaultBudget : 0;
}

// A data: URL's media type and base64 bytes (false when `url` is not a base64 data: URL).
bool split_data_url(Json url, std::string_view& media_type, std::string_view& data) {
    const std::string_view text = inner(url);
    if (!text.starts_with("data:")) return false;
    const std::size_t marker = text.find(";base64,");
    if (marker == std::string_view::npos) return false;
    media_type = text.substr(5, marker - 5);
    data = text.substr(marker + 8);
    return true;
}

void write_source(json::Writer& w, const Part& part) {
    w.key("source").object();
    std::string_view media_type, data;
    if (!part.data.empty()) {
        w.field_text("type", "base64").field("media_type", part.media_type).field("data", part.data);
    } else if (!part.url.empty() && split_data_url(part.url, media_type, data)) {
        w.field_text("type", "base64").field_text("media_type", media_type).field_text("data", data);
    } else if (!part.url.empty()) {
        w.field_text("type", "url").field("url", part.url);
    } else if (!part.file_id.empty()) {
        w.field_text("type", "file").field("file_id", part.file_id);
    } else {
        w.field_text("type", "text")
            .field_text("media_type", "text/plain")
            .field("data", part.text.empty() ? Json("\"\"") : part.text);
    }
    w.end_object();
}

// A tool call's `input` object from its arguments string; empty arguments are {}.
bool tool_input(const Part& part, std::string& object) {
    if (part.arguments.empty() || json::is(part.arguments, "")) {
        object = "{}";
        return true;
    }
    return json::string_to_object(part.arguments, object);
}

// One part as a content block. False when the part cannot be one (a call whose arguments are not an
// object); a part Anthropic cannot take back (reasoning without its signature) writes nothing.
bool write_block(json::Writer& w, const Part& part, Role role, std::string& scratch) {
    switch (part.kind) {
        case PartKind::text:
            if (part.text.empty() || json::is(part.text, "")) return true;  // Anthropic refuses empty text blocks
            w.object().field_text("type", "text").field("text", part.text);
            break;
        case PartKind::image:
            w.object().field_text("type", "image");
            write_source(w, part);
            break;
        case PartKind::document:
            w.object().field_text("type", "document");
            write_source(w, part);
            w.field("title", part.title);
            break;
        case PartKind::tool_call:
            if (!tool_input(part, scratch)) return false;
            w.object().field_text("type", "tool_use").field("id", part.id).field("name", part.name);
            w.key("input").raw(scratch);
            break;
        case PartKind::tool_result: {
            w.object().field_text("type", "tool_result").field("tool_use_id", part.id);
            w.key("content").array();
            for (const auto& inner_part : part.content) {
                if (!write_block(w, inner_part, role, scratch)) return false;
            }
            w.end_array();
            if (part.is_error) w.key("is_error").boolean(true);
            break;
        }
        case PartKind::web_search:
            return true;  // answers only (the readers of requests drop searches run before)
        case PartKind::reasoning:
            // Anthropic takes back only its own thinking: signed (or redacted) and not a Responses
            // reasoning item (whose encrypted_content also travels as the signature).
            if (role != Role::assistant || !part.item_id.empty()) return true;
            if (!part.redacted.empty()) {
                w.object().field_text("type", "redacted_thinking").field("data", part.redacted);
            } else if (!part.signature.empty()) {
                w.object().field_text("type", "thinking");
                w.key("thinking").raw(part.text.empty() ? Json("\"\"") : part.text);
                w.field("signature", part.signature);
            } else {
                return true;
            }
            break;
    }
    w.field("cache_control", part.cache_control);
    w.end_object();
    return true;
}

std::optional<ApiError> refuse_field(std::string_view name, std::string_view why) {
    return ApiError::invalid_request("'" + std::string(name) + "' " + std::string(why), std::string(name));
}

std::optional<ApiError> write_messages(json::Writer& w, const Request& request) {
    std::string scratch;
    w.key("messages").array();
    // Consecutive messages of one role are one Anthropic message (as the API itself merges them),
    // and a user message's tool results come before its other content, as the API requires.
    std::size_t i = 0;
    const auto& messages = request.messages;
    while (i < messages.size()) {
        std::size_t end = i + 1;
        while (end < messages.size() && messages[end].role == messages[i].role) ++end;
        const Role role = messages[i].role;
        w.object().field_text("role", role == Role::user ? "user" : "assistant");
        w.key("content").array();
        for (int pass = 0; pass < 2; ++pass) {
            const bool results = pass == 0;
            for (std::size_t m = i; m < end; ++m) {
                for (const auto& part : messages[m].parts) {
                    if ((part.kind == PartKind::tool_result) != results) continue;
                    if (!write_block(w, part, role, scratch)) {
                        return ApiError::invalid_request("the arguments of tool call " + json::text_of(part.id) + " (" +
                                                             json::text_of(part.name) + ") are not a JSON object",
                                                         "messages");
                    }
                }
            }
        }
        w.end_array().end_object();
        i = end;
    }
    w.end_array();
    return std::nullopt;
}

void write_system(json::Writer& w, const std::vector<Part>& system) {
    if (system.empty()) return;
    if (system.size() == 1 && system[0].cache_control.empty()) {
        w.field("system", system[0].text);
        return;
    }
    w.key("system").array();
    for (const auto& part : system) {
        w.object().field_text("type", "text").field("text", part.text).field("cache_control", part.cache_control);
        w.end_object();
    }
    w.end_array();
}

// A custom (free-form) tool is a function of one string, "input" (ir.hpp).
constexpr std::string_view kCustomToolSchema =
    R"({"type":"object","properties":{"input":{"type":"string"}},"required":["input"]})";
constexpr std::string_view kEmptySchema = R"({"type":"object","properties":{}})";

void write_tools(json::Writer& w, const Request& request) {
    if (request.tools.empty()) return;
    w.key("tools").array();
    for (const auto& tool : request.tools) {
        if (tool.web_search) {
            w.object().field_text("type", "web_search_20250305").field_text("name", "web_search");
            if (tool.max_uses) w.key("max_uses").number(*tool.max_uses);
            w.field("allowed_domains", tool.allowed_domains).field("blocked_domains", tool.blocked_domains);
            w.field("user_location", tool.user_location).field("cache_control", tool.cache_control);
            w.end_object();
            continue;
        }
        w.object().field("name", tool.name).field("description", tool.description);
        w.key("input_schema")
            .raw(tool.custom               ? kCustomToolSchema
                 : tool.parameters.empty() ? kEmptySchema
                                           : tool.parameters);
        w.field("cache_control", tool.cache_control);
        w.end_object();
    }
    w.end_array();
    const ToolChoice& choice = request.tool_choice;
    using Mode = ToolChoice::Mode;
    if (choice.mode == Mode::unset && choice.parallel.value_or(true)) return;
    w.key("tool_choice").object();
    switch (choice.mode) {
        case Mode::unset:
        case Mode::auto_:
            w.field_text("type", "auto");
            break;
        case Mode::none:
            w.field_text("type", "none");
            break;
        case Mode::required:
            w.field_text("type", "any");
            break;
        case Mode::named:
            w.field_text("type", "tool").field("name", choice.name);
            break;
    }
    if (choice.mode != Mode::none && !choice.parallel.value_or(true)) w.key("disable_parallel_tool_use").boolean(true);
    w.end_object();
}

}  // namespace

std::optional<ApiError> write_request(const Request& request, const WriteOptions& options, std::string& out) {
    for (const auto& field : request.unmapped) {
        if (field.changes_meaning)
            return refuse_field(field.name, "cannot be translated to the Anthropic Messages API");
    }
    if (request.format.kind != Format::Kind::text) {
        return refuse_field("response_format",
                            "(a JSON output format) cannot be translated to the Anthropic Messages API");
    }
    const std::size_t start = out.size();
    json::Writer w(out);
    w.object();
    if (!options.model.empty()) {
        w.field_text("model", options.model);
    } else {
        w.field("model", request.model);
    }
    // Thinking needs max_tokens above its budget: the answer keeps the room the caller asked for.
    const std::int64_t budget = thinking_budget(request.reasoning);
    std::int64_t max_tokens = request.max_tokens.value_or(options.default_max_tokens);
    if (budget > 0 && max_tokens <= budget) max_tokens += budget;
    w.key("max_tokens").number(max_tokens);
    write_system(w, request.system);
    if (auto error = write_messages(w, request)) {
        out.resize(start);
        return error;
    }
    write_tools(w, request);
    // Anthropic refuses temperature, top_p and top_k beside thinking: with it they are dropped.
    if (budget == 0) {
        w.field("temperature", request.temperature).field("top_p", request.top_p).field("top_k", request.top_k);
    }
    if (!request.stop.empty()) {
        w.key("stop_sequences").array();
        for (Json stop : request.stop) w.raw(stop);
        w.end_array();
    }
    if (request.stream) w.key("stream").boolean(true);
    if (!request.user.empty()) w.key("metadata").object().field("user_id", request.user).end_object();
    if (budget > 0) {
        w.key("thinking").object().field_text("type", "enabled").key("budget_tokens").number(budget).end_object();
    }
    w.end_object();
    return std::nullopt;
}

// --- Whole answers ----------------------------------------------------------------------------

namespace {

// A web page of a web_search_tool_result's content, or a text block's citation: its url, title
// and cited_text (views into what was parsed; a null one left empty).
simdjson::error_code read_page(od::value value, Json& url, Json& title, Json& cited_text) {
    return json::each_field(value, [&](std::string_view key, od::value v) -> simdjson::error_code {
        Json* target = key == "url" ? &url : key == "title" ? &title : key == "cited_text" ? &cited_text : nullptr;
        if (target == nullptr) return simdjson::SUCCESS;
        SY_TRY(raw_of(v, *target));
        if (*target == "null") *target = {};
        return simdjson::SUCCESS;
    });
}

// A web_search_tool_result's content: the pages found (none for an error object).
simdjson::error_code read_sources(od::value content, std::vector<WebSource>& out) {
    od::json_type type;
    SY_TRY(content.type().get(type));
    if (type != od::json_type::array) return simdjson::SUCCESS;
    return json::each_element(content, [&](od::value page) -> simdjson::error_code {
        WebSource found;
        Json ignored;
        SY_TRY(read_page(page, found.url, found.title, ignored));
        if (!found.url.empty()) out.push_back(found);
        return simdjson::SUCCESS;
    });
}

// A whole answer's text block citations, their views moved into the body.
simdjson::error_code read_citations(Source& source, od::value citations, std::vector<Citation>& out) {
    od::json_type type;
    SY_TRY(citations.type().get(type));
    if (type != od::json_type::array) return simdjson::SUCCESS;
    return json::each_element(citations, [&](od::value object) -> simdjson::error_code {
        Citation citation;
        SY_TRY(read_page(object, citation.url, citation.title, citation.cited_text));
        if (citation.url.empty()) return simdjson::SUCCESS;  // a document's citations have no url
        out.push_back({source.in_body(citation.url), source.in_body(citation.title), source.in_body(citation.cited_text)});
        return simdjson::SUCCESS;
    });
}

// The query of a server_tool_use's input ({"query":"..."}), a literal in the body.
simdjson::error_code read_query(Source& source, od::object input, Json& out) {
    return json::each_field(input, [&](std::string_view key, od::value v) -> simdjson::error_code {
        if (key != "query") return simdjson::SUCCESS;
        SY_TRY(raw_of(v, out));
        out = source.in_body(out);
        return simdjson::SUCCESS;
    });
}

simdjson::error_code read_answer_block(Source& source, od::value value, Response& out) {
    Part part;
    Json type, input, query, result_of;
    std::vector<WebSource> sources;
    SY_TRY(json::each_field(value, [&](std::string_view key, od::value v) -> simdjson::error_code {
        if (key == "content") {  // web_search_tool_result
            SY_TRY(read_sources(v, sources));
            for (auto& page : sources) page = {source.in_body(page.url), source.in_body(page.title)};
            return simdjson::SUCCESS;
        }
        if (key == "citations") return read_citations(source, v, part.citations);
        if (key == "input") {
            od::object object;
            SY_TRY(v.get_object().get(object));
            SY_TRY(object.raw_json().get(input));
            input = source.in_body(input);
            SY_TRY(object.reset().error());
            return read_query(source, object, query);
        }
        Json raw;
        SY_TRY(raw_of(v, raw));
        raw = source.in_body(raw);
        if (key == "type")
            type = raw;
        else if (key == "text" || key == "thinking")
            part.text = raw;
        else if (key == "signature")
            part.signature = raw;
        else if (key == "data")
            part.redacted = raw;
        else if (key == "id")
            part.id = raw;
        else if (key == "name")
            part.name = raw;
        else if (key == "tool_use_id")
            result_of = raw;
        return simdjson::SUCCESS;
    }));
    const std::string_view kind = inner(type);
    if (kind == "text") {
        part.kind = PartKind::text;
    } else if (kind == "thinking" || kind == "redacted_thinking") {
        part.kind = PartKind::reasoning;
    } else if (kind == "tool_use") {
        part.kind = PartKind::tool_call;
        std::string arguments;
        json::append_as_string(input.empty() ? Json("{}") : input, arguments);
        part.arguments = out.arena.keep(std::move(arguments));
    } else if (kind == "server_tool_use" && json::is(part.name, "web_search")) {
        part.kind = PartKind::web_search;
        part.text = query;
    } else if (kind == "web_search_tool_result") {
        // The pages the search found join the search they answer.
        for (auto it = out.content.rbegin(); it != out.content.rend(); ++it) {
            if (it->kind == PartKind::web_search && it->id == result_of) {
                it->sources = std::move(sources);
                break;
            }
        }
        return simdjson::SUCCESS;
    } else {
        return simdjson::SUCCESS;  // other server tools' blocks: Anthropic ran them; nothing for the caller to do
    }
    out.content.push_back(std::move(part));
    return simdjson::SUCCESS;
}

}  // namespace

bool read_response(std::string_view body, Response& out) {
    Source source(body);
    od::parser parser;
    od::document document;
    bool is_message = false;
    const auto read = [&]() -> simdjson::error_code {
        SY_TRY(parser.iterate(source.padded()).get(document));
        return json::each_field(document, [&](std::string_view key, od::value v) -> simdjson::error_code {
            if (key == "content") {
                return json::each_element(v, [&](od::value block) { return read_answer_block(source, block, out); });
            }
            if (key == "usage") {
                AnthropicUsage usage;
                SY_TRY(read_usage(v, usage));
                out.usage = to_common(usage);
                return simdjson::SUCCESS;
            }
            Json raw;
            SY_TRY(raw_of(v, raw));
            raw = source.in_body(raw);
            if (key == "type")
                is_message = json::is(raw, "message");
            else if (key == "id")
                out.id = raw;
            else if (key == "model")
                out.model = raw;
            else if (key == "stop_reason")
                out.stop = stop_of(Dialect::messages, inner(raw));
            else if (key == "stop_sequence" && raw != "null")
                out.stop_sequence = raw;
            return simdjson::SUCCESS;
        });
    };
    return read() == simdjson::SUCCESS && is_message;
}

void write_response(const Response& response, const AnswerOptions& options, std::string& out) {
    json::Writer w(out);
    w.object();
    if (starts_with(response.id, "msg_") && usable_id(response.id)) {
        w.field("id", response.id);
    } else {
        w.field_text("id", json::make_id("msg_", options.id_seed, 0));
    }
    w.field_text("type", "message").field_text("role", "assistant");
    if (!response.model.empty()) {
        w.field("model", response.model);
    } else {
        w.field_text("model", options.model);
    }
    w.key("content").array();
    std::string scratch;
    std::size_t calls = 0;
    std::size_t searches = 0;
    bool has_calls = false;
    for (const auto& part : response.content) {
        switch (part.kind) {
            case PartKind::text:
                w.object().field_text("type", "text").field("text", part.text.empty() ? Json("\"\"") : part.text);
                if (!part.citations.empty()) {
                    w.key("citations").array();
                    for (const auto& citation : part.citations) write_citation(w, citation);
                    w.end_array();
                }
                w.end_object();
                break;
            case PartKind::web_search: {
                const std::string id = search_id(part.id, options.id_seed, ++searches);
                write_search_use(w, id, part.text);
                w.object().field_text("type", "web_search_tool_result").field_text("tool_use_id", id);
                write_search_result_content(w, part.sources);
                w.end_object();
                break;
            }
            case PartKind::reasoning:
                if (!part.redacted.empty()) {
                    w.object().field_text("type", "redacted_thinking").field("data", part.redacted).end_object();
                } else if (!part.text.empty() || !part.signature.empty()) {
                    w.object().field_text("type", "thinking");
                    w.key("thinking").raw(part.text.empty() ? Json("\"\"") : part.text);
                    w.key("signature").raw(part.signature.empty() ? Json("\"\"") : part.signature);
                    w.end_object();
                }
                break;
            case PartKind::tool_call:
                has_calls = true;
                ++calls;
                w.object().field_text("type", "tool_use");
                if (usable_id(part.id)) {
                    w.field("id", part.id);
                } else {
                    w.field_text("id", json::make_id("toolu_", options.id_seed, calls));
                }
                w.field("name", part.name);
                // An upstream's arguments that are not an object (a model's broken JSON) become {}.
                if (!tool_input(part, scratch)) scratch = "{}";
                w.key("input").raw(scratch).end_object();
                break;
            default:
                break;  // images, documents and tool results are not in answers
        }
    }
    w.end_array();
    Stop stop = response.stop;
    if (stop == Stop::unknown || (stop == Stop::end_turn && has_calls))
        stop = has_calls ? Stop::tool_use : Stop::end_turn;
    w.field_text("stop_reason", stop_word(Dialect::messages, stop));
    if (response.stop_sequence.empty()) {
        w.key("stop_sequence").null();
    } else {
        w.field("stop_sequence", response.stop_sequence);
    }
    w.key("usage").object();
    write_usage_fields(w, response.usage);
    w.key("output_tokens").number(response.usage.output);
    write_server_tool_use(w, response.usage);
    w.end_object();
    w.end_object();
}

// --- Errors -----------------------------------------------------------------------------------

bool read_error(std::string_view body, int status, Error& out) {
    Source source(body);
    od::parser parser;
    od::document document;
    bool found = false;
    const auto read = [&]() -> simdjson::error_code {
        SY_TRY(parser.iterate(source.padded()).get(document));
        return json::each_field(document, [&](std::string_view key, od::value v) -> simdjson::error_code {
            if (key != "error") return simdjson::SUCCESS;
            SY_TRY(json::each_field(v, [&](std::string_view name, od::value value) -> simdjson::error_code {
                Json raw;
                SY_TRY(raw_of(value, raw));
                raw = source.in_body(raw);
                if (raw == "null") return simdjson::SUCCESS;
                if (name == "type")
                    out.type = raw;
                else if (name == "message")
                    out.message = raw;
                else if (name == "code")
                    out.code = raw;
                else if (name == "param")
                    out.param = raw;
                return simdjson::SUCCESS;
            }));
            found = !out.message.empty() || !out.type.empty();
            return simdjson::SUCCESS;
        });
    };
    out.status = status;
    return read() == simdjson::SUCCESS && found;
}

namespace {

// {"type":"error","error":{"type","message"}} with Anthropic's type: the source's own when it is
// one of Anthropic's, else the one Anthropic gives the status.
void write_error_object(json::Writer& w, const Error& error) {
    const std::string type = json::text_of(error.type);
    const int status = error.status != 0 ? error.status : status_of_error_type(type);
    w.object().field_text("type", "error").key("error").object();
    // OpenAI says invalid_request_error for a bad key (401) and an unknown model (404) too, its code
    // telling which; Anthropic's clients tell those by the type, so the status's type wins there.
    const bool generic = type == "invalid_request_error" && error_type(Dialect::messages, status) != type;
    if (is_anthropic_error_type(type) && !generic) {
        w.field("type", error.type);
    } else {
        w.field_text("type", error_type(Dialect::messages, status));
    }
    w.key("message").raw(error.message.empty() ? Json("\"\"") : error.message);
    w.end_object().end_object();
}

}  // namespace

void write_error(const Error& error, std::string& out) {
    json::Writer w(out);
    write_error_object(w, error);
}

// --- Streams: reading -------------------------------------------------------------------------

namespace {

// What one event's data holds (views into it, valid during the call). Content blocks and deltas
// share their fields' names, so one struct holds either.
struct BlockFields {
    Json type, text, thinking, partial_json, signature, id, name, input, stop_reason, stop_sequence;
    Json tool_use_id;
    std::vector<WebSource> pages;  // a web_search_tool_result's content
    Citation citation;             // a citations_delta's
};

struct EventFields {
    Json type;
    std::int64_t index = -1;
    BlockFields block;  // content_block, or delta
    Json message_id, model;
    AnthropicUsage usage;  // usage, or message.usage
    Json error_type, error_message;
};

simdjson::error_code read_block_fields(od::value value, BlockFields& out) {
    return json::each_field(value, [&](std::string_view key, od::value v) -> simdjson::error_code {
        if (key == "content") return read_sources(v, out.pages);  // web_search_tool_result
        if (key == "citation") return read_page(v, out.citation.url, out.citation.title, out.citation.cited_text);
        if (key == "citations") return simdjson::SUCCESS;  // a text block's, always [] when it starts
        Json raw;
        SY_TRY(raw_of(v, raw));
        if (raw == "null") return simdjson::SUCCESS;
        if (key == "tool_use_id")
            out.tool_use_id = raw;
        else if (key == "type")
            out.type = raw;
        else if (key == "text")
            out.text = raw;
        else if (key == "thinking")
            out.thinking = raw;
        else if (key == "partial_json")
            out.partial_json = raw;
        else if (key == "signature")
            out.signature = raw;
        else if (key == "id")
            out.id = raw;
        else if (key == "name")
            out.name = raw;
        else if (key == "input")
            out.input = raw;
        else if (key == "stop_reason")
            out.stop_reason = raw;
        else if (key == "stop_sequence")
            out.stop_sequence = raw;
        return simdjson::SUCCESS;
    });
}

simdjson::error_code read_message_fields(od::value value, EventFields& out) {
    return json::each_field(value, [&](std::string_view key, od::value v) -> simdjson::error_code {
        if (key == "usage") {
            SY_TRY(read_usage(v, out.usage));
        } else if (key == "id") {
            SY_TRY(raw_of(v, out.message_id));
        } else if (key == "model") {
            SY_TRY(raw_of(v, out.model));
        }
        return simdjson::SUCCESS;
    });
}

simdjson::error_code read_event_fields(od::value root, EventFields& out) {
    return json::each_field(root, [&](std::string_view key, od::value v) -> simdjson::error_code {
        if (key == "type") {
            SY_TRY(raw_of(v, out.type));
        } else if (key == "index") {
            SY_TRY(v.get_int64().get(out.index));
        } else if (key == "content_block" || key == "delta") {
            SY_TRY(read_block_fields(v, out.block));
        } else if (key == "message") {
            SY_TRY(read_message_fields(v, out));
        } else if (key == "usage") {
            SY_TRY(read_usage(v, out.usage));
        } else if (key == "error") {
            SY_TRY(json::each_field(v, [&](std::string_view name, od::value ev) -> simdjson::error_code {
                Json raw;
                SY_TRY(raw_of(ev, raw));
                if (name == "type")
                    out.error_type = raw;
                else if (name == "message")
                    out.error_message = raw;
                return simdjson::SUCCESS;
            }));
        }
        return simdjson::SUCCESS;
    });
}

// The JSON string literal at the start of `in` (quotes included), when it is one a JSON parser
// would accept (the scanner parse/json_locate.hpp's locator uses, and valid UTF-8: checked when a
// byte from 0x80 is in it); empty otherwise.
std::string_view string_literal_at(std::string_view in) {
    if (in.empty() || in[0] != '"') return {};
    const parse::StringScan scan = parse::scan_json_string(in);
    if (scan.error) return {};
    const std::string_view literal = in.substr(0, scan.length);
    return scan.ascii || simdjson::validate_utf8(literal.data(), literal.size()) ? literal : std::string_view();
}

// A content_block_delta in the exact shape Anthropic (and llama-server) write it, read without the
// JSON parser: the event most of a stream is made of, `{"type":"content_block_delta","index":N,
// "delta":{"type":"text_delta","text":"..."}}` (or thinking_delta / input_json_delta with
// "thinking" / "partial_json"). Any other spelling (spaces, another key order, more keys) gives
// false, and the parser reads it.
bool read_plain_delta(std::string_view data, EventFields& out) {
    constexpr std::string_view kHead = R"({"type":"content_block_delta","index":)";
    if (!data.starts_with(kHead)) return false;
    data.remove_prefix(kHead.size());
    std::size_t digits = 0;
    std::int64_t index = 0;
    while (digits < data.size() && digits < 9 && data[digits] >= '0' && data[digits] <= '9') {
        index = index * 10 + (data[digits] - '0');
        ++digits;
    }
    if (digits == 0) return false;
    data.remove_prefix(digits);
    constexpr std::string_view kDelta = R"(,"delta":{"type":")";
    if (!data.starts_with(kDelta)) return false;
    data.remove_prefix(kDelta.size());
    struct Kind {
        std::string_view type_and_key;  // `text_delta","text":`
        Json BlockFields::*field;
        std::string_view type;  // the type's literal
    };
    static constexpr Kind kKinds[] = {
        {R"(text_delta","text":)", &BlockFields::text, R"("text_delta")"},
        {R"(input_json_delta","partial_json":)", &BlockFields::partial_json, R"("input_json_delta")"},
        {R"(thinking_delta","thinking":)", &BlockFields::thinking, R"("thinking_delta")"},
    };
    for (const Kind& kind : kKinds) {
        if (!data.starts_with(kind.type_and_key)) continue;
        data.remove_prefix(kind.type_and_key.size());
        const std::string_view literal = string_literal_at(data);
        if (literal.empty()) return false;
        data.remove_prefix(literal.size());
        while (!data.empty() && (data.back() == '\n' || data.back() == '\r' || data.back() == ' ')) data.remove_suffix(1);
        if (data != "}}") return false;
        out.type = R"("content_block_delta")";
        out.index = index;
        out.block.type = kind.type;
        out.block.*kind.field = literal;
        return true;
    }
    return false;
}

class Reader final : public StreamReader {
public:
    explicit Reader(od::parser& parser) : parser_(parser) {}

    void event(std::string_view name, std::string_view data, EventSink& sink) override {
        if (done_) return;
        EventFields fields;
        if ((name.empty() || name == "content_block_delta") && read_plain_delta(data, fields)) {
            on_block_delta(fields, sink);
            return;
        }
        od::document document;
        if (parser_
                .iterate(
                    simdjson::padded_string_view(data.data(), data.size(), data.size() + simdjson::SIMDJSON_PADDING))
                .get(document)) {
            return;
        }
        od::value root;
        if (document.get_value().get(root) || read_event_fields(root, fields)) return;
        const std::string_view kind = name.empty() ? inner(fields.type) : name;
        if (kind == "message_start") {
            on_message_start(fields, sink);
        } else if (kind == "content_block_start") {
            on_block_start(fields, sink);
        } else if (kind == "content_block_delta") {
            on_block_delta(fields, sink);
        } else if (kind == "content_block_stop") {
            close_block(sink);
        } else if (kind == "message_delta") {
            on_message_delta(fields, sink);
        } else if (kind == "message_stop") {
            close_block(sink);
            emit(Event::Kind::done, sink);
            done_ = true;
        } else if (kind == "error") {
            on_error(fields, sink);
        }
        // ping, and events newer than this reader: nothing to say
    }

    void end(EventSink& sink) override {
        if (done_) return;
        close_block(sink);
        // An upstream that stopped the model but not its stream: the answer is whole.
        if (finished_) {
            emit(Event::Kind::done, sink);
            done_ = true;
        }
    }

    const Usage& usage() const override { return usage_; }

private:
    enum class Block : std::uint8_t { none, open, skipped };

    Event& fresh(Event::Kind kind) {
        event_ = Event{};
        event_.kind = kind;
        return event_;
    }
    void emit(Event::Kind kind, EventSink& sink) { sink.on(fresh(kind)); }

    void merge_usage(const AnthropicUsage& usage) {
        if (!usage.found) return;
        // message_delta's counts are cumulative; a field it leaves out keeps its message_start value.
        if (usage.has_input) {
            raw_usage_.input_tokens = usage.input_tokens;
            raw_usage_.has_input = true;
        }
        if (usage.cache_read != 0) raw_usage_.cache_read = usage.cache_read;
        if (usage.cache_creation != 0) raw_usage_.cache_creation = usage.cache_creation;
        if (usage.output_tokens != 0) raw_usage_.output_tokens = usage.output_tokens;
        if (usage.web_searches != 0) raw_usage_.web_searches = usage.web_searches;
        raw_usage_.found = true;
        usage_ = to_common(raw_usage_);
    }

    void on_message_start(const EventFields& fields, EventSink& sink) {
        merge_usage(fields.usage);
        Event& event = fresh(Event::Kind::start);
        event.id = fields.message_id;
        event.model = fields.model;
        event.usage = usage_;
        sink.on(event);
    }

    void on_block_start(const EventFields& fields, EventSink& sink) {
        close_block(sink);
        const std::string_view type = inner(fields.block.type);
        Event& event = fresh(Event::Kind::block_start);
        event.index = next_index_;
        Json initial;  // text a block starts with (Anthropic sends ""; others may not)
        if (type == "text") {
            event.block = BlockKind::text;
            initial = fields.block.text;
        } else if (type == "thinking") {
            event.block = BlockKind::reasoning;
            initial = fields.block.thinking;
        } else if (type == "tool_use") {
            event.block = BlockKind::tool_call;
            event.id = fields.block.id;
            event.name = fields.block.name;
        } else if (type == "server_tool_use" && json::is(fields.block.name, "web_search")) {
            event.block = BlockKind::web_search;  // its input ({"query":...}) follows as deltas
            event.id = fields.block.id;
            event.name = fields.block.name;
        } else if (type == "web_search_tool_result") {
            // What the search found, whole in the block's start: given as it stands.
            Event& found = fresh(Event::Kind::sources);
            found.index = next_index_;
            found.id = fields.block.tool_use_id;
            found.sources = &fields.block.pages;
            sink.on(found);
            block_ = Block::skipped;
            return;
        } else {
            // redacted_thinking, other server tools' blocks: the events have no place for them (a
            // whole answer keeps redacted thinking; a stream loses it).
            block_ = Block::skipped;
            return;
        }
        block_ = Block::open;
        open_kind_ = event.block;
        sink.on(event);
        if (!initial.empty() && !json::is(initial, "")) delta(initial, sink);
        if (type == "thinking" && !fields.block.signature.empty() && !json::is(fields.block.signature, "")) {
            Event& signature = fresh(Event::Kind::signature);
            signature.index = next_index_;
            signature.block = BlockKind::reasoning;
            signature.text = fields.block.signature;
            sink.on(signature);
        }
        // A tool_use that starts with its input whole (not Anthropic's {} then deltas).
        if (type == "tool_use" && !fields.block.input.empty() && fields.block.input != "{}") {
            scratch_.clear();
            json::append_as_string(fields.block.input, scratch_);
            delta(scratch_, sink);
        }
    }

    void delta(Json text, EventSink& sink) {
        Event& event = fresh(Event::Kind::delta);
        event.index = next_index_;
        event.block = open_kind_;
        event.text = text;
        sink.on(event);
    }

    void on_block_delta(const EventFields& fields, EventSink& sink) {
        if (block_ != Block::open) return;
        const std::string_view type = inner(fields.block.type);
        Json text;
        if (type == "text_delta")
            text = fields.block.text;
        else if (type == "thinking_delta")
            text = fields.block.thinking;
        else if (type == "input_json_delta")
            text = fields.block.partial_json;
        if (type == "signature_delta") {
            Event& event = fresh(Event::Kind::signature);
            event.index = next_index_;
            event.block = open_kind_;
            event.text = fields.block.signature;
            sink.on(event);
            return;
        }
        if (type == "citations_delta") {
            if (open_kind_ != BlockKind::text || fields.block.citation.url.empty()) return;  // a document's
            Event& event = fresh(Event::Kind::citation);
            event.index = next_index_;
            event.block = open_kind_;
            event.citation = &fields.block.citation;
            sink.on(event);
            return;
        }
        if (text.empty() || json::is(text, "")) return;  // empty pieces
        delta(text, sink);
    }

    void close_block(EventSink& sink) {
        if (block_ == Block::open) {
            Event& event = fresh(Event::Kind::block_stop);
            event.index = next_index_;
            event.block = open_kind_;
            sink.on(event);
            ++next_index_;
        }
        block_ = Block::none;
    }

    void on_message_delta(const EventFields& fields, EventSink& sink) {
        close_block(sink);
        merge_usage(fields.usage);
        Event& event = fresh(Event::Kind::finish);
        event.stop = stop_of(Dialect::messages, inner(fields.block.stop_reason));
        event.stop_sequence = fields.block.stop_sequence;
        event.usage = usage_;
        finished_ = true;
        sink.on(event);
    }

    void on_error(const EventFields& fields, EventSink& sink) {
        Event& event = fresh(Event::Kind::error);
        event.error.type = fields.error_type;
        event.error.message = fields.error_message;
        event.error.status = status_of_error_type(inner(fields.error_type));
        sink.on(event);
        done_ = true;
    }

    od::parser& parser_;
    Event event_;
    AnthropicUsage raw_usage_;
    Usage usage_;
    Block block_ = Block::none;
    BlockKind open_kind_ = BlockKind::text;
    std::size_t next_index_ = 0;
    bool finished_ = false;
    bool done_ = false;
    std::string scratch_;
};

// --- Streams: writing -------------------------------------------------------------------------

// Anthropic's stream grammar: message_start, ping, then per block content_block_start,
// content_block_delta..., content_block_stop; then message_delta (the stop and usage) and
// message_stop. The writer's states are the grammar's places.
class Writer final : public StreamWriter {
public:
    explicit Writer(const AnswerOptions& options) : options_(options) {}

    void write(const Event& event, std::string& out) override {
        if (state_ == State::ended) return;
        switch (event.kind) {
            case Event::Kind::start:
                if (state_ == State::before_message) message_start(event, out);
                break;
            case Event::Kind::sources:
                ensure_started(out);
                if (state_ == State::after_stop || event.sources == nullptr) return;
                close_block(out);
                search_result(*event.sources, out);
                break;
            case Event::Kind::citation:
                if (state_ == State::in_text && event.citation != nullptr) citation_delta(*event.citation, out);
                break;
            case Event::Kind::block_start:
                ensure_started(out);
                if (state_ == State::after_stop) return;
                close_block(out);
                block_start(event.block, event.id, event.name, out);
                break;
            case Event::Kind::delta:
                ensure_started(out);
                if (state_ == State::after_stop) return;
                if (state_ == State::before_block || kind_of(state_) != event.block) {
                    close_block(out);
                    block_start(event.block, event.id, event.name, out);
                }
                block_delta(event.text, out);
                break;
            case Event::Kind::signature:
                if (state_ == State::in_thinking) signature_delta(event.text, out);
                break;
            case Event::Kind::block_stop:
                close_block(out);
                break;
            case Event::Kind::finish:
                ensure_started(out);
                close_block(out);
                stop_ = event.stop;
                stop_sequence_.assign(event.stop_sequence);  // the event's view ends with the call
                if (event.usage.found) usage_ = event.usage;
                state_ = State::after_stop;  // message_delta waits for a usage chunk that may follow
                break;
            case Event::Kind::usage:
                if (event.usage.found) usage_ = event.usage;
                break;
            case Event::Kind::error:
                fail(event.error, out);
                break;
            case Event::Kind::done:
                ensure_started(out);
                close_block(out);
                message_delta(out);
                begin(out, "message_stop");
                end(out);
                state_ = State::ended;
                break;
        }
    }

    void fail(const Error& error, std::string& out) override {
        if (state_ == State::ended) return;
        out += "event: error\ndata: ";
        json::Writer w(out);
        write_error_object(w, error);
        out += "\n\n";
        state_ = State::ended;
    }

    void keepalive(std::string& out) override { out += keepalive_event(Dialect::messages); }

private:
    enum class State : std::uint8_t {
        before_message,  // nothing written
        before_block,    // after message_start (or a content_block_stop)
        in_text,         // inside a text block
        in_thinking,     // inside a thinking block
        in_tool_call,    // inside a tool_use block
        in_search,       // inside a server_tool_use block (a web search's input)
        after_stop,      // the model stopped: message_delta, then message_stop
        ended,           // message_stop or error written
    };

    static BlockKind kind_of(State state) {
        return state == State::in_thinking    ? BlockKind::reasoning
               : state == State::in_tool_call ? BlockKind::tool_call
               : state == State::in_search    ? BlockKind::web_search
                                              : BlockKind::text;
    }

    // `event: NAME\ndata: {"type":"NAME"` — the caller writes the rest of the object, then end().
    json::Writer begin(std::string& out, std::string_view name) {
        out += "event: ";
        out += name;
        out += "\ndata: ";
        json::Writer w(out);
        w.object().field_text("type", name);
        return w;
    }
    static void end(std::string& out) { out += "}\n\n"; }

    void message_start(const Event& event, std::string& out) {
        if (event.usage.found) usage_ = event.usage;
        input_known_at_start_ = event.usage.found && event.usage.input > 0;
        json::Writer w = begin(out, "message_start");
        w.key("message").object();
        if (starts_with(event.id, "msg_") && usable_id(event.id)) {
            w.field("id", event.id);
        } else {
            w.field_text("id", json::make_id("msg_", options_.id_seed, 0));
        }
        w.field_text("type", "message").field_text("role", "assistant");
        if (!event.model.empty()) {
            w.field("model", event.model);
        } else {
            w.field_text("model", options_.model);
        }
        w.key("content").array().end_array();
        w.key("stop_reason").null().key("stop_sequence").null();
        w.key("usage").object();
        write_usage_fields(w, usage_);
        w.key("output_tokens").number(usage_.output);
        w.end_object().end_object();
        end(out);
        out += "event: ping\ndata: {\"type\": \"ping\"}\n\n";
        state_ = State::before_block;
    }

    void ensure_started(std::string& out) {
        if (state_ == State::before_message) message_start(Event{}, out);
    }

    void block_start(BlockKind kind, Json id, Json name, std::string& out) {
        json::Writer w = begin(out, "content_block_start");
        w.key("index").number(static_cast<std::int64_t>(index_));
        w.key("content_block").object();
        switch (kind) {
            case BlockKind::text:
                w.field_text("type", "text").field_text("text", "");
                state_ = State::in_text;
                break;
            case BlockKind::web_search:  // its input streams as input_json_delta
                search_id_ = search_id(id, options_.id_seed, ++searches_);
                w.field_text("type", "server_tool_use").field_text("id", search_id_).field_text("name", "web_search");
                w.key("input").object().end_object();
                state_ = State::in_search;
                break;
            case BlockKind::reasoning:
                w.field_text("type", "thinking").field_text("thinking", "").field_text("signature", "");
                state_ = State::in_thinking;
                break;
            case BlockKind::tool_call:
                w.field_text("type", "tool_use");
                ++calls_;
                if (usable_id(id)) {
                    w.field("id", id);
                } else {
                    w.field_text("id", json::make_id("toolu_", options_.id_seed, calls_));
                }
                w.key("name").raw(name.empty() ? Json("\"\"") : name);
                w.key("input").object().end_object();
                state_ = State::in_tool_call;
                break;
        }
        w.end_object();
        end(out);
    }

    void block_delta(Json text, std::string& out) {
        json::Writer w = begin(out, "content_block_delta");
        w.key("index").number(static_cast<std::int64_t>(index_));
        w.key("delta").object();
        switch (state_) {
            case State::in_thinking:
                w.field_text("type", "thinking_delta").field("thinking", text);
                break;
            case State::in_tool_call:
            case State::in_search:
                w.field_text("type", "input_json_delta").field("partial_json", text);
                break;
            default:
                w.field_text("type", "text_delta").field("text", text);
                break;
        }
        w.end_object();
        end(out);
    }

    void signature_delta(Json signature, std::string& out) {
        json::Writer w = begin(out, "content_block_delta");
        w.key("index").number(static_cast<std::int64_t>(index_));
        w.key("delta").object().field_text("type", "signature_delta").field("signature", signature).end_object();
        end(out);
    }

    // The pages the last search found: a web_search_tool_result block, whole.
    void search_result(const std::vector<WebSource>& pages, std::string& out) {
        if (search_id_.empty()) search_id_ = search_id({}, options_.id_seed, ++searches_);  // (no search block came)
        json::Writer w = begin(out, "content_block_start");
        w.key("index").number(static_cast<std::int64_t>(index_));
        w.key("content_block").object().field_text("type", "web_search_tool_result").field_text("tool_use_id", search_id_);
        write_search_result_content(w, pages);
        w.end_object();
        end(out);
        json::Writer stop = begin(out, "content_block_stop");
        stop.key("index").number(static_cast<std::int64_t>(index_));
        end(out);
        ++index_;
        search_id_.clear();
    }

    void citation_delta(const Citation& citation, std::string& out) {
        json::Writer w = begin(out, "content_block_delta");
        w.key("index").number(static_cast<std::int64_t>(index_));
        w.key("delta").object().field_text("type", "citations_delta").key("citation");
        write_citation(w, citation);
        w.end_object();
        end(out);
    }

    void close_block(std::string& out) {
        if (state_ != State::in_text && state_ != State::in_thinking && state_ != State::in_tool_call &&
            state_ != State::in_search) {
            return;
        }
        json::Writer w = begin(out, "content_block_stop");
        w.key("index").number(static_cast<std::int64_t>(index_));
        end(out);
        ++index_;
        state_ = State::before_block;
    }

    void message_delta(std::string& out) {
        Stop stop = stop_;
        if (stop == Stop::unknown) stop = calls_ > 0 ? Stop::tool_use : Stop::end_turn;
        json::Writer w = begin(out, "message_delta");
        w.key("delta").object().field_text("stop_reason", stop_word(Dialect::messages, stop));
        if (stop_sequence_.empty()) {
            w.key("stop_sequence").null();
        } else {
            w.key("stop_sequence").raw(stop_sequence_);
        }
        w.end_object();
        w.key("usage").object();
        // A source that counts its input only at the end (chat, responses): message_start said 0.
        if (!input_known_at_start_ && usage_.found) write_usage_fields(w, usage_);
        w.key("output_tokens").number(usage_.output);
        write_server_tool_use(w, usage_);
        w.end_object();
        end(out);
    }

    const AnswerOptions options_;  // a copy: the caller's may be gone (what it views may not)
    State state_ = State::before_message;
    std::size_t index_ = 0;
    std::size_t calls_ = 0;
    std::size_t searches_ = 0;
    std::string search_id_;  // the open or last search's, until its results are written
    Usage usage_;
    bool input_known_at_start_ = false;
    Stop stop_ = Stop::unknown;
    std::string stop_sequence_;  // a string literal, kept from finish to message_delta
};

}  // namespace

std::unique_ptr<StreamReader> make_reader(od::parser& parser) { return std::make_unique<Reader>(parser); }

std::unique_ptr<StreamWriter> make_writer(const AnswerOptions& options) { return std::make_unique<Writer>(options); }

}  // namespace switchyard::translate::messages
