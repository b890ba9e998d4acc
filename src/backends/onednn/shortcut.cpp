// [shortcut] as parallel loops; a plain act(a + b) after a linear
// convolution becomes that convolution's sum post-op (the planner's residual
// fusion), with no kernel of its own.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "backends/onednn/kernel_util.hpp"
#include "backends/onednn/train_util.hpp"

namespace cspnet {
namespace {

class ShortcutKernels final : public LayerKernels {
 public:
  bool is_fusable_residual_sum(const Layer& layer, Activation* then) const override {
    const auto& a = layer.attrs_as<ShortcutAttrs>();
    if (!same_shapes(layer) || layer.inputs().size() != 2 || a.alpha != 1.f || a.beta != 1.f ||
        !has_activation_post_op(a.activation))
      return false;
    *then = a.activation;
    return true;
  }
  // Equal width and height: channel c of every operand starts c*H*W floats
  // into its image in both layouts (whole 16-channel blocks when blocked), so
  // adding the first min(C) channels is a sum over a common prefix.
  LayoutRule layout_rule(const Layer& layer) const override {
    return same_plane(layer) ? LayoutRule::same : LayoutRule::plain;
  }
  // Elementwise over whole images when every operand has the output's shape.
  bool takes_channels_last(const Layer& layer) const override { return same_shapes(layer); }
  // Elementwise when every operand has the output's shape.
  LayoutRule training_layout_rule(const Layer& layer) const override {
    return same_shapes(layer) ? LayoutRule::same : LayoutRule::plain;
  }

  // act(a + b) over equal shapes: oneDNN's binary add with the activation as
  // a post-op reads and writes bfloat16 (adding in fp32).
  bool runs_on_bf16(const Layer& layer) const override {
    Activation then = Activation::linear;
    return is_fusable_residual_sum(layer, &then);
  }

  std::unique_ptr<Kernel> compile(const Layer& layer, const CompileContext& ctx) const override {
    const auto& a = layer.attrs_as<ShortcutAttrs>();
    if (ctx.output.bf16) return compile_binary(a, ctx);
    const bool plane_equal = same_plane(layer);
    std::vector<TensorView> ins = ctx.inputs;
    TensorView out = ctx.output;
    Activation act = a.activation;
    float alpha = a.alpha, beta = a.beta;
    if (plane_equal)
      return make_kernel([ins, out, act, alpha, beta](dnnl::stream&) {
        const int64_t per_image = out.shape.per_image();
        for (int64_t n = 0; n < out.shape.n; ++n) {
          const float* a = ins[0].image(n);
          float* dst = out.image(n);
          if (ins.size() == 2 && ins[1].shape.c >= out.shape.c) {
            const float* b = ins[1].image(n);
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < per_image; ++i) dst[i] = alpha * a[i] + beta * b[i];
          } else {
            // darknet scales by alpha only where something is added; the
            // channels beyond every `from` pass through unchanged.
            int64_t common_max = 0;
            for (size_t f = 1; f < ins.size(); ++f)
              common_max = std::max(common_max, std::min(ins[f].shape.c, out.shape.c) * out.plane());
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < per_image; ++i) dst[i] = i < common_max ? alpha * a[i] : a[i];
            for (size_t f = 1; f < ins.size(); ++f) {
              const float* b = ins[f].image(n);
              const int64_t common = std::min(ins[f].shape.c, out.shape.c) * out.plane();
#pragma omp parallel for schedule(static)
              for (int64_t i = 0; i < common; ++i) dst[i] += beta * b[i];
            }
          }
          activate_array(act, dst, per_image);
        }
      });
    return make_kernel([ins, out, act, alpha, beta](dnnl::stream&) {
      const TensorView& prev = ins[0];
      const int64_t per_image = out.shape.per_image();
      for (int64_t n = 0; n < out.shape.n; ++n) {
        const float* src = prev.image(n);
        float* dst = out.image(n);
        std::memcpy(dst, src, size_t(per_image) * sizeof(float));
      }
      for (size_t f = 1; f < ins.size(); ++f) add_sampled(ins[f], out, alpha, beta);
      activate_view(act, out);
    });
  }

