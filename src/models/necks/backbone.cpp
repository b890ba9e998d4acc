// A zoo backbone as a detector's base: the classifier dropped, and the last
// layer at each stride found from the built graph's shapes (so any backbone
// of the zoo works without per-family tables).
#include "cspnet/error.hpp"
#include "cspnet/necks.hpp"
#include "cspnet/zoo.hpp"

namespace cspnet {

// Every zoo backbone ends with append_classifier's three layers.
constexpr int kClassifierLayers = 3;

bool Backbone::has(int stride) const {
  int k = -1;
  for (int s = stride; s > 1; s /= 2) ++k;
  return stride >= 2 && (stride & (stride - 1)) == 0 && k < static_cast<int>(taps.size()) && taps[size_t(k)] >= 0;
}

int Backbone::tap(int stride) const {
  if (!has(stride))
    throw Error(builder.name() + ": the backbone has no level at stride " + std::to_string(stride));
  int k = -1;
  for (int s = stride; s > 1; s /= 2) ++k;
  return taps[size_t(k)];
}

Backbone detection_backbone(ModelBuilder classifier_model) {
  classifier_model.truncate(classifier_model.layers() - kClassifierLayers);
  const Network net = classifier_model.build();
  const Shape in = net.input_shape();
  std::vector<int> taps;
  for (int i = 0; i < net.size(); ++i) {
    const Shape out = net.layer(i).output_shape();
    if (out.w <= 0 || out.h <= 0 || in.w % out.w != 0 || in.h % out.h != 0 || in.w / out.w != in.h / out.h) continue;
    const int stride = in.w / out.w;
    if (stride < 2 || (stride & (stride - 1)) != 0) continue;
    int k = -1;
    for (int s = stride; s > 1; s /= 2) ++k;
    if (static_cast<int>(taps.size()) <= k) taps.resize(size_t(k) + 1, -1);
    taps[size_t(k)] = i;  // the last layer at this stride: the level's output
  }
  return Backbone{std::move(classifier_model), std::move(taps)};
}

Backbone detection_backbone(const std::string& zoo_name, const NetInput& input) {
  const ZooModel& model = zoo_model(zoo_name);
  return detection_backbone(model.build(input));
}

}  // namespace cspnet
