// The OpenAI Responses dialect (translate/dialect.hpp): request bodies (instructions, input items,
// flat tools), response objects, errors, and the response.* event stream that Codex CLI, the Vercel
// AI SDK and OpenAI's Agents SDK read (every event named, typed and numbered; items repeated whole).
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "translate/dialects/dialects.hpp"
#include "translate/json.hpp"

namespace switchyard::translate::responses {

namespace {

namespace od = simdjson::ondemand;
using simdjson::SUCCESS;

constexpr Json kEmptyText = "\"\"";

// --- Reading: On-Demand over a padded copy, views mapped back into the caller's bytes ----------

// A body is parsed from a padded copy (the caller's bytes need not be padded); the raw values it
// yields are mapped back to the same offsets in `source`, so a Json outlives the copy.
class Doc {
public:
    explicit Doc(std::string_view source) : source_(source) {}

    bool open(od::parser& parser, od::document& doc) {
        thread_local std::string padded;
        padded.assign(source_);
        padded.append(simdjson::SIMDJSON_PADDING, ' ');
        base_ = padded.data();
        return parser.iterate(padded.data(), source_.size(), padded.size()).get(doc) == SUCCESS;
    }
    // Already padded (a stream event's data): parsed in place.
    bool open_in_place(od::parser& parser, od::document& doc) {
        base_ = source_.data();
        return parser.iterate(source_.data(), source_.size(), source_.size() + simdjson::SIMDJSON_PADDING).get(doc) ==
               SUCCESS;
    }

    // The raw JSON of `value`; empty when absent or on error. A null is taken as absent.
    Json raw(od::value value) const {
        std::string_view text;
        if (json::raw(value).get(text) != SUCCESS || text == "null") return {};
        return source_.substr(static_cast<std::size_t>(text.data() - base_), text.size());
    }
    // A string value's raw literal; empty when it is not a string.
    Json string(od::value value) const {
        const Json text = raw(value);
        return !text.empty() && text.front() == '"' ? text : Json{};
    }

private:
    std::string_view source_;
    const char* base_ = nullptr;
};

using json::each_element;
using json::each_field;

// OpenAI's web search tool: "web_search", and its dated and preview spellings.
bool is_web_search_tool(std::string_view type) { return type == "web_search" || type.starts_with("web_search_"); }

bool is_type(od::value value, od::json_type type) {
    od::json_type actual;
    return value.type().get(actual) == SUCCESS && actual == type;
}

std::int64_t int_of(od::value value) {
    std::int64_t n = 0;
    return value.get_int64().get(n) == SUCCESS ? n : 0;
}

// The text of a literal without its quotes (its escapes kept): a piece of a longer literal.
std::string_view inner(Json literal) {
    return literal.size() >= 2 ? literal.substr(1, literal.size() - 2) : std::string_view{};
}

// A custom tool's input text as the arguments other dialects see: {"input":"<text>"} as a string.
Json wrap_input(Json input, Arena& arena) {
    std::string object = "{\"input\":";
    object += input.empty() ? kEmptyText : input;
    object += '}';
    std::string literal;
    json::append_as_string(object, literal);
    return arena.keep(std::move(literal));
}

// The other way: the "input" string literal inside arguments {"input":"..."}; the arguments' own
// text when they are not of that shape.
void unwrap_input(Json arguments, std::string& out) {
    out.clear();
    std::string object;
    if (json::string_to_object(arguments, object)) {
        simdjson::dom::parser parser;
        simdjson::dom::element element;
        std::string_view input;
        if (parser.parse(object).get(element) == SUCCESS && element["input"].get_string().get(input) == SUCCESS) {
            append_json_string(out, input);
            return;
        }
    }
    out.assign(arguments.empty() ? kEmptyText : arguments);
}

Usage read_usage(const Doc&, od::value value) {
    Usage usage;
    usage.found = each_field(value, [&](std::string_view key, od::value v) {
        if (key == "input_tokens") {
            usage.input = int_of(v);
        } else if (key == "output_tokens") {
            usage.output = int_of(v);
        } else if (key == "input_tokens_details") {
            each_field(v, [&](std::string_view k, od::value d) {
                if (k == "cached_tokens") usage.cached = int_of(d);
                return true;
            });
        } else if (key == "output_tokens_details") {
            each_field(v, [&](std::string_view k, od::value d) {
                if (k == "reasoning_tokens") usage.reasoning = int_of(d);
                return true;
            });
        }
        return true;
    });
    return usage;
}

// --- Requests: reading ----------------------------------------------------------------------

// What the reader does with a top-level field it does not map (the rest are read below).
struct FieldRule {
    std::string_view name;
    bool ignore;           // dropped silently: the gateway or a stateless upstream has no use for it
    bool changes_meaning;  // else an Unmapped with this flag
};

constexpr std::array<FieldRule, 15> kFieldRules{{
    {"store", true, false},
    {"include", true, false},
    {"client_metadata", true, false},
    {"metadata", true, false},
    {"service_tier", true, false},
    {"truncation", true, false},
    {"safety_identifier", true, false},
    {"prompt_cache_retention", true, false},
    {"previous_response_id", true, false},  // resolved by the gateway before translation
    {"stream_options", true, false},
    {"background", false, true},            // an answer fetched later: no upstream of another dialect has it
    {"conversation", false, true},          // server-side state
    {"prompt", false, true},                // a stored prompt template
    {"top_logprobs", false, false},
    {"max_tool_calls", false, false},
}};

const FieldRule* rule_of(std::string_view name) {
    for (const auto& rule : kFieldRules) {
        if (rule.name == name) return &rule;
    }
    return nullptr;
}

class RequestReader {
public:
    RequestReader(const Doc& doc, Request& out) : doc_(doc), out_(out) {}

    std::optional<ApiError> read(od::value root) {
        const bool ok = each_field(root, [&](std::string_view key, od::value value) { return field(key, value); });
        if (error_) return error_;
        if (!ok) return ApiError::invalid_request("The request body could not be read as a Responses request.");
        return std::nullopt;
    }

private:
    bool fail(std::string message, std::string param) {
        error_ = ApiError::invalid_request(std::move(message), std::move(param));
        return false;
    }

    bool field(std::string_view key, od::value value) {
        if (key == "model") {
            out_.model = doc_.string(value);
        } else if (key == "instructions") {
            if (const Json text = doc_.string(value); !text.empty()) out_.system.push_back(text_part(text));
        } else if (key == "input") {
            if (is_type(value, od::json_type::string)) {
                message_for(Role::user).parts.push_back(text_part(doc_.string(value)));
            } else if (!each_element(value, [&](od::value item) { return input_item(item); })) {
                return error_ ? false : fail("`input` must be a string or an array of items.", "input");
            }
        } else if (key == "tools") {
            return each_element(value, [&](od::value tool) { return this->tool(tool); });
        } else if (key == "tool_choice") {
            return tool_choice(value);
        } else if (key == "parallel_tool_calls") {
            bool parallel = true;
            if (value.get_bool().get(parallel) == SUCCESS) out_.tool_choice.parallel = parallel;
        } else if (key == "max_output_tokens") {
            std::int64_t n = 0;
            if (value.get_int64().get(n) == SUCCESS) out_.max_tokens = n;
        } else if (key == "temperature") {
            out_.temperature = doc_.raw(value);
        } else if (key == "top_p") {
            out_.top_p = doc_.raw(value);
        } else if (key == "text") {
            return text_options(value);
        } else if (key == "reasoning") {
            return reasoning(value);
        } else if (key == "stream") {
            bool stream = false;
            out_.stream = value.get_bool().get(stream) == SUCCESS && stream;
        } else if (key == "user") {
            out_.user = doc_.string(value);
        } else if (key == "prompt_cache_key") {
            out_.cache_key = doc_.string(value);
        } else {
            const FieldRule* rule = rule_of(key);
            if (rule != nullptr && rule->ignore) return true;
            const Json raw = doc_.raw(value);
            if (raw.empty() || raw == "false") return true;  // null or off: nothing asked for
            // The name must outlive the parser's key buffer: known names are static, others kept.
            const std::string_view name = rule != nullptr ? rule->name : out_.arena.keep(std::string(key));
            out_.unmapped.push_back({name, raw, rule != nullptr && rule->changes_meaning});
        }
        return true;
    }

    static Part text_part(Json text) {
        Part part;
        part.text = text;
        return part;
    }

    // The message a part of `role` joins: the last one when it has that role, else a new one.
    Message& message_for(Role role) {
        if (out_.messages.empty() || out_.messages.back().role != role) out_.messages.push_back({role, {}});
        return out_.messages.back();
    }

    struct Item {
        Json type, role, id, call_id, name, arguments, input, encrypted;
        Json content_text;     // content / output as a string
        bool content_array = false;
    };

