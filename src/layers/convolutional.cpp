// [convolutional]: grouped/depthwise/dilated/strided 2-D convolution with
// optional batch norm and an activation; runs on oneDNN.
#include <cmath>
#include <optional>

#include "cspnet/activation.hpp"
#include "cspnet/cfg.hpp"
#include "layer_util.hpp"
#include "weighted_train.hpp"

namespace cspnet {
namespace {

// One operation applied to a convolution's output after the convolution.
struct PostStep {
  bool is_sum = false;
  Activation act = Activation::linear;
  static PostStep sum() { return {true, Activation::linear}; }
  static PostStep activation(Activation a) { return {false, a}; }
};

dnnl::post_ops direct_post_ops(const std::vector<PostStep>& steps) {
  dnnl::post_ops ops;
  for (const PostStep& step : steps) {
    if (step.is_sum)
      ops.append_sum(1.f);
    else
      append_activation_post_op(step.act, ops);
  }
  return ops;
}

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

class ConvolutionalLayer final : public Layer {
 public:
  explicit ConvolutionalLayer(Options& o) {
    filters_ = o.get_int("filters", 1);
    size_ = o.get_int("size", 1);
    int stride = o.get_int("stride", 1);
    stride_x_ = o.get_int("stride_x", stride);
    stride_y_ = o.get_int("stride_y", stride);
    bool pad = o.get_int("pad", 0) != 0;
    padding_ = o.get_int("padding", pad ? size_ / 2 : 0);
    groups_ = o.get_int("groups", 1);
    dilation_ = o.get_int("dilation", 1);
    batch_norm_ = o.get_int("batch_normalize", 0) != 0;
    activation_ = parse_activation(o.get_string("activation", "logistic"), o.where("activation"));
    if (filters_ <= 0) o.fail("filters", "a positive number of filters");
    if (size_ <= 0) o.fail("size", "a positive kernel size");
    if (stride <= 0) o.fail("stride", "a positive stride");
    if (stride_x_ <= 0) o.fail("stride_x", "a positive stride");
    if (stride_y_ <= 0) o.fail("stride_y", "a positive stride");
    if (padding_ < 0) o.fail("padding", "a non-negative padding");
    if (groups_ <= 0) o.fail("groups", "a positive number of groups");
    if (dilation_ <= 0) o.fail("dilation", "a positive dilation");
    if (filters_ % groups_ != 0) o.fail("groups", "a divisor of filters=" + std::to_string(filters_));
  }

  std::string_view type() const override { return "conv"; }
  bool can_accumulate_into_output(const ExecOptions& options, Activation then) const override {
    // oneDNN 2.6's JIT convolutions (blocked or not) take a sum post-op only
    // as the first one: an activation before the sum sends them to the
    // reference kernel (and two eltwise post-ops of one algorithm get the
    // first one's parameters). So fuse only linear convolutions, as in
    // ResNe(X)t blocks: dst = then(conv + dst).
    return activation_ == Activation::linear && has_activation_post_op(then) &&
           (!batch_norm_ || options.fold_batchnorm) && options.fuse_activation;
  }
  LayoutRule layout_rule() const override { return LayoutRule::any; }
  LayoutRule training_layout_rule() const override { return LayoutRule::any; }

