// [dropout]: the identity at inference, so its output is a view of its input.
#include "cspnet/cfg.hpp"
#include "layer_util.hpp"

namespace cspnet {
namespace {

class DropoutLayer final : public Layer {
 public:
  explicit DropoutLayer(Options& o) {
    probability_ = o.get_float("probability", 0.5f);
    if (probability_ < 0 || probability_ >= 1) o.fail("probability", "a probability in [0, 1)");
    for (const char* key : {"dropblock", "dropblock_size_rel", "dropblock_size_abs"}) o.touch(key);
  }
  std::string_view type() const override { return "dropout"; }
  std::string geometry() const override { return "p=" + std::to_string(probability_).substr(0, 4); }
  Shape infer(std::span<const Shape> in) override { return in[0]; }
  OutputKind output_kind() const override { return OutputKind::view; }
  std::unique_ptr<Kernel> compile(const CompileContext&) override { return nullptr; }

 private:
  float probability_ = 0.5f;
};

}  // namespace

std::unique_ptr<Layer> make_dropout(LayerSite& site) { return std::make_unique<DropoutLayer>(site.options); }

}  // namespace cspnet