    bool input_item(od::value value) {
        Item item;
        std::vector<Part> parts;  // content / output / summary parts, read in the same pass
        Json summary;             // reasoning summary texts, joined
        const bool ok = each_field(value, [&](std::string_view key, od::value v) {
            if (key == "type") item.type = doc_.string(v);
            else if (key == "role") item.role = doc_.string(v);
            else if (key == "id") item.id = doc_.string(v);
            else if (key == "call_id") item.call_id = doc_.string(v);
            else if (key == "name") item.name = doc_.string(v);
            else if (key == "arguments") item.arguments = doc_.string(v);
            else if (key == "input") item.input = doc_.string(v);
            else if (key == "encrypted_content") item.encrypted = doc_.string(v);
            else if (key == "content" || key == "output") {
                if (is_type(v, od::json_type::null)) return true;  // a reasoning item's content: null
                if (is_type(v, od::json_type::string)) {
                    item.content_text = doc_.string(v);
                } else {
                    item.content_array = true;
                    return each_element(v, [&](od::value part) { return content_part(part, parts); });
                }
            } else if (key == "summary") {
                return each_element(v, [&](od::value part) {
                    return each_field(part, [&](std::string_view k, od::value t) {
                        if (k == "text") summary = json::join(summary, "\n\n", doc_.string(t), out_.arena);
                        return true;
                    });
                });
            }
            return true;
        });
        if (error_) return false;
        if (!ok) return fail("An `input` item could not be read.", "input");
        if (!item.content_text.empty()) parts.insert(parts.begin(), text_part(item.content_text));

        const auto type = json::text_of(item.type);
        if (type.empty() || type == "message") return message_item(item, std::move(parts));
        // OpenAI refuses a call or an output without its call_id (and a call without its name): the
        // other dialects' writers could not pair them.
        const bool call_item = type == "function_call" || type == "custom_tool_call";
        if ((call_item || type == "function_call_output" || type == "custom_tool_call_output") && item.call_id.empty()) {
            return fail("A `" + type + "` item needs its `call_id`.", "input");
        }
        if (call_item && item.name.empty()) return fail("A `" + type + "` item needs its `name`.", "input");
        if (call_item) {
            Part call;
            call.kind = PartKind::tool_call;
            call.id = item.call_id;
            call.name = item.name;
            call.arguments = type == "function_call" ? (item.arguments.empty() ? kEmptyText : item.arguments)
                                                     : wrap_input(item.input, out_.arena);
            message_for(Role::assistant).parts.push_back(std::move(call));
            return true;
        }
        if (type == "function_call_output" || type == "custom_tool_call_output") {
            Part result;
            result.kind = PartKind::tool_result;
            result.id = item.call_id;
            result.content = std::move(parts);
            message_for(Role::user).parts.push_back(std::move(result));
            return true;
        }
        if (type == "reasoning") {
            Part reasoning;
            reasoning.kind = PartKind::reasoning;
            reasoning.item_id = item.id;
            reasoning.text = summary;
            reasoning.signature = item.encrypted;
            message_for(Role::assistant).parts.push_back(std::move(reasoning));
            return true;
        }
        if (type == "web_search_call") {
            // A search OpenAI ran in an earlier turn: its results are not in the item, and no other
            // provider can take a search it did not run. The answer that used it follows as text.
            return true;
        }
        if (type == "item_reference") {
            return fail("Input items referenced by id (item_reference) need stored responses; send the items themselves.",
                        "input");
        }
        return fail("Input items of type `" + type + "` cannot be translated for this model.", "input");
    }

    bool message_item(const Item& item, std::vector<Part> parts) {
        if (json::is(item.role, "system") || json::is(item.role, "developer")) {
            for (auto& part : parts) {
                if (part.kind == PartKind::text) out_.system.push_back(std::move(part));
            }
            return true;
        }
        const Role role = json::is(item.role, "assistant") ? Role::assistant : Role::user;
        auto& message = message_for(role);
        for (auto& part : parts) message.parts.push_back(std::move(part));
        return true;
    }

    bool content_part(od::value value, std::vector<Part>& parts) {
        Part part;
        Json type, image_url, file_data, file_url, filename, refusal;
        const bool ok = each_field(value, [&](std::string_view key, od::value v) {
            if (key == "type") type = doc_.string(v);
            else if (key == "text") part.text = doc_.string(v);
            else if (key == "refusal") refusal = doc_.string(v);
            else if (key == "image_url") image_url = doc_.string(v);
            else if (key == "file_id") part.file_id = doc_.string(v);
            else if (key == "detail") part.detail = doc_.string(v);
            else if (key == "file_data") file_data = doc_.string(v);
            else if (key == "file_url") file_url = doc_.string(v);
            else if (key == "filename") filename = doc_.string(v);
            return true;
        });
        if (!ok) return false;
        if (json::is(type, "input_image")) {
            part.kind = PartKind::image;
            part.url = image_url;
        } else if (json::is(type, "input_file")) {
            part.kind = PartKind::document;
            part.url = !file_data.empty() ? file_data : file_url;
            part.title = filename;
        } else if (json::is(type, "refusal")) {
            part.text = refusal;
        } else if (part.text.empty()) {
            return fail("Content parts of type " + json::text_of(type) + " cannot be translated for this model.",
                        "input");
        }
        parts.push_back(std::move(part));
        return true;
    }

    bool tool(od::value value) {
        Tool tool;
        Json type;
        // A namespace's tools, read where they stand (before `type` may have been seen): what they
        // added to the tools and the unmapped fields, to take back if this is not a namespace.
        const std::size_t tools_before = out_.tools.size();
        const std::size_t unmapped_before = out_.unmapped.size();
        bool has_inner = false;
        const bool ok = each_field(value, [&](std::string_view key, od::value v) {
            if (key == "type") type = doc_.string(v);
            else if (key == "name") tool.name = doc_.string(v);
            else if (key == "description") tool.description = doc_.string(v);
            else if (key == "parameters") tool.parameters = doc_.raw(v);
            else if (key == "format") tool.format = doc_.raw(v);
            else if (key == "user_location") tool.user_location = doc_.raw(v);
            else if (key == "search_context_size") tool.search_context_size = doc_.string(v);
            else if (key == "filters") {
                return each_field(v, [&](std::string_view k, od::value f) {
                    if (k == "allowed_domains") tool.allowed_domains = doc_.raw(f);
                    return true;
                });
            } else if (key == "strict") {
                bool strict = false;
                if (v.get_bool().get(strict) == SUCCESS) tool.strict = strict;
            } else if (key == "tools" && is_type(v, od::json_type::array)) {
                has_inner = true;
                return each_element(v, [&](od::value inner) { return this->tool(inner); });
            }
            return true;
        });
        if (error_) return false;
        if (!ok) return fail("A tool could not be read.", "tools");
        if (json::is(type, "namespace")) return namespace_tool(tool.name, tools_before);
        if (has_inner) {
            out_.tools.resize(tools_before);
            out_.unmapped.resize(unmapped_before);
        }
        if (json::is(type, "function") || json::is(type, "custom")) {
            // Responses' tools are flat: a chat-shaped {"function":{"name":...}} has no name here.
            if (tool.name.empty()) return fail("A function or custom tool needs its `name`.", "tools");
            tool.custom = json::is(type, "custom");
            out_.tools.push_back(tool);
        } else if (is_web_search_tool(json::text_of(type))) {
            // OpenAI's web search, which Anthropic's web_search server tool can carry (chat cannot):
            // its domains and location cross; search_context_size has no counterpart there and is
            // dropped (it crosses to Responses from chat's web_search_options).
            tool.web_search = true;
            tool.name = "\"web_search\"";
            if (tool.user_location == "null") tool.user_location = {};
            if (tool.allowed_domains == "null") tool.allowed_domains = {};
            out_.tools.push_back(tool);
        } else {
            // A built-in tool (web_search, local_shell, file_search, computer_use...) runs at
            // OpenAI: a model elsewhere cannot use it, and silently losing it changes the answer.
            out_.unmapped.push_back({"tools", type, true});
        }
        return true;
    }

    // Codex CLI groups tools in namespaces: {"type":"namespace","name":"multi_agent_v1","tools":[
    // {"type":"function","name":"spawn_agent",...}]}. Other dialects have flat tools: each inner
    // tool (already read, from `first` on) is a tool of its own, its name as it is. Codex routes a
    // call of a namespaced tool by its name *and* namespace (a function_call item's `namespace`
    // field; without it the call is "unsupported"), and the common form's Tool has no place for a
    // namespace: the grouping is kept as a harmless Unmapped "tools" of the gateway's own making,
    // {"type":"namespace","name":NS,"tools":[NAME,...]}, which the Responses answer writers read back
    // (namespace_of) to give the calls their `namespace`. Other dialects' writers drop it.
    bool namespace_tool(Json name, std::size_t first) {
        if (name.empty()) return fail("A namespace tool needs its `name`.", "tools");
        std::string grouping = "{\"type\":\"namespace\",\"name\":";
        grouping += name;
        grouping += ",\"tools\":[";
        for (std::size_t i = first; i < out_.tools.size(); ++i) {
            if (i > first) grouping += ',';
            grouping += out_.tools[i].name;
        }
        grouping += "]}";
        out_.unmapped.push_back({"tools", out_.arena.keep(std::move(grouping)), false});
        return true;
    }

    bool tool_choice(od::value value) {
        auto& choice = out_.tool_choice;
        if (is_type(value, od::json_type::string)) {
            const Json word = doc_.string(value);
            if (json::is(word, "auto")) choice.mode = ToolChoice::Mode::auto_;
            else if (json::is(word, "none")) choice.mode = ToolChoice::Mode::none;
            else if (json::is(word, "required")) choice.mode = ToolChoice::Mode::required;
            else return fail("`tool_choice` must be auto, none, required or a named tool.", "tool_choice");
            return true;
        }
        Json type, name;
        each_field(value, [&](std::string_view key, od::value v) {
            if (key == "type") type = doc_.string(v);
            else if (key == "name") name = doc_.string(v);
            return true;
        });
        if ((json::is(type, "function") || json::is(type, "custom")) && !name.empty()) {
            choice.mode = ToolChoice::Mode::named;
            choice.name = name;
        } else if (is_web_search_tool(inner(type))) {
            // The web search forced ({"type":"web_search"}): Anthropic's {"type":"tool","name":"web_search"}.
            choice.mode = ToolChoice::Mode::named;
            choice.name = "\"web_search\"";
        } else if (!type.empty()) {
            out_.unmapped.push_back({"tool_choice", type, true});  // allowed_tools, a built-in tool
        }
        return true;
    }

    bool text_options(od::value value) {
        return each_field(value, [&](std::string_view key, od::value v) {
            if (key != "format") return true;
            auto& format = out_.format;
            Json type;
            each_field(v, [&](std::string_view k, od::value f) {
                if (k == "type") type = doc_.string(f);
                else if (k == "name") format.name = doc_.string(f);
                else if (k == "schema") format.schema = doc_.raw(f);
                else if (k == "strict") {
                    bool strict = false;
                    if (f.get_bool().get(strict) == SUCCESS) format.strict = strict;
                }
                return true;
            });
            if (json::is(type, "json_object")) format.kind = Format::Kind::json_object;
            else if (json::is(type, "json_schema")) format.kind = Format::Kind::json_schema;
            return true;
        });
    }

    bool reasoning(od::value value) {
        auto& reasoning = out_.reasoning;
        each_field(value, [&](std::string_view key, od::value v) {
            if (key == "effort") {
                reasoning.effort = doc_.string(v);
                reasoning.enabled = !reasoning.effort.empty() && !json::is(reasoning.effort, "none");
            } else if (key == "summary") {
                const Json summary = doc_.string(v);
                reasoning.summary = !summary.empty() && !json::is(summary, "none");
            }
            return true;
        });
        return true;
    }

