// Request ids: the caller's `x-request-id` when it sent a sane one, else a fresh random id.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace switchyard {

// An id kept inline (no allocation per request): at most kMaxSize characters.
class RequestId {
public:
    static constexpr std::size_t kMaxSize = 128;

    RequestId() = default;
    explicit RequestId(std::string_view text);  // `text` at most kMaxSize characters

    std::string_view view() const { return {bytes_.data(), size_}; }
    operator std::string_view() const { return view(); }  // NOLINT: used as text everywhere
    std::size_t size() const { return size_; }
    friend bool operator==(const RequestId& a, const RequestId& b) { return a.view() == b.view(); }

private:
    std::array<char, kMaxSize> bytes_{};
    std::size_t size_ = 0;
};

// A new id: 32 lowercase hex characters from a per-thread random generator.
RequestId new_request_id();

// The caller's id if it is 1..128 printable ASCII characters without spaces, else a new one.
RequestId request_id_from(std::string_view callers);

}  // namespace switchyard
