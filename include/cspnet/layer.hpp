#pragma once
// The layer contract. Each layer kind lives in one file under src/layers/ and
// provides: option parsing/validation (its factory), shape inference,
// parameter and FLOP counts, its parameters in darknet .weights order, and a
// forward kernel compiled once per (network, batch, size).
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "cspnet/activation.hpp"
#include "cspnet/tensor.hpp"

namespace cspnet {

class Options;

// Channel block of the blocked activation layout (oneDNN's nChw16c).
constexpr int64_t kChannelBlock = 16;

// A planned tensor inside the executor's arena. Layout per image: plain
// NCHW, or blocked [C/16][H][W][16] (nChw16c; C is then a multiple of 16).
// Images may be further apart than C*H*W when the tensor is a channel slice
// of a larger buffer (zero-copy concat, route groups); in both layouts a
// slice starting at channel c0 (a multiple of 16 when blocked) begins
// c0*H*W floats into its image.
struct TensorView {
  float* data = nullptr;
  Shape shape{};
  int64_t image_stride = 0;  // floats from one image to the next
  bool blocked = false;

  float* image(int64_t n) const { return data + n * image_stride; }
  int64_t plane() const { return shape.h * shape.w; }
  bool dense() const { return shape.n == 1 || image_stride == shape.per_image(); }
  TensorView first_image() const {
    TensorView one = *this;
    one.shape.n = 1;
    return one;
  }
  // oneDNN descriptor; a non-dense blocked view has none (use first_image()
  // per image, see layer_util.hpp).
  dnnl::memory::desc desc() const;
};

enum class Precision {
  fp32,
  bf16,  // convolutions take bf16 inputs and weights (fp32 accumulation and outputs)
};

struct ExecOptions {
  bool fold_batchnorm = true;    // fold BN into conv/connected weights at inference
  bool fuse_activation = true;   // activations as oneDNN post-ops where oneDNN has them
  bool zero_copy_concat = true;  // producers write into their slice of a route's buffer
  bool reuse_memory = true;      // liveness-based buffer reuse (off: every tensor kept)
  bool profile_layers = false;   // time every layer (waits on the stream after each)
  bool blocked_layout = true;    // keep activations in nChw16c between layers where legal
  Precision precision = Precision::fp32;
  bool fuse_residual = true;     // darknet shortcut as a oneDNN sum post-op of the conv before it
  bool winograd = true;          // fp32 3x3/1 convolutions by Winograd where oneDNN has it
};

// One scratchpad buffer shared by every oneDNN primitive of an executor
// (they run one at a time), sized to the largest need once all are compiled:
// primitives use scratchpad_mode::user and bind() it.
class SharedScratchpad {
 public:
  // Returns a memory object for `md` whose buffer is assigned by allocate().
  dnnl::memory bind(const dnnl::memory::desc& md, const dnnl::engine& engine);
  void allocate();
  size_t bytes() const { return bytes_; }

 private:
  std::vector<dnnl::memory> memories_;
  size_t bytes_ = 0;
  std::vector<char> buffer_;
};

struct CompileContext {
  const dnnl::engine& engine;
  const ExecOptions& options;
  std::vector<TensorView> inputs;
  TensorView output;
  // Residual fusion: the output already holds the residual; add to it, then
  // apply `accumulate_then` (the shortcut's activation).
  bool accumulate = false;
  Activation accumulate_then = Activation::linear;
  SharedScratchpad* scratchpad = nullptr;  // null: each primitive keeps its own
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void run(dnnl::stream& stream) = 0;
  // Which implementation runs (oneDNN's name for its kernel, e.g.
  // "jit_wino_4x3:avx512_core"); empty for our own loops.
  virtual std::string implementation() const { return {}; }
};

// One parameter array in the order darknet's .weights stores it.
struct ParamBlob {
  const char* name;
  std::vector<float>* values;
  int64_t rows = 0, cols = 0;  // for connected weights: darknet may store them transposed
};

// How a layer constrains the layout of its activations (see the planner).
enum class LayoutRule {
  any,    // a oneDNN layer: each input and the output may be plain or blocked
  same,   // inputs and output share one layout, which may be blocked
  plain,  // plain NCHW only
};

enum class OutputKind {
  compute,  // the layer writes its own output
  view,     // the output is channels [view_offset, +C) of input 0: no kernel runs
  concat,   // channel concatenation of the inputs (zero-copy where the planner can)
};

struct YoloParams;

// ---- Training -------------------------------------------------------------
// Training runs on dense plain NCHW float32 tensors (batch included), owned
// by the TrainingExecutor at addresses fixed for the kernel's lifetime. Each
// layer output has its own buffer. Gradients share planned memory: a
// gradient's buffer is its own only while the gradient is in use, from its
// first writer in backward (the loss, or the highest-index layer that
// reads the tensor) to its producer's backward; before and after, other
// gradients use it. So a kernel reads its output gradient only in
// backward(), and an input gradient holds nothing of use until its first
// writer has written it (accumulate_input_grad false).
struct TrainTensor {
  float* data = nullptr;  // null in input_grads: no gradient is wanted there (the network input)
  Shape shape{};
  // nChw16c (channels a multiple of 16) instead of plain NCHW; a gradient
  // has its tensor's layout. Only layers whose training_layout_rule() is not
  // `plain` see blocked tensors.
  bool blocked = false;
  int64_t count() const { return shape.count(); }
};

struct TrainCompileContext {
  const dnnl::engine& engine;
  std::vector<TrainTensor> inputs;  // forward inputs, in inputs() order
  TrainTensor output;               // forward output
  // dL/d(input slot): backward() writes slot i's gradient here, overwriting
  // what is there when accumulate_input_grad[i] is false and adding to it
  // when true (a tensor read by several layers, or twice by one layer, sums
  // its gradients). Slots are handled in order 0, 1, ... .
  std::vector<TrainTensor> input_grads;
  std::vector<bool> accumulate_input_grad;
  TrainTensor output_grad;  // dL/d(output); backward() must not modify it
  bool winograd = true;     // 3x3/1 convolutions by Winograd where oneDNN has it (TrainingOptions)
};

struct StepContext {
  bool training = true;  // false: inference semantics (running statistics, no dropout)
  uint64_t seed = 0;     // per forward pass, for stochastic layers (dropout); derived from run seed and step
};

class TrainKernel {
 public:
  virtual ~TrainKernel() = default;
  // Reads the inputs, writes the output and keeps what backward() needs. In
  // training mode batch norm also updates its running statistics.
  virtual void forward(dnnl::stream& stream, const StepContext& step) = 0;
  // Gradients for the last forward(): into the input gradients (see
  // TrainCompileContext) and added to the layer's parameter gradients.
  virtual void backward(dnnl::stream& stream) = 0;
};

// A trained array and its gradient (same length), in darknet_params() order.
struct TrainableParam {
  const char* name;
  std::vector<float>* values;
  std::vector<float>* grads;
  bool decay;  // weight decay applies (darknet: convolution and connected weights only)
};

class Layer {
 public:
  virtual ~Layer() = default;
  virtual std::string_view type() const = 0;

