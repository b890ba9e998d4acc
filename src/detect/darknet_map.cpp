// darknet's `detector map` (validate_detector_map) written from its
// semantics: each detection is matched to its best-IoU same-class truth once;
// in global score order the first detection of a truth is a TP and every
// later one an FP (no fallback to another truth, unlike COCO).
#include <algorithm>
#include <numeric>

#include "cspnet/detection_metrics.hpp"
#include "cspnet/error.hpp"

namespace cspnet {
namespace {

struct MatchedDet {
  float score;
  int cls;
  int truth;  // global truth index, -1 when no truth is above the IoU threshold
};

struct PrPoint {
  double precision, recall;
};

// Area under the precision envelope, swept from the last rank to the first.
double all_point_ap(const std::vector<PrPoint>& pr) {
  if (pr.empty()) return 0;
  double ap = 0, last_recall = pr.back().recall, last_precision = pr.back().precision;
  for (size_t i = pr.size() - 1; i-- > 0;) {
    if (pr[i].recall != last_recall) {
      ap += (last_recall - pr[i].recall) * last_precision;
      last_recall = pr[i].recall;
    }
    last_precision = std::max(last_precision, pr[i].precision);
  }
  return ap + last_recall * last_precision;
}

// Mean over `points` recall levels of the best precision at recall >= level.
double sampled_ap(const std::vector<PrPoint>& pr, int points) {
  double sum = 0;
  for (int p = 0; p < points; ++p) {
    const double level = p * 1.0 / (points - 1);
    double best = 0;
    for (const auto& x : pr)
      if (x.recall >= level) best = std::max(best, x.precision);
    sum += best;
  }
  return sum / points;
}

}  // namespace

DarknetMap darknet_map(const std::vector<EvalImage>& images, int classes, float iou_threshold, int points,
                       float threshold) {
  if (classes <= 0) throw Error("darknet_map: classes must be positive, got " + std::to_string(classes));
  if (points != 0 && points != 11 && points != 101)
    throw Error("darknet_map: points must be 0, 11 or 101, got " + std::to_string(points));
  DarknetMap out;
  out.classes.resize(classes);
  std::vector<MatchedDet> dets;
  double iou_sum = 0;
  int truth_base = 0;
  for (const auto& im : images) {
    for (const auto& t : im.truths)
      if (t.cls >= 0 && t.cls < classes) ++out.classes[t.cls].truths;
    const size_t first = dets.size();
    for (const auto& d : im.detections) {
      if (d.cls < 0 || d.cls >= classes) continue;
      int best = -1;
      float best_iou = 0;
      for (size_t j = 0; j < im.truths.size(); ++j) {
        const float iou = box_iou(d, im.truths[j]);
        if (iou > iou_threshold && im.truths[j].cls == d.cls && iou > best_iou) best_iou = iou, best = truth_base + int(j);
      }
      // At the confidence threshold darknet asks whether an earlier detection
      // of this image (in its order, any score) took the same truth.
      if (d.score > threshold) {
        const bool taken = std::any_of(dets.begin() + first, dets.end(), [&](const MatchedDet& e) { return e.truth == best; });
        if (best > -1 && !taken) {
          ++out.tp, ++out.classes[d.cls].tp;
          iou_sum += best_iou;
        } else {
          ++out.fp, ++out.classes[d.cls].fp;
        }
      }
      dets.push_back({d.score, d.cls, best});
    }
    truth_base += int(im.truths.size());
  }
  int all_truths = 0;
  for (const auto& c : out.classes) all_truths += c.truths;
  out.fn = all_truths - out.tp;
  const int called = out.tp + out.fp;
  out.precision = called ? double(out.tp) / called : 0;
  out.recall = all_truths ? double(out.tp) / all_truths : 0;
  out.f1 = out.precision + out.recall > 0 ? 2 * out.precision * out.recall / (out.precision + out.recall) : 0;
  out.average_iou = called ? iou_sum / called : 0;

  std::stable_sort(dets.begin(), dets.end(), [](const MatchedDet& a, const MatchedDet& b) { return a.score > b.score; });
  std::vector<uint8_t> truth_taken(truth_base, 0);
  std::vector<std::vector<PrPoint>> pr(classes);
  std::vector<int> tp(classes, 0), fp(classes, 0);
  for (const auto& d : dets) {
    if (d.truth >= 0 && !truth_taken[d.truth]) {
      truth_taken[d.truth] = 1;
      ++tp[d.cls];
    } else {
      ++fp[d.cls];
    }
    const int n = out.classes[d.cls].truths;
    pr[d.cls].push_back({double(tp[d.cls]) / (tp[d.cls] + fp[d.cls]), n ? double(tp[d.cls]) / n : 0});
  }
  double sum = 0;
  for (int k = 0; k < classes; ++k) {
    out.classes[k].ap = points == 0 ? all_point_ap(pr[k]) : sampled_ap(pr[k], points);
    sum += out.classes[k].ap;
  }
  out.map = sum / classes;
  return out;
}

}  // namespace cspnet
