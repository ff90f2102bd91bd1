// libFuzzer's entry point for one target, named by SWITCHYARD_FUZZ_TARGET (see CMakeLists.txt).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    switchyard::fuzz::SWITCHYARD_FUZZ_TARGET(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
