// [shortcut]: out = activation(alpha*previous + beta*sum of `from` layers).
// Shapes may differ as in the original darknet: channels beyond the smaller
// count pass through, and width/height differ by an integer factor (the
// larger map is sampled with a stride, the smaller spread with a step).
// Kernels: backends/*/shortcut.cpp.
#include <vector>

#include "cspnet/cfg.hpp"
#include "layer_util.hpp"

namespace cspnet {
namespace {

std::vector<int> read_inputs(LayerSite& site) {
  Options& o = site.options;
  if (!o.has("from")) throw Error(o.where() + ": missing required key 'from' (a layer index)");
  std::vector<int> inputs{site.index - 1};
  if (site.index == 0) throw Error(o.where() + ": [shortcut] cannot be the first layer");
  for (int ref : o.get_ints("from")) inputs.push_back(resolve_layer_ref(site, "from", ref));
  return inputs;
}

ShortcutAttrs read_attrs(Options& o) {
  ShortcutAttrs a;
  a.activation = parse_activation(o.get_string("activation", "linear"), o.where("activation"));
  a.alpha = o.get_float("alpha", 1.f);
  a.beta = o.get_float("beta", 1.f);
  const std::string weights_type = o.get_string("weights_type", "none");
  if (weights_type != "none") o.fail("weights_type", "none (weighted shortcuts are not supported)");
  return a;
}

class ShortcutLayer final : public Layer {
 public:
  ShortcutLayer(std::vector<int> inputs, const ShortcutAttrs& attrs) : Layer(attrs) { set_inputs(std::move(inputs)); }

  std::string_view type() const override { return "shortcut"; }

  Shape infer(std::span<const Shape> in) override {
    out_ = in[0];
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

 private:
  Shape out_{};
};

}  // namespace

std::unique_ptr<Layer> make_shortcut(LayerSite& site) {
  std::vector<int> inputs = read_inputs(site);
  return std::make_unique<ShortcutLayer>(std::move(inputs), read_attrs(site.options));
}

}  // namespace cspnet
