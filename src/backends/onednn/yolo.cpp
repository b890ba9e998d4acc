// [yolo]: darknet's output activations in place of the raw map, as a
// parallel loop; in training, the detection loss layer (train/yolo_loss).
#include <cstring>

#include "backends/onednn/kernel_util.hpp"
#include "backends/onednn/train_util.hpp"
#include "train/yolo_loss.hpp"

namespace cspnet {
namespace {

// logistic on x, y, objectness and classes (unless new_coords: the
// preceding conv is logistic), then x, y scaled by scale_x_y about 0.5.
void activate_head(const YoloAttrs& p, const float* in, int64_t in_stride, float* out, int64_t out_stride,
                   int64_t images, int64_t per_image, int64_t plane) {
  const int64_t entries = p.classes + 5;
  const float scale = p.scale_x_y, shift = -0.5f * (p.scale_x_y - 1.f);
  for (int64_t n = 0; n < images; ++n) {
    std::memcpy(out + n * out_stride, in + n * in_stride, size_t(per_image) * sizeof(float));
    for (size_t a = 0; a < p.mask.size(); ++a) {
      float* base = out + n * out_stride + int64_t(a) * entries * plane;
      if (!p.new_coords) {
        activate_array(Activation::logistic, base, 2 * plane);
        activate_array(Activation::logistic, base + 4 * plane, (1 + p.classes) * plane);
      }
      for (int64_t i = 0; i < 2 * plane; ++i) base[i] = base[i] * scale + shift;
    }
  }
}

// After a logistic over the whole head (inference): each anchor's w, h
// planes back to the raw values, x, y scaled by scale_x_y about 0.5.
void restore_box_sizes(const YoloAttrs& p, const TensorView& in, const TensorView& out) {
  const int64_t plane = in.plane(), entries = p.classes + 5, anchors = int64_t(p.mask.size());
  const float scale = p.scale_x_y, shift = -0.5f * (p.scale_x_y - 1.f);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < in.shape.n; ++n)
    for (int64_t a = 0; a < anchors; ++a) {
      float* base = out.image(n) + a * entries * plane;
      std::memcpy(base + 2 * plane, in.image(n) + a * entries * plane + 2 * plane, size_t(2 * plane) * sizeof(float));
      if (scale != 1.f)
        for (int64_t i = 0; i < 2 * plane; ++i) base[i] = base[i] * scale + shift;
    }
}

// The [yolo] loss layer. As in darknet, the gradient at the layer input is
// minus the delta on every channel, without the activation's derivative:
// on logistic channels the delta (target - p) is the binary cross-entropy
// gradient at the logit; on x, y (logistic, scale_x_y) darknet likewise
// passes the squared-error delta straight through, and so do we.
class YoloLossKernel final : public LossKernel {
 public:
  YoloLossKernel(const Layer& layer, const TrainCompileContext& ctx)
      : attrs_(layer.attrs_as<YoloAttrs>()),
        in_(ctx.inputs[0]),
        out_(ctx.output),
        dx_(ctx.input_grads[0]),
        accumulate_(ctx.accumulate_input_grad[0]),
        name_("layer " + std::to_string(layer.index()) + " [yolo]"),
        net_w_(ctx.network_input.w),
        net_h_(ctx.network_input.h),
        seed_(size_t(in_.count()), 0.f) {}

  void forward(dnnl::stream&, const StepContext&) override {
    const int64_t per_image = in_.shape.per_image();
    activate_head(attrs_, in_.data, per_image, out_.data, per_image, in_.shape.n, per_image, in_.shape.h * in_.shape.w);
  }

  LossResult loss(const Targets& targets, float grad_scale) override {
    const YoloHead head{attrs_, in_.shape, net_w_, net_h_, name_};
    const LossResult result = yolo_deltas(head, out_.data, targets.boxes, delta_);
    const double scale = -double(grad_scale) * attrs_.delta_normalizer;
    for (size_t k = 0; k < delta_.size(); ++k) seed_[k] = float(delta_[k] * scale);
    return result;
  }