  // Indices of the layers this one reads; -1 is the network input.
  const std::vector<int>& inputs() const { return inputs_; }
  int index() const { return index_; }
  const Shape& output_shape() const { return output_; }

  // Validates against the input shapes and returns the output shape (batch
  // included). Throws cspnet::Error with the layer's cfg location.
  virtual Shape infer(std::span<const Shape> inputs) = 0;

  virtual OutputKind output_kind() const { return OutputKind::compute; }
  virtual LayoutRule layout_rule() const { return LayoutRule::plain; }
  // The same for training kernels (TrainTensor::blocked): `any` for layers
  // on oneDNN primitives, `same` for loops that are layout-agnostic when
  // their operands share a layout (channel ranges at multiples of 16).
  virtual LayoutRule training_layout_rule() const { return LayoutRule::plain; }
  virtual int64_t view_offset() const { return 0; }

  // Columns of the per-layer table.
  virtual int filters() const { return 0; }
  virtual std::string geometry() const { return ""; }  // e.g. "3 x 3/ 2"

  virtual int64_t parameter_count() const { return 0; }
  virtual int64_t conv_weight_count() const { return 0; }
  virtual double bflops() const { return 0; }       // darknet's per-image figure
  virtual double conv_bflops() const { return 0; }  // convolution part only

  virtual std::vector<ParamBlob> darknet_params() { return {}; }
  virtual void init_parameters(std::mt19937_64& /*rng*/) {}

  virtual std::unique_ptr<Kernel> compile(const CompileContext& ctx) = 0;

  // Training. compile_training() sizes the gradient arrays (zeroed) and
  // returns the layer's kernel; the default throws "cannot be trained".
  virtual std::unique_ptr<TrainKernel> compile_training(const TrainCompileContext& ctx);
  // Parameters the optimiser updates (running statistics are not among them).
  virtual std::vector<TrainableParam> trainable_params() { return {}; }
  // A softmax over each image's whole C*H*W vector at temperature 1: the
  // training loss then runs softmax and cross-entropy as one step from its
  // input (stable, exact gradient p - target).
  virtual bool is_plain_softmax() const { return false; }

  virtual const YoloParams* yolo() const { return nullptr; }

  // Residual fusion (see the planner): a producer that can add its result to
  // what its output buffer holds, and a layer that is exactly
  // act(input 0 + input 1) so it can be folded into input 0's producer.
  virtual bool can_accumulate_into_output(const ExecOptions&, Activation /*then*/) const { return false; }
  virtual bool is_fusable_residual_sum(Activation* /*then*/) const { return false; }

  // cfg location, for messages: "file:line: [section]".
  const std::string& where() const { return where_; }

  void set_inputs(std::vector<int> inputs) { inputs_ = std::move(inputs); }
  void set_site(int index, std::string where) {
    index_ = index;
    where_ = std::move(where);
  }
  void set_output_shape(const Shape& shape) { output_ = shape; }

 private:
  int index_ = 0;
  std::vector<int> inputs_;
  std::string where_;
  Shape output_{};
};

// Everything a layer factory needs: its options and where it sits.
struct LayerSite {
  Options& options;
  int index;  // this layer's index (0 = first after [net])
};

// Resolves a darknet layer reference (negative = relative to `index`) and
// checks that it names an earlier layer.
int resolve_layer_ref(const LayerSite& site, const std::string& key, int ref);

// Checks an inferred output shape: every dimension positive and the tensor
// small enough to address; throws naming the layer otherwise.
Shape checked_output(const Layer& layer, Shape shape);

// Creates a layer from its cfg section; throws on an unknown section name.
std::unique_ptr<Layer> make_layer(const std::string& section, LayerSite& site);
std::vector<std::string> layer_section_names();

}  // namespace cspnet
