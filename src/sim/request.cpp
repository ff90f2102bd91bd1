// simdjson on-demand readers for request bodies. Each walks the top-level object once, in document
// order, and copies out what it keeps: the thread's parser is reused by the next request.
#include "sim/request.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <simdjson.h>

#include "sim/json_text.hpp"
#include "sim/wordgen.hpp"

namespace sim {

static_assert(PaddedBody::kPadding >= simdjson::SIMDJSON_PADDING);

namespace od = simdjson::ondemand;

void PaddedBody::assign(std::string_view body) {
  if (bytes_.size() < body.size() + kPadding) bytes_.resize(body.size() + kPadding);
  std::memcpy(bytes_.data(), body.data(), body.size());
  std::memset(bytes_.data() + body.size(), 0, kPadding);
  size_ = body.size();
}

namespace {

od::parser& thread_parser() {
  thread_local od::parser parser;
  return parser;
}

Invalid malformed() {
  return {"We could not parse the JSON body of your request. The API expects a JSON payload.", ""};
}

Invalid wrong_type(std::string_view param, std::string_view expected) {
  return {fmt::format("Invalid type for '{}': expected {}.", param, expected), std::string(param)};
}

// For a failed get_*: a value of the wrong type, or (any other error) a document that is not JSON.
Invalid refused(simdjson::error_code error, std::string_view param, std::string_view expected) {
  return error == simdjson::INCORRECT_TYPE ? wrong_type(param, expected) : malformed();
}

Invalid missing(std::string_view param) {
  return {fmt::format("Missing required parameter: '{}'.", param), std::string(param)};
}

Invalid no_model() { return {"you must provide a model parameter", ""}; }

// The prompt as the simulator sees it: a running hash of its text and the token estimate.
struct PromptTally {
  std::uint64_t hash = kFnvOffset;
  std::uint64_t tokens = 0;
  std::string text;  // the texts, one per line, for --answers rules (up to 1 MiB)

  void add_text(std::string_view piece) {
    if (text.size() + piece.size() < (1u << 20)) {
      text.append(piece);
      text += '\n';
    }
    hash = fnv1a(piece, hash);
    hash = fnv1a("\n", hash);
    tokens += count_words(piece);
  }
  void add_token_id(std::int64_t id) {
    hash = mix(hash ^ static_cast<std::uint64_t>(id));
    tokens += 1;
  }
};

std::uint64_t generation_seed(std::string_view model, const PromptTally& prompt) {
  return mix(fnv1a(model) ^ mix(prompt.hash));
}

// Opens the body as a JSON object.
std::optional<Invalid> open_object(const PaddedBody& body, od::document& doc, od::object& object) {
  const simdjson::padded_string_view view(body.data(), body.size(), body.capacity());
  if (thread_parser().iterate(view).get(doc)) return malformed();
  if (doc.get_object().get(object)) return malformed();
  return std::nullopt;
}

// True once the whole document has been read: nothing trails the top-level object.
bool consumed(od::document& doc) { return doc.current_location().error() == simdjson::OUT_OF_BOUNDS; }

std::optional<Invalid> read_type(od::value& value, od::json_type& type) {
  if (value.type().get(type)) return malformed();
  return std::nullopt;
}

// model: a string; null counts as absent.
std::optional<Invalid> read_model(od::value value, std::string& model, bool& present) {
  od::json_type type;
  if (auto bad = read_type(value, type)) return bad;
  if (type == od::json_type::null) return std::nullopt;
  std::string_view text;
  if (type != od::json_type::string || value.get_string().get(text)) return wrong_type("model", "a string");
  model.assign(text);
  present = true;
  return std::nullopt;
}

std::optional<Invalid> read_bool(od::value value, std::string_view param, bool& out) {
  od::json_type type;
  if (auto bad = read_type(value, type)) return bad;
  if (type == od::json_type::null) return std::nullopt;
  if (type != od::json_type::boolean || value.get_bool().get(out)) return wrong_type(param, "a boolean");
  return std::nullopt;
}

// A non-negative integer or null.
std::optional<Invalid> read_count(od::value value, std::string_view param, std::optional<std::int64_t>& out) {
  od::json_type type;
  if (auto bad = read_type(value, type)) return bad;
  if (type == od::json_type::null) return std::nullopt;
  std::int64_t number = 0;
  if (type != od::json_type::number || value.get_int64().get(number)) return wrong_type(param, "an integer");
  if (number < 0) {
    return Invalid{fmt::format("Invalid '{}': integer below minimum value 0.", param), std::string(param)};
  }
  out = number;
  return std::nullopt;
}

void cap(std::optional<std::int64_t>& limit, std::optional<std::int64_t> candidate) {
  if (candidate && (!limit || *candidate < *limit)) limit = candidate;
}

std::optional<Invalid> read_stream_options(od::value value, bool& include_usage) {
  od::json_type type;
  if (auto bad = read_type(value, type)) return bad;
  if (type == od::json_type::null) return std::nullopt;
  od::object options;
  if (type != od::json_type::object || value.get_object().get(options)) {
    return wrong_type("stream_options", "an object");
  }
  for (auto item : options) {
    od::field field;
    std::string_view key;
    if (std::move(item).get(field) || field.unescaped_key().get(key)) return malformed();
    if (key == "include_usage") {
      if (auto bad = read_bool(field.value(), "stream_options.include_usage", include_usage)) return bad;
    }
  }
  return std::nullopt;
}

// Appends text to capture (when there is one), a space between pieces.
void capture_text(std::string* capture, std::string_view text) {
  if (capture == nullptr) return;
  if (!capture->empty()) capture->push_back(' ');
  capture->append(text);
}

// What a chat message's content parts were, checked as OpenAI does once the role is known (it may
// follow the content): only a user message carries images, audio and files.
struct ChatParts {
  std::uint64_t message = 0;      // the message's index, for param
  std::string first_non_text;     // the first part whose type is not text ("" none)
  std::uint64_t non_text_at = 0;  // its index

