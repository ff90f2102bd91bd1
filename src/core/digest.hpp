// SHA-256 for API keys (stored and compared only as hex digests) and the ids translated answers
// derive from a request's id.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace switchyard {

using Sha256 = std::array<unsigned char, 32>;
Sha256 sha256(std::string_view data);
std::string sha256_hex(std::string_view data);
// `n` bytes as lower-case hex digits, appended.
void append_hex(std::string& out, const unsigned char* bytes, std::size_t n);
// A new random API key: "sk-sy-" and 40 hex digits (160 bits from OpenSSL's generator).
std::string generate_api_key();
// Equal, in time that does not depend on where they differ.
bool constant_time_equals(std::string_view a, std::string_view b);

}  // namespace switchyard
