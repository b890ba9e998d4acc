#pragma once
// Training for the weighted layers, [convolutional] and [connected]: their
// oneDNN primitive (convolution or inner product) with a bias or batch norm,
// then the activation. The layer files build the primitives; the data flow,
// layouts and gradient bookkeeping live here.
#include <optional>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "cspnet/activation.hpp"
#include "backends/onednn/kernel.hpp"

namespace cspnet {

// The layer's batch-norm arrays (owned by the layer; referenced for the
// kernel's lifetime). `shifts` are darknet's "biases" of a BN layer.
struct BatchNormArrays {
  std::vector<float>& scales;
  std::vector<float>& shifts;
  std::vector<float>& rolling_mean;
  std::vector<float>& rolling_variance;
  std::vector<float>& scale_grads;
  std::vector<float>& shift_grads;
};

class BatchNormTraining {
 public:
  // `data_md`: the normalised tensor in any layout oneDNN's batch norm takes;
  // statistics per channel (dimension 1) over all other dimensions.
  // `synchronized` (--sync-bn, with several MPI ranks): the batch statistics
  // and the backward's per-channel sums are those of every rank's batch
  // together (allreduce), so N ranks normalise as one process would.
  BatchNormTraining(const dnnl::engine& engine, const dnnl::memory::desc& data_md, const BatchNormArrays& arrays,
                    bool synchronized = false);

  // Training: normalises with the batch statistics (biased variance, as
  // PyTorch and oneDNN do) and updates the running statistics. Otherwise
  // (inference) normalises with the running statistics.
  void forward(dnnl::stream& stream, const dnnl::memory& src, const dnnl::memory& dst, bool training);
  // Backward of the last training forward of `src`: writes diff_src and adds
  // to the scale and shift gradients.
  void backward(dnnl::stream& stream, const dnnl::memory& src, const dnnl::memory& diff_dst,
                const dnnl::memory& diff_src);

 private:
  dnnl::memory vector_memory(std::vector<float>& values) const;
  // Runs a forward batch norm with the layer's scale and shift.
  void normalize(const dnnl::batch_normalization_forward& primitive, dnnl::stream& stream, const dnnl::memory& src,
                 const dnnl::memory& dst, const dnnl::memory& mean, const dnnl::memory& variance);
  double synchronize_statistics(dnnl::stream& stream, const dnnl::memory& src, const dnnl::memory& dst);
  void add_synchronized_mean_terms(dnnl::stream& stream, const dnnl::memory& src, const dnnl::memory& diff_src);

  dnnl::engine engine_;
  BatchNormArrays arrays_;
  double batch_elements_;  // per channel: m = batch * spatial (this rank's; all ranks' when synchronized)
  dnnl::memory::desc channel_md_;
  dnnl::batch_normalization_forward train_, infer_;
  dnnl::batch_normalization_backward backward_;
  dnnl::memory mean_, variance_, diff_scale_, diff_shift_;
  // Synchronized only: normalisation with the all-rank statistics, the
  // backward that treats them as constants, and diff_src += src * a + b
  // (the mean terms of the backward, per channel a and b).
  bool synchronized_ = false;
  dnnl::batch_normalization_forward train_with_given_stats_;
  dnnl::batch_normalization_backward backward_with_given_stats_;
  dnnl::binary add_mean_terms_;
  dnnl::memory term_mean_, term_a_, term_b_;  // term_mean_ views mean_ as {1, C, 1, 1}
  double synchronized_elements_ = 0;            // M of the last forward
};

// The layer's trained arrays and their gradients.
struct WeightedArrays {
  std::vector<float>& weights;
  std::vector<float>& biases;  // the bias without batch norm, BN's shift with it
  std::vector<float>& weight_grads;
  std::vector<float>& bias_grads;
};

// The layer's primitives for one (batch, input size), built with layouts of
// oneDNN's choosing (format_tag::any): the backward ones take the forward's
// src and dst layouts (build them with its primitive_desc as the hint).
struct WeightedPrimitives {
  dnnl::primitive forward, backward_data, backward_weights;
  bool with_bias;  // forward takes DNNL_ARG_BIAS, backward_weights gives DNNL_ARG_DIFF_BIAS
  dnnl::memory::desc src, dst;                      // the layouts the primitives use
  dnnl::memory::desc forward_weights, backward_data_weights, diff_weights;
  // The executor's plain tensors and the layer's own weight array.
  dnnl::memory::desc plain_src, plain_dst, user_weights;
};

// The primitives of the three descriptors (the backward ones built with the
// forward's as the hint) and the layouts they use.
WeightedPrimitives weighted_primitives(const dnnl::primitive_desc& forward, const dnnl::primitive_desc& backward_data,
                                       const dnnl::primitive_desc& backward_weights, bool with_bias,
                                       const dnnl::memory::desc& plain_src, const dnnl::memory::desc& plain_dst,
                                       const dnnl::memory::desc& user_weights);

class WeightedTrainKernel final : public TrainKernel {
 public:
  // Sizes the gradient arrays (`arrays`, and `bn`'s scale gradients) like
  // their parameters and zeroes them. `bn` absent: the primitive adds the bias.
  WeightedTrainKernel(const TrainCompileContext& ctx, WeightedPrimitives primitives, const WeightedArrays& arrays,
                      const std::optional<BatchNormArrays>& bn, Activation act);
  void forward(dnnl::stream& stream, const StepContext& step) override;
  void backward(dnnl::stream& stream) override;

 private:
  WeightedPrimitives p_;
  dnnl::engine engine_;
  WeightedArrays arrays_;
  Activation act_;
  int64_t output_count_;
  float* output_;
  const float* output_grad_;
  std::optional<BatchNormTraining> bn_;

  dnnl::memory user_src_, src_;  // src_ is user_src_ or a copy in the primitives' layout
  dnnl::memory user_weights_, forward_weights_, backward_data_weights_;
  dnnl::memory user_weight_grads_, diff_weights_, bias_, diff_bias_;
  dnnl::memory y_, z_, pre_;             // primitive output, BN output (primitive layout), plain pre-activation
  dnnl::memory diff_pre_, diff_z_, diff_y_;
  dnnl::memory user_input_grad_, diff_src_;  // diff_src_ is null when no input gradient is wanted
  std::optional<dnnl::reorder> load_src_, load_forward_weights_, load_backward_data_weights_, store_pre_,
      load_diff_z_, store_diff_src_;
  dnnl::reorder add_weight_grads_;
};

}  // namespace cspnet
