// [cost]: a training loss (darknet's sse/masked/smooth); the identity at
// inference, so its output is a view of its input. In training it is the
// identity too: the loss and its gradient are computed by the trainer
// (TrainingExecutor::softmax_cross_entropy), which hands this layer the
// gradient at its output; `type` and `scale` do not change it.
#include "cspnet/cfg.hpp"
#include "layer_util.hpp"
#include "train_util.hpp"

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

  std::unique_ptr<TrainKernel> compile_training(const TrainCompileContext& ctx) override {
    const TrainTensor in = ctx.inputs[0], out = ctx.output, dy = ctx.output_grad, dx = ctx.input_grads[0];
    const bool accumulate = ctx.accumulate_input_grad[0];
    return make_train_kernel(
        [in, out](dnnl::stream&, const StepContext&) { store_gradient(out.data, in.data, out.count(), false); },
        [dy, dx, accumulate](dnnl::stream&) {
          if (dx.data) store_gradient(dx.data, dy.data, dx.count(), accumulate);
        });
  }

 private:
  std::string kind_;
  float scale_ = 1.f;
};

}  // namespace

std::unique_ptr<Layer> make_cost(LayerSite& site) { return std::make_unique<CostLayer>(site.options); }

}  // namespace cspnet
