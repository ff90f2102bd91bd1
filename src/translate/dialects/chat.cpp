// Stage "translate", the OpenAI Chat Completions dialect: chat request bodies, chat.completion
// answers, OpenAI errors and chat.completion.chunk streams, to and from the common form (ir.hpp).
// Reads what OpenAI, llama-server, vLLM and Ollama send (reasoning_content, top_k, bare errors).
#include <algorithm>
#include <deque>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "translate/dialects/dialects.hpp"
#include "translate/json.hpp"

namespace switchyard::translate::chat {
namespace {

namespace od = simdjson::ondemand;

// --- On-Demand helpers: values are walked once, in the order they stand; raw views are kept ------

using json::each_element;
using json::each_field;

od::json_type type_of(od::value value) {
    od::json_type type = od::json_type::null;
    (void)value.type().get(type);
    return type;
}

// The raw JSON of `value`; empty for null (an absent field and a null one mean the same here).
Json raw_of(od::value value) {
    if (type_of(value) == od::json_type::null) return {};
    std::string_view text;
    if (json::raw(value).get(text) != simdjson::SUCCESS) return {};
    return text;
}

Json string_of(od::value value) { return type_of(value) == od::json_type::string ? raw_of(value) : Json{}; }

std::optional<std::int64_t> int_of(od::value value) {
    std::int64_t number = 0;
    if (value.get_int64().get(number) != simdjson::SUCCESS) return std::nullopt;
    return number;
}

// A word literal's letters ("stop" of "\"stop\""): finish reasons and roles have no escapes.
std::string_view word_of(Json literal) {
    return literal.size() >= 2 && literal.front() == '"' ? literal.substr(1, literal.size() - 2) : std::string_view{};
}

bool empty_text(Json literal) { return literal.empty() || literal == "\"\""; }

// `body` copied into `arena` with the padding simdjson reads past a document's end; the request
// or response views its values there.
Json padded_copy(std::string_view body, Arena& arena) {
    std::string copy;
    copy.reserve(body.size() + simdjson::SIMDJSON_PADDING);
    copy.assign(body.data(), body.size());
    return arena.keep(std::move(copy));
}

Json literal_in(Arena& arena, std::string_view plain) {
    std::string literal;
    append_json_string(literal, plain);
    return arena.keep(std::move(literal));
}

bool read_usage(od::value value, Usage& usage) {
    if (type_of(value) != od::json_type::object) return false;
    Usage read;
    const bool ok = each_field(value, [&](std::string_view key, od::value v) {
        if (key == "prompt_tokens") {
            read.input = int_of(v).value_or(0);
            read.found = true;
        } else if (key == "completion_tokens") {
            read.output = int_of(v).value_or(0);
            read.found = true;
        } else if (key == "prompt_tokens_details" && type_of(v) == od::json_type::object) {
            return each_field(v, [&](std::string_view k, od::value d) {
                if (k == "cached_tokens") read.cached = int_of(d).value_or(0);
                return true;
            });
        } else if (key == "completion_tokens_details" && type_of(v) == od::json_type::object) {
            return each_field(v, [&](std::string_view k, od::value d) {
                if (k == "reasoning_tokens") read.reasoning = int_of(d).value_or(0);
                return true;
            });
        }
        return true;
    });
    if (!ok || !read.found) return false;
    usage = read;
    return true;
}

// Chat's usage object from the common form's (prompt_tokens counts every prompt token, as `input`).
void write_usage(json::Writer& w, const Usage& usage) {
    w.key("usage").object();
    w.key("prompt_tokens").number(usage.input);
    w.key("completion_tokens").number(usage.output);
    w.key("total_tokens").number(usage.input + usage.output);
    w.key("prompt_tokens_details").object().key("cached_tokens").number(usage.cached).end_object();
    w.key("completion_tokens_details").object().key("reasoning_tokens").number(usage.reasoning).end_object();
    w.end_object();
}

// A tool call being read: a message's tool_calls[i], a response's, or a stream delta's; or a
// legacy function_call.
struct CallFields {
    std::int64_t index = 0;
    Json id, name, arguments;
};

bool read_call(od::value value, CallFields& call) {
    return each_field(value, [&](std::string_view key, od::value v) {
        if (key == "index") {
            call.index = int_of(v).value_or(0);
        } else if (key == "id") {
            call.id = string_of(v);
        } else if (key == "name") {
            call.name = string_of(v);  // the legacy function_call: {name, arguments}
        } else if (key == "arguments") {
            call.arguments = raw_of(v);
        } else if (key == "function") {
            return type_of(v) != od::json_type::object || each_field(v, [&](std::string_view k, od::value f) {
                       if (k == "name") call.name = string_of(f);
                       if (k == "arguments") call.arguments = raw_of(f);
                       return true;
                   });
        }
        return true;
    });
}

// Text literals joined into one literal, `separator` (escaped already) between their texts: their
// bytes are copied as they stand, without unescaping.
std::string joined_literal(const std::vector<const Part*>& parts, std::string_view separator) {
    std::string joined = "\"";
    bool first = true;
    for (const Part* part : parts) {
        if (part->text.size() < 2) continue;
        if (!first) joined += separator;
        joined += part->text.substr(1, part->text.size() - 2);
        first = false;
    }
    joined += '"';
    return joined;
}

// --- Requests: reading ---------------------------------------------------------------------------

// Request fields the common form does not carry. `harmless` is the value that asks for nothing
// (n: 1); any other value of a field that changes meaning is refused by the writer of another
// dialect. Fields in neither this table nor read_request's are dropped.
struct UnmappedField {
    std::string_view name;
    std::string_view harmless;
    bool changes_meaning;
};

constexpr std::array<UnmappedField, 19> kUnmappedFields{{
    {"n", "1", true},
    {"logprobs", "false", true},
    {"top_logprobs", "0", true},
    {"logit_bias", "{}", true},
    {"presence_penalty", "0", true},
    {"frequency_penalty", "0", true},
    {"modalities", "", true},
    {"audio", "", true},
    {"prediction", "", false},  // a latency hint
    {"verbosity", "", false},
    {"service_tier", "", false},
    {"store", "", false},
    {"metadata", "", false},
    {"safety_identifier", "", false},
    // llama-server's and vLLM's own sampling and grammar fields
    {"min_p", "", true},
    {"typical_p", "", true},
    {"repeat_penalty", "", true},
    {"grammar", "", true},
    {"json_schema", "", true},
}};

struct RequestReader {
    Request& out;
    std::optional<ApiError> error;
    std::size_t legacy_calls = 0;
    Json legacy_call_id;  // the last legacy function_call's id, for the function message answering it

    bool fail(std::string message, std::string param) {
        error = ApiError::invalid_request(std::move(message), std::move(param));
        return false;
    }

