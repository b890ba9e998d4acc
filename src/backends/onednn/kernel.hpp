#pragma once
// The oneDNN backend's contract: what a layer kind's kernels look like and
// how the executors find them. Nothing here is public: the layers'
// description (include/cspnet/layer.hpp, layer_attrs.hpp) is all a backend
// reads. Each kind's kernels live in src/backends/onednn/<kind>.cpp and are
// looked up per kind by onednn_kernels() (registry.cpp), as Caffe's layer
// factory looks up a layer per engine: a second backend adds its own
// directory of kernel files and registry, and edits no layer file.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "cspnet/activation.hpp"
#include "cspnet/executor.hpp"
#include "cspnet/layer.hpp"
#include "cspnet/quantization.hpp"
#include "cspnet/training.hpp"

namespace cspnet {

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
  // Channels last ([H][W][C] per image, dense: never a channel slice); int8
  // executors only (MemoryPlan::channels_last).
  bool channels_last = false;
  // Stored narrower than floats (MemoryPlan::int8_scale, MemoryPlan::bf16):
  // 8-bit integers round(x * int8_scale) (channels-last tensors between int8
  // convolutions), or bfloat16 (between bf16 convolutions). `data` then
  // points at such elements and image_stride still counts elements.
  float int8_scale = 0.f;
  bool int8_unsigned = false;
  bool bf16 = false;

  bool is_int8() const { return int8_scale != 0.f; }
  bool is_float() const { return !is_int8() && !bf16; }
  int64_t element_bytes() const { return is_int8() ? 1 : bf16 ? 2 : 4; }
  dnnl::memory::data_type data_type() const {
    using type = dnnl::memory::data_type;
    if (bf16) return type::bf16;
    return !is_int8() ? type::f32 : int8_unsigned ? type::u8 : type::s8;
  }
  float* image(int64_t n) const { return elements_in(n * image_stride); }
  // Where channel c of image 0 starts (c a multiple of 16 when blocked).
  float* channel_start(int64_t c) const { return elements_in(c * plane()); }
  float* elements_in(int64_t count) const {
    if (is_float()) return data + count;
    return reinterpret_cast<float*>(reinterpret_cast<std::byte*>(data) + count * element_bytes());
  }
  int64_t plane() const { return shape.h * shape.w; }
  bool dense() const { return shape.n == 1 || image_stride == shape.per_image(); }
  TensorView first_image() const {
    TensorView one = *this;
    one.shape.n = 1;
    return one;
  }
  // oneDNN descriptor; a non-dense blocked view has none (use first_image()
  // per image, see kernel_util.hpp).
  dnnl::memory::desc desc() const;
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
  float accumulate_scale = 0.f;  // the residual's int8_scale when it is stored in 8 bits (0: floats)
  SharedScratchpad* scratchpad = nullptr;  // null: each primitive keeps its own
  // A second shared buffer for copies a kernel stages for its primitive
  // (int8 inputs shifted to uint8); null: each kernel keeps its own.
  SharedScratchpad* staging = nullptr;
  // precision int8: this convolution's input quantization (null: fp32).
  const QuantizedInput* int8_input = nullptr;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void run(dnnl::stream& stream) = 0;
  // Which implementation runs (oneDNN's name for its kernel, e.g.
  // "jit_wino_4x3:avx512_core"); empty for our own loops.
  virtual std::string implementation() const { return {}; }
  // Re-reads the layer's arrays (weights changed since compile, e.g. by
  // training): nothing to do for kernels without weights.
  virtual void reload_weights() {}
};

// How a layer constrains the layout of its activations (see the planner).
enum class LayoutRule {
  any,    // a oneDNN layer: each input and the output may be plain or blocked
  same,   // inputs and output share one layout, which may be blocked
  plain,  // plain NCHW only
};

