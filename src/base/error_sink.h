// Where a run's per-item errors go (a file that could not be read, restored,
// copied): counted, handed to the caller's callback, and, when the callback
// refuses one (returns an error), the run stops: Stopped() turns true at once,
// so no new work starts, and the run returns the refusal. An error that is not
// an item's (the destination failed: every later item would meet it too) stops
// the run by Stop, once, without being counted or handed to the callback.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "base/result.h"

namespace efs2s3 {

// Called for every per-item error, from many threads at once. Ok: go on.
// An error: stop the run, which then fails with it.
using OnError =
    std::function<Result<void>(const std::string& path, const Error& error)>;

class ErrorSink {
 public:
  // `cancel` (may be null) stops the run too, from outside.
  ErrorSink(const OnError& callback, const std::atomic<bool>* cancel)
      : callback_(callback), cancel_(cancel) {}

  void Report(const std::string& path, const Error& e) {
    ++count_;
    if (!callback_) return;
    Result<void> go_on = callback_(path, e);
    if (go_on) return;
    std::lock_guard lock(mu_);
    if (!refusal_) refusal_ = go_on.error();
    refused_ = true;
  }
  // The run cannot go on because of e, which is no item's own error: stops it,
  // and the run fails with the first such error (or refusal). Thread-safe.
  void Stop(const Error& e) {
    std::lock_guard lock(mu_);
    if (!refusal_) refusal_ = e;
    refused_ = true;
  }
  bool Stopped() const {
    return refused_.load() || (cancel_ && cancel_->load());
  }
  // The error the run was stopped with (the callback's refusal or Stop's), if
  // it was.
  std::optional<Error> refusal() const {
    std::lock_guard lock(mu_);
    return refusal_;
  }
  std::uint64_t count() const { return count_.load(); }

 private:
  const OnError& callback_;
  const std::atomic<bool>* cancel_;
  std::atomic<std::uint64_t> count_{0};
  std::atomic<bool> refused_{false};
  mutable std::mutex mu_;
  std::optional<Error> refusal_;
};

}  // namespace efs2s3
