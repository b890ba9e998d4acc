#include "train/epoch_orders.hpp"

#include "train/data_random.hpp"

namespace cspnet {

// The permutation's key family under the seed (BatchLoader's other draws use 12, 13).
constexpr uint64_t kPermutationFamily = 11;

std::shared_ptr<const std::vector<int64_t>> EpochOrders::order(int64_t epoch) {
  std::lock_guard lock(mutex_);
  auto& slot = orders_[epoch];
  if (!slot) slot = std::make_shared<const std::vector<int64_t>>(draw(epoch));
  auto order = slot;
  // Keep three epochs: the oldest goes, unless it is the one in use (after
  // a seek backwards), then the newest.
  while (orders_.size() > 3) {
    auto victim = orders_.begin();
    if (victim->first == epoch) victim = std::prev(orders_.end());
    orders_.erase(victim);
  }
  return order;
}

std::vector<int64_t> EpochOrders::draw(int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(size_));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  if (!shuffle_ || order.size() < 2) return order;
  using namespace data_random;
  Stream stream(derive(derive(seed_, kPermutationFamily), uint64_t(epoch)));
  for (size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[stream.below(i + 1)]);
  return order;
}

}  // namespace cspnet
