// The two shapes of concurrency in efs2s3: a fixed pool of worker threads
// with a bounded task queue (ThreadPool), for work that goes on through a run,
// and a fork-join loop (ParallelFor), for "these n things, k at a time".
//
// ThreadPool:
//
// Submit() blocks while the queue is full, so producers cannot run ahead of the
// workers and memory stays bounded. Tasks must not Submit() to the same pool
// and then wait for the result (that can deadlock when every worker waits).
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace efs2s3 {

class ThreadPool {
 public:
  explicit ThreadPool(int threads, size_t max_queue = 1024)
      : max_queue_(max_queue) {
    if (threads < 1) threads = 1;
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { Loop(); });
  }
  ~ThreadPool() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  template <class F>
  auto Submit(F&& f) -> std::future<decltype(f())> {
    using R = decltype(f());
    auto task = std::make_shared<std::packaged_task<R()>>(std::forward<F>(f));
    std::future<R> fut = task->get_future();
    {
      std::unique_lock lock(mu_);
      space_.wait(lock, [&] { return queue_.size() < max_queue_ || stop_; });
      queue_.emplace_back([task] { (*task)(); });
    }
    cv_.notify_one();
    return fut;
  }

 private:
  void Loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      space_.notify_one();
      job();
    }
  }

  size_t max_queue_;
  std::mutex mu_;
  std::condition_variable cv_, space_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

// Runs fn(0..n-1) on up to `threads` threads (the caller's among them) and
// returns when all have run. fn may itself call ParallelFor: each call has
// threads of its own, so nesting cannot deadlock.
inline void ParallelFor(size_t n, int threads,
                        const std::function<void(size_t)>& fn) {
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < n; i = next++) fn(i);
  };
  size_t t = std::min<size_t>(n, static_cast<size_t>(std::max(1, threads)));
  std::vector<std::thread> pool;
  for (size_t k = 1; k < t; ++k) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();
}

}  // namespace efs2s3
