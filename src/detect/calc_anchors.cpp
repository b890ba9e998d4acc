// darknet's calc_anchors: k-means of box sizes with distance 1 - IoU of
// origin-aligned boxes. Seeded k-means++ (not darknet's random points) so
// that a seed gives the same anchors and no cluster starts on a duplicate.
#include <algorithm>
#include <random>

#include "cspnet/detection_metrics.hpp"
#include "cspnet/error.hpp"

namespace cspnet {
namespace {

using Size = std::array<float, 2>;
// One k-means++ start can still put two centres in one cluster (seen on
// planted clusters, tests/unit/test_nms_anchors.cpp): keep the best of a few.
constexpr int kRestarts = 8;
constexpr int kMaxIterations = 1000;

double aligned_iou(const Size& a, const Size& b) {
  const double inter = double(std::min(a[0], b[0])) * std::min(a[1], b[1]);
  const double uni = double(a[0]) * a[1] + double(b[0]) * b[1] - inter;
  return uni > 0 ? inter / uni : 0;
}

int nearest(const Size& s, const std::vector<Size>& centres) {
  int best = 0;
  double best_iou = -1;
  for (size_t c = 0; c < centres.size(); ++c) {
    const double iou = aligned_iou(s, centres[c]);
    if (iou > best_iou) best_iou = iou, best = int(c);
  }
  return best;
}

std::vector<Size> plus_plus_seeds(const std::vector<Size>& sizes, int num, std::mt19937& rng) {
  std::vector<Size> centres{sizes[std::uniform_int_distribution<size_t>(0, sizes.size() - 1)(rng)]};
  std::vector<double> weight(sizes.size());
  while (int(centres.size()) < num) {
    for (size_t i = 0; i < sizes.size(); ++i) {
      const double d = 1 - aligned_iou(sizes[i], centres[nearest(sizes[i], centres)]);
      weight[i] = d * d;
    }
    const bool all_zero = std::all_of(weight.begin(), weight.end(), [](double w) { return w <= 0; });
    const size_t pick = all_zero ? std::uniform_int_distribution<size_t>(0, sizes.size() - 1)(rng)
                                 : std::discrete_distribution<size_t>(weight.begin(), weight.end())(rng);
    centres.push_back(sizes[pick]);
  }
  return centres;
}

// Moves each centre to its members' mean; an empty one stays put.
void move_centres(const std::vector<Size>& sizes, const std::vector<int>& member, std::vector<Size>& centres) {
  std::vector<std::array<double, 3>> sum(centres.size(), {0, 0, 0});
  for (size_t i = 0; i < sizes.size(); ++i) {
    sum[member[i]][0] += sizes[i][0], sum[member[i]][1] += sizes[i][1], sum[member[i]][2] += 1;
  }
  for (size_t c = 0; c < centres.size(); ++c)
    if (sum[c][2] > 0) centres[c] = {float(sum[c][0] / sum[c][2]), float(sum[c][1] / sum[c][2])};
}

AnchorsResult kmeans(const std::vector<Size>& sizes, int num, std::mt19937& rng) {
  AnchorsResult out;
  std::vector<Size> centres = plus_plus_seeds(sizes, num, rng);
  std::vector<int> member(sizes.size(), -1);
  for (out.iterations = 1; out.iterations <= kMaxIterations; ++out.iterations) {
    bool changed = false;
    for (size_t i = 0; i < sizes.size(); ++i) {
      const int c = nearest(sizes[i], centres);
      changed |= c != member[i];
      member[i] = c;
    }
    if (!changed) break;
    move_centres(sizes, member, centres);
  }
  out.iterations = std::min(out.iterations, kMaxIterations);
  std::sort(centres.begin(), centres.end(), [](const Size& a, const Size& b) { return a[0] * a[1] < b[0] * b[1]; });
  double iou_sum = 0;
  for (const auto& s : sizes) iou_sum += aligned_iou(s, centres[nearest(s, centres)]);
  out.average_iou = iou_sum / double(sizes.size());
  out.anchors = std::move(centres);
  return out;
}

}  // namespace

AnchorsResult calc_anchors(const std::vector<Size>& sizes, int num, uint32_t seed) {
  if (num <= 0) throw Error("calc_anchors: the number of anchors must be positive, got " + std::to_string(num));
  if (sizes.empty()) throw Error("calc_anchors: no boxes to cluster");
  for (const auto& s : sizes)
    if (!(s[0] > 0 && s[1] > 0)) throw Error("calc_anchors: every box needs a positive width and height");
  std::mt19937 rng(seed);
  AnchorsResult best;
  for (int restart = 0; restart < kRestarts; ++restart) {
    AnchorsResult r = kmeans(sizes, num, rng);
    if (restart == 0 || r.average_iou > best.average_iou) best = std::move(r);
  }
  return best;
}

std::vector<int> counters_per_class(const BoxLists& truths, int classes) {
  std::vector<int> counts(std::max(classes, 0), 0);
  for (const auto& image : truths)
    for (const auto& t : image)
      if (t.cls >= 0 && t.cls < classes) ++counts[t.cls];
  return counts;
}

}  // namespace cspnet
