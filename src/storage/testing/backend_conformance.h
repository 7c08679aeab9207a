// The storage conformance suite: every Backend and every decorator must pass
// it.
//
// Instantiate it beside the backend:
//   INSTANTIATE_TEST_SUITE_P(Local, BackendConformanceTest,
//                            ::testing::Values(BackendUnderTest{"local",
//                            factory}));
// and link the test binary with the OBJECT library efs2s3_storage_conformance.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "storage/backend.h"

namespace efs2s3::storage {

struct BackendUnderTest {
  std::string name;
  // Returns a fresh, empty, Create()d namespace per call; nullptr means skip
  // (e.g. no S3 server configured).
  std::function<std::unique_ptr<Backend>()> create;
};

class BackendConformanceTest
    : public ::testing::TestWithParam<BackendUnderTest> {
 protected:
  void SetUp() override;
  std::unique_ptr<Backend> backend_;
};

inline std::string BackendName(
    const ::testing::TestParamInfo<BackendUnderTest>& info) {
  return info.param.name;
}

}  // namespace efs2s3::storage
