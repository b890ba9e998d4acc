// COCO evaluation on hand-checked cases (tests/oracle/test_coco_eval_oracle.cpp
// compares with pycocotools on random scenes).
#include <gtest/gtest.h>

#include "cspnet/detection_metrics.hpp"

using namespace cspnet;

namespace {

EvalImage crowd_scene(bool crowd) {
  // 100 x 100 px. A 20 x 20 px truth (small, area 400) found exactly with
  // score 0.9, and a 40 x 40 px region whose three detections score higher.
  EvalImage im{7, 100, 100, {}, {}};
  im.truths = {{0.2f, 0.2f, 0.2f, 0.2f, 0, false, -1}, {0.7f, 0.7f, 0.4f, 0.4f, 0, crowd, -1}};
  im.detections = {{0.2f, 0.2f, 0.2f, 0.2f, 0, 0.9f},
                   {0.65f, 0.65f, 0.1f, 0.1f, 0, 0.99f},
                   {0.75f, 0.75f, 0.1f, 0.1f, 0, 0.98f},
                   {0.7f, 0.7f, 0.1f, 0.1f, 0, 0.97f}};
  return im;
}

}  // namespace

TEST(CocoEval, PerfectDetectionsScoreOne) {
  EvalImage im{1, 640, 480, {{0.5f, 0.5f, 0.5f, 0.5f, 0, false, -1}}, {{0.5f, 0.5f, 0.5f, 0.5f, 0, 0.9f}}};
  const auto e = coco_eval(std::vector<EvalImage>{im}, 1);
  EXPECT_DOUBLE_EQ(e.stats[0], 1.0);
  EXPECT_DOUBLE_EQ(e.stats[5], 1.0);   // large: 320 x 240 px
  EXPECT_DOUBLE_EQ(e.stats[3], -1.0);  // no small truth
  EXPECT_DOUBLE_EQ(e.stats[6], 1.0);
}

TEST(CocoEval, DetectionsInsideACrowdAreIgnoredNotFalsePositives) {
  // The crowd region's detections (IoU = inter / det area = 1) are matched to
  // it and ignored: AP 1. The small truth makes APs 1; no medium/large truth.
  const auto crowd = coco_eval(std::vector<EvalImage>{crowd_scene(true)}, 1);
  EXPECT_DOUBLE_EQ(crowd.stats[0], 1.0);
  EXPECT_DOUBLE_EQ(crowd.stats[3], 1.0);
  EXPECT_DOUBLE_EQ(crowd.stats[4], -1.0);
  // Not a crowd: the three 10 px detections (IoU 1/16 with the 40 px truth)
  // are FPs ranked first; the TP comes fourth: recall 1/2 at precision 1/4,
  // so 51 of the 101 recall points see 1/4 at every IoU: AP = 51 / 404.
  const auto plain = coco_eval(std::vector<EvalImage>{crowd_scene(false)}, 1);
  EXPECT_NEAR(plain.stats[0], 51.0 / 404, 1e-12);
  EXPECT_NEAR(plain.stats[3], 0.25, 1e-12);  // small: the 40 px truth is out of range
  // Medium: the small truth is out of range and the small detections that
  // miss are ignored: nothing counts, AP 0, recall 0.
  EXPECT_DOUBLE_EQ(plain.stats[4], 0.0);
  EXPECT_DOUBLE_EQ(plain.stats[8], 0.5);   // AR100
  EXPECT_DOUBLE_EQ(plain.stats[10], 0.0);  // ARm
}

TEST(CocoEval, MaxDetsOneKeepsOnlyTheBestDetectionPerImage) {
  // AR1: only the top detection (a crowd-region miss when not crowd) counts.
  EXPECT_DOUBLE_EQ(coco_eval(std::vector<EvalImage>{crowd_scene(false)}, 1).stats[6], 0.0);
  EXPECT_DOUBLE_EQ(coco_eval(std::vector<EvalImage>{crowd_scene(true)}, 1).stats[6], 0.0);
}

TEST(CocoEval, ClassWithoutTruthsIsLeftOutOfTheMean) {
  auto im = crowd_scene(true);
  im.detections.push_back({0.5f, 0.5f, 0.1f, 0.1f, 1, 0.5f});  // class 1: no truth anywhere
  const auto e = coco_eval(std::vector<EvalImage>{im}, 2);
  EXPECT_DOUBLE_EQ(e.class_ap[1], -1.0);
  EXPECT_DOUBLE_EQ(e.stats[0], 1.0);
}

TEST(CocoEval, IouThresholdsMatchNumpyLinspace) {
  EXPECT_EQ(coco_iou_thresholds()[0], 0.5);
  EXPECT_EQ(coco_iou_thresholds()[5], 0.75);
  EXPECT_EQ(coco_iou_thresholds()[9], 0.95);
  EXPECT_EQ(coco_recall_thresholds()[100], 1.0);
}
