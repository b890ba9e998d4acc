#include "batch_norm_train.hpp"

#include "layer_util.hpp"

namespace cspnet {

BatchNormTraining::BatchNormTraining(const dnnl::engine& engine, const dnnl::memory::desc& data_md,
                                     BatchNormArrays arrays)
    : engine_(engine), arrays_(arrays) {
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
}

dnnl::memory BatchNormTraining::vector_memory(std::vector<float>& values) const {
  return dnnl::memory(channel_md_, engine_, values.data());
}

void BatchNormTraining::forward(dnnl::stream& stream, const dnnl::memory& src, const dnnl::memory& dst,
                                bool training) {
  if (!training) {
    infer_.execute(stream, {{DNNL_ARG_SRC, src},
                            {DNNL_ARG_DST, dst},
                            {DNNL_ARG_MEAN, vector_memory(arrays_.rolling_mean)},
                            {DNNL_ARG_VARIANCE, vector_memory(arrays_.rolling_variance)},
                            {DNNL_ARG_SCALE, vector_memory(arrays_.scales)},
                            {DNNL_ARG_SHIFT, vector_memory(arrays_.shifts)}});
    return;
  }
  train_.execute(stream, {{DNNL_ARG_SRC, src},
                          {DNNL_ARG_DST, dst},
                          {DNNL_ARG_MEAN, mean_},
                          {DNNL_ARG_VARIANCE, variance_},
                          {DNNL_ARG_SCALE, vector_memory(arrays_.scales)},
                          {DNNL_ARG_SHIFT, vector_memory(arrays_.shifts)}});
  stream.wait();
  // Running statistics: darknet's momentum (0.99 old + 0.01 batch), with the
  // variance made unbiased (times m/(m-1), m = elements per channel in the
  // batch) as PyTorch does; the batch itself is normalised with the biased
  // variance. A single element per channel has no unbiased variance: its
  // (zero) biased one is used.
  const float* mean = static_cast<const float*>(mean_.get_data_handle());
  const float* variance = static_cast<const float*>(variance_.get_data_handle());
  const double unbias = batch_elements_ > 1 ? batch_elements_ / (batch_elements_ - 1) : 1.0;
  for (size_t c = 0; c < arrays_.rolling_mean.size(); ++c) {
    arrays_.rolling_mean[c] = 0.99f * arrays_.rolling_mean[c] + 0.01f * mean[c];
    arrays_.rolling_variance[c] = 0.99f * arrays_.rolling_variance[c] + float(0.01 * unbias * variance[c]);
  }
}

void BatchNormTraining::backward(dnnl::stream& stream, const dnnl::memory& src, const dnnl::memory& diff_dst,
                                 const dnnl::memory& diff_src) {
  backward_.execute(stream, {{DNNL_ARG_SRC, src},
                             {DNNL_ARG_MEAN, mean_},
                             {DNNL_ARG_VARIANCE, variance_},
                             {DNNL_ARG_DIFF_DST, diff_dst},
                             {DNNL_ARG_SCALE, vector_memory(arrays_.scales)},
                             {DNNL_ARG_DIFF_SRC, diff_src},
                             {DNNL_ARG_DIFF_SCALE, diff_scale_},
                             {DNNL_ARG_DIFF_SHIFT, diff_shift_}});
  stream.wait();
  const float* diff_scale = static_cast<const float*>(diff_scale_.get_data_handle());
  const float* diff_shift = static_cast<const float*>(diff_shift_.get_data_handle());
  for (size_t c = 0; c < arrays_.scale_grads.size(); ++c) {
    arrays_.scale_grads[c] += diff_scale[c];
    arrays_.shift_grads[c] += diff_shift[c];
  }
}

}  // namespace cspnet
