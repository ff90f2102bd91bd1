#include "targets.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "parse/json_locate.hpp"
#include "parse/request.hpp"
#include "translate/dialect.hpp"
#include "translate/stream.hpp"
#include "usage/usage.hpp"

namespace switchyard::fuzz {

namespace {

namespace dom = simdjson::dom;

[[noreturn]] void violated(const std::string& what, std::string_view input) {
    std::string shown;
    for (const char c : input.substr(0, 2000)) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte < 0x7f && byte != '\\') {
            shown.push_back(c);
        } else {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
            shown += escaped;
        }
    }
    std::fprintf(stderr, "fuzz property violated: %s\ninput (%zu bytes): %s\n", what.c_str(), input.size(),
                 shown.c_str());
    std::abort();
}

// The members of a JSON object in order, each value minified: the shape to compare two objects by.
std::vector<std::pair<std::string, std::string>> members(dom::object object) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const dom::key_value_pair field : object) {
        out.emplace_back(std::string(field.key), simdjson::minify(field.value));
    }
    return out;
}

// A JSON text as simdjson minifies it (escapes spelled its way), to compare with members().
std::string normalized(const std::string& json) {
    dom::parser parser;
    dom::element element;
    if (parser.parse(json).get(element) != simdjson::SUCCESS) return "(invalid) " + json;
    return simdjson::minify(element);
}

std::size_t count_key(dom::object object, std::string_view key) {
    std::size_t n = 0;
    for (const dom::key_value_pair field : object) n += field.key == key;
    return n;
}

// The forwarded body, parsed again, says the same as the caller's but for the model (and
// include_usage).
void check_reparsed(parse::Endpoint endpoint, std::string again, const parse::RequestFacts& facts,
                    const std::string& new_model, bool add_usage, std::string_view input) {
    thread_local simdjson::ondemand::parser on_demand;
    auto reparsed = parse::parse_request(endpoint, again, on_demand);
    const auto* facts_again = std::get_if<parse::RequestFacts>(&reparsed);
    if (facts_again == nullptr) {
        violated("the forwarded body is refused: " + std::get<ApiError>(reparsed).message + ": " + again, input);
    }
    if (facts_again->model != new_model || facts_again->stream != facts.stream ||
        facts_again->max_tokens != facts.max_tokens ||
        facts_again->include_usage != (facts.include_usage || add_usage)) {
        violated("the forwarded body's facts differ: " + again, input);
    }
}

// How deep the text's arrays and objects nest (brackets outside strings; the root container is 1).
int nesting(std::string_view text) {
    int depth = 0;
    int deepest = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return deepest;
}

// A \uD800 to \uDFFF escape somewhere in the text.
bool has_surrogate_escape(std::string_view text) {
    for (std::size_t at = text.find("\\u"); at != std::string_view::npos; at = text.find("\\u", at + 1)) {
        if (at + 3 < text.size() && (text[at + 2] == 'd' || text[at + 2] == 'D') &&
            std::string_view("89abcdefABCDEF").find(text[at + 3]) != std::string_view::npos) {
            return true;
        }
    }
    return false;
}

}  // namespace

