// [avgpool]: darknet's global average pooling to 1x1, on oneDNN.
#include "cspnet/cfg.hpp"
#include "layer_util.hpp"

namespace cspnet {
namespace {

class AvgpoolLayer final : public Layer {
 public:
  std::string_view type() const override { return "avg"; }
  Shape infer(std::span<const Shape> in) override {
    input_ = in[0];
    return Shape{input_.n, input_.c, 1, 1};
  }
  std::unique_ptr<Kernel> compile(const CompileContext& ctx) override {
    using namespace dnnl;
    const TensorView& in = ctx.inputs[0];
    pooling_forward::primitive_desc pd(
        {prop_kind::forward_inference, algorithm::pooling_avg_exclude_padding, in.desc(), ctx.output.desc(),
         memory::dims{1, 1}, memory::dims{in.shape.h, in.shape.w}, memory::dims{0, 0}, memory::dims{0, 0}},
        ctx.engine);
    return std::make_unique<PrimitiveKernel>(
        pooling_forward(pd), std::unordered_map<int, memory>{{DNNL_ARG_SRC, memory_of(in, ctx.engine)},
                                                             {DNNL_ARG_DST, memory_of(ctx.output, ctx.engine)}});
  }

 private:
  Shape input_{};
};

}  // namespace

std::unique_ptr<Layer> make_avgpool(LayerSite&) { return std::make_unique<AvgpoolLayer>(); }

}  // namespace cspnet
