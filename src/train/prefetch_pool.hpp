#pragma once
// Items (batches) prepared ahead by worker threads, delivered in order.
// Item k is prepare(k), a pure function of k, so what next() returns does
// not depend on the thread count or on scheduling; seek(k) restarts the
// sequence at item k. With no threads, next() prepares each item itself.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace cspnet {

template <class Item>
class PrefetchPool {
 public:
  using Prepare = std::function<Item(int64_t ordinal)>;

  // `prefetch`: items prepared ahead (the bounded queue); 0 = 2 * threads.
  PrefetchPool(Prepare prepare, int threads, int prefetch) : prepare_(std::move(prepare)) {
    if (threads == 0) return;
    prefetch_ = prefetch > 0 ? prefetch : 2 * threads;
    try {
      for (int t = 0; t < threads; ++t) threads_.emplace_back([this] { work(); });
    } catch (...) {
      stop();  // a thread failed to start: stop the ones that did before rethrowing
      throw;
    }
  }
  ~PrefetchPool() { stop(); }
  PrefetchPool(const PrefetchPool&) = delete;
  PrefetchPool& operator=(const PrefetchPool&) = delete;

  // The next item; a worker's exception is rethrown here (the following
  // call goes on with the next item). Adds the time spent waiting and the
  // time the item took to prepare.
  Item next(double& wait_seconds, double& prepare_seconds) {
    const auto start = Clock::now();
    if (threads_.empty()) {
      Item item = prepare_(consume_ordinal_++);
      const double seconds = seconds_since(start);
      wait_seconds += seconds;
      prepare_seconds += seconds;
      return item;
    }
    Result result;
    {
      std::unique_lock lock(mutex_);
      const int64_t ordinal = consume_ordinal_;
      ready_cv_.wait(lock, [&] { return ready_.count(ordinal) > 0; });
      auto found = ready_.find(ordinal);
      result = std::move(found->second);
      ready_.erase(found);
      ++consume_ordinal_;
    }
    work_cv_.notify_all();
    wait_seconds += seconds_since(start);
    prepare_seconds += result.seconds;
    if (result.error) std::rethrow_exception(result.error);
    return std::move(result.item);
  }

  // The next next() returns item `ordinal`.
  void seek(int64_t ordinal) {
    {
      std::lock_guard lock(mutex_);
      ++generation_;
      ready_.clear();
      consume_ordinal_ = claim_ordinal_ = ordinal;
    }
    work_cv_.notify_all();
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Result {
    Item item;
    std::exception_ptr error;
    double seconds = 0;
  };

  static double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
  }

  void work() {
    std::unique_lock lock(mutex_);
    for (;;) {
      work_cv_.wait(lock, [&] { return stopping_ || claim_ordinal_ < consume_ordinal_ + prefetch_; });
      if (stopping_) return;
      const int64_t ordinal = claim_ordinal_++;
      const uint64_t generation = generation_;
      lock.unlock();
      Result result;
      const auto start = Clock::now();
      try {
        result.item = prepare_(ordinal);
      } catch (...) {
        result.error = std::current_exception();
      }
      result.seconds = seconds_since(start);
      lock.lock();
      if (generation == generation_) {  // seek() drops what was prepared before it
        ready_.emplace(ordinal, std::move(result));
        ready_cv_.notify_all();
      }
    }
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    work_cv_.notify_all();
    for (auto& thread : threads_) thread.join();
    threads_.clear();
  }

  Prepare prepare_;
  std::mutex mutex_;
  std::condition_variable work_cv_;   // workers: room in the queue, or stop
  std::condition_variable ready_cv_;  // next(): an item arrived
  bool stopping_ = false;
  uint64_t generation_ = 0;  // bumped by seek(): older results are dropped
  int64_t consume_ordinal_ = 0, claim_ordinal_ = 0, prefetch_ = 0;
  std::map<int64_t, Result> ready_;
  std::vector<std::thread> threads_;
};

}  // namespace cspnet
