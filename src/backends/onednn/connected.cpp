// [connected] on oneDNN's inner product: batch norm folded at inference,
// activation as a post-op; training on oneDNN's forward/backward primitives.
#include <optional>

#include "backends/onednn/kernel_util.hpp"
#include "backends/onednn/weighted_train.hpp"

namespace cspnet {
namespace {

class ConnectedKernels final : public LayerKernels {
 public:
  // The output is O x 1 x 1: the same memory in plain and blocked layouts.
  LayoutRule layout_rule(const Layer&) const override { return LayoutRule::any; }

  std::unique_ptr<Kernel> compile(const Layer& layer, const CompileContext& ctx) const override {
    const auto& a = layer.attrs_as<ConnectedAttrs>();
    const WeightArrays& arrays = *layer.weight_arrays();
    const int64_t outputs = a.outputs;
    using namespace dnnl;
    using dims = memory::dims;
    const TensorView& in = ctx.inputs[0];
    const TensorView& out = ctx.output;
    dims weight_dims{outputs, in.shape.c, in.shape.h, in.shape.w};
    memory::desc bias_md(dims{outputs}, memory::data_type::f32, memory::format_tag::x);
    // The output is O x 1 x 1: the same memory in plain and blocked layouts.
    const bool each_image = per_image({in, out});
    const int64_t rows = each_image ? 1 : out.shape.n;
    memory::desc dst_md(dims{rows, outputs}, memory::data_type::f32, dims{outputs, 1});
    post_ops ops;
    bool fused = ctx.options.fuse_activation && append_activation_post_op(a.activation, ops);
    const primitive_attr attr = primitive_attributes(ctx, ops);
    inner_product_forward::primitive_desc pd(
        {prop_kind::forward_inference, arg_view(in, each_image).desc(),
         memory::desc(weight_dims, memory::data_type::f32, memory::format_tag::any), bias_md, dst_md},
        attr, ctx.engine);
    // BN at inference is an affine map per output: folded into the weights
    // (this layer has no unfolded path: the fold is exact algebra).
    auto memories = std::make_shared<WeightMemories>(
        ctx.engine, arrays, a.batch_normalize, true,
        memory::desc{weight_dims, memory::data_type::f32, memory::format_tag::oihw}, pd.weights_desc());
    auto sequence = std::make_unique<SequenceKernel>();
    sequence->add(std::make_unique<ViewPrimitiveKernel>(
        inner_product_forward(pd),
        scratchpad_args(ctx, pd.scratchpad_desc(), {{DNNL_ARG_WEIGHTS, memories->weights}, {DNNL_ARG_BIAS, memories->bias}}),
        std::vector<ViewArg>{view_arg(DNNL_ARG_SRC, in, each_image), ViewArg{DNNL_ARG_DST, out, dst_md}}, each_image,
        ctx.engine));
    if (!fused) sequence->add(activation_kernel(a.activation, out, ctx));
    return with_reload(std::move(sequence), [memories] { memories->load(); });
  }

  std::unique_ptr<TrainKernel> compile_training(Layer& layer, const TrainCompileContext& ctx) const override {
    const auto& a = layer.attrs_as<ConnectedAttrs>();
    WeightArrays& w = *layer.weight_arrays();
    const int64_t outputs = a.outputs;
    using namespace dnnl;
    using dims = memory::dims;
    std::optional<BatchNormArrays> bn;
    if (a.batch_normalize)  // over the batch: m = batch
      bn.emplace(BatchNormArrays{w.scales, w.biases, w.rolling_mean, w.rolling_variance, w.scale_grads, w.bias_grads});
    const Shape& in = ctx.inputs.at(0).shape;
    const auto f32 = memory::data_type::f32;
    // Weights [outputs][inputs] with the inputs in C, H, W order: oihw.
    const dims src_dims{in.n, in.c, in.h, in.w}, weight_dims{outputs, in.c, in.h, in.w}, dst_dims{in.n, outputs};
    const memory::desc bias_md({outputs}, f32, memory::format_tag::x);
    const memory::desc src_any(src_dims, f32, memory::format_tag::any), dst_any(dst_dims, f32, memory::format_tag::any);
    const memory::desc weights_any(weight_dims, f32, memory::format_tag::any);
    const bool with_bias = !a.batch_normalize;
    inner_product_forward::primitive_desc forward_pd(
        with_bias ? inner_product_forward::desc(prop_kind::forward_training, src_any, weights_any, bias_md, dst_any)
                  : inner_product_forward::desc(prop_kind::forward_training, src_any, weights_any, dst_any),
        ctx.engine);
    const memory::desc src_md = forward_pd.src_desc(), dst_md = forward_pd.dst_desc();
    inner_product_backward_data::primitive_desc backward_data_pd({src_md, weights_any, dst_md}, ctx.engine, forward_pd);
    inner_product_backward_weights::primitive_desc backward_weights_pd(
        with_bias ? inner_product_backward_weights::desc(src_md, weights_any, bias_md, dst_md)
                  : inner_product_backward_weights::desc(src_md, weights_any, dst_md),
        ctx.engine, forward_pd);
    WeightedPrimitives primitives = weighted_primitives(
        forward_pd, backward_data_pd, backward_weights_pd, with_bias, memory::desc(src_dims, f32, memory::format_tag::nchw),
        memory::desc(dst_dims, f32, memory::format_tag::nc), memory::desc(weight_dims, f32, memory::format_tag::oihw));
    return std::make_unique<WeightedTrainKernel>(ctx, std::move(primitives),
                                                 WeightedArrays{w.weights, w.biases, w.weight_grads, w.bias_grads}, bn,
                                                 a.activation);
  }

};

}  // namespace

const LayerKernels& connected_kernels() {
  static const ConnectedKernels kernels;
  return kernels;
}

}  // namespace cspnet
