#pragma once
// Small shared pieces for the layer description files: errors naming the
// layer, parameter-count and window bounds, and initialisers.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "cspnet/error.hpp"
#include "cspnet/layer.hpp"

namespace cspnet {

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

// The inputs of a layer that reads the previous layer and `from=` ([sam],
// [scale_channels]): checks that it is not the first layer and that `from`
// names an earlier one.
std::vector<int> previous_and_from(LayerSite& site, const std::string& section);

// Random statistics for initialisation: scales and variances near 1, means near 0.
void init_batch_norm(std::vector<float>& scales, std::vector<float>& mean, std::vector<float>& variance,
                     std::mt19937_64& rng);
// Applies the darknet initialiser: uniform(-scale, scale).
void fill_uniform(std::vector<float>& values, float scale, std::mt19937_64& rng);
// Sizes a weighted layer's arrays: `weights` floats, `outputs` biases and,
// with batch norm, scales (1), rolling means (0) and variances (1). Arrays of
// the right size keep their values (a reshape keeps loaded weights).
void size_weight_arrays(WeightArrays& arrays, int64_t weights, int64_t outputs, bool batch_normalize);

}  // namespace cspnet