  Shape infer(std::span<const Shape> in) override {
    const Shape& x = in[0];
    if (x.c % groups_ != 0)
      shape_error(*this, "groups=" + std::to_string(groups_) + " must divide the input channels " +
                             std::to_string(x.c));
    channels_ = x.c;
    int64_t extent = int64_t{size_ - 1} * dilation_ + 1;
    const int64_t pad2 = 2 * int64_t{padding_};  // int64: padding may be near INT_MAX
    out_h_ = (x.h + pad2 - extent) / stride_y_ + 1;
    out_w_ = (x.w + pad2 - extent) / stride_x_ + 1;
    if (x.h + pad2 < extent || x.w + pad2 < extent)
      shape_error(*this, "kernel extent " + std::to_string(extent) + " is larger than the padded input " +
                             std::to_string(x.h + pad2) + "x" + std::to_string(x.w + pad2));
    check_parameter_count(*this, double(filters_) * double(x.c / groups_) * double(size_) * double(size_),
                          "filters*channels/groups*size*size");
    check_window(*this, "kernel extent", extent, x);
    size_t count = static_cast<size_t>(weight_count());
    if (weights_.size() != count) weights_.assign(count, 0.f);
    size_t n = static_cast<size_t>(filters_);
    biases_.resize(n, 0.f);
    if (batch_norm_) {
      scales_.resize(n, 1.f);
      rolling_mean_.resize(n, 0.f);
      rolling_variance_.resize(n, 1.f);
    }
    return Shape{x.n, filters_, out_h_, out_w_};
  }

  int filters() const override { return filters_; }
  std::string geometry() const override {
    std::string g = std::to_string(size_) + " x " + std::to_string(size_) + "/";
    g += stride_x_ == stride_y_ ? std::to_string(stride_x_)
                                : std::to_string(stride_x_) + "x" + std::to_string(stride_y_);
    if (groups_ > 1) g += " g" + std::to_string(groups_);
    if (dilation_ > 1) g += " d" + std::to_string(dilation_);
    return g;
  }
  // Winograd F(2x2,3x3) or F(4x4,3x3) computes a 3x3/1 convolution with
  // 2.25x or 4x fewer multiplications (oneDNN picks the tile); oneDNN 2.6
  // has it for ungrouped, undilated fp32 ones on AVX-512. With channel
  // counts off its 16-lane vectors (an RGB input) it is slower than direct:
  // 3 to 32 channels at 256x256 measured 7x slower in training.
  bool winograd_geometry() const {
    return size_ == 3 && stride_x_ == 1 && stride_y_ == 1 && dilation_ == 1 && groups_ == 1 && channels_ % 16 == 0 &&
           filters_ % 16 == 0;
  }
  int64_t weight_count() const { return int64_t{filters_} * (channels_ / groups_) * size_ * size_; }
  int64_t parameter_count() const override { return weight_count() + int64_t{filters_} * (batch_norm_ ? 2 : 1); }
  int64_t conv_weight_count() const override { return weight_count(); }
  double conv_bflops() const override { return 2.0 * double(weight_count()) * double(out_h_ * out_w_) / 1e9; }
  double bflops() const override { return conv_bflops(); }

  std::vector<ParamBlob> darknet_params() override {
    if (batch_norm_)
      return {{"biases", &biases_},
              {"scales", &scales_},
              {"rolling_mean", &rolling_mean_},
              {"rolling_variance", &rolling_variance_},
              {"weights", &weights_}};
    return {{"biases", &biases_}, {"weights", &weights_}};
  }

  void init_parameters(std::mt19937_64& rng) override {
    // Unit-gain (LeCun) uniform: with leaky/relu each conv halves the
    // variance, which offsets the doubling at every residual sum, so deep
    // random networks keep activations O(1) instead of exploding.
    float fan_in = float(channels_ / groups_) * float(size_ * size_);
    fill_uniform(weights_, std::sqrt(3.f / fan_in), rng);
    fill_uniform(biases_, 0.1f, rng);
    if (batch_norm_) init_batch_norm(scales_, rolling_mean_, rolling_variance_, rng);
  }

  std::unique_ptr<Kernel> compile(const CompileContext& ctx) override;

  std::unique_ptr<TrainKernel> compile_training(const TrainCompileContext& ctx) override;

  std::vector<TrainableParam> trainable_params() override {
    // darknet_params() order; weight decay on the weights only.
    std::vector<TrainableParam> params{{"biases", &biases_, &bias_grads_, false}};
    if (batch_norm_) params.push_back({"scales", &scales_, &scale_grads_, false});
    params.push_back({"weights", &weights_, &weight_grads_, true});
    return params;
  }

