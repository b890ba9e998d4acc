// [sam] as parallel loops (elementwise: either layout).
#include <memory>
#include <vector>

#include "backends/onednn/kernel_util.hpp"
#include "backends/onednn/train_util.hpp"

namespace cspnet {
namespace {

class SamKernels final : public LayerKernels {
 public:
  LayoutRule layout_rule(const Layer&) const override { return LayoutRule::same; }  // elementwise

  std::unique_ptr<Kernel> compile(const Layer& layer, const CompileContext& ctx) const override {
    const Activation act = layer.attrs_as<SamAttrs>().activation;
    TensorView a = ctx.inputs[0], b = ctx.inputs[1], out = ctx.output;
    return make_kernel([a, b, out, act](dnnl::stream&) {
      const int64_t per_image = out.shape.per_image();
      for (int64_t n = 0; n < out.shape.n; ++n) {
        const float *x = a.image(n), *y = b.image(n);
        float* z = out.image(n);
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < per_image; ++i) z[i] = x[i] * y[i];
        activate_array(act, z, per_image);
      }
    });
  }

  // Training: z = act(a*b). The backward recomputes the product for the
  // activation's derivative, g = dz*act'(a*b), then da = g*b and db = g*a
  // (slots in order: from=-1 reads the previous layer twice).
  std::unique_ptr<TrainKernel> compile_training(Layer& layer, const TrainCompileContext& ctx) const override {
    const Activation act = layer.attrs_as<SamAttrs>().activation;
    const TrainTensor a = ctx.inputs[0], b = ctx.inputs[1], out = ctx.output, dz = ctx.output_grad;
    const TrainTensor grads[2] = {ctx.input_grads[0], ctx.input_grads[1]};
    const bool accumulate[2] = {ctx.accumulate_input_grad[0], ctx.accumulate_input_grad[1]};
    auto pre_grad = std::make_shared<RecomputedActivationGrad>(act, out.count());
    auto product = [a, b, count = out.count()](float* dst) {
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < count; ++i) dst[i] = a.data[i] * b.data[i];
    };
    return make_train_kernel(
        [out, act, product](dnnl::stream&, const StepContext&) {
          product(out.data);
          activate_array(act, out.data, out.count());
        },
        [pre_grad, a, b, dz, grads, accumulate, product](dnnl::stream&) {
          const int64_t count = dz.count();
          const float* g = (*pre_grad)(dz.data, product);
          for (int slot = 0; slot < 2; ++slot) {
            float* d = grads[slot].data;
            if (!d) continue;
            const float* other = slot == 0 ? b.data : a.data;
            const bool add = accumulate[slot];
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < count; ++i) d[i] = add ? d[i] + g[i] * other[i] : g[i] * other[i];
          }
        });
  }

};

}  // namespace

const LayerKernels& sam_kernels() {
  static const SamKernels kernels;
  return kernels;
}

}  // namespace cspnet
