#pragma once
// Evaluation results as text tables and JSON (for `detector map`, training
// with -map and `detector score`).
#include <string>
#include <vector>

#include "cspnet/detection_metrics.hpp"

namespace cspnet {

// darknet's `detector map` report: one line per class (AP, truths, TP, FP),
// then precision/recall/F1/TP/FP/FN/average IoU at `threshold` and the mAP.
// `names` may be shorter than the classes (missing names print the index).
std::string darknet_map_table(const DarknetMap& m, const std::vector<std::string>& names, float iou_threshold,
                              int points, float threshold);
std::string darknet_map_json(const DarknetMap& m, const std::vector<std::string>& names);

// Per-class AP@[.5:.95] of a COCO evaluation, one line per class ("-" when
// the class has no truths).
std::string coco_class_table(const CocoEval& e, const std::vector<std::string>& names);

}  // namespace cspnet
