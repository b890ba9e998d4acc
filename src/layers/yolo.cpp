// [yolo]: YOLOv3/v4 detection head. At inference it applies darknet's output
// activations in place of the raw map (logistic on x, y, objectness and class
// scores, scale_x_y on x, y; with new_coords only the scaling) and keeps the
// parameters for box decoding (src/detect).
#include "cspnet/cfg.hpp"
#include "cspnet/detect.hpp"
#include "cspnet/activation.hpp"
#include "layer_util.hpp"

#include <cstring>

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

class YoloLayer final : public Layer {
 public:
  explicit YoloLayer(Options& o) {
    params_.classes = o.get_int("classes", 20);
    params_.num = o.get_int("num", 1);
    params_.mask = o.get_ints("mask");
    params_.anchors = o.get_floats("anchors");
    params_.scale_x_y = o.get_float("scale_x_y", 1.f);
    params_.new_coords = o.get_int("new_coords", 0) != 0;
    for (const char* key : kTrainingKeys) o.touch(key);
    if (params_.classes <= 0) o.fail("classes", "a positive number of classes");
    if (params_.num <= 0 || params_.num > kMaxAnchors)
      o.fail("num", "a positive number of anchors (at most " + std::to_string(kMaxAnchors) + ")");
    if (params_.mask.empty())
      for (int i = 0; i < params_.num; ++i) params_.mask.push_back(i);
    for (int m : params_.mask)
      if (m < 0 || m >= params_.num) o.fail("mask", "anchor indices in 0.." + std::to_string(params_.num - 1));
    if (params_.anchors.empty()) params_.anchors.assign(size_t(2 * params_.num), 0.5f);
    if (params_.anchors.size() != size_t(2 * params_.num))
      o.fail("anchors", std::to_string(2 * params_.num) + " numbers (w,h for each of num=" +
                            std::to_string(params_.num) + " anchors)");
    if (!(params_.scale_x_y > 0)) o.fail("scale_x_y", "a positive scale");
  }
  std::string_view type() const override { return "yolo"; }
  std::string geometry() const override { return std::to_string(params_.classes) + " classes"; }
  const YoloParams* yolo() const override { return &params_; }

  Shape infer(std::span<const Shape> in) override {
    int64_t want = int64_t(params_.mask.size()) * (int64_t{params_.classes} + 5);
    if (in[0].c != want)
      shape_error(*this, "input has " + std::to_string(in[0].c) + " channels, expected " + std::to_string(want) +
                             " = mask count " + std::to_string(params_.mask.size()) + " * (classes " +
                             std::to_string(params_.classes) + " + 5)");
    return in[0];
  }

  std::unique_ptr<Kernel> compile(const CompileContext& ctx) override {
    TensorView in = ctx.inputs[0], out = ctx.output;
    YoloParams p = params_;
    return make_kernel([in, out, p](dnnl::stream&) {
      const int64_t plane = in.plane(), entries = p.classes + 5;
      const float scale = p.scale_x_y, shift = -0.5f * (p.scale_x_y - 1.f);
      for (int64_t n = 0; n < in.shape.n; ++n) {
        std::memcpy(out.image(n), in.image(n), size_t(in.shape.per_image()) * sizeof(float));
        for (size_t a = 0; a < p.mask.size(); ++a) {
          float* base = out.image(n) + int64_t(a) * entries * plane;
          if (!p.new_coords) {
            activate_array(Activation::logistic, base, 2 * plane);
            activate_array(Activation::logistic, base + 4 * plane, (1 + p.classes) * plane);
          }
          for (int64_t i = 0; i < 2 * plane; ++i) base[i] = base[i] * scale + shift;
        }
      }
    });
  }

 private:
  YoloParams params_;
};

}  // namespace

std::unique_ptr<Layer> make_yolo(LayerSite& site) { return std::make_unique<YoloLayer>(site.options); }

}  // namespace cspnet
