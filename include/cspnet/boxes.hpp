#pragma once
// Boxes shared by detection data, augmentation, the [yolo] loss and
// evaluation. Every box is centre x, y and size w, h relative to its image
// (0..1), darknet's label convention.
#include <algorithm>
#include <cstdint>
#include <vector>

namespace cspnet {

// A ground-truth object.
struct ObjectBox {
  float x = 0, y = 0, w = 0, h = 0;
  int cls = 0;
  // COCO's iscrowd: evaluation matches detections to it without counting
  // them (never a training target).
  bool crowd = false;
  // COCO's area in pixels of the original image (segment area for COCO
  // data); < 0: the box's own w * h in pixels.
  float area = -1;
  bool operator==(const ObjectBox&) const = default;
};

// A detection: a box, its class and confidence.
struct ScoredBox {
  float x = 0, y = 0, w = 0, h = 0;
  int cls = 0;
  float score = 0;
  bool operator==(const ScoredBox&) const = default;
};

// The ground truth of a batch: one list per image.
using BoxLists = std::vector<std::vector<ObjectBox>>;

// Intersection over union of two centre/size boxes (0 when they do not
// overlap or a box is empty).
template <class A, class B>
float box_iou(const A& a, const B& b) {
  const float iw = std::min(a.x + a.w / 2, b.x + b.w / 2) - std::max(a.x - a.w / 2, b.x - b.w / 2);
  const float ih = std::min(a.y + a.h / 2, b.y + b.h / 2) - std::max(a.y - a.h / 2, b.y - b.h / 2);
  if (iw <= 0 || ih <= 0) return 0;
  const float inter = iw * ih, uni = a.w * a.h + b.w * b.h - inter;
  return uni > 0 ? inter / uni : 0;
}

}  // namespace cspnet
