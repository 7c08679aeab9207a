// The estimate of a progress line: how far along and how long still, from the
// bytes done, the bytes expected (a parent snapshot's size, a restore's total)
// and the time so far. A pure function, unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace efs2s3::cli {

struct Estimate {
  std::optional<double> fraction;  // 0..1 of the expected bytes done
  std::optional<std::int64_t> seconds_left;
};

// Nothing is estimated without an expectation (expected 0), and once the
// bytes done reach it (the expectation was low: the tree grew, and there is
// no telling by how much). The time left is the bytes left at the average
// rate so far; none before anything moved.
Estimate EstimateProgress(std::uint64_t done, std::uint64_t expected,
                          double seconds_elapsed);

// "H:MM:SS".
std::string FormatDuration(std::int64_t seconds);

}  // namespace efs2s3::cli
