#include "loadgen/workload.hpp"

#include <simdjson.h>

#include <array>
#include <charconv>
#include <fstream>

#include "core/error.hpp"

namespace switchyard::loadgen {

namespace {

// Common English words: synthetic prompts are plain text whose length in words is the input
// length asked for (a word is about 1.3 tokens for real tokenizers, exactly one for switchyard-sim).
constexpr std::array<std::string_view, 64> kWords = {
    "the",     "of",     "and",    "to",     "in",      "is",     "for",    "on",     "that",   "with",  "as",
    "it",      "was",    "by",     "from",   "at",      "this",   "be",     "are",    "or",     "an",    "which",
    "system",  "data",   "model",  "time",   "network", "server", "request", "answer", "queue", "cache", "token",
    "stream",  "engine", "memory", "packet", "signal",  "river",  "garden", "light",  "paper",  "music", "window",
    "market",  "city",   "story",  "water",  "number",  "change", "public", "result", "energy", "simple", "world",
    "history", "common", "person", "level",  "value",   "figure", "method", "process", "reason"};

void append_uint(std::string& out, std::uint64_t value) {
    char buf[24];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    (void)ec;
    out.append(buf, end);
}

}  // namespace

std::string json_quote(std::string_view text) {
    std::string out;
    append_json_string(out, text);
    return out;
}

Workload::Workload(WorkloadOptions options) : options_(std::move(options)) {
    if (options_.prefix_len > 0) {
        Rng rng = Rng::derive(options_.seed, 0xfeedULL);
        words(rng, options_.prefix_len, system_prompt_);
    }
}

bool Workload::needs_replies() const {
    if (!options_.file.empty()) {
        for (const auto& entry : options_.file) {
            if (entry.turns.size() > 1) return true;
        }
        return false;
    }
    return options_.turns > 1;
}

void Workload::words(Rng& rng, std::uint32_t count, std::string& out) const {
    for (std::uint32_t i = 0; i < count; ++i) {
        if (i > 0) out.push_back(' ');
        out.append(kWords[rng.below(kWords.size())]);
    }
}

void Workload::begin(std::uint64_t id, Session& session) const {
    session.id = id;
    session.turn = 0;
    session.history.clear();
    session.entry = nullptr;
    if (!options_.file.empty()) {
        session.entry = &options_.file[id % options_.file.size()];
        session.turns = session.entry->messages.empty() ? static_cast<std::uint32_t>(session.entry->turns.size()) : 1;
    } else {
        session.turns = options_.turns;
    }
}

void Workload::reply(Session& session, std::string_view raw_text) const {
    if (options_.endpoint == Endpoint::chat) {
        session.history += R"(,{"role":"assistant","content":")";
        session.history.append(raw_text);
        session.history += "\"}";
    } else {
        session.history.append(raw_text);
    }
}

bool Workload::next(Session& session, std::string_view model_json, std::string& body) const {
    if (session.turn >= session.turns) return false;
    Rng rng = Rng::derive(options_.seed, session.id * 1024 + session.turn);
    const bool chat = options_.endpoint == Endpoint::chat;
    const FileEntry* entry = session.entry;

    // Extend the conversation with this turn's user text.
    if (entry == nullptr || entry->messages.empty()) {
        if (chat) {
            if (session.turn == 0 && !system_prompt_.empty()) {
                session.history += R"({"role":"system","content":")";
                session.history += system_prompt_;
                session.history += "\"}";
            }
            if (!session.history.empty()) session.history.push_back(',');
            session.history += R"({"role":"user","content":")";
        } else {
            if (session.turn == 0 && !system_prompt_.empty()) session.history += system_prompt_;
            if (!session.history.empty()) session.history += "\\n\\n";
        }
        if (entry != nullptr) {
            session.history += entry->turns[session.turn];
        } else {
            words(rng, options_.input_len.sample(rng), session.history);
        }
        if (chat) {
            session.history += "\"}";
        } else {
            session.history += "\\n\\n";
        }
    }

    std::uint32_t max_tokens = options_.output_len.sample(rng);
    if (entry != nullptr && entry->max_tokens) max_tokens = *entry->max_tokens;

    body.clear();
    body += R"({"model":)";
    body.append(model_json);
    if (chat) {
        body += R"(,"messages":[)";
        body += entry != nullptr && !entry->messages.empty() ? std::string_view(entry->messages).substr(1, entry->messages.size() - 2)
                                                             : std::string_view(session.history);
        body += "]";
    } else {
        body += R"(,"prompt":")";
        body += session.history;
        body += "\"";
    }
    body += ",\"";
    body += options_.max_tokens_field;
    body += "\":";
    append_uint(body, max_tokens);
    if (options_.stream) {
        body += options_.include_usage ? R"(,"stream":true,"stream_options":{"include_usage":true})" : R"(,"stream":true)";
    } else {
        body += R"(,"stream":false)";
    }
    if (options_.ignore_eos) body += R"(,"ignore_eos":true)";
    if (!options_.extra_body.empty()) {
        body += ',';
        body += options_.extra_body;
    }
    body += '}';
    ++session.turn;
    return true;
}

