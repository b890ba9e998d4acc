// [yolo]: YOLOv3/v4 detection head. At inference its kernel applies
// darknet's output activations (logistic on x, y, objectness and class
// scores, scale_x_y on x, y; with new_coords only the scaling); the
// attributes drive box decoding (src/detect). Kernels: backends/*/yolo.cpp.
#include "cspnet/cfg.hpp"
#include "layer_util.hpp"

namespace cspnet {
namespace {

// Keys darknet reads for [yolo] that never change training here: darknet's
// tracking at inference (accepted, not kept), uc_normalizer (read only by
// [Gaussian_yolo]) and beta1 (read by no layer; darknet warns "unused").
constexpr const char* kAcceptedKeys[] = {"track_history_size", "sim_thresh", "dets_for_track", "dets_for_show",
                                         "track_ciou_norm",    "show_details", "uc_normalizer", "beta1"};

template <class Enum, size_t N>
Enum read_enum(Options& o, const std::string& key, Enum fallback, const char* const (&names)[N]) {
  if (!o.has(key)) return fallback;
  const std::string value = o.get_string(key, "");
  for (size_t i = 0; i < N; ++i)
    if (value == names[i]) return static_cast<Enum>(i);
  std::string expected = "one of";
  for (size_t i = 0; i < N; ++i) expected += std::string(i ? ", " : " ") + names[i];
  o.fail(key, expected);
}

constexpr const char* kIouKindNames[] = {"iou", "giou", "diou", "ciou"};
constexpr const char* kBoxLossNames[] = {"mse", "iou", "giou", "diou", "ciou"};
constexpr const char* kNmsKindNames[] = {"default", "greedynms", "diounms", "cornersnms"};

void check_unit(Options& o, const char* key, float value) {
  if (!(value >= 0 && value <= 1)) o.fail(key, "a value in [0,1]");
}
void check_non_negative(Options& o, const char* key, float value) {
  if (!(value >= 0)) o.fail(key, "a non-negative number");
}

void read_training_keys(Options& o, YoloAttrs& a) {
  a.max_boxes = o.get_int("max", a.max_boxes);
  a.jitter = o.get_float("jitter", a.jitter);
  a.resize = o.get_float("resize", a.resize);
  a.random = o.get_float("random", a.random);
  a.ignore_thresh = o.get_float("ignore_thresh", a.ignore_thresh);
  a.truth_thresh = o.get_float("truth_thresh", a.truth_thresh);
  a.iou_thresh = o.get_float("iou_thresh", a.iou_thresh);
  a.iou_thresh_kind = read_enum(o, "iou_thresh_kind", a.iou_thresh_kind, kIouKindNames);
  a.iou_loss = read_enum(o, "iou_loss", a.iou_loss, kBoxLossNames);
  a.iou_normalizer = o.get_float("iou_normalizer", a.iou_normalizer);
  a.obj_normalizer = o.get_float("obj_normalizer", a.obj_normalizer);
  a.cls_normalizer = o.get_float("cls_normalizer", a.cls_normalizer);
  a.delta_normalizer = o.get_float("delta_normalizer", a.delta_normalizer);
  a.max_delta = o.get_float("max_delta", a.max_delta);
  a.label_smooth_eps = o.get_float("label_smooth_eps", a.label_smooth_eps);
  a.counters_per_class = o.get_ints("counters_per_class");
  a.focal_loss = o.get_int("focal_loss", 0) != 0;
  a.objectness_smooth = o.get_int("objectness_smooth", 0) != 0;
  a.nms_kind = read_enum(o, "nms_kind", a.nms_kind, kNmsKindNames);
  a.beta_nms = o.get_float("beta_nms", a.beta_nms);
  if (o.get_int("embedding_layer", -1) != -1)
    o.fail("embedding_layer", "-1 (darknet's tracking embeddings are not supported in training)");
  if (!o.get_string("map", "").empty()) o.fail("map", "no class-id map file (not supported)");
  for (const char* key : kAcceptedKeys) o.touch(key);

  if (a.max_boxes <= 0) o.fail("max", "a positive number of boxes");
  check_unit(o, "jitter", a.jitter);
  check_non_negative(o, "resize", a.resize);
  check_non_negative(o, "random", a.random);
  check_unit(o, "ignore_thresh", a.ignore_thresh);
  check_unit(o, "truth_thresh", a.truth_thresh);
  check_unit(o, "iou_thresh", a.iou_thresh);
  check_non_negative(o, "iou_normalizer", a.iou_normalizer);
  check_non_negative(o, "obj_normalizer", a.obj_normalizer);
  check_non_negative(o, "cls_normalizer", a.cls_normalizer);
  check_non_negative(o, "delta_normalizer", a.delta_normalizer);
  if (!(a.max_delta > 0)) o.fail("max_delta", "a positive clip");
  check_unit(o, "label_smooth_eps", a.label_smooth_eps);
  check_unit(o, "beta_nms", a.beta_nms);
  if (!a.counters_per_class.empty()) {
    if (a.counters_per_class.size() != size_t(a.classes))
      o.fail("counters_per_class", std::to_string(a.classes) + " counts, one per class");
    for (int count : a.counters_per_class)
      if (count <= 0) o.fail("counters_per_class", "positive object counts");
  }
}

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
  read_training_keys(o, a);
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
