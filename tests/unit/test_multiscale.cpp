// darknet's multi-scale schedule (`random` in [yolo]): sizes, blocks of 10
// iterations, the largest size first and last, determinism.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "cspnet/detection_augment.hpp"

namespace {

using cspnet::MultiScaleSchedule;
using cspnet::NetSize;

MultiScaleSchedule schedule_416(float random = 1.f, uint64_t seed = 7) {
  MultiScaleSchedule schedule;
  schedule.initial_width = schedule.initial_height = 416;
  schedule.random = random;
  schedule.max_batches = 100000;
  schedule.seed = seed;
  return schedule;
}

TEST(MultiScale, SidesFollowDarknetsRounding) {
  // round(scale * 416 / 32 + 1) * 32: the familiar 320..608 range.
  EXPECT_EQ(cspnet::multiscale_side(1.4f, 416, 32), 608);        // 19.2 -> 19
  EXPECT_EQ(cspnet::multiscale_side(1.f / 1.4f, 416, 32), 320);  // 10.29 -> 10
  EXPECT_EQ(cspnet::multiscale_side(1.f, 416, 32), 448);         // 14
  EXPECT_EQ(cspnet::multiscale_side(1.2f, 608, 32), 768);        // 23.8 -> 24
  EXPECT_EQ(cspnet::multiscale_side(1.5f, 320, 64), 576);        // 8.5 -> 9: halves away from zero (roundl)
  EXPECT_EQ(cspnet::multiscale_coefficient(1.f), 1.4f);
  EXPECT_EQ(cspnet::multiscale_coefficient(1.2f), 1.2f);
  EXPECT_EQ(cspnet::multiscale_max_size(schedule_416()), (NetSize{608, 608}));
  EXPECT_EQ(cspnet::multiscale_max_size(schedule_416(1.2f)), (NetSize{544, 544}));  // 16.6 -> 17
}

TEST(MultiScale, DynamicBatchKeepsMemoryLikeDarknet) {
  // 64 * 608^2 / 320^2 = 231, times 0.8 = 184 (still above 64).
  EXPECT_EQ(cspnet::multiscale_dynamic_batch(64, {608, 608}, {320, 320}), 184);
  // 64 * 608^2 / 576^2 = 71; 0.8 * 71 = 56 is below 64, so 71 stays.
  EXPECT_EQ(cspnet::multiscale_dynamic_batch(64, {608, 608}, {576, 576}), 71);
  EXPECT_EQ(cspnet::multiscale_dynamic_batch(64, {608, 608}, {608, 608}), 64);
  EXPECT_EQ(cspnet::multiscale_dynamic_batch(1, {64, 64}, {64, 64}), 1);
}

TEST(MultiScale, OffKeepsTheInitialSize) {
  const MultiScaleSchedule schedule = schedule_416(0.f);
  for (int64_t k : {0, 10, 555, 99999}) EXPECT_EQ(cspnet::multiscale_size(schedule, k), (NetSize{416, 416}));
}

TEST(MultiScale, ConstantOverBlocksOfTenAndLargestFirstAndLast) {
  const MultiScaleSchedule schedule = schedule_416();
  for (int64_t k = 0; k < 10; ++k) EXPECT_EQ(cspnet::multiscale_size(schedule, k), (NetSize{608, 608}));
  for (int64_t k = 10; k < 2000; ++k)
    ASSERT_EQ(cspnet::multiscale_size(schedule, k), cspnet::multiscale_size(schedule, k / 10 * 10)) << k;
  // darknet: a block whose first iteration is past max_batches - 100.
  for (int64_t k = 99910; k < 100000; ++k) ASSERT_EQ(cspnet::multiscale_size(schedule, k), (NetSize{608, 608})) << k;
  int not_max = 0;
  for (int64_t k = 99000; k < 99900; k += 10) not_max += cspnet::multiscale_size(schedule, k) != NetSize{608, 608};
  EXPECT_GT(not_max, 50);
}

TEST(MultiScale, SameSeedSameSizesOtherSeedOthers) {
  int differ = 0;
  for (int64_t k = 10; k < 1000; k += 10) {
    EXPECT_EQ(cspnet::multiscale_size(schedule_416(1.f, 3), k), cspnet::multiscale_size(schedule_416(1.f, 3), k));
    differ += cspnet::multiscale_size(schedule_416(1.f, 3), k) != cspnet::multiscale_size(schedule_416(1.f, 4), k);
  }
  EXPECT_GT(differ, 40);
}

// darknet's rule in float64 from its description, integrated over the
// uniform draw: scale u or 1/u (u uniform in [1, c], each half the time),
// side round(scale * 416 / 32 + 1) * 32, a shrink that rounds above 416
// goes back to 416.
std::map<int, double> darknet_size_distribution(double coefficient) {
  std::map<int, double> probability;
  const int steps = 200000;
  for (int i = 0; i < steps; ++i) {
    const double u = 1 + (coefficient - 1) * (i + 0.5) / steps;
    for (const double scale : {u, 1 / u}) {
      int side = int(std::round(scale * 416 / 32 + 1)) * 32;
      if (scale < 1 && side > 416) side = 416;
      probability[side] += 0.5 / steps;
    }
  }
  return probability;
}

TEST(MultiScale, SizeFrequenciesMatchDarknetsRule) {
  const std::map<int, double> want = darknet_size_distribution(1.4);
  std::map<int, double> got;
  const int blocks = 6000;
  MultiScaleSchedule schedule = schedule_416();
  schedule.max_batches = 10 * blocks + 1000;
  for (int b = 1; b <= blocks; ++b) {
    const NetSize size = cspnet::multiscale_size(schedule, 10 * b);
    ASSERT_EQ(size.width, size.height);
    got[size.width] += 1.0 / blocks;
  }
  for (const auto& [side, p] : got) EXPECT_TRUE(want.count(side)) << "size " << side << " is not in darknet's range";
  for (const auto& [side, p] : want) EXPECT_NEAR(got[side], p, 0.02) << "size " << side;
  // The reset: 416 (about 16%) comes only from shrinks rounding up.
  EXPECT_GT(want.at(416), 0.12);
}

}  // namespace
