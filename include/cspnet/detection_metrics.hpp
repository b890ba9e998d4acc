#pragma once
// Detection evaluation: darknet's `detector map` (mAP at one IoU) and COCO's
// AP@[.5:.95] with pycocotools' exact semantics; docs/detection.md,
// "Evaluation".
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "cspnet/boxes.hpp"

namespace cspnet {

// One image's truths and detections, boxes relative to the image (boxes.hpp);
// width/height turn them into pixels (COCO's areas and ranges are pixels).
struct EvalImage {
  int64_t id = 0;
  int width = 0, height = 0;
  std::vector<ObjectBox> truths;
  std::vector<ScoredBox> detections;
};

// ---- darknet's validate_detector_map ----

struct ClassMap {
  double ap = 0;
  int truths = 0;
  // At the confidence threshold.
  int tp = 0, fp = 0;
};

struct DarknetMap {
  double map = 0;  // mean AP over ALL classes (classes without truths count 0)
  std::vector<ClassMap> classes;
  // Over all classes at the confidence threshold.
  int tp = 0, fp = 0, fn = 0;
  double precision = 0, recall = 0, f1 = 0, average_iou = 0;
};

// points: 0 = area under the precision envelope at every recall (darknet's
// default), 11 = VOC2007, 101 = COCO-like, all at the single iou_threshold.
// `threshold` is the confidence for TP/FP/FN, precision, recall, F1, IoU.
DarknetMap darknet_map(const std::vector<EvalImage>& images, int classes, float iou_threshold = 0.5f,
                       int points = 0, float threshold = 0.25f);

// ---- COCO (pycocotools' COCOeval, bbox) ----

// A box in pixels, COCO's [x, y, w, h] (top-left corner and size).
struct PixelBox {
  double x = 0, y = 0, w = 0, h = 0;
};
struct CocoTruth {
  PixelBox box;
  int cls = 0;
  bool crowd = false;
  double area = 0;  // COCO's annotation area (pixels)
};
struct CocoDetection {
  PixelBox box;
  int cls = 0;
  double score = 0;
};
struct CocoImage {
  int64_t id = 0;
  std::vector<CocoTruth> truths;
  std::vector<CocoDetection> detections;
};

// The pixel geometry COCO sees of an EvalImage (area < 0: the box's area).
CocoImage to_coco_image(const EvalImage& image);

struct CocoEval {
  // pycocotools' 12 stats in its order: AP, AP50, AP75, APs, APm, APl,
  // AR1, AR10, AR100, ARs, ARm, ARl (-1 where nothing to average).
  std::array<double, 12> stats{};
  std::vector<double> class_ap;  // AP@[.5:.95] per class (area all, 100 dets), -1 without truths
  // pycocotools' eval['precision'], shape [T=10][R=101][K][A=4][M=3], -1
  // where a class has no (non-ignored) truth: PR curves read it.
  std::vector<double> precision;
  std::vector<double> recall;  // eval['recall'], [T][K][A][M]
  int classes = 0;
  double precision_at(int iou_index, int recall_index, int cls, int area_index, int max_dets_index) const;
};

inline constexpr int kCocoIous = 10, kCocoRecalls = 101, kCocoAreas = 4, kCocoMaxDets = 3;
// The IoU thresholds .50:.05:.95 and recall points 0:.01:1 as numpy's
// linspace computes them (a tie at a threshold is decided like pycocotools).
const std::array<double, kCocoIous>& coco_iou_thresholds();
const std::array<double, kCocoRecalls>& coco_recall_thresholds();

// Images are evaluated in ascending id order (as pycocotools does); a class
// index outside [0, classes) is not evaluated.
CocoEval coco_eval(const std::vector<CocoImage>& images, int classes);
CocoEval coco_eval(const std::vector<EvalImage>& images, int classes);

// pycocotools' summary text (the 12 " Average Precision ..." lines).
std::string coco_summary(const CocoEval& eval);

// ---- NMS ----

// Greedy per-class NMS (darknet's default): keeps the best-scoring box and
// drops same-class boxes with IoU > iou_threshold. Result sorted by score.
std::vector<ScoredBox> nms_greedy(std::vector<ScoredBox> boxes, float iou_threshold);
// DIoU-NMS (darknet's nms_kind=DIOU_NMS): drops when IoU - (d²/c²)^beta >
// iou_threshold, d the centre distance and c the enclosing box's diagonal.
std::vector<ScoredBox> nms_diou(std::vector<ScoredBox> boxes, float iou_threshold, float beta = 0.6f);

// ---- calc_anchors ----

struct AnchorsResult {
  std::vector<std::array<float, 2>> anchors;  // (w, h) pixels, ascending area
  double average_iou = 0;                     // mean over boxes of the best anchor IoU
  int iterations = 0;
};
// k-means with distance 1 - IoU of origin-aligned boxes; the best (average
// IoU) of 8 k-means++ starts drawn from `seed` (deterministic), each at most
// 1000 iterations.
AnchorsResult calc_anchors(const std::vector<std::array<float, 2>>& sizes, int num, uint32_t seed = 0);
// Truths per class over a data set (darknet's counters_per_class).
std::vector<int> counters_per_class(const BoxLists& truths, int classes);

}  // namespace cspnet