    const Doc& doc_;
    Request& out_;
    std::optional<ApiError> error_;
};

// --- Requests: writing ----------------------------------------------------------------------

bool is_custom_tool(const Request* request, Json name) {
    if (request == nullptr || name.empty()) return false;
    for (const auto& tool : request->tools) {
        if (tool.custom && tool.name == name) return true;
    }
    return false;
}

// The namespace (a string literal) of the tool `name` when the caller declared it inside a
// namespace tool (the reader's grouping, see RequestReader::namespace_tool), else empty.
std::string namespace_of(const Request* request, Json name) {
    if (request == nullptr || name.empty()) return {};
    const std::string wanted = json::text_of(name);
    for (const auto& field : request->unmapped) {
        if (field.changes_meaning || field.name != "tools") continue;
        if (!field.value.starts_with(R"({"type":"namespace")")) continue;
        simdjson::dom::parser parser;
        simdjson::dom::element grouping;
        if (parser.parse(field.value.data(), field.value.size()).get(grouping) != SUCCESS) continue;
        std::string_view ns;
        simdjson::dom::array tools;
        if (grouping["name"].get_string().get(ns) != SUCCESS || grouping["tools"].get_array().get(tools) != SUCCESS) {
            continue;
        }
        for (auto tool : tools) {
            std::string_view tool_name;
            if (tool.get_string().get(tool_name) == SUCCESS && tool_name == wanted) {
                std::string literal;
                append_json_string(literal, ns);
                return literal;
            }
        }
    }
    return {};
}

// The tool named by the call `call_id` in the conversation, to answer a custom tool in kind.
bool call_is_custom(const Request& request, Json call_id) {
    for (const auto& message : request.messages) {
        for (const auto& part : message.parts) {
            if (part.kind == PartKind::tool_call && part.id == call_id) return is_custom_tool(&request, part.name);
        }
    }
    return false;
}

// Anthropic's thinking budget as an effort (Responses has only efforts).
Json effort_of_budget(std::int64_t budget) {
    if (budget < 4096) return "\"low\"";
    if (budget < 16384) return "\"medium\"";
    return "\"high\"";
}

void write_image(json::Writer& w, const Part& part) {
    w.object().field_text("type", "input_image");
    if (!part.url.empty()) {
        w.field("image_url", part.url);
    } else if (!part.data.empty()) {
        w.key("image_url").text(json::data_url(part, "image/png"));
    }
    w.field("file_id", part.file_id).field("detail", part.detail.empty() ? Json("\"auto\"") : part.detail);
    w.end_object();
}

void write_document(json::Writer& w, const Part& part) {
    if (!part.text.empty()) {  // Anthropic's plain-text document: its text
        w.object().field_text("type", "input_text").field("text", part.text).end_object();
        return;
    }
    if (json::is(part.media_type, "text/plain") && !part.data.empty()) {
        w.object().field_text("type", "input_text").field("text", part.data).end_object();
        return;
    }
    w.object().field_text("type", "input_file");
    if (!part.url.empty()) {
        w.key(part.url.starts_with("\"data:") ? "file_data" : "file_url").raw(part.url);
    } else if (!part.data.empty()) {
        w.key("file_data").text(json::data_url(part, "application/pdf"));
    }
    w.field("file_id", part.file_id);
    if (!part.url.empty() || !part.data.empty()) {
        w.field("filename", part.title.empty() ? Json("\"document.pdf\"") : part.title);
    }
    w.end_object();
}

class InputWriter {
public:
    InputWriter(const Request& request, json::Writer& w) : request_(request), w_(w) {}

    void message(const Message& message) {
        for (const auto& part : message.parts) {
            switch (part.kind) {
                case PartKind::text:
                    open(message.role);
                    w_.object()
                        .field_text("type", message.role == Role::user ? "input_text" : "output_text")
                        .field("text", part.text.empty() ? kEmptyText : part.text);
                    if (message.role == Role::assistant) w_.key("annotations").array().end_array();
                    w_.end_object();
                    break;
                case PartKind::image:
                    open(message.role);
                    write_image(w_, part);
                    break;
                case PartKind::document:
                    open(message.role);
                    write_document(w_, part);
                    break;
                case PartKind::tool_call: tool_call(part); break;
                case PartKind::tool_result: tool_result(part); break;
                case PartKind::reasoning: reasoning(part); break;
                case PartKind::web_search: break;  // answers only
            }
        }
        close();
    }

private:
    // A message item is open while consecutive text/image/document parts fill its content.
    void open(Role role) {
        if (open_) return;
        w_.object()
            .field_text("type", "message")
            .field_text("role", role == Role::user ? "user" : "assistant")
            .key("content")
            .array();
        open_ = true;
    }
    void close() {
        if (!open_) return;
        w_.end_array().end_object();
        open_ = false;
    }

    void tool_call(const Part& part) {
        close();
        if (is_custom_tool(&request_, part.name)) {
            std::string input;
            unwrap_input(part.arguments, input);
            w_.object().field_text("type", "custom_tool_call").field("call_id", part.id).field("name", part.name);
            w_.key("input").raw(input).end_object();
            return;
        }
        w_.object()
            .field_text("type", "function_call")
            .field("call_id", part.id)
            .field("name", part.name)
            .field("arguments", part.arguments.empty() ? Json("\"{}\"") : part.arguments)
            .end_object();
    }

    void tool_result(const Part& part) {
        close();
        const bool custom = call_is_custom(request_, part.id);
        w_.object()
            .field_text("type", custom ? "custom_tool_call_output" : "function_call_output")
            .field("call_id", part.id)
            .key("output");
        bool images = false;
        for (const auto& piece : part.content) {
            images = images || piece.kind == PartKind::image || piece.kind == PartKind::document;
        }
        if (images) {
            w_.array();
            for (const auto& piece : part.content) {
                if (piece.kind == PartKind::image) write_image(w_, piece);
                else if (piece.kind == PartKind::document) write_document(w_, piece);
                else if (piece.kind == PartKind::text) w_.object().field_text("type", "input_text").field("text", piece.text).end_object();
            }
            w_.end_array();
        } else {
            Json text;
            for (const auto& piece : part.content) {
                if (piece.kind == PartKind::text) text = json::join(text, "\n", piece.text, arena_);
            }
            w_.raw(text.empty() ? kEmptyText : text);
        }
        w_.end_object();
    }

    void reasoning(const Part& part) {
        // Only a reasoning item's encrypted content can be sent back to a stateless upstream.
        if (part.signature.empty()) return;
        close();
        w_.object().field_text("type", "reasoning").field("id", part.item_id).key("summary").array();
        if (!part.text.empty() && part.text != kEmptyText) {
            w_.object().field_text("type", "summary_text").field("text", part.text).end_object();
        }
        w_.end_array().field("encrypted_content", part.signature).end_object();
    }