    // A content part of any role: text (or an assistant's refusal), image_url, file.
    bool read_part(od::value value, std::vector<Part>& parts, const std::string& where) {
        Json type, text, url, detail, file_id, file_data, filename;
        const bool ok = each_field(value, [&](std::string_view key, od::value v) {
            if (key == "type") {
                type = string_of(v);
            } else if (key == "text" || key == "refusal") {
                text = string_of(v);
            } else if (key == "image_url") {
                if (type_of(v) == od::json_type::string) {
                    url = raw_of(v);
                    return true;
                }
                return each_field(v, [&](std::string_view k, od::value i) {
                    if (k == "url") url = string_of(i);
                    if (k == "detail") detail = string_of(i);
                    return true;
                });
            } else if (key == "file") {
                return each_field(v, [&](std::string_view k, od::value f) {
                    if (k == "file_id") file_id = string_of(f);
                    if (k == "file_data") file_data = string_of(f);
                    if (k == "filename") filename = string_of(f);
                    return true;
                });
            }
            return true;
        });
        if (!ok) return fail("invalid content part", where);
        Part part;
        if (json::is(type, "text") || json::is(type, "refusal")) {
            if (text.empty()) return fail("a text part needs its text", where + ".text");
            part.text = text;
        } else if (json::is(type, "image_url")) {
            if (url.empty()) return fail("an image_url part needs its url", where + ".image_url.url");
            part.kind = PartKind::image;
            part.url = url;
            part.detail = detail;
        } else if (json::is(type, "file")) {
            part.kind = PartKind::document;
            part.url = file_data;  // a data: URL
            part.file_id = file_id;
            part.title = filename;
        } else {
            return fail("content parts of type " + json::text_of(type) + " cannot be translated", where + ".type");
        }
        parts.push_back(part);
        return true;
    }

    bool read_content(od::value value, std::vector<Part>& parts, const std::string& where) {
        switch (type_of(value)) {
            case od::json_type::null: return true;
            case od::json_type::string: {
                Part part;
                part.text = raw_of(value);
                parts.push_back(part);
                return true;
            }
            case od::json_type::array:
                return each_element(value, [&](od::value part, std::size_t j) {
                    return read_part(part, parts, where + "[" + std::to_string(j) + "]");
                }) || (error || fail("invalid content", where));
            default: return fail("content must be a string or an array of parts", where);
        }
    }

    Json legacy_id() {
        legacy_call_id = literal_in(out.arena, json::make_id("call_", "function_call", legacy_calls++));
        return legacy_call_id;
    }

    bool read_message(od::value value, std::size_t i) {
        const std::string where = "messages[" + std::to_string(i) + "]";
        Json role, tool_call_id, reasoning;
        std::vector<Part> content, calls;
        bool ok = each_field(value, [&](std::string_view key, od::value v) {
            if (key == "role") {
                role = string_of(v);
            } else if (key == "content") {
                return read_content(v, content, where + ".content");
            } else if (key == "reasoning_content" || key == "reasoning") {
                reasoning = string_of(v);
            } else if (key == "tool_call_id") {
                tool_call_id = string_of(v);
            } else if (key == "tool_calls" && type_of(v) != od::json_type::null) {
                return each_element(v, [&](od::value c, std::size_t j) {
                    CallFields call;
                    if (!read_call(c, call) || call.name.empty()) {
                        return fail("a tool call needs function.name", where + ".tool_calls[" + std::to_string(j) + "]");
                    }
                    // OpenAI refuses a call without its id, and its result could not name it.
                    if (call.id.empty()) {
                        return fail("a tool call needs an id", where + ".tool_calls[" + std::to_string(j) + "].id");
                    }
                    Part part;
                    part.kind = PartKind::tool_call;
                    part.id = call.id;
                    part.name = call.name;
                    part.arguments = call.arguments;
                    calls.push_back(part);
                    return true;
                });
            } else if (key == "function_call" && type_of(v) == od::json_type::object) {
                CallFields call;
                if (!read_call(v, call) || call.name.empty()) return fail("function_call needs a name", where);
                Part part;
                part.kind = PartKind::tool_call;
                part.name = call.name;
                part.arguments = call.arguments;
                part.id = legacy_id();
                calls.push_back(part);
            }
            return true;
        });
        if (!ok) return error.has_value() || fail("invalid message", where);

        const std::string_view word = word_of(role);
        if (word == "system" || word == "developer") {
            for (const Part& part : content) {
                if (part.kind != PartKind::text) return fail("system messages take text only", where + ".content");
                out.system.push_back(part);
            }
        } else if (word == "user") {
            out.messages.push_back(Message{Role::user, std::move(content)});
        } else if (word == "assistant") {
            Message message{Role::assistant, {}};
            if (!empty_text(reasoning)) {
                Part part;
                part.kind = PartKind::reasoning;
                part.text = reasoning;
                message.parts.push_back(part);
            }
            for (Part& part : content) {
                // An empty text beside tool calls says nothing; Anthropic refuses empty text blocks.
                if (part.kind == PartKind::text && empty_text(part.text)) continue;
                message.parts.push_back(part);
            }
            message.parts.insert(message.parts.end(), calls.begin(), calls.end());
            out.messages.push_back(std::move(message));
        } else if (word == "tool" || word == "function") {
            Part result;
            result.kind = PartKind::tool_result;
            result.id = word == "tool" ? tool_call_id : legacy_call_id;
            if (result.id.empty()) return fail("a tool message needs tool_call_id", where + ".tool_call_id");
            result.content = std::move(content);
            // Consecutive tool results answer one assistant turn: one user message holds them all.
            const bool joins = !out.messages.empty() && out.messages.back().role == Role::user &&
                               !out.messages.back().parts.empty() &&
                               out.messages.back().parts.back().kind == PartKind::tool_result;
            if (joins) {
                out.messages.back().parts.push_back(std::move(result));
            } else {
                out.messages.push_back(Message{Role::user, {std::move(result)}});
            }
        } else {
            return fail("unknown role " + json::text_of(role), where + ".role");
        }
        return true;
    }

    bool read_tool(od::value value, std::size_t i) {
        const std::string where = "tools[" + std::to_string(i) + "]";
        Json type;
        Tool tool;
        const auto definition = [&](od::value v) {
            return each_field(v, [&](std::string_view k, od::value f) {
                if (k == "name") tool.name = string_of(f);
                if (k == "description") tool.description = string_of(f);
                if (k == "parameters") tool.parameters = raw_of(f);
                if (k == "format") tool.format = raw_of(f);
                if (k == "strict" && type_of(f) == od::json_type::boolean) tool.strict = raw_of(f) == "true";
                return true;
            });
        };
        const bool ok = each_field(value, [&](std::string_view key, od::value v) {
            if (key == "type") type = string_of(v);
            if (key == "function" || key == "custom") return definition(v);
            return true;
        });
        if (!ok) return fail("invalid tool", where);
        if (json::is(type, "custom")) {
            tool.custom = true;
        } else if (!json::is(type, "function")) {
            return fail("tools of type " + json::text_of(type) + " cannot be translated", where + ".type");
        }
        if (tool.name.empty()) return fail("a tool needs a name", where + ".function.name");
        out.tools.push_back(tool);
        return true;
    }