// ---- Training -------------------------------------------------------------
// Training runs on dense float32 tensors (batch included), owned by the
// TrainingExecutor at addresses fixed for the kernel's lifetime. Each layer
// output has its own buffer. Gradients share planned memory: a gradient's
// buffer is its own only while the gradient is in use, from its first
// writer in backward (the loss, or the highest-index layer that reads the
// tensor) to its producer's backward; before and after, other gradients use
// it. So a kernel reads its output gradient only in backward(), and an input
// gradient holds nothing of use until its first writer has written it
// (accumulate_input_grad false).
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
  bool sync_batch_norm = false;  // batch statistics over all MPI ranks (TrainingOptions)
  // The layer is a loss layer: compile_training returns a LossKernel.
  bool loss = false;
  Shape network_input{};  // the network's input (a [yolo] loss scales anchors by its size)
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

// A loss layer's training kernel (losses are layers, as in Caffe): after
// forward(), loss() compares its result with the batch's targets and keeps
// the gradient at the layer's input, which backward() stores into the input
// gradient like any layer's.
class LossKernel : public TrainKernel {
 public:
  virtual LossResult loss(const Targets& targets, float grad_scale) = 0;
};

// The oneDNN backend's half of one layer kind: its kernels and the planner
// rules (layouts, fusion) that depend on them.
class LayerKernels {
 public:
  virtual ~LayerKernels() = default;
  // Inference kernel for the layer's current shapes; null when nothing runs.
  virtual std::unique_ptr<Kernel> compile(const Layer& layer, const CompileContext& ctx) const = 0;
  // Training kernel; sizes (and zeroes) the layer's gradient arrays. The
  // default throws "cannot be trained".
  virtual std::unique_ptr<TrainKernel> compile_training(Layer& layer, const TrainCompileContext& ctx) const;
  virtual LayoutRule layout_rule(const Layer&) const { return LayoutRule::plain; }
  // The same for training kernels (TrainTensor::blocked): `any` for layers
  // on oneDNN primitives, `same` for loops that are layout-agnostic when
  // their operands share a layout (channel ranges at multiples of 16).
  virtual LayoutRule training_layout_rule(const Layer&) const { return LayoutRule::plain; }
  // Residual fusion (see the planner): a producer that can add its result
  // to what its output buffer holds, and a layer that is exactly
  // then(input 0 + input 1) so it can be folded into input 0's producer.
  virtual bool can_accumulate_into_output(const Layer&, const ExecOptions&, Activation /*then*/) const {
    return false;
  }
  virtual bool is_fusable_residual_sum(const Layer&, Activation* /*then*/) const { return false; }
  // Whether the inference kernel runs on channels-last (nhwc) operands that
  // are whole dense tensors (see the planner's int8 channels-last pass):
  // oneDNN layers, and loops that are elementwise over equal shapes.
  virtual bool takes_channels_last(const Layer&) const { return false; }
  // Whether the int8 or bf16 inference kernel can write its output as 8-bit
  // integers or bfloat16 (TensorView::int8_scale, TensorView::bf16): the
  // planner's narrow activations (convolutions whose post-ops all fuse).
  virtual bool can_write_narrow(const Layer&, const ExecOptions&) const { return false; }
  // Whether the bf16 inference kernel runs on bfloat16 operands, every input
  // and the output together (loops and pooling between bf16 convolutions:
  // the planner's bf16 activations). Arithmetic stays fp32 inside.
  virtual bool runs_on_bf16(const Layer&) const { return false; }
  // Whether the int8 inference kernel moves 8-bit values, its output
  // quantized as its input (max pooling, upsampling copies: they commute
  // with quantizing), so an 8-bit tensor passes through it between int8
  // layers (the planner's int8 activations).
  virtual bool moves_int8(const Layer&) const { return false; }
};

// The oneDNN kernels of a layer's kind.
const LayerKernels& onednn_kernels(LayerKind kind);
inline const LayerKernels& onednn_kernels(const Layer& layer) { return onednn_kernels(layer.kind()); }

// Shorthands for the lookup + call.
inline std::unique_ptr<Kernel> compile_kernel(const Layer& layer, const CompileContext& ctx) {
  return onednn_kernels(layer).compile(layer, ctx);
}
inline std::unique_ptr<TrainKernel> compile_training_kernel(Layer& layer, const TrainCompileContext& ctx) {
  return onednn_kernels(layer).compile_training(layer, ctx);
}

}  // namespace cspnet
