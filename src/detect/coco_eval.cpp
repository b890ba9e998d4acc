// COCO bbox evaluation written from pycocotools' COCOeval semantics
// (evaluateImg, accumulate, summarize). Every ordering and tie rule follows
// it, so the numbers agree to the last bits: stable score sorts, ignored
// truths last, the matcher's ">= best" replacement, crowd IoU = inter / det.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>

#include "cspnet/detection_metrics.hpp"
#include "cspnet/error.hpp"

namespace cspnet {
namespace {

constexpr int kMaxDets[kCocoMaxDets] = {1, 10, 100};
constexpr double kAreaRanges[kCocoAreas][2] = {{0, 1e10}, {0, 32 * 32}, {32 * 32, 96 * 96}, {96 * 96, 1e10}};
constexpr double kEps = std::numeric_limits<double>::epsilon();  // np.spacing(1)

// numpy.linspace: i * step + start, the last point exactly `stop`.
template <size_t N>
std::array<double, N> linspace(double start, double stop) {
  std::array<double, N> v{};
  const double step = (stop - start) / double(N - 1);
  for (size_t i = 0; i < N; ++i) v[i] = double(i) * step + start;
  v[N - 1] = stop;
  return v;
}

bool outside(double area, int a) { return area < kAreaRanges[a][0] || area > kAreaRanges[a][1]; }

// maskApi's bbIou: crowd truths divide by the detection's own area.
double coco_iou(const PixelBox& d, const PixelBox& g, bool crowd) {
  const double w = std::min(d.w + d.x, g.w + g.x) - std::max(d.x, g.x);
  if (w <= 0) return 0;
  const double h = std::min(d.h + d.y, g.h + g.y) - std::max(d.y, g.y);
  if (h <= 0) return 0;
  const double inter = w * h, da = d.w * d.h, ga = g.w * g.h;
  return inter / (crowd ? da : da + ga - inter);
}

// One (image, class, area range) of evaluateImg, dets already in score order.
struct ImageResult {
  std::vector<double> scores;          // <= 100
  std::vector<uint8_t> matched;        // [T][D]
  std::vector<uint8_t> ignored;        // [T][D]
  int truths = 0;                      // non-ignored truths
};

struct ClassInImage {
  std::vector<const CocoTruth*> truths;
  std::vector<const CocoDetection*> dets;
};

ImageResult match_area(const ClassInImage& c, const std::vector<double>& ious, int a) {
  const size_t G = c.truths.size(), D = c.dets.size();
  ImageResult r;
  r.scores.resize(D);
  for (size_t d = 0; d < D; ++d) r.scores[d] = c.dets[d]->score;
  // Truth order: not ignored first (stable).
  std::vector<int> order(G);
  std::vector<uint8_t> ignore(G);
  for (size_t g = 0; g < G; ++g) ignore[g] = c.truths[g]->crowd || outside(c.truths[g]->area, a);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return ignore[x] < ignore[y]; });
  for (size_t g = 0; g < G; ++g) r.truths += !ignore[g];
  r.matched.assign(kCocoIous * D, 0);
  r.ignored.assign(kCocoIous * D, 0);
  const auto& thresholds = coco_iou_thresholds();
  std::vector<uint8_t> taken(G);
  for (int t = 0; t < kCocoIous && G > 0; ++t) {
    std::fill(taken.begin(), taken.end(), 0);
    for (size_t d = 0; d < D; ++d) {
      double best = std::min(thresholds[t], 1 - 1e-10);
      int m = -1;
      for (size_t j = 0; j < G; ++j) {
        const int g = order[j];
        if (taken[j] && !c.truths[g]->crowd) continue;
        if (m > -1 && !ignore[order[m]] && ignore[g]) break;
        const double iou = ious[d * G + g];
        if (iou < best) continue;
        best = iou;
        m = int(j);
      }
      if (m == -1) continue;
      r.ignored[t * D + d] = ignore[order[m]];
      r.matched[t * D + d] = 1;
      taken[m] = 1;
    }
  }
  for (size_t d = 0; d < D; ++d) {
    const PixelBox& b = c.dets[d]->box;
    if (!outside(b.w * b.h, a)) continue;
    for (int t = 0; t < kCocoIous; ++t)
      if (!r.matched[t * D + d]) r.ignored[t * D + d] = 1;
  }
  return r;
}

// Per class, per area: the results of every image with truths or dets of
// that class, in image-id order.
using Evaluated = std::vector<std::array<std::vector<ImageResult>, kCocoAreas>>;

