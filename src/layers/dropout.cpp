// [dropout]: the identity at inference, so its output is a view of its input.
// Training keeps each element with probability 1 - p, scaled by 1/(1 - p)
// (darknet's rule). Kernels: backends/*/dropout.cpp.
#include "cspnet/cfg.hpp"
#include "layer_util.hpp"

namespace cspnet {
namespace {

DropoutAttrs read_attrs(Options& o) {
  DropoutAttrs a;
  a.probability = o.get_float("probability", 0.5f);
  if (a.probability < 0 || a.probability >= 1) o.fail("probability", "a probability in [0, 1)");
  for (const char* key : {"dropblock", "dropblock_size_rel", "dropblock_size_abs"}) o.touch(key);
  return a;
}

class DropoutLayer final : public Layer {
 public:
  explicit DropoutLayer(Options& o) : Layer(read_attrs(o)) {}
  std::string_view type() const override { return "dropout"; }
  std::string geometry() const override {
    return "p=" + std::to_string(attrs_as<DropoutAttrs>().probability).substr(0, 4);
  }
  Shape infer(std::span<const Shape> in) override { return in[0]; }
  OutputKind output_kind() const override { return OutputKind::view; }
};

}  // namespace

std::unique_ptr<Layer> make_dropout(LayerSite& site) { return std::make_unique<DropoutLayer>(site.options); }

}  // namespace cspnet
