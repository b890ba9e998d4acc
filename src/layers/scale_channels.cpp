// [scale_channels]: squeeze-and-excitation scaling; out = activation(layer
// `from`'s C x H x W map times the previous layer's C x 1 x 1 values).
// Kernels: backends/*/scale_channels.cpp.
#include "cspnet/cfg.hpp"
#include "layer_util.hpp"

namespace cspnet {
namespace {

class ScaleChannelsLayer final : public Layer {
 public:
  explicit ScaleChannelsLayer(LayerSite& site) : Layer(ScaleChannelsAttrs{}) {
    std::vector<int> inputs = previous_and_from(site, "scale_channels");
    Options& o = site.options;
    if (o.get_int("scale_wh", 0) != 0) o.fail("scale_wh", "0 (per-position scaling is not supported)");
    set_attrs(ScaleChannelsAttrs{parse_activation(o.get_string("activation", "linear"), o.where("activation"))});
    set_inputs(std::move(inputs));
  }
  std::string_view type() const override { return "scale_channels"; }
  std::string geometry() const override { return std::to_string(inputs()[1]); }
  Shape infer(std::span<const Shape> in) override {
    const Shape &scale = in[0], &map = in[1];
    if (scale.h != 1 || scale.w != 1 || scale.c != map.c)
      shape_error(*this, "the previous layer must be " + std::to_string(map.c) + "x1x1 (one value per channel of layer " +
                             std::to_string(inputs()[1]) + "), got " + scale.str());
    return map;
  }
};

}  // namespace

std::unique_ptr<Layer> make_scale_channels(LayerSite& site) { return std::make_unique<ScaleChannelsLayer>(site); }

}  // namespace cspnet
