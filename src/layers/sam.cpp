// [sam]: spatial attention, out = previous * layer `from`, elementwise.
#include "cspnet/activation.hpp"
#include "cspnet/cfg.hpp"
#include "layer_util.hpp"
#include "train_util.hpp"

#include <memory>
#include <vector>

namespace cspnet {
namespace {

class SamLayer final : public Layer {
 public:
  explicit SamLayer(LayerSite& site) {
    Options& o = site.options;
    if (site.index == 0) throw Error(o.where() + ": [sam] cannot be the first layer");
    if (!o.has("from")) throw Error(o.where() + ": missing required key 'from' (a layer index)");
    int from = resolve_layer_ref(site, "from", o.get_int("from", 0));
    activation_ = parse_activation(o.get_string("activation", "linear"), o.where("activation"));
    set_inputs({site.index - 1, from});
  }
  std::string_view type() const override { return "sam"; }
  LayoutRule layout_rule() const override { return LayoutRule::same; }  // elementwise
  std::string geometry() const override { return std::to_string(inputs()[1]); }
  Shape infer(std::span<const Shape> in) override {
    if (!(in[0] == in[1]))
      shape_error(*this, "the previous layer (" + in[0].str() + ") and layer " + std::to_string(inputs()[1]) +
                             " (" + in[1].str() + ") must have the same shape");
    return in[0];
  }
  std::unique_ptr<Kernel> compile(const CompileContext& ctx) override {
    TensorView a = ctx.inputs[0], b = ctx.inputs[1], out = ctx.output;
    Activation act = activation_;
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
  std::unique_ptr<TrainKernel> compile_training(const TrainCompileContext& ctx) override {
    const TrainTensor a = ctx.inputs[0], b = ctx.inputs[1], out = ctx.output, dz = ctx.output_grad;
    const TrainTensor grads[2] = {ctx.input_grads[0], ctx.input_grads[1]};
    const bool accumulate[2] = {ctx.accumulate_input_grad[0], ctx.accumulate_input_grad[1]};
    const Activation act = activation_;
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

 private:
  Activation activation_ = Activation::linear;
};

}  // namespace

std::unique_ptr<Layer> make_sam(LayerSite& site) { return std::make_unique<SamLayer>(site); }

}  // namespace cspnet
