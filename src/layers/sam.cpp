// [sam]: spatial attention, out = activation(previous * layer `from`),
// elementwise. Kernels: backends/*/sam.cpp.
#include "cspnet/cfg.hpp"
#include "layer_util.hpp"

namespace cspnet {
namespace {

class SamLayer final : public Layer {
 public:
  explicit SamLayer(LayerSite& site) : Layer(SamAttrs{}) {
    std::vector<int> inputs = previous_and_from(site, "sam");
    Options& o = site.options;
    set_attrs(SamAttrs{parse_activation(o.get_string("activation", "linear"), o.where("activation"))});
    set_inputs(std::move(inputs));
  }
  std::string_view type() const override { return "sam"; }
  std::string geometry() const override { return std::to_string(inputs()[1]); }
  Shape infer(std::span<const Shape> in) override {
    if (!(in[0] == in[1]))
      shape_error(*this, "the previous layer (" + in[0].str() + ") and layer " + std::to_string(inputs()[1]) +
                             " (" + in[1].str() + ") must have the same shape");
    return in[0];
  }
};

}  // namespace

std::unique_ptr<Layer> make_sam(LayerSite& site) { return std::make_unique<SamLayer>(site); }

}  // namespace cspnet
