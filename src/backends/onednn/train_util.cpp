#include "backends/onednn/train_util.hpp"

#include <algorithm>

#include "core/splitmix.hpp"

namespace cspnet {

void store_gradient(float* dst, const float* src, int64_t count, bool accumulate) {
  if (accumulate) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < count; ++i) dst[i] += src[i];
  } else {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < count; ++i) dst[i] = src[i];
  }
}

void store_input_gradient(const TrainCompileContext& ctx, size_t slot, const float* src) {
  const TrainTensor& grad = ctx.input_grads.at(slot);
  if (grad.data) store_gradient(grad.data, src, grad.count(), ctx.accumulate_input_grad.at(slot));
}

float counter_uniform(uint64_t seed, uint64_t index) {
  // splitmix64 of the pair: a counter-based generator.
  const uint64_t z = splitmix64_finalise(seed + kSplitmixIncrement * (index + 1));
  return float(z >> 40) * (1.0f / float(1 << 24));
}

}  // namespace cspnet