    // tool_choice, or the legacy function_call: "auto" | "none" | "required" | {function:{name}}.
    bool read_tool_choice(od::value value, std::string_view param) {
        using Mode = ToolChoice::Mode;
        if (type_of(value) == od::json_type::string) {
            const std::string_view word = word_of(raw_of(value));
            if (word == "auto") out.tool_choice.mode = Mode::auto_;
            else if (word == "none") out.tool_choice.mode = Mode::none;
            else if (word == "required") out.tool_choice.mode = Mode::required;
            else return fail("unknown tool_choice " + std::string(word), std::string(param));
            return true;
        }
        Json name;
        const bool ok = each_field(value, [&](std::string_view key, od::value v) {
            if (key == "name") name = string_of(v);  // the legacy {"name": ...}
            if (key == "function" || key == "custom") {
                return each_field(v, [&](std::string_view k, od::value f) {
                    if (k == "name") name = string_of(f);
                    return true;
                });
            }
            return true;
        });
        if (!ok || name.empty()) {
            // allowed_tools and other choices the common form cannot say
            out.unmapped.push_back(Unmapped{param == "tool_choice" ? "tool_choice" : "function_call", {}, true});
            return true;
        }
        out.tool_choice.mode = Mode::named;
        out.tool_choice.name = name;
        return true;
    }

    // OpenAI's web search for chat (its search models): {"search_context_size":..., "user_location":
    // {"type":"approximate","approximate":{"city":...}}}, read as the provider's web search tool,
    // the location flat as Responses and Anthropic write it.
    bool read_web_search(od::value value) {
        if (type_of(value) != od::json_type::object) return fail("web_search_options must be an object", "web_search_options");
        Tool tool;
        tool.web_search = true;
        tool.name = "\"web_search\"";
        std::string location;  // the flat location's fields, each `,"name":"text"`
        const auto place = [&](std::string_view name, od::value v) {
            const Json text = string_of(v);
            if (!text.empty() && (name == "city" || name == "country" || name == "region" || name == "timezone")) {
                location.append(",\"").append(name).append("\":").append(text);
            }
            return true;
        };
        const bool ok = each_field(value, [&](std::string_view key, od::value v) {
            if (key == "search_context_size") tool.search_context_size = string_of(v);
            if (key == "user_location" && type_of(v) == od::json_type::object) {
                return each_field(v, [&](std::string_view k, od::value approximate) {
                    return k != "approximate" || type_of(approximate) != od::json_type::object ||
                           each_field(approximate, place);
                });
            }
            return true;
        });
        if (!ok) return fail("invalid web_search_options", "web_search_options");
        if (!location.empty()) tool.user_location = out.arena.keep(R"({"type":"approximate")" + location + "}");
        out.tools.push_back(tool);
        return true;
    }

    bool read_format(od::value value) {
        Json type;
        const bool ok = each_field(value, [&](std::string_view key, od::value v) {
            if (key == "type") type = string_of(v);
            if (key == "json_schema") {
                return each_field(v, [&](std::string_view k, od::value f) {
                    if (k == "name") out.format.name = string_of(f);
                    if (k == "schema") out.format.schema = raw_of(f);
                    if (k == "strict" && type_of(f) == od::json_type::boolean) out.format.strict = raw_of(f) == "true";
                    return true;
                });
            }
            return true;
        });
        if (!ok) return fail("invalid response_format", "response_format");
        if (json::is(type, "json_object")) out.format.kind = Format::Kind::json_object;
        else if (json::is(type, "json_schema")) out.format.kind = Format::Kind::json_schema;
        else if (!json::is(type, "text")) return fail("unknown response_format type", "response_format.type");
        return true;
    }

    bool read_field(std::string_view key, od::value v) {
        if (key == "model") {
            out.model = string_of(v);
        } else if (key == "messages") {
            if (type_of(v) != od::json_type::array) return fail("messages must be an array", "messages");
            return each_element(v, [&](od::value m, std::size_t i) { return read_message(m, i); }) ||
                   error.has_value() || fail("invalid messages", "messages");
        } else if (key == "tools" || key == "functions") {
            if (type_of(v) == od::json_type::null) return true;
            const bool legacy = key == "functions";
            return each_element(v, [&](od::value t, std::size_t i) {
                if (!legacy) return read_tool(t, i);
                Tool tool;  // the legacy functions[]: a function definition alone
                each_field(t, [&](std::string_view k, od::value f) {
                    if (k == "name") tool.name = string_of(f);
                    if (k == "description") tool.description = string_of(f);
                    if (k == "parameters") tool.parameters = raw_of(f);
                    return true;
                });
                if (tool.name.empty()) return fail("a function needs a name", "functions");
                out.tools.push_back(tool);
                return true;
            }) || error.has_value() || fail("invalid " + std::string(key), std::string(key));
        } else if (key == "tool_choice" || key == "function_call") {
            if (type_of(v) != od::json_type::null) return read_tool_choice(v, key);
        } else if (key == "parallel_tool_calls") {
            if (type_of(v) == od::json_type::boolean) out.tool_choice.parallel = raw_of(v) == "true";
        } else if (key == "max_tokens" || key == "max_completion_tokens") {
            if (type_of(v) == od::json_type::null) return true;
            const auto tokens = int_of(v);
            if (!tokens || *tokens < 1) return fail(std::string(key) + " must be a positive integer", std::string(key));
            out.max_tokens = tokens;
        } else if (key == "temperature") {
            out.temperature = raw_of(v);
        } else if (key == "top_p") {
            out.top_p = raw_of(v);
        } else if (key == "top_k") {
            out.top_k = raw_of(v);
        } else if (key == "stop") {
            if (type_of(v) == od::json_type::string) {
                out.stop.push_back(raw_of(v));
            } else if (type_of(v) == od::json_type::array) {
                return each_element(v, [&](od::value s, std::size_t) {
                    const Json word = string_of(s);
                    if (word.empty()) return fail("stop must hold strings", "stop");
                    out.stop.push_back(word);
                    return true;
                }) || error.has_value() || fail("invalid stop", "stop");
            }
        } else if (key == "seed") {
            out.seed = raw_of(v);
        } else if (key == "user") {
            out.user = string_of(v);
        } else if (key == "prompt_cache_key") {
            out.cache_key = string_of(v);
        } else if (key == "reasoning_effort") {
            out.reasoning.effort = string_of(v);
            // "none" (gpt-5.1) asks for no thinking; every other effort for some.
            out.reasoning.enabled = !out.reasoning.effort.empty() && !json::is(out.reasoning.effort, "none");
        } else if (key == "response_format") {
            if (type_of(v) != od::json_type::null) return read_format(v);
        } else if (key == "stream") {
            out.stream = raw_of(v) == "true";
        } else if (key == "web_search_options") {
            if (type_of(v) != od::json_type::null) return read_web_search(v);
        } else {
            for (const UnmappedField& field : kUnmappedFields) {
                if (field.name != key) continue;
                const Json value = raw_of(v);
                if (!value.empty() && value != field.harmless) {
                    out.unmapped.push_back(Unmapped{field.name, value, field.changes_meaning});
                }
                break;
            }
        }
        return true;
    }
};

// --- Requests: writing ---------------------------------------------------------------------------

// An Anthropic thinking budget as an OpenAI effort: under 4,096 tokens "low", under 16,384
// "medium", else "high" (Anthropic's minimum budget is 1,024; Claude Code asks 31,999 for "ultrathink").
struct BudgetEffort {
    std::int64_t below;
    std::string_view effort;
};
constexpr std::array<BudgetEffort, 2> kBudgetEfforts{{{4096, "low"}, {16384, "medium"}}};

std::string_view effort_of_budget(std::int64_t budget) {
    for (const auto& row : kBudgetEfforts) {
        if (budget < row.below) return row.effort;
    }
    return "high";
}

// A custom tool's one parameter, as the other dialects see it (ir.hpp).
constexpr std::string_view kCustomToolParameters =
    R"({"type":"object","properties":{"input":{"type":"string"}},"required":["input"],"additionalProperties":false})";
constexpr std::string_view kNoParameters = R"({"type":"object","properties":{}})";

struct RequestWriter {
    const Request& request;
    const WriteOptions& options;
    json::Writer w;
    std::optional<ApiError> error;
    // Text the writer adds (the labels of images a tool returned), kept while parts point at it.
    std::deque<Part> made{};
    Arena arena{};

