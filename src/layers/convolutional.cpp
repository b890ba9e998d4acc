// [convolutional]: grouped/depthwise/dilated/strided 2-D convolution with
// optional batch norm and an activation; runs on oneDNN.
#include <cmath>
#include <optional>

#include "batch_norm_train.hpp"
#include "cspnet/activation.hpp"
#include "cspnet/cfg.hpp"
#include "layer_util.hpp"
#include "train_util.hpp"

namespace cspnet {
namespace {

// ---- Training kernel --------------------------------------------------------
// Forward: conv (+ bias without BN) -> y, [BN with batch statistics -> z],
// then the activation into the output; the pre-activation is kept (plain
// NCHW) for the activation's backward. The primitives run in the activation
// layout oneDNN prefers (blocked for its fast JIT kernels), reordered from
// and to the executor's plain NCHW tensors at the edges; the weights are
// reordered from the layer's own (g)oihw array on every forward because the
// optimiser changes them every step.

struct ConvolutionGeometry {
  dnnl::memory::dims weight_dims;
  dnnl::memory::format_tag user_weights_tag;
  dnnl::memory::dims strides, dilates, pad_l, pad_r;
};

struct ConvolutionArrays {
  std::vector<float>& weights;
  std::vector<float>& biases;
  std::vector<float>& weight_grads;
  std::vector<float>& bias_grads;
};

class ConvolutionTrainKernel final : public TrainKernel {
 public:
  ConvolutionTrainKernel(const TrainCompileContext& ctx, const ConvolutionGeometry& g, ConvolutionArrays arrays,
                         std::optional<BatchNormArrays> bn, Activation act);
  void forward(dnnl::stream& stream, const StepContext& step) override;
  void backward(dnnl::stream& stream) override;

 private:
  dnnl::memory plain(const Shape& shape, float* data) const {
    using dnnl::memory;
    return memory({{shape.n, shape.c, shape.h, shape.w}, memory::data_type::f32, memory::format_tag::nchw},
                  engine_, data);
  }
  // `preferred` itself when it is `user`'s layout, else a buffer in it.
  dnnl::memory staged(const dnnl::memory& user, const dnnl::memory::desc& preferred) const {
    return user.get_desc() == preferred ? user : dnnl::memory(preferred, engine_);
  }

  dnnl::engine engine_;
  ConvolutionArrays arrays_;
  Activation act_;
  bool with_bias_;
  bool want_input_grad_, accumulate_input_grad_;
  int64_t output_count_;
  float* output_;
  const float* output_grad_;

  dnnl::convolution_forward forward_;
  dnnl::convolution_backward_data backward_data_;
  dnnl::convolution_backward_weights backward_weights_;
  std::optional<BatchNormTraining> bn_;

