// assign_slots: the one liveness allocator behind the inference planner and
// the training gradient planner.
#include <gtest/gtest.h>

#include <vector>

#include "graph/slot_allocator.hpp"

namespace cspnet {
namespace {

TEST(SlotAllocator, BuffersWithDisjointLifetimesShareASlot) {
  const std::vector<LiveInterval> intervals{{0, 1, 100}, {2, 3, 100}, {4, 5, 100}};
  const SlotAssignment a = assign_slots(intervals);
  EXPECT_EQ(a.slot, (std::vector<int>{0, 0, 0}));
  EXPECT_EQ(a.arena_floats, 112);  // 100 rounded up to 16 floats
}

TEST(SlotAllocator, OverlappingLifetimesNeverShare) {
  // Step 1 is in both: the closed ranges overlap.
  const std::vector<LiveInterval> intervals{{0, 1, 16}, {1, 2, 16}, {2, 3, 16}};
  const SlotAssignment a = assign_slots(intervals);
  EXPECT_NE(a.slot[0], a.slot[1]);
  EXPECT_NE(a.slot[1], a.slot[2]);
  EXPECT_EQ(a.slot[0], a.slot[2]);
  EXPECT_EQ(a.slot_offset, (std::vector<int64_t>{0, 16}));
}

TEST(SlotAllocator, TakesTheBestFittingFreeSlotElseGrowsTheLargest) {
  // Two free slots of 64 and 32 floats at step 2: a 32-float buffer takes
  // the 32 one; then a 128-float buffer grows the largest free one (64).
  const std::vector<LiveInterval> intervals{{0, 1, 64}, {0, 1, 32}, {2, 9, 32}, {3, 9, 128}};
  const SlotAssignment a = assign_slots(intervals);
  EXPECT_EQ(a.slot, (std::vector<int>{0, 1, 1, 0}));
  EXPECT_EQ(a.slot_floats, (std::vector<int64_t>{128, 32}));
  EXPECT_EQ(a.arena_floats, 160);
}

TEST(SlotAllocator, AssignsInOrderOfFirstStepWhateverTheInputOrder) {
  const std::vector<LiveInterval> intervals{{4, 5, 16}, {0, 1, 48}};
  const SlotAssignment a = assign_slots(intervals);
  EXPECT_EQ(a.slot, (std::vector<int>{0, 0}));
  EXPECT_EQ(a.slot_floats, (std::vector<int64_t>{48}));
}

}  // namespace
}  // namespace cspnet
