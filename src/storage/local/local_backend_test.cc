#include "storage/local/local_backend.h"

#include <stdlib.h>

#include "storage/mem/mem_backend.h"
#include "storage/testing/backend_conformance.h"

namespace efs2s3::storage {
namespace {

std::unique_ptr<Backend> FreshLocal() {
  char tmpl[] = "/tmp/efs2s3-local-XXXXXX";
  EFS2S3_CHECK(::mkdtemp(tmpl) != nullptr);
  auto b = NewLocalBackend(std::string(tmpl) + "/repo");
  EFS2S3_CHECK(b->Create().has_value());
  return b;
}

INSTANTIATE_TEST_SUITE_P(
    Local, BackendConformanceTest,
    ::testing::Values(BackendUnderTest{"local", FreshLocal},
                      BackendUnderTest{"mem", NewMemBackend}),
    BackendName);

}  // namespace
}  // namespace efs2s3::storage
