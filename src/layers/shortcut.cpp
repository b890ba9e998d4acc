// [shortcut]: out = activation(alpha*previous + beta*sum of `from` layers).
// Shapes may differ as in the original darknet: channels beyond the smaller
// count pass through, and width/height differ by an integer factor (the
// larger map is sampled with a stride, the smaller spread with a step).
#include "cspnet/activation.hpp"
#include "cspnet/cfg.hpp"
#include "layer_util.hpp"

#include <algorithm>
#include <cstring>

namespace cspnet {
namespace {

class ShortcutLayer final : public Layer {
 public:
  explicit ShortcutLayer(LayerSite& site) {
    Options& o = site.options;
    if (!o.has("from")) throw Error(o.where() + ": missing required key 'from' (a layer index)");
    std::vector<int> inputs{site.index - 1};
    if (site.index == 0) throw Error(o.where() + ": [shortcut] cannot be the first layer");
    for (int ref : o.get_ints("from")) inputs.push_back(resolve_layer_ref(site, "from", ref));
    activation_ = parse_activation(o.get_string("activation", "linear"), o.where("activation"));
    alpha_ = o.get_float("alpha", 1.f);
    beta_ = o.get_float("beta", 1.f);
    std::string weights_type = o.get_string("weights_type", "none");
    if (weights_type != "none") o.fail("weights_type", "none (weighted shortcuts are not supported)");
    set_inputs(std::move(inputs));
  }

  std::string_view type() const override { return "shortcut"; }
  bool is_fusable_residual_sum(Activation* then) const override {
    if (!same_shapes_ || inputs().size() != 2 || alpha_ != 1.f || beta_ != 1.f ||
        !has_activation_post_op(activation_))
      return false;
    *then = activation_;
    return true;
  }
  // Equal width and height: channel c of every operand starts c*H*W floats
  // into its image in both layouts (whole 16-channel blocks when blocked), so
  // adding the first min(C) channels is a sum over a common prefix.
  LayoutRule layout_rule() const override { return same_plane_ ? LayoutRule::same : LayoutRule::plain; }

  Shape infer(std::span<const Shape> in) override {
    out_ = in[0];
    same_shapes_ = same_plane_ = true;
    for (size_t i = 1; i < in.size(); ++i) {
      same_shapes_ = same_shapes_ && in[i] == in[0];
      same_plane_ = same_plane_ && in[i].h == in[0].h && in[i].w == in[0].w;
    }
    for (size_t i = 1; i < in.size(); ++i) {
      const Shape& from = in[i];
      // darknet's own consistency rule: the same integer ratio on both axes.
      bool ok = from.w / out_.w == from.h / out_.h && out_.w / from.w == out_.h / from.h;
      if (!ok)
        shape_error(*this, "layer " + std::to_string(inputs()[i]) + " (" + from.str() +
                               ") cannot be added to the previous layer (" + out_.str() +
                               "): width and height must differ by the same integer ratio");
    }
    return out_;
  }

  std::string geometry() const override {
    std::string text;
    for (size_t i = 1; i < inputs().size(); ++i) {
      if (i > 1) text += ',';
      text += std::to_string(inputs()[i]);
    }
    return text;
  }
  double bflops() const override { return double(out_.per_image()) * double(inputs().size() - 1) / 1e9; }

  std::unique_ptr<Kernel> compile(const CompileContext& ctx) override {
    std::vector<TensorView> ins = ctx.inputs;
    TensorView out = ctx.output;
    Activation act = activation_;
    float alpha = alpha_, beta = beta_;
    if (same_plane_)
      return make_kernel([ins, out, act, alpha, beta](dnnl::stream&) {
        const int64_t per_image = out.shape.per_image();
        for (int64_t n = 0; n < out.shape.n; ++n) {
          const float* a = ins[0].image(n);
          float* dst = out.image(n);
          if (ins.size() == 2 && ins[1].shape.c >= out.shape.c) {
            const float* b = ins[1].image(n);
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < per_image; ++i) dst[i] = alpha * a[i] + beta * b[i];
          } else {
            // darknet scales by alpha only where something is added; the
            // channels beyond every `from` pass through unchanged.
            int64_t common_max = 0;
            for (size_t f = 1; f < ins.size(); ++f)
              common_max = std::max(common_max, std::min(ins[f].shape.c, out.shape.c) * out.plane());
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < per_image; ++i) dst[i] = i < common_max ? alpha * a[i] : a[i];
            for (size_t f = 1; f < ins.size(); ++f) {
              const float* b = ins[f].image(n);
              const int64_t common = std::min(ins[f].shape.c, out.shape.c) * out.plane();
#pragma omp parallel for schedule(static)
              for (int64_t i = 0; i < common; ++i) dst[i] += beta * b[i];
            }
          }
          activate_array(act, dst, per_image);
        }
      });
    return make_kernel([ins, out, act, alpha, beta](dnnl::stream&) {
      const TensorView& prev = ins[0];
      const int64_t per_image = out.shape.per_image();
      for (int64_t n = 0; n < out.shape.n; ++n) {
        const float* src = prev.image(n);
        float* dst = out.image(n);
        std::memcpy(dst, src, size_t(per_image) * sizeof(float));
      }
      for (size_t f = 1; f < ins.size(); ++f) add_sampled(ins[f], out, alpha, beta);
      activate_view(act, out);
    });
  }

 private:
  // darknet: out = alpha*out + beta*from at the sampled cells only.
  static void add_sampled(const TensorView& from, const TensorView& out, float alpha, float beta) {
    int64_t stride = std::max<int64_t>(from.shape.w / out.shape.w, 1);
    int64_t sample = std::max<int64_t>(out.shape.w / from.shape.w, 1);
    int64_t channels = std::min(from.shape.c, out.shape.c);
    int64_t rows = std::min(from.shape.h, out.shape.h), cols = std::min(from.shape.w, out.shape.w);
    for (int64_t n = 0; n < out.shape.n; ++n) {
      const float* src = from.image(n);
      float* dst = out.image(n);
#pragma omp parallel for schedule(static)
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t y = 0; y < rows; ++y)
          for (int64_t x = 0; x < cols; ++x) {
            float& cell = dst[(c * out.shape.h + y * sample) * out.shape.w + x * sample];
            cell = alpha * cell + beta * src[(c * from.shape.h + y * stride) * from.shape.w + x * stride];
          }
    }
  }

  Activation activation_ = Activation::linear;
  float alpha_ = 1.f, beta_ = 1.f;
  Shape out_{};
  bool same_shapes_ = true, same_plane_ = true;
};

}  // namespace

std::unique_ptr<Layer> make_shortcut(LayerSite& site) { return std::make_unique<ShortcutLayer>(site); }

}  // namespace cspnet