 private:
  int filters_ = 1, size_ = 1, stride_x_ = 1, stride_y_ = 1, padding_ = 0, groups_ = 1, dilation_ = 1;
  bool batch_norm_ = false;
  Activation activation_ = Activation::logistic;
  int64_t channels_ = 0, out_h_ = 0, out_w_ = 0;
  std::vector<float> weights_, biases_, scales_, rolling_mean_, rolling_variance_;
  std::vector<float> weight_grads_, bias_grads_, scale_grads_;  // sized and zeroed by compile_training
};

std::unique_ptr<Kernel> ConvolutionalLayer::compile(const CompileContext& ctx) {
  using namespace dnnl;
  using dims = memory::dims;
  const TensorView& in = ctx.inputs[0];
  const TensorView& out = ctx.output;
  const bool fold = batch_norm_ && ctx.options.fold_batchnorm;

  // Weights and bias as the primitive will see them (BN folded when asked).
  std::vector<float> weights = weights_;
  std::vector<float> bias = biases_;
  if (fold) fold_batch_norm(weights, bias, scales_, rolling_mean_, rolling_variance_);
  const bool with_bias = !batch_norm_ || fold;

  int64_t extent_h = int64_t{size_ - 1} * dilation_ + 1, extent_w = extent_h;
  int64_t pad_b = padding_after(in.shape.h, out_h_, extent_h, stride_y_, padding_);
  int64_t pad_r = padding_after(in.shape.w, out_w_, extent_w, stride_x_, padding_);
  const bool each_image = per_image({in, out});
  const memory::desc src_md = arg_view(in, each_image).desc(), dst_md = arg_view(out, each_image).desc();

  dims weight_dims = groups_ == 1 ? dims{filters_, channels_, size_, size_}
                                  : dims{groups_, filters_ / groups_, channels_ / groups_, size_, size_};
  auto user_weights_tag = groups_ == 1 ? memory::format_tag::oihw : memory::format_tag::goihw;
  // bf16: inputs and weights in bf16 (inputs converted on the way in, see
  // ViewArg::staged), accumulation and outputs in fp32.
  const bool bf16 = ctx.options.precision == Precision::bf16;
  const auto compute_type = bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  memory::desc weights_any(weight_dims, compute_type, memory::format_tag::any);
  memory::desc bias_md(dims{filters_}, memory::data_type::f32, memory::format_tag::x);

  // What follows the convolution, in order: its activation, then for a fused
  // residual the sum and the shortcut's activation.
  std::vector<PostStep> steps;
  const bool fused_activation = ctx.options.fuse_activation && (!batch_norm_ || fold) &&
                                has_activation_post_op(activation_);
  if (fused_activation) steps.push_back(PostStep::activation(activation_));
  if (ctx.accumulate) {
    // dst holds the shortcut's other operand: dst = then(act(conv) + dst).
    if (!fused_activation) throw Error(where() + ": internal: residual fusion needs a fused activation");
    steps.push_back(PostStep::sum());
    steps.push_back(PostStep::activation(ctx.accumulate_then));
  }

  dims strides{stride_y_, stride_x_}, dilates{dilation_ - 1, dilation_ - 1};
  dims pad_l{padding_, padding_}, pad_rb{pad_b, pad_r};
  auto make_pd = [&](algorithm algo, const post_ops& ops, const memory::desc& src, const memory::desc& dst) {
    auto desc = with_bias ? convolution_forward::desc(prop_kind::forward_inference, algo, src, weights_any, bias_md,
                                                      dst, strides, dilates, pad_l, pad_rb)
                          : convolution_forward::desc(prop_kind::forward_inference, algo, src, weights_any, dst,
                                                      strides, dilates, pad_l, pad_rb);
    return convolution_forward::primitive_desc(desc, primitive_attributes(ctx, ops), ctx.engine);
  };

  // Steps left to run as our own in-place passes after the primitive.
  std::vector<Activation> after;
  std::optional<convolution_forward::primitive_desc> chosen;
  if (ctx.options.winograd && !bf16 && winograd_geometry()) {
    PostOpSplit split = split_for_winograd(steps);
    if (split.possible) {
      try {
        chosen = make_pd(algorithm::convolution_winograd, split.fused, src_md, dst_md);
        after = split.after;
      } catch (const dnnl::error&) {
        // No Winograd kernel for these channels or this ISA: direct below.
      }
    }
  }
  if (!chosen) {
    const post_ops ops = direct_post_ops(steps);
    auto any = [](const memory::desc& md, memory::data_type type) {
      return memory::desc(md.dims(), type, memory::format_tag::any);
    };
    // bf16: first try the input's own layout in bf16 (the conversion is then
    // elementwise, not a transposition), else oneDNN's choice.
    auto same_layout = [](const memory::desc& md, memory::data_type type) {
      memory::desc converted = md;
      converted.data.data_type = static_cast<dnnl_data_type_t>(type);
      return converted;
    };
    const auto direct = algorithm::convolution_direct;
    chosen = make_pd(direct, ops, bf16 ? same_layout(src_md, compute_type) : src_md, dst_md);
    if (bf16 && is_reference_impl(chosen->impl_info_str()))
      chosen = make_pd(direct, ops, any(src_md, compute_type), dst_md);
    if (is_reference_impl(chosen->impl_info_str())) {
      // e.g. a blocked input feeding a plain output whose channels are not a
      // multiple of the block: let oneDNN choose both layouts and stage them.
      convolution_forward::primitive_desc staged =
          make_pd(direct, ops, any(src_md, compute_type), any(dst_md, memory::data_type::f32));
      if (!is_reference_impl(staged.impl_info_str())) chosen = staged;
    }
  }
  const convolution_forward::primitive_desc& pd = *chosen;

  // Reorder the weights once into the layout the primitive chose.
  memory user_weights({weight_dims, memory::data_type::f32, user_weights_tag}, ctx.engine, weights.data());
  memory conv_weights(pd.weights_desc(), ctx.engine);
  stream setup(ctx.engine);
  reorder(user_weights, conv_weights).execute(setup, user_weights, conv_weights);
  setup.wait();
  memory bias_mem(bias_md, ctx.engine);
  std::copy(bias.begin(), bias.end(), static_cast<float*>(bias_mem.get_data_handle()));

  std::unordered_map<int, memory> args = scratchpad_args(ctx, pd.scratchpad_desc(), {{DNNL_ARG_WEIGHTS, conv_weights}});
  if (with_bias) args.emplace(DNNL_ARG_BIAS, bias_mem);
  auto sequence = std::make_unique<SequenceKernel>();
  sequence->add(std::make_unique<ViewPrimitiveKernel>(convolution_forward(pd), std::move(args),
                                                      std::vector<ViewArg>{ViewArg{DNNL_ARG_SRC, in, src_md, pd.src_desc(), false},
                                                                           ViewArg{DNNL_ARG_DST, out, dst_md, pd.dst_desc(), true,
                                                                                   ctx.accumulate}},
                                                      each_image, ctx.engine));

  if (batch_norm_ && !fold) {
    auto flags = normalization_flags::use_global_stats | normalization_flags::use_scale |
                 normalization_flags::use_shift;
    batch_normalization_forward::primitive_desc bn_pd(
        {prop_kind::forward_inference, dst_md, kBatchNormEpsilon, flags}, primitive_attributes(ctx), ctx.engine);
    auto vector_memory = [&](const std::vector<float>& values) {
      memory m(bias_md, ctx.engine);
      std::copy(values.begin(), values.end(), static_cast<float*>(m.get_data_handle()));
      return m;
    };
    std::unordered_map<int, memory> bn_args = scratchpad_args(ctx, bn_pd.scratchpad_desc());
    bn_args.insert({{DNNL_ARG_MEAN, vector_memory(rolling_mean_)},
                    {DNNL_ARG_VARIANCE, vector_memory(rolling_variance_)},
                    {DNNL_ARG_SCALE, vector_memory(scales_)},
                    {DNNL_ARG_SHIFT, vector_memory(biases_)}});
    sequence->add(std::make_unique<ViewPrimitiveKernel>(
        batch_normalization_forward(bn_pd), std::move(bn_args),
        std::vector<ViewArg>{view_arg(DNNL_ARG_SRC, out, each_image), view_arg(DNNL_ARG_DST, out, each_image)}, each_image, ctx.engine));
  }
  if (!fused_activation) sequence->add(activation_kernel(activation_, out));
  for (Activation act : after) sequence->add(activation_kernel(act, out));
  return sequence;
}

std::unique_ptr<TrainKernel> ConvolutionalLayer::compile_training(const TrainCompileContext& ctx) {
  using namespace dnnl;
  using dims = memory::dims;
  std::optional<BatchNormArrays> bn;
  if (batch_norm_)
    bn.emplace(BatchNormArrays{scales_, biases_, rolling_mean_, rolling_variance_, scale_grads_, bias_grads_});
  const Shape& in = ctx.inputs.at(0).shape;
  const Shape& out = ctx.output.shape;
  const auto in_tag = ctx.inputs[0].blocked ? memory::format_tag::nChw16c : memory::format_tag::nchw;
  const auto out_tag = ctx.output.blocked ? memory::format_tag::nChw16c : memory::format_tag::nchw;
  const int64_t extent = int64_t{size_ - 1} * dilation_ + 1;
  const dims strides{stride_y_, stride_x_}, dilates{dilation_ - 1, dilation_ - 1}, pad_l{padding_, padding_};
  const dims pad_r{padding_after(in.h, out_h_, extent, stride_y_, padding_),
                   padding_after(in.w, out_w_, extent, stride_x_, padding_)};
  const dims weight_dims = groups_ == 1 ? dims{filters_, channels_, size_, size_}
                                        : dims{groups_, filters_ / groups_, channels_ / groups_, size_, size_};
  const auto f32 = memory::data_type::f32;
  auto with_layout = [&](const Shape& s, memory::format_tag tag) { return memory::desc({s.n, s.c, s.h, s.w}, f32, tag); };
  const memory::desc weights_any(weight_dims, f32, memory::format_tag::any);
  const memory::desc bias_md({filters_}, f32, memory::format_tag::x);
  const memory::desc src_any = with_layout(in, memory::format_tag::any), dst_any = with_layout(out, memory::format_tag::any);
  const bool with_bias = !batch_norm_;
  auto build = [&](algorithm algo) {
    convolution_forward::primitive_desc forward_pd(
        with_bias ? convolution_forward::desc(prop_kind::forward_training, algo, src_any, weights_any, bias_md, dst_any,
                                              strides, dilates, pad_l, pad_r)
                  : convolution_forward::desc(prop_kind::forward_training, algo, src_any, weights_any, dst_any,
                                              strides, dilates, pad_l, pad_r),
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
    return weighted_primitives(
        forward_pd, backward_data_pd, backward_weights_pd, with_bias, with_layout(in, in_tag),
        with_layout(out, out_tag),
        memory::desc(weight_dims, f32, groups_ == 1 ? memory::format_tag::oihw : memory::format_tag::goihw));
  };
  std::optional<WeightedPrimitives> primitives;
  if (ctx.winograd && winograd_geometry()) {
    try {
      primitives = build(algorithm::convolution_winograd);
    } catch (const dnnl::error&) {
      // No Winograd kernel for one of the three passes: direct below.
    }
  }
  if (!primitives) primitives = build(algorithm::convolution_direct);
  return std::make_unique<WeightedTrainKernel>(ctx, std::move(*primitives),
                                               WeightedArrays{weights_, biases_, weight_grads_, bias_grads_}, bn,
                                               activation_);
}

}  // namespace

std::unique_ptr<Layer> make_convolutional(LayerSite& site) {
  return std::make_unique<ConvolutionalLayer>(site.options);
}

}  // namespace cspnet
