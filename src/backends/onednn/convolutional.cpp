// [convolutional] on oneDNN: direct or Winograd convolution with folded or
// separate batch norm, activation and residual-sum post-ops; training on
// oneDNN's forward/backward primitives (weighted_train.hpp).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

#include "backends/onednn/convolutional_small_groups.hpp"
#include "backends/onednn/kernel_util.hpp"
#include "backends/onednn/weighted_train.hpp"

namespace cspnet {
namespace {

// One operation applied to a convolution's output after the convolution.
struct PostStep {
  bool is_sum = false;
  Activation act = Activation::linear;
  float sum_scale = 1.f;  // what the output's old value is multiplied by (8 bits: back to floats)
  static PostStep sum(float scale = 1.f) { return {true, Activation::linear, scale}; }
  static PostStep activation(Activation a) { return {false, a}; }
};

dnnl::post_ops direct_post_ops(const std::vector<PostStep>& steps) {
  dnnl::post_ops ops;
  for (const PostStep& step : steps) {
    if (step.is_sum)
      ops.append_sum(step.sum_scale);
    else
      append_activation_post_op(step.act, ops);
  }
  return ops;
}

// A signed 8-bit channels-last tensor shifted to uint8 (q + 128) inside a
// spatially padded buffer whose border holds 128, the shifted zero: what
// oneDNN 2.6's brgconv int8 kernel reads in place of a signed, padded input.
// The buffer is the executor's shared staging buffer when it has one (every
// byte is rewritten before each use), else its own.
struct ShiftedInput {
  static constexpr int kShift = 128;
  dnnl::memory padded;  // uint8 nhwc
  int64_t top = 0, left = 0;

  ShiftedInput(const dnnl::memory::desc& md, int64_t top_rows, int64_t left_columns, const CompileContext& ctx)
      : padded(ctx.staging ? ctx.staging->bind(md, ctx.engine) : dnnl::memory(md, ctx.engine)),
        top(top_rows),
        left(left_columns) {}

