// [sam]: spatial attention, out = previous * layer `from`, elementwise.
#include "cspnet/activation.hpp"
#include "cspnet/cfg.hpp"
#include "layer_util.hpp"

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

 private:
  Activation activation_ = Activation::linear;
};

}  // namespace

std::unique_ptr<Layer> make_sam(LayerSite& site) { return std::make_unique<SamLayer>(site); }

}  // namespace cspnet
