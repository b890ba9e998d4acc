// [avgpool]: darknet's global average pooling to 1x1.
// Kernels: backends/*/avgpool.cpp.
#include "layer_util.hpp"

namespace cspnet {
namespace {

class AvgpoolLayer final : public Layer {
 public:
  AvgpoolLayer() : Layer(AvgpoolAttrs{}) {}
  std::string_view type() const override { return "avg"; }
  Shape infer(std::span<const Shape> in) override { return Shape{in[0].n, in[0].c, 1, 1}; }
};

}  // namespace

std::unique_ptr<Layer> make_avgpool(LayerSite&) { return std::make_unique<AvgpoolLayer>(); }

}  // namespace cspnet
