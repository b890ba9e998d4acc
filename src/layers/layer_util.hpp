#pragma once
// Small shared pieces for layer files: kernels made from lambdas, oneDNN
// descriptor helpers and darknet's window arithmetic.
#include <algorithm>
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
#include "cspnet/layer.hpp"

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

// A oneDNN primitive whose activation arguments are planner views. When the
// batch's images are not evenly spaced (a channel slice of a larger buffer at
// batch > 1) the primitive is built for one image and run once per image:
// use `per_image(views)` to decide and `arg_view(view, per_image)` for the
// descriptors the primitive is built from.
struct ViewArg {
  int arg;                  // DNNL_ARG_*
  TensorView view;
  dnnl::memory::desc desc;  // the view as stored (one image when run per image)
  // The layout the primitive was built for, when it differs from `desc`:
  // the view is reordered into (inputs) or out of (outputs) a staging buffer.
  dnnl::memory::desc staged{};
  bool output = false;
  bool accumulate = false;  // an output the primitive adds to: staged in and out
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
  dnnl::primitive primitive_;
  std::unordered_map<int, dnnl::memory> args_;
  std::vector<ViewArg> view_args_;
  std::vector<dnnl::memory> view_memories_;  // per view arg: bound to the arena
  std::vector<Staging> staging_;
  bool per_image_;
  int64_t images_;
};

inline bool per_image(std::initializer_list<TensorView> views) {
  for (const auto& view : views)
    if (!view.dense()) return true;
  return false;
}
inline TensorView arg_view(const TensorView& view, bool per_image) { return per_image ? view.first_image() : view; }
inline ViewArg view_arg(int arg, const TensorView& view, bool per_image, bool output = false) {
  return ViewArg{arg, view, arg_view(view, per_image).desc(), {}, output};
}
// oneDNN's reference implementations are orders of magnitude slower than its
// JIT kernels; a layer that lands on one retries with layouts of oneDNN's
// choosing and stages the views (see ViewArg::staged).
inline bool is_reference_impl(const char* impl) { return std::string(impl).find("ref") != std::string::npos; }

// Runs several kernels in order as one.
class SequenceKernel final : public Kernel {
 public:
  void add(std::unique_ptr<Kernel> kernel) {
    if (kernel) kernels_.push_back(std::move(kernel));
  }
  void run(dnnl::stream& stream) override {
    for (auto& kernel : kernels_) kernel->run(stream);
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

[[noreturn]] inline void shape_error(const Layer& layer, const std::string& what) {
  throw Error(layer.where() + ": " + what);
}

// A window (kernel extent) sliding over an input whose larger side is `side`:
// from 2*side-1 on, every window position already covers the whole input, so
// a wider one only adds padded cells and time (extent^2 per output). Allowed
// up to 2*side+1, or up to kMinWindowBound for SPP-style pools on small
// inputs (13x13 over 2x2); darknet itself would run any size for hours.
constexpr int64_t kMinWindowBound = 64;
inline void check_window(const Layer& layer, const std::string& what, int64_t extent, const Shape& input) {
  const int64_t side = std::max(input.h, input.w), bound = std::max(2 * side + 1, kMinWindowBound);
  if (extent > bound)
    shape_error(layer, what + " " + std::to_string(extent) + " is far larger than the " + std::to_string(input.h) +
                           "x" + std::to_string(input.w) + " input (at most " + std::to_string(bound) +
                           " makes sense: a wider window only covers more padding)");
}

// Largest parameter array one layer may hold: 2^28 floats (1 GiB), several
// times the largest darknet layer (VGG's fc6, ~2^27). Checked before the
// arrays are allocated; `count` is a double so the product cannot overflow.
constexpr int64_t kMaxLayerParameters = int64_t{1} << 28;
inline std::string format_count(double count) {
  char text[64];
  std::snprintf(text, sizeof text, "%.0f", count);
  return text;
}
inline void check_parameter_count(const Layer& layer, double count, const std::string& formula) {
  if (count > double(kMaxLayerParameters))
    shape_error(layer, formula + " = " + format_count(count) + " parameters exceed the supported " +
                           std::to_string(kMaxLayerParameters) + " per layer");
}

// Attributes for a primitive of this context: the shared user-mode
// scratchpad when the executor provides one. Pass the result's primitive's
// scratchpad_desc() to scratchpad_args() for its arguments.
dnnl::primitive_attr primitive_attributes(const CompileContext& ctx, dnnl::post_ops ops = {});
std::unordered_map<int, dnnl::memory> scratchpad_args(const CompileContext& ctx, const dnnl::memory::desc& md,
                                                      std::unordered_map<int, dnnl::memory> args = {});

// Batch norm inside convolutional/connected layers (darknet's epsilon).
constexpr float kBatchNormEpsilon = 0.00001f;
// Random statistics for initialisation: scales and variances near 1, means near 0.
void init_batch_norm(std::vector<float>& scales, std::vector<float>& mean, std::vector<float>& variance,
                     std::mt19937_64& rng);
// Folds inference batch norm into `weights` (one row per output, bias.size()
// rows) and `bias` (which holds BN's shift on entry).
void fold_batch_norm(std::vector<float>& weights, std::vector<float>& bias, const std::vector<float>& scales,
                     const std::vector<float>& mean, const std::vector<float>& variance);

// Applies `act` in place to every image of a view (either layout: the
// activation is elementwise).
void activate_view(Activation act, const TensorView& view);
// The same as a kernel; nullptr for the linear activation.
std::unique_ptr<Kernel> activation_kernel(Activation act, const TensorView& view);

// Applies the darknet initialiser: uniform(-scale, scale).
void fill_uniform(std::vector<float>& values, float scale, std::mt19937_64& rng);

}  // namespace cspnet