  // A part's type: refused when chat has no such part; a non-text one is noted.
  std::optional<Invalid> note(std::string_view type, std::uint64_t index) {
    static constexpr std::string_view kKnown[] = {"text", "image_url", "input_audio", "file", "refusal", "audio"};
    const auto param = [&] { return fmt::format("messages[{}].content[{}].type", message, index); };
    if (std::find(std::begin(kKnown), std::end(kKnown), type) == std::end(kKnown)) {
      return Invalid{fmt::format("Invalid value: '{}'. Supported values are: 'text', 'image_url', 'input_audio', "
                                 "'refusal', 'audio', and 'file'.", type),
                     param()};
    }
    if (type != "text" && type != "refusal" && first_non_text.empty()) {
      first_non_text = type;
      non_text_at = index;
    }
    return std::nullopt;
  }
  // After the message: a non-text part anywhere but a user message is refused.
  std::optional<Invalid> check(std::string_view role) const {
    if (first_non_text.empty() || role == "user") return std::nullopt;
    return Invalid{fmt::format("Invalid value: '{}'. Supported values are: 'text'.", first_non_text),
                   fmt::format("messages[{}].content[{}].type", message, non_text_at)};
  }
};

// A chat message's content: a string, null, or an array of parts whose "text" fields count. Also
// Responses content and function_call_output output, and Anthropic tool_result content. capture, when
// given, collects the text (a tool result's, which the answer echoes); chat, when given, checks the
// parts' types as chat's.
std::optional<Invalid> read_content(od::value value, PromptTally& prompt, std::string* capture = nullptr,
                                    ChatParts* chat = nullptr) {
  od::json_type type;
  if (auto bad = read_type(value, type)) return bad;
  if (type == od::json_type::null) return std::nullopt;
  if (type == od::json_type::string) {
    std::string_view text;
    if (value.get_string().get(text)) return malformed();
    prompt.add_text(text);
    capture_text(capture, text);
    return std::nullopt;
  }
  od::array parts;
  if (type != od::json_type::array || value.get_array().get(parts)) {
    return wrong_type("messages[].content", "a string or an array of content parts");
  }
  std::uint64_t index = 0;
  for (auto element : parts) {
    od::value part;
    od::object fields;
    od::json_type part_type;
    if (std::move(element).get(part) || part.type().get(part_type)) return malformed();
    if (auto error = part.get_object().get(fields)) return refused(error, "messages[].content[]", "an object");
    for (auto item : fields) {
      od::field field;
      std::string_view key;
      if (std::move(item).get(field) || field.unescaped_key().get(key)) return malformed();
      if (key == "type" && chat != nullptr) {
        std::string_view name;
        if (auto error = field.value().get_string().get(name)) {
          return refused(error, "messages[].content[].type", "a string");
        }
        if (auto bad = chat->note(name, index)) return bad;
        continue;
      }
      if (key != "text") continue;
      std::string_view text;
      if (auto error = field.value().get_string().get(text)) return refused(error, "messages[].content[].text", "a string");
      prompt.add_text(text);
      capture_text(capture, text);
    }
    ++index;
  }
  return std::nullopt;
}

// messages: a non-empty array of objects; 4 tokens per message on top of its content's words. Each
// message's text is captured, since role may follow content: the last one's is kept when its role is
// "tool".
std::optional<Invalid> read_messages(od::value value, PromptTally& prompt, Generation& out) {
  od::array messages;
  if (auto error = value.get_array().get(messages)) return refused(error, "messages", "an array");
  std::uint64_t count = 0;
  for (auto element : messages) {
    od::value message;
    od::object fields;
    od::json_type type;
    if (std::move(element).get(message) || message.type().get(type)) return malformed();
    if (auto error = message.get_object().get(fields)) return refused(error, "messages[]", "an object");
    ChatParts parts;
    parts.message = count;
    ++count;
    out.tool_result = false;
    out.tool_result_text.clear();
    std::string role;
    for (auto item : fields) {
      od::field field;
      std::string_view key;
      if (std::move(item).get(field) || field.unescaped_key().get(key)) return malformed();
      if (key == "content") {
        if (auto bad = read_content(field.value(), prompt, &out.tool_result_text, &parts)) return bad;
      } else if (key == "role") {
        std::string_view text;
        if (auto error = field.value().get_string().get(text)) return refused(error, "messages[].role", "a string");
        role = text;
        out.tool_result = role == "tool";
      }
    }
    if (auto bad = parts.check(role)) return bad;
  }
  if (!out.tool_result) out.tool_result_text.clear();
  if (count == 0) return Invalid{"Invalid 'messages': empty array. Expected an array with minimum length 1.", "messages"};
  prompt.tokens += 4 * count;
  return std::nullopt;
}

// Appends `"name":VALUE` for one property of a tool's JSON schema: its first enum value when that is
// a scalar, else a stand-in of its type ("sim", 1, true, [], {}, null; "sim" when untyped).
std::optional<Invalid> append_property(std::string& out, std::string_view name, od::value spec) {
  std::string_view type = "string";
  std::string_view first_enum;
  od::object fields;
  if (spec.get_object().get(fields) == simdjson::SUCCESS) {
    for (auto item : fields) {
      od::field field;
      std::string_view key;
      if (std::move(item).get(field) || field.unescaped_key().get(key)) return malformed();
      if (key == "type") {
        std::string_view text;
        if (field.value().get_string().get(text) == simdjson::SUCCESS) type = text;
      } else if (key == "enum") {
        od::array values;
        if (field.value().get_array().get(values)) continue;
        for (auto element : values) {
          od::value first;
          od::json_type first_type;
          if (std::move(element).get(first) || first.type().get(first_type)) return malformed();
          if (first_type != od::json_type::array && first_type != od::json_type::object) {
            first_enum = first.raw_json_token();
            while (!first_enum.empty() && (first_enum.back() == ' ' || first_enum.back() == '\n' ||
                                           first_enum.back() == '\r' || first_enum.back() == '\t')) {
              first_enum.remove_suffix(1);
            }
          }
          break;
        }
      }
    }
  }
  if (out.size() > 1) out += ',';
  json::append_string(out, name);
  out += ':';
  if (!first_enum.empty()) {
    out += first_enum;
  } else if (type == "integer" || type == "number") {
    out += '1';
  } else if (type == "boolean") {
    out += "true";
  } else if (type == "array") {
    out += "[]";
  } else if (type == "object") {
    out += "{}";
  } else if (type == "null") {
    out += "null";
  } else {
    out += "\"sim\"";
  }
  return std::nullopt;
}

// Arguments for a tool call built from the tool's JSON schema: one stand-in value per property.
std::optional<Invalid> build_arguments(od::value schema, std::string& out) {
  out.assign("{");
  od::object fields;
  if (schema.get_object().get(fields) == simdjson::SUCCESS) {
    for (auto item : fields) {
      od::field field;
      std::string_view key;
      if (std::move(item).get(field) || field.unescaped_key().get(key)) return malformed();
      if (key != "properties") continue;
      od::object properties;
      if (field.value().get_object().get(properties)) continue;
      for (auto property : properties) {
        od::field entry;
        std::string_view name;
        if (std::move(property).get(entry) || entry.unescaped_key().get(name)) return malformed();
        if (auto bad = append_property(out, name, entry.value())) return bad;
      }
    }
  }
  out += '}';
  return std::nullopt;
}

// Where a dialect puts a tool's name and schema: chat {"type":"function","function":{"name",
// "parameters"}}, Responses {"type":"function","name","parameters"}, Messages {"name","input_schema"}.
enum class ToolShape { chat, responses, messages };

// tools: an array; the first tool with a name is the one kept.
std::optional<Invalid> read_tools(od::value value, ToolShape shape, Generation& out) {
  od::json_type type;
  if (auto bad = read_type(value, type)) return bad;
  if (type == od::json_type::null) return std::nullopt;
  od::array tools;
  if (type != od::json_type::array || value.get_array().get(tools)) return wrong_type("tools", "an array");
  const std::string_view schema_key = shape == ToolShape::messages ? "input_schema" : "parameters";
  for (auto element : tools) {
    od::object tool;
    if (auto error = element.get_object().get(tool)) return refused(error, "tools[]", "an object");
    // Only the first function tool is called; the rest are skipped (but for Anthropic's server
    // tools, which are looked for in every position).
    if (!out.tool_name.empty() && shape != ToolShape::messages) continue;
    std::string_view name;
    std::string arguments = "{}";
    bool server_tool = false;
    const auto read_named = [&](od::object fields) -> std::optional<Invalid> {
      for (auto item : fields) {
        od::field field;
        std::string_view key;
        if (std::move(item).get(field) || field.unescaped_key().get(key)) return malformed();
        if (key == "type" && shape == ToolShape::messages) {
          std::string_view tool_type;
          if (auto error = field.value().get_string().get(tool_type)) return refused(error, "tools[].type", "a string");
          server_tool = tool_type != "custom";
          if (tool_type.starts_with("web_search_")) out.web_search_tool = true;
        } else if (key == "type" && shape == ToolShape::responses) {
          std::string_view tool_type;
          if (auto error = field.value().get_string().get(tool_type)) return refused(error, "tools[].type", "a string");
          // OpenAI's built-in web search ("web_search", "web_search_preview", dated spellings).
          if (tool_type == "web_search" || tool_type.starts_with("web_search_")) {
            server_tool = true;
            out.web_search_tool = true;
          }
        } else if (key == "name") {
          if (auto error = field.value().get_string().get(name)) return refused(error, "tools[].name", "a string");
        } else if (key == schema_key) {
          if (auto bad = build_arguments(field.value(), arguments)) return bad;
        }
      }
      return std::nullopt;
    };
    if (shape == ToolShape::chat) {
      for (auto item : tool) {
        od::field field;
        std::string_view key;
        if (std::move(item).get(field) || field.unescaped_key().get(key)) return malformed();
        if (key != "function") continue;
        od::object function;
        if (auto error = field.value().get_object().get(function)) {
          return refused(error, "tools[].function", "an object");
        }
        if (auto bad = read_named(function)) return bad;
      }
    } else if (auto bad = read_named(tool)) {
      return bad;
    }
    if (!name.empty() && !server_tool && out.tool_name.empty()) {
      out.tool_name.assign(name);
      out.tool_arguments = std::move(arguments);
    }
  }
  return std::nullopt;
}

// An array of token ids.
std::optional<Invalid> read_token_ids(od::array ids, std::string_view param, PromptTally& prompt) {
  for (auto element : ids) {
    std::int64_t id = 0;
    if (auto error = element.get_int64().get(id)) return refused(error, param, "an array of integers");
    prompt.add_token_id(id);
  }
  return std::nullopt;
}

// A prompt or embedding input: a string, an array of token ids, or an array of those. Each separate
// input is handed to on_input with its own tally.
template <class OnInput>
std::optional<Invalid> read_inputs(od::value value, std::string_view param, OnInput&& on_input) {
  od::json_type type;
  if (auto bad = read_type(value, type)) return bad;
  if (type == od::json_type::string) {
    std::string_view text;
    if (value.get_string().get(text)) return malformed();
    PromptTally tally;
    tally.add_text(text);
    on_input(tally);
    return std::nullopt;
  }
  od::array elements;
  if (type != od::json_type::array || value.get_array().get(elements)) {
    return wrong_type(param, "a string or an array");
  }
  PromptTally ids;  // a flat array of token ids is one input
  bool flat_ids = false;
  std::size_t count = 0;
  for (auto element : elements) {
    od::value item;
    od::json_type item_type;
    if (std::move(element).get(item) || item.type().get(item_type)) return malformed();
    ++count;
    if (item_type == od::json_type::number) {
      std::int64_t id = 0;
      if (auto error = item.get_int64().get(id)) return refused(error, param, "integer token ids");
      ids.add_token_id(id);
      flat_ids = true;
    } else if (item_type == od::json_type::string) {
      std::string_view text;
      if (item.get_string().get(text)) return malformed();
      PromptTally tally;
      tally.add_text(text);
      on_input(tally);
    } else if (item_type == od::json_type::array) {
      od::array nested;
      if (item.get_array().get(nested)) return malformed();
      PromptTally tally;
      if (auto bad = read_token_ids(nested, param, tally)) return bad;
      on_input(tally);
    } else {
      return wrong_type(param, "strings or token ids");
    }
    if (flat_ids && count != static_cast<std::size_t>(ids.tokens)) {
      return wrong_type(param, "an array of strings or an array of token ids, not both");
    }
  }
  if (count == 0) return Invalid{fmt::format("Invalid '{}': empty array.", param), std::string(param)};
  if (flat_ids) on_input(ids);
  return std::nullopt;
}

// Reads the fields chat and text completions share; read_prompt handles the one that differs.
template <class ReadPrompt>
std::optional<Invalid> parse_generation(const PaddedBody& body, std::string_view prompt_key, Generation& out,
                                        ReadPrompt&& read_prompt) {
  od::document doc;
  od::object object;
  if (auto bad = open_object(body, doc, object)) return bad;
  bool has_model = false;
  bool has_prompt = false;
  PromptTally prompt;
  for (auto item : object) {
    od::field field;
    std::string_view key;
    if (std::move(item).get(field) || field.unescaped_key().get(key)) return malformed();
    std::optional<Invalid> bad;
    if (key == "model") {
      bad = read_model(field.value(), out.model, has_model);
    } else if (key == prompt_key) {
      has_prompt = true;
      bad = read_prompt(field.value(), prompt);
    } else if (key == "stream") {
      bad = read_bool(field.value(), "stream", out.stream);
    } else if (key == "stream_options") {
      bad = read_stream_options(field.value(), out.include_usage);
    } else if (key == "max_tokens" || key == "max_completion_tokens") {
      std::optional<std::int64_t> limit;
      bad = read_count(field.value(), key, limit);
      cap(out.max_tokens, limit);
    } else if (key == "tools" && prompt_key == "messages") {
      bad = read_tools(field.value(), ToolShape::chat, out);
    }
    if (bad) return bad;
  }
  if (!consumed(doc)) return malformed();
  if (!has_model) return no_model();
  if (!has_prompt) return missing(prompt_key);
  out.prompt_tokens = prompt.tokens;
  out.seed = generation_seed(out.model, prompt);
  out.prompt_text = std::move(prompt.text);
  return std::nullopt;
}

// Responses input: a string (one user message) or a non-empty array of items: messages ({"role",
// "content"}, "type" "message" or absent), function_call_output ({"call_id","output"}) and others
// (function_call, reasoning, ...), whose text is not counted. 4 tokens per item, as for chat messages.
std::optional<Invalid> read_responses_input(od::value value, PromptTally& prompt, Generation& out) {
  od::json_type type;
  if (auto bad = read_type(value, type)) return bad;
  if (type == od::json_type::string) {
    std::string_view text;
    if (value.get_string().get(text)) return malformed();
    prompt.add_text(text);
    prompt.tokens += 4;
    return std::nullopt;
  }
  od::array items;
  if (type != od::json_type::array || value.get_array().get(items)) return wrong_type("input", "a string or an array");
  std::uint64_t count = 0;
  for (auto element : items) {
    od::object fields;
    if (auto error = element.get_object().get(fields)) return refused(error, "input[]", "an object");
    ++count;
    out.tool_result_text.clear();
    std::string_view item_type;
    bool has_role = false;
    for (auto item : fields) {
      od::field field;
      std::string_view key;
      if (std::move(item).get(field) || field.unescaped_key().get(key)) return malformed();
      std::optional<Invalid> bad;
      if (key == "type") {
        if (auto error = field.value().get_string().get(item_type)) return refused(error, "input[].type", "a string");
      } else if (key == "role") {
        std::string_view role;
        if (auto error = field.value().get_string().get(role)) return refused(error, "input[].role", "a string");
        if (role != "user" && role != "assistant" && role != "system" && role != "developer") {
          return Invalid{fmt::format("Invalid value: '{}'. Supported values are: 'assistant', 'system', "
                                     "'developer', and 'user'.", role), "input[].role"};
        }
        has_role = true;
      } else if (key == "content") {
        bad = read_content(field.value(), prompt);
      } else if (key == "output") {
        bad = read_content(field.value(), prompt, &out.tool_result_text);
      }
      if (bad) return bad;
    }
    if (item_type.empty() && !has_role) return missing("input[].role");
    out.tool_result = item_type == "function_call_output";
  }
  if (!out.tool_result) out.tool_result_text.clear();
  if (count == 0) return Invalid{"Invalid 'input': empty array. Expected an array with minimum length 1.", "input"};
  prompt.tokens += 4 * count;
  return std::nullopt;
}

// Anthropic's validation messages name the field's path: "messages.0.role: ...".
Invalid anthropic_invalid(std::string message) { return Invalid{std::move(message), ""}; }

// Messages content: a string or an array of blocks. Text blocks count; so does the content of
// tool_result blocks, which is captured as the text to echo when it is in the last message.
std::optional<Invalid> read_blocks(od::value value, std::uint64_t index, PromptTally& prompt, Generation& out,
                                   bool& has_result) {
  od::json_type type;
  if (auto bad = read_type(value, type)) return bad;
  if (type == od::json_type::string) {
    std::string_view text;
    if (value.get_string().get(text)) return malformed();
    prompt.add_text(text);
    return std::nullopt;
  }
  od::array blocks;
  if (type != od::json_type::array || value.get_array().get(blocks)) {
    return anthropic_invalid(fmt::format("messages.{}.content: Input should be a valid list", index));
  }
  for (auto element : blocks) {
    od::object fields;
    if (element.get_object().get(fields)) {
      return anthropic_invalid(fmt::format("messages.{}.content: Input should be a valid dictionary", index));
    }
    for (auto item : fields) {
      od::field field;
      std::string_view key;
      if (std::move(item).get(field) || field.unescaped_key().get(key)) return malformed();
      if (key == "type") {
        std::string_view block_type;
        if (field.value().get_string().get(block_type)) {
          return anthropic_invalid(fmt::format("messages.{}.content.type: Input should be a valid string", index));
        }
        if (block_type == "tool_result") has_result = true;
      } else if (key == "text") {
        std::string_view text;
        if (field.value().get_string().get(text)) {
          return anthropic_invalid(fmt::format("messages.{}.content.text: Input should be a valid string", index));
        }
        prompt.add_text(text);
      } else if (key == "content") {
        if (auto bad = read_content(field.value(), prompt, &out.tool_result_text)) return bad;
      }
    }
  }
  return std::nullopt;
}

// Messages: a non-empty array of {"role": "user"|"assistant"|"system", "content"}; 4 tokens per
// message. A system message (Claude Code sends them mid-conversation) counts like the others but is
// not an input: the tool result of the message before it stays the last input.
std::optional<Invalid> read_anthropic_messages(od::value value, PromptTally& prompt, Generation& out) {
  od::array messages;
  if (value.get_array().get(messages)) return anthropic_invalid("messages: Input should be a valid list");
  std::uint64_t count = 0;
  for (auto element : messages) {
    od::object fields;
    if (element.get_object().get(fields)) {
      return anthropic_invalid(fmt::format("messages.{}: Input should be a valid dictionary", count));
    }
    // Set aside, since role may follow content: put back when this message is a system one.
    std::string before = std::move(out.tool_result_text);
    out.tool_result_text.clear();
    bool has_role = false;
    bool is_system = false;
    bool has_content = false;
    bool has_result = false;
    for (auto item : fields) {
      od::field field;
      std::string_view key;
      if (std::move(item).get(field) || field.unescaped_key().get(key)) return malformed();
      if (key == "role") {
        std::string_view role;
        if (field.value().get_string().get(role) || (role != "user" && role != "assistant" && role != "system")) {
          return anthropic_invalid(fmt::format("messages.{}.role: Input should be 'user' or 'assistant'", count));
        }
        has_role = true;
        is_system = role == "system";
      } else if (key == "content") {
        has_content = true;
        if (auto bad = read_blocks(field.value(), count, prompt, out, has_result)) return bad;
      }
    }
    if (!has_role) return anthropic_invalid(fmt::format("messages.{}.role: Field required", count));
    if (!has_content) return anthropic_invalid(fmt::format("messages.{}.content: Field required", count));
    if (is_system) {
      out.tool_result_text = std::move(before);
    } else {
      out.tool_result = has_result;
    }
    ++count;
  }
  if (!out.tool_result) out.tool_result_text.clear();
  if (count == 0) return anthropic_invalid("messages: at least one message is required");
  prompt.tokens += 4 * count;
  return std::nullopt;
}

// Anthropic's system prompt: a string or an array of text blocks.
std::optional<Invalid> read_system(od::value value, PromptTally& prompt) {
  od::json_type type;
  if (auto bad = read_type(value, type)) return bad;
  if (type != od::json_type::string && type != od::json_type::array) {
    return anthropic_invalid("system: Input should be a valid string or a valid list");
  }
  return read_content(value, prompt);
}

}  // namespace

std::optional<Invalid> parse_chat(const PaddedBody& body, Generation& out) {
  return parse_generation(body, "messages", out,
                          [&out](od::value value, PromptTally& prompt) { return read_messages(value, prompt, out); });
}

std::optional<Invalid> parse_completion(const PaddedBody& body, Generation& out) {
  // Several prompts are read as one: their texts are hashed in order and their tokens summed.
  return parse_generation(body, "prompt", out, [](od::value value, PromptTally& prompt) {
    return read_inputs(value, "prompt", [&prompt](const PromptTally& input) {
      prompt.hash = mix(prompt.hash ^ input.hash);
      prompt.tokens += input.tokens;
    });
  });
}

std::optional<Invalid> parse_embeddings(const PaddedBody& body, EmbeddingRequest& out) {
  od::document doc;
  od::object object;
  if (auto bad = open_object(body, doc, object)) return bad;
  bool has_model = false;
  bool has_input = false;
  for (auto item : object) {
    od::field field;
    std::string_view key;
    if (std::move(item).get(field) || field.unescaped_key().get(key)) return malformed();
    std::optional<Invalid> bad;
    if (key == "model") {
      bad = read_model(field.value(), out.model, has_model);
    } else if (key == "input") {
      has_input = true;
      bad = read_inputs(field.value(), "input", [&out](const PromptTally& input) {
        out.inputs.push_back({mix(input.hash), input.tokens});
      });
    } else if (key == "dimensions") {
      std::optional<std::int64_t> dims;
      bad = read_count(field.value(), "dimensions", dims);
      if (!bad && dims) {
        if (*dims < 1 || *dims > 65536) return Invalid{"Invalid 'dimensions': expected 1 to 65536.", "dimensions"};
        out.dimensions = static_cast<int>(*dims);
      }
    } else if (key == "encoding_format") {
      std::string_view format;
      if (field.value().get_string().get(format) || (format != "float" && format != "base64")) {
        return Invalid{"Invalid 'encoding_format': expected 'float' or 'base64'.", "encoding_format"};
      }
      out.base64 = format == "base64";
    }
    if (bad) return bad;
  }
  if (!consumed(doc)) return malformed();
  if (!has_model) return no_model();
  if (!has_input) return missing("input");
  return std::nullopt;
}

// include: an array of strings; whether it asks for a web search's sources.
std::optional<Invalid> read_include(od::value value, bool& sources) {
  od::json_type type;
  if (auto bad = read_type(value, type)) return bad;
  if (type == od::json_type::null) return std::nullopt;
  od::array names;
  if (type != od::json_type::array || value.get_array().get(names)) return wrong_type("include", "an array");
  for (auto element : names) {
    std::string_view name;
    if (auto error = element.get_string().get(name)) return refused(error, "include[]", "a string");
    if (name == "web_search_call.action.sources") sources = true;
  }
  return std::nullopt;
}

std::optional<Invalid> parse_responses(const PaddedBody& body, Generation& out, bool for_count) {
  od::document doc;
  od::object object;
  if (auto bad = open_object(body, doc, object)) return bad;
  bool has_model = false;
  bool has_input = false;
  PromptTally prompt;
  for (auto item : object) {
    od::field field;
    std::string_view key;
    if (std::move(item).get(field) || field.unescaped_key().get(key)) return malformed();
    std::optional<Invalid> bad;
    if (key == "model") {
      bad = read_model(field.value(), out.model, has_model);
    } else if (key == "input") {
      has_input = true;
      bad = read_responses_input(field.value(), prompt, out);
    } else if (key == "instructions") {
      od::json_type type;
      bad = read_type(field.value(), type);
      if (!bad && type != od::json_type::null) {
        std::string_view text;
        if (type != od::json_type::string || field.value().get_string().get(text)) {
          return wrong_type("instructions", "a string");
        }
        prompt.add_text(text);
      }
    } else if (key == "stream") {
      bad = read_bool(field.value(), "stream", out.stream);
    } else if (key == "max_output_tokens") {
      bad = read_count(field.value(), "max_output_tokens", out.max_tokens);
    } else if (key == "tools") {
      bad = read_tools(field.value(), ToolShape::responses, out);
    } else if (key == "include") {
      bad = read_include(field.value(), out.include_sources);
    }
    if (bad) return bad;
  }
  if (!consumed(doc)) return malformed();
  if (!for_count) {
    if (!has_model) return missing("model");
    if (!has_input) return missing("input");
  }
  out.prompt_tokens = prompt.tokens;
  out.seed = generation_seed(out.model, prompt);
  out.prompt_text = std::move(prompt.text);
  return std::nullopt;
}

std::optional<Invalid> parse_messages(const PaddedBody& body, Generation& out, bool for_count) {
  od::document doc;
  od::object object;
  const simdjson::padded_string_view view(body.data(), body.size(), body.capacity());
  if (thread_parser().iterate(view).get(doc) || doc.get_object().get(object)) {
    return anthropic_invalid("There was an issue with your request body: it is not a JSON object.");
  }
  bool has_model = false;
  bool has_max_tokens = false;
  bool has_messages = false;
  PromptTally prompt;
  for (auto item : object) {
    od::field field;
    std::string_view key;
    if (std::move(item).get(field) || field.unescaped_key().get(key)) return malformed();
    std::optional<Invalid> bad;
    if (key == "model") {
      std::string_view model;
      if (field.value().get_string().get(model)) return anthropic_invalid("model: Input should be a valid string");
      out.model.assign(model);
      has_model = true;
    } else if (key == "max_tokens" && !for_count) {
      std::int64_t limit = 0;
      if (field.value().get_int64().get(limit)) return anthropic_invalid("max_tokens: Input should be a valid integer");
      if (limit < 1) return anthropic_invalid("max_tokens: Input should be greater than or equal to 1");
      out.max_tokens = limit;
      has_max_tokens = true;
    } else if (key == "messages") {
      has_messages = true;
      bad = read_anthropic_messages(field.value(), prompt, out);
    } else if (key == "system") {
      bad = read_system(field.value(), prompt);
    } else if (key == "stream" && !for_count) {
      if (field.value().get_bool().get(out.stream)) return anthropic_invalid("stream: Input should be a valid boolean");
    } else if (key == "tools") {
      bad = read_tools(field.value(), ToolShape::messages, out);
    }
    if (bad) return bad;
  }
  if (!consumed(doc)) return malformed();
  if (!has_model) return anthropic_invalid("model: Field required");
  if (!has_messages) return anthropic_invalid("messages: Field required");
  if (!has_max_tokens && !for_count) return anthropic_invalid("max_tokens: Field required");
  out.prompt_tokens = prompt.tokens;
  out.seed = generation_seed(out.model, prompt);
  out.prompt_text = std::move(prompt.text);
  return std::nullopt;
}

bool is_json_object(std::string_view text) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element element;
  if (parser.parse(text.data(), text.size(), true).get(element)) return false;
  return element.is_object();
}

