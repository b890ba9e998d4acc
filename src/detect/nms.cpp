// Greedy and DIoU non-maximum suppression on ScoredBox lists (darknet's
// do_nms_sort and diounms_sort, per class).
#include <algorithm>
#include <cmath>

#include "cspnet/detection_metrics.hpp"

namespace cspnet {
namespace {

// d²/c²: squared centre distance over the squared diagonal of the smallest
// box enclosing both.
float diou_penalty(const ScoredBox& a, const ScoredBox& b) {
  const float cw = std::max(a.x + a.w / 2, b.x + b.w / 2) - std::min(a.x - a.w / 2, b.x - b.w / 2);
  const float ch = std::max(a.y + a.h / 2, b.y + b.h / 2) - std::min(a.y - a.h / 2, b.y - b.h / 2);
  const float c2 = cw * cw + ch * ch;
  if (c2 <= 0) return 0;
  const float d2 = (a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y);
  return d2 / c2;
}

template <class Overlap>
std::vector<ScoredBox> greedy(std::vector<ScoredBox> boxes, float iou_threshold, Overlap overlap) {
  std::stable_sort(boxes.begin(), boxes.end(), [](const ScoredBox& a, const ScoredBox& b) { return a.score > b.score; });
  std::vector<ScoredBox> kept;
  for (const auto& b : boxes) {
    const bool suppressed = std::any_of(kept.begin(), kept.end(), [&](const ScoredBox& k) {
      return k.cls == b.cls && overlap(k, b) > iou_threshold;
    });
    if (!suppressed) kept.push_back(b);
  }
  return kept;
}

}  // namespace

std::vector<ScoredBox> nms_greedy(std::vector<ScoredBox> boxes, float iou_threshold) {
  return greedy(std::move(boxes), iou_threshold, [](const ScoredBox& a, const ScoredBox& b) { return box_iou(a, b); });
}

std::vector<ScoredBox> nms_diou(std::vector<ScoredBox> boxes, float iou_threshold, float beta) {
  return greedy(std::move(boxes), iou_threshold, [beta](const ScoredBox& a, const ScoredBox& b) {
    return box_iou(a, b) - std::pow(diou_penalty(a, b), beta);
  });
}

}  // namespace cspnet