    const Request& request_;
    json::Writer& w_;
    Arena arena_;
    bool open_ = false;
};

std::optional<ApiError> check_writable(const Request& request) {
    for (const auto& unmapped : request.unmapped) {
        if (!unmapped.changes_meaning) continue;
        return ApiError::invalid_request(
            "`" + std::string(unmapped.name) + "` (" + std::string(unmapped.value.substr(0, 200)) +
                ") cannot be translated for this model: the OpenAI Responses upstream would not honour it.",
            std::string(unmapped.name));
    }
    if (!request.stop.empty()) {
        return ApiError::invalid_request("Stop sequences cannot be translated for this model (the Responses API has none).",
                                         "stop");
    }
    for (const auto& tool : request.tools) {
        if (tool.web_search && !tool.blocked_domains.empty()) {
            return ApiError::invalid_request(
                "The web_search tool's blocked_domains cannot be translated for this model: OpenAI's web search takes "
                "allowed domains only.",
                "tools");
        }
    }
    return std::nullopt;
}

// --- Answers: the output items both the whole answer and the stream's final object hold ------

enum class ItemKind : std::uint8_t { message, reasoning, function_call, custom_tool_call, web_search_call };

// One output item, whole. Strings are reused from answer to answer (the stream writer's buffer).
struct OutputItem {
    ItemKind kind = ItemKind::message;
    std::string id;         // plain text: msg_..., rs_..., fc_..., ctc_...
    std::string call_id;    // a string literal
    std::string name;       // a string literal
    std::string body;       // a string literal kept whole: the text, the summary, the arguments or input
    std::string signature;  // reasoning: encrypted_content, a string literal, or empty
    std::string ns;         // function_call: the tool's namespace (a string literal), or empty
    // message: the text's url_citation annotations, a JSON array (empty: none); web_search_call:
    // the pages found, {"type":"url","url":...} objects in a JSON array (empty: none)
    std::string annotations;
    std::string sources;
    bool complete = false;
};

using json::byte_of_char;
using json::chars_of;
using json::text_length;

// Anthropic's citations of a text that starts at character `start` of the message's text and is
// `length` long, appended to a message's annotations as url_citation objects.
void add_annotations(std::string& annotations, const std::vector<Citation>& citations, std::size_t start, std::size_t length) {
    for (const auto& citation : citations) {
        annotations += annotations.empty() ? '[' : ',';
        json::Writer w(annotations);
        w.object().field_text("type", "url_citation");
        w.key("start_index").number(static_cast<std::int64_t>(start));
        w.key("end_index").number(static_cast<std::int64_t>(start + length));
        w.field("url", citation.url).field("title", citation.title.empty() ? kEmptyText : citation.title).end_object();
    }
}

// A search's pages as web_search_call.action.sources.
void add_sources(std::string& sources, const std::vector<WebSource>& found) {
    for (const auto& page : found) {
        sources += sources.empty() ? '[' : ',';
        json::Writer(sources).object().field_text("type", "url").field("url", page.url).end_object();
    }
}

std::string_view closed_array(std::string& array) {
    if (array.empty()) return "[]";
    if (array.back() != ']') array += ']';
    return array;
}

// --- Web search in answers: what a web_search_call found, and the text's url_citation annotations --

// A web_search_call's action. Only a search is one for other dialects (open_page and find_in_page
// read a page already found); its pages come only when the request's `include` asks for them.
struct SearchAction {
    bool search = false;
    Json query;  // a string literal (`query`, or the first of `queries`)
    std::vector<WebSource> sources;
};

void read_action(const Doc& doc, od::value value, SearchAction& out) {
    Json type;
    each_field(value, [&](std::string_view key, od::value v) {
        if (key == "type") type = doc.string(v);
        else if (key == "query") out.query = doc.string(v);
        else if (key == "queries" && out.query.empty()) {
            each_element(v, [&](od::value query) {
                if (out.query.empty()) out.query = doc.string(query);
                return true;
            });
        } else if (key == "sources") {
            each_element(v, [&](od::value source) {
                WebSource page;
                each_field(source, [&](std::string_view k, od::value x) {
                    if (k == "url") page.url = doc.string(x);
                    else if (k == "title") page.title = doc.string(x);
                    return true;
                });
                if (!page.url.empty()) out.sources.push_back(page);
                return true;
            });
        }
        return true;
    });
    out.search = type.empty() ? !out.query.empty() : json::is(type, "search");
}

// A url_citation annotation: the characters [start, end) of an output_text cite a page.
struct Annotation {
    std::int64_t start = 0, end = 0;
    Json url, title;
};

bool read_annotation(const Doc& doc, od::value value, Annotation& out) {
    Json type;
    each_field(value, [&](std::string_view key, od::value v) {
        if (key == "type") type = doc.string(v);
        else if (key == "start_index") out.start = int_of(v);
        else if (key == "end_index") out.end = int_of(v);
        else if (key == "url") out.url = doc.string(v);
        else if (key == "title") out.title = doc.string(v);
        return true;
    });
    return json::is(type, "url_citation") && !out.url.empty();
}

// An output_text with its annotations as the common form's text parts, as Anthropic writes cited
// text: a part per cited span, carrying its citations, and the uncited text between them apart.
// Overlapping spans join the part of the first; a span of no characters cites the part before it
// (or, at the start, the one after).
void add_cited_text(Json text, std::vector<Annotation>& notes, Arena& arena, std::vector<Part>& out) {
    const std::string_view escaped = inner(text);
    const std::int64_t total = static_cast<std::int64_t>(chars_of(escaped));
    std::sort(notes.begin(), notes.end(), [](const Annotation& a, const Annotation& b) {
        return a.start != b.start ? a.start < b.start : a.end < b.end;
    });
    const std::size_t first = out.size();
    std::vector<Citation> carried;  // zero-width citations at the start
    std::int64_t done = 0;          // characters placed so far
    const auto piece = [&](std::int64_t from, std::int64_t to) -> Part& {
        const std::size_t a = byte_of_char(escaped, static_cast<std::size_t>(from));
        const std::size_t b = byte_of_char(escaped, static_cast<std::size_t>(to));
        std::string literal = "\"";
        literal += escaped.substr(a, b - a);
        literal += '"';
        Part& part = out.emplace_back();
        part.text = arena.keep(std::move(literal));
        part.citations = std::move(carried);
        carried.clear();
        done = to;
        return part;
    };
    for (const auto& note : notes) {
        const Citation citation{note.url, note.title, {}};
        const std::int64_t start = std::clamp<std::int64_t>(note.start, 0, total);
        const std::int64_t end = std::clamp<std::int64_t>(note.end, start, total);
        if (start < done || end == start) {
            if (out.size() > first) out.back().citations.push_back(citation);
            else carried.push_back(citation);
            continue;
        }
        if (start > done) piece(done, start);
        piece(start, end).citations.push_back(citation);
    }
    if (done < total || out.size() == first) piece(done, total);
}

constexpr std::string_view item_type(ItemKind kind) {
    switch (kind) {
        case ItemKind::message: return "message";
        case ItemKind::reasoning: return "reasoning";
        case ItemKind::function_call: return "function_call";
        case ItemKind::custom_tool_call: return "custom_tool_call";
        case ItemKind::web_search_call: return "web_search_call";
    }
    return "message";
}

// annotations: a JSON array, or empty for [].
void write_text_part(json::Writer& w, Json text, std::string_view annotations = {}) {
    w.object().field_text("type", "output_text").key("annotations").raw(annotations.empty() ? "[]" : annotations);
    w.key("logprobs").array().end_array().field("text", text).end_object();
}

void write_summary_part(json::Writer& w, Json text) {
    w.object().field_text("type", "summary_text").field("text", text).end_object();
}

// The item as output_item.added (opening: empty content) or output_item.done and the final
// object (whole) show it.
void write_item(json::Writer& w, const OutputItem& item, bool whole) {
    w.object().field_text("id", item.id).field_text("type", item_type(item.kind));
    w.field_text("status", whole ? "completed" : "in_progress");
    switch (item.kind) {
        case ItemKind::message:
            w.field_text("role", "assistant").key("content").array();
            if (whole) write_text_part(w, item.body, item.annotations);
            w.end_array();
            break;
        case ItemKind::web_search_call:
            if (whole) {
                w.key("action").object().field_text("type", "search").field("query", item.body.empty() ? kEmptyText : Json(item.body));
                if (!item.sources.empty()) w.key("sources").raw(item.sources);
                w.end_object();
            }
            break;
        case ItemKind::reasoning:
            w.key("summary").array();
            if (whole && item.body != kEmptyText) write_summary_part(w, item.body);
            w.end_array().field("encrypted_content", item.signature);
            break;
        case ItemKind::function_call:
            w.field("call_id", item.call_id).field("name", item.name);
            if (!item.ns.empty()) w.field("namespace", Json(item.ns));
            w.field("arguments", whole ? Json(item.body) : kEmptyText);
            break;
        case ItemKind::custom_tool_call:
            w.field("call_id", item.call_id).field("name", item.name).field("input", whole ? Json(item.body) : kEmptyText);
            break;
    }
    w.end_object();
}

void write_usage(json::Writer& w, const Usage& usage) {
    w.key("usage").object().key("input_tokens").number(usage.input);
    w.key("input_tokens_details").object().key("cached_tokens").number(usage.cached).end_object();
    w.key("output_tokens").number(usage.output);
    w.key("output_tokens_details").object().key("reasoning_tokens").number(usage.reasoning).end_object();
    w.key("total_tokens").number(usage.input + usage.output).end_object();
}

enum class Status : std::uint8_t { in_progress, completed, incomplete, failed };

constexpr std::string_view status_word(Status status) {
    switch (status) {
        case Status::in_progress: return "in_progress";
        case Status::completed: return "completed";
        case Status::incomplete: return "incomplete";
        case Status::failed: return "failed";
    }
    return "completed";
}

Status status_of(Stop stop) { return stop_word(Dialect::responses, stop).empty() ? Status::completed : Status::incomplete; }

struct ResponseHead {
    std::string_view id;  // plain text
    Json model;           // a string literal
    std::int64_t created = 0;
    Status status = Status::in_progress;
    Stop stop = Stop::unknown;
    const Error* error = nullptr;  // failed
};

// The response object: response.created/in_progress (no output yet), response.completed,
// response.incomplete, response.failed, and the whole answer.
void write_response_object(json::Writer& w, const ResponseHead& head, const OutputItem* items, std::size_t count,
                           const Usage* usage) {
    w.object().field_text("id", head.id).field_text("object", "response").key("created_at").number(head.created);
    w.field_text("status", status_word(head.status));
    w.key("error");
    if (head.error != nullptr) {
        w.object().field("code", head.error->code.empty() ? Json("\"server_error\"") : head.error->code);
        w.field("message", head.error->message.empty() ? kEmptyText : head.error->message).end_object();
    } else {
        w.null();
    }
    w.key("incomplete_details");
    if (head.status == Status::incomplete) {
        w.object().field_text("reason", stop_word(Dialect::responses, head.stop)).end_object();
    } else {
        w.null();
    }
    w.field("model", head.model.empty() ? kEmptyText : head.model).key("output").array();
    for (std::size_t i = 0; i < count; ++i) write_item(w, items[i], true);
    w.end_array();
    if (usage != nullptr) {
        write_usage(w, *usage);
    } else {
        w.key("usage").null();
    }
    w.end_object();
}

// --- Streams: reading -----------------------------------------------------------------------

// What one event's JSON holds, gathered in one pass whatever the order of its fields (llama-server
// sorts them: "item" comes before "type").
struct EventFields {
    Json type, delta, item_id, code, message, param, error_type;
    std::int64_t summary_index = 0;
    // `item`
    Json item_type, item_call_id, item_name, item_arguments, item_input, item_encrypted;
    SearchAction action;  // a web_search_call's
    Annotation annotation;  // response.output_text.annotation.added
    bool has_annotation = false;
    // `response`
    Json response_id, model, incomplete_reason, response_error_code, response_error_message;
    std::int64_t created = 0;
    Usage usage;
};

class Reader final : public StreamReader {
public:
    explicit Reader(od::parser& parser) : parser_(parser) {}

    void event(std::string_view, std::string_view data, EventSink& sink) override {
        if (done_) return;
        EventFields f;
        if (!read_fields(data, f)) return;  // not JSON (a stray line): nothing to relay
        const std::string_view type = inner(f.type);
        if (type == "response.created" || type == "response.in_progress") {
            start(f, sink);
        } else if (type == "response.output_item.added") {
            item_added(f, sink);
        } else if (type == "response.content_part.added") {
            open(BlockKind::text, {}, {}, f, sink);
        } else if (type == "response.output_text.delta" || type == "response.refusal.delta") {
            if (!is_open(BlockKind::text)) open(BlockKind::text, {}, {}, f, sink);
            delta(f.delta, sink);
        } else if (type == "response.reasoning_summary_text.delta" || type == "response.reasoning_text.delta") {
            if (!is_open(BlockKind::reasoning)) open(BlockKind::reasoning, {}, {}, f, sink);
            // Summary parts of one item are one block: their texts apart as paragraphs.
            if (f.summary_index != summary_index_ && deltas_ > 0) delta("\"\\n\\n\"", sink);
            summary_index_ = f.summary_index;
            delta(f.delta, sink);
        } else if (type == "response.function_call_arguments.delta") {
            if (is_open(BlockKind::tool_call) && !custom_) delta(f.delta, sink);
        } else if (type == "response.custom_tool_call_input.delta") {
            if (is_open(BlockKind::tool_call) && custom_) input_delta(f.delta, sink);
        } else if (type == "response.output_text.annotation.added") {
            if (is_open(BlockKind::text) && f.has_annotation) cite(f.annotation, sink);
        } else if (type == "response.content_part.done") {
            if (is_open(BlockKind::text)) close(sink);
        } else if (type == "response.output_item.done") {
            item_done(f, sink);
        } else if (type == "response.completed" || type == "response.incomplete") {
            finish(f, type == "response.incomplete", sink);
        } else if (type == "response.failed") {
            if (f.usage.found) usage_ = f.usage;
            usage_.web_searches = searches_;
            error(f.response_error_code, f.response_error_code, f.response_error_message, {}, sink);
        } else if (type == "error") {
            error(f.error_type.empty() ? f.code : f.error_type, f.code, f.message, f.param, sink);
        }
    }

