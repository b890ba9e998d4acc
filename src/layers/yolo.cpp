// [yolo]: YOLOv3/v4 detection head. At inference its kernel applies
// darknet's output activations (logistic on x, y, objectness and class
// scores, scale_x_y on x, y; with new_coords only the scaling); the
// attributes drive box decoding (src/detect). Kernels: backends/*/yolo.cpp.
#include "cspnet/cfg.hpp"
#include "layer_util.hpp"

namespace cspnet {
namespace {

// Keys darknet reads for training the head: accepted and kept silent.
constexpr const char* kTrainingKeys[] = {
    "jitter", "ignore_thresh", "truth_thresh", "random", "iou_normalizer", "cls_normalizer", "obj_normalizer",
    "iou_loss", "iou_thresh_kind", "nms_kind", "beta_nms", "max_delta", "counters_per_class",
    "label_smooth_eps", "resize", "focal_loss", "objectness_smooth", "max", "uc_normalizer", "iou_thresh",
    "delta_normalizer", "map", "embedding_layer", "track_history_size", "sim_thresh", "dets_for_track",
    "dets_for_show", "track_ciou_norm", "show_details"};

// Bounds `num` before the default mask and anchors are allocated from it
// (darknet's heads use 3 to 9).
constexpr int kMaxAnchors = 1 << 16;

YoloAttrs read_attrs(Options& o) {
  YoloAttrs a;
  a.classes = o.get_int("classes", 20);
  a.num = o.get_int("num", 1);
  a.mask = o.get_ints("mask");
  a.anchors = o.get_floats("anchors");
  a.scale_x_y = o.get_float("scale_x_y", 1.f);
  a.new_coords = o.get_int("new_coords", 0) != 0;
  for (const char* key : kTrainingKeys) o.touch(key);
  if (a.classes <= 0) o.fail("classes", "a positive number of classes");
  if (a.num <= 0 || a.num > kMaxAnchors)
    o.fail("num", "a positive number of anchors (at most " + std::to_string(kMaxAnchors) + ")");
  if (a.mask.empty())
    for (int i = 0; i < a.num; ++i) a.mask.push_back(i);
  for (int m : a.mask)
    if (m < 0 || m >= a.num) o.fail("mask", "anchor indices in 0.." + std::to_string(a.num - 1));
  if (a.anchors.empty()) a.anchors.assign(size_t(2 * a.num), 0.5f);
  if (a.anchors.size() != size_t(2 * a.num))
    o.fail("anchors", std::to_string(2 * a.num) + " numbers (w,h for each of num=" + std::to_string(a.num) +
                          " anchors)");
  if (!(a.scale_x_y > 0)) o.fail("scale_x_y", "a positive scale");
  return a;
}

class YoloLayer final : public Layer {
 public:
  explicit YoloLayer(Options& o) : Layer(read_attrs(o)), a_(attrs_as<YoloAttrs>()) {}
  std::string_view type() const override { return "yolo"; }
  std::string geometry() const override { return std::to_string(a_.classes) + " classes"; }

  Shape infer(std::span<const Shape> in) override {
    const int64_t want = int64_t(a_.mask.size()) * (int64_t{a_.classes} + 5);
    if (in[0].c != want)
      shape_error(*this, "input has " + std::to_string(in[0].c) + " channels, expected " + std::to_string(want) +
                             " = mask count " + std::to_string(a_.mask.size()) + " * (classes " +
                             std::to_string(a_.classes) + " + 5)");
    return in[0];
  }

 private:
  const YoloAttrs& a_;
};

}  // namespace

std::unique_ptr<Layer> make_yolo(LayerSite& site) { return std::make_unique<YoloLayer>(site.options); }

}  // namespace cspnet
