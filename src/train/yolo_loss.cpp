// Darknet's [yolo] deltas, slot by slot and truth by truth in darknet's
// order (the order matters where slots collide), in double.
#include "train/yolo_loss.hpp"

#include <algorithm>
#include <cmath>

#include "cspnet/error.hpp"
#include "train/box_overlap.hpp"

namespace cspnet {
namespace {

// darknet's compare_yolo_class threshold: a slot's overlap with a truth
// only cancels its "no object" delta when it predicts some class above it.
constexpr double kIgnoreClassProb = 0.25;
constexpr double kFocalAlpha = 0.5;

class HeadDeltas {
 public:
  HeadDeltas(const YoloHead& head, const float* output, std::vector<double>& delta)
      : a_(head.attrs), head_(head), out_(output), delta_(delta) {
    plane_ = head.shape.h * head.shape.w;
    entries_ = a_.classes + 5;
    delta_.assign(size_t(head.shape.count()), 0.0);
    if (!a_.counters_per_class.empty()) {
      const int most = *std::max_element(a_.counters_per_class.begin(), a_.counters_per_class.end());
      for (int count : a_.counters_per_class)
        multipliers_.push_back(std::min(double(most) / count, double(a_.max_delta)));
    }
  }

  void image(int64_t b, const std::vector<ObjectBox>& truths, LossResult& result) {
    b_ = b;
    valid_.clear();
    for (const ObjectBox& t : truths) {
      if (t.crowd) continue;  // COCO crowd regions are evaluation-only
      if (t.cls < 0 || t.cls >= a_.classes || !(t.w > 0) || !(t.h > 0)) {
        ++result.skipped_truths;
        continue;
      }
      valid_.push_back(t);
    }
    for (int64_t j = 0; j < head_.shape.h; ++j)
      for (int64_t i = 0; i < head_.shape.w; ++i)
        for (int64_t n = 0; n < int64_t(a_.mask.size()); ++n) negative_or_ignored(n, j, i);
    for (const ObjectBox& t : valid_) positives_of(t, result);
    average_collisions();
  }

 private:
  // Element index of (anchor slot n, entry e, cell j,i) in image b_.
  int64_t at(int64_t n, int64_t e, int64_t j, int64_t i) const {
    return ((b_ * int64_t(a_.mask.size()) + n) * entries_ + e) * plane_ + j * head_.shape.w + i;
  }
  double out(int64_t index) const { return out_[index]; }
  double multiplier(int cls) const { return multipliers_.empty() ? 1.0 : multipliers_[size_t(cls)]; }

  BoxD decode(int64_t n, int anchor, int64_t j, int64_t i) const {
    const double aw = a_.anchors[size_t(2 * anchor)], ah = a_.anchors[size_t(2 * anchor + 1)];
    const double tw = out(at(n, 2, j, i)), th = out(at(n, 3, j, i));
    BoxD box{(double(i) + out(at(n, 0, j, i))) / double(head_.shape.w),
             (double(j) + out(at(n, 1, j, i))) / double(head_.shape.h), 0, 0};
    box.w = (a_.new_coords ? tw * tw * 4 : std::exp(tw)) * aw / double(head_.net_w);
    box.h = (a_.new_coords ? th * th * 4 : std::exp(th)) * ah / double(head_.net_h);
    return box;
  }

  static BoxD box_of(const ObjectBox& t) { return {t.x, t.y, t.w, t.h}; }

  // §3.2.1: every slot starts as "no object"; overlap with a truth above
  // ignore_thresh cancels that, above truth_thresh makes it a positive.
  void negative_or_ignored(int64_t n, int64_t j, int64_t i) {
    const BoxD pred = decode(n, a_.mask[size_t(n)], j, i);
    bool predicts_class = false;
    for (int c = 0; c < a_.classes; ++c) predicts_class = predicts_class || out(at(n, 5 + c, j, i)) > kIgnoreClassProb;
    double best_match = 0, best = 0;
    const ObjectBox* best_truth = nullptr;
    for (const ObjectBox& t : valid_) {
      const double iou = box_overlap(pred, box_of(t), IouKind::iou);
      if (iou > best_match && predicts_class) best_match = iou;
      if (iou > best) best = iou, best_truth = &t;
    }
    const int64_t obj = at(n, 4, j, i);
    const double p = out(obj);
    delta_[obj] = a_.obj_normalizer * (0 - p);
    if (best_match > a_.ignore_thresh)
      delta_[obj] = a_.objectness_smooth ? std::max(delta_[obj], a_.obj_normalizer * (best_match - p)) : 0.0;
    if (best > a_.truth_thresh && best_truth) {
      const double target = a_.objectness_smooth ? best * best : 1.0;
      delta_[obj] = a_.obj_normalizer * (target - p);
      const int cls = best_truth->cls;
      class_deltas(n, j, i, cls);
      if (a_.objectness_smooth) {
        const int64_t k = at(n, 5 + cls, j, i);
        delta_[k] = multiplier(cls) * (target - out(k));
      }
      box_deltas(*best_truth, n, a_.mask[size_t(n)], j, i, a_.iou_normalizer * multiplier(cls));
    }
  }