std::optional<std::vector<FileEntry>> load_prompts_file(const std::string& path, std::string* why) {
    namespace od = simdjson::ondemand;
    std::ifstream in(path);
    if (!in) {
        *why = "cannot open " + path;
        return std::nullopt;
    }
    od::parser parser;
    std::vector<FileEntry> entries;
    std::string line;
    std::size_t number = 0;
    auto fail = [&](const std::string& reason) -> std::optional<std::vector<FileEntry>> {
        *why = path + ":" + std::to_string(number) + ": " + reason;
        return std::nullopt;
    };
    while (std::getline(in, line)) {
        ++number;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        simdjson::padded_string padded(line);
        od::document doc;
        od::object object;
        if (parser.iterate(padded).get(doc) != simdjson::SUCCESS || doc.get_object().get(object) != simdjson::SUCCESS) {
            return fail("not a JSON object");
        }
        FileEntry entry;
        for (auto field : object) {
            std::string_view key;
            if (field.unescaped_key().get(key) != simdjson::SUCCESS) return fail("malformed key");
            od::value value = field.value();
            std::string_view raw;
            if (key == "prompt") {
                raw = value.raw_json_token();
                while (!raw.empty() && raw.back() != '"') raw.remove_suffix(1);
                if (raw.size() < 2 || raw.front() != '"') return fail("'prompt' must be a string");
                entry.turns.emplace_back(raw.substr(1, raw.size() - 2));
            } else if (key == "turns") {
                od::array turns;
                if (value.get_array().get(turns) != simdjson::SUCCESS) return fail("'turns' must be an array of strings");
                for (auto turn : turns) {
                    if (turn.raw_json_token().get(raw) != simdjson::SUCCESS) return fail("malformed turn");
                    while (!raw.empty() && raw.back() != '"') raw.remove_suffix(1);
                    if (raw.size() < 2 || raw.front() != '"') return fail("'turns' must be an array of strings");
                    entry.turns.emplace_back(raw.substr(1, raw.size() - 2));
                }
            } else if (key == "messages") {
                od::array messages;
                if (value.get_array().get(messages) != simdjson::SUCCESS) return fail("'messages' must be an array");
                if (messages.raw_json().get(raw) != simdjson::SUCCESS) return fail("malformed messages");
                while (!raw.empty() && raw.back() != ']') raw.remove_suffix(1);
                entry.messages = std::string(raw);
            } else if (key == "max_tokens" || key == "output_tokens" || key == "output_len") {
                std::uint64_t n = 0;
                if (value.get_uint64().get(n) != simdjson::SUCCESS) return fail("'" + std::string(key) + "' must be a non-negative integer");
                entry.max_tokens = static_cast<std::uint32_t>(n);
            }
        }
        if (entry.turns.empty() && entry.messages.empty()) return fail("needs \"prompt\", \"messages\" or \"turns\"");
        if (!entry.turns.empty() && !entry.messages.empty()) return fail("has both \"messages\" and a prompt");
        if (entry.messages.size() < 2) entry.messages.clear();
        entries.push_back(std::move(entry));
    }
    if (entries.empty()) {
        *why = path + ": no prompts";
        return std::nullopt;
    }
    return entries;
}

}  // namespace switchyard::loadgen
