// [maxpool] on oneDNN (max pooling, with its workspace in training) and
// Maxout as parallel loops.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "backends/onednn/kernel_util.hpp"
#include "backends/onednn/train_util.hpp"

namespace cspnet {
namespace {

class MaxpoolKernels final : public LayerKernels {
 public:
  LayoutRule layout_rule(const Layer& layer) const override {
    return is_maxout(layer) ? LayoutRule::plain : LayoutRule::same;
  }
  // oneDNN's JIT pooling wants one format on both sides (mixed ones go to
  // its reference kernel), so input and output share a layout as at inference.
  LayoutRule training_layout_rule(const Layer& layer) const override { return layout_rule(layer); }
  // oneDNN's pooling takes bfloat16 and 8-bit integers (the max of quantized
  // values is the quantized max) on both sides, channels-last too; Maxout is
  // a float loop over NCHW.
  bool runs_on_bf16(const Layer& layer) const override { return !is_maxout(layer); }
  bool moves_int8(const Layer& layer) const override { return !is_maxout(layer); }
  bool takes_channels_last(const Layer& layer) const override { return !is_maxout(layer); }

  std::unique_ptr<Kernel> compile(const Layer& layer, const CompileContext& ctx) const override {
    const auto& a = layer.attrs_as<MaxpoolAttrs>();
    const TensorView &in = ctx.inputs[0], &out = ctx.output;
    if (in.data_type() != out.data_type() || in.int8_scale != out.int8_scale || (a.maxout && !in.is_float()))
      throw Error(layer.where() + ": internal: a max pool planned to change its values' type or quantization");
    return a.maxout ? compile_maxout(ctx) : compile_pool(a, ctx);
  }
  std::unique_ptr<TrainKernel> compile_training(Layer& layer, const TrainCompileContext& ctx) const override {
    const auto& a = layer.attrs_as<MaxpoolAttrs>();
    return a.maxout ? train_maxout(ctx) : train_pool(a, ctx);
  }

 private:
  static bool is_maxout(const Layer& layer) { return layer.attrs_as<MaxpoolAttrs>().maxout; }

  static std::unique_ptr<Kernel> compile_pool(const MaxpoolAttrs& a, const CompileContext& ctx) {
    using namespace dnnl;
    const TensorView& in = ctx.inputs[0];
    int64_t pad_before = a.padding / 2;
    int64_t pad_b = padding_after(in.shape.h, ctx.output.shape.h, a.size, a.stride_y, pad_before);
    int64_t pad_r = padding_after(in.shape.w, ctx.output.shape.w, a.size, a.stride_x, pad_before);
    const bool each_image = per_image({in, ctx.output});
    pooling_forward::primitive_desc pd(
        {prop_kind::forward_inference, algorithm::pooling_max, arg_view(in, each_image).desc(),
         arg_view(ctx.output, each_image).desc(), memory::dims{a.stride_y, a.stride_x}, memory::dims{a.size, a.size},
         memory::dims{pad_before, pad_before}, memory::dims{pad_b, pad_r}},
        primitive_attributes(ctx), ctx.engine);
    return std::make_unique<ViewPrimitiveKernel>(
        pooling_forward(pd), scratchpad_args(ctx, pd.scratchpad_desc()),
        std::vector<ViewArg>{view_arg(DNNL_ARG_SRC, in, each_image), view_arg(DNNL_ARG_DST, ctx.output, each_image)}, each_image,
        ctx.engine);
  }

  static std::unique_ptr<Kernel> compile_maxout(const CompileContext& ctx) {
    TensorView in = ctx.inputs[0], out = ctx.output;
    return make_kernel([in, out](dnnl::stream&) {
      const int64_t plane = in.plane(), groups = out.shape.c, batch = in.shape.n;
#pragma omp parallel for collapse(2) schedule(static)
      for (int64_t n = 0; n < batch; ++n)
        for (int64_t g = 0; g < groups; ++g) {
          float* dst = out.image(n) + g * plane;
          std::fill(dst, dst + plane, -std::numeric_limits<float>::infinity());
          for (int64_t k = g; k < in.shape.c; k += groups) {
            const float* src = in.image(n) + k * plane;
            for (int64_t i = 0; i < plane; ++i) dst[i] = std::max(dst[i], src[i]);
          }
        }
    });
  }