  // §3.2.2-3: the best anchor of all `num` by shape, and with iou_thresh < 1
  // every other anchor of this head above it, become positives at the
  // truth's cell.
  void positives_of(const ObjectBox& t, LossResult& result) {
    const int64_t i = std::clamp<int64_t>(int64_t(double(t.x) * double(head_.shape.w)), 0, head_.shape.w - 1);
    const int64_t j = std::clamp<int64_t>(int64_t(double(t.y) * double(head_.shape.h)), 0, head_.shape.h - 1);
    const BoxD shape{0, 0, t.w, t.h};
    auto anchor_shape = [&](int anchor) {
      return BoxD{0, 0, a_.anchors[size_t(2 * anchor)] / double(head_.net_w),
                  a_.anchors[size_t(2 * anchor + 1)] / double(head_.net_h)};
    };
    double best_iou = 0;
    int best = 0;
    for (int anchor = 0; anchor < a_.num; ++anchor) {
      const double iou = box_overlap(anchor_shape(anchor), shape, IouKind::iou);
      if (iou > best_iou) best_iou = iou, best = anchor;
    }
    for (int anchor = 0; anchor < a_.num; ++anchor) {
      const auto slot = std::find(a_.mask.begin(), a_.mask.end(), anchor);
      if (slot == a_.mask.end()) continue;
      const bool extra = anchor != best && a_.iou_thresh < 1 &&
                         box_overlap(anchor_shape(anchor), shape, a_.iou_thresh_kind) > a_.iou_thresh;
      if (anchor == best || extra) positive(t, slot - a_.mask.begin(), anchor, j, i, result);
    }
  }

  void positive(const ObjectBox& t, int64_t n, int anchor, int64_t j, int64_t i, LossResult& result) {
    const double m = multiplier(t.cls);
    const double iou = box_deltas(t, n, anchor, j, i, a_.iou_normalizer * m);
    const int64_t obj = at(n, 4, j, i);
    const double target = m * a_.obj_normalizer * (1 - out(obj));
    if (!a_.objectness_smooth || delta_[obj] == 0) delta_[obj] = target;
    class_deltas(n, j, i, t.cls);
    ++result.positives;
    result.positive_iou += iou;
    result.recall50 += iou > 0.5;
    result.recall75 += iou > 0.75;
  }

  // §3.3 (delta_yolo_box); returns the slot's IoU with the truth.
  double box_deltas(const ObjectBox& t, int64_t n, int anchor, int64_t j, int64_t i, double normalizer) {
    BoxD pred = decode(n, anchor, j, i);
    const BoxD truth = box_of(t);
    const double iou = box_overlap(pred, truth, IouKind::iou);
    const int64_t k[4] = {at(n, 0, j, i), at(n, 1, j, i), at(n, 2, j, i), at(n, 3, j, i)};
    const double aw = a_.anchors[size_t(2 * anchor)], ah = a_.anchors[size_t(2 * anchor + 1)];
    if (a_.iou_loss == BoxLoss::mse) {
      double target[4] = {truth.x * double(head_.shape.w) - double(i), truth.y * double(head_.shape.h) - double(j),
                          std::log(truth.w * double(head_.net_w) / aw), std::log(truth.h * double(head_.net_h) / ah)};
      if (a_.new_coords) {
        target[2] = std::sqrt(truth.w * double(head_.net_w) / (4 * aw));
        target[3] = std::sqrt(truth.h * double(head_.net_h) / (4 * ah));
      }
      const double scale = 2 - truth.w * truth.h;  // small boxes weigh more
      for (int e = 0; e < 4; ++e) delta_[k[e]] += scale * (target[e] - out(k[e])) * normalizer;
      return iou;
    }
    if (pred.w == 0) pred.w = 1;  // as darknet: keeps the gradient finite
    if (pred.h == 0) pred.h = 1;
    std::array<double, 4> grad = box_overlap_gradient(pred, truth, overlap_kind(a_.iou_loss));
    if (!a_.new_coords) {  // d(box w)/d(tw) ~ exp(tw): darknet's chain factor (anchor/net size left out)
      grad[2] *= std::exp(out(k[2]));
      grad[3] *= std::exp(out(k[3]));
    }
    for (int e = 0; e < 4; ++e) {
      double d = grad[size_t(e)] * normalizer;
      if (!std::isfinite(d)) d = 0;  // darknet's fix_nan_inf
      d = std::clamp(d, -double(a_.max_delta), double(a_.max_delta));
      delta_[k[e]] += d;
    }
    return iou;
  }