    bool fail(std::string message, std::string param) {
        error = ApiError::invalid_request(std::move(message), std::move(param));
        return false;
    }

    void joined_text(const std::vector<const Part*>& parts, std::string_view separator) {
        w.raw(joined_literal(parts, separator));
    }

    // An image's url: its own, or a data: URL made of an Anthropic base64 source.
    bool image_url(const Part& part) {
        if (!part.url.empty()) {
            w.key("url").raw(part.url);
        } else if (!part.data.empty()) {
            w.key("url").text(json::data_url(part, ""));
        } else {
            return fail("an image given by file id cannot be sent to a chat completions upstream", "image");
        }
        return true;
    }

    bool content_parts(const std::vector<const Part*>& parts) {
        bool all_text = true;
        for (const Part* part : parts) all_text = all_text && part->kind == PartKind::text;
        if (all_text && parts.size() == 1) {
            w.key("content").raw(parts.front()->text);
            return true;
        }
        w.key("content").array();
        for (const Part* part : parts) {
            w.object();
            if (part->kind == PartKind::text || (part->kind == PartKind::document && !part->text.empty())) {
                w.key("type").text("text").key("text").raw(part->text);  // a plain-text document's text
            } else if (part->kind == PartKind::document) {
                if (!file_part(*part)) return false;
            } else {
                w.key("type").text("image_url").key("image_url").object();
                if (!image_url(*part)) return false;
                w.field("detail", part->detail).end_object();
            }
            w.end_object();
        }
        w.end_array();
        return true;
    }

    // A document: a plain-text one is text; a PDF (base64, or a data: URL) is chat's file part, which
    // OpenAI's models read. One given by URL or by a provider's file id has no chat form.
    bool file_part(const Part& part) {
        w.key("type").text("file").key("file").object();
        if (part.url.starts_with("\"data:")) {
            w.key("file_data").raw(part.url);
        } else if (!part.data.empty()) {
            w.key("file_data").text(json::data_url(part, "application/pdf"));
        } else {
            return fail("a document given by URL or by file id cannot be sent to a chat completions upstream; send "
                        "its content (base64 or text)",
                        "document");
        }
        w.field("filename", part.title.empty() ? Json("\"document.pdf\"") : part.title).end_object();
        return true;
    }

    // A tool's result as a tool message. Chat's tool messages hold text only: images (and documents)
    // the tool returned (Claude Code's Read of a picture) go to `attached`, for the user message that
    // follows the turn's tool messages, after a line that names the call.
    bool tool_result(const Part& result, std::vector<const Part*>& attached) {
        std::vector<const Part*> texts;
        const std::size_t before = attached.size();
        for (const Part& part : result.content) {
            if (part.kind == PartKind::text) {
                texts.push_back(&part);
            } else if (part.kind == PartKind::image || part.kind == PartKind::document) {
                attached.push_back(&part);
            }
        }
        if (attached.size() > before) {
            const std::string call = json::text_of(result.id);
            Part label;
            label.text = literal_in(arena, "The tool call " + call + " returned:");
            attached.insert(attached.begin() + static_cast<std::ptrdiff_t>(before), &made.emplace_back(label));
            if (texts.empty()) {
                Part note;
                note.text = literal_in(arena, "(what it returned follows in the next message)");
                texts.push_back(&made.emplace_back(note));
            }
        }
        w.object().key("role").text("tool").key("tool_call_id").raw(result.id).key("content");
        joined_text(texts, "\\n");
        w.end_object();
        return true;
    }

    bool user_message(const Message& message) {
        std::vector<const Part*> parts;
        // Tool results first: chat wants them right after the assistant's calls, as role tool. What
        // they returned that is not text comes first in the user message after them.
        for (const Part& part : message.parts) {
            switch (part.kind) {
                case PartKind::tool_result:
                    if (!tool_result(part, parts)) return false;
                    break;
                case PartKind::text:
                case PartKind::image:
                case PartKind::document: parts.push_back(&part); break;
                case PartKind::tool_call:
                case PartKind::web_search:
                case PartKind::reasoning: break;  // not a user's
            }
        }
        if (parts.empty()) return true;
        w.object().key("role").text("user");
        if (!content_parts(parts)) return false;
        w.end_object();
        return true;
    }

    void assistant_message(const Message& message) {
        std::vector<const Part*> texts, calls;
        for (const Part& part : message.parts) {
            if (part.kind == PartKind::text) texts.push_back(&part);
            if (part.kind == PartKind::tool_call) calls.push_back(&part);
            // Reasoning is dropped: chat takes no thinking back in its input.
        }
        if (texts.empty() && calls.empty()) return;
        w.object().key("role").text("assistant").key("content");
        if (texts.empty()) {
            w.null();  // only tool calls
        } else {
            joined_text(texts, "");
        }
        if (!calls.empty()) {
            w.key("tool_calls").array();
            for (const Part* call : calls) {
                w.object().key("id").raw(call->id).key("type").text("function").key("function").object();
                w.key("name").raw(call->name).key("arguments").raw(call->arguments.empty() ? "\"{}\"" : call->arguments);
                w.end_object().end_object();
            }
            w.end_array();
        }
        w.end_object();
    }

    bool messages() {
        w.key("messages").array();
        if (!request.system.empty()) {
            std::vector<const Part*> texts;
            for (const Part& part : request.system) texts.push_back(&part);
            w.object().key("role").text("system").key("content");
            joined_text(texts, "\\n\\n");
            w.end_object();
        }
        for (const Message& message : request.messages) {
            if (message.role == Role::user) {
                if (!user_message(message)) return false;
            } else {
                assistant_message(message);
            }
        }
        w.end_array();
        return true;
    }

    void tools() {
        if (request.tools.empty()) return;
        w.key("tools").array();
        for (const Tool& tool : request.tools) {
            w.object().key("type").text("function").key("function").object();
            w.key("name").raw(tool.name).field("description", tool.description);
            w.key("parameters").raw(tool.custom ? kCustomToolParameters
                                                : (tool.parameters.empty() ? kNoParameters : tool.parameters));
            if (tool.strict) w.key("strict").boolean(*tool.strict);
            w.end_object().end_object();
        }
        w.end_array();
    }

