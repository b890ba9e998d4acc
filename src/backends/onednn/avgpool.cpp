// [avgpool] on oneDNN (average pooling over the whole map); training as
// parallel loops.
#include "backends/onednn/kernel_util.hpp"
#include "backends/onednn/train_util.hpp"

namespace cspnet {
namespace {

class AvgpoolKernels final : public LayerKernels {
 public:
  LayoutRule layout_rule(const Layer&) const override { return LayoutRule::any; }
  bool runs_on_bf16(const Layer&) const override { return true; }  // oneDNN's pooling
  std::unique_ptr<Kernel> compile(const Layer&, const CompileContext& ctx) const override {
    using namespace dnnl;
    const TensorView& in = ctx.inputs[0];
    const bool each_image = per_image({in, ctx.output});
    pooling_forward::primitive_desc pd(
        {prop_kind::forward_inference, algorithm::pooling_avg_exclude_padding, arg_view(in, each_image).desc(),
         arg_view(ctx.output, each_image).desc(), memory::dims{1, 1}, memory::dims{in.shape.h, in.shape.w},
         memory::dims{0, 0}, memory::dims{0, 0}},
        primitive_attributes(ctx), ctx.engine);
    return std::make_unique<ViewPrimitiveKernel>(
        pooling_forward(pd), scratchpad_args(ctx, pd.scratchpad_desc()),
        std::vector<ViewArg>{view_arg(DNNL_ARG_SRC, in, each_image), view_arg(DNNL_ARG_DST, ctx.output, each_image)}, each_image,
        ctx.engine);
  }

  // Plain loops: one mean per (image, channel) plane; the backward spreads
  // each output gradient evenly over its plane.
  std::unique_ptr<TrainKernel> compile_training(Layer&, const TrainCompileContext& ctx) const override {
    const TrainTensor in = ctx.inputs[0], out = ctx.output, dy = ctx.output_grad, dx = ctx.input_grads[0];
    const bool accumulate = ctx.accumulate_input_grad[0];
    const int64_t planes = in.shape.n * in.shape.c, plane = in.shape.h * in.shape.w;
    return make_train_kernel(
        [in, out, planes, plane](dnnl::stream&, const StepContext&) {
#pragma omp parallel for schedule(static)
          for (int64_t p = 0; p < planes; ++p) {
            const float* x = in.data + p * plane;
            double sum = 0;
            for (int64_t i = 0; i < plane; ++i) sum += x[i];
            out.data[p] = static_cast<float>(sum / double(plane));
          }
        },
        [dy, dx, accumulate, planes, plane](dnnl::stream&) {
          if (!dx.data) return;
          const float inv = 1.f / static_cast<float>(plane);
#pragma omp parallel for schedule(static)
          for (int64_t p = 0; p < planes; ++p) {
            const float share = dy.data[p] * inv;
            float* g = dx.data + p * plane;
            for (int64_t i = 0; i < plane; ++i) g[i] = accumulate ? g[i] + share : share;
          }
        });
  }
};

}  // namespace

const LayerKernels& avgpool_kernels() {
  static const AvgpoolKernels kernels;
  return kernels;
}

}  // namespace cspnet