  // §3.4 (delta_yolo_class).
  void class_deltas(int64_t n, int64_t j, int64_t i, int cls) {
    const double eps = a_.label_smooth_eps;
    auto smoothed = [eps](double y) { return eps > 0 ? y * (1 - eps) + 0.5 * eps : y; };
    const int64_t truth = at(n, 5 + cls, j, i);
    if (delta_[truth] != 0) {  // the slot is already another truth's positive: refresh this class only
      delta_[truth] = (smoothed(1) - out(truth)) * multiplier(cls);
      return;
    }
    if (a_.focal_loss) {
      const double pt = out(truth) + 1e-15;
      const double grad = -(1 - pt) * (2 * pt * std::log(pt) + pt - 1);
      for (int c = 0; c < a_.classes; ++c) {
        const int64_t k = at(n, 5 + c, j, i);
        delta_[k] = ((c == cls ? 1.0 : 0.0) - out(k)) * kFocalAlpha * grad;
      }
      return;
    }
    for (int c = 0; c < a_.classes; ++c) {
      const int64_t k = at(n, 5 + c, j, i);
      delta_[k] = smoothed(c == cls ? 1.0 : 0.0) - out(k);
    }
    // darknet scales by cls_normalizer only together with counters_per_class
    if (!multipliers_.empty()) delta_[truth] *= multiplier(cls) * a_.cls_normalizer;
  }

  // averages_yolo_deltas: a slot several truths claimed gets the mean of
  // their box deltas (divided by its number of classes with a positive delta).
  void average_collisions() {
    for (int64_t n = 0; n < int64_t(a_.mask.size()); ++n)
      for (int64_t j = 0; j < head_.shape.h; ++j)
        for (int64_t i = 0; i < head_.shape.w; ++i) {
          if (delta_[at(n, 4, j, i)] == 0) continue;
          int positive_classes = 0;
          for (int c = 0; c < a_.classes; ++c) positive_classes += delta_[at(n, 5 + c, j, i)] > 0;
          if (positive_classes > 0)
            for (int e = 0; e < 4; ++e) delta_[at(n, e, j, i)] /= positive_classes;
        }
  }

  const YoloAttrs& a_;
  const YoloHead& head_;
  const float* out_;
  std::vector<double>& delta_;
  std::vector<double> multipliers_;
  std::vector<ObjectBox> valid_;
  int64_t plane_ = 0, entries_ = 0, b_ = 0;
};

void check_finite(const YoloHead& head, const char* term, double value) {
  if (std::isnan(value)) throw Error(head.name + ": " + term + " loss is NaN");
  if (!std::isfinite(value)) throw Error(head.name + ": " + term + " loss is infinite");
}

}  // namespace

LossResult yolo_deltas(const YoloHead& head, const float* output, std::span<const std::vector<ObjectBox>> truths,
                       std::vector<double>& delta) {
  if (int64_t(truths.size()) != head.shape.n)
    throw Error(head.name + ": the batch has " + std::to_string(truths.size()) + " truth lists for " +
                std::to_string(head.shape.n) + " images");
  LossResult result;
  HeadDeltas deltas(head, output, delta);
  for (int64_t b = 0; b < head.shape.n; ++b) deltas.image(b, truths[size_t(b)], result);
  const int64_t plane = head.shape.h * head.shape.w, entries = head.attrs.classes + 5;
  for (size_t k = 0; k < delta.size(); ++k) {
    const int64_t entry = int64_t(k) / plane % entries;
    const double square = delta[k] * delta[k];
    (entry < 4 ? result.box_loss : entry == 4 ? result.objectness_loss : result.class_loss) += square;
  }
  check_finite(head, "box", result.box_loss);
  check_finite(head, "objectness", result.objectness_loss);
  check_finite(head, "class", result.class_loss);
  result.loss = result.box_loss + result.objectness_loss + result.class_loss;
  return result;
}

}  // namespace cspnet