  // Row by row: the border rows and columns 128, the rest the input with its
  // sign bit flipped (two's complement q + 128 = q ^ 0x80).
  void fill_from(const TensorView& in) const {
    const dnnl::memory::dims p = padded.get_desc().dims();  // n, c, h, w
    const int64_t c = p[1], in_row = in.shape.w * c, padded_row = p[3] * c, rows = p[0] * p[2];
    const int64_t before = left * c, after = padded_row - in_row - before;
    auto* base = static_cast<uint8_t*>(padded.get_data_handle());
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      uint8_t* to = base + r * padded_row;
      const int64_t n = r / p[2], y = r % p[2] - top;
      if (y < 0 || y >= in.shape.h) {
        std::memset(to, kShift, size_t(padded_row));
        continue;
      }
      const auto* from = reinterpret_cast<const uint8_t*>(in.image(n)) + y * in_row;
      std::memset(to, kShift, size_t(before));
      for (int64_t k = 0; k < in_row; ++k) to[before + k] = uint8_t(from[k] ^ 0x80u);
      std::memset(to + before + in_row, kShift, size_t(after));
    }
  }
};

// oneDNN 2.6's Winograd kernel takes relu (slope 0) and sum as post-ops and
// nothing else: keep the leading run of those as post-ops and run the
// activations after it as in-place passes. A sum cannot be deferred (it must
// see the activation before it), so a chain needing that is not possible.
struct PostOpSplit {
  bool possible = true;
  dnnl::post_ops fused;
  std::vector<Activation> after;
};

PostOpSplit split_for_winograd(const std::vector<PostStep>& steps) {
  PostOpSplit split;
  for (const PostStep& step : steps) {
    const bool takes = step.is_sum || step.act == Activation::linear || step.act == Activation::relu;
    if (takes && split.after.empty()) {
      if (step.is_sum)
        split.fused.append_sum(1.f);
      else
        append_activation_post_op(step.act, split.fused);
    } else if (step.is_sum) {
      split.possible = false;
    } else if (step.act != Activation::linear) {
      split.after.push_back(step.act);
    }
  }
  return split;
}

// The geometry a kernel needs, from the description and the shapes.
struct ConvGeometry {
  const ConvolutionalAttrs& a;
  int64_t channels, out_h, out_w;
  explicit ConvGeometry(const Layer& layer)
      : a(layer.attrs_as<ConvolutionalAttrs>()),
        channels(layer.input_shapes().at(0).c),
        out_h(layer.output_shape().h),
        out_w(layer.output_shape().w) {}
  // Winograd F(2x2,3x3) or F(4x4,3x3) computes a 3x3/1 convolution with
  // 2.25x or 4x fewer multiplications (oneDNN picks the tile); oneDNN 2.6
  // has it for ungrouped, undilated fp32 ones on AVX-512. With channel
  // counts off its 16-lane vectors (an RGB input) it is slower than direct:
  // 3 to 32 channels at 256x256 measured 7x slower in training.
  bool winograd() const {
    return a.size == 3 && a.stride_x == 1 && a.stride_y == 1 && a.dilation == 1 && a.groups == 1 &&
           channels % 16 == 0 && a.filters % 16 == 0;
  }
  dnnl::memory::dims weight_dims() const {
    if (a.groups == 1) return {a.filters, channels, a.size, a.size};
    return {a.groups, a.filters / a.groups, channels / a.groups, a.size, a.size};
  }
  dnnl::memory::format_tag weight_tag() const {
    return a.groups == 1 ? dnnl::memory::format_tag::oihw : dnnl::memory::format_tag::goihw;
  }
};

// Symmetric per-output-channel int8 scales: 127 / max|w| over each output's
// weights (1 for an all-zero output).
std::vector<float> int8_weight_scales(const std::vector<float>& weights, int64_t outputs) {
  const size_t per_output = weights.size() / size_t(outputs);
  std::vector<float> scales(size_t(outputs), 1.f);
  for (size_t o = 0; o < scales.size(); ++o) {
    float largest = 0;
    for (size_t k = 0; k < per_output; ++k) largest = std::max(largest, std::fabs(weights[o * per_output + k]));
    if (largest > 0) scales[o] = 127.f / largest;
  }
  return scales;
}

class ConvolutionalKernels final : public LayerKernels {
 public:
  LayoutRule layout_rule(const Layer&) const override { return LayoutRule::any; }
  LayoutRule training_layout_rule(const Layer&) const override { return LayoutRule::any; }
  bool takes_channels_last(const Layer&) const override { return true; }
  bool can_accumulate_into_output(const Layer& layer, const ExecOptions& options, Activation then) const override {
    // oneDNN 2.6's f32 and bf16 JIT convolutions (blocked or not) take a sum
    // post-op only as the first one: an activation before the sum sends them
    // to the reference kernel (and two eltwise post-ops of one algorithm get
    // the first one's parameters). So fuse only linear convolutions there, as
    // in ResNe(X)t blocks: dst = then(conv + dst). Its int8 kernels (brgconv,
    // jit_int8) take the sum after an activation: darknet's residual blocks,
    // dst = act(conv) + dst, fuse too, unless a second, different activation
    // follows (the parameter mix-up above).
    const auto& a = layer.attrs_as<ConvolutionalAttrs>();
    const bool int8 = options.precision == Precision::int8 && options.quantization &&
                      options.quantization->find(layer.index()) != nullptr;
    const bool act_then_sum = int8 && (then == Activation::linear || then == a.activation);
    return (a.activation == Activation::linear || act_then_sum) && has_activation_post_op(then) &&
           (!a.batch_normalize || options.fold_batchnorm) && options.fuse_activation;
  }
  bool can_write_narrow(const Layer& layer, const ExecOptions& options) const override {
    // Batch norm folded in (no separate pass over the output), every post-op
    // fused. int8 requantizes with an eltwise_linear post-op, which selu's
    // own eltwise_linear would lend its parameters (the mix-up above).
    const auto& a = layer.attrs_as<ConvolutionalAttrs>();
    return (!a.batch_normalize || options.fold_batchnorm) && options.fuse_activation &&
           has_activation_post_op(a.activation) &&
           !(options.precision == Precision::int8 && a.activation == Activation::selu);
  }
  std::unique_ptr<Kernel> compile(const Layer& layer, const CompileContext& ctx) const override;
  std::unique_ptr<TrainKernel> compile_training(Layer& layer, const TrainCompileContext& ctx) const override;
};

}  // namespace

