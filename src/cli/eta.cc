#include "cli/eta.h"

#include <fmt/format.h>

#include <cmath>

namespace efs2s3::cli {

Estimate EstimateProgress(std::uint64_t done, std::uint64_t expected,
                          double seconds_elapsed) {
  Estimate e;
  if (expected == 0 || done >= expected) return e;
  e.fraction = static_cast<double>(done) / static_cast<double>(expected);
  if (done == 0 || seconds_elapsed <= 0) return e;
  const double rate = static_cast<double>(done) / seconds_elapsed;
  e.seconds_left = static_cast<std::int64_t>(
      std::ceil(static_cast<double>(expected - done) / rate));
  return e;
}

std::string FormatDuration(std::int64_t s) {
  if (s < 0) s = 0;
  return fmt::format("{}:{:02d}:{:02d}", s / 3600, s / 60 % 60, s % 60);
}

}  // namespace efs2s3::cli
