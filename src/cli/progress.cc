#include "cli/progress.h"

#include <fmt/format.h>

#include <cstdio>

#include "cli/eta.h"

namespace efs2s3::cli {

ProgressReporter::ProgressReporter(const Context& ctx, std::string verb,
                                   std::function<ProgressSample()> sample)
    : ctx_(ctx),
      verb_(std::move(verb)),
      sample_(std::move(sample)),
      terminal_(ctx.IsTerminal()),
      json_(ctx.global.json),
      start_(std::chrono::steady_clock::now()) {
  if (terminal_ || json_) thread_ = std::thread([this] { Loop(); });
}

ProgressReporter::~ProgressReporter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (terminal_) std::fputs("\r\033[K", stderr);
}

void ProgressReporter::Loop() {
  auto period = terminal_ ? std::chrono::milliseconds(250)
                          : std::chrono::milliseconds(5000);
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, period, [&] { return stop_; })) Draw(false);
}

void ProgressReporter::Draw(bool) {
  ProgressSample s = sample_();
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
          .count();
  double rate = secs > 0 ? static_cast<double>(s.bytes) / secs : 0;
  double files_rate = secs > 0 ? static_cast<double>(s.files) / secs : 0;
  const Estimate est = EstimateProgress(s.bytes, s.bytes_expected, secs);
  if (json_) {
    nlohmann::json j = {{"message_type", "status"},
                        {"action", verb_},
                        {"seconds_elapsed", secs},
                        {"files_done", s.files},
                        {"dirs_done", s.dirs},
                        {"bytes_done", s.bytes},
                        {"bytes_expected", s.bytes_expected},
                        {"errors", s.errors},
                        {"bytes_per_second", rate},
                        {"files_per_second", files_rate}};
    if (est.fraction) j["percent_done"] = *est.fraction;
    if (est.seconds_left) j["seconds_remaining"] = *est.seconds_left;
    ctx_.PrintJson(j);
    return;
  }
  std::string eta;
  if (est.fraction) eta = fmt::format(" {:.1f}%", *est.fraction * 100);
  if (est.seconds_left) eta += " ETA " + FormatDuration(*est.seconds_left);
  int el = static_cast<int>(secs);
  std::string line = fmt::format(
      "[{}:{:02d}] {} {} files, {} dirs, {} ({}/s, {:.0f} files/s){}{}",
      el / 60, el % 60, verb_, s.files, s.dirs, HumanBytes(s.bytes),
      HumanBytes(static_cast<std::uint64_t>(rate)), files_rate, eta,
      s.errors ? fmt::format(", {} errors", s.errors) : "");
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
}

}  // namespace efs2s3::cli