std::unique_ptr<Kernel> ConvolutionalKernels::compile(const Layer& layer, const CompileContext& ctx) const {
  using namespace dnnl;
  using dims = memory::dims;
  if (auto own = compile_small_group_convolution(layer, ctx)) return own;
  const TensorView& in = ctx.inputs[0];
  const TensorView& out = ctx.output;
  const ConvGeometry g(layer);
  const ConvolutionalAttrs& a = g.a;
  const WeightArrays& arrays = *layer.weight_arrays();
  const bool batch_norm = a.batch_normalize;
  const bool fold = batch_norm && ctx.options.fold_batchnorm;

  const bool with_bias = !batch_norm || fold;

  int64_t extent_h = int64_t{a.size - 1} * a.dilation + 1, extent_w = extent_h;
  int64_t pad_b = padding_after(in.shape.h, g.out_h, extent_h, a.stride_y, a.padding);
  int64_t pad_r = padding_after(in.shape.w, g.out_w, extent_w, a.stride_x, a.padding);
  const bool each_image = per_image({in, out});
  const memory::desc src_md = arg_view(in, each_image).desc(), dst_md = arg_view(out, each_image).desc();

  const dims weight_dims = g.weight_dims();
  const auto user_weights_tag = g.weight_tag();
  // bf16: inputs and weights in bf16 (inputs converted on the way in, see
  // ViewArg::staged), accumulation and outputs in fp32.
  const bool bf16 = ctx.options.precision == Precision::bf16;
  const auto compute_type = bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  memory::desc weights_any(weight_dims, compute_type, memory::format_tag::any);
  memory::desc bias_md(dims{a.filters}, memory::data_type::f32, memory::format_tag::x);

  // What follows the convolution, in order: its activation, then for a fused
  // residual the sum and the shortcut's activation.
  std::vector<PostStep> steps;
  const bool fused_activation = ctx.options.fuse_activation && (!batch_norm || fold) &&
                                has_activation_post_op(a.activation);
  if (fused_activation) steps.push_back(PostStep::activation(a.activation));
  if (ctx.accumulate) {
    // dst holds the shortcut's other operand: dst = then(act(conv) + dst).
    if (!fused_activation) throw Error(layer.where() + ": internal: residual fusion needs a fused activation");
    // An 8-bit residual is read back in floats by the sum (1 / its scale);
    // the result is requantized after the shortcut's activation, below.
    if ((ctx.accumulate_scale != 0.f) != out.is_int8())
      throw Error(layer.where() + ": internal: a residual sum from and into tensors of different types");
    steps.push_back(PostStep::sum(out.is_int8() ? 1.f / ctx.accumulate_scale : 1.f));
    steps.push_back(PostStep::activation(ctx.accumulate_then));
  }

  dims strides{a.stride_y, a.stride_x}, dilates{a.dilation - 1, a.dilation - 1};
  dims pad_l{a.padding, a.padding}, pad_rb{pad_b, pad_r};
  auto make_padded_pd = [&](algorithm algo, const primitive_attr& attr, const memory::desc& src,
                            const memory::desc& dst, const memory::desc& weights, const dims& before,
                            const dims& after) {
    auto desc = with_bias ? convolution_forward::desc(prop_kind::forward_inference, algo, src, weights, bias_md, dst,
                                                      strides, dilates, before, after)
                          : convolution_forward::desc(prop_kind::forward_inference, algo, src, weights, dst,
                                                      strides, dilates, before, after);
    return convolution_forward::primitive_desc(desc, attr, ctx.engine);
  };
  auto make_pd = [&](algorithm algo, const primitive_attr& attr, const memory::desc& src, const memory::desc& dst,
                     const memory::desc& weights) {
    return make_padded_pd(algo, attr, src, dst, weights, pad_l, pad_rb);
  };
  auto any = [](const memory::desc& md, memory::data_type type) {
    return memory::desc(md.dims(), type, memory::format_tag::any);
  };
  const auto direct = algorithm::convolution_direct;

  // Steps left to run as our own in-place passes after the primitive.
  std::vector<Activation> after;
  std::optional<convolution_forward::primitive_desc> chosen;
  // int8 (batch norm folded): the input quantized on its way in, per-channel
  // int8 weights, the int32 result scaled back to fp32 with the post-ops.
  std::optional<Int8Scales> int8;
  std::optional<ShiftedInput> shifted;
  if (in.is_int8() && !ctx.int8_input)
    throw Error(layer.where() + ": internal: an 8-bit input to a convolution without a quantization");
  if (ctx.int8_input && with_bias) {
    const QuantizedInput& q = *ctx.int8_input;
    int8 = Int8Scales{int8_weight_scales(InferenceArrays(arrays, batch_norm, fold).weights, a.filters),
                      q.scale()};
    std::vector<float> output_scales(size_t(a.filters));
    for (size_t o = 0; o < output_scales.size(); ++o) output_scales[o] = 1.f / (int8->input * int8->weights[o]);
    // An 8-bit output (int8 activations) is requantized for its readers
    // after the activation: round(scale * act(x)), saturated by oneDNN.
    post_ops ops = direct_post_ops(steps);
    if (out.is_int8()) ops.append_eltwise(1.f, algorithm::eltwise_linear, out.int8_scale, 0.f);
    primitive_attr attr = primitive_attributes(ctx, ops);
    attr.set_output_scales(1 << 1, output_scales);  // per output channel
    // An 8-bit input (an int8 activation) as it lies, else quantized by the
    // staging reorder.
    const memory::desc src_q =
        in.is_int8() ? src_md : any(src_md, q.is_unsigned ? memory::data_type::u8 : memory::data_type::s8);
    const memory::desc weights_q(weight_dims, memory::data_type::s8, memory::format_tag::any);
    // oneDNN 2.6's int8 kernels want channels-last on both sides: the output
    // in the arena's layout only when a JIT kernel takes it, else staged.
    chosen = make_pd(direct, attr, src_q, dst_md, weights_q);
    if (is_reference_impl(chosen->impl_info_str()) && !out.is_int8())
      chosen = make_pd(direct, attr, src_q, any(dst_md, memory::data_type::f32), weights_q);
    // A signed 8-bit input: oneDNN 2.6's brgconv int8 kernel takes unsigned
    // sources only (signed ones land on jit_int8, 1.5x slower on 3x3s). So
    // the input is shifted to uint8 (q + 128: its top bit flipped) into a
    // buffer padded with 128 (a zero), the convolution runs unpadded on it,
    // and the bias takes 128 * sum(weights) off each output channel.
    if (in.is_int8() && !in.int8_unsigned && in.channels_last && !each_image && pad_b >= 0 && pad_r >= 0 &&
        !is_brgconv_impl(chosen->impl_info_str())) {
      const memory::desc padded_md({in.shape.n, in.shape.c, in.shape.h + a.padding + pad_b,
                                    in.shape.w + a.padding + pad_r},
                                   memory::data_type::u8, memory::format_tag::nhwc);
      auto unpadded = make_padded_pd(direct, attr, padded_md, dst_md, weights_q, dims{0, 0}, dims{0, 0});
      if (is_brgconv_impl(unpadded.impl_info_str())) {
        chosen = unpadded;
        shifted.emplace(padded_md, a.padding, a.padding, ctx);
        int8->input_shift = ShiftedInput::kShift;
      }
    }
  } else if (out.is_int8()) {
    throw Error(layer.where() + ": internal: an 8-bit output planned for a convolution that is not int8");
  }
  if ((out.bf16 || in.bf16) && !bf16)
    throw Error(layer.where() + ": internal: a bfloat16 tensor planned for a convolution that is not bf16");
  if (!chosen && ctx.options.winograd && !bf16 && g.winograd()) {
    PostOpSplit split = split_for_winograd(steps);
    if (split.possible) {
      try {
        chosen = make_pd(algorithm::convolution_winograd, primitive_attributes(ctx, split.fused), src_md, dst_md,
                         weights_any);
        after = split.after;
      } catch (const dnnl::error&) {
        // No Winograd kernel for these channels or this ISA: direct below.
      }
    }
  }
  if (!chosen) {
    const primitive_attr attr = primitive_attributes(ctx, direct_post_ops(steps));
    // bf16: first try the input's own layout in bf16 (the conversion is then
    // elementwise, not a transposition), else oneDNN's choice.
    auto same_layout = [](const memory::desc& md, memory::data_type type) {
      memory::desc converted = md;
      converted.data.data_type = static_cast<dnnl_data_type_t>(type);
      return converted;
    };
    chosen = make_pd(direct, attr, bf16 ? same_layout(src_md, compute_type) : src_md, dst_md, weights_any);
    if (bf16 && is_reference_impl(chosen->impl_info_str()))
      chosen = make_pd(direct, attr, any(src_md, compute_type), dst_md, weights_any);
    if (is_reference_impl(chosen->impl_info_str())) {
      // e.g. a blocked input feeding a plain output whose channels are not a
      // multiple of the block: let oneDNN choose both layouts and stage them.
      convolution_forward::primitive_desc staged =
          make_pd(direct, attr, any(src_md, compute_type), any(dst_md, memory::data_type::f32), weights_any);
      if (!is_reference_impl(staged.impl_info_str())) chosen = staged;
    }
  }
  const convolution_forward::primitive_desc& pd = *chosen;

  // The weights (BN folded when asked) in the layout the primitive chose,
  // reordered now and on reload_weights().
  auto memories = std::make_shared<WeightMemories>(ctx.engine, arrays, batch_norm, fold,
                                                   memory::desc{weight_dims, memory::data_type::f32, user_weights_tag},
                                                   pd.weights_desc(), int8);
  std::unordered_map<int, memory> args =
      scratchpad_args(ctx, pd.scratchpad_desc(), {{DNNL_ARG_WEIGHTS, memories->weights}});
  if (with_bias) args.emplace(DNNL_ARG_BIAS, memories->bias);
  auto sequence = std::make_unique<SequenceKernel>();
  std::vector<ViewArg> view_args{ViewArg{DNNL_ARG_DST, out, dst_md, pd.dst_desc(), ctx.accumulate}};
  if (shifted) {  // the source is the shifted copy, filled first
    sequence->add(make_kernel([shift = *shifted, in](dnnl::stream&) { shift.fill_from(in); }));
    args.emplace(DNNL_ARG_SRC, shifted->padded);
  } else {
    ViewArg src_arg{DNNL_ARG_SRC, in, src_md, pd.src_desc()};
    if (int8 && !in.is_int8()) src_arg.stage_scale = int8->input;
    view_args.push_back(src_arg);
  }
  sequence->add(std::make_unique<ViewPrimitiveKernel>(convolution_forward(pd), std::move(args),
                                                      std::move(view_args), each_image, ctx.engine));

  if (batch_norm && !fold) {
    auto flags = normalization_flags::use_global_stats | normalization_flags::use_scale |
                 normalization_flags::use_shift;
    batch_normalization_forward::primitive_desc bn_pd(
        {prop_kind::forward_inference, dst_md, kBatchNormEpsilon, flags}, primitive_attributes(ctx), ctx.engine);
    std::unordered_map<int, memory> bn_args = scratchpad_args(ctx, bn_pd.scratchpad_desc());
    bn_args.insert({{DNNL_ARG_MEAN, memories->mean},
                    {DNNL_ARG_VARIANCE, memories->variance},
                    {DNNL_ARG_SCALE, memories->scale},
                    {DNNL_ARG_SHIFT, memories->shift}});
    sequence->add(std::make_unique<ViewPrimitiveKernel>(
        batch_normalization_forward(bn_pd), std::move(bn_args),
        std::vector<ViewArg>{view_arg(DNNL_ARG_SRC, out, each_image), view_arg(DNNL_ARG_DST, out, each_image)}, each_image, ctx.engine));
  }
  if (!fused_activation) sequence->add(activation_kernel(a.activation, out, ctx));
  for (Activation act : after) sequence->add(activation_kernel(act, out, ctx));
  return with_reload(std::move(sequence), [memories] { memories->load(); });
}

