#include "core/request_id.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/random.hpp"

namespace switchyard {

RequestId::RequestId(std::string_view text) : size_(std::min(text.size(), kMaxSize)) {
    std::memcpy(bytes_.data(), text.data(), size_);
}

RequestId new_request_id() {
    static constexpr char kHex[] = "0123456789abcdef";
    std::array<char, 32> id{};
    char* out = id.data();
    for (int half = 0; half < 2; ++half) {
        std::uint64_t bits = next_random();
        for (int i = 0; i < 8; ++i, bits >>= 8) {
            *out++ = kHex[(bits >> 4) & 0xf];
            *out++ = kHex[bits & 0xf];
        }
    }
    return RequestId(std::string_view(id.data(), id.size()));
}

RequestId request_id_from(std::string_view callers) {
    if (callers.empty() || callers.size() > RequestId::kMaxSize) return new_request_id();
    for (char c : callers) {
        if (c <= 0x20 || c >= 0x7f) return new_request_id();
    }
    return RequestId(callers);
}

}  // namespace switchyard