void evaluate_image(const CocoImage& image, int classes, Evaluated& out) {
  std::vector<ClassInImage> by_class(classes);
  for (const auto& t : image.truths)
    if (t.cls >= 0 && t.cls < classes) by_class[t.cls].truths.push_back(&t);
  for (const auto& d : image.detections)
    if (d.cls >= 0 && d.cls < classes) by_class[d.cls].dets.push_back(&d);
  std::vector<double> ious;
  for (int k = 0; k < classes; ++k) {
    auto& c = by_class[k];
    if (c.truths.empty() && c.dets.empty()) continue;
    std::stable_sort(c.dets.begin(), c.dets.end(), [](auto* x, auto* y) { return x->score > y->score; });
    if (c.dets.size() > size_t(kMaxDets[kCocoMaxDets - 1])) c.dets.resize(kMaxDets[kCocoMaxDets - 1]);
    const size_t G = c.truths.size(), D = c.dets.size();
    ious.assign(D * G, 0);
    for (size_t d = 0; d < D; ++d)
      for (size_t g = 0; g < G; ++g) ious[d * G + g] = coco_iou(c.dets[d]->box, c.truths[g]->box, c.truths[g]->crowd);
    for (int a = 0; a < kCocoAreas; ++a) out[k][a].push_back(match_area(c, ious, a));
  }
}

size_t precision_index(int t, int r, int k, int a, int m, int K) {
  return ((((size_t(t) * kCocoRecalls + r) * K + k) * kCocoAreas + a) * kCocoMaxDets) + m;
}
size_t recall_index(int t, int k, int a, int m, int K) {
  return ((size_t(t) * K + k) * kCocoAreas + a) * kCocoMaxDets + m;
}

struct RankedDet {
  double score;
  const ImageResult* image;
  int det;
};

// accumulate for one (class, area, maxDets).
void accumulate_one(const std::vector<ImageResult>& images, int k, int a, int m, CocoEval& e) {
  const int K = e.classes, max_dets = kMaxDets[m];
  int truths = 0;
  std::vector<RankedDet> ranked;
  for (const auto& im : images) {
    truths += im.truths;
    const int n = std::min<int>(max_dets, int(im.scores.size()));
    for (int d = 0; d < n; ++d) ranked.push_back({im.scores[d], &im, d});
  }
  if (truths == 0) return;
  std::stable_sort(ranked.begin(), ranked.end(), [](const RankedDet& x, const RankedDet& y) { return x.score > y.score; });
  const size_t nd = ranked.size();
  const auto& recall_points = coco_recall_thresholds();
  std::vector<double> rc(nd), pr(nd);
  for (int t = 0; t < kCocoIous; ++t) {
    double tp = 0, fp = 0;
    for (size_t i = 0; i < nd; ++i) {
      const auto& rd = ranked[i];
      const size_t at = size_t(t) * rd.image->scores.size() + rd.det;
      if (!rd.image->ignored[at]) (rd.image->matched[at] ? tp : fp) += 1;
      rc[i] = tp / truths;
      pr[i] = tp / (fp + tp + kEps);
    }
    e.recall[recall_index(t, k, a, m, K)] = nd ? rc[nd - 1] : 0;
    for (size_t i = nd; i-- > 1;) pr[i - 1] = std::max(pr[i - 1], pr[i]);
    // searchsorted(rc, r, 'left'); points past the last recall stay 0.
    size_t i = 0;
    for (int r = 0; r < kCocoRecalls; ++r) {
      while (i < nd && rc[i] < recall_points[r]) ++i;
      e.precision[precision_index(t, r, k, a, m, K)] = i < nd ? pr[i] : 0;
    }
  }
}

// summarize's mean over entries > -1 (-1 when there are none).
double mean_present(const std::vector<double>& v) {
  double sum = 0;
  int n = 0;
  for (double x : v)
    if (x > -1) sum += x, ++n;
  return n ? sum / n : -1;
}

double summarize_ap(const CocoEval& e, int iou_index, int a, int m) {
  std::vector<double> v;
  for (int t = 0; t < kCocoIous; ++t) {
    if (iou_index >= 0 && t != iou_index) continue;
    for (int r = 0; r < kCocoRecalls; ++r)
      for (int k = 0; k < e.classes; ++k) v.push_back(e.precision_at(t, r, k, a, m));
  }
  return mean_present(v);
}

double summarize_ar(const CocoEval& e, int a, int m) {
  std::vector<double> v;
  for (int t = 0; t < kCocoIous; ++t)
    for (int k = 0; k < e.classes; ++k) v.push_back(e.recall[recall_index(t, k, a, m, e.classes)]);
  return mean_present(v);
}

}  // namespace

