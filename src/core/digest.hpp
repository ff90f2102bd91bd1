// SHA-256 for API keys: keys are stored and compared only as hex digests.
#pragma once

#include <string>
#include <string_view>

namespace switchyard {

std::string sha256_hex(std::string_view data);
// A new random API key: "sk-sy-" and 40 hex digits (160 bits from OpenSSL's generator).
std::string generate_api_key();
// Equal, in time that does not depend on where they differ.
bool constant_time_equals(std::string_view a, std::string_view b);

}  // namespace switchyard
