// The price catalog: dollars per million input, cached-input and output tokens for cloud models,
// loaded from a YAML file (data/prices.yaml). Used by `switchyard bench` to put a cost on a run,
// and meant for the cost ledger as well. Pure data and arithmetic, no I/O beyond reading the file.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::pricing {

// US dollars per million tokens.
struct Price {
    double input = 0;         // uncached prompt tokens
    double cached_input = 0;  // prompt tokens served from the provider's prompt cache
    double output = 0;        // completion tokens (reasoning tokens included, as providers bill them)
    std::string date;         // when the price was read, YYYY-MM-DD
    std::string source;       // where it was read
    double web_search = 0;    // dollars per 1,000 searches the provider's web search tool runs (Anthropic's)

    // Dollars for a usage: `prompt_tokens` includes `cached_tokens`, as OpenAI reports it.
    double cost(std::uint64_t prompt_tokens, std::uint64_t cached_tokens, std::uint64_t completion_tokens) const;
};

class Catalog {
public:
    // Adds or replaces a model's price.
    void set(std::string model, Price price);
    // The price of `model`: an exact entry, else the longest entry that is a prefix of it followed by
    // '-' or '@' (so "gpt-4o-mini-2024-07-18" finds "gpt-4o-mini"), after dropping a provider prefix
    // such as "openai/". nullptr when unknown.
    const Price* find(std::string_view model) const;
    const std::map<std::string, Price, std::less<>>& entries() const { return prices_; }
    bool empty() const { return prices_.empty(); }

private:
    std::map<std::string, Price, std::less<>> prices_;
};

struct LoadResult {
    std::optional<Catalog> catalog;
    std::vector<std::string> errors;  // "line L, column C: message"
};

// Parses a catalog:
//   models:
//     gpt-4o-mini: {input: 0.15, cached_input: 0.075, output: 0.60, date: 2026-06-01, source: https://...}
// `cached_input` defaults to `input`, `web_search` (dollars per 1,000 searches) to 0; `date` and
// `source` are required, so every number says where it came from.
LoadResult parse_catalog(std::string_view yaml_text);
LoadResult load_catalog_file(const std::string& path);

// Parses a command-line override "MODEL=IN,OUT" or "MODEL=IN,OUT,CACHED" (dollars per million).
// Returns the model name and price, or nullopt with `why` set.
std::optional<std::pair<std::string, Price>> parse_price_override(std::string_view text, std::string* why);

}  // namespace switchyard::pricing
