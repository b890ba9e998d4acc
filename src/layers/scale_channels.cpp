// [scale_channels]: squeeze-and-excitation scaling; out = layer `from`'s
// C x H x W map times the previous layer's per-channel (C x 1 x 1) values.
#include "cspnet/activation.hpp"
#include "cspnet/cfg.hpp"
#include "layer_util.hpp"
#include "train_util.hpp"

#include <memory>
#include <vector>

namespace cspnet {
namespace {

class ScaleChannelsLayer final : public Layer {
 public:
  explicit ScaleChannelsLayer(LayerSite& site) {
    Options& o = site.options;
    if (site.index == 0) throw Error(o.where() + ": [scale_channels] cannot be the first layer");
    if (!o.has("from")) throw Error(o.where() + ": missing required key 'from' (a layer index)");
    int from = resolve_layer_ref(site, "from", o.get_int("from", 0));
    if (o.get_int("scale_wh", 0) != 0) o.fail("scale_wh", "0 (per-position scaling is not supported)");
    activation_ = parse_activation(o.get_string("activation", "linear"), o.where("activation"));
    set_inputs({site.index - 1, from});
  }
  std::string_view type() const override { return "scale_channels"; }
  LayoutRule layout_rule() const override { return LayoutRule::same; }
  std::string geometry() const override { return std::to_string(inputs()[1]); }
  Shape infer(std::span<const Shape> in) override {
    const Shape &scale = in[0], &map = in[1];
    if (scale.h != 1 || scale.w != 1 || scale.c != map.c)
      shape_error(*this, "the previous layer must be " + std::to_string(map.c) + "x1x1 (one value per channel of layer " +
                             std::to_string(inputs()[1]) + "), got " + scale.str());
    return map;
  }
  std::unique_ptr<Kernel> compile(const CompileContext& ctx) override {
    TensorView scale = ctx.inputs[0], map = ctx.inputs[1], out = ctx.output;
    Activation act = activation_;
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
  std::unique_ptr<TrainKernel> compile_training(const TrainCompileContext& ctx) override {
    const TrainTensor scale = ctx.inputs[0], map = ctx.inputs[1], out = ctx.output, dz = ctx.output_grad;
    const TrainTensor grads[2] = {ctx.input_grads[0], ctx.input_grads[1]};
    const bool accumulate[2] = {ctx.accumulate_input_grad[0], ctx.accumulate_input_grad[1]};
    const Activation act = activation_;
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

 private:
  Activation activation_ = Activation::linear;
};

}  // namespace

std::unique_ptr<Layer> make_scale_channels(LayerSite& site) { return std::make_unique<ScaleChannelsLayer>(site); }

}  // namespace cspnet
