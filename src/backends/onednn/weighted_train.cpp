#include "backends/onednn/weighted_train.hpp"

#include <algorithm>
#include <cmath>

#include "backends/onednn/kernel_util.hpp"
#include "cspnet/distributed.hpp"

namespace cspnet {

// ---- BatchNormTraining --------------------------------------------------------

BatchNormTraining::BatchNormTraining(const dnnl::engine& engine, const dnnl::memory::desc& data_md,
                                     const BatchNormArrays& arrays, bool synchronized)
    : engine_(engine), arrays_(arrays), synchronized_(synchronized && world_size() > 1) {
  using namespace dnnl;
  const memory::dims dims = data_md.dims();
  batch_elements_ = 1;
  for (size_t i = 0; i < dims.size(); ++i)
    if (i != 1) batch_elements_ *= double(dims[i]);
  channel_md_ = memory::desc({dims.at(1)}, memory::data_type::f32, memory::format_tag::x);
  const auto affine = normalization_flags::use_scale | normalization_flags::use_shift;
  batch_normalization_forward::primitive_desc train_pd({prop_kind::forward_training, data_md, kBatchNormEpsilon, affine},
                                                       engine);
  batch_normalization_forward::primitive_desc infer_pd(
      {prop_kind::forward_inference, data_md, kBatchNormEpsilon, affine | normalization_flags::use_global_stats},
      engine);
  batch_normalization_backward::primitive_desc backward_pd(
      {prop_kind::backward, data_md, data_md, kBatchNormEpsilon, affine}, engine, train_pd);
  train_ = batch_normalization_forward(train_pd);
  infer_ = batch_normalization_forward(infer_pd);
  backward_ = batch_normalization_backward(backward_pd);
  mean_ = memory(channel_md_, engine);
  variance_ = memory(channel_md_, engine);
  diff_scale_ = memory(channel_md_, engine);
  diff_shift_ = memory(channel_md_, engine);
  if (!synchronized_) return;
  const auto given = affine | normalization_flags::use_global_stats;
  batch_normalization_forward::primitive_desc given_pd({prop_kind::forward_training, data_md, kBatchNormEpsilon, given},
                                                       engine);
  train_with_given_stats_ = batch_normalization_forward(given_pd);
  backward_with_given_stats_ = batch_normalization_backward(
      batch_normalization_backward::primitive_desc({prop_kind::backward, data_md, data_md, kBatchNormEpsilon, given},
                                                   engine, given_pd));
  // a and b broadcast over every dimension but the channel's.
  memory::dims per_channel(dims.size(), 1);
  per_channel[1] = dims[1];
  memory::dims row_major(dims.size(), 1);
  row_major[0] = dims[1];  // {C, 1, 1, 1}: the channel is the only dimension with a size
  const memory::desc terms_md(per_channel, memory::data_type::f32, row_major);
  term_mean_ = memory(terms_md, engine, mean_.get_data_handle());
  term_a_ = memory(terms_md, engine);
  term_b_ = memory(terms_md, engine);
  // diff_src += (src - mean) * a + b: centred first, so a large mean does
  // not cancel against b in float.
  post_ops times_a_plus_b_plus_dst;
  times_a_plus_b_plus_dst.append_binary(algorithm::binary_mul, terms_md);
  times_a_plus_b_plus_dst.append_binary(algorithm::binary_add, terms_md);
  times_a_plus_b_plus_dst.append_sum(1.f);
  primitive_attr attr;
  attr.set_post_ops(times_a_plus_b_plus_dst);
  add_mean_terms_ = binary(binary::primitive_desc({algorithm::binary_sub, data_md, terms_md, data_md}, attr, engine));
}

dnnl::memory BatchNormTraining::vector_memory(std::vector<float>& values) const {
  return dnnl::memory(channel_md_, engine_, values.data());
}

void BatchNormTraining::normalize(const dnnl::batch_normalization_forward& primitive, dnnl::stream& stream,
                                  const dnnl::memory& src, const dnnl::memory& dst, const dnnl::memory& mean,
                                  const dnnl::memory& variance) {
  primitive.execute(stream, {{DNNL_ARG_SRC, src},
                             {DNNL_ARG_DST, dst},
                             {DNNL_ARG_MEAN, mean},
                             {DNNL_ARG_VARIANCE, variance},
                             {DNNL_ARG_SCALE, vector_memory(arrays_.scales)},
                             {DNNL_ARG_SHIFT, vector_memory(arrays_.shifts)}});
}

void BatchNormTraining::forward(dnnl::stream& stream, const dnnl::memory& src, const dnnl::memory& dst,
                                bool training) {
  if (!training) {
    normalize(infer_, stream, src, dst, vector_memory(arrays_.rolling_mean), vector_memory(arrays_.rolling_variance));
    return;
  }
  normalize(train_, stream, src, dst, mean_, variance_);
  stream.wait();
  const double elements = synchronized_ ? synchronize_statistics(stream, src, dst) : batch_elements_;
  // Running statistics: darknet's momentum (0.99 old + 0.01 batch), with the
  // batch variance made unbiased (times m/(m-1), m = elements per channel in
  // the batch) as PyTorch does, while the batch itself is normalised with
  // the biased variance. With m = 1 there is no unbiased variance: the
  // (zero) biased one is used.
  const float* mean = static_cast<const float*>(mean_.get_data_handle());
  const float* variance = static_cast<const float*>(variance_.get_data_handle());
  const double unbias = elements > 1 ? elements / (elements - 1) : 1.0;
  for (size_t c = 0; c < arrays_.rolling_mean.size(); ++c) {
    arrays_.rolling_mean[c] = float(0.99 * arrays_.rolling_mean[c] + 0.01 * mean[c]);
    arrays_.rolling_variance[c] = float(0.99 * arrays_.rolling_variance[c] + 0.01 * unbias * variance[c]);
  }
}

void BatchNormTraining::backward(dnnl::stream& stream, const dnnl::memory& src, const dnnl::memory& diff_dst,
                                 const dnnl::memory& diff_src) {
  (synchronized_ ? backward_with_given_stats_ : backward_).execute(stream, {{DNNL_ARG_SRC, src},
                             {DNNL_ARG_MEAN, mean_},
                             {DNNL_ARG_VARIANCE, variance_},
                             {DNNL_ARG_DIFF_DST, diff_dst},
                             {DNNL_ARG_SCALE, vector_memory(arrays_.scales)},
                             {DNNL_ARG_SHIFT, vector_memory(arrays_.shifts)},  // unused, but oneDNN 2.6 insists
                             {DNNL_ARG_DIFF_SRC, diff_src},
                             {DNNL_ARG_DIFF_SCALE, diff_scale_},
                             {DNNL_ARG_DIFF_SHIFT, diff_shift_}});
  stream.wait();
  if (synchronized_) add_synchronized_mean_terms(stream, src, diff_src);
  const float* diff_scale = static_cast<const float*>(diff_scale_.get_data_handle());
  const float* diff_shift = static_cast<const float*>(diff_shift_.get_data_handle());
  for (size_t c = 0; c < arrays_.scale_grads.size(); ++c) {
    arrays_.scale_grads[c] += diff_scale[c];
    arrays_.shift_grads[c] += diff_shift[c];
  }
}

// Synchronized batch norm. Each rank's oneDNN forward gives its own mean and
// biased variance over m elements per channel; the sums m*mean and
// m*(variance + mean^2), summed over the ranks in double, give the mean and
// variance of all M elements, with which the batch is normalised again.
double BatchNormTraining::synchronize_statistics(dnnl::stream& stream, const dnnl::memory& src,
                                                 const dnnl::memory& dst) {
  float* mean = static_cast<float*>(mean_.get_data_handle());
  float* variance = static_cast<float*>(variance_.get_data_handle());
  const size_t channels = arrays_.rolling_mean.size();
  std::vector<double> sums(2 * channels + 1);
  for (size_t c = 0; c < channels; ++c) {
    sums[c] = batch_elements_ * mean[c];
    sums[channels + c] = batch_elements_ * (double(variance[c]) + double(mean[c]) * mean[c]);
  }
  sums.back() = batch_elements_;
  allreduce_sum(sums.data(), sums.size());
  const double elements = sums.back();
  for (size_t c = 0; c < channels; ++c) {
    const double all_mean = sums[c] / elements;
    mean[c] = float(all_mean);
    variance[c] = float(std::max(0.0, sums[channels + c] / elements - all_mean * all_mean));
  }
  normalize(train_with_given_stats_, stream, src, dst, mean_, variance_);
  stream.wait();
  synchronized_elements_ = elements;
  return elements;
}

// With the statistics held constant oneDNN's backward gives
// diff_src = k * dy (k = scale / sqrt(variance + eps)) and this rank's sums
// G = sum(dy * xhat), B = sum(dy). Batch norm's full backward is
// k * (dy - B/M - xhat * G/M) with G and B over all ranks' M elements: the
// missing terms are (src - mean) * a + b per channel, added here.
void BatchNormTraining::add_synchronized_mean_terms(dnnl::stream& stream, const dnnl::memory& src,
                                                    const dnnl::memory& diff_src) {
  const size_t channels = arrays_.rolling_mean.size();
  const float* diff_scale = static_cast<const float*>(diff_scale_.get_data_handle());
  const float* diff_shift = static_cast<const float*>(diff_shift_.get_data_handle());
  std::vector<double> sums(2 * channels);
  for (size_t c = 0; c < channels; ++c) {
    sums[c] = diff_scale[c];
    sums[channels + c] = diff_shift[c];
  }
  allreduce_sum(sums.data(), sums.size());
  const float* variance = static_cast<const float*>(variance_.get_data_handle());
  float* a = static_cast<float*>(term_a_.get_data_handle());
  float* b = static_cast<float*>(term_b_.get_data_handle());
  const double m = synchronized_elements_;
  for (size_t c = 0; c < channels; ++c) {
    const double inv_std = 1.0 / std::sqrt(double(variance[c]) + double(kBatchNormEpsilon));
    const double k = double(arrays_.scales[c]) * inv_std;
    a[c] = float(-k * inv_std * sums[c] / m);
    b[c] = float(-k * sums[channels + c] / m);
  }
  add_mean_terms_.execute(stream, {{DNNL_ARG_SRC_0, src},
                                   {DNNL_ARG_SRC_1, term_mean_},
                                   {DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, term_a_},
                                   {DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1, term_b_},
                                   {DNNL_ARG_DST, diff_src}});
  stream.wait();
}

// ---- WeightedTrainKernel ------------------------------------------------------
// Forward: primitive (+ bias without BN) -> y, [BN -> z], reorder to the plain
// pre-activation, activation into the output. Backward: the activation's
// backward, [BN's], then the primitive's backward weights and data. The
// primitives run in the layouts oneDNN prefers (blocked for its fast JIT
// kernels), reordered from and to the executor's plain tensors at the edges;
// the weights are reordered from the layer's own array every forward since
// the optimiser changes them every step.

namespace {

dnnl::reorder adding_reorder(const dnnl::memory& src, const dnnl::memory& dst, bool add) {
  dnnl::primitive_attr attr;
  if (add) {
    dnnl::post_ops sum;
    sum.append_sum(1.f);
    attr.set_post_ops(sum);
  }
  return dnnl::reorder(dnnl::reorder::primitive_desc(src, dst, attr));
}

float* data_of(const dnnl::memory& m) { return static_cast<float*>(m.get_data_handle()); }

}  // namespace

WeightedPrimitives weighted_primitives(const dnnl::primitive_desc& forward, const dnnl::primitive_desc& backward_data,
                                       const dnnl::primitive_desc& backward_weights, bool with_bias,
                                       const dnnl::memory::desc& plain_src, const dnnl::memory::desc& plain_dst,
                                       const dnnl::memory::desc& user_weights) {
  return WeightedPrimitives{dnnl::primitive(forward),
                            dnnl::primitive(backward_data),
                            dnnl::primitive(backward_weights),
                            with_bias,
                            forward.src_desc(0),
                            forward.dst_desc(0),
                            forward.weights_desc(0),
                            backward_data.weights_desc(0),
                            backward_weights.diff_weights_desc(0),
                            plain_src,
                            plain_dst,
                            user_weights};
}

WeightedTrainKernel::WeightedTrainKernel(const TrainCompileContext& ctx, WeightedPrimitives primitives,
                                         const WeightedArrays& arrays, const std::optional<BatchNormArrays>& bn,
                                         Activation act)
    : p_(std::move(primitives)),
      engine_(ctx.engine),
      arrays_(arrays),
      act_(act),
      output_count_(ctx.output.count()),
      output_(ctx.output.data),
      output_grad_(ctx.output_grad.data) {
  using dnnl::memory;
  using dnnl::reorder;
  arrays_.weight_grads.assign(arrays_.weights.size(), 0.f);
  arrays_.bias_grads.assign(arrays_.biases.size(), 0.f);
  if (bn) bn->scale_grads.assign(bn->scales.size(), 0.f);  // its shift gradients are the bias gradients
  // `user` itself when `layout` is its layout, else a new buffer in `layout`.
  auto staged = [&](const memory& user, const memory::desc& layout) {
    return user.get_desc() == layout ? user : memory(layout, engine_);
  };
  user_src_ = memory(p_.plain_src, engine_, ctx.inputs.at(0).data);
  src_ = staged(user_src_, p_.src);
  if (src_ != user_src_) load_src_ = reorder(user_src_, src_);

  user_weights_ = memory(p_.user_weights, engine_, arrays_.weights.data());
  forward_weights_ = staged(user_weights_, p_.forward_weights);
  if (forward_weights_ != user_weights_) load_forward_weights_ = reorder(user_weights_, forward_weights_);
  backward_data_weights_ =
      p_.backward_data_weights == p_.forward_weights ? forward_weights_ : memory(p_.backward_data_weights, engine_);
  if (backward_data_weights_ != forward_weights_)
    load_backward_data_weights_ = reorder(user_weights_, backward_data_weights_);
  // Weight gradients are added into the layer's array by a reorder with a
  // sum post-op, which also converts from oneDNN's layout.
  user_weight_grads_ = memory(p_.user_weights, engine_, arrays_.weight_grads.data());
  diff_weights_ = memory(p_.diff_weights, engine_);
  add_weight_grads_ = adding_reorder(diff_weights_, user_weight_grads_, true);
  const memory::desc bias_md({ctx.output.shape.c}, memory::data_type::f32, memory::format_tag::x);
  bias_ = memory(bias_md, engine_, arrays_.biases.data());
  diff_bias_ = memory(bias_md, engine_);

  // The plain pre-activation is the output itself for a linear activation.
  pre_ = act_ == Activation::linear ? memory(p_.plain_dst, engine_, output_) : memory(p_.plain_dst, engine_);
  const bool dst_plain = p_.dst == p_.plain_dst;
  y_ = dst_plain && !bn ? pre_ : memory(p_.dst, engine_);
  if (bn) {
    bn_.emplace(engine_, p_.dst, *bn, ctx.sync_batch_norm);
    z_ = dst_plain ? pre_ : memory(p_.dst, engine_);
  } else {
    z_ = y_;
  }
  if (z_ != pre_) store_pre_ = reorder(z_, pre_);

  // backward() reads the output gradient only: a linear activation passes it on.
  diff_pre_ = act_ == Activation::linear ? memory(p_.plain_dst, engine_, const_cast<float*>(output_grad_))
                                         : memory(p_.plain_dst, engine_);
  diff_z_ = dst_plain ? diff_pre_ : memory(p_.dst, engine_);
  if (diff_z_ != diff_pre_) load_diff_z_ = reorder(diff_pre_, diff_z_);
  diff_y_ = bn ? memory(p_.dst, engine_) : diff_z_;

  const TrainTensor& input_grad = ctx.input_grads.at(0);
  if (input_grad.data) {
    const bool accumulate = ctx.accumulate_input_grad.at(0);
    user_input_grad_ = memory(p_.plain_src, engine_, input_grad.data);
    if (!accumulate && p_.src == p_.plain_src) {
      diff_src_ = user_input_grad_;
    } else {
      diff_src_ = memory(p_.src, engine_);
      store_diff_src_ = adding_reorder(diff_src_, user_input_grad_, accumulate);
    }
  }
}

void WeightedTrainKernel::forward(dnnl::stream& stream, const StepContext& step) {
  // The arrays' storage may have been replaced between steps (resize, load).
  user_weights_.set_data_handle(arrays_.weights.data());
  bias_.set_data_handle(arrays_.biases.data());
  if (load_src_) load_src_->execute(stream, user_src_, src_);
  if (load_forward_weights_) load_forward_weights_->execute(stream, user_weights_, forward_weights_);
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, src_}, {DNNL_ARG_WEIGHTS, forward_weights_}, {DNNL_ARG_DST, y_}};
  if (p_.with_bias) args.emplace(DNNL_ARG_BIAS, bias_);
  p_.forward.execute(stream, args);
  if (bn_) bn_->forward(stream, y_, z_, step.training);
  if (store_pre_) store_pre_->execute(stream, z_, pre_);
  stream.wait();
  if (act_ != Activation::linear) {
    activate_into(act_, data_of(pre_), output_, output_count_);
  }
}

