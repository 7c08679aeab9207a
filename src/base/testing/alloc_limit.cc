// Linked into the property tests (efs2s3_property_test in CMakeLists.txt): an
// allocation larger than kAllocLimit fails the test instead of succeeding
// quietly. A decoder that sizes a buffer from a length field before checking
// it against the input would otherwise pass in a normal build (a large
// zero-filled allocation is cheap until touched). The decoders' inputs in
// these tests are a few KiB, so nothing legitimate comes near the limit.
//
// Under AddressSanitizer, which replaces operator new itself, the same limit
// is its max_allocation_size_mb (and covers malloc too).
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace {
constexpr std::size_t kAllocLimit = std::size_t{256} << 20;
}  // namespace

#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __asan_default_options() {
  return "max_allocation_size_mb=256";
}
#else
void* operator new(std::size_t n) {
  if (n > kAllocLimit) {
    std::fprintf(stderr, "property test: allocation of %zu bytes refused\n", n);
    throw std::bad_alloc();
  }
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#endif
