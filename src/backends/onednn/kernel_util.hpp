#pragma once
// Small shared pieces for the oneDNN kernel files: kernels made from
// lambdas, oneDNN descriptor helpers and darknet's window arithmetic.
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <initializer_list>
#include <optional>
#include <unordered_map>
#include <vector>

#include "cspnet/activation.hpp"
#include "cspnet/error.hpp"
#include "backends/onednn/kernel.hpp"
#include "layers/layer_util.hpp"

namespace cspnet {

class FunctionKernel final : public Kernel {
 public:
  explicit FunctionKernel(std::function<void(dnnl::stream&)> body) : body_(std::move(body)) {}
  void run(dnnl::stream& stream) override { body_(stream); }

 private:
  std::function<void(dnnl::stream&)> body_;
};

inline std::unique_ptr<Kernel> make_kernel(std::function<void(dnnl::stream&)> body) {
  return std::make_unique<FunctionKernel>(std::move(body));
}

// A oneDNN primitive whose activation arguments are planner views. A view
// whose images are not evenly spaced (a channel slice of a larger buffer at
// batch > 1) has no dense oneDNN descriptor. Either the primitive is built
// for one image and run once per image, or (small images) it runs once over
// the batch on a dense buffer the view is gathered into (inputs) or scattered
// from (outputs), an image's slice being one contiguous run: use
// `per_image(views)` to decide and `arg_view(view, per_image)` for the
// descriptors the primitive is built from.
struct ViewArg {
  int arg;                  // DNNL_ARG_*
  TensorView view;
  dnnl::memory::desc desc;  // the view as stored (one image when run per image; the dense batch when gathered)
  // The layout the primitive was built for, when it differs from `desc`:
  // the view is reordered into (inputs) or out of (outputs) a staging buffer.
  dnnl::memory::desc staged{};
  bool accumulate = false;  // an output the primitive adds to: staged in and out
  // An input staged into an integer type: the reorder multiplies by this
  // (int8 quantization: 127/T or 255/T) and saturates.
  float stage_scale = 1.f;

  bool output() const { return arg == DNNL_ARG_DST; }  // written by the primitive
};

class ViewPrimitiveKernel final : public Kernel {
 public:
  ViewPrimitiveKernel(dnnl::primitive primitive, std::unordered_map<int, dnnl::memory> fixed_args,
                      std::vector<ViewArg> view_args, bool per_image, const dnnl::engine& engine);
  void run(dnnl::stream& stream) override;
  std::string implementation() const override;

 private:
  struct Staging {
    dnnl::memory view_memory, staged;
    std::optional<dnnl::reorder> load, store;  // view -> staged before, staged -> view after
  };
  // A strided view copied image by image into `dense` before the primitive
  // (inputs, accumulated outputs) and back out after it (outputs).
  struct Gathered {
    TensorView view;
    dnnl::memory dense;
    bool load, store;
  };
  static void copy_images(const TensorView& view, std::byte* dense, bool into_dense);
  dnnl::primitive primitive_;
  std::unordered_map<int, dnnl::memory> args_;
  std::vector<ViewArg> view_args_;
  std::vector<dnnl::memory> view_memories_;  // per view arg: bound to the arena, or its gathered copy
  std::vector<Staging> staging_;
  std::vector<Gathered> gathered_;
  bool per_image_;
  int64_t images_;
};

// Up to this many bytes per image, strided views are gathered: a call per
// image costs more than the copies (a 32-channel 7x7 1x1 convolution at batch
// 64: 0.20 ms in 64 calls, 0.03 ms in one). Above it a call's overhead is
// small against its work, and copies would add to the memory traffic.
constexpr int64_t kGatheredImageBytes = 64 * 1024;

inline bool per_image(std::initializer_list<TensorView> views) {
  for (const auto& view : views)
    if (!view.dense() && view.shape.per_image() * view.element_bytes() > kGatheredImageBytes) return true;
  return false;
}
// The view a primitive is built for: one image, or the whole batch as if
// dense (a strided view is then gathered by ViewPrimitiveKernel).
inline TensorView arg_view(const TensorView& view, bool per_image) {
  if (per_image) return view.first_image();
  TensorView batch = view;
  batch.image_stride = view.shape.per_image();
  return batch;
}
inline ViewArg view_arg(int arg, const TensorView& view, bool per_image) {
  return ViewArg{arg, view, arg_view(view, per_image).desc()};
}
// oneDNN's reference implementations are orders of magnitude slower than its
// JIT kernels; a layer that lands on one retries with layouts of oneDNN's
// choosing and stages the views (see ViewArg::staged).
inline bool is_reference_impl(const char* impl) { return std::string(impl).find("ref") != std::string::npos; }
inline bool is_brgconv_impl(const char* impl) { return std::string(impl).rfind("brgconv", 0) == 0; }

// Runs several kernels in order as one.
class SequenceKernel final : public Kernel {
 public:
  void add(std::unique_ptr<Kernel> kernel) {
    if (kernel) kernels_.push_back(std::move(kernel));
  }
  void run(dnnl::stream& stream) override {
    for (auto& kernel : kernels_) kernel->run(stream);
  }
  void reload_weights() override {
    for (auto& kernel : kernels_) kernel->reload_weights();
  }
  std::string implementation() const override {
    std::string names;
    for (const auto& kernel : kernels_) {
      std::string name = kernel->implementation();
      if (name.empty()) continue;
      names += names.empty() ? name : "+" + name;
    }
    return names;
  }

