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
  auto stride_of = [&](int layer) {
    const Shape out = net.layer(layer).output_shape();
    if (out.w <= 0 || out.h <= 0 || in.w % out.w != 0 || in.h % out.h != 0 || in.w / out.w != in.h / out.h) return 0;
    const int stride = int(in.w / out.w);
    return stride >= 2 && (stride & (stride - 1)) == 0 ? stride : 0;
  };
  // Levels up to the last layer's stride: squeeze-excitation's pooled 1x1
  // maps inside the stages are not levels.
  const int top = stride_of(net.size() - 1);
  if (top == 0)
    throw Error(classifier_model.name() + ": the backbone's output is not a power-of-two stride of the input " +
                in.str());
  std::vector<int> taps;
  for (int i = 0; i < net.size(); ++i) {
    const int stride = stride_of(i);
    if (stride == 0 || stride > top) continue;
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
