// [softmax]: darknet's softmax over each of `groups` contiguous chunks of
// the flattened C*H*W input (groups=1: the whole vector), with temperature.
#include <algorithm>
#include <cmath>

#include "cspnet/cfg.hpp"
#include "layer_util.hpp"
#include "train_util.hpp"

namespace cspnet {
namespace {

class SoftmaxLayer final : public Layer {
 public:
  explicit SoftmaxLayer(Options& o) {
    groups_ = o.get_int("groups", 1);
    temperature_ = o.get_float("temperature", 1.f);
    if (groups_ <= 0) o.fail("groups", "a positive number of groups");
    if (!(temperature_ > 0)) o.fail("temperature", "a positive temperature");
  }
  std::string_view type() const override { return "softmax"; }
  bool is_plain_softmax() const override { return groups_ == 1 && temperature_ == 1.f; }
  Shape infer(std::span<const Shape> in) override {
    if (in[0].per_image() % groups_ != 0)
      shape_error(*this, "groups=" + std::to_string(groups_) + " does not divide the " +
                             std::to_string(in[0].per_image()) + " inputs");
    return in[0];
  }
  std::unique_ptr<Kernel> compile(const CompileContext& ctx) override {
    TensorView in = ctx.inputs[0], out = ctx.output;
    int64_t groups = groups_;
    float inv_t = 1.f / temperature_;
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
  std::unique_ptr<TrainKernel> compile_training(const TrainCompileContext& ctx) override {
    const TrainTensor in = ctx.inputs[0], out = ctx.output, dy = ctx.output_grad, dx = ctx.input_grads[0];
    const bool accumulate = ctx.accumulate_input_grad[0];
    const int64_t chunks = in.shape.n * groups_, chunk = in.shape.per_image() / groups_;
    const float inv_t = 1.f / temperature_;
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

 private:
  int groups_ = 1;
  float temperature_ = 1.f;
};

}  // namespace

std::unique_ptr<Layer> make_softmax(LayerSite& site) { return std::make_unique<SoftmaxLayer>(site.options); }

}  // namespace cspnet
