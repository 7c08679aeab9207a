// Live progress on a terminal (stderr, redrawn every 250 ms) or JSON lines with
// --json (every 5 s); nothing otherwise.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "cli/context.h"

namespace efs2s3::cli {

struct ProgressSample {
  std::uint64_t files = 0, dirs = 0, bytes = 0, bytes_expected = 0, errors = 0;
};

class ProgressReporter {
 public:
  ProgressReporter(const Context& ctx, std::string verb,
                   std::function<ProgressSample()> sample);
  ~ProgressReporter();  // stops and clears the line

 private:
  void Loop();
  void Draw(bool final);
  const Context& ctx_;
  std::string verb_;
  std::function<ProgressSample()> sample_;
  bool terminal_, json_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace efs2s3::cli