void parse_request(std::string_view input) {
    if (input.empty()) return;
    const auto options = static_cast<unsigned char>(input[0]);
    const auto endpoint = static_cast<parse::Endpoint>(options % 3);
    const bool add_usage = (options & 4) != 0 && parse::has_stream_options(endpoint);
    const bool same_model = (options & 8) != 0;
    const std::string_view original = input.substr(1);

    std::string body(original);
    thread_local simdjson::ondemand::parser on_demand;
    auto result = parse::parse_request(endpoint, body, on_demand);
    if (body != original) violated("parse_request changed the body's bytes", input);

    thread_local dom::parser checker;
    dom::element root;
    const simdjson::error_code dom_error = checker.parse(original.data(), original.size()).get(root);
    const bool valid_object = dom_error == simdjson::SUCCESS && root.is_object();

    if (const auto* error = std::get_if<ApiError>(&result)) {
        if (error->status != 400 || error->message.empty() || error->type != "invalid_request_error") {
            violated("a refusal is not a 400 invalid_request_error with a message: " + error->message, input);
        }
        // (simdjson's DOM parser takes 1024 levels, the gateway kMaxJsonDepth.)
        if (error->code == "invalid_json" && valid_object && nesting(original) <= parse::kMaxJsonDepth + 1) {
            violated("a valid JSON object was refused as invalid_json: " + error->message, input);
        }
        return;
    }
    const parse::RequestFacts& facts = std::get<parse::RequestFacts>(result);
    // Valid by JSON's grammar (the locator's verdict; simdjson's DOM also refuses numbers it cannot
    // represent and lone surrogates, which the gateway leaves to the upstream).
    if (const auto located = parse::locate_json_error(original)) {
        violated("a body that is not valid JSON was accepted (" + located->what + " at " +
                     std::to_string(located->offset) + ")",
                 input);
    }
    static const std::string other_model = "fuzz/\"model\"\\\xc3\xa9";
    const std::string& new_model = same_model ? facts.model : other_model;
    parse::ForwardBody forwarded;
    parse::forward_body(forwarded, original, facts, new_model, add_usage);
    std::string joined;
    for (std::size_t i = 0; i < forwarded.count; ++i) joined += forwarded.parts[i];
    if (joined.size() != forwarded.size()) violated("ForwardBody::size() is not the size of its parts", input);
    if (same_model && !add_usage && joined != original) violated("a body with nothing to change was changed", input);
    check_reparsed(endpoint, joined, facts, new_model, add_usage, input);

    if (dom_error != simdjson::SUCCESS) {
        if (dom_error != simdjson::NUMBER_ERROR && dom_error != simdjson::STRING_ERROR) {
            violated(std::string("accepted, but simdjson's DOM says ") + simdjson::error_message(dom_error), input);
        }
        return;  // the member-by-member comparison below needs the DOM
    }
    if (!valid_object) violated("a body that is not a JSON object was accepted", input);
    const dom::object object = root.get_object().value_unsafe();
    if (count_key(object, "model") != 1) violated("a body with more than one \"model\" was accepted", input);
    std::string_view model;
    if (object["model"].get_string().get(model) != simdjson::SUCCESS || model != facts.model) {
        violated("the facts' model is not the body's", input);
    }
    if (facts.model_offset > original.size() || facts.model_length > original.size() - facts.model_offset) {
        violated("the model's literal lies outside the body", input);
    }
    dom::parser literal_parser;
    std::string_view literal_value;
    if (literal_parser.parse(std::string(original.substr(facts.model_offset, facts.model_length)))
                .get_string()
                .get(literal_value) != simdjson::SUCCESS ||
        literal_value != facts.model) {
        violated("the model's literal is not where the facts say", input);
    }

    // Forwarded: the model replaced, include_usage switched on when asked, nothing else changed.
    dom::parser forwarded_parser;
    dom::element forwarded_root;
    if (const auto error = forwarded_parser.parse(joined).get(forwarded_root); error != simdjson::SUCCESS) {
        violated(
            std::string("the forwarded body is not valid JSON (") + simdjson::error_message(error) + "): " + joined,
            input);
    }
    dom::object forwarded_object;
    if (forwarded_root.get_object().get(forwarded_object) != simdjson::SUCCESS) {
        violated("the forwarded body is not an object: " + joined, input);
    }
    auto expected = members(object);
    const bool switch_usage = add_usage && !facts.include_usage;
    bool had_options = false;
    for (auto& [key, value] : expected) {
        if (key == "model") {
            std::string literal;
            append_json_string(literal, new_model);
            value = normalized(literal);
        } else if (key == "stream_options" && switch_usage) {
            had_options = true;
            dom::parser options_parser;
            dom::element found;
            const bool parsed = options_parser.parse(value).get(found) == simdjson::SUCCESS;
            std::string rebuilt = R"({"include_usage":true})";  // for null
            if (parsed && found.is_object()) {
                // An include_usage:false already there is turned to true in place, else one is put first.
                std::string inner;
                bool replaced = false;
                for (const auto& [option, option_value] : members(found.get_object().value_unsafe())) {
                    if (!inner.empty()) inner += ",";
                    append_json_string(inner, option);
                    inner += ":";
                    if (option == "include_usage") {
                        inner += "true";
                        replaced = true;
                    } else {
                        inner += option_value;
                    }
                }
                if (!replaced) inner = inner.empty() ? R"("include_usage":true)" : R"("include_usage":true,)" + inner;
                rebuilt = "{" + inner + "}";
            }
            value = normalized(rebuilt);
        }
    }
    if (switch_usage && !had_options)
        expected.insert(expected.begin(), {"stream_options", R"({"include_usage":true})"});
    if (const auto got = members(forwarded_object); got != expected) {
        std::string detail;
        for (std::size_t i = 0; i < std::max(got.size(), expected.size()); ++i) {
            const auto shown = [&](const auto& list) {
                return i < list.size() ? list[i].first + "=" + list[i].second : std::string("(none)");
            };
            if (i >= got.size() || i >= expected.size() || got[i] != expected[i]) {
                detail += "\n  member " + std::to_string(i) + ": " + shown(got) + "\n    expected " + shown(expected);
            }
        }
        violated("the forwarded body's members are not the caller's with the model (and include_usage) changed: " +
                     joined + detail,
                 input);
    }
}

