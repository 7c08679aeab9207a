// Test hooks: points at which an end-to-end test can hold the process, so that
// a test of concurrent commands waits on an event instead of racing a clock.
//
// Compiled in only with the CMake option EFS2S3_TEST_HOOKS (on by default in a
// development build; packagers turn it off). Even then a gate does nothing
// unless the environment variable EFS2S3_TEST_GATE_<POINT> names a FIFO.
#pragma once

#include <string_view>

namespace efs2s3::test_hooks {

// True when this binary was built with the hooks.
bool Enabled();

// At the point named `point` ("LOCKED", ...): when EFS2S3_TEST_GATE_<point>
// names a FIFO, opens it for reading, which returns once the test opens it for
// writing (so the test knows the point is reached), then reads it to end of
// file (the test closes its end to let the process go on). Otherwise, and at
// every later call for the same point, returns at once.
void Gate(std::string_view point);

}  // namespace efs2s3::test_hooks