  void backward(dnnl::stream&) override {
    if (dx_.data) store_gradient(dx_.data, seed_.data(), dx_.count(), accumulate_);
  }

 private:
  YoloAttrs attrs_;
  TrainTensor in_, out_, dx_;
  bool accumulate_;
  std::string name_;
  int64_t net_w_, net_h_;
  std::vector<double> delta_;  // darknet's deltas of the last loss()
  std::vector<float> seed_;    // dL/d(input) from the last loss()
};

class YoloKernels final : public LayerKernels {
 public:
  std::unique_ptr<Kernel> compile(const Layer& layer, const CompileContext& ctx) const override {
    TensorView in = ctx.inputs[0], out = ctx.output;
    const YoloAttrs p = layer.attrs_as<YoloAttrs>();
    if (p.new_coords)  // no logistic: a copy and the x, y affine map
      return make_kernel([in, out, p](dnnl::stream&) {
        activate_head(p, in.data, in.image_stride, out.data, out.image_stride, in.shape.n, in.shape.per_image(),
                      in.plane());
      });
    // oneDNN's eltwise logistic (vectorised exp, threaded) over every channel
    // from the raw map into the output, then each anchor's w, h planes copied
    // back raw and its x, y scaled: one pass over the head instead of
    // per-range scalar loops, at the price of 2 of every classes + 5
    // channels' logistic computed and overwritten.
    auto kernels = std::make_unique<SequenceKernel>();
    kernels->add(eltwise_kernel(Eltwise{dnnl::algorithm::eltwise_logistic}, in, out, ctx));
    kernels->add(make_kernel([in, out, p](dnnl::stream&) { restore_box_sizes(p, in, out); }));
    return kernels;
  }

  // As a loss layer, the [yolo] loss; otherwise (a run training other loss
  // layers) the activations and their exact derivative.
  std::unique_ptr<TrainKernel> compile_training(Layer& layer, const TrainCompileContext& ctx) const override {
    if (ctx.loss) return std::make_unique<YoloLossKernel>(layer, ctx);
    const YoloAttrs p = layer.attrs_as<YoloAttrs>();
    const TrainTensor in = ctx.inputs[0], out = ctx.output, dy = ctx.output_grad, dx = ctx.input_grads[0];
    const bool accumulate = ctx.accumulate_input_grad[0];
    return make_train_kernel(
        [p, in, out](dnnl::stream&, const StepContext&) {
          const int64_t per_image = in.shape.per_image();
          activate_head(p, in.data, per_image, out.data, per_image, in.shape.n, per_image, in.shape.h * in.shape.w);
        },
        [p, out, dy, dx, accumulate](dnnl::stream&) {
          if (dx.data) activation_backward(p, out, dy, dx, accumulate);
        });
  }

 private:
  // d(out)/d(in) from the output: logistic' = y(1-y) on x, y (before the
  // scale_x_y affine map, undone here), objectness and classes.
  static void activation_backward(const YoloAttrs& p, const TrainTensor& out, const TrainTensor& dy,
                                  const TrainTensor& dx, bool accumulate) {
    const int64_t plane = out.shape.h * out.shape.w, entries = p.classes + 5;
    const float scale = p.scale_x_y, shift = -0.5f * (p.scale_x_y - 1.f);
    const int64_t count = out.count();
    for (int64_t k = 0; k < count; ++k) {
      const int64_t entry = k / plane % entries;
      float slope = 1.f;
      if (entry < 2) {
        const float y = (out.data[k] - shift) / scale;
        slope = p.new_coords ? scale : scale * y * (1 - y);
      } else if (entry >= 4 && !p.new_coords) {
        slope = out.data[k] * (1 - out.data[k]);
      }
      const float value = dy.data[k] * slope;
      dx.data[k] = accumulate ? dx.data[k] + value : value;
    }
  }
};

}  // namespace

const LayerKernels& yolo_kernels() {
  static const YoloKernels kernels;
  return kernels;
}

}  // namespace cspnet
