#include "slot_allocator.hpp"

#include <algorithm>
#include <numeric>

namespace cspnet {

namespace {
constexpr int64_t kAlignFloats = 16;  // 64-byte alignment for every slot
}  // namespace

SlotAssignment assign_slots(std::span<const LiveInterval> intervals) {
  std::vector<size_t> order(intervals.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return intervals[a].first < intervals[b].first; });
  SlotAssignment result;
  result.slot.assign(intervals.size(), -1);
  std::vector<int> slot_busy_until;
  std::vector<int64_t>& floats = result.slot_floats;
  for (size_t i : order) {
    const LiveInterval& interval = intervals[i];
    const int64_t need = (interval.floats + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
    int best = -1;
    for (size_t s = 0; s < slot_busy_until.size(); ++s) {
      if (slot_busy_until[s] >= interval.first) continue;
      if (best < 0) {
        best = int(s);
        continue;
      }
      const bool fits = floats[s] >= need, best_fits = floats[size_t(best)] >= need;
      if ((fits && (!best_fits || floats[s] < floats[size_t(best)])) ||
          (!fits && !best_fits && floats[s] > floats[size_t(best)]))
        best = int(s);
    }
    if (best < 0) {
      best = int(floats.size());
      floats.push_back(0);
      slot_busy_until.push_back(-1);
    }
    floats[size_t(best)] = std::max(floats[size_t(best)], need);
    slot_busy_until[size_t(best)] = interval.last;
    result.slot[i] = best;
  }
  for (int64_t size : floats) {
    result.slot_offset.push_back(result.arena_floats);
    result.arena_floats += size;
  }
  return result;
}

}  // namespace cspnet
