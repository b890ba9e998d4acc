#pragma once
// Batch norm in training mode for [convolutional] and [connected]: oneDNN's
// batch_normalization on the layer's pre-normalisation tensor, with darknet's
// running statistics kept up to date.
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

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
  BatchNormTraining(const dnnl::engine& engine, const dnnl::memory::desc& data_md, BatchNormArrays arrays);

  // Training: normalises with the batch statistics (biased variance, as
  // PyTorch and oneDNN do) and updates the running statistics. Otherwise
  // (inference) normalises with the running statistics.
  void forward(dnnl::stream& stream, const dnnl::memory& src, const dnnl::memory& dst, bool training);
  // Backward of the last training forward of `src`: writes diff_src (may be
  // a different buffer from diff_dst) and adds to the scale and shift
  // gradients.
  void backward(dnnl::stream& stream, const dnnl::memory& src, const dnnl::memory& diff_dst,
                const dnnl::memory& diff_src);

 private:
  dnnl::memory vector_memory(std::vector<float>& values) const;

  dnnl::engine engine_;
  BatchNormArrays arrays_;
  double batch_elements_;  // per channel: m = batch * spatial
  dnnl::memory::desc channel_md_;
  dnnl::batch_normalization_forward train_, infer_;
  dnnl::batch_normalization_backward backward_;
  dnnl::memory mean_, variance_, diff_scale_, diff_shift_;
};

}  // namespace cspnet