  // oneDNN max pooling in training mode: the forward keeps the argmax in a
  // workspace that the backward scatters the gradient through.
  static std::unique_ptr<TrainKernel> train_pool(const MaxpoolAttrs& a, const TrainCompileContext& ctx) {
    using namespace dnnl;
    const TrainTensor &in = ctx.inputs[0], &out = ctx.output;
    auto layout = [](const TrainTensor& t) {
      const Shape& s = t.shape;
      return memory::desc({s.n, s.c, s.h, s.w}, memory::data_type::f32,
                          t.blocked ? memory::format_tag::nChw16c : memory::format_tag::nchw);
    };
    const memory::desc src_md = layout(in), dst_md = layout(out);
    const int64_t pad_before = a.padding / 2;
    const memory::dims strides{a.stride_y, a.stride_x}, kernel{a.size, a.size}, pad_l{pad_before, pad_before},
        pad_r{padding_after(in.shape.h, out.shape.h, a.size, a.stride_y, pad_before),
              padding_after(in.shape.w, out.shape.w, a.size, a.stride_x, pad_before)};
    pooling_forward::primitive_desc forward_pd(
        {prop_kind::forward_training, algorithm::pooling_max, src_md, dst_md, strides, kernel, pad_l, pad_r},
        ctx.engine);
    pooling_backward::primitive_desc backward_pd(
        {algorithm::pooling_max, src_md, dst_md, strides, kernel, pad_l, pad_r}, ctx.engine, forward_pd);

    struct State {
      pooling_forward forward;
      pooling_backward backward;
      memory src, dst, workspace, diff_dst, diff_src;
      std::vector<float> staging;  // diff_src when it is added to the input gradient
      TrainTensor input_grad;
      bool accumulate;
    };
    auto state = std::make_shared<State>();
    state->forward = pooling_forward(forward_pd);
    state->backward = pooling_backward(backward_pd);
    state->src = memory(src_md, ctx.engine, in.data);
    state->dst = memory(dst_md, ctx.engine, out.data);
    state->workspace = memory(forward_pd.workspace_desc(), ctx.engine);
    state->diff_dst = memory(dst_md, ctx.engine, ctx.output_grad.data);
    state->input_grad = ctx.input_grads[0];
    state->accumulate = ctx.accumulate_input_grad[0];
    float* diff_src = state->input_grad.data;
    if (diff_src && state->accumulate) {
      state->staging.resize(static_cast<size_t>(in.count()));
      diff_src = state->staging.data();
    }
    if (diff_src) state->diff_src = memory(src_md, ctx.engine, diff_src);
    return make_train_kernel(
        [state](dnnl::stream& stream, const StepContext&) {
          state->forward.execute(stream, {{DNNL_ARG_SRC, state->src},
                                          {DNNL_ARG_DST, state->dst},
                                          {DNNL_ARG_WORKSPACE, state->workspace}});
          stream.wait();
        },
        [state](dnnl::stream& stream) {
          if (!state->input_grad.data) return;
          state->backward.execute(stream, {{DNNL_ARG_DIFF_DST, state->diff_dst},
                                           {DNNL_ARG_DIFF_SRC, state->diff_src},
                                           {DNNL_ARG_WORKSPACE, state->workspace}});
          stream.wait();
          if (state->accumulate)
            store_gradient(state->input_grad.data, state->staging.data(), state->input_grad.count(), true);
        });
  }

  // Maxout: the forward records which input channel won each output cell
  // (the first of equal values, as in the forward kernel); the backward
  // routes the gradient there and gives every other input cell zero.
  static std::unique_ptr<TrainKernel> train_maxout(const TrainCompileContext& ctx) {
    struct State {
      std::vector<int32_t> winner;  // per output cell: the input channel
    };
    auto state = std::make_shared<State>();
    state->winner.resize(static_cast<size_t>(ctx.output.count()));
    const TrainTensor in = ctx.inputs[0], out = ctx.output, dy = ctx.output_grad, dx = ctx.input_grads[0];
    const bool accumulate = ctx.accumulate_input_grad[0];
    return make_train_kernel(
        [state, in, out](dnnl::stream&, const StepContext&) {
          const int64_t plane = in.shape.h * in.shape.w, groups = out.shape.c, channels = in.shape.c;
          int32_t* winner_all = state->winner.data();
#pragma omp parallel for collapse(2) schedule(static)
          for (int64_t n = 0; n < in.shape.n; ++n)
            for (int64_t g = 0; g < groups; ++g) {
              float* dst = out.data + (n * groups + g) * plane;
              int32_t* winner = winner_all + (n * groups + g) * plane;
              const float* first = in.data + (n * channels + g) * plane;
              std::copy(first, first + plane, dst);
              std::fill(winner, winner + plane, static_cast<int32_t>(g));
              for (int64_t k = g + groups; k < channels; k += groups) {
                const float* src = in.data + (n * channels + k) * plane;
                for (int64_t i = 0; i < plane; ++i)
                  if (src[i] > dst[i]) {
                    dst[i] = src[i];
                    winner[i] = static_cast<int32_t>(k);
                  }
              }
            }
        },
        [state, in, out, dy, dx, accumulate](dnnl::stream&) {
          if (!dx.data) return;
          const int64_t plane = in.shape.h * in.shape.w, groups = out.shape.c, channels = in.shape.c;
          const int32_t* winner_all = state->winner.data();
#pragma omp parallel for collapse(2) schedule(static)
          for (int64_t n = 0; n < in.shape.n; ++n)
            for (int64_t k = 0; k < channels; ++k) {
              const int64_t g = k % groups;
              const int32_t* winner = winner_all + (n * groups + g) * plane;
              const float* grad = dy.data + (n * groups + g) * plane;
              float* dst = dx.data + (n * channels + k) * plane;
              for (int64_t i = 0; i < plane; ++i) {
                const float value = winner[i] == k ? grad[i] : 0.f;
                dst[i] = accumulate ? dst[i] + value : value;
              }
            }
        });
  }

};

}  // namespace

const LayerKernels& maxpool_kernels() {
  static const MaxpoolKernels kernels;
  return kernels;
}

}  // namespace cspnet
