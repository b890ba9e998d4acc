// [cost]: darknet's training cost (sse/masked/smooth/...); the identity at
// inference and in training (the loss is computed by the loss layer before
// it, which receives the gradient this layer passes through; `type` and
// `scale` do not change it). Kernels: backends/*/cost.cpp.
#include "cspnet/cfg.hpp"
#include "layer_util.hpp"

namespace cspnet {
namespace {

CostAttrs read_attrs(Options& o) {
  CostAttrs a;
  a.type = o.get_string("type", "sse");
  if (a.type != "sse" && a.type != "masked" && a.type != "smooth" && a.type != "L1" && a.type != "seg" &&
      a.type != "wgan")
    o.fail("type", "a cost type (sse, masked, smooth, L1, seg, wgan)");
  a.scale = o.get_float("scale", 1.f);
  for (const char* key : {"ratio", "noobject_scale", "thresh"}) o.touch(key);
  return a;
}

class CostLayer final : public Layer {
 public:
  explicit CostLayer(Options& o) : Layer(read_attrs(o)) {}
  std::string_view type() const override { return "cost"; }
  std::string geometry() const override { return attrs_as<CostAttrs>().type; }
  Shape infer(std::span<const Shape> in) override { return in[0]; }
  OutputKind output_kind() const override { return OutputKind::view; }
};

}  // namespace

std::unique_ptr<Layer> make_cost(LayerSite& site) { return std::make_unique<CostLayer>(site.options); }

}  // namespace cspnet
