// [scale_channels] as parallel loops (either layout: the C x 1 x 1 scales
// are in channel order in both).
#include <memory>
#include <vector>

#include "backends/onednn/kernel_util.hpp"
#include "backends/onednn/train_util.hpp"

namespace cspnet {
namespace {

class ScaleChannelsKernels final : public LayerKernels {
 public:
  LayoutRule layout_rule(const Layer&) const override { return LayoutRule::same; }

  std::unique_ptr<Kernel> compile(const Layer& layer, const CompileContext& ctx) const override {
    const Activation act = layer.attrs_as<ScaleChannelsAttrs>().activation;
    TensorView scale = ctx.inputs[0], map = ctx.inputs[1], out = ctx.output;
    // The C x 1 x 1 scales are in channel order in both layouts; a blocked
    // map interleaves 16 channels per cell.
    const int64_t lanes = map.blocked ? kChannelBlock : 1;
    return make_kernel([scale, map, out, act, lanes](dnnl::stream&) {
      const int64_t plane = out.plane(), blocks = out.shape.c / lanes;
#pragma omp parallel for collapse(2) schedule(static)
      for (int64_t n = 0; n < out.shape.n; ++n)
        for (int64_t b = 0; b < blocks; ++b) {
          const float* s = scale.image(n) + b * lanes;
          const float* x = map.image(n) + b * plane * lanes;
          float* y = out.image(n) + b * plane * lanes;
          for (int64_t i = 0; i < plane; ++i)
            for (int64_t l = 0; l < lanes; ++l) y[i * lanes + l] = s[l] * x[i * lanes + l];
        }
      activate_view(act, out);
    });
  }

  // Training: z = act(s[c] * x). The backward recomputes the product for the
  // activation's derivative, g = dz*act'(s*x), then ds[c] = sum over the
  // plane of g*x (slot 0) and dx = g*s (slot 1).
  std::unique_ptr<TrainKernel> compile_training(Layer& layer, const TrainCompileContext& ctx) const override {
    const Activation act = layer.attrs_as<ScaleChannelsAttrs>().activation;
    const TrainTensor scale = ctx.inputs[0], map = ctx.inputs[1], out = ctx.output, dz = ctx.output_grad;
    const TrainTensor grads[2] = {ctx.input_grads[0], ctx.input_grads[1]};
    const bool accumulate[2] = {ctx.accumulate_input_grad[0], ctx.accumulate_input_grad[1]};
    auto pre_grad = std::make_shared<RecomputedActivationGrad>(act, out.count());
    const int64_t planes = out.shape.n * out.shape.c, plane = out.shape.h * out.shape.w;
    // scale.data[p] is the value of plane p = n*C + c (C x 1 x 1 per image).
    auto product = [scale, map, planes, plane](float* dst) {
#pragma omp parallel for schedule(static)
      for (int64_t p = 0; p < planes; ++p) {
        const float s = scale.data[p];
        const float* x = map.data + p * plane;
        float* y = dst + p * plane;
        for (int64_t i = 0; i < plane; ++i) y[i] = s * x[i];
      }
    };
    return make_train_kernel(
        [out, act, product](dnnl::stream&, const StepContext&) {
          product(out.data);
          activate_array(act, out.data, out.count());
        },
        [pre_grad, scale, map, dz, grads, accumulate, planes, plane, product](dnnl::stream&) {
          const float* g = (*pre_grad)(dz.data, product);
          if (float* ds = grads[0].data) {
            const bool add = accumulate[0];
#pragma omp parallel for schedule(static)
            for (int64_t p = 0; p < planes; ++p) {
              const float* x = map.data + p * plane;
              const float* gp = g + p * plane;
              double sum = 0;
              for (int64_t i = 0; i < plane; ++i) sum += double(gp[i]) * x[i];
              const auto value = static_cast<float>(sum);
              ds[p] = add ? ds[p] + value : value;
            }
          }
          if (float* dx = grads[1].data) {
            const bool add = accumulate[1];
#pragma omp parallel for schedule(static)
            for (int64_t p = 0; p < planes; ++p) {
              const float s = scale.data[p];
              const float* gp = g + p * plane;
              float* d = dx + p * plane;
              for (int64_t i = 0; i < plane; ++i) d[i] = add ? d[i] + s * gp[i] : s * gp[i];
            }
          }
        });
  }

};

}  // namespace

const LayerKernels& scale_channels_kernels() {
  static const ScaleChannelsKernels kernels;
  return kernels;
}

}  // namespace cspnet