    void tool_choice() {
        using Mode = ToolChoice::Mode;
        const ToolChoice& choice = request.tool_choice;
        switch (choice.mode) {
            case Mode::unset: break;
            case Mode::auto_: w.key("tool_choice").text("auto"); break;
            case Mode::none: w.key("tool_choice").text("none"); break;
            case Mode::required: w.key("tool_choice").text("required"); break;
            case Mode::named:
                w.key("tool_choice").object().key("type").text("function");
                w.key("function").object().key("name").raw(choice.name).end_object().end_object();
                break;
        }
        if (choice.parallel && !request.tools.empty()) w.key("parallel_tool_calls").boolean(*choice.parallel);
    }

    void reasoning() {
        const Reasoning& r = request.reasoning;
        if (!r.effort.empty()) {
            w.key("reasoning_effort").raw(r.effort);
        } else if (r.enabled && r.budget) {
            w.key("reasoning_effort").text(effort_of_budget(*r.budget));
        }
    }

    void format() {
        const Format& f = request.format;
        if (f.kind == Format::Kind::json_object) {
            w.key("response_format").object().key("type").text("json_object").end_object();
        } else if (f.kind == Format::Kind::json_schema) {
            w.key("response_format").object().key("type").text("json_schema").key("json_schema").object();
            if (f.name.empty()) {
                w.key("name").text("response");  // OpenAI requires a name
            } else {
                w.key("name").raw(f.name);
            }
            w.field("schema", f.schema);
            if (f.strict) w.key("strict").boolean(*f.strict);
            w.end_object().end_object();
        }
    }

    bool body() {
        for (const Unmapped& field : request.unmapped) {
            if (field.changes_meaning) {
                std::string what(field.name);
                if (!field.value.empty()) what += " (" + std::string(field.value.substr(0, 200)) + ")";
                return fail(what + " cannot be translated to a chat completions upstream", std::string(field.name));
            }
        }
        for (const Tool& tool : request.tools) {
            if (tool.web_search) {
                return fail("tools: web_search (the provider's own web search) cannot be given to a chat completions "
                            "upstream; route the model to an OpenAI Responses or Anthropic upstream, or leave the tool out",
                            "tools");
            }
        }
        if (!request.top_k.empty() && !options.top_k) {
            return fail("top_k is not supported by this chat completions upstream", "top_k");
        }
        w.object().key("model").text(options.model);
        if (!messages()) return false;
        tools();
        tool_choice();
        // max_completion_tokens: OpenAI's reasoning models refuse max_tokens; llama-server and vLLM
        // take either.
        if (request.max_tokens) w.key("max_completion_tokens").number(*request.max_tokens);
        w.field("temperature", request.temperature).field("top_p", request.top_p);
        if (options.top_k) w.field("top_k", request.top_k);
        if (!request.stop.empty()) {
            w.key("stop").array();
            for (Json stop : request.stop) w.raw(stop);
            w.end_array();
        }
        w.field("seed", request.seed).field("user", request.user).field("prompt_cache_key", request.cache_key);
        reasoning();
        format();
        if (request.stream) {
            w.key("stream").boolean(true);
            if (options.stream_usage) w.key("stream_options").object().key("include_usage").boolean(true).end_object();
        }
        w.end_object();
        return true;
    }
};

// --- Errors ---------------------------------------------------------------------------------------

// Anthropic's types with no OpenAI equivalent: an OpenAI caller gets the type OpenAI gives the status.
constexpr std::array<std::string_view, 4> kAnthropicOnlyTypes{"billing_error", "request_too_large", "api_error",
                                                              "overloaded_error"};

void append_error_object(const Error& error, std::string& out) {
    json::Writer w(out);
    w.object().key("error").object();
    w.key("message");
    if (error.message.empty()) {
        w.text("");
    } else {
        w.raw(error.message);
    }
    const std::string type = json::text_of(error.type);
    bool keep = !type.empty();
    for (std::string_view anthropic : kAnthropicOnlyTypes) keep = keep && type != anthropic;
    w.key("type");
    if (keep) {
        w.raw(error.type);
    } else {
        w.text(openai_error_type(error.status != 0 ? error.status : status_of_error_type(type)));
    }
    w.key("param");
    error.param.empty() ? w.null() : w.raw(error.param);
    w.key("code");
    error.code.empty() ? w.null() : w.raw(error.code);
    w.end_object().end_object();
}

// An {"error":...} value: OpenAI's object (llama-server's code is a number, kept out: Error.code is a
// string) or the bare string some servers send.
bool read_error_value(od::value value, Error& out) {
    if (type_of(value) == od::json_type::string) {
        out.message = raw_of(value);
        return true;
    }
    if (type_of(value) != od::json_type::object) return false;
    return each_field(value, [&](std::string_view key, od::value v) {
        if (key == "message") out.message = string_of(v);
        if (key == "type") out.type = string_of(v);
        if (key == "code") out.code = string_of(v);
        if (key == "param") out.param = string_of(v);
        return true;
    });
}

// --- Streams: reading ------------------------------------------------------------------------------

// Reads chat.completion.chunk events. Each chunk's fields are gathered first (llama-server writes
// its keys in alphabetical order: choices before id and model), then turned into events.
class ChunkReader final : public StreamReader {
public:
    explicit ChunkReader(od::parser& parser) : parser_(parser) { chunk_.calls.reserve(8); }

    void event(std::string_view, std::string_view data, EventSink& sink) override {
        if (state_ == State::done) return;
        while (!data.empty() && (data.back() == ' ' || data.back() == '\n' || data.back() == '\r')) data.remove_suffix(1);
        if (data == "[DONE]") {
            finish_stream(sink);
            return;
        }
        if (!gather(data)) return;  // not a chunk: skipped
        emit(sink);
    }

    void end(EventSink& sink) override {
        if (state_ != State::done) finish_stream(sink);
    }

    const Usage& usage() const override { return usage_; }

private:
    // The protocol's phases: before the first chunk, chunks with choices, after the finish_reason
    // (only the usage chunk and [DONE] follow), after [DONE] or an error.
    enum class State : std::uint8_t { awaiting_first_chunk, streaming_choices, finished, done };

    struct Chunk {
        Json id, model;
        std::int64_t created = 0;
        bool has_choices = false;
        Json content, reasoning_content, finish_reason;
        std::vector<CallFields> calls;
        Usage usage;
        bool has_error = false;
        Error error;

        void reset() {
            id = model = content = reasoning_content = finish_reason = {};
            created = 0;
            has_choices = false;
            calls.clear();
            usage = Usage{};
            has_error = false;
            error = Error{};
        }
    };

    bool gather(std::string_view data) {
        chunk_.reset();
        od::document doc;
        if (parser_.iterate(data.data(), data.size(), data.size() + simdjson::SIMDJSON_PADDING).get(doc)) return false;
        od::object object;
        if (doc.get_object().get(object) != simdjson::SUCCESS) return false;
        return each_field(object, [&](std::string_view key, od::value v) {
            if (key == "id") chunk_.id = empty_text(string_of(v)) ? Json{} : string_of(v);
            else if (key == "model") chunk_.model = empty_text(string_of(v)) ? Json{} : string_of(v);
            else if (key == "created") chunk_.created = int_of(v).value_or(0);
            else if (key == "choices") return type_of(v) != od::json_type::array || each_element(v, [&](od::value c, std::size_t i) {
                return i > 0 || gather_choice(c);  // one choice: n > 1 is refused on requests
            });
            else if (key == "usage") read_usage(v, chunk_.usage);
            else if (key == "error") {
                chunk_.has_error = true;
                chunk_.error.status = 0;  // taken from the type
                return read_error_value(v, chunk_.error);
            }
            return true;
        });
    }

