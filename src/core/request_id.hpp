// Request ids: the caller's `x-request-id` when it sent a sane one, else a fresh random id.
#pragma once

#include <string>
#include <string_view>

namespace switchyard {

// A new id: 32 lowercase hex characters from a per-thread random generator.
std::string new_request_id();

// The caller's id if it is 1..128 printable ASCII characters without spaces, else a new one.
std::string request_id_from(std::string_view callers);

}  // namespace switchyard
