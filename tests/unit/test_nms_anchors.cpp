// NMS (greedy, DIoU) and calc_anchors.
#include <gtest/gtest.h>

#include <random>

#include "cspnet/detect.hpp"
#include "cspnet/detection_metrics.hpp"
#include "cspnet/error.hpp"

using namespace cspnet;

TEST(NmsGreedy, DropsTheWeakerOverlappingBoxOfTheSameClassOnly) {
  const std::vector<ScoredBox> boxes = {{0.5f, 0.5f, 0.4f, 0.4f, 0, 0.8f},
                                        {0.52f, 0.5f, 0.4f, 0.4f, 0, 0.9f},   // IoU 0.9 with the first
                                        {0.52f, 0.5f, 0.4f, 0.4f, 1, 0.7f},   // another class
                                        {0.1f, 0.1f, 0.1f, 0.1f, 0, 0.6f}};   // far away
  const auto kept = nms_greedy(boxes, 0.45f);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[0], boxes[1]);
  EXPECT_EQ(kept[1], boxes[2]);
  EXPECT_EQ(kept[2], boxes[3]);
}

TEST(NmsDiou, KeepsOverlappingBoxesWhoseCentresAreApart) {
  // IoU 0.08 / 0.24 = 1/3 > 0.3: greedy drops b. DIoU subtracts
  // (d²/c²)^0.6 = (0.04 / 0.52)^0.6 = 0.215: 0.119 < 0.3, b stays.
  const std::vector<ScoredBox> boxes = {{0.4f, 0.5f, 0.4f, 0.4f, 0, 0.9f}, {0.6f, 0.5f, 0.4f, 0.4f, 0, 0.8f}};
  EXPECT_EQ(nms_greedy(boxes, 0.3f).size(), 1u);
  EXPECT_EQ(nms_diou(boxes, 0.3f, 0.6f).size(), 2u);
  // Same centre: no penalty, DIoU drops like greedy (IoU 0.5).
  const std::vector<ScoredBox> nested = {{0.5f, 0.5f, 0.4f, 0.4f, 0, 0.9f}, {0.5f, 0.5f, 0.4f, 0.2f, 0, 0.8f}};
  EXPECT_EQ(nms_diou(nested, 0.45f).size(), 1u);
}

TEST(NmsGreedy, DecoderNmsKeepsTheSameBoxes) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0.05f, 0.95f), s(0.05f, 0.3f);
  std::vector<Detection> dets;
  std::vector<ScoredBox> boxes;
  for (int i = 0; i < 300; ++i) {
    Detection d{u(rng), u(rng), s(rng), s(rng), 1, int(rng() % 3), 0};
    d.score = 1.0f - float(i) / 301;  // distinct scores: both orders agree
    dets.push_back(d);
    boxes.push_back({d.x, d.y, d.w, d.h, d.best_class, d.score});
  }
  const auto legacy = non_max_suppression(dets, 0.45f);
  const auto shared = nms_greedy(boxes, 0.45f);
  ASSERT_EQ(legacy.size(), shared.size());
  ASSERT_LT(shared.size(), boxes.size());  // some were suppressed
  for (size_t i = 0; i < shared.size(); ++i) {
    EXPECT_EQ(legacy[i].x, shared[i].x);
    EXPECT_EQ(legacy[i].score, shared[i].score);
  }
}

namespace {

// Boxes scattered +-5% around three planted sizes.
std::vector<std::array<float, 2>> planted_sizes() {
  const std::array<float, 2> planted[3] = {{10, 14}, {40, 30}, {120, 90}};
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> jitter(0.95f, 1.05f);
  std::vector<std::array<float, 2>> sizes;
  for (int i = 0; i < 300; ++i) sizes.push_back({planted[i % 3][0] * jitter(rng), planted[i % 3][1] * jitter(rng)});
  return sizes;
}

}  // namespace

TEST(CalcAnchors, RecoversPlantedClustersSortedByArea) {
  const std::array<float, 2> planted[3] = {{10, 14}, {40, 30}, {120, 90}};
  for (uint32_t seed : {0u, 1u, 2u, 3u}) {
    const auto r = calc_anchors(planted_sizes(), 3, seed);
    ASSERT_EQ(r.anchors.size(), 3u);
    for (int k = 0; k < 3; ++k) {
      EXPECT_NEAR(r.anchors[k][0], planted[k][0], planted[k][0] * 0.03) << "seed " << seed;
      EXPECT_NEAR(r.anchors[k][1], planted[k][1], planted[k][1] * 0.03) << "seed " << seed;
    }
    EXPECT_GT(r.average_iou, 0.9);
    EXPECT_LE(r.iterations, 1000);
  }
}

TEST(CalcAnchors, SameSeedGivesTheSameAnchors) {
  const auto a = calc_anchors(planted_sizes(), 5, 42), b = calc_anchors(planted_sizes(), 5, 42);
  EXPECT_EQ(a.anchors, b.anchors);
  EXPECT_EQ(a.average_iou, b.average_iou);
}

TEST(CalcAnchors, RejectsEmptyInputAndBadSizes) {
  EXPECT_THROW(calc_anchors({}, 3), Error);
  EXPECT_THROW(calc_anchors({{0, 5}}, 1), Error);
  EXPECT_THROW(calc_anchors({{3, 5}}, 0), Error);
}

TEST(CountersPerClass, CountsTruthsOfEachClass) {
  BoxLists truths = {{{0.5f, 0.5f, 0.1f, 0.1f, 0}, {0.5f, 0.5f, 0.1f, 0.1f, 2}}, {{0.5f, 0.5f, 0.1f, 0.1f, 2}}};
  EXPECT_EQ(counters_per_class(truths, 3), (std::vector<int>{1, 0, 2}));
}
