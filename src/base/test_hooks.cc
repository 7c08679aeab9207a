#include "base/test_hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

extern char** environ;

#include <cstdlib>
#include <mutex>
#include <set>
#include <string>

namespace efs2s3::test_hooks {

#ifdef EFS2S3_TEST_HOOKS
bool Enabled() { return true; }

void Gate(std::string_view point) {
  // Called once per file saved: without any gate in the environment (every
  // run but a test's), one load of a flag.
  static const bool any_gate = [] {
    for (char** e = environ; e && *e; ++e)
      if (std::string_view(*e).starts_with("EFS2S3_TEST_GATE_")) return true;
    return false;
  }();
  if (!any_gate) return;
  std::string var = "EFS2S3_TEST_GATE_" + std::string(point);
  const char* fifo = std::getenv(var.c_str());
  if (!fifo || !*fifo) return;
  {
    // Once per process and point: after the test closed its end, a second open
    // would wait for a writer that never comes.
    static std::mutex mu;
    static std::set<std::string> passed;
    std::lock_guard lock(mu);
    if (!passed.insert(var).second) return;
  }
  int fd;
  do {
    fd = ::open(fifo, O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return;
  char buf[64];
  ssize_t n;
  do {
    n = ::read(fd, buf, sizeof buf);
  } while (n > 0 || (n < 0 && errno == EINTR));
  ::close(fd);
}
#else
bool Enabled() { return false; }
void Gate(std::string_view) {}
#endif

}  // namespace efs2s3::test_hooks
