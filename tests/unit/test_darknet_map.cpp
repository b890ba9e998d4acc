// darknet's `detector map` on small cases whose AP is worked out by hand.
#include <gtest/gtest.h>

#include "cspnet/detection_metrics.hpp"
#include "cspnet/error.hpp"
#include "cspnet/eval_report.hpp"

#include <nlohmann/json.hpp>

using namespace cspnet;

namespace {

ObjectBox truth(float x, float y, float w, float h, int cls = 0) { return {x, y, w, h, cls, false, -1}; }
ScoredBox det(float x, float y, float w, float h, float score, int cls = 0) { return {x, y, w, h, cls, score}; }

// Truths A, B, C; detections by score: d1 = A exactly (IoU 1, TP), d2 on
// nothing (FP), d3 = B shifted by a quarter width (IoU 0.03 / 0.05 = 0.6,
// TP), d4 = A shifted (IoU 0.036 / 0.044 = 0.82, duplicate of A: FP).
// Ranks: (p, r) = (1, 1/3), (1/2, 1/3), (2/3, 2/3), (1/2, 2/3).
std::vector<EvalImage> one_class_scene() {
  EvalImage im{1, 100, 100, {}, {}};
  im.truths = {truth(0.2f, 0.2f, 0.2f, 0.2f), truth(0.6f, 0.6f, 0.2f, 0.2f), truth(0.2f, 0.8f, 0.2f, 0.2f)};
  im.detections = {det(0.2f, 0.2f, 0.2f, 0.2f, 0.9f), det(0.85f, 0.15f, 0.1f, 0.1f, 0.8f),
                   det(0.65f, 0.6f, 0.2f, 0.2f, 0.7f), det(0.22f, 0.2f, 0.2f, 0.2f, 0.6f)};
  return {im};
}

}  // namespace

TEST(DarknetMap, AllPointApIsTheAreaUnderThePrecisionEnvelope) {
  // Envelope: 1 up to recall 1/3, 2/3 up to 2/3: AP = 1/3 * 1 + 1/3 * 2/3 = 5/9.
  const auto m = darknet_map(one_class_scene(), 1, 0.5f, 0);
  EXPECT_NEAR(m.classes[0].ap, 5.0 / 9, 1e-12);
  EXPECT_NEAR(m.map, 5.0 / 9, 1e-12);
  EXPECT_EQ(m.classes[0].truths, 3);
}

TEST(DarknetMap, ElevenPointApSamplesTheEnvelopeAtTenths) {
  // Levels 0 .. 0.3 see precision 1, 0.4 .. 0.6 see 2/3, 0.7 .. 1 see nothing:
  // (4 * 1 + 3 * 2/3) / 11 = 6/11.
  EXPECT_NEAR(darknet_map(one_class_scene(), 1, 0.5f, 11).map, 6.0 / 11, 1e-12);
}

TEST(DarknetMap, HundredOnePointApSamplesTheEnvelopeAtHundredths) {
  // Levels 0 .. 0.33 (34 of them) see 1, 0.34 .. 0.66 (33) see 2/3:
  // (34 + 22) / 101.
  EXPECT_NEAR(darknet_map(one_class_scene(), 1, 0.5f, 101).map, 56.0 / 101, 1e-12);
}

TEST(DarknetMap, MeanDividesByAllClassesIncludingThoseWithoutTruths) {
  auto scene = one_class_scene();
  scene[0].detections.push_back(det(0.5f, 0.5f, 0.1f, 0.1f, 0.95f, 1));  // class 1 has no truth
  const auto m = darknet_map(scene, 3, 0.5f, 0);
  EXPECT_NEAR(m.classes[0].ap, 5.0 / 9, 1e-12);  // other classes' detections do not change class 0
  EXPECT_EQ(m.classes[1].ap, 0);
  EXPECT_EQ(m.classes[2].ap, 0);
  EXPECT_NEAR(m.map, 5.0 / 9 / 3, 1e-12);
}

