#pragma once
// Small shared pieces for layer files: kernels made from lambdas, oneDNN
// descriptor helpers and darknet's window arithmetic.
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

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

// A oneDNN primitive with its bound arguments, run as one kernel.
class PrimitiveKernel final : public Kernel {
 public:
  PrimitiveKernel(dnnl::primitive primitive, std::unordered_map<int, dnnl::memory> args)
      : primitive_(std::move(primitive)), args_(std::move(args)) {}
  void run(dnnl::stream& stream) override { primitive_.execute(stream, args_); }

 private:
  dnnl::primitive primitive_;
  std::unordered_map<int, dnnl::memory> args_;
};

// Runs several kernels in order as one.
class SequenceKernel final : public Kernel {
 public:
  void add(std::unique_ptr<Kernel> kernel) { kernels_.push_back(std::move(kernel)); }
  void run(dnnl::stream& stream) override {
    for (auto& kernel : kernels_) kernel->run(stream);
  }

 private:
  std::vector<std::unique_ptr<Kernel>> kernels_;
};

inline dnnl::memory memory_of(const TensorView& view, const dnnl::engine& engine) {
  return dnnl::memory(view.desc(), engine, view.data);
}

// A view restricted to its first h rows and w columns (same strides): used
// when darknet's output arithmetic leaves trailing input cells unread, which
// oneDNN would express as negative right padding.
dnnl::memory::desc cropped_desc(const TensorView& view, int64_t h, int64_t w);

// Right/bottom padding oneDNN needs so that its output size equals darknet's:
// out = (in + pad_before + pad_after - extent) / stride + 1.
inline int64_t padding_after(int64_t in, int64_t out, int64_t extent, int64_t stride, int64_t pad_before) {
  return (out - 1) * stride + extent - in - pad_before;
}

[[noreturn]] inline void shape_error(const Layer& layer, const std::string& what) {
  throw Error(layer.where() + ": " + what);
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

// Applies the darknet initialiser: uniform(-scale, scale).
void fill_uniform(std::vector<float>& values, float scale, std::mt19937_64& rng);

}  // namespace cspnet
