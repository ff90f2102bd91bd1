// One ledger row: everything the gateway knows about one request once it is answered.
#pragma once

#include <cstdint>
#include <string>

namespace switchyard::ledger {

struct Row {
    std::int64_t ts_ms = 0;          // when the request arrived, Unix milliseconds
    std::string request_id;
    std::string key;                 // the key's name; empty when callers are not authenticated
    std::string labels;              // the key's labels as a JSON object, "{}" when none
    std::string model;               // the model the caller asked for
    std::string served_model;        // the model that served (a fallback's name when one did); empty: none
    std::string deployment;          // empty when no deployment was reached
    std::string upstream;
    int tier = 0;                    // 0: none
    bool local = false;              // served by a local engine (priced by its cost model)
    int status = 0;                  // HTTP status sent to the caller; 499: the caller left
    bool stream = false;
    std::int64_t prompt_tokens = 0;
    std::int64_t cached_tokens = 0;  // of prompt_tokens, served from the provider's prompt cache
    std::int64_t completion_tokens = 0;
    bool usage_estimated = false;    // the upstream gave no usage; tokens are the gateway's estimate
    double cost_usd = 0;
    double ttft_ms = -1;             // time to the first response byte from the upstream; -1: none
    double total_ms = 0;             // arrival to the last byte sent to the caller
    double overhead_ms = -1;         // the gateway's own share of total_ms (see account/account.hpp); -1: unknown
    int retries = 0;                 // attempts beyond the first
    bool fallback = false;           // served by a fallback model
    std::string error;               // why it failed, for the operator; empty on success
    // The row's own id, given by the ledger's writer before the first write: unique, where the
    // request id need not be (a caller may send the same x-request-id twice). A row written
    // again (replayed from the spool after a write whose outcome was unknown, or after a crash)
    // is kept once. Empty: none (rows written before schema version 3).
    std::string uid;
};

}  // namespace switchyard::ledger
