// [maxpool]: spatial max pooling on oneDNN, or with maxpool_depth=1 darknet's
// channel Maxout (output channel g = max over input channels k, k mod N == g).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "cspnet/cfg.hpp"
#include "layer_util.hpp"
#include "train_util.hpp"

namespace cspnet {
namespace {

class MaxpoolLayer final : public Layer {
 public:
  explicit MaxpoolLayer(Options& o) {
    int stride = o.get_int("stride", 1);
    size_ = o.get_int("size", stride);
    stride_x_ = o.get_int("stride_x", stride);
    stride_y_ = o.get_int("stride_y", stride);
    padding_ = o.get_int("padding", size_ > 0 ? size_ - 1 : 0);  // size is validated below
    depth_ = o.get_int("maxpool_depth", 0) != 0;
    out_channels_ = o.get_int("out_channels", 1);
    if (stride <= 0) o.fail("stride", "a positive stride");
    if (size_ <= 0) o.fail("size", "a positive window size");
    if (stride_x_ <= 0) o.fail("stride_x", "a positive stride");
    if (stride_y_ <= 0) o.fail("stride_y", "a positive stride");
    if (padding_ < 0) o.fail("padding", "a non-negative padding");
    if (out_channels_ <= 0) o.fail("out_channels", "a positive number of channels");
  }

  std::string_view type() const override { return depth_ ? "maxout" : "max"; }
  LayoutRule layout_rule() const override { return depth_ ? LayoutRule::plain : LayoutRule::same; }
  // oneDNN's JIT pooling wants one format on both sides (mixed ones go to
  // its reference kernel), so input and output share a layout as at inference.
  LayoutRule training_layout_rule() const override { return layout_rule(); }

  Shape infer(std::span<const Shape> in) override {
    input_ = in[0];
    if (depth_) {
      if (out_channels_ > input_.c)
        shape_error(*this, "out_channels=" + std::to_string(out_channels_) + " exceeds the input channels " +
                               std::to_string(input_.c));
      out_ = Shape{input_.n, out_channels_, input_.h, input_.w};
    } else {
      check_window(*this, "pool window", size_, input_);
      if (input_.h + padding_ < size_ || input_.w + padding_ < size_)
        shape_error(*this, "pool window " + std::to_string(size_) + " is larger than the padded input");
      out_ = Shape{input_.n, input_.c, (input_.h + padding_ - size_) / stride_y_ + 1,
                   (input_.w + padding_ - size_) / stride_x_ + 1};
    }
    return out_;
  }

  std::string geometry() const override {
    if (depth_) return "depth " + std::to_string(input_.c) + "->" + std::to_string(out_channels_);
    return std::to_string(size_) + " x " + std::to_string(size_) + "/" +
           (stride_x_ == stride_y_ ? std::to_string(stride_x_)
                                   : std::to_string(stride_x_) + "x" + std::to_string(stride_y_));
  }
  // darknet: size*size*c*out_h*out_w comparisons.
  double bflops() const override { return double(size_) * size_ * double(input_.c) * double(out_.h * out_.w) / 1e9; }

  std::unique_ptr<Kernel> compile(const CompileContext& ctx) override {
    return depth_ ? compile_maxout(ctx) : compile_pool(ctx);
  }

  std::unique_ptr<TrainKernel> compile_training(const TrainCompileContext& ctx) override {
    return depth_ ? train_maxout(ctx) : train_pool(ctx);
  }

 private:
  std::unique_ptr<Kernel> compile_pool(const CompileContext& ctx) const {
    using namespace dnnl;
    const TensorView& in = ctx.inputs[0];
    int64_t pad_before = padding_ / 2;
    int64_t pad_b = padding_after(in.shape.h, out_.h, size_, stride_y_, pad_before);
    int64_t pad_r = padding_after(in.shape.w, out_.w, size_, stride_x_, pad_before);
    const bool each_image = per_image({in, ctx.output});
    pooling_forward::primitive_desc pd(
        {prop_kind::forward_inference, algorithm::pooling_max, arg_view(in, each_image).desc(),
         arg_view(ctx.output, each_image).desc(), memory::dims{stride_y_, stride_x_}, memory::dims{size_, size_},
         memory::dims{pad_before, pad_before}, memory::dims{pad_b, pad_r}},
        primitive_attributes(ctx), ctx.engine);
    return std::make_unique<ViewPrimitiveKernel>(
        pooling_forward(pd), scratchpad_args(ctx, pd.scratchpad_desc()),
        std::vector<ViewArg>{view_arg(DNNL_ARG_SRC, in, each_image), view_arg(DNNL_ARG_DST, ctx.output, each_image)}, each_image,
        ctx.engine);
  }

  std::unique_ptr<Kernel> compile_maxout(const CompileContext& ctx) const {
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
  std::unique_ptr<TrainKernel> train_pool(const TrainCompileContext& ctx) const {
    using namespace dnnl;
    const TrainTensor &in = ctx.inputs[0], &out = ctx.output;
    auto layout = [](const TrainTensor& t) {
      const Shape& s = t.shape;
      return memory::desc({s.n, s.c, s.h, s.w}, memory::data_type::f32,
                          t.blocked ? memory::format_tag::nChw16c : memory::format_tag::nchw);
    };
    const memory::desc src_md = layout(in), dst_md = layout(out);
    const int64_t pad_before = padding_ / 2;
    const memory::dims strides{stride_y_, stride_x_}, kernel{size_, size_}, pad_l{pad_before, pad_before},
        pad_r{padding_after(in.shape.h, out.shape.h, size_, stride_y_, pad_before),
              padding_after(in.shape.w, out.shape.w, size_, stride_x_, pad_before)};
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
  std::unique_ptr<TrainKernel> train_maxout(const TrainCompileContext& ctx) const {
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

  int size_ = 1, stride_x_ = 1, stride_y_ = 1, padding_ = 0, out_channels_ = 1;
  bool depth_ = false;
  Shape input_{}, out_{};
};

}  // namespace

std::unique_ptr<Layer> make_maxpool(LayerSite& site) { return std::make_unique<MaxpoolLayer>(site.options); }

}  // namespace cspnet
