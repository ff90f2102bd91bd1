// Stage "conversation": the Responses API's stored state, kept by the gateway itself. A request with
// `previous_response_id` continues a response the gateway answered and stored; no upstream it speaks
// to (llama-server's Responses, chat, Anthropic) keeps that state, so the gateway does, in memory,
// bounded in bytes and age. Besides the store: the pure body surgery that rebuilds such a request.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <simdjson.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "translate/stream.hpp"

namespace switchyard::conversation {

// Stored conversations of the Responses API, by response id. Bounded by total bytes (least recently
// used evicted first) and by age (ttl, counted from put); safe to use from several threads (one
// mutex; entries are looked up and put once per request, never on the per-event path). An entry's
// bytes are its id's and its items' lengths (the containers' own overhead is not counted).
class Store {
public:
    Store(std::size_t max_bytes, std::chrono::seconds ttl, const Clock& clock);

    // Remember response `id`: the conversation as Responses input items (a JSON array text) up to and
    // including that response's output items. An entry larger than max_bytes is not kept (and an
    // older entry of the same id is dropped: it no longer is that response's conversation).
    void put(std::string id, std::string items);
    // The conversation stored for `id` (JSON array text), or nullopt when unknown, evicted or expired.
    // A hit makes the entry the most recently used; its age still counts from its put.
    std::optional<std::string> get(std::string_view id);

    std::size_t bytes() const;    // for /metrics
    std::size_t entries() const;  // for /metrics

private:
    struct Entry {
        std::string id;
        std::string items;
        SteadyTime stored_at;
        std::size_t size() const { return id.size() + items.size(); }
    };
    using Lru = std::list<Entry>;  // front: most recently used

    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
    };

    void erase(Lru::iterator at);  // mutex_ held
    bool expired(const Entry& entry, SteadyTime now) const { return now - entry.stored_at > ttl_; }

    const std::size_t max_bytes_;
    const std::chrono::seconds ttl_;
    const Clock& clock_;

    mutable std::mutex mutex_;
    Lru lru_;
    // Keys view the entries' own ids (list nodes never move).
    std::unordered_map<std::string_view, Lru::iterator, Hash, std::equal_to<>> by_id_;
    std::size_t bytes_ = 0;
};

// The `previous_response_id` of a Responses request body, when it is a non-empty string (null, ""
// or absent: the request starts a conversation).
std::optional<std::string> previous_response_id(std::string_view body);
// Whether the caller asked for the response to be stored: `store` absent (OpenAI's default is true)
// or true.
bool store_requested(std::string_view body);

// The `input` of a Responses request body as an array of items (JSON array text): an input string
// becomes [{"type":"message","role":"user","content":[{"type":"input_text","text":...}]}] (its literal
// kept as it is); an array is kept as it is. nullopt when the body has no input or is not valid.
std::optional<std::string> input_items(std::string_view body);

// The body of a request that continues `prior` (the stored conversation, JSON array text): its
// input becomes prior's items followed by its own (a string input as one user message), and
// previous_response_id is removed; every other field is kept byte for byte. (Instructions are not
// inherited, as OpenAI documents: they are a field, not an item.) A body that is not a JSON object
// is returned unchanged, for the dialect's reader to refuse.
std::string continue_from(std::string_view body, std::string_view prior);

// The output items (JSON array text) and id of a Responses response object (a whole answer body, or
// the `response` of a response.completed event's data; the event's data itself is accepted too).
struct Output {
    std::string id;
    std::string items;
};
std::optional<Output> output_of(std::string_view response_json);

// Collects, from a Responses SSE stream's bytes as they are relayed (cut anywhere), the data of its
// response.completed (or response.incomplete) event: the `response` object inside it, for output_of.
// Keeps nothing else but the items as they finish: llama-server's response.completed carries an
// empty `output` (and its messages end with content_part.done, without output_item.done), so the
// items it streamed, in the order they were added, are then put into response() in its stead.
class CompletedCapture {
public:
    void feed(std::string_view bytes);
    void finish();  // the stream ended (an event without its blank line still counts)
    const std::string& response() const { return response_; }
    bool found() const { return found_; }

private:
    struct Item {
        std::string id;
        std::string done;   // the item of its output_item.done
        std::string parts;  // else its content_part.done parts, joined with commas
    };
    void on_event(std::string_view data);
    Item& item(std::string_view id);
    std::string streamed_items() const;  // a JSON array

    translate::SseSplitter splitter_;
    simdjson::ondemand::parser parser_;
    std::vector<Item> items_;
    std::string response_;
    bool found_ = false;
};

// The conversation to store after a request with `input` items (its own input, prior included) was
// answered with `output` items: the two arrays joined. Output items are made valid as input items:
// messages keep role assistant and their output_text parts (given "annotations":[] where missing,
// which OpenAI requires); function_call and other tool items are kept; a reasoning item is kept when
// it carries encrypted_content or reasoning text (an empty encrypted_content is dropped), and left
// out when it carries neither, since a stateless upstream could only look it up by id and fails
// ("Item with id 'rs_...' not found"). Invalid output leaves the input alone.
std::string conversation(std::string_view input_items, std::string_view output_items);

// OpenAI's error for an unknown id: 404, invalid_request_error, param previous_response_id, code
// previous_response_not_found, message "Previous response with id 'X' not found."
ApiError not_found(std::string_view id);

}  // namespace switchyard::conversation
