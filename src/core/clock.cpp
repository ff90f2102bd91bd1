#include "core/clock.hpp"

namespace switchyard {

const Clock& system_clock() {
    static const SystemClock clock;
    return clock;
}

std::int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace switchyard
