#pragma once
// Forward and backward over a whole network for training, on dense plain
// NCHW float32 tensors. Every layer output has its own buffer (backward reads
// them); the gradients of layer outputs share one planned arena, a buffer
// reused once the backward pass is done with the gradient in it. Layers'
// TrainKernels are compiled once for the network's batch and input size.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cspnet/boxes.hpp"
#include "cspnet/network.hpp"
#include "cspnet/tensor.hpp"

namespace cspnet {

struct StepContext {
  bool training = true;  // false: inference semantics (running statistics, no dropout)
  uint64_t seed = 0;     // per forward pass, for stochastic layers (dropout); derived from run seed and step
};

struct LossResult {
  double loss = 0;      // the loss layers' losses summed (softmax: mean cross-entropy over the batch)
  int64_t correct = 0;  // top-1 hits of the last loss layer against the hard labels
  // The losses per image of the pass ([yolo]: its sum / batch, darknet's
  // "avg loss"; softmax: its mean), summed over the loss layers.
  double loss_per_image = 0;
  // [yolo] heads, summed over them (docs/training.md "[yolo] loss"): the
  // loss split into its box, objectness and class parts (sums of squared
  // deltas), and darknet's diagnostics over the positive slots.
  double box_loss = 0, objectness_loss = 0, class_loss = 0;
  int64_t positives = 0;      // (truth, anchor) pairs trained as positives
  double positive_iou = 0;    // their IoUs summed: / positives is darknet's "Avg IOU"
  int64_t recall50 = 0;       // positives with IoU > 0.5
  int64_t recall75 = 0;       // positives with IoU > 0.75
  int64_t skipped_truths = 0;  // truths with a class id outside 0..classes-1
};

// What a batch asks of the network's loss layers. Classification: target
// probability rows (one-hot, smoothed or mixed) and the hard labels for the
// accuracy count. Detection ([yolo] losses): each image's objects, boxes
// relative to the network input as it was fed (after augmentation).
struct Targets {
  std::span<const float> class_rows;  // batch x classes
  std::span<const int> labels;        // batch
  std::span<const std::vector<ObjectBox>> boxes;  // batch lists (detection)
};

// The loss layers of a network: every [yolo] detection head, and every
// plain [softmax] (whole vector, temperature 1) whose output nothing but
// [cost] layers reads — darknet's classifier head, wherever it sits. Each one's training kernel computes
// its loss against the batch's targets and seeds its input's gradient.
std::vector<int> loss_layers(const Network& net);

// The layer whose output the loss treats as class scores: the input of a
// final plain [softmax] (trailing [cost] layers, the identity in training,
// skipped), else the last layer.
int logits_layer(const Network& net);

// The first layer whose parameter gradients hold a NaN or an infinity (and
// the array's name in `array`); -1 if none.
int first_non_finite_gradient(Network& net, std::string* array = nullptr);

// Every layer's trained arrays, in network order: the list the optimiser
// steps over (and a checkpoint's optimiser state follows).
std::vector<TrainableParam> all_trainable_params(Network& net);

struct TrainingOptions {
  // Gradients share memory once backward is done with them (bit-identical
  // results); false gives every gradient its own buffer, for checking that.
  bool reuse_gradient_memory = true;
  // Time every layer's forward and backward (waits on the stream after each).
  bool profile_layers = false;
  // 3x3/1 convolutions (forward, backward data and weights) on oneDNN's
  // Winograd kernels where it has them; false: direct convolution only.
  bool winograd = true;
  // Keep tensors in nChw16c between layers that can take it (see
  // Layer::training_layout_rule) instead of plain NCHW with conversions at
  // every convolution; false: plain everywhere. Same results either way.
  bool blocked_layout = true;
  // Under MPI with several ranks: batch norm's statistics (and the sums its
  // backward uses) over every rank's images together, so N ranks train as
  // one process with the global batch would (--sync-bn). Costs a second
  // normalisation pass and two small allreduces per batch-norm layer.
  bool sync_batch_norm = false;
};

class TrainingExecutor {
 public:
  // Compiles every layer for the network's current batch and input size.
  // `losses`: the layers trained as losses; empty: loss_layers(net). A
  // network with none trains its last layer (before any [cost]) as softmax
  // cross-entropy logits.
  explicit TrainingExecutor(Network& net, const TrainingOptions& options = {}, const std::vector<int>& losses = {});
  ~TrainingExecutor();
  TrainingExecutor(const TrainingExecutor&) = delete;
  TrainingExecutor& operator=(const TrainingExecutor&) = delete;

  // Runs every layer forward on `input` (batch x C x H x W floats).
  void forward(const float* input, const StepContext& step);
  // The network's output (last layer) after forward(): class scores, or
  // probabilities when the network ends in [softmax] (+ [cost]/[dropout]).
  const Tensor& output() const;

  // Every loss layer's loss of the last forward() against `targets` (rows of
  // classes() probabilities), summed, with their gradients scaled by
  // `grad_scale` (1/batch for a mean over one batch; 1/(batch*subdivisions)
  // with gradient accumulation) kept for backward().
  LossResult loss(const Targets& targets, float grad_scale);
  // Backward through every layer from the loss layers' gradients; adds into
  // every layer's parameter gradients (see zero_gradients()).
  void backward();
  // The same, calling `after_layer(i)` once layer i's backward is done (its
  // input gradients hold every contribution made so far).
  using BackwardObserver = std::function<void(int layer)>;
  void backward(const BackwardObserver& after_layer);
  // dL/d(output of `layer`) as accumulated so far in this backward, in the
  // tensor's training layout (blocked_tensors()); empty for a layer without
  // one (a loss layer, a layer after the last loss). Read between layers it
  // needs reuse_gradient_memory = false: with reuse, a later gradient may
  // take the same memory once this one is consumed.
  std::span<const float> gradient(int layer) const;
  void zero_gradients();
  // What `layer`'s backward adds to its parameter `param` (a trainable_params()
  // name, e.g. "weights") for `output_gradient` alone, in place of the output
  // gradient it had (as gradient(layer): its length and layout), at the state of the
  // last forward(). Every gradient and parameter gradient is as it was on
  // return. A parameter gradient is linear in the output gradient, so each
  // reader's contribution to the output gradient has its own share of the
  // update: what `cspnet gradients` compares.
  std::vector<float> parameter_gradient_for(int layer, const std::string& param,
                                            std::span<const float> output_gradient);

  // The first layer whose output of the last forward() holds a NaN or an
  // infinity; -1 if none (what a non-finite loss is traced back to).
  int first_non_finite_output() const;

  // Target row width: the input of the last loss layer, per image.
  int classes() const;
  // The loss layers trained (the constructor's `losses`, or loss_layers()).
  const std::vector<int>& loss_layer_indices() const;
  // Per tensor (layer outputs, then the network input): kept in nChw16c
  // (TrainingOptions::blocked_layout).
  const std::vector<bool>& blocked_tensors() const;
  // Per-layer wall time (ms) of the last forward and backward; empty unless
  // TrainingOptions::profile_layers.
  const std::vector<double>& forward_times_ms() const;
  const std::vector<double>& backward_times_ms() const;
  // Bytes held for training: the input, every layer output and the planned
  // gradient arena (kernels' own buffers, e.g. pre-activation copies, come on
  // top).
  int64_t memory_bytes() const;
  // What the same would take with a buffer for every layer's output and one
  // for every layer's gradient: the input + 2 x the sum of the outputs.
  int64_t unplanned_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cspnet
