// [softmax]: darknet's softmax over each of `groups` contiguous chunks of
// the flattened C*H*W input (groups=1: the whole vector), with temperature.
// Kernels: backends/*/softmax.cpp.
#include "cspnet/cfg.hpp"
#include "layer_util.hpp"

namespace cspnet {
namespace {

SoftmaxAttrs read_attrs(Options& o) {
  SoftmaxAttrs a;
  a.groups = o.get_int("groups", 1);
  a.temperature = o.get_float("temperature", 1.f);
  if (a.groups <= 0) o.fail("groups", "a positive number of groups");
  if (!(a.temperature > 0)) o.fail("temperature", "a positive temperature");
  return a;
}

class SoftmaxLayer final : public Layer {
 public:
  explicit SoftmaxLayer(Options& o) : Layer(read_attrs(o)) {}
  std::string_view type() const override { return "softmax"; }
  Shape infer(std::span<const Shape> in) override {
    const int groups = attrs_as<SoftmaxAttrs>().groups;
    if (in[0].per_image() % groups != 0)
      shape_error(*this, "groups=" + std::to_string(groups) + " does not divide the " +
                             std::to_string(in[0].per_image()) + " inputs");
    return in[0];
  }
};

}  // namespace

std::unique_ptr<Layer> make_softmax(LayerSite& site) { return std::make_unique<SoftmaxLayer>(site.options); }

}  // namespace cspnet
