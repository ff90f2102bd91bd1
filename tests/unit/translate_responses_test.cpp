// The responses dialect's reader and writer (translate/dialect.hpp): PLACEHOLDER for its helper.
#include <gtest/gtest.h>

#include "translate/dialect.hpp"

namespace switchyard::translate {
namespace {

TEST(Translate_responses, Placeholder) { SUCCEED(); }

}  // namespace
}  // namespace switchyard::translate
