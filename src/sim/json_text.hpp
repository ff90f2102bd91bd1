// JSON text output: string escaping that always yields valid JSON, even for request bytes that are
// not UTF-8 (raw bodies are echoed back by /sim/stats).
#pragma once

#include <string>
#include <string_view>

namespace sim::json {

// Appends text as a quoted JSON string. Invalid UTF-8 is kept readable by escaping each byte >= 0x80
// as \u00XX (that is, reading the text as Latin-1).
void append_string(std::string& out, std::string_view text);

}  // namespace sim::json