    bool gather_choice(od::value choice) {
        chunk_.has_choices = true;
        return each_field(choice, [&](std::string_view key, od::value v) {
            if (key == "finish_reason") {
                chunk_.finish_reason = string_of(v);
            } else if (key == "delta" && type_of(v) == od::json_type::object) {
                return each_field(v, [&](std::string_view k, od::value d) {
                    if (k == "content") chunk_.content = string_of(d);
                    else if (k == "reasoning_content" || k == "reasoning") chunk_.reasoning_content = string_of(d);
                    else if (k == "tool_calls" && type_of(d) == od::json_type::array) {
                        return each_element(d, [&](od::value c, std::size_t) {
                            return read_call(c, chunk_.calls.emplace_back());
                        });
                    } else if (k == "function_call" && type_of(d) == od::json_type::object) {
                        return read_call(d, chunk_.calls.emplace_back());  // legacy: one call, index 0
                    }
                    return true;
                });
            }
            return true;
        });
    }

    void emit(EventSink& sink) {
        if (chunk_.has_error) {
            close_block(sink);
            event_ = Event{};
            event_.kind = Event::Kind::error;
            event_.error = chunk_.error;
            sink.on(event_);
            state_ = State::done;
            return;
        }
        // Azure's first chunk has no choices, an empty id and model (prompt_filter_results): the
        // answer begins with the next.
        if (!chunk_.has_choices && !chunk_.usage.found) return;
        if (state_ == State::awaiting_first_chunk) {
            event_ = Event{};
            event_.kind = Event::Kind::start;
            event_.id = chunk_.id;
            event_.model = chunk_.model;
            event_.created = chunk_.created;
            sink.on(event_);
            state_ = State::streaming_choices;
        }
        if (chunk_.usage.found) usage_ = chunk_.usage;
        if (!empty_text(chunk_.reasoning_content)) {
            open_block(BlockKind::reasoning, sink);
            delta(chunk_.reasoning_content, sink);
        }
        if (!empty_text(chunk_.content)) {
            open_block(BlockKind::text, sink);
            delta(chunk_.content, sink);
        }
        for (const CallFields& call : chunk_.calls) {
            // A call's first delta names it; a new index, or a new id at the same index (servers
            // that number every call 0), is the next call.
            if (open_ != Open::tool_call || call.index != call_index_ ||
                (!call.id.empty() && call.id != call_id_)) {
                open_call(call, sink);
            }
            if (!empty_text(call.arguments)) delta(call.arguments, sink);
        }
        if (!chunk_.finish_reason.empty() && state_ != State::finished) {
            close_block(sink);
            event_ = Event{};
            event_.kind = Event::Kind::finish;
            event_.stop = stop_of(Dialect::chat, word_of(chunk_.finish_reason));
            // Ollama and some templates say "stop" after tool calls.
            if (called_ && (event_.stop == Stop::end_turn || event_.stop == Stop::unknown)) event_.stop = Stop::tool_use;
            if (chunk_.usage.found) event_.usage = usage_;
            sink.on(event_);
            state_ = State::finished;
        } else if (chunk_.usage.found && (state_ == State::finished || !chunk_.has_choices)) {
            event_ = Event{};
            event_.kind = Event::Kind::usage;
            event_.usage = usage_;
            sink.on(event_);
        }
    }

    enum class Open : std::uint8_t { none, text, reasoning, tool_call };

    void open_block(BlockKind kind, EventSink& sink) {
        const Open wanted = kind == BlockKind::text ? Open::text : Open::reasoning;
        if (open_ == wanted) return;
        close_block(sink);
        event_ = Event{};
        event_.kind = Event::Kind::block_start;
        event_.block = kind;
        event_.index = blocks_++;
        sink.on(event_);
        open_ = wanted;
    }

    void open_call(const CallFields& call, EventSink& sink) {
        close_block(sink);
        event_ = Event{};
        event_.kind = Event::Kind::block_start;
        event_.block = BlockKind::tool_call;
        event_.index = blocks_++;
        event_.id = call.id;
        event_.name = call.name;
        sink.on(event_);
        open_ = Open::tool_call;
        call_index_ = call.index;
        call_id_.assign(call.id);
        called_ = true;
    }

    void delta(Json text, EventSink& sink) {
        event_ = Event{};
        event_.kind = Event::Kind::delta;
        event_.block = open_ == Open::text ? BlockKind::text
                                           : (open_ == Open::reasoning ? BlockKind::reasoning : BlockKind::tool_call);
        event_.index = blocks_ - 1;
        event_.text = text;
        sink.on(event_);
    }

    void close_block(EventSink& sink) {
        if (open_ == Open::none) return;
        event_ = Event{};
        event_.kind = Event::Kind::block_stop;
        event_.block = open_ == Open::text ? BlockKind::text
                                           : (open_ == Open::reasoning ? BlockKind::reasoning : BlockKind::tool_call);
        event_.index = blocks_ - 1;
        sink.on(event_);
        open_ = Open::none;
    }

    // [DONE], or the stream's end without it: what is open closes; no finish the model never gave.
    void finish_stream(EventSink& sink) {
        close_block(sink);
        event_ = Event{};
        event_.kind = Event::Kind::done;
        event_.usage = usage_;
        sink.on(event_);
        state_ = State::done;
    }

    od::parser& parser_;
    State state_ = State::awaiting_first_chunk;
    Open open_ = Open::none;
    std::size_t blocks_ = 0;
    std::int64_t call_index_ = -1;
    std::string call_id_;  // the open call's id literal (the event that named it is gone)
    bool called_ = false;
    Chunk chunk_;
    Event event_;
    Usage usage_;
};

// One of a message's `annotations`: text from character `start` to `end` cites a page (OpenAI's
// search models answer so).
void write_url_citation(json::Writer& w, const Citation& citation, std::size_t start, std::size_t end) {
    w.object().field_text("type", "url_citation").key("url_citation").object();
    w.key("end_index").number(static_cast<std::int64_t>(end)).key("start_index").number(static_cast<std::int64_t>(start));
    w.field("title", citation.title.empty() ? citation.url : citation.title).field("url", citation.url);
    w.end_object().end_object();
}

// --- Streams: writing ------------------------------------------------------------------------------

class ChunkWriter final : public StreamWriter {
public:
    explicit ChunkWriter(const AnswerOptions& options)
        : options_(options), count_chars_(options.request != nullptr && options.request->offers_web_search()) {
        head_.reserve(128);
    }

