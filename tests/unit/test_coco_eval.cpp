// COCO evaluation on hand-checked cases (tests/oracle/test_coco_eval_oracle.cpp
// compares with pycocotools on random scenes).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "cspnet/detection_metrics.hpp"
#include "cspnet/error.hpp"
#include "cspnet/eval_report.hpp"
#include "cspnet/image.hpp"

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

TEST(CocoEval, PrCurvePngIsWrittenForAClassAndOverall) {
  const auto e = coco_eval(std::vector<EvalImage>{crowd_scene(false)}, 2);
  const auto dir = std::filesystem::temp_directory_path();
  const std::string overall = (dir / ("cspnet_pr_all_" + std::to_string(::getpid()) + ".png")).string();
  const std::string one = (dir / ("cspnet_pr_0_" + std::to_string(::getpid()) + ".png")).string();
  write_pr_curve_png(overall, e);
  write_pr_curve_png(one, e, 0);
  const Tensor image = load_image_rgb(overall);
  ASSERT_EQ(image.shape().h, 600);
  ASSERT_EQ(image.shape().w, 800);
  // The .50:.95 curve, drawn last in green (44, 160, 44), runs at 1/4 to
  // recall 1/2 and at 0 beyond: hundreds of pixels besides its legend swatch.
  int green = 0;
  for (int y = 0; y < 600; ++y)
    for (int x = 0; x < 800; ++x)
      green += std::lround(image.at(0, 0, y, x) * 255) == 44 && std::lround(image.at(0, 1, y, x) * 255) == 160 &&
               std::lround(image.at(0, 2, y, x) * 255) == 44;
  EXPECT_GT(green, 500);
  EXPECT_GT(std::filesystem::file_size(one), 1000u);
  EXPECT_THROW(write_pr_curve_png(one, e, 2), Error);
}
