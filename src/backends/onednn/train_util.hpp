#pragma once
// Shared pieces for the training kernels of layer files.
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "cspnet/activation.hpp"
#include "backends/onednn/kernel.hpp"

namespace cspnet {

class FunctionTrainKernel final : public TrainKernel {
 public:
  using Forward = std::function<void(dnnl::stream&, const StepContext&)>;
  using Backward = std::function<void(dnnl::stream&)>;
  FunctionTrainKernel(Forward forward, Backward backward)
      : forward_(std::move(forward)), backward_(std::move(backward)) {}
  void forward(dnnl::stream& stream, const StepContext& step) override { forward_(stream, step); }
  void backward(dnnl::stream& stream) override { backward_(stream); }

 private:
  Forward forward_;
  Backward backward_;
};

inline std::unique_ptr<TrainKernel> make_train_kernel(FunctionTrainKernel::Forward forward,
                                                      FunctionTrainKernel::Backward backward) {
  return std::make_unique<FunctionTrainKernel>(std::move(forward), std::move(backward));
}

// dst = src (accumulate false) or dst += src, `count` floats, in parallel.
void store_gradient(float* dst, const float* src, int64_t count, bool accumulate);
// Gradient of input slot `slot` of `ctx`: stores `src` there unless no
// gradient is wanted for that slot.
void store_input_gradient(const TrainCompileContext& ctx, size_t slot, const float* src);

// dL/d(pre) for a layer whose output is z = act(pre) and which does not keep
// `pre` ([sam], [scale_channels]): the backward recomputes it. Kernels share
// one through a shared_ptr (their lambdas are copied).
class RecomputedActivationGrad {
 public:
  RecomputedActivationGrad(Activation act, int64_t count)
      : act_(act), count_(count), scratch_(act == Activation::linear ? 0 : static_cast<size_t>(count)) {}
  // `dz` itself for a linear activation; else dz*act'(pre) in a scratch
  // buffer, with `recompute_pre(dst)` writing pre (count floats) into dst.
  template <class RecomputePre>
  const float* operator()(const float* dz, RecomputePre&& recompute_pre) {
    if (act_ == Activation::linear) return dz;
    float* pre = scratch_.data();
    recompute_pre(pre);
    activation_backward(act_, pre, dz, pre, count_);  // elementwise: in place is safe
    return pre;
  }

 private:
  Activation act_;
  int64_t count_;
  std::vector<float> scratch_;
};

// A uniform number in [0, 1) that depends only on (seed, index): stochastic
// layers stay deterministic under any thread count and across resumes.
float counter_uniform(uint64_t seed, uint64_t index);

}  // namespace cspnet