    void write(const Event& event, std::string& out) override {
        if (state_ == State::done) return;
        if (state_ == State::before_role_chunk && event.kind != Event::Kind::start &&
            event.kind != Event::Kind::error && event.kind != Event::Kind::done) {
            begin(Event{}, out);  // an answer that never said it began
        }
        // A web search the provider ran (Anthropic's server tool) has no place in a chat answer: its
        // text, which cites the pages, does.
        if (event.block == BlockKind::web_search &&
            (event.kind == Event::Kind::block_start || event.kind == Event::Kind::delta ||
             event.kind == Event::Kind::block_stop)) {
            return;
        }
        switch (event.kind) {
            case Event::Kind::start: begin(event, out); break;
            case Event::Kind::block_start:
                open_ = event.block;
                if (event.block == BlockKind::tool_call) start_call(event, out);
                block_chars_ = chars_;
                break;
            case Event::Kind::delta:
                if (event.text.empty()) break;
                chunk_open(out);
                if (open_ == BlockKind::tool_call) {
                    out += R"("tool_calls":[{"index":)";
                    append_number(out, static_cast<std::int64_t>(calls_ - 1));
                    out += R"(,"function":{"arguments":)";
                    out += event.text;
                    out += "}}]";
                } else {
                    out += open_ == BlockKind::text ? R"("content":)" : R"("reasoning_content":)";
                    out += event.text;
                    if (count_chars_ && open_ == BlockKind::text) chars_ += json::text_length(event.text);
                }
                chunk_close(out, {});
                break;
            case Event::Kind::citation:
                if (count_chars_ && open_ == BlockKind::text && event.citation != nullptr) {
                    // Kept as text: the event's views end with the call.
                    citations_.emplace_back(event.citation->url, event.citation->title);
                }
                break;
            case Event::Kind::block_stop: annotate(out); break;
            case Event::Kind::signature:
            case Event::Kind::sources: break;
            case Event::Kind::finish:
                if (event.usage.found) usage_ = event.usage;
                if (state_ == State::finished) break;
                annotate(out);
                chunk_open(out);
                chunk_close(out, stop_word(Dialect::chat, event.stop));
                state_ = State::finished;
                break;
            case Event::Kind::usage:
                if (event.usage.found) usage_ = event.usage;
                break;
            case Event::Kind::error: fail(event.error, out); break;
            case Event::Kind::done:
                if (event.usage.found) usage_ = event.usage;
                if (options_.stream_usage && usage_.found && state_ != State::before_role_chunk) {
                    out += head_;
                    out += R"("choices":[],)";
                    json::Writer w(out);
                    write_usage(w, usage_);
                    out += "}\n\n";
                }
                out += "data: [DONE]\n\n";
                state_ = State::done;
                break;
        }
    }

    void fail(const Error& error, std::string& out) override {
        if (state_ == State::done) return;
        out += "data: ";
        append_error_object(error, out);
        out += "\n\ndata: [DONE]\n\n";
        state_ = State::done;
    }

    void keepalive(std::string& out) override { out += keepalive_event(Dialect::chat); }

private:
    // The protocol's phases: nothing sent, the role chunk sent, the finish_reason sent, [DONE] sent.
    enum class State : std::uint8_t { before_role_chunk, streaming_choices, finished, done };

    static void append_number(std::string& out, std::int64_t value) {
        json::Writer w(out);
        w.number(value);
    }

    // Every chunk's first fields, kept: `data: {"id":...,"object":...,"created":...,"model":...,`
    void begin(const Event& event, std::string& out) {
        if (state_ != State::before_role_chunk) return;
        head_.assign("data: ");
        json::Writer w(head_);
        w.object().key("id");
        if (event.id.empty()) {
            w.text(json::make_id("chatcmpl-", options_.id_seed, 0));
        } else {
            w.raw(event.id);
        }
        w.key("object").text("chat.completion.chunk");
        w.key("created").number(event.created != 0 ? event.created : options_.now);
        w.key("model");
        if (event.model.empty()) {
            w.text(options_.model);
        } else {
            w.raw(event.model);
        }
        head_ += ',';
        chunk_open(out);
        out += R"("role":"assistant","content":"")";
        chunk_close(out, {});
        state_ = State::streaming_choices;
    }

    void start_call(const Event& event, std::string& out) {
        chunk_open(out);
        out += R"("tool_calls":[{"index":)";
        append_number(out, static_cast<std::int64_t>(calls_));
        out += R"(,"id":)";
        if (event.id.empty()) {
            append_json_string(out, json::make_id("call_", options_.id_seed, calls_ + 1));
        } else {
            out += event.id;
        }
        out += R"(,"type":"function","function":{"name":)";
        out += event.name.empty() ? std::string_view("\"\"") : event.name;
        out += R"(,"arguments":""}}])";
        chunk_close(out, {});
        ++calls_;
    }

    // A text block that cited pages (a provider's web search) has ended: a chunk whose delta has
    // their url_citation annotations, over the block's characters in the message's content.
    void annotate(std::string& out) {
        if (citations_.empty()) return;
        chunk_open(out);
        out += R"("annotations":)";
        json::Writer w(out);
        w.array();
        for (const auto& [url, title] : citations_) write_url_citation(w, Citation{url, title, {}}, block_chars_, chars_);
        w.end_array();
        chunk_close(out, {});
        citations_.clear();
    }

    void chunk_open(std::string& out) {
        out += head_;
        out += R"("choices":[{"index":0,"delta":{)";
    }

    void chunk_close(std::string& out, std::string_view finish_reason) {
        out += R"(},"logprobs":null,"finish_reason":)";
        if (finish_reason.empty()) {
            out += "null";
        } else {
            out += '"';
            out += finish_reason;
            out += '"';
        }
        out += "}]}\n\n";
    }