void locate_json_error(std::string_view input) {
    const std::optional<parse::JsonSyntaxError> located = parse::locate_json_error(input);
    thread_local dom::parser checker;
    dom::element root;
    const simdjson::error_code dom_error = checker.parse(input.data(), input.size()).get(root);
    if (dom_error == simdjson::SUCCESS) {
        if (located && nesting(input) <= parse::kMaxJsonDepth + 1) {
            violated(
                "valid JSON, yet an error was located: " + located->what + " at " + std::to_string(located->offset),
                input);
        }
        return;
    }
    if (located) {
        if (located->offset > input.size() || located->what.empty()) {
            violated("a located error lies outside the text or says nothing", input);
        }
        return;
    }
    // What the locator leaves to simdjson's own message: a lone or misplaced surrogate escape is
    // valid by JSON's grammar, yet simdjson refuses it.
    if (dom_error == simdjson::STRING_ERROR && has_surrogate_escape(input)) return;
    switch (dom_error) {
        case simdjson::UTF8_ERROR:
        case simdjson::DEPTH_ERROR:
        case simdjson::NUMBER_ERROR:
        case simdjson::NUMBER_OUT_OF_RANGE:
        case simdjson::CAPACITY:
            return;
        default:
            violated(
                std::string("not valid JSON (") + simdjson::error_message(dom_error) + "), yet no error was located",
                input);
    }
}

namespace {

struct Relayed {
    std::string out;
    usage::Usage usage;
    std::int64_t content_events = 0;
};

// The relay loop of forward::Exchange::run, with the upstream's bytes arriving in reads of the
// sizes `next_read` gives, into a relay buffer of `capacity` bytes.
template <class NextRead>
Relayed relay(std::string_view stream, bool strip, std::size_t capacity, NextRead next_read) {
    Relayed relayed;
    usage::StreamScanner scanner(strip);
    std::vector<char> buffer(capacity);
    char* const data = buffer.data();
    std::size_t carry = 0;
    std::size_t position = 0;
    while (true) {
        const std::size_t got = std::min({next_read(), capacity - carry, stream.size() - position});
        std::memcpy(data + carry, stream.data() + position, got);
        position += got;
        const bool done = position == stream.size();
        std::size_t length = carry + got;
        const std::size_t before = length;
        const std::size_t ready = scanner.feed(data, length);
        if (length > before || ready > length)
            violated("the scanner grew the buffer or readied more than it holds", stream);
        const std::size_t send = (done || length == capacity) ? length : ready;
        relayed.out.append(data, send);
        carry = length - send;
        std::memmove(data, data + send, carry);
        if (done) break;
    }
    relayed.usage = scanner.usage();
    relayed.content_events = scanner.content_events();
    return relayed;
}

bool same(const usage::Usage& a, const usage::Usage& b) {
    return a.found == b.found && a.prompt == b.prompt && a.completion == b.completion && a.cached == b.cached;
}

}  // namespace

void stream_scanner(std::string_view input) {
    if (input.size() < 2) return;
    const bool strip = (input[0] & 1) != 0;
    const auto seed = static_cast<unsigned char>(input[1]);
    const std::string_view stream = input.substr(2);

    // One read of the whole stream.
    const Relayed whole = relay(stream, strip, stream.size() + 1, [] { return std::size_t(-1); });
    if (!strip && whole.out != stream) violated("a stream whose usage is kept was changed", input);
    if (whole.out.size() > stream.size()) violated("the relay added bytes", input);

    // The same stream in reads of 1 to 64 bytes.
    std::uint32_t state = seed * 2654435761u + 1;
    auto small_reads = [&state] {
        state = state * 1664525u + 1013904223u;
        return std::size_t{1} + (state >> 16) % 64;
    };
    const Relayed pieces = relay(stream, strip, stream.size() + 1, small_reads);
    if (pieces.out != whole.out) violated("cutting the stream into reads changed what was relayed", input);
    if (!same(pieces.usage, whole.usage) || pieces.content_events != whole.content_events) {
        violated("cutting the stream into reads changed the usage or the content count", input);
    }

    // A relay buffer smaller than the events: what does not fit goes as it is, nothing is lost.
    const std::size_t capacity = 1 + seed % 48;
    state = seed;
    const Relayed cramped = relay(stream, strip, capacity, small_reads);
    if (!strip && cramped.out != stream) violated("a small relay buffer changed a stream whose usage is kept", input);
    if (cramped.out.size() > stream.size()) violated("a small relay buffer added bytes", input);
}

