#pragma once
// Plans memory for a network and runs its forward pass (the oneDNN backend).
#include <memory>
#include <vector>

#include "cspnet/network.hpp"

namespace cspnet {

enum class Precision {
  fp32,
  bf16,  // convolutions take bf16 inputs and weights (fp32 accumulation and outputs)
  int8,  // convolutions of ExecOptions::quantization take uint8/int8 inputs and int8 weights
         // (int32 accumulation, fp32 outputs); see cspnet/quantization.hpp
};

struct QuantizationTable;

struct ExecOptions {
  bool fold_batchnorm = true;    // fold BN into conv/connected weights at inference
  bool fuse_activation = true;   // activations as post-ops of the kernel before them where the backend has them
  bool zero_copy_concat = true;  // producers write into their slice of a route's buffer
  bool reuse_memory = true;      // liveness-based buffer reuse (off: every tensor kept)
  bool profile_layers = false;   // time every layer (waits for the kernels after each)
  bool blocked_layout = true;    // keep activations in nChw16c between layers where legal
  Precision precision = Precision::fp32;
  bool fuse_residual = true;     // darknet shortcut as a sum post-op of the conv before it
  bool winograd = true;          // fp32 3x3/1 convolutions by Winograd where the backend has it
  // fp32 and bf16 grouped convolutions with 2, 4 or 8 channels per group by
  // the backend's own loop (oneDNN stages fp32 ones through narrower
  // blocked layouts and runs bf16 ones slowly); off: oneDNN's kernels.
  bool small_group_kernel = true;
  // precision int8: the calibration table (cspnet quantize); it must fit the
  // network and its weights (check_table), and convolutions it does not list
  // run in fp32.
  std::shared_ptr<const QuantizationTable> quantization;
  // precision int8 and bf16: tensors that only convolutions, equal-shape
  // shortcuts, max pools and upsamples touch are kept channels-last (nhwc),
  // the layout oneDNN's int8
  // kernels take and its brgconv kernels run fastest on, so those
  // convolutions read and write them without a layout reorder
  // (MemoryPlan::channels_last).
  bool channels_last = true;
  // precision int8: a convolution's output that only int8 convolutions read
  // (all with one quantization) is written by it as 8-bit integers, requantized
  // in its post-ops, so its readers take it without a quantizing reorder
  // (MemoryPlan::int8_scale). A concatenation that only such convolutions
  // read is copied in 8 bits, channels-last, instead of being written in
  // place (MemoryPlan::int8_concatenation); max pools and scale-1 upsamples
  // between such layers pass 8-bit tensors through. Needs channels_last.
  bool int8_activations = true;
  // precision bf16: tensors that only convolutions, pooling, scale-1
  // upsampling and unfused shortcuts write (or concatenate) and read are
  // kept in bfloat16 (MemoryPlan::bf16): half the traffic, and convolutions
  // reading them skip their f32 -> bf16 reorder.
  bool bf16_activations = true;
};

// Where every tensor lives. Tensor ids: 0..L-1 are layer outputs, L is the
// network input. A tensor may live inside another (a channel slice of a
// route's buffer, or a route-group view); `root` names the outermost one.
struct MemoryPlan {
  std::vector<int> root;               // per tensor: the tensor whose buffer holds it
  std::vector<int64_t> root_channel;   // per tensor: first channel inside the root
  std::vector<bool> blocked;           // per tensor: nChw16c (else plain NCHW)
  std::vector<bool> channels_last;     // per tensor: nhwc (int8 and bf16 executors; never also blocked)
  std::vector<float> int8_scale;       // per tensor: 0, or stored as 8-bit integers round(x * scale)
  std::vector<bool> int8_unsigned;     // per tensor with an int8_scale: uint8 (else int8)
  std::vector<bool> bf16;              // per tensor: stored as bfloat16 (bf16 executors)
  std::vector<bool> int8_concatenation;  // per layer: a concatenation copied channels-last in 8 bits
  std::vector<int> accumulates_for;    // per layer: the shortcut it performs in place (-1 none)
  std::vector<bool> folded;            // per layer: a shortcut done by its producer (no kernel)
  std::vector<bool> overwritten;       // per tensor: its buffer is reused in place (residual fusion),
                                       // so its value is gone after the step that reads it last
  std::vector<int> slot;               // per root tensor: its buffer slot (-1 if not a root)
  std::vector<int64_t> slot_floats;    // per slot: size in floats (8-bit tensors take a quarter, bf16 half)
  std::vector<int64_t> slot_offset;    // per slot: offset in the arena, in floats
  int64_t peak_bytes = 0;              // arena size: the planned peak activation memory
  int64_t naive_bytes = 0;             // every layer output (and the input) in its own buffer
  int zero_copy_inputs = 0;            // route inputs written straight into their slice
  int copied_inputs = 0;               // route inputs that need a copy kernel
};

MemoryPlan plan_memory(const Network& net, const ExecOptions& options);

class Executor {
 public:
  // Plans, allocates and compiles for the network's current size and batch.
  // The network must outlive the executor and not be reshaped while it lives.
  explicit Executor(Network& net, ExecOptions options = {});
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Runs the network; returns the outputs of net.output_layers().
  std::vector<Tensor> forward(const Tensor& input);
  // The same from caller-owned NCHW floats of `shape` (a NumPy array, a
  // mapped file): read once into the planned input buffer, never copied first.
  std::vector<Tensor> forward(const float* input, const Shape& shape);
  // A layer's output from the last forward. Only guaranteed for every layer
  // when options.reuse_memory is false (otherwise its buffer may be reused);
  // throws for tensors that residual fusion overwrote in place
  // (plan().overwritten; set options.fuse_residual=false to keep them).
  Tensor layer_output(int layer) const;

  const MemoryPlan& plan() const;
  // The shared scratch buffers, each sized to the largest single need: the
  // one oneDNN scratchpad all primitives share, and the one the kernels'
  // own staged copies share (int8 inputs shifted to uint8).
  size_t scratchpad_bytes() const;
  // Per-layer wall time (ms) of the last forward; empty unless
  // options.profile_layers. Views and zero-copy routes take 0.
  const std::vector<double>& layer_times_ms() const;
  // Per layer: the implementation that runs it (oneDNN's kernel name, e.g.
  // "jit_wino_4x3:avx512_core"); empty for views and our own loops.
  std::vector<std::string> layer_implementations() const;
  // Re-reads every layer's arrays into the compiled kernels (after the
  // network's weights changed, e.g. copied from a training network), without
  // planning or compiling again.
  void reload_weights();
  // Number of route layers that run a copy kernel (0 when every concat is zero-copy).
  int copy_kernels() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace cspnet
