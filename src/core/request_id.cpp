#include "core/request_id.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>

namespace switchyard {

RequestId::RequestId(std::string_view text) : size_(std::min(text.size(), kMaxSize)) {
    std::memcpy(bytes_.data(), text.data(), size_);
}

RequestId new_request_id() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char kHex[] = "0123456789abcdef";
    std::array<char, 32> id{};
    for (int half = 0; half < 2; ++half) {
        std::uint64_t bits = rng();
        for (int i = 0; i < 16; ++i) {
            id[static_cast<std::size_t>(half * 16 + i)] = kHex[bits & 0xf];
            bits >>= 4;
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