  // Training: the same arithmetic as compile() on dense tensors. The
  // pre-activation sum is kept for the activation's derivative.
  std::unique_ptr<TrainKernel> compile_training(Layer& layer, const TrainCompileContext& ctx) const override {
    const auto& a = layer.attrs_as<ShortcutAttrs>();
    const bool plane_equal = same_plane(layer);
    auto st = std::make_shared<TrainState>();
    st->inputs = ctx.inputs;
    st->grads = ctx.input_grads;
    st->accumulate = ctx.accumulate_input_grad;
    st->out = ctx.output;
    st->dy = ctx.output_grad;
    st->act = a.activation;
    st->alpha = a.alpha;
    st->beta = a.beta;
    const auto count = static_cast<size_t>(ctx.output.count());
    if (a.activation != Activation::linear) st->pre.resize(count);
    if (a.activation != Activation::linear || !plane_equal) st->grad.resize(count);
    if (!plane_equal) {
      st->from_grads.resize(ctx.inputs.size());
      for (size_t f = 1; f < ctx.inputs.size(); ++f)
        st->from_grads[f].resize(static_cast<size_t>(ctx.inputs[f].count()));
    }
    return make_train_kernel(
        [st, plane_equal](dnnl::stream&, const StepContext&) {
          float* sum = st->pre.empty() ? st->out.data : st->pre.data();
          if (plane_equal)
            sum_same_plane(*st, sum);
          else
            sum_sampled(*st, sum);
          if (!st->pre.empty()) {
            std::copy(st->pre.begin(), st->pre.end(), st->out.data);
            activate_array(st->act, st->out.data, st->out.count());
          }
        },
        [st, plane_equal](dnnl::stream&) {
          const float* grad = st->dy.data;
          if (!st->grad.empty()) {
            if (st->pre.empty())
              std::copy(st->dy.data, st->dy.data + st->dy.count(), st->grad.data());
            else
              activation_backward(st->act, st->pre.data(), st->dy.data, st->grad.data(), st->dy.count());
            grad = st->grad.data();
          }
          if (plane_equal)
            backward_same_plane(*st, grad);
          else
            backward_sampled(*st);
        });
  }

 private:
  // act(a + b) on bf16 operands (runs_on_bf16).
  static std::unique_ptr<Kernel> compile_binary(const ShortcutAttrs& a, const CompileContext& ctx) {
    using namespace dnnl;
    const TensorView &first = ctx.inputs.at(0), &second = ctx.inputs.at(1), &out = ctx.output;
    const bool each_image = per_image({first, second, out});
    post_ops ops;
    append_activation_post_op(a.activation, ops);
    binary::primitive_desc pd({algorithm::binary_add, arg_view(first, each_image).desc(),
                               arg_view(second, each_image).desc(), arg_view(out, each_image).desc()},
                              primitive_attributes(ctx, ops), ctx.engine);
    return std::make_unique<ViewPrimitiveKernel>(
        binary(pd), scratchpad_args(ctx, pd.scratchpad_desc()),
        std::vector<ViewArg>{view_arg(DNNL_ARG_SRC_0, first, each_image), view_arg(DNNL_ARG_SRC_1, second, each_image),
                             view_arg(DNNL_ARG_DST, out, each_image)},
        each_image, ctx.engine);
  }

  struct TrainState {
    std::vector<TrainTensor> inputs, grads;
    std::vector<bool> accumulate;
    TrainTensor out, dy;
    Activation act = Activation::linear;
    float alpha = 1.f, beta = 1.f;
    std::vector<float> pre;   // pre-activation sum (non-linear activations)
    std::vector<float> grad;  // dL/d(pre-activation), when it cannot be dy itself
    std::vector<std::vector<float>> from_grads;  // per from slot (sampled shapes)

