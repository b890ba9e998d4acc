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

// The precision-recall curves of a COCO evaluation as a PNG, or SVG when
// `path` ends in .svg (area all, 100
// detections): at IoU .50, .75 and averaged over .50:.95, for class `cls`,
// or averaged over the classes with truths when cls < 0. Throws
// cspnet::Error naming `path` when it cannot be written.
void write_pr_curve_png(const std::string& path, const CocoEval& eval, int cls = -1, int width = 800,
                        int height = 600);

}  // namespace cspnet