void WeightedTrainKernel::backward(dnnl::stream& stream) {
  if (act_ != Activation::linear) activation_backward(act_, data_of(pre_), output_grad_, data_of(diff_pre_), output_count_);
  if (load_diff_z_) load_diff_z_->execute(stream, diff_pre_, diff_z_);
  if (bn_) bn_->backward(stream, y_, diff_z_, diff_y_);

  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, src_}, {DNNL_ARG_DIFF_DST, diff_y_}, {DNNL_ARG_DIFF_WEIGHTS, diff_weights_}};
  if (p_.with_bias) args.emplace(DNNL_ARG_DIFF_BIAS, diff_bias_);
  p_.backward_weights.execute(stream, args);
  user_weight_grads_.set_data_handle(arrays_.weight_grads.data());
  add_weight_grads_.execute(stream, diff_weights_, user_weight_grads_);

  if (diff_src_) {
    if (load_backward_data_weights_)
      load_backward_data_weights_->execute(stream, user_weights_, backward_data_weights_);
    p_.backward_data.execute(stream, {{DNNL_ARG_DIFF_DST, diff_y_},
                                      {DNNL_ARG_WEIGHTS, backward_data_weights_},
                                      {DNNL_ARG_DIFF_SRC, diff_src_}});
    if (store_diff_src_) store_diff_src_->execute(stream, diff_src_, user_input_grad_);
  }
  stream.wait();
  if (p_.with_bias) {
    const float* diff_bias = data_of(diff_bias_);
    for (size_t f = 0; f < arrays_.bias_grads.size(); ++f) arrays_.bias_grads[f] += diff_bias[f];
  }
}

}  // namespace cspnet