TEST(DarknetMap, CountsAtTheConfidenceThreshold) {
  // Above 0.65: d1 TP (IoU 1), d2 FP, d3 TP (IoU 0.6); d4 (0.6) is below.
  const auto m = darknet_map(one_class_scene(), 1, 0.5f, 0, 0.65f);
  EXPECT_EQ(m.tp, 2);
  EXPECT_EQ(m.fp, 1);
  EXPECT_EQ(m.fn, 1);
  EXPECT_NEAR(m.precision, 2.0 / 3, 1e-12);
  EXPECT_NEAR(m.recall, 2.0 / 3, 1e-12);
  EXPECT_NEAR(m.f1, 2.0 / 3, 1e-12);
  EXPECT_NEAR(m.average_iou, (1.0 + 0.6) / 3, 1e-5);
  EXPECT_EQ(m.classes[0].tp, 2);
  EXPECT_EQ(m.classes[0].fp, 1);
}

TEST(DarknetMap, ThresholdCountsAskWhetherAnEarlierDetectionInTheImageTookTheTruth) {
  // darknet walks an image's detections in their order (not by score): when
  // d4 (0.6, below the threshold) comes before d1, it has taken A, so d1
  // counts FP at the threshold. The AP, computed in score order, is unchanged.
  auto scene = one_class_scene();
  std::swap(scene[0].detections[0], scene[0].detections[3]);
  const auto m = darknet_map(scene, 1, 0.5f, 0, 0.65f);
  EXPECT_EQ(m.tp, 1);
  EXPECT_EQ(m.fp, 2);
  EXPECT_NEAR(m.map, 5.0 / 9, 1e-12);
}

TEST(DarknetMap, DuplicateIsAFalsePositiveWithoutFallingBackToTheNextTruth) {
  // A and A' overlap; d2 overlaps both (IoU 0.90 with A, 0.74 with A') but
  // its best truth A is taken by d1: darknet counts it FP, so ranks are
  // (1, 1/2), (1/2, 1/2) and AP = 1/2. COCO's matcher gives d2 to A'.
  EvalImage im{1, 100, 100, {truth(0.3f, 0.5f, 0.2f, 0.2f), truth(0.34f, 0.5f, 0.2f, 0.2f)},
               {det(0.3f, 0.5f, 0.2f, 0.2f, 0.9f), det(0.31f, 0.5f, 0.2f, 0.2f, 0.8f)}};
  EXPECT_NEAR(darknet_map({im}, 1).map, 0.5, 1e-12);
  EXPECT_NEAR(coco_eval(std::vector<EvalImage>{im}, 1).stats[1], 1.0, 1e-12);  // AP50
}

TEST(DarknetMap, NoDetectionsGiveZero) {
  auto scene = one_class_scene();
  scene[0].detections.clear();
  const auto m = darknet_map(scene, 1);
  EXPECT_EQ(m.map, 0);
  EXPECT_EQ(m.fn, 3);
}

TEST(DarknetMap, RejectsUnknownPointCounts) { EXPECT_THROW(darknet_map(one_class_scene(), 1, 0.5f, 7), Error); }

TEST(DarknetMapReport, TableAndJsonCarryTheNumbers) {
  const auto m = darknet_map(one_class_scene(), 2, 0.5f, 0, 0.65f);
  const std::string table = darknet_map_table(m, {"cat"}, 0.5f, 0, 0.65f);
  EXPECT_NE(table.find("name = cat, ap = 55.56 %"), std::string::npos) << table;
  EXPECT_NE(table.find("class_id = 1, name = 1, ap = 0.00 %"), std::string::npos) << table;
  EXPECT_NE(table.find("TP = 2, FP = 1, FN = 1"), std::string::npos) << table;
  EXPECT_NE(table.find("mAP@0.50) = 0.277778"), std::string::npos) << table;
  const auto j = nlohmann::json::parse(darknet_map_json(m, {"cat"}));
  EXPECT_DOUBLE_EQ(j["map"].get<double>(), m.map);
  EXPECT_EQ(j["classes"][0]["name"], "cat");
  EXPECT_EQ(j["fn"].get<int>(), 1);
}