std::optional<std::string> parse_config(const PaddedBody& body, Knobs& knobs) {
  od::document doc;
  od::object object;
  if (open_object(body, doc, object)) return "body must be a JSON object";
  for (auto item : object) {
    od::field field;
    std::string_view key;
    if (std::move(item).get(field) || field.unescaped_key().get(key)) return "malformed JSON";
    if (key == "fault") {
      std::string_view text;
      if (field.value().get_string().get(text)) return "fault must be a string";
      const auto fault = parse_fault(text);
      if (!fault) return fmt::format("unknown fault '{}'", text);
      knobs.fault = *fault;
    } else if (key == "fault_rate") {
      double rate = 0;
      if (field.value().get_double().get(rate) || !(rate >= 0 && rate <= 1)) return "fault_rate must be a number in [0, 1]";
      knobs.fault_rate = rate;
    } else if (key == "ttft_ms" || key == "itl_ms" || key == "tokens") {
      std::int64_t value = 0;
      if (field.value().get_int64().get(value) || value < 0) return fmt::format("{} must be a non-negative integer", key);
      (key == "ttft_ms" ? knobs.ttft_ms : key == "itl_ms" ? knobs.itl_ms : knobs.tokens) = value;
    } else if (key == "healthy") {
      bool healthy = true;
      if (field.value().get_bool().get(healthy)) return "healthy must be a boolean";
      knobs.healthy = healthy;
    } else if (key == "tool_calls") {
      std::string_view text;
      const auto mode = field.value().get_string().get(text) ? std::nullopt : parse_tool_calls(text);
      if (!mode) return "tool_calls must be \"auto\" or \"off\"";
      knobs.auto_tool_calls = *mode;
    } else {
      return fmt::format("unknown setting '{}'", key);
    }
  }
  if (!consumed(doc)) return "malformed JSON";
  return std::nullopt;
}

}  // namespace sim