    AnswerOptions options_;
    State state_ = State::before_role_chunk;
    BlockKind open_ = BlockKind::text;
    std::size_t calls_ = 0;  // tool calls opened: chat numbers them apart from other blocks
    std::string head_;
    Usage usage_;
    // Web search (the request offered it): the content's characters so far and where the open
    // block began (annotations' offsets), and the open text block's citations (url, title).
    bool count_chars_ = false;
    std::size_t chars_ = 0;
    std::size_t block_chars_ = 0;
    std::vector<std::pair<std::string, std::string>> citations_;
};

}  // namespace

// --- The dialect's functions (dialect.hpp) ---------------------------------------------------------

std::optional<ApiError> read_request(std::string_view body, Request& out) {
    const Json copy = padded_copy(body, out.arena);
    od::parser parser;
    od::document doc;
    od::object object;
    if (parser.iterate(copy.data(), copy.size(), copy.size() + simdjson::SIMDJSON_PADDING).get(doc) ||
        doc.get_object().get(object)) {
        return ApiError::invalid_request("the body must be a JSON object");
    }
    RequestReader reader{out, {}, 0, {}};
    const bool ok = each_field(object, [&](std::string_view key, od::value v) { return reader.read_field(key, v); });
    if (reader.error) return reader.error;
    if (!ok) return ApiError::invalid_request("the body is not valid JSON");
    if (out.messages.empty() && out.system.empty()) return ApiError::invalid_request("messages must not be empty", "messages");
    return std::nullopt;
}

std::optional<ApiError> write_request(const Request& request, const WriteOptions& options, std::string& out) {
    const std::size_t mark = out.size();
    RequestWriter writer{request, options, json::Writer(out), {}};
    if (writer.body()) return std::nullopt;
    out.resize(mark);
    return writer.error;
}

bool read_response(std::string_view body, Response& out) {
    const Json copy = padded_copy(body, out.arena);
    od::parser parser;
    od::document doc;
    od::object object;
    if (parser.iterate(copy.data(), copy.size(), copy.size() + simdjson::SIMDJSON_PADDING).get(doc) ||
        doc.get_object().get(object)) {
        return false;
    }
    bool has_choice = false;
    Json content, reasoning, finish_reason;
    std::vector<Part> calls;
    const auto message = [&](od::value v) {
        return each_field(v, [&](std::string_view key, od::value m) {
            if (key == "content") content = string_of(m);
            else if (key == "refusal" && content.empty()) content = string_of(m);
            else if (key == "reasoning_content" || key == "reasoning") reasoning = string_of(m);
            else if ((key == "tool_calls" && type_of(m) == od::json_type::array) ||
                     (key == "function_call" && type_of(m) == od::json_type::object)) {
                const auto add = [&](od::value c, std::size_t) {
                    CallFields call;
                    if (!read_call(c, call)) return false;
                    Part part;
                    part.kind = PartKind::tool_call;
                    part.id = call.id.empty() ? literal_in(out.arena, json::make_id("call_", "response", calls.size()))
                                              : call.id;
                    part.name = call.name;
                    part.arguments = call.arguments.empty() ? Json("\"{}\"") : call.arguments;
                    calls.push_back(part);
                    return true;
                };
                return key == "function_call" ? add(m, 0) : each_element(m, add);
            }
            return true;
        });
    };
    const bool ok = each_field(object, [&](std::string_view key, od::value v) {
        if (key == "id") out.id = string_of(v);
        else if (key == "model") out.model = string_of(v);
        else if (key == "created") out.created = int_of(v).value_or(0);
        else if (key == "usage") read_usage(v, out.usage);
        else if (key == "choices") {
            return type_of(v) == od::json_type::array && each_element(v, [&](od::value c, std::size_t i) {
                       if (i > 0) return true;
                       has_choice = true;
                       return each_field(c, [&](std::string_view k, od::value f) {
                           if (k == "finish_reason") finish_reason = string_of(f);
                           if (k == "message" && type_of(f) == od::json_type::object) return message(f);
                           return true;
                       });
                   });
        }
        return true;
    });
    if (!ok || !has_choice) return false;
    if (!empty_text(reasoning)) {
        Part part;
        part.kind = PartKind::reasoning;
        part.text = reasoning;
        out.content.push_back(part);
    }
    if (!empty_text(content) || (calls.empty() && !content.empty())) {
        Part part;
        part.text = content;
        out.content.push_back(part);
    }
    out.content.insert(out.content.end(), calls.begin(), calls.end());
    out.stop = stop_of(Dialect::chat, word_of(finish_reason));
    // Ollama and some templates say "stop" after tool calls.
    if (!calls.empty() && (out.stop == Stop::end_turn || out.stop == Stop::unknown)) out.stop = Stop::tool_use;
    return true;
}

// The answer's text parts' citations (a provider's web search: Anthropic's cited blocks, OpenAI
// Responses' annotations) as the message's annotations, over the joined text.
void write_annotations(json::Writer& w, const std::vector<const Part*>& texts) {
    const bool cited = std::any_of(texts.begin(), texts.end(), [](const Part* part) { return !part->citations.empty(); });
    if (!cited) return;
    w.key("annotations").array();
    std::size_t at = 0;
    for (const Part* part : texts) {
        const std::size_t length = json::text_length(part->text);
        for (const Citation& citation : part->citations) write_url_citation(w, citation, at, at + length);
        at += length;
    }
    w.end_array();
}

void write_response(const Response& response, const AnswerOptions& options, std::string& out) {
    json::Writer w(out);
    w.object().key("id");
    if (response.id.empty()) {
        w.text(json::make_id("chatcmpl-", options.id_seed, 0));
    } else {
        w.raw(response.id);
    }
    w.key("object").text("chat.completion");
    w.key("created").number(response.created != 0 ? response.created : options.now);
    w.key("model");
    if (response.model.empty()) {
        w.text(options.model);
    } else {
        w.raw(response.model);
    }
    std::vector<const Part*> texts, reasoning, calls;
    for (const Part& part : response.content) {
        if (part.kind == PartKind::text) texts.push_back(&part);
        if (part.kind == PartKind::reasoning && !empty_text(part.text)) reasoning.push_back(&part);
        if (part.kind == PartKind::tool_call) calls.push_back(&part);
    }
    w.key("choices").array().object().key("index").number(0).key("message").object();
    w.key("role").text("assistant").key("content");
    if (texts.empty()) {
        w.null();
    } else {
        w.raw(joined_literal(texts, ""));
    }
    w.key("refusal").null();
    write_annotations(w, texts);
    if (!reasoning.empty()) {
        w.key("reasoning_content");
        w.raw(joined_literal(reasoning, ""));
    }
    if (!calls.empty()) {
        w.key("tool_calls").array();
        std::size_t n = 0;
        for (const Part* call : calls) {
            w.object().key("id");
            if (call->id.empty()) {
                w.text(json::make_id("call_", options.id_seed, ++n));
            } else {
                w.raw(call->id);
            }
            w.key("type").text("function").key("function").object();
            w.key("name").raw(call->name).key("arguments").raw(call->arguments.empty() ? "\"{}\"" : call->arguments);
            w.end_object().end_object();
        }
        w.end_array();
    }
    w.end_object();
    w.key("logprobs").null();
    w.key("finish_reason").text(stop_word(Dialect::chat, response.stop));
    w.end_object().end_array();
    if (response.usage.found) write_usage(w, response.usage);
    w.end_object();
}

bool read_error(std::string_view body, int status, Error& out) {
    // Error has no arena: the body is parsed in a padded copy and the views mapped back onto it.
    const simdjson::padded_string padded(body);
    const auto onto_body = [&](Json view) {
        return view.empty() ? view : Json(body.data() + (view.data() - padded.data()), view.size());
    };
    od::parser parser;
    od::document doc;
    od::object object;
    if (parser.iterate(padded).get(doc) || doc.get_object().get(object)) return false;
    Error read;
    read.status = status;
    bool found = false;
    // {"error":{...}} or {"error":"text"}; vLLM's older {"object":"error","message":...,"type":...}.
    const bool ok = each_field(object, [&](std::string_view key, od::value v) {
        if (key == "error") {
            found = read_error_value(v, read);
            return found;
        }
        if (key == "message" && read.message.empty()) {
            read.message = string_of(v);
            found = found || !read.message.empty();
        }
        if (key == "type" && read.type.empty()) read.type = string_of(v);
        return true;
    });
    if (!ok || !found) return false;
    read.type = onto_body(read.type);
    read.message = onto_body(read.message);
    read.code = onto_body(read.code);
    read.param = onto_body(read.param);
    out = read;
    return true;
}

void write_error(const Error& error, std::string& out) { append_error_object(error, out); }

std::unique_ptr<StreamReader> make_reader(simdjson::ondemand::parser& parser) {
    return std::make_unique<ChunkReader>(parser);
}

std::unique_ptr<StreamWriter> make_writer(const AnswerOptions& options) { return std::make_unique<ChunkWriter>(options); }

}  // namespace switchyard::translate::chat