    void end(EventSink& sink) override {
        if (done_) return;
        if (open_) close(sink);
    }

    const Usage& usage() const override { return usage_; }

private:
    bool read_fields(std::string_view data, EventFields& f) {
        Doc doc(data);
        od::document document;
        od::value root;
        if (!doc.open_in_place(parser_, document) || document.get_value().get(root) != SUCCESS) return false;
        return each_field(root, [&](std::string_view key, od::value v) {
            if (key == "type") f.type = doc.string(v);
            else if (key == "delta") f.delta = doc.string(v);
            else if (key == "item_id") f.item_id = doc.string(v);
            else if (key == "summary_index") f.summary_index = int_of(v);
            else if (key == "code") f.code = doc.string(v);
            else if (key == "message") f.message = doc.string(v);
            else if (key == "param") f.param = doc.string(v);
            else if (key == "error") {
                each_field(v, [&](std::string_view k, od::value e) {
                    if (k == "type") f.error_type = doc.string(e);
                    else if (k == "code") f.code = doc.string(e);
                    else if (k == "message") f.message = doc.string(e);
                    else if (k == "param") f.param = doc.string(e);
                    return true;
                });
            } else if (key == "item") {
                each_field(v, [&](std::string_view k, od::value i) {
                    if (k == "type") f.item_type = doc.string(i);
                    else if (k == "id") f.item_id = doc.string(i);
                    else if (k == "call_id") f.item_call_id = doc.string(i);
                    else if (k == "name") f.item_name = doc.string(i);
                    else if (k == "arguments") f.item_arguments = doc.string(i);
                    else if (k == "input") f.item_input = doc.string(i);
                    else if (k == "encrypted_content") f.item_encrypted = doc.string(i);
                    else if (k == "action") read_action(doc, i, f.action);
                    return true;
                });
            } else if (key == "annotation") {
                f.has_annotation = read_annotation(doc, v, f.annotation);
            } else if (key == "response") {
                each_field(v, [&](std::string_view k, od::value r) {
                    if (k == "id") f.response_id = doc.string(r);
                    else if (k == "model") f.model = doc.string(r);
                    else if (k == "created_at") f.created = int_of(r);
                    else if (k == "usage") f.usage = read_usage(doc, r);
                    else if (k == "incomplete_details") {
                        each_field(r, [&](std::string_view d, od::value reason) {
                            if (d == "reason") f.incomplete_reason = doc.string(reason);
                            return true;
                        });
                    } else if (k == "error") {
                        each_field(r, [&](std::string_view e, od::value x) {
                            if (e == "code") f.response_error_code = doc.string(x);
                            else if (e == "message") f.response_error_message = doc.string(x);
                            return true;
                        });
                    }
                    return true;
                });
            }
            return true;
        });
    }

    void emit(EventSink& sink) { sink.on(event_); }

    void reset_event(Event::Kind kind) {
        event_ = Event{};
        event_.kind = kind;
    }

    void start(const EventFields& f, EventSink& sink) {
        if (started_) return;
        started_ = true;
        reset_event(Event::Kind::start);
        event_.id = f.response_id;
        event_.model = f.model;
        event_.created = f.created;
        emit(sink);
    }

    bool is_open(BlockKind kind) const { return open_ && open_kind_ == kind; }

    void open(BlockKind kind, Json id, Json name, const EventFields& f, EventSink& sink) {
        start(f, sink);
        if (open_) close(sink);
        open_ = true;
        open_kind_ = kind;
        deltas_ = 0;
        summary_index_ = 0;
        reset_event(Event::Kind::block_start);
        event_.block = kind;
        event_.index = index_;
        event_.id = id;
        event_.name = name;
        emit(sink);
    }

    void delta(Json text, EventSink& sink) {
        if (text.empty() || text == kEmptyText) return;
        ++deltas_;
        reset_event(Event::Kind::delta);
        event_.block = open_kind_;
        event_.index = index_;
        event_.text = text;
        emit(sink);
    }

