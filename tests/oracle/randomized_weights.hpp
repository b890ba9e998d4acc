#pragma once
// Shared by the ONNX export and import tests: weights that make a misplaced,
// dropped or unfolded batch norm show in the outputs.
#include <cstdint>
#include <random>

#include "cspnet/network.hpp"
#include "cspnet/weights.hpp"

namespace cspnet {

// Seeded weights with batch-norm statistics away from darknet's 0/1 start.
inline void randomize(Network& net, uint64_t seed) {
  init_weights(net, seed);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> around_one(0.5f, 1.5f), centred(-0.3f, 0.3f);
  for (int i = 0; i < net.size(); ++i) {
    WeightArrays* w = net.layer(i).weight_arrays();
    if (!w) continue;
    for (float& v : w->scales) v = around_one(rng);
    for (float& v : w->rolling_variance) v = around_one(rng);
    for (float& v : w->rolling_mean) v = centred(rng);
    for (float& v : w->biases) v = centred(rng);
  }
}

}  // namespace cspnet
