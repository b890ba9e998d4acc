// [softmax] as parallel loops; as a loss layer, softmax cross-entropy.
#include <algorithm>
#include <cmath>

#include "backends/onednn/kernel_util.hpp"
#include "backends/onednn/train_util.hpp"
#include "train/cross_entropy.hpp"

namespace cspnet {
namespace {

class SoftmaxKernels final : public LayerKernels {
 public:
  std::unique_ptr<Kernel> compile(const Layer& layer, const CompileContext& ctx) const override {
    const auto& a = layer.attrs_as<SoftmaxAttrs>();
    TensorView in = ctx.inputs[0], out = ctx.output;
    int64_t groups = a.groups;
    float inv_t = 1.f / a.temperature;
    return make_kernel([in, out, groups, inv_t](dnnl::stream&) {
      const int64_t chunk = in.shape.per_image() / groups;
#pragma omp parallel for collapse(2) schedule(static)
      for (int64_t n = 0; n < in.shape.n; ++n)
        for (int64_t g = 0; g < groups; ++g) {
          const float* x = in.image(n) + g * chunk;
          float* y = out.image(n) + g * chunk;
          float largest = *std::max_element(x, x + chunk);
          double sum = 0;
          for (int64_t i = 0; i < chunk; ++i) sum += y[i] = std::exp((x[i] - largest) * inv_t);
          float inv = static_cast<float>(1.0 / sum);
          for (int64_t i = 0; i < chunk; ++i) y[i] *= inv;
        }
    });
  }

  // Training: the same softmax; the backward is its Jacobian per group,
  // dx = y * (dy - sum(dy * y)) / temperature, from the output y.
  std::unique_ptr<TrainKernel> compile_training(Layer& layer, const TrainCompileContext& ctx) const override {
    const auto& a = layer.attrs_as<SoftmaxAttrs>();
    if (ctx.loss) {
      if (!is_plain_softmax(layer))
        throw Error(layer.where() + ": only a [softmax] with groups=1 and temperature=1 can be a loss layer");
      return std::make_unique<SoftmaxLossKernel>(layer_kernel(a, ctx), ctx);
    }
    return layer_kernel(a, ctx);
  }

 private:
  // Softmax cross-entropy computed from the logits (the layer's input) in
  // double, exact and stable; the gradient p - target goes to the input.
  class SoftmaxLossKernel final : public LossKernel {
   public:
    SoftmaxLossKernel(std::unique_ptr<TrainKernel> softmax, const TrainCompileContext& ctx)
        : softmax_(std::move(softmax)),
          logits_(ctx.inputs[0]),
          dx_(ctx.input_grads[0]),
          accumulate_(ctx.accumulate_input_grad[0]),
          seed_(static_cast<size_t>(logits_.count())) {}
    void forward(dnnl::stream& stream, const StepContext& step) override { softmax_->forward(stream, step); }
    LossResult loss(const Targets& targets, float grad_scale) override {
      return softmax_cross_entropy(logits_.data, logits_.shape.n, logits_.shape.per_image(), targets, grad_scale,
                                   seed_.data(), false);
    }
    void backward(dnnl::stream&) override {
      if (dx_.data) store_gradient(dx_.data, seed_.data(), dx_.count(), accumulate_);
    }

   private:
    std::unique_ptr<TrainKernel> softmax_;
    TrainTensor logits_, dx_;
    bool accumulate_;
    std::vector<float> seed_;  // dL/d(logits) from the last loss()
  };

  static std::unique_ptr<TrainKernel> layer_kernel(const SoftmaxAttrs& a, const TrainCompileContext& ctx) {
    const TrainTensor in = ctx.inputs[0], out = ctx.output, dy = ctx.output_grad, dx = ctx.input_grads[0];
    const bool accumulate = ctx.accumulate_input_grad[0];
    const int64_t chunks = in.shape.n * a.groups, chunk = in.shape.per_image() / a.groups;
    const float inv_t = 1.f / a.temperature;
    return make_train_kernel(
        [in, out, chunks, chunk, inv_t](dnnl::stream&, const StepContext&) {
#pragma omp parallel for schedule(static)
          for (int64_t g = 0; g < chunks; ++g) {
            const float* x = in.data + g * chunk;
            float* y = out.data + g * chunk;
            const float largest = *std::max_element(x, x + chunk);
            double sum = 0;
            for (int64_t i = 0; i < chunk; ++i) sum += y[i] = std::exp((x[i] - largest) * inv_t);
            const auto inv = static_cast<float>(1.0 / sum);
            for (int64_t i = 0; i < chunk; ++i) y[i] *= inv;
          }
        },
        [out, dy, dx, accumulate, chunks, chunk, inv_t](dnnl::stream&) {
          if (!dx.data) return;
#pragma omp parallel for schedule(static)
          for (int64_t g = 0; g < chunks; ++g) {
            const float* y = out.data + g * chunk;
            const float* grad = dy.data + g * chunk;
            float* dst = dx.data + g * chunk;
            double dot = 0;
            for (int64_t i = 0; i < chunk; ++i) dot += double(grad[i]) * y[i];
            const auto centre = static_cast<float>(dot);
            for (int64_t i = 0; i < chunk; ++i) {
              const float value = y[i] * (grad[i] - centre) * inv_t;
              dst[i] = accumulate ? dst[i] + value : value;
            }
          }
        });
  }

};

}  // namespace

const LayerKernels& softmax_kernels() {
  static const SoftmaxKernels kernels;
  return kernels;
}

}  // namespace cspnet