 private:
  std::vector<std::unique_ptr<Kernel>> kernels_;
};

// Right/bottom padding oneDNN needs so that its output size equals darknet's:
// out = (in + pad_before + pad_after - extent) / stride + 1. Negative when
// darknet's arithmetic leaves trailing input cells unread; oneDNN accepts that.
inline int64_t padding_after(int64_t in, int64_t out, int64_t extent, int64_t stride, int64_t pad_before) {
  return (out - 1) * stride + extent - in - pad_before;
}

// Attributes for a primitive of this context: the shared user-mode
// scratchpad when the executor provides one. Pass the result's primitive's
// scratchpad_desc() to scratchpad_args() for its arguments.
dnnl::primitive_attr primitive_attributes(const CompileContext& ctx, dnnl::post_ops ops = {});
std::unordered_map<int, dnnl::memory> scratchpad_args(const CompileContext& ctx, const dnnl::memory::desc& md,
                                                      std::unordered_map<int, dnnl::memory> args = {});

// A weighted layer's arrays as its primitives read them: the weights in the
// primitive's layout (batch norm folded in when `fold`), the bias, and for
// unfolded batch norm its four vectors. load() copies them from the layer's
// arrays: at compile time and again on Kernel::reload_weights().
// int8 weights: the factors the weights (per output channel) and the input
// were multiplied by. oneDNN 2.x adds the bias to the int32 accumulator
// before the output scale, so the bias is stored multiplied by both.
struct Int8Scales {
  std::vector<float> weights;
  float input = 1.f;
  // The input arrives shifted by this (a signed input read as uint8, q + 128):
  // the bias takes input_shift * sum of the quantized weights off each output.
  int input_shift = 0;
};

class WeightMemories {
 public:
  // With `int8`, the weights are quantized with its scales on every load()
  // (scales fixed at compile time: weights reloaded later saturate beyond
  // the range they were computed from).
  WeightMemories(const dnnl::engine& engine, const WeightArrays& arrays, bool batch_norm, bool fold,
                 const dnnl::memory::desc& user_weights, const dnnl::memory::desc& primitive_weights,
                 std::optional<Int8Scales> int8 = std::nullopt);
  void load();

  dnnl::memory weights, bias;                 // bias: the folded shift, or the layer's biases
  dnnl::memory mean, variance, scale, shift;  // unfolded batch norm only

 private:
  dnnl::engine engine_;
  const WeightArrays& arrays_;
  bool batch_norm_, fold_;
  dnnl::memory::desc user_weights_;
  std::optional<Int8Scales> int8_;
};

// A weighted layer's weights and bias as inference uses them: batch norm
// folded in when `fold`, else the layer's own.
struct InferenceArrays {
  std::vector<float> weights, bias;
  InferenceArrays(const WeightArrays& arrays, bool batch_norm, bool fold);
};

// `kernel` whose reload_weights() runs `reload` (e.g. WeightMemories::load).
std::unique_ptr<Kernel> with_reload(std::unique_ptr<Kernel> kernel, std::function<void()> reload);

// Appends the activation as oneDNN eltwise post-op(s); false if oneDNN has none.
bool append_activation_post_op(Activation act, dnnl::post_ops& ops);

// One oneDNN eltwise algorithm with its parameters.
struct Eltwise {
  dnnl::algorithm algorithm;
  float alpha = 0.f, beta = 0.f;
};
// The activation as the single eltwise post-op append_activation_post_op
// gives it; none for linear, for activations oneDNN lacks and for those
// needing two post-ops (selu).
std::optional<Eltwise> single_eltwise(Activation act);
// oneDNN's eltwise primitive from `src` into `dst` (the same view: in place).
std::unique_ptr<Kernel> eltwise_kernel(const Eltwise& op, const TensorView& src, const TensorView& dst,
                                       const CompileContext& ctx);
bool has_activation_post_op(Activation act);

// Batch norm inside convolutional/connected layers (darknet's epsilon).
constexpr float kBatchNormEpsilon = 0.00001f;
// Folds inference batch norm into `weights` (one row per output, bias.size()
// rows) and `bias` (which holds BN's shift on entry).
void fold_batch_norm(std::vector<float>& weights, std::vector<float>& bias, const std::vector<float>& scales,
                     const std::vector<float>& mean, const std::vector<float>& variance);

// Applies `act` in place to every image of a view (either layout: the
// activation is elementwise).
void activate_view(Activation act, const TensorView& view);
// The same as a kernel (oneDNN's eltwise primitive in place where the
// activation is one of its algorithms, single_eltwise; else that loop);
// nullptr for the linear activation.
std::unique_ptr<Kernel> activation_kernel(Activation act, const TensorView& view, const CompileContext& ctx);

}  // namespace cspnet