    // Channels of input slot f >= 1 added to the output, in floats per image.
    int64_t common_floats(size_t f) const {
      return std::min(inputs[f].shape.c, out.shape.c) * out.shape.h * out.shape.w;
    }
    int64_t common_max() const {
      int64_t largest = 0;
      for (size_t f = 1; f < inputs.size(); ++f) largest = std::max(largest, common_floats(f));
      return largest;
    }
  };

  // Same width and height: sum = alpha*a + beta*sum_f b_f over each from's
  // common channels; the channels beyond every from pass a through.
  static void sum_same_plane(const TrainState& st, float* sum) {
    const int64_t per_image = st.out.shape.per_image(), images = st.out.shape.n, common_max = st.common_max();
    const float alpha = st.alpha, beta = st.beta;
    const float* a = st.inputs[0].data;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t n = 0; n < images; ++n)
      for (int64_t i = 0; i < per_image; ++i) {
        const int64_t at = n * per_image + i;
        sum[at] = i < common_max ? alpha * a[at] : a[at];
      }
    for (size_t f = 1; f < st.inputs.size(); ++f) {
      const float* b = st.inputs[f].data;
      const int64_t common = st.common_floats(f), b_per_image = st.inputs[f].shape.per_image();
#pragma omp parallel for collapse(2) schedule(static)
      for (int64_t n = 0; n < images; ++n)
        for (int64_t i = 0; i < common; ++i) sum[n * per_image + i] += beta * b[n * b_per_image + i];
    }
  }

  // Writes each slot's gradient straight into its buffer, slots in order
  // (each stored or added as the executor asks).
  static void backward_same_plane(const TrainState& st, const float* grad) {
    const int64_t per_image = st.out.shape.per_image(), images = st.out.shape.n, common_max = st.common_max();
    const float alpha = st.alpha, beta = st.beta;
    if (float* da = st.grads[0].data) {
      const bool accumulate = st.accumulate[0];
#pragma omp parallel for collapse(2) schedule(static)
      for (int64_t n = 0; n < images; ++n)
        for (int64_t i = 0; i < per_image; ++i) {
          const int64_t at = n * per_image + i;
          const float value = i < common_max ? alpha * grad[at] : grad[at];
          da[at] = accumulate ? da[at] + value : value;
        }
    }
    for (size_t f = 1; f < st.inputs.size(); ++f) {
      float* db = st.grads[f].data;
      if (!db) continue;
      const bool accumulate = st.accumulate[f];
      const int64_t common = st.common_floats(f), b_per_image = st.inputs[f].shape.per_image();
#pragma omp parallel for collapse(2) schedule(static)
      for (int64_t n = 0; n < images; ++n)
        for (int64_t i = 0; i < b_per_image; ++i) {
          const int64_t at = n * b_per_image + i;
          // A from's channels beyond the output's are not read.
          const float value = i < common ? beta * grad[n * per_image + i] : 0.f;
          db[at] = accumulate ? db[at] + value : value;
        }
    }
  }

  // Where a from lands (see add_sampled): from cell (c, y*stride, x*stride)
  // onto output cell (c, y*sample, x*sample) over the common range.
  struct Sampling {
    int64_t stride, sample, channels, rows, cols;
  };
  static Sampling sampling(const Shape& from, const Shape& out) {
    return Sampling{std::max<int64_t>(from.w / out.w, 1), std::max<int64_t>(out.w / from.w, 1),
                    std::min(from.c, out.c), std::min(from.h, out.h), std::min(from.w, out.w)};
  }

  // Different width/height: sum = a, then for each from in order the
  // sampled cells become alpha*cell + beta*from.
  static void sum_sampled(const TrainState& st, float* sum) {
    const Shape& out = st.out.shape;
    std::copy(st.inputs[0].data, st.inputs[0].data + st.out.count(), sum);
    const float alpha = st.alpha, beta = st.beta;
    for (size_t f = 1; f < st.inputs.size(); ++f) {
      const Shape& from = st.inputs[f].shape;
      const Sampling s = sampling(from, out);
      const float* b = st.inputs[f].data;
#pragma omp parallel for collapse(2) schedule(static)
      for (int64_t n = 0; n < out.n; ++n)
        for (int64_t c = 0; c < s.channels; ++c)
          for (int64_t y = 0; y < s.rows; ++y)
            for (int64_t x = 0; x < s.cols; ++x) {
              float& cell = sum[((n * out.c + c) * out.h + y * s.sample) * out.w + x * s.sample];
              cell = alpha * cell + beta * b[((n * from.c + c) * from.h + y * s.stride) * from.w + x * s.stride];
            }
    }
  }

  // Walks the froms backwards through st.grad (the gradient at the sum): a
  // from's cells get beta times the gradient at their output cell, which is
  // then scaled by alpha for the earlier terms; what is left is a's. Every
  // slot's gradient is complete before the first is stored, so they are
  // stored in slot order.
  static void backward_sampled(TrainState& st) {
    const Shape& out = st.out.shape;
    const float alpha = st.alpha, beta = st.beta;
    float* grad = st.grad.data();
    for (size_t f = st.inputs.size() - 1; f >= 1; --f) {
      const Shape& from = st.inputs[f].shape;
      const Sampling s = sampling(from, out);
      float* db = st.from_grads[f].data();
      std::fill(st.from_grads[f].begin(), st.from_grads[f].end(), 0.f);
#pragma omp parallel for collapse(2) schedule(static)
      for (int64_t n = 0; n < out.n; ++n)
        for (int64_t c = 0; c < s.channels; ++c)
          for (int64_t y = 0; y < s.rows; ++y)
            for (int64_t x = 0; x < s.cols; ++x) {
              float& cell = grad[((n * out.c + c) * out.h + y * s.sample) * out.w + x * s.sample];
              db[((n * from.c + c) * from.h + y * s.stride) * from.w + x * s.stride] = beta * cell;
              cell *= alpha;
            }
    }
    for (size_t slot = 0; slot < st.inputs.size(); ++slot)
      if (st.grads[slot].data)
        store_gradient(st.grads[slot].data, slot == 0 ? grad : st.from_grads[slot].data(), st.grads[slot].count(),
                       st.accumulate[slot]);
  }

  // darknet: out = alpha*out + beta*from at the sampled cells only.
  static void add_sampled(const TensorView& from, const TensorView& out, float alpha, float beta) {
    int64_t stride = std::max<int64_t>(from.shape.w / out.shape.w, 1);
    int64_t sample = std::max<int64_t>(out.shape.w / from.shape.w, 1);
    int64_t channels = std::min(from.shape.c, out.shape.c);
    int64_t rows = std::min(from.shape.h, out.shape.h), cols = std::min(from.shape.w, out.shape.w);
    for (int64_t n = 0; n < out.shape.n; ++n) {
      const float* src = from.image(n);
      float* dst = out.image(n);
#pragma omp parallel for schedule(static)
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t y = 0; y < rows; ++y)
          for (int64_t x = 0; x < cols; ++x) {
            float& cell = dst[(c * out.shape.h + y * sample) * out.shape.w + x * sample];
            cell = alpha * cell + beta * src[(c * from.shape.h + y * stride) * from.shape.w + x * stride];
          }
    }
  }

  static bool same_shapes(const Layer& layer) {
    const std::vector<Shape>& in = layer.input_shapes();
    return std::all_of(in.begin(), in.end(), [&](const Shape& s) { return s == in[0]; });
  }
  static bool same_plane(const Layer& layer) {
    const std::vector<Shape>& in = layer.input_shapes();
    return std::all_of(in.begin(), in.end(), [&](const Shape& s) { return s.h == in[0].h && s.w == in[0].w; });
  }
};

}  // namespace

const LayerKernels& shortcut_kernels() {
  static const ShortcutKernels kernels;
  return kernels;
}

}  // namespace cspnet
