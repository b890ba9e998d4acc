#pragma once
// The order in which an epoch visits a data set: a permutation drawn from
// (seed, epoch), computed once per epoch and shared by the loader's
// workers (the last three epochs are kept).
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace cspnet {

class EpochOrders {
 public:
  // `shuffle` false: every epoch in index order.
  EpochOrders(int64_t size, uint64_t seed, bool shuffle) : size_(size), seed_(seed), shuffle_(shuffle) {}
  std::shared_ptr<const std::vector<int64_t>> order(int64_t epoch);

 private:
  std::vector<int64_t> draw(int64_t epoch) const;
  int64_t size_;
  uint64_t seed_;
  bool shuffle_;
  std::mutex mutex_;
  std::map<int64_t, std::shared_ptr<const std::vector<int64_t>>> orders_;
};

}  // namespace cspnet
