#include "train_util.hpp"

#include <algorithm>

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
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return float(z >> 40) * (1.0f / float(1 << 24));
}

}  // namespace cspnet
