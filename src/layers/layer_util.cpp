#include "layer_util.hpp"

#include <cmath>

#include "cspnet/cfg.hpp"

namespace cspnet {

void init_batch_norm(std::vector<float>& scales, std::vector<float>& mean, std::vector<float>& variance,
                     std::mt19937_64& rng) {
  std::uniform_real_distribution<float> around_one(0.75f, 1.25f), small(-0.1f, 0.1f);
  for (auto& v : scales) v = around_one(rng);
  for (auto& v : mean) v = small(rng);
  for (auto& v : variance) v = around_one(rng);
}

void fill_uniform(std::vector<float>& values, float scale, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  for (auto& v : values) v = dist(rng);
}

std::vector<int> previous_and_from(LayerSite& site, const std::string& section) {
  Options& o = site.options;
  if (site.index == 0) throw Error(o.where() + ": [" + section + "] cannot be the first layer");
  if (!o.has("from")) throw Error(o.where() + ": missing required key 'from' (a layer index)");
  return {site.index - 1, resolve_layer_ref(site, "from", o.get_int("from", 0))};
}

void size_weight_arrays(WeightArrays& arrays, int64_t weights, int64_t outputs, bool batch_normalize) {
  const auto count = static_cast<size_t>(weights), n = static_cast<size_t>(outputs);
  if (arrays.weights.size() != count) arrays.weights.assign(count, 0.f);
  arrays.biases.resize(n, 0.f);
  if (batch_normalize) {
    arrays.scales.resize(n, 1.f);
    arrays.rolling_mean.resize(n, 0.f);
    arrays.rolling_variance.resize(n, 1.f);
  }
}

}  // namespace cspnet