// --- Translators ----------------------------------------------------------------------------------

namespace {

using translate::Dialect;

// The first byte's pair of dialects: (from, to) among the nine.
std::pair<Dialect, Dialect> dialects_of(unsigned char byte) {
    constexpr Dialect kAll[] = {Dialect::chat, Dialect::responses, Dialect::messages};
    return {kAll[byte % 9 / 3], kAll[byte % 3]};
}

bool valid_json(std::string_view text) {
    thread_local dom::parser parser;
    return parser.parse(simdjson::padded_string(text)).error() == simdjson::SUCCESS;
}

std::string translated(Dialect from, Dialect to, std::string_view first, std::string_view second) {
    thread_local simdjson::ondemand::parser parser;
    translate::AnswerOptions options;
    options.model = "asked";
    options.now = 1700000000;
    options.id_seed = "req-fuzz";
    translate::StreamTranslator translator(from, to, parser, options);
    std::string out;
    translator.feed(first, out);
    translator.feed(second, out);
    translator.end(out);
    return out;
}

// The stream `out` follows `to`'s rules: JSON data (chat's [DONE] aside), Anthropic's event names
// equal to the data's type, Responses' sequence numbers increasing.
void check_stream_grammar(Dialect to, const std::string& out, std::string_view input) {
    translate::SseSplitter splitter;
    std::int64_t last_sequence = -1;
    std::string problem;
    const auto on = [&](std::string_view name, std::string_view data) {
        if (!problem.empty()) return;
        if (to == Dialect::chat && data == "[DONE]") return;
        thread_local dom::parser parser;
        dom::element element;
        if (parser.parse(simdjson::padded_string(data)).get(element) != simdjson::SUCCESS) {
            problem = "a data payload is not JSON: " + std::string(data);
            return;
        }
        if (to == Dialect::chat) return;
        std::string_view type;
        if (element["type"].get(type) != simdjson::SUCCESS || type != name) {
            problem = "an event's name is not its data's type: " + std::string(name) + " " + std::string(data);
            return;
        }
        if (to == Dialect::responses) {
            std::int64_t sequence = -1;
            if (element["sequence_number"].get(sequence) != simdjson::SUCCESS || sequence <= last_sequence) {
                problem = "sequence_number missing or not increasing: " + std::string(data);
                return;
            }
            last_sequence = sequence;
        }
    };
    splitter.feed(out, on);
    splitter.finish(on);
    if (!problem.empty()) violated(problem + "\nin: " + out, input);
}

}  // namespace

void translate_stream(std::string_view input) {
    if (input.empty()) return;
    const auto byte = static_cast<unsigned char>(input[0]);
    const auto [from, to] = dialects_of(byte);
    const std::string_view stream = input.substr(1);
    const std::size_t cut = stream.size() * (byte / 9) / 28;

    const std::string whole = translated(from, to, stream, {});
    if (translated(from, to, stream.substr(0, cut), stream.substr(cut)) != whole) {
        violated("cutting the stream in two reads changed the translation at " + std::to_string(cut), input);
    }

    // A stream whose every event carries JSON (or chat's [DONE]) is translated into one that
    // follows the caller's rules. Garbage inside an event is the upstream's, passed on as it came.
    bool all_json = true;
    translate::SseSplitter splitter;
    const auto on = [&](std::string_view, std::string_view data) {
        if (all_json && !(from == Dialect::chat && data == "[DONE]")) all_json = valid_json(data);
    };
    splitter.feed(stream, on);
    splitter.finish(on);
    if (all_json) check_stream_grammar(to, whole, input);
}

void translate_request(std::string_view input) {
    if (input.empty()) return;
    const auto [from, to] = dialects_of(static_cast<unsigned char>(input[0]));
    const std::string_view body = input.substr(1);

    // What the parse stage lets through: a JSON object whose model is a string.
    {
        thread_local dom::parser parser;
        dom::object object;
        std::string_view model;
        if (parser.parse(simdjson::padded_string(body)).get(object) != simdjson::SUCCESS ||
            object["model"].get(model) != simdjson::SUCCESS) {
            return;
        }
    }
    translate::Request request;
    if (translate::read_request(from, body, request)) return;
    translate::WriteOptions options;
    options.model = "upstream \"model\"";
    std::string out;
    if (translate::write_request(to, request, options, out)) return;
    if (!valid_json(out)) violated("the written request is not JSON: " + out, input);
}

}  // namespace switchyard::fuzz
