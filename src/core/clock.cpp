#include "core/clock.hpp"

namespace switchyard {

const Clock& system_clock() {
    static const SystemClock clock;
    return clock;
}

}  // namespace switchyard
