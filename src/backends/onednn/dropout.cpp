// [dropout]: no inference kernel (a view); training masks from a
// counter-based generator of (step seed, layer, element), so they are
// reproducible and the backward recomputes them instead of storing them.
#include <cstdint>

#include "backends/onednn/kernel_util.hpp"
#include "backends/onednn/train_util.hpp"

namespace cspnet {
namespace {

class DropoutKernels final : public LayerKernels {
 public:
  // A view at inference: nothing runs.
  std::unique_ptr<Kernel> compile(const Layer&, const CompileContext&) const override { return nullptr; }

  std::unique_ptr<TrainKernel> compile_training(Layer& layer, const TrainCompileContext& ctx) const override {
    const float probability = layer.attrs_as<DropoutAttrs>().probability;
    struct State {
      bool dropped = false;  // the last forward applied a mask
      uint64_t seed = 0;     // its generator seed
    };
    auto state = std::make_shared<State>();
    const TrainTensor in = ctx.inputs[0], out = ctx.output, dy = ctx.output_grad, dx = ctx.input_grads[0];
    const bool accumulate = ctx.accumulate_input_grad[0];
    const float p = probability, keep_scale = 1.f / (1.f - probability);
    // Distinct layers draw distinct masks from one step seed.
    const uint64_t salt = 0xd1b54a32d192ed03ULL * (static_cast<uint64_t>(layer.index()) + 1);
    // y = factor(i) * x, with factor 0 or 1/(1 - p); `add` accumulates.
    auto apply = [p, keep_scale, state](const float* from, float* to, int64_t count, bool add) {
      const bool dropped = state->dropped;
      const uint64_t seed = state->seed;
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < count; ++i) {
        float factor = 1.f;
        if (dropped) factor = counter_uniform(seed, static_cast<uint64_t>(i)) < p ? 0.f : keep_scale;
        const float value = factor * from[i];
        to[i] = add ? to[i] + value : value;
      }
    };
    return make_train_kernel(
        [in, out, state, salt, p, apply](dnnl::stream&, const StepContext& step) {
          state->dropped = step.training && p > 0;
          state->seed = step.seed ^ salt;
          apply(in.data, out.data, out.count(), false);
        },
        [dy, dx, accumulate, apply](dnnl::stream&) {
          if (dx.data) apply(dy.data, dx.data, dy.count(), accumulate);
        });
  }

};

}  // namespace

const LayerKernels& dropout_kernels() {
  static const DropoutKernels kernels;
  return kernels;
}

}  // namespace cspnet
