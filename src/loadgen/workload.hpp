// What `switchyard bench` sends: request bodies for the chat or completions endpoint, built from
// synthetic prompts (input and output lengths drawn from distributions, seeded), from a JSONL file
// of prompts, message lists or multi-turn scripts, or as multi-turn sessions in which each turn
// resends the whole conversation so far (a growing shared prefix, as prompt caches see it). Bodies
// are written into a caller's reusable string; text from files and replies stays JSON-escaped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loadgen/random.hpp"

namespace switchyard::loadgen {

enum class Endpoint { chat, completions };

// One line of a prompts file: {"prompt": "..."}, {"messages": [...]}, or {"turns": ["...", ...]},
// each with an optional "max_tokens" (or "output_tokens").
struct FileEntry {
    std::vector<std::string> turns;  // raw JSON string contents (escaped), one per user turn
    std::string messages;            // raw JSON array, sent as it is (chat only)
    std::optional<std::uint32_t> max_tokens;
};

struct WorkloadOptions {
    Endpoint endpoint = Endpoint::chat;
    bool stream = true;
    bool include_usage = true;
    std::uint64_t seed = 0;
    LengthDistribution input_len = LengthDistribution::fixed_at(128);
    LengthDistribution output_len = LengthDistribution::fixed_at(128);
    std::uint32_t prefix_len = 0;  // words of a system prompt shared by every session
    std::uint32_t turns = 1;       // turns per synthetic session
    std::string max_tokens_field = "max_tokens";
    bool ignore_eos = false;
    std::string extra_body;        // raw JSON members appended to every body ("\"temperature\":0")
    std::vector<FileEntry> file;   // when non-empty, prompts come from here
};

// A conversation in progress (one per session coroutine; reused from session to session).
struct Session {
    std::uint64_t id = 0;
    std::uint32_t turn = 0;
    std::uint32_t turns = 1;
    const FileEntry* entry = nullptr;
    std::string history;  // chat: the messages so far, comma-separated JSON objects; completions: prompt text
};

class Workload {
public:
    explicit Workload(WorkloadOptions options);

    const WorkloadOptions& options() const { return options_; }
    // Sets up `session` as session number `id` (which file entry, how many turns).
    void begin(std::uint64_t id, Session& session) const;
    // Writes the JSON body of the session's next turn for `model` into `body`. False when the
    // session has no turns left.
    bool next(Session& session, std::string_view model_json, std::string& body) const;
    // Adds the assistant's reply (raw JSON-escaped text) to the conversation.
    void reply(Session& session, std::string_view raw_text) const;
    // Whether replies must be collected (multi-turn sessions).
    bool needs_replies() const;

private:
    void words(Rng& rng, std::uint32_t count, std::string& out) const;

    WorkloadOptions options_;
    std::string system_prompt_;
};

// Loads a JSONL prompts file; on failure returns nullopt and sets `why` (with the line number).
std::optional<std::vector<FileEntry>> load_prompts_file(const std::string& path, std::string* why);

// `text` as a JSON string literal, quotes included.
std::string json_quote(std::string_view text);

}  // namespace switchyard::loadgen