  dnnl::memory user_src_, src_;                     // src_ is user_src_ or oneDNN's layout of it
  dnnl::memory user_weights_, forward_weights_, backward_weights_memory_;
  dnnl::memory user_weight_grads_, diff_weights_, bias_, diff_bias_;
  dnnl::memory y_, z_, pre_;                        // conv output, BN output (both in the primitive's layout), plain pre-activation
  dnnl::memory diff_pre_, diff_z_, diff_y_;         // gradients of pre_, z_ (primitive layout), y_
  dnnl::memory user_input_grad_, diff_src_;
  std::optional<dnnl::reorder> load_src_, load_forward_weights_, load_backward_weights_, store_pre_, load_diff_z_,
      store_diff_src_;
  dnnl::reorder add_weight_grads_;
};

ConvolutionTrainKernel::ConvolutionTrainKernel(const TrainCompileContext& ctx, const ConvolutionGeometry& g,
                                               ConvolutionArrays arrays, std::optional<BatchNormArrays> bn,
                                               Activation act)
    : engine_(ctx.engine),
      arrays_(arrays),
      act_(act),
      with_bias_(!bn),
      want_input_grad_(ctx.input_grads.at(0).data != nullptr),
      accumulate_input_grad_(ctx.accumulate_input_grad.at(0)),
      output_count_(ctx.output.count()),
      output_(ctx.output.data),
      output_grad_(ctx.output_grad.data) {
  using namespace dnnl;
  const Shape& in = ctx.inputs.at(0).shape;
  const Shape& out = ctx.output.shape;
  const auto f32 = memory::data_type::f32;
  auto any = [&](const Shape& s) { return memory::desc({s.n, s.c, s.h, s.w}, f32, memory::format_tag::any); };
  const memory::desc weights_any(g.weight_dims, f32, memory::format_tag::any);
  const memory::desc bias_md({out.c}, f32, memory::format_tag::x);
  const auto algo = algorithm::convolution_direct;

  convolution_forward::primitive_desc forward_pd(
      with_bias_ ? convolution_forward::desc(prop_kind::forward_training, algo, any(in), weights_any, bias_md, any(out),
                                             g.strides, g.dilates, g.pad_l, g.pad_r)
                 : convolution_forward::desc(prop_kind::forward_training, algo, any(in), weights_any, any(out),
                                             g.strides, g.dilates, g.pad_l, g.pad_r),
      engine_);
  const memory::desc src_md = forward_pd.src_desc(), dst_md = forward_pd.dst_desc();
  convolution_backward_data::primitive_desc backward_data_pd(
      {algo, src_md, weights_any, dst_md, g.strides, g.dilates, g.pad_l, g.pad_r}, engine_, forward_pd);
  convolution_backward_weights::primitive_desc backward_weights_pd(
      with_bias_ ? convolution_backward_weights::desc(algo, src_md, weights_any, bias_md, dst_md, g.strides, g.dilates,
                                                      g.pad_l, g.pad_r)
                 : convolution_backward_weights::desc(algo, src_md, weights_any, dst_md, g.strides, g.dilates, g.pad_l,
                                                      g.pad_r),
      engine_, forward_pd);
  forward_ = convolution_forward(forward_pd);
  backward_data_ = convolution_backward_data(backward_data_pd);
  backward_weights_ = convolution_backward_weights(backward_weights_pd);

  user_src_ = plain(in, ctx.inputs[0].data);
  src_ = staged(user_src_, src_md);
  if (src_ != user_src_) load_src_ = reorder(user_src_, src_);

  const memory::desc user_weights_md(g.weight_dims, f32, g.user_weights_tag);
  user_weights_ = memory(user_weights_md, engine_, arrays_.weights.data());
  forward_weights_ = staged(user_weights_, forward_pd.weights_desc());
  backward_weights_memory_ = backward_data_pd.weights_desc() == forward_pd.weights_desc()
                                 ? forward_weights_
                                 : staged(user_weights_, backward_data_pd.weights_desc());
  if (forward_weights_ != user_weights_) load_forward_weights_ = reorder(user_weights_, forward_weights_);
  if (backward_weights_memory_ != forward_weights_)
    load_backward_weights_ = reorder(user_weights_, backward_weights_memory_);
  user_weight_grads_ = memory(user_weights_md, engine_, arrays_.weight_grads.data());
  diff_weights_ = memory(backward_weights_pd.diff_weights_desc(), engine_);
  {
    // Weight gradients are added into the layer's array by a reorder with a
    // sum post-op (also converting from oneDNN's layout).
    post_ops add;
    add.append_sum(1.f);
    primitive_attr attr;
    attr.set_post_ops(add);
    add_weight_grads_ = reorder(reorder::primitive_desc(diff_weights_, user_weight_grads_, attr));
  }
  bias_ = memory(bias_md, engine_, arrays_.biases.data());
  diff_bias_ = memory(bias_md, engine_);

  // The plain pre-activation: the output itself for a linear activation.
  pre_ = act_ == Activation::linear ? plain(out, output_) : memory(plain(out, nullptr).get_desc(), engine_);
  const bool dst_plain = dst_md == pre_.get_desc();
  y_ = dst_plain && !bn ? pre_ : memory(dst_md, engine_);
  if (bn) {
    bn_.emplace(engine_, dst_md, *bn);
    z_ = dst_plain ? pre_ : memory(dst_md, engine_);
  } else {
    z_ = y_;
  }
  if (z_ != pre_) store_pre_ = reorder(z_, pre_);

  // Backward buffers.
  diff_pre_ = act_ == Activation::linear ? plain(out, const_cast<float*>(output_grad_))  // read only
                                         : memory(pre_.get_desc(), engine_);
  diff_z_ = dst_plain ? diff_pre_ : memory(dst_md, engine_);
  if (diff_z_ != diff_pre_) load_diff_z_ = reorder(diff_pre_, diff_z_);
  diff_y_ = bn ? memory(dst_md, engine_) : diff_z_;
  if (want_input_grad_) {
    user_input_grad_ = plain(in, ctx.input_grads[0].data);
    if (!accumulate_input_grad_ && src_md == user_input_grad_.get_desc()) {
      diff_src_ = user_input_grad_;
    } else {
      diff_src_ = memory(src_md, engine_);
      primitive_attr attr;
      if (accumulate_input_grad_) {
        post_ops add;
        add.append_sum(1.f);
        attr.set_post_ops(add);
      }
      store_diff_src_ = reorder(reorder::primitive_desc(diff_src_, user_input_grad_, attr));
    }
  }
}

void ConvolutionTrainKernel::forward(dnnl::stream& stream, const StepContext& step) {
  // The optimiser may have replaced the arrays' storage between steps.
  user_weights_.set_data_handle(arrays_.weights.data());
  bias_.set_data_handle(arrays_.biases.data());
  if (load_src_) load_src_->execute(stream, user_src_, src_);
  if (load_forward_weights_) load_forward_weights_->execute(stream, user_weights_, forward_weights_);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src_}, {DNNL_ARG_WEIGHTS, forward_weights_}, {DNNL_ARG_DST, y_}};
  if (with_bias_) args.emplace(DNNL_ARG_BIAS, bias_);
  forward_.execute(stream, args);
  if (bn_) bn_->forward(stream, y_, z_, step.training);
  if (store_pre_) store_pre_->execute(stream, z_, pre_);
  stream.wait();
  if (act_ != Activation::linear) {
    const float* pre = static_cast<const float*>(pre_.get_data_handle());
    std::copy(pre, pre + output_count_, output_);
    activate_array(act_, output_, output_count_);
  }
}

