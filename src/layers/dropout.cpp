// [dropout]: the identity at inference, so its output is a view of its input.
// Training: each element is kept with probability 1 - p and scaled by
// 1/(1 - p) (darknet's rule); the mask comes from a counter-based generator
// of (step seed, layer, element), so it is reproducible and the backward
// recomputes it instead of storing it.
#include "cspnet/cfg.hpp"
#include "layer_util.hpp"
#include "train_util.hpp"

#include <cstdint>

namespace cspnet {
namespace {

class DropoutLayer final : public Layer {
 public:
  explicit DropoutLayer(Options& o) {
    probability_ = o.get_float("probability", 0.5f);
    if (probability_ < 0 || probability_ >= 1) o.fail("probability", "a probability in [0, 1)");
    for (const char* key : {"dropblock", "dropblock_size_rel", "dropblock_size_abs"}) o.touch(key);
  }
  std::string_view type() const override { return "dropout"; }
  std::string geometry() const override { return "p=" + std::to_string(probability_).substr(0, 4); }
  Shape infer(std::span<const Shape> in) override { return in[0]; }
  OutputKind output_kind() const override { return OutputKind::view; }
  std::unique_ptr<Kernel> compile(const CompileContext&) override { return nullptr; }

  std::unique_ptr<TrainKernel> compile_training(const TrainCompileContext& ctx) override {
    struct State {
      bool dropped = false;  // the last forward applied a mask
      uint64_t seed = 0;     // its generator seed
    };
    auto state = std::make_shared<State>();
    const TrainTensor in = ctx.inputs[0], out = ctx.output, dy = ctx.output_grad, dx = ctx.input_grads[0];
    const bool accumulate = ctx.accumulate_input_grad[0];
    const float p = probability_, keep_scale = 1.f / (1.f - probability_);
    // Distinct layers draw distinct masks from one step seed.
    const uint64_t salt = 0xd1b54a32d192ed03ULL * (static_cast<uint64_t>(index()) + 1);
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

 private:
  float probability_ = 0.5f;
};

}  // namespace

std::unique_ptr<Layer> make_dropout(LayerSite& site) { return std::make_unique<DropoutLayer>(site.options); }

}  // namespace cspnet