    // A custom tool's input, streamed as the arguments {"input":"..."} other dialects expect: each
    // piece of the input string escaped once more, as text inside the arguments string.
    void input_delta(Json piece, EventSink& sink) {
        if (piece.empty() || piece == kEmptyText) return;
        scratch_.clear();
        if (deltas_ == 0) scratch_ += R"("{\"input\":\")";
        else scratch_ += '"';
        const std::size_t at = scratch_.size();
        append_json_string(scratch_, inner(piece));
        scratch_.erase(at, 1);  // the quote the escaping opened; the one it closed ends our piece
        delta(scratch_, sink);
    }

    void close(EventSink& sink) {
        if (!open_) return;
        if (open_kind_ == BlockKind::tool_call && custom_) {
            delta(deltas_ == 0 ? Json(R"("{\"input\":\"\"}")") : Json(R"("\"}")"), sink);
        }
        reset_event(Event::Kind::block_stop);
        event_.block = open_kind_;
        event_.index = index_;
        emit(sink);
        open_ = false;
        custom_ = false;
        ++index_;
    }

    void item_added(const EventFields& f, EventSink& sink) {
        const std::string_view type = inner(f.item_type);
        if (type == "function_call" || type == "custom_tool_call") {
            open(BlockKind::tool_call, f.item_call_id, f.item_name, f, sink);
            custom_ = type == "custom_tool_call";
            saw_tool_call_ = true;
        } else if (type == "reasoning") {
            open(BlockKind::reasoning, f.item_id, {}, f, sink);
        } else if (open_) {
            close(sink);  // a message: its text block opens with its content part
        }
    }

    void item_done(const EventFields& f, EventSink& sink) {
        const std::string_view type = inner(f.item_type);
        if (type == "function_call" && is_open(BlockKind::tool_call) && !custom_) {
            if (deltas_ == 0) delta(f.item_arguments, sink);  // arguments sent whole, not streamed
            close(sink);
        } else if (type == "custom_tool_call" && is_open(BlockKind::tool_call) && custom_) {
            if (deltas_ == 0) input_delta(f.item_input, sink);
            close(sink);
        } else if (type == "reasoning" && is_open(BlockKind::reasoning)) {
            if (f.item_encrypted.size() > 2) {
                reset_event(Event::Kind::signature);
                event_.block = BlockKind::reasoning;
                event_.index = index_;
                event_.text = f.item_encrypted;
                emit(sink);
            }
            close(sink);
        } else if (type == "message" && is_open(BlockKind::text)) {
            close(sink);
        } else if (type == "web_search_call" && f.action.search) {
            search(f, sink);
        }
    }

    // A search, whole at its item's end (its action is known only then): a web_search block whose
    // input is {"query":...}, then the pages found.
    void search(const EventFields& f, EventSink& sink) {
        open(BlockKind::web_search, f.item_id, "\"web_search\"", f, sink);
        std::string object = "{\"query\":";
        object += f.action.query.empty() ? kEmptyText : f.action.query;
        object += '}';
        scratch_.clear();
        json::append_as_string(object, scratch_);
        delta(scratch_, sink);
        close(sink);
        reset_event(Event::Kind::sources);
        event_.block = BlockKind::web_search;
        event_.id = f.item_id;
        event_.sources = &f.action.sources;
        emit(sink);
        ++searches_;
    }

    // The open text cites a page (OpenAI says so after the text it cites).
    void cite(const Annotation& annotation, EventSink& sink) {
        citation_ = {annotation.url, annotation.title, {}};
        reset_event(Event::Kind::citation);
        event_.block = BlockKind::text;
        event_.index = index_;
        event_.citation = &citation_;
        emit(sink);
    }

    void finish(const EventFields& f, bool incomplete, EventSink& sink) {
        start(f, sink);
        if (open_) close(sink);
        if (f.usage.found) usage_ = f.usage;
        usage_.web_searches = searches_;  // billed per search; OpenAI's usage does not count them
        reset_event(Event::Kind::finish);
        if (incomplete) {
            event_.stop = stop_of(Dialect::responses, inner(f.incomplete_reason));
            if (event_.stop == Stop::end_turn || event_.stop == Stop::unknown) event_.stop = Stop::max_tokens;
        } else {
            event_.stop = saw_tool_call_ ? Stop::tool_use : Stop::end_turn;
        }
        event_.usage = usage_;
        emit(sink);
        reset_event(Event::Kind::done);
        emit(sink);
        done_ = true;
    }

    void error(Json type, Json code, Json message, Json param, EventSink& sink) {
        reset_event(Event::Kind::error);
        event_.error.status = 0;
        event_.error.type = type.empty() ? Json("\"server_error\"") : type;
        event_.error.code = code;
        event_.error.message = message;
        event_.error.param = param;
        emit(sink);
        done_ = true;
    }

    od::parser& parser_;
    Event event_;
    Usage usage_;
    std::string scratch_;
    Citation citation_;
    std::int64_t searches_ = 0;
    std::size_t index_ = 0;  // the open block's index, or the next one's
    std::size_t deltas_ = 0;
    std::int64_t summary_index_ = 0;
    BlockKind open_kind_ = BlockKind::text;
    bool open_ = false;
    bool custom_ = false;  // the open tool call is a custom tool's
    bool saw_tool_call_ = false;
    bool started_ = false;
    bool done_ = false;
};

// --- Streams: writing -----------------------------------------------------------------------

// The query of a web search whose input came in pieces (the escaped text of {"query":"..."}),
// as a string literal; "" when there is none.
std::string query_of(std::string_view input) {
    std::string literal = "\"";
    literal += input;
    literal += '"';
    std::string object;
    if (!json::string_to_object(literal, object)) return std::string(kEmptyText);
    thread_local od::parser parser;
    const simdjson::padded_string padded(object);
    od::document document;
    od::value query;
    std::string_view raw;
    if (parser.iterate(padded).get(document) != SUCCESS || document["query"].get(query) != SUCCESS ||
        json::raw(query).get(raw) != SUCCESS || !raw.starts_with('"')) {
        return std::string(kEmptyText);
    }
    return std::string(raw);
}

// The stream's grammar, as the protocol names its stages.
enum class Phase : std::uint8_t {
    before_created,  // nothing sent yet
    in_progress,     // response.created sent, no output item open
    output_item,     // an output item is open (its deltas flowing)
    over,            // response.completed / incomplete / failed sent
};

class Writer final : public StreamWriter {
public:
    explicit Writer(const AnswerOptions& options) : options_(options) {
        items_.reserve(4);  // an answer's items: a message, often reasoning or a tool call or two
    }

    void write(const Event& event, std::string& out) override {
        if (phase_ == Phase::over) return;
        switch (event.kind) {
            case Event::Kind::start: created(event, out); break;
            case Event::Kind::block_start: item_added(event, out); break;
            case Event::Kind::delta:
                if (phase_ == Phase::output_item && current().kind == ItemKind::web_search_call) {
                    search_input_ += inner(event.text);  // pieces of {"query":...}
                } else {
                    delta(event.text, out);
                }
                break;
            case Event::Kind::signature:
                if (phase_ == Phase::output_item) current().signature.assign(event.text);
                break;
            case Event::Kind::block_stop: block_done(out); break;
            case Event::Kind::sources: search_results(event, out); break;
            case Event::Kind::citation:
                if (phase_ == Phase::output_item && current().kind == ItemKind::message && event.citation != nullptr) {
                    // Kept as text: the event's views end with the call.
                    citations_.emplace_back(event.citation->url, event.citation->title);
                }
                break;
            case Event::Kind::finish:
                stop_ = event.stop;
                if (event.usage.found) usage_ = event.usage;
                close_search(out);
                if (phase_ == Phase::output_item) item_done(out);
                break;
            case Event::Kind::usage:
                if (event.usage.found) usage_ = event.usage;
                break;
            case Event::Kind::error: fail(event.error, out); break;
            case Event::Kind::done: completed(out); break;
        }
    }

    void fail(const Error& error, std::string& out) override {
        if (phase_ == Phase::over) return;
        if (phase_ == Phase::before_created) created(Event{}, out);
        close_search(out);
        if (phase_ == Phase::output_item) item_done(out);
        ResponseHead head = head_of(Status::failed);
        head.error = &error;
        json::Writer w = begin("response.failed", out);
        w.key("response");
        write_response_object(w, head, items_.data(), count_, usage_.found ? &usage_ : nullptr);
        end(w);
        phase_ = Phase::over;
    }

    void keepalive(std::string& out) override { out += keepalive_event(Dialect::responses); }

private:
    OutputItem& current() { return items_[count_ - 1]; }
    std::size_t output_index() const { return count_ - 1; }

    // Every event: its `event:` line, and its data with the same `type` and the next
    // sequence_number (the SDKs check both).
    json::Writer begin(std::string_view type, std::string& out) {
        out += "event: ";
        out += type;
        out += "\ndata: ";
        json::Writer w(out);
        w.object().field_text("type", type).key("sequence_number").number(sequence_++);
        return w;
    }
    static void end(json::Writer& w) {
        w.end_object();
        w.out() += "\n\n";
    }

    ResponseHead head_of(Status status) const {
        ResponseHead head;
        head.id = response_id_;
        head.model = model_;
        head.created = created_;
        head.status = status;
        head.stop = stop_;
        return head;
    }

    void created(const Event& event, std::string& out) {
        if (phase_ != Phase::before_created) return;
        // The answer's id as OpenAI's (resp_...): another dialect's (chatcmpl-..., msg_...) is not
        // kept, as the other writers make their own.
        if (!event.id.empty() && json::text_of(event.id).starts_with("resp_")) response_id_ = json::text_of(event.id);
        if (response_id_.empty()) response_id_ = json::make_id("resp_", options_.id_seed, 0);
        if (!event.model.empty()) {
            model_.assign(event.model);
        } else {
            append_json_string(model_, options_.model);
        }
        created_ = event.created != 0 ? event.created : options_.now;
        // Item ids share the response's: unique with it, and one hash a stream instead of two.
        id_base_.assign(std::string_view(response_id_).substr(response_id_.starts_with("resp_") ? 5 : 0));
        // response.in_progress carries the same object as response.created: written once, copied.
        std::size_t object_at = 0;
        {
            json::Writer w = begin("response.created", out);
            w.key("response");
            object_at = out.size();
            write_response_object(w, head_of(Status::in_progress), nullptr, 0, nullptr);
            end(w);
        }
        const std::size_t object_size = out.size() - object_at;  // with its "}\n\n"
        json::Writer w = begin("response.in_progress", out);
        w.key("response");
        out.reserve(out.size() + object_size);  // no reallocation while out copies from itself
        out.append(out, object_at, object_size);
        phase_ = Phase::in_progress;
    }

    // The next output item, its strings reused from an earlier answer's.
    OutputItem& next_item(ItemKind kind, std::string_view prefix) {
        if (count_ == items_.size()) items_.emplace_back();
        OutputItem& item = items_[count_++];
        item.kind = kind;
        item.id.assign(prefix);
        item.id += id_base_;
        item.id += '_';
        char digits[24];
        const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, count_ - 1);
        (void)ec;
        item.id.append(digits, end);
        item.call_id.clear();
        item.name.clear();
        item.body.reserve(512);  // a sentence, or a tool call's arguments, without growing step by step
        item.body.assign(1, '"');  // open while deltas come: item_done() closes the literal
        item.signature.clear();
        item.ns.clear();
        item.annotations.clear();
        item.sources.clear();
        item.complete = false;
        return item;
    }

    void item_added(const Event& event, std::string& out) {
        if (phase_ == Phase::before_created) created(Event{}, out);
        close_search(out);
        if (event.block == BlockKind::text && phase_ == Phase::output_item && current().kind == ItemKind::message) {
            // Text blocks in a row (Anthropic puts each cited passage in a block of its own) are
            // one message, as OpenAI writes it; the block's citations are placed from here.
            segment_start_ = current().body.size();
            return;
        }
        if (phase_ == Phase::output_item) item_done(out);
        switch (event.block) {
            case BlockKind::text:
                next_item(ItemKind::message, "msg_");
                segment_start_ = 1;  // after the literal's opening quote
                break;
            case BlockKind::web_search: {
                next_item(ItemKind::web_search_call, "ws_");
                search_input_.clear();
                phase_ = Phase::output_item;
                {
                    json::Writer w = begin("response.output_item.added", out);
                    w.key("output_index").number(static_cast<std::int64_t>(output_index())).key("item");
                    write_item(w, current(), false);
                    end(w);
                }
                search_event("response.web_search_call.in_progress", out);
                return;
            }
            case BlockKind::reasoning: next_item(ItemKind::reasoning, "rs_"); break;
            case BlockKind::tool_call: {
                const bool custom = is_custom_tool(options_.request, event.name);
                OutputItem& item = next_item(custom ? ItemKind::custom_tool_call : ItemKind::function_call,
                                             custom ? "ctc_" : "fc_");
                if (!event.id.empty()) {
                    item.call_id.assign(event.id);
                } else {
                    item.call_id = "\"call_";
                    item.call_id += id_base_;
                    item.call_id += '_';
                    item.call_id += item.id.substr(item.id.rfind('_') + 1);
                    item.call_id += '"';
                }
                item.name.assign(event.name.empty() ? kEmptyText : event.name);
                if (!custom) item.ns = namespace_of(options_.request, event.name);
                break;
            }
        }
        phase_ = Phase::output_item;
        const OutputItem& item = current();
        prepare_deltas(item);
        {
            json::Writer w = begin("response.output_item.added", out);
            w.key("output_index").number(static_cast<std::int64_t>(output_index())).key("item");
            write_item(w, item, false);
            end(w);
        }
        if (item.kind == ItemKind::message) {
            json::Writer w = begin("response.content_part.added", out);
            item_ref(w).key("content_index").number(0).key("part");
            write_text_part(w, kEmptyText);
            end(w);
        } else if (item.kind == ItemKind::reasoning) {
            json::Writer w = begin("response.reasoning_summary_part.added", out);
            item_ref(w).key("summary_index").number(0).key("part");
            write_summary_part(w, kEmptyText);
            end(w);
        }
    }

    json::Writer& item_ref(json::Writer& w) {
        w.field_text("item_id", current().id).key("output_index").number(static_cast<std::int64_t>(output_index()));
        return w;
    }

    // The current item's delta events, all but their sequence number and text, written once per
    // item (an event per delta is then four appends): output_text, reasoning_summary_text or
    // function_call_arguments. A custom tool call's input is unwrapped whole when the call ends.
    void prepare_deltas(const OutputItem& item) {
        std::string_view type, index, tail = "}\n\n";
        switch (item.kind) {
            case ItemKind::message:
                type = "response.output_text.delta", index = R"(,"content_index":0)";
                tail = ",\"logprobs\":[]}\n\n";
                break;
            case ItemKind::reasoning: type = "response.reasoning_summary_text.delta", index = R"(,"summary_index":0)"; break;
            case ItemKind::function_call: type = "response.function_call_arguments.delta"; break;
            case ItemKind::custom_tool_call:
            case ItemKind::web_search_call: return;
        }
        delta_head_.assign("event: ").append(type).append("\ndata: {\"type\":\"").append(type);
        delta_head_ += R"(","sequence_number":)";
        delta_mid_.assign(R"(,"item_id":)");
        append_json_string(delta_mid_, item.id);
        delta_mid_ += R"(,"output_index":)";
        json::Writer(delta_mid_).number(static_cast<std::int64_t>(output_index()));
        delta_mid_.append(index).append(R"(,"delta":)");
        delta_tail_ = tail;
    }

    void delta(Json text, std::string& out) {
        if (phase_ != Phase::output_item || text.size() < 2) return;
        OutputItem& item = current();
        item.body += inner(text);  // the literal is still open
        if (item.kind == ItemKind::custom_tool_call) return;  // unwrapped whole when the call ends
        out += delta_head_;
        char digits[24];
        const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, sequence_++);
        (void)ec;
        out.append(digits, end);
        out += delta_mid_;
        out += text;
        out += delta_tail_;
    }

    // The end of a block: a text block's citations become annotations, its message staying open
    // for text that may follow; a web search waits for its results; other items are done.
    void block_done(std::string& out) {
        if (phase_ != Phase::output_item) return;
        OutputItem& item = current();
        if (item.kind == ItemKind::message) {
            annotate(item, out);
        } else if (item.kind == ItemKind::web_search_call) {
            search_stopped(out);
        } else {
            item_done(out);
        }
    }