std::unique_ptr<TrainKernel> ConvolutionalKernels::compile_training(Layer& layer,
                                                                    const TrainCompileContext& ctx) const {
  using namespace dnnl;
  using dims = memory::dims;
  const ConvGeometry g(layer);
  const ConvolutionalAttrs& a = g.a;
  WeightArrays& w = *layer.weight_arrays();
  std::optional<BatchNormArrays> bn;
  if (a.batch_normalize)
    bn.emplace(BatchNormArrays{w.scales, w.biases, w.rolling_mean, w.rolling_variance, w.scale_grads, w.bias_grads});
  const Shape& in = ctx.inputs.at(0).shape;
  const Shape& out = ctx.output.shape;
  const auto in_tag = ctx.inputs[0].blocked ? memory::format_tag::nChw16c : memory::format_tag::nchw;
  const auto out_tag = ctx.output.blocked ? memory::format_tag::nChw16c : memory::format_tag::nchw;
  const int64_t extent = int64_t{a.size - 1} * a.dilation + 1;
  const dims strides{a.stride_y, a.stride_x}, dilates{a.dilation - 1, a.dilation - 1}, pad_l{a.padding, a.padding};
  const dims pad_r{padding_after(in.h, g.out_h, extent, a.stride_y, a.padding),
                   padding_after(in.w, g.out_w, extent, a.stride_x, a.padding)};
  const dims weight_dims = g.weight_dims();
  const auto f32 = memory::data_type::f32;
  auto with_layout = [&](const Shape& s, memory::format_tag tag) { return memory::desc({s.n, s.c, s.h, s.w}, f32, tag); };
  const memory::desc weights_any(weight_dims, f32, memory::format_tag::any);
  const memory::desc bias_md({a.filters}, f32, memory::format_tag::x);
  const bool with_bias = !a.batch_normalize;
  using tag = memory::format_tag;
  const bool input_gradient_wanted = ctx.input_grads.at(0).data != nullptr;
  auto build = [&](algorithm algo, tag activation_layout) {
    const memory::desc src_request = with_layout(in, activation_layout);
    const memory::desc dst_request = with_layout(out, activation_layout);
    convolution_forward::primitive_desc forward_pd(
        with_bias ? convolution_forward::desc(prop_kind::forward_training, algo, src_request, weights_any, bias_md,
                                              dst_request, strides, dilates, pad_l, pad_r)
                  : convolution_forward::desc(prop_kind::forward_training, algo, src_request, weights_any,
                                              dst_request, strides, dilates, pad_l, pad_r),
        ctx.engine);
    const memory::desc src_md = forward_pd.src_desc(), dst_md = forward_pd.dst_desc();
    convolution_backward_data::primitive_desc backward_data_pd(
        {algo, src_md, weights_any, dst_md, strides, dilates, pad_l, pad_r}, ctx.engine, forward_pd);
    convolution_backward_weights::primitive_desc backward_weights_pd(
        with_bias ? convolution_backward_weights::desc(algo, src_md, weights_any, bias_md, dst_md, strides, dilates,
                                                       pad_l, pad_r)
                  : convolution_backward_weights::desc(algo, src_md, weights_any, dst_md, strides, dilates, pad_l,
                                                       pad_r),
        ctx.engine, forward_pd);
    // Backward data runs only when the input's gradient is wanted (not for
    // the network input).
    const bool reference_backward =
        (input_gradient_wanted && is_reference_impl(backward_data_pd.impl_info_str())) ||
        is_reference_impl(backward_weights_pd.impl_info_str());
    return std::pair{weighted_primitives(forward_pd, backward_data_pd, backward_weights_pd, with_bias,
                                         with_layout(in, in_tag), with_layout(out, out_tag),
                                         memory::desc(weight_dims, f32, g.weight_tag())),
                     reference_backward};
  };
  // The forward's layouts bind the backward passes. oneDNN's own choice can
  // be a mixed pair (plain few-channel source, blocked output) that has a jit
  // forward but only the reference backward, hundreds of times slower; then
  // both activations blocked, then both plain, are tried.
  auto build_any_layout = [&](algorithm algo) {
    std::optional<WeightedPrimitives> fallback;
    for (tag layout : {tag::any, tag::nChw16c, tag::nchw}) {
      try {
        auto [built, reference_backward] = build(algo, layout);
        if (!reference_backward) return built;
        if (!fallback) fallback = std::move(built);
      } catch (const dnnl::error&) {
        if (layout == tag::any) throw;  // no kernel at all for this algorithm
      }
    }
    return std::move(*fallback);
  };
  std::optional<WeightedPrimitives> primitives;
  if (ctx.winograd && g.winograd()) {
    try {
      primitives = build_any_layout(algorithm::convolution_winograd);
    } catch (const dnnl::error&) {
      // No Winograd kernel for one of the three passes: direct below.
    }
  }
  if (!primitives) primitives = build_any_layout(algorithm::convolution_direct);
  return std::make_unique<WeightedTrainKernel>(ctx, std::move(*primitives),
                                               WeightedArrays{w.weights, w.biases, w.weight_grads, w.bias_grads}, bn,
                                               a.activation);
}

const LayerKernels& convolutional_kernels() {
  static const ConvolutionalKernels kernels;
  return kernels;
}

}  // namespace cspnet