void ConvolutionTrainKernel::backward(dnnl::stream& stream) {
  if (act_ != Activation::linear)
    activation_backward(act_, static_cast<const float*>(pre_.get_data_handle()), output_grad_,
                        static_cast<float*>(diff_pre_.get_data_handle()), output_count_);
  if (load_diff_z_) load_diff_z_->execute(stream, diff_pre_, diff_z_);
  if (bn_) bn_->backward(stream, y_, diff_z_, diff_y_);

  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, src_}, {DNNL_ARG_DIFF_DST, diff_y_}, {DNNL_ARG_DIFF_WEIGHTS, diff_weights_}};
  if (with_bias_) args.emplace(DNNL_ARG_DIFF_BIAS, diff_bias_);
  backward_weights_.execute(stream, args);
  user_weight_grads_.set_data_handle(arrays_.weight_grads.data());
  add_weight_grads_.execute(stream, diff_weights_, user_weight_grads_);

  if (want_input_grad_) {
    if (load_backward_weights_) load_backward_weights_->execute(stream, user_weights_, backward_weights_memory_);
    backward_data_.execute(stream, {{DNNL_ARG_DIFF_DST, diff_y_},
                                    {DNNL_ARG_WEIGHTS, backward_weights_memory_},
                                    {DNNL_ARG_DIFF_SRC, diff_src_}});
    if (store_diff_src_) store_diff_src_->execute(stream, diff_src_, user_input_grad_);
  }
  stream.wait();
  if (with_bias_) {
    const float* diff_bias = static_cast<const float*>(diff_bias_.get_data_handle());
    for (size_t f = 0; f < arrays_.bias_grads.size(); ++f) arrays_.bias_grads[f] += diff_bias[f];
  }
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

  std::unique_ptr<TrainKernel> compile_training(const TrainCompileContext& ctx) override {
    zero_like(weight_grads_, weights_);
    zero_like(bias_grads_, biases_);
    if (batch_norm_) zero_like(scale_grads_, scales_);
    std::optional<BatchNormArrays> bn;
    if (batch_norm_) bn.emplace(BatchNormArrays{scales_, biases_, rolling_mean_, rolling_variance_, scale_grads_, bias_grads_});
    const Shape& in = ctx.inputs.at(0).shape;
    int64_t extent = int64_t{size_ - 1} * dilation_ + 1;
    using dims = dnnl::memory::dims;
    ConvolutionGeometry g{
        groups_ == 1 ? dims{filters_, channels_, size_, size_}
                     : dims{groups_, filters_ / groups_, channels_ / groups_, size_, size_},
        groups_ == 1 ? dnnl::memory::format_tag::oihw : dnnl::memory::format_tag::goihw,
        {stride_y_, stride_x_},
        {dilation_ - 1, dilation_ - 1},
        {padding_, padding_},
        {padding_after(in.h, out_h_, extent, stride_y_, padding_), padding_after(in.w, out_w_, extent, stride_x_, padding_)}};
    return std::make_unique<ConvolutionTrainKernel>(
        ctx, g, ConvolutionArrays{weights_, biases_, weight_grads_, bias_grads_}, bn, activation_);
  }

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

  post_ops ops;
  bool fused_activation = false;
  if (ctx.options.fuse_activation && (!batch_norm_ || fold))
    fused_activation = append_activation_post_op(activation_, ops);
  if (ctx.accumulate) {
    // dst holds the shortcut's other operand: dst = then(act(conv) + dst).
    if (!fused_activation) throw Error(where() + ": internal: residual fusion needs a fused activation");
    ops.append_sum(1.f);
    append_activation_post_op(ctx.accumulate_then, ops);
  }
  const primitive_attr attr = primitive_attributes(ctx, ops);

  dims strides{stride_y_, stride_x_}, dilates{dilation_ - 1, dilation_ - 1};
  dims pad_l{padding_, padding_}, pad_rb{pad_b, pad_r};
  auto make_pd = [&](const memory::desc& src, const memory::desc& dst) {
    auto desc = with_bias ? convolution_forward::desc(prop_kind::forward_inference, algorithm::convolution_direct,
                                                      src, weights_any, bias_md, dst, strides, dilates, pad_l, pad_rb)
                          : convolution_forward::desc(prop_kind::forward_inference, algorithm::convolution_direct,
                                                      src, weights_any, dst, strides, dilates, pad_l, pad_rb);
    return convolution_forward::primitive_desc(desc, attr, ctx.engine);
  };
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
  convolution_forward::primitive_desc pd = make_pd(bf16 ? same_layout(src_md, compute_type) : src_md, dst_md);
  if (bf16 && is_reference_impl(pd.impl_info_str())) pd = make_pd(any(src_md, compute_type), dst_md);
  if (is_reference_impl(pd.impl_info_str())) {
    // e.g. a blocked input feeding a plain output whose channels are not a
    // multiple of the block: let oneDNN choose both layouts and stage them.
    convolution_forward::primitive_desc staged =
        make_pd(any(src_md, compute_type), any(dst_md, memory::data_type::f32));
    if (!is_reference_impl(staged.impl_info_str())) pd = staged;
  }

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
  return sequence;
}

}  // namespace

std::unique_ptr<Layer> make_convolutional(LayerSite& site) {
  return std::make_unique<ConvolutionalLayer>(site.options);
}

}  // namespace cspnet
