// [cost]: a training loss (darknet's sse/masked/smooth); the identity at
// inference, so its output is a view of its input.
#include "cspnet/cfg.hpp"
#include "layer_util.hpp"

namespace cspnet {
namespace {

class CostLayer final : public Layer {
 public:
  explicit CostLayer(Options& o) {
    kind_ = o.get_string("type", "sse");
    if (kind_ != "sse" && kind_ != "masked" && kind_ != "smooth" && kind_ != "L1" && kind_ != "seg" &&
        kind_ != "wgan")
      o.fail("type", "a cost type (sse, masked, smooth, L1, seg, wgan)");
    scale_ = o.get_float("scale", 1.f);
    for (const char* key : {"ratio", "noobject_scale", "thresh"}) o.touch(key);
  }
  std::string_view type() const override { return "cost"; }
  std::string geometry() const override { return kind_; }
  Shape infer(std::span<const Shape> in) override { return in[0]; }
  OutputKind output_kind() const override { return OutputKind::view; }
  std::unique_ptr<Kernel> compile(const CompileContext&) override { return nullptr; }

 private:
  std::string kind_;
  float scale_ = 1.f;
};

}  // namespace

std::unique_ptr<Layer> make_cost(LayerSite& site) { return std::make_unique<CostLayer>(site.options); }

}  // namespace cspnet