const std::array<double, kCocoIous>& coco_iou_thresholds() {
  static const auto v = linspace<kCocoIous>(0.5, 0.95);
  return v;
}
const std::array<double, kCocoRecalls>& coco_recall_thresholds() {
  static const auto v = linspace<kCocoRecalls>(0.0, 1.0);
  return v;
}

double CocoEval::precision_at(int t, int r, int k, int a, int m) const {
  return precision[precision_index(t, r, k, a, m, classes)];
}

CocoImage to_coco_image(const EvalImage& image) {
  CocoImage out;
  out.id = image.id;
  const double W = image.width, H = image.height;
  auto pixels = [&](const auto& b) {
    return PixelBox{(double(b.x) - double(b.w) / 2) * W, (double(b.y) - double(b.h) / 2) * H, double(b.w) * W,
                    double(b.h) * H};
  };
  for (const auto& t : image.truths) {
    const PixelBox p = pixels(t);
    out.truths.push_back({p, t.cls, t.crowd, t.area < 0 ? p.w * p.h : double(t.area)});
  }
  for (const auto& d : image.detections) out.detections.push_back({pixels(d), d.cls, double(d.score)});
  return out;
}

CocoEval coco_eval(const std::vector<EvalImage>& images, int classes) {
  std::vector<CocoImage> coco;
  coco.reserve(images.size());
  for (const auto& im : images) coco.push_back(to_coco_image(im));
  return coco_eval(coco, classes);
}

CocoEval coco_eval(const std::vector<CocoImage>& images, int classes) {
  if (classes <= 0) throw Error("coco_eval: classes must be positive, got " + std::to_string(classes));
  std::vector<const CocoImage*> by_id;
  for (const auto& im : images) by_id.push_back(&im);
  std::stable_sort(by_id.begin(), by_id.end(), [](auto* x, auto* y) { return x->id < y->id; });
  Evaluated evaluated(classes);
  for (const auto* im : by_id) evaluate_image(*im, classes, evaluated);

  CocoEval e;
  e.classes = classes;
  e.precision.assign(size_t(kCocoIous) * kCocoRecalls * classes * kCocoAreas * kCocoMaxDets, -1);
  e.recall.assign(size_t(kCocoIous) * classes * kCocoAreas * kCocoMaxDets, -1);
  for (int k = 0; k < classes; ++k)
    for (int a = 0; a < kCocoAreas; ++a)
      for (int m = 0; m < kCocoMaxDets; ++m) accumulate_one(evaluated[k][a], k, a, m, e);

  const int last = kCocoMaxDets - 1;
  e.stats = {summarize_ap(e, -1, 0, last), summarize_ap(e, 0, 0, last), summarize_ap(e, 5, 0, last),
             summarize_ap(e, -1, 1, last), summarize_ap(e, -1, 2, last), summarize_ap(e, -1, 3, last),
             summarize_ar(e, 0, 0),        summarize_ar(e, 0, 1),        summarize_ar(e, 0, 2),
             summarize_ar(e, 1, last),     summarize_ar(e, 2, last),     summarize_ar(e, 3, last)};
  e.class_ap.resize(classes);
  for (int k = 0; k < classes; ++k) {
    std::vector<double> v;
    for (int t = 0; t < kCocoIous; ++t)
      for (int r = 0; r < kCocoRecalls; ++r) v.push_back(e.precision_at(t, r, k, 0, last));
    e.class_ap[k] = mean_present(v);
  }
  return e;
}

std::string coco_summary(const CocoEval& e) {
  // pycocotools' format: ' {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}'.
  static const char* ious[12] = {"0.50:0.95", "0.50", "0.75", "0.50:0.95", "0.50:0.95", "0.50:0.95",
                                 "0.50:0.95", "0.50:0.95", "0.50:0.95", "0.50:0.95", "0.50:0.95", "0.50:0.95"};
  static const char* areas[12] = {"all", "all", "all", "small", "medium", "large",
                                  "all", "all", "all", "small", "medium", "large"};
  static const int dets[12] = {100, 100, 100, 100, 100, 100, 1, 10, 100, 100, 100, 100};
  std::string out;
  char line[128];
  for (int i = 0; i < 12; ++i) {
    std::snprintf(line, sizeof line, " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f\n",
                  i < 6 ? "Average Precision" : "Average Recall",
                  i < 6 ? "(AP)" : "(AR)", ious[i], areas[i], dets[i], e.stats[i]);
    out += line;
  }
  return out;
}

}  // namespace cspnet