    void annotate(OutputItem& item, std::string& out) {
        if (citations_.empty()) return;
        const std::string_view text = std::string_view(item.body).substr(1);  // the open literal's text
        const std::size_t start = chars_of(text.substr(0, segment_start_ - 1));
        const std::size_t length = chars_of(text.substr(segment_start_ - 1));
        for (const auto& [url, title] : citations_) {
            const std::size_t at = item.annotations.size();
            add_annotations(item.annotations, {Citation{url, title, {}}}, start, length);
            json::Writer w = begin("response.output_text.annotation.added", out);
            item_ref(w).key("content_index").number(0).key("annotation_index").number(annotation_count_++);
            w.key("annotation").raw(std::string_view(item.annotations).substr(at + 1));
            end(w);
        }
        citations_.clear();
    }

    void search_event(std::string_view type, std::string& out) {
        json::Writer w = begin(type, out);
        w.key("output_index").number(static_cast<std::int64_t>(output_index())).field_text("item_id", current().id);
        end(w);
    }

    // The search's input is whole: its query is the item's; the results come next.
    void search_stopped(std::string& out) {
        OutputItem& item = current();
        item.body = query_of(search_input_);
        search_event("response.web_search_call.searching", out);
        phase_ = Phase::in_progress;
        search_pending_ = true;
    }

    void search_results(const Event& event, std::string& out) {
        if (!search_pending_ || event.sources == nullptr) return;
        add_sources(current().sources, *event.sources);
        close_search(out);
    }

    void close_search(std::string& out) {
        if (!search_pending_) return;
        search_pending_ = false;
        OutputItem& item = current();
        if (!item.sources.empty()) closed_array(item.sources);
        search_event("response.web_search_call.completed", out);
        item.complete = true;
        json::Writer w = begin("response.output_item.done", out);
        w.key("output_index").number(static_cast<std::int64_t>(output_index())).key("item");
        write_item(w, item, true);
        end(w);
    }

    void item_done(std::string& out) {
        if (phase_ != Phase::output_item) return;
        OutputItem& item = current();
        if (item.kind == ItemKind::message) annotate(item, out);
        item.body += '"';  // the text is whole
        switch (item.kind) {
            case ItemKind::message: {
                if (!item.annotations.empty()) closed_array(item.annotations);
                annotation_count_ = 0;
                {
                    json::Writer w = begin("response.output_text.done", out);
                    item_ref(w).key("content_index").number(0).field("text", item.body);
                    w.key("logprobs").array().end_array();
                    end(w);
                }
                json::Writer w = begin("response.content_part.done", out);
                item_ref(w).key("content_index").number(0).key("part");
                write_text_part(w, item.body, item.annotations);
                end(w);
                break;
            }
            case ItemKind::web_search_call: break;  // (closed by close_search)
            case ItemKind::reasoning: {
                {
                    json::Writer w = begin("response.reasoning_summary_text.done", out);
                    item_ref(w).key("summary_index").number(0).field("text", item.body);
                    end(w);
                }
                json::Writer w = begin("response.reasoning_summary_part.done", out);
                item_ref(w).key("summary_index").number(0).key("part");
                write_summary_part(w, item.body);
                end(w);
                break;
            }
            case ItemKind::function_call: {
                json::Writer w = begin("response.function_call_arguments.done", out);
                item_ref(w).field("name", item.name).field("arguments", item.body);
                end(w);
                break;
            }
            case ItemKind::custom_tool_call: {
                unwrap_input(item.body, scratch_);
                item.body.swap(scratch_);
                {
                    json::Writer w = begin("response.custom_tool_call_input.delta", out);
                    item_ref(w).field("delta", item.body);
                    end(w);
                }
                json::Writer w = begin("response.custom_tool_call_input.done", out);
                item_ref(w).field("input", item.body);
                end(w);
                break;
            }
        }
        item.complete = true;
        json::Writer w = begin("response.output_item.done", out);
        w.key("output_index").number(static_cast<std::int64_t>(output_index())).key("item");
        write_item(w, item, true);
        end(w);
        phase_ = Phase::in_progress;
    }

    void completed(std::string& out) {
        if (phase_ == Phase::before_created) created(Event{}, out);
        close_search(out);
        if (phase_ == Phase::output_item) item_done(out);
        const Status status = status_of(stop_);
        json::Writer w = begin(status == Status::completed ? "response.completed" : "response.incomplete", out);
        w.key("response");
        write_response_object(w, head_of(status), items_.data(), count_, &usage_);
        end(w);
        phase_ = Phase::over;
    }

    const AnswerOptions options_;  // a copy: the caller's may be gone (what it views may not)
    Phase phase_ = Phase::before_created;
    std::int64_t sequence_ = 0;
    std::string response_id_;
    std::string model_;  // a string literal
    std::string id_base_;
    std::int64_t created_ = 0;
    std::vector<OutputItem> items_;
    std::size_t count_ = 0;  // items_ in use in this answer
    std::string delta_head_, delta_mid_;  // see prepare_deltas()
    std::string_view delta_tail_;
    std::string scratch_;
    Stop stop_ = Stop::unknown;
    Usage usage_;
    // Web search and citations (Anthropic's answers): the open search's input, whether a search
    // awaits its results, the open text block's citations (their text kept), where that block
    // began in the message's literal, and the message's annotations so far.
    std::string search_input_;
    bool search_pending_ = false;
    std::vector<std::pair<std::string, std::string>> citations_;  // url and title literals
    std::size_t segment_start_ = 1;
    std::int64_t annotation_count_ = 0;
};

// --- Whole answers: reading -----------------------------------------------------------------

class ResponseReader {
public:
    ResponseReader(const Doc& doc, Response& out) : doc_(doc), out_(out) {}

    bool read(od::value root) {
        bool is_response = false, failed = false, tool_call = false;
        Json status, reason;
        const bool ok = each_field(root, [&](std::string_view key, od::value v) {
            if (key == "id") out_.id = doc_.string(v);
            else if (key == "object") is_response = json::is(doc_.string(v), "response");
            else if (key == "model") out_.model = doc_.string(v);
            else if (key == "created_at") out_.created = int_of(v);
            else if (key == "status") status = doc_.string(v);
            else if (key == "usage") out_.usage = read_usage(doc_, v);
            else if (key == "error") failed = !doc_.raw(v).empty();
            else if (key == "incomplete_details") {
                each_field(v, [&](std::string_view k, od::value r) {
                    if (k == "reason") reason = doc_.string(r);
                    return true;
                });
            } else if (key == "output") {
                is_response = true;
                return each_element(v, [&](od::value item) { return output_item(item, tool_call); });
            }
            return true;
        });
        if (!ok || !is_response || failed || json::is(status, "failed")) return false;
        out_.usage.web_searches = searches_;
        name_sources();
        if (json::is(status, "incomplete")) {
            out_.stop = stop_of(Dialect::responses, inner(reason));
            if (out_.stop == Stop::end_turn || out_.stop == Stop::unknown) out_.stop = Stop::max_tokens;
        } else {
            out_.stop = tool_call ? Stop::tool_use : Stop::end_turn;
        }
        return true;
    }

private:
    bool output_item(od::value value, bool& tool_call) {
        Json type, id, call_id, name, arguments, input, encrypted, text;
        SearchAction action;
        const bool ok = each_field(value, [&](std::string_view key, od::value v) {
            if (key == "type") type = doc_.string(v);
            else if (key == "id") id = doc_.string(v);
            else if (key == "call_id") call_id = doc_.string(v);
            else if (key == "name") name = doc_.string(v);
            else if (key == "arguments") arguments = doc_.string(v);
            else if (key == "input") input = doc_.string(v);
            else if (key == "encrypted_content") encrypted = doc_.string(v);
            else if (key == "action") read_action(doc_, v, action);
            else if (key == "content" || key == "summary") {
                // A message's output_text / refusal parts (with the pages the text cites); a
                // reasoning item's summary (and llama-server's reasoning_text content): texts, in order.
                const bool message = key == "content";
                return each_element(v, [&](od::value part) {
                    Json piece;
                    notes_.clear();
                    each_field(part, [&](std::string_view k, od::value t) {
                        if (k == "text" || k == "refusal") {
                            piece = doc_.string(t);
                        } else if (k == "annotations" && message) {
                            each_element(t, [&](od::value note) {
                                Annotation annotation;
                                if (read_annotation(doc_, note, annotation)) notes_.push_back(annotation);
                                return true;
                            });
                        }
                        return true;
                    });
                    if (piece.empty()) return true;
                    if (message && !notes_.empty()) {
                        add_cited_text(piece, notes_, out_.arena, pending_text_);
                    } else if (message) {
                        Part part_out;
                        part_out.text = piece;
                        pending_text_.push_back(part_out);
                    } else {
                        text = json::join(text, "\n\n", piece, out_.arena);
                    }
                    return true;
                });
            }
            return true;
        });
        if (!ok) return false;
        const std::string_view kind = inner(type);
        if (kind == "message") {
            for (auto& part : pending_text_) out_.content.push_back(std::move(part));
        } else if (kind == "reasoning") {
            Part part;
            part.kind = PartKind::reasoning;
            part.item_id = id;
            part.text = text;
            part.signature = encrypted;
            out_.content.push_back(std::move(part));
        } else if (kind == "function_call" || kind == "custom_tool_call") {
            Part part;
            part.kind = PartKind::tool_call;
            part.id = call_id;
            part.name = name;
            part.arguments = kind == "function_call" ? (arguments.empty() ? Json("\"{}\"") : arguments)
                                                     : wrap_input(input, out_.arena);
            out_.content.push_back(std::move(part));
            tool_call = true;
        } else if (kind == "web_search_call" && action.search) {
            Part part;
            part.kind = PartKind::web_search;
            part.id = id;
            part.text = action.query;
            part.sources = std::move(action.sources);
            out_.content.push_back(std::move(part));
            ++searches_;
        }
        pending_text_.clear();
        return true;
    }

    // OpenAI's sources have no titles; a page the text cites has its title there.
    void name_sources() {
        for (auto& search : out_.content) {
            if (search.kind != PartKind::web_search) continue;
            for (auto& page : search.sources) {
                for (const auto& text : out_.content) {
                    for (const auto& citation : text.citations) {
                        if (page.title.empty() && citation.url == page.url) page.title = citation.title;
                    }
                }
            }
        }
    }

