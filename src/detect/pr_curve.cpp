// Precision-recall curves of a COCO evaluation, drawn as a chart like the
// training curves (src/plot/chart.hpp).
#include "cspnet/error.hpp"
#include "cspnet/eval_report.hpp"
#include "plot/chart.hpp"

namespace cspnet {
namespace {

// Mean precision at each of the 101 recall points over the IoU indices
// [t0, t1] and the classes asked for (entries of -1 are left out).
std::vector<std::pair<double, double>> curve(const CocoEval& e, int cls, int t0, int t1) {
  std::vector<std::pair<double, double>> points;
  const int last_dets = kCocoMaxDets - 1;
  for (int r = 0; r < kCocoRecalls; ++r) {
    double sum = 0;
    int n = 0;
    for (int k = cls < 0 ? 0 : cls; k < (cls < 0 ? e.classes : cls + 1); ++k)
      for (int t = t0; t <= t1; ++t) {
        const double p = e.precision_at(t, r, k, 0, last_dets);
        if (p > -1) sum += p, ++n;
      }
    if (n) points.emplace_back(coco_recall_thresholds()[r], sum / n);
  }
  return points;
}

}  // namespace

void write_pr_curve_png(const std::string& path, const CocoEval& e, int cls, int width, int height) {
  if (cls >= e.classes) throw Error(path + ": class " + std::to_string(cls) + " is not evaluated");
  if (width < 400 || height < 300 || width > 8192 || height > 8192)
    throw Error(path + ": PR plot size outside 400x300..8192x8192");
  plot::Panel panel{"precision", "recall", false, 1.0, {0, 1}, {0, 1}, {}};
  panel.series = {{"IoU .50", plot::kTrainColour, curve(e, cls, 0, 0)},
                  {"IoU .75", plot::kTestColour, curve(e, cls, 5, 5)},
                  {"IoU .50:.95", plot::kThirdColour, curve(e, cls, 0, kCocoIous - 1)}};
  const std::string title = cls < 0 ? "precision-recall, all classes" : "precision-recall, class " + std::to_string(cls);
  plot::write_chart(path, plot::Chart{title, width, height, {std::move(panel)}});
}

}  // namespace cspnet
