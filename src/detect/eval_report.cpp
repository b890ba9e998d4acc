// Text and JSON reports of darknet's mAP and COCO's per-class AP.
#include "cspnet/eval_report.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace cspnet {
namespace {

std::string class_name(const std::vector<std::string>& names, size_t k) {
  return k < names.size() ? names[k] : std::to_string(k);
}

std::string format(const char* fmt, auto... args) {
  char line[256];
  std::snprintf(line, sizeof line, fmt, args...);
  return line;
}

}  // namespace

std::string darknet_map_table(const DarknetMap& m, const std::vector<std::string>& names, float iou_threshold,
                              int points, float threshold) {
  std::string out;
  for (size_t k = 0; k < m.classes.size(); ++k) {
    const auto& c = m.classes[k];
    out += format("class_id = %zu, name = %s, ap = %.2f %%   \t (TP = %d, FP = %d, truths = %d)\n", k,
                  class_name(names, k).c_str(), c.ap * 100, c.tp, c.fp, c.truths);
  }
  out += format(" for conf_thresh = %.2f, precision = %.2f, recall = %.2f, F1-score = %.2f\n", threshold, m.precision,
                m.recall, m.f1);
  out += format(" for conf_thresh = %.2f, TP = %d, FP = %d, FN = %d, average IoU = %.2f %%\n", threshold, m.tp, m.fp,
                m.fn, m.average_iou * 100);
  const char* method = points == 0 ? "Area-Under-Curve for each unique Recall" : (points == 11 ? "11 Recall-points" : "101 Recall-points");
  out += format(" IoU threshold = %.0f %%, used %s\n", iou_threshold * 100, method);
  out += format(" mean average precision (mAP@%.2f) = %f, or %.2f %%\n", iou_threshold, m.map, m.map * 100);
  return out;
}

std::string darknet_map_json(const DarknetMap& m, const std::vector<std::string>& names) {
  nlohmann::json classes = nlohmann::json::array();
  for (size_t k = 0; k < m.classes.size(); ++k) {
    const auto& c = m.classes[k];
    classes.push_back({{"class", k}, {"name", class_name(names, k)}, {"ap", c.ap}, {"truths", c.truths},
                       {"tp", c.tp}, {"fp", c.fp}});
  }
  return nlohmann::json{{"map", m.map},         {"precision", m.precision}, {"recall", m.recall},
                        {"f1", m.f1},           {"tp", m.tp},               {"fp", m.fp},
                        {"fn", m.fn},           {"average_iou", m.average_iou}, {"classes", classes}}
      .dump(2);
}

std::string coco_class_table(const CocoEval& e, const std::vector<std::string>& names) {
  std::string out;
  for (size_t k = 0; k < e.class_ap.size(); ++k)
    out += e.class_ap[k] > -1 ? format("%-20s %.4f\n", class_name(names, k).c_str(), e.class_ap[k])
                              : format("%-20s -\n", class_name(names, k).c_str());
  return out;
}

}  // namespace cspnet