    const Doc& doc_;
    Response& out_;
    std::vector<Part> pending_text_;
    std::vector<Annotation> notes_;
    std::int64_t searches_ = 0;
};

bool is_openai_type(std::string_view type) {
    return !is_anthropic_error_type(type) || openai_error_type(status_of_error_type(type)) == type;
}

}  // namespace

// --- The dialect's functions ----------------------------------------------------------------

std::optional<ApiError> read_request(std::string_view body, Request& out) {
    thread_local od::parser parser;
    Doc doc(body);
    od::document document;
    od::value root;
    if (!doc.open(parser, document) || document.get_value().get(root) != SUCCESS) {
        return ApiError::invalid_request("The request body is not valid JSON.");
    }
    return RequestReader(doc, out).read(root);
}

std::optional<ApiError> write_request(const Request& request, const WriteOptions& options, std::string& out) {
    if (auto error = check_writable(request)) return error;
    Arena arena;
    json::Writer w(out);
    w.object().field_text("model", options.model);
    Json instructions;
    for (const auto& part : request.system) {
        if (part.kind == PartKind::text) instructions = json::join(instructions, "\n\n", part.text, arena);
    }
    w.field("instructions", instructions);
    w.key("input").array();
    InputWriter input(request, w);
    for (const auto& message : request.messages) input.message(message);
    w.end_array();
    if (!request.tools.empty()) {
        w.key("tools").array();
        for (const auto& tool : request.tools) {
            if (tool.web_search) {
                w.object().field_text("type", "web_search");
                if (!tool.allowed_domains.empty()) {
                    w.key("filters").object().field("allowed_domains", tool.allowed_domains).end_object();
                }
                w.field("user_location", tool.user_location).field("search_context_size", tool.search_context_size);
                w.end_object();
                continue;
            }
            w.object().field_text("type", tool.custom ? "custom" : "function").field("name", tool.name);
            w.field("description", tool.description);
            if (tool.custom) {
                w.field("format", tool.format);
            } else {
                w.field("parameters", tool.parameters.empty() ? Json(R"({"type":"object","properties":{}})")
                                                              : tool.parameters);
                if (tool.strict) w.key("strict").boolean(*tool.strict);
            }
            w.end_object();
        }
        w.end_array();
    }
    const auto& choice = request.tool_choice;
    switch (choice.mode) {
        case ToolChoice::Mode::unset: break;
        case ToolChoice::Mode::auto_: w.field_text("tool_choice", "auto"); break;
        case ToolChoice::Mode::none: w.field_text("tool_choice", "none"); break;
        case ToolChoice::Mode::required: w.field_text("tool_choice", "required"); break;
        case ToolChoice::Mode::named: {
            const auto search = std::find_if(request.tools.begin(), request.tools.end(), [&](const Tool& tool) {
                return tool.web_search && tool.name == choice.name;
            });
            if (search != request.tools.end()) {
                // The web search forced (Claude Code's WebSearch tool asks Anthropic so): OpenAI's
                // hosted tool is not a function to name; the one tool required, or the only one allowed.
                if (request.tools.size() == 1) {
                    w.field_text("tool_choice", "required");
                } else {
                    w.key("tool_choice").object().field_text("type", "allowed_tools").field_text("mode", "required");
                    w.key("tools").array().object().field_text("type", "web_search").end_object().end_array().end_object();
                }
                break;
            }
            w.key("tool_choice").object().field_text("type", is_custom_tool(&request, choice.name) ? "custom" : "function");
            w.field("name", choice.name).end_object();
            break;
        }
    }
    if (choice.parallel) w.key("parallel_tool_calls").boolean(*choice.parallel);
    if (request.max_tokens) w.key("max_output_tokens").number(*request.max_tokens);
    w.field("temperature", request.temperature).field("top_p", request.top_p);
    if (request.format.kind != Format::Kind::text) {
        const auto& format = request.format;
        w.key("text").object().key("format").object();
        if (format.kind == Format::Kind::json_object) {
            w.field_text("type", "json_object");
        } else {
            w.field_text("type", "json_schema").field("name", format.name.empty() ? Json("\"response\"") : format.name);
            w.field("schema", format.schema);
            if (format.strict) w.key("strict").boolean(*format.strict);
        }
        w.end_object().end_object();
    }
    const auto& reasoning = request.reasoning;
    if (reasoning.enabled) {
        Json effort = reasoning.effort;
        if (effort.empty()) effort = reasoning.budget ? effort_of_budget(*reasoning.budget) : Json("\"medium\"");
        w.key("reasoning").object().field("effort", effort);
        // A caller of another dialect that asked for thinking sees it as the summary.
        if (reasoning.summary || reasoning.budget) w.field_text("summary", "auto");
        w.end_object();
    }
    // Stateless: the reasoning comes back encrypted, to be sent with the next turn. A web search's
    // pages come only when asked for (a caller of another dialect gets them as search results).
    const bool searches = request.offers_web_search();
    if (reasoning.enabled || searches) {
        w.key("include").array();
        if (reasoning.enabled) w.text("reasoning.encrypted_content");
        if (searches) w.text("web_search_call.action.sources");
        w.end_array();
    }
    w.field("user", request.user).field("prompt_cache_key", request.cache_key);
    w.key("store").boolean(false);  // the gateway is stateless toward its upstreams
    w.key("stream").boolean(request.stream);
    w.end_object();
    return std::nullopt;
}

bool read_response(std::string_view body, Response& out) {
    thread_local od::parser parser;
    Doc doc(body);
    od::document document;
    od::value root;
    if (!doc.open(parser, document) || document.get_value().get(root) != SUCCESS) return false;
    return ResponseReader(doc, out).read(root);
}

void write_response(const Response& response, const AnswerOptions& options, std::string& out) {
    std::vector<OutputItem> items;
    std::size_t n = 0;
    std::size_t text_so_far = 0;  // characters in the message being merged (its annotations' offsets)
    for (const auto& part : response.content) {
        if (part.kind == PartKind::text && !items.empty() && items.back().kind == ItemKind::message) {
            // Text blocks in a row (Anthropic splits cited text into blocks of its own) are one
            // message, as OpenAI writes them: the texts joined, the citations at their offsets.
            OutputItem& message = items.back();
            const std::size_t length = text_length(part.text);
            add_annotations(message.annotations, part.citations, text_so_far, length);
            message.body.pop_back();  // the closing quote
            message.body += inner(part.text);
            message.body += '"';
            text_so_far += length;
            continue;
        }
        OutputItem item;
        item.complete = true;
        switch (part.kind) {
            case PartKind::text:
                item.kind = ItemKind::message;
                item.id = json::make_id("msg_", options.id_seed, n);
                item.body.assign(part.text.empty() ? kEmptyText : part.text);
                text_so_far = text_length(item.body);
                add_annotations(item.annotations, part.citations, 0, text_so_far);
                break;
            case PartKind::web_search:
                item.kind = ItemKind::web_search_call;
                item.id = json::make_id("ws_", options.id_seed, n);
                item.body.assign(part.text);
                add_sources(item.sources, part.sources);
                break;
            case PartKind::reasoning:
                if (part.text.empty() && part.signature.empty()) continue;  // redacted: nothing to show
                item.kind = ItemKind::reasoning;
                item.id = !part.item_id.empty() ? json::text_of(part.item_id) : json::make_id("rs_", options.id_seed, n);
                item.body.assign(part.text.empty() ? kEmptyText : part.text);
                item.signature.assign(part.signature);
                break;
            case PartKind::tool_call:
                item.call_id.assign(part.id.empty() ? Json("\"\"") : part.id);
                item.name.assign(part.name);
                if (is_custom_tool(options.request, part.name)) {
                    item.kind = ItemKind::custom_tool_call;
                    item.id = json::make_id("ctc_", options.id_seed, n);
                    unwrap_input(part.arguments, item.body);
                } else {
                    item.kind = ItemKind::function_call;
                    item.id = json::make_id("fc_", options.id_seed, n);
                    item.ns = namespace_of(options.request, part.name);
                    item.body.assign(part.arguments.empty() ? Json("\"{}\"") : part.arguments);
                }
                break;
            default: continue;
        }
        items.push_back(std::move(item));
        ++n;
    }
    for (auto& item : items) {
        if (!item.annotations.empty()) closed_array(item.annotations);
        if (!item.sources.empty()) closed_array(item.sources);
    }
    std::string model;
    if (response.model.empty()) append_json_string(model, options.model);
    ResponseHead head;
    std::string id = response.id.empty() ? std::string() : json::text_of(response.id);
    if (!id.starts_with("resp_")) id = json::make_id("resp_", options.id_seed, 0);  // (as the stream's)
    head.id = id;
    head.model = response.model.empty() ? Json(model) : response.model;
    head.created = response.created != 0 ? response.created : options.now;
    head.stop = response.stop;
    head.status = status_of(response.stop);
    json::Writer w(out);
    write_response_object(w, head, items.data(), items.size(), &response.usage);
}

bool read_error(std::string_view body, int status, Error& out) {
    thread_local od::parser parser;
    Doc doc(body);
    od::document document;
    od::value root;
    if (!doc.open(parser, document) || document.get_value().get(root) != SUCCESS) return false;
    bool found = false;
    each_field(root, [&](std::string_view key, od::value v) {
        if (key != "error") return true;
        if (is_type(v, od::json_type::string)) {  // {"error":"..."} from some OpenAI-compatible servers
            out.message = doc.string(v);
            found = true;
            return true;
        }
        each_field(v, [&](std::string_view k, od::value e) {
            if (k == "message") out.message = doc.string(e);
            else if (k == "type") out.type = doc.string(e);
            else if (k == "code") out.code = doc.raw(e);
            else if (k == "param") out.param = doc.raw(e);
            return true;
        });
        found = !out.message.empty();
        return true;
    });
    if (found) out.status = status;
    return found;
}

void write_error(const Error& error, std::string& out) {
    json::Writer w(out);
    w.object().key("error").object().field("message", error.message.empty() ? kEmptyText : error.message);
    const std::string type = json::text_of(error.type);
    if (!type.empty() && is_openai_type(type)) {
        w.field("type", error.type);
    } else {
        const int status = error.status != 0 ? error.status : status_of_error_type(type);
        w.field_text("type", error_type(Dialect::responses, status));
    }
    w.key("param");
    if (error.param.empty()) w.null();
    else w.raw(error.param);
    w.key("code");
    if (error.code.empty()) w.null();
    else w.raw(error.code);
    w.end_object().end_object();
}

std::unique_ptr<StreamReader> make_reader(simdjson::ondemand::parser& parser) { return std::make_unique<Reader>(parser); }

std::unique_ptr<StreamWriter> make_writer(const AnswerOptions& options) { return std::make_unique<Writer>(options); }

}  // namespace switchyard::translate::responses
