#include "conversation/store.hpp"

#include <cstring>
#include <vector>

#include "translate/json.hpp"

namespace switchyard::conversation {

// --- Store ----------------------------------------------------------------------------------

Store::Store(std::size_t max_bytes, std::chrono::seconds ttl, const Clock& clock)
    : max_bytes_(max_bytes), ttl_(ttl), clock_(clock) {}

void Store::erase(Lru::iterator at) {
    bytes_ -= at->size();
    by_id_.erase(std::string_view(at->id));
    lru_.erase(at);
}

void Store::put(std::string id, std::string items) {
    const SteadyTime now = clock_.now();
    std::lock_guard lock(mutex_);
    if (auto found = by_id_.find(std::string_view(id)); found != by_id_.end()) erase(found->second);
    Entry entry{std::move(id), std::move(items), now};
    if (entry.size() > max_bytes_) return;
    // Expired entries at the cold end go first, whatever the room: they can never be read again.
    while (!lru_.empty() && expired(lru_.back(), now)) erase(std::prev(lru_.end()));
    while (!lru_.empty() && bytes_ + entry.size() > max_bytes_) erase(std::prev(lru_.end()));
    bytes_ += entry.size();
    lru_.push_front(std::move(entry));
    by_id_.emplace(std::string_view(lru_.front().id), lru_.begin());
}

std::optional<std::string> Store::get(std::string_view id) {
    const SteadyTime now = clock_.now();
    std::lock_guard lock(mutex_);
    const auto found = by_id_.find(id);
    if (found == by_id_.end()) return std::nullopt;
    const Lru::iterator at = found->second;
    if (expired(*at, now)) {
        erase(at);
        return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, at);
    return at->items;
}

std::size_t Store::bytes() const {
    std::lock_guard lock(mutex_);
    return bytes_;
}

std::size_t Store::entries() const {
    std::lock_guard lock(mutex_);
    return lru_.size();
}

// --- Body surgery ---------------------------------------------------------------------------

namespace {

// One member of a JSON object, as offsets into the object's text: the key's opening quote, the
// value's first byte and the byte after the value.
struct Field {
    std::size_t key_begin = 0;
    std::size_t value_begin = 0;
    std::size_t value_end = 0;
    std::string_view key;  // the key's raw text between its quotes
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

void skip_space(std::string_view text, std::size_t& at) {
    while (at < text.size() && is_space(text[at])) ++at;
}

// `at` on an opening quote; moves past the closing one.
void skip_string(std::string_view text, std::size_t& at) {
    for (++at; at < text.size(); ++at) {
        if (text[at] == '\\') {
            ++at;
        } else if (text[at] == '"') {
            ++at;
            return;
        }
    }
}

// Moves past the value that starts at `at`. Only ever run on text a full parser has validated, so
// brackets can be counted without telling them apart.
void skip_value(std::string_view text, std::size_t& at) {
    if (at >= text.size()) return;
    if (text[at] == '"') return skip_string(text, at);
    if (text[at] == '{' || text[at] == '[') {
        int depth = 0;
        while (at < text.size()) {
            const char c = text[at];
            if (c == '"') {
                skip_string(text, at);
                continue;
            }
            if (c == '{' || c == '[') ++depth;
            if (c == '}' || c == ']') --depth;
            ++at;
            if (depth == 0) return;
        }
        return;
    }
    while (at < text.size() && text[at] != ',' && text[at] != '}' && text[at] != ']' && !is_space(text[at])) ++at;
}

// The members of valid JSON object text `object` (leading whitespace allowed); nullopt when it is
// not an object.
std::optional<std::vector<Field>> fields_of(std::string_view object) {
    std::size_t at = 0;
    skip_space(object, at);
    if (at >= object.size() || object[at] != '{') return std::nullopt;
    ++at;
    std::vector<Field> fields;
    for (;;) {
        skip_space(object, at);
        if (at >= object.size() || object[at] != '"') break;  // '}': done
        Field field;
        field.key_begin = at;
        skip_string(object, at);
        field.key = object.substr(field.key_begin + 1, at - field.key_begin - 2);
        skip_space(object, at);
        ++at;  // ':'
        skip_space(object, at);
        field.value_begin = at;
        skip_value(object, at);
        field.value_end = at;
        fields.push_back(field);
        skip_space(object, at);
        if (at < object.size() && object[at] == ',') ++at;
    }
    return fields;
}

// The elements of valid JSON array text `array`, as their raw texts.
std::vector<std::string_view> elements_of(std::string_view array) {
    std::vector<std::string_view> elements;
    std::size_t at = 0;
    skip_space(array, at);
    if (at >= array.size() || array[at] != '[') return elements;
    ++at;
    for (;;) {
        skip_space(array, at);
        if (at >= array.size() || array[at] == ']') break;
        const std::size_t begin = at;
        skip_value(array, at);
        elements.push_back(array.substr(begin, at - begin));
        skip_space(array, at);
        if (at < array.size() && array[at] == ',') ++at;
    }
    return elements;
}

std::string_view value_of(std::string_view object, const Field& field) {
    return object.substr(field.value_begin, field.value_end - field.value_begin);
}

const Field* find(const std::vector<Field>& fields, std::string_view key) {
    // The last of duplicates, as most readers take it.
    for (auto it = fields.rbegin(); it != fields.rend(); ++it) {
        if (it->key == key) return &*it;
    }
    return nullptr;
}

// Whether `text` is valid JSON (a full parse: the scanners above trust what they are given).
bool valid(std::string_view text) {
    thread_local simdjson::dom::parser parser;
    return !parser.parse(text.data(), text.size()).error();
}

// `object` with its members rewritten by `edit(field)`: nullopt drops the member, a value replaces
// the member's value (its key kept as it was). `extra` ("\"k\":v", or empty) is appended as the last
// member. Everything not edited, whitespace included, is kept byte for byte.
template <typename Edit>
std::string rewrite(std::string_view object, const std::vector<Field>& fields, Edit&& edit, std::string_view extra = {}) {
    std::string out;
    out.reserve(object.size() + extra.size() + 16);
    std::size_t open = object.find('{');
    std::size_t close = object.rfind('}');
    if (fields.empty()) {
        out.append(object.substr(0, open + 1));
        out.append(extra);
        out.append(object.substr(open + 1));
        return out;
    }
    out.append(object.substr(0, fields.front().key_begin));
    bool first = true;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        const Field& field = fields[i];
        const std::optional<std::string_view> value = edit(field);
        if (!value) continue;
        // A member after a kept one is preceded by the separator that stood before it (comma and
        // whitespace); the first kept member by nothing.
        if (!first) out.append(object.substr(fields[i - 1].value_end, field.key_begin - fields[i - 1].value_end));
        first = false;
        out.append(object.substr(field.key_begin, field.value_begin - field.key_begin));
        out.append(*value);
    }
    if (!extra.empty()) {
        if (!first) out += ',';
        out.append(extra);
    }
    out.append(object.substr(fields.back().value_end, close - fields.back().value_end));
    out.append(object.substr(close));
    return out;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    return text;
}

// The inside of array text "[...]", trimmed ("" for an empty array).
std::string_view inside(std::string_view array) {
    array = trim(array);
    if (array.size() < 2) return {};
    return trim(array.substr(1, array.size() - 2));
}

std::string join_arrays(std::string_view a, std::string_view b) {
    const std::string_view first = inside(a);
    const std::string_view second = inside(b);
    std::string out;
    out.reserve(first.size() + second.size() + 3);
    out += '[';
    out.append(first);
    if (!first.empty() && !second.empty()) out += ',';
    out.append(second);
    out += ']';
    return out;
}

// Responses' shorthand: a string input is one user message of that text.
std::string user_message(std::string_view literal) {
    std::string out = R"([{"type":"message","role":"user","content":[{"type":"input_text","text":)";
    out.append(literal);
    out += "}]}]";
    return out;
}

// The `input` value as items; nullopt when absent, null or neither a string nor an array.
std::optional<std::string> items_of(std::string_view input) {
    if (input.empty()) return std::nullopt;
    if (input.front() == '[') return std::string(input);
    if (input.front() == '"') return user_message(input);
    return std::nullopt;
}

bool is_string(std::string_view value, std::string_view plain) {
    return translate::json::is(value, plain);
}

}  // namespace

std::optional<std::string> previous_response_id(std::string_view body) {
    if (!valid(body)) return std::nullopt;
    const auto fields = fields_of(body);
    if (!fields) return std::nullopt;
    const Field* field = find(*fields, "previous_response_id");
    if (!field) return std::nullopt;
    const std::string_view value = value_of(body, *field);
    if (value.empty() || value.front() != '"') return std::nullopt;
    std::string id = translate::json::text_of(value);
    if (id.empty()) return std::nullopt;
    return id;
}

bool store_requested(std::string_view body) {
    if (!valid(body)) return false;
    const auto fields = fields_of(body);
    if (!fields) return false;
    const Field* field = find(*fields, "store");
    return !field || value_of(body, *field) == "true";
}

std::optional<std::string> input_items(std::string_view body) {
    if (!valid(body)) return std::nullopt;
    const auto fields = fields_of(body);
    if (!fields) return std::nullopt;
    const Field* field = find(*fields, "input");
    if (!field) return std::nullopt;
    return items_of(value_of(body, *field));
}

std::string continue_from(std::string_view body, std::string_view prior) {
    if (!valid(body)) return std::string(body);
    const auto fields = fields_of(body);
    if (!fields) return std::string(body);
    const Field* input = find(*fields, "input");
    std::optional<std::string> own;
    bool replace = true;  // an input neither string, array nor null is left for the reader to refuse
    if (input) {
        const std::string_view value = value_of(body, *input);
        own = items_of(value);
        replace = own || value == "null";
    }
    const std::string joined = join_arrays(prior, own ? *own : std::string_view("[]"));
    const auto edit = [&](const Field& field) -> std::optional<std::string_view> {
        if (field.key == "previous_response_id") return std::nullopt;
        if (&field == input && replace) return std::string_view(joined);
        if (field.key == "input" && &field != input) return std::nullopt;  // an earlier duplicate
        return value_of(body, field);
    };
    const std::string extra = input ? std::string() : "\"input\":" + joined;
    return rewrite(body, *fields, edit, extra);
}

std::optional<Output> output_of(std::string_view response_json) {
    if (!valid(response_json)) return std::nullopt;
    std::string_view object = response_json;
    auto fields = fields_of(object);
    if (!fields) return std::nullopt;
    // A response.completed event's data: its `response`.
    if (!find(*fields, "output")) {
        const Field* response = find(*fields, "response");
        if (!response) return std::nullopt;
        object = value_of(object, *response);
        fields = fields_of(object);
        if (!fields) return std::nullopt;
    }
    const Field* id = find(*fields, "id");
    const Field* output = find(*fields, "output");
    if (!id || !output) return std::nullopt;
    const std::string_view id_value = value_of(object, *id);
    const std::string_view items = value_of(object, *output);
    if (id_value.empty() || id_value.front() != '"' || items.empty() || items.front() != '[') return std::nullopt;
    Output result;
    result.id = translate::json::text_of(id_value);
    if (result.id.empty()) return std::nullopt;
    result.items = std::string(items);
    return result;
}

// --- CompletedCapture -----------------------------------------------------------------------

void CompletedCapture::feed(std::string_view bytes) {
    if (found_) return;
    splitter_.feed(bytes, [this](std::string_view, std::string_view data) { on_event(data); });
}

void CompletedCapture::finish() {
    if (found_) return;
    splitter_.finish([this](std::string_view, std::string_view data) { on_event(data); });
}

namespace {

// The text of string member `key` of object text `object` ("" when absent).
std::string text_field(std::string_view object, std::string_view key) {
    const auto fields = fields_of(object);
    const Field* field = fields ? find(*fields, key) : nullptr;
    return field ? translate::json::text_of(value_of(object, *field)) : std::string();
}

}  // namespace

CompletedCapture::Item& CompletedCapture::item(std::string_view id) {
    for (auto it = items_.rbegin(); it != items_.rend(); ++it) {
        if (it->id == id) return *it;
    }
    return items_.emplace_back(Item{std::string(id), {}, {}});
}

std::string CompletedCapture::streamed_items() const {
    std::string out = "[";
    for (const Item& entry : items_) {
        if (entry.done.empty() && entry.parts.empty()) continue;  // begun, never finished
        if (out.size() > 1) out += ',';
        if (!entry.done.empty()) {
            out += entry.done;
            continue;
        }
        // A message that ended with its parts only.
        out += R"({"type":"message","role":"assistant","status":"completed","id":)";
        append_json_string(out, entry.id);
        out += R"(,"content":[)";
        out += entry.parts;
        out += "]}";
    }
    out += ']';
    return out;
}

void CompletedCapture::on_event(std::string_view data) {
    if (found_) return;
    // Most events are deltas: a look for the wanted types' literals (quotes included, so text that
    // merely mentions one, escaped inside a string, does not match) spares them a parse.
    const auto has = [&](std::string_view literal) { return data.find(literal) != std::string_view::npos; };
    if (!has(R"("response.output_item.added")") && !has(R"("response.output_item.done")") &&
        !has(R"("response.content_part.done")") && !has(R"("response.completed")") && !has(R"("response.incomplete")")) {
        return;
    }

    // The splitter leaves SIMDJSON_PADDING readable bytes after `data`.
    simdjson::ondemand::document document;
    if (parser_.iterate(simdjson::padded_string_view(data.data(), data.size(), data.size() + simdjson::SIMDJSON_PADDING))
            .get(document)) {
        return;
    }
    simdjson::ondemand::object event;
    if (document.get_object().get(event)) return;
    std::string_view type;
    if (event.find_field_unordered("type").get_string().get(type)) return;
    const auto raw_member = [&](const char* key, std::string_view& raw) {
        simdjson::ondemand::value value;
        return !event.find_field_unordered(key).get(value) && !translate::json::raw(value).get(raw) && !raw.empty() &&
               raw.front() == '{';
    };
    std::string_view raw;
    if (type == "response.output_item.added" || type == "response.output_item.done") {
        if (!raw_member("item", raw)) return;
        Item& entry = item(text_field(raw, "id"));
        if (type == "response.output_item.done") entry.done.assign(raw);
        return;
    }
    if (type == "response.content_part.done") {
        std::string_view item_id;
        if (event.find_field_unordered("item_id").get_string().get(item_id)) return;
        const std::string id(item_id);
        if (!raw_member("part", raw)) return;
        Item& entry = item(id);
        if (!entry.parts.empty()) entry.parts += ',';
        entry.parts.append(raw);
        return;
    }
    if (type != "response.completed" && type != "response.incomplete") return;
    if (!raw_member("response", raw)) return;
    found_ = true;
    response_.assign(raw);
    const auto fields = fields_of(response_);
    const Field* output = fields ? find(*fields, "output") : nullptr;
    if (output && inside(value_of(response_, *output)).empty()) {
        const std::string streamed = streamed_items();
        if (streamed.size() > 2) {
            const std::string& text = response_;
            response_ = rewrite(text, *fields, [&](const Field& field) -> std::optional<std::string_view> {
                if (&field == output) return std::string_view(streamed);
                return value_of(text, field);
            });
        }
    }
    items_.clear();
    items_.shrink_to_fit();
}

// --- The conversation to store --------------------------------------------------------------

namespace {

// A message's output_text parts, given "annotations":[] where they lack it (OpenAI refuses an
// output_text input part without it; llama-server's parts have none).
std::string message_as_input(std::string_view item) {
    const auto fields = fields_of(item);
    if (!fields) return std::string(item);
    const Field* content = find(*fields, "content");
    if (!content) return std::string(item);
    const std::string_view parts_text = value_of(item, *content);
    std::string parts;
    parts.reserve(parts_text.size() + 32);
    parts += '[';
    bool first = true;
    for (const std::string_view part : elements_of(parts_text)) {
        if (!first) parts += ',';
        first = false;
        const auto part_fields = fields_of(part);
        const Field* type = part_fields ? find(*part_fields, "type") : nullptr;
        if (type && is_string(value_of(part, *type), "output_text") && !find(*part_fields, "annotations")) {
            const std::size_t open = part.find('{');
            parts.append(part.substr(0, open + 1));
            parts += R"("annotations":[],)";
            parts.append(part.substr(open + 1));
        } else {
            parts.append(part);
        }
    }
    parts += ']';
    return rewrite(item, *fields, [&](const Field& field) -> std::optional<std::string_view> {
        if (&field == content) return std::string_view(parts);
        return value_of(item, field);
    });
}

// A reasoning item as input, or nullopt when it carries nothing a stateless upstream can use.
std::optional<std::string> reasoning_as_input(std::string_view item) {
    const auto fields = fields_of(item);
    if (!fields) return std::nullopt;
    const Field* encrypted = find(*fields, "encrypted_content");
    const Field* content = find(*fields, "content");
    const bool has_encrypted = encrypted && value_of(item, *encrypted).size() > 2 && value_of(item, *encrypted).front() == '"';
    const bool has_text = content && value_of(item, *content).front() == '[' && !inside(value_of(item, *content)).empty();
    if (!has_encrypted && !has_text) return std::nullopt;
    const std::string extra = find(*fields, "summary") ? std::string() : std::string(R"("summary":[])");
    return rewrite(
        item, *fields,
        [&](const Field& field) -> std::optional<std::string_view> {
            if (field.key == "encrypted_content" && !has_encrypted) return std::nullopt;  // "" or null
            if (field.key == "content" && !has_text) return std::nullopt;                // null or []
            return value_of(item, field);
        },
        extra);
}

}  // namespace

std::string conversation(std::string_view input_items, std::string_view output_items) {
    if (!valid(output_items) || trim(output_items).front() != '[') return join_arrays(input_items, "[]");
    std::string items = "[";
    bool first = true;
    const auto add = [&](std::string_view item) {
        if (!first) items += ',';
        first = false;
        items.append(item);
    };
    for (const std::string_view item : elements_of(output_items)) {
        const auto fields = fields_of(item);
        const Field* type = fields ? find(*fields, "type") : nullptr;
        if (!type) {
            add(item);
            continue;
        }
        const std::string_view kind = value_of(item, *type);
        if (is_string(kind, "message")) {
            add(message_as_input(item));
        } else if (is_string(kind, "reasoning")) {
            if (auto kept = reasoning_as_input(item)) add(*kept);
        } else {
            add(item);
        }
    }
    items += ']';
    return join_arrays(input_items, items);
}

ApiError not_found(std::string_view id) {
    std::string message = "Previous response with id '";
    message.append(id);
    message += "' not found.";
    return ApiError{404, std::move(message), "invalid_request_error", std::string("previous_response_id"),
                    std::string("previous_response_not_found")};
}

}  // namespace switchyard::conversation
