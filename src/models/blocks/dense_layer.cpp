// DenseNet-BC dense layer (Huang et al., CVPR 2017), optionally in the
// ELASTIC two-resolution form.
#include "cspnet/blocks.hpp"

namespace cspnet {
namespace {

// 1x1 bottleneck then 3x3 to the growth rate, reading `from`.
int bottleneck_then_3x3(ModelBuilder& b, int from, int bottleneck_filters, int growth) {
  if (bottleneck_filters > 0) from = b.conv(ConvSpec{.filters = bottleneck_filters}, from);
  return b.conv(ConvSpec{.filters = growth, .size = 3}, from);
}

}  // namespace

int append_block(ModelBuilder& b, const DenseLayer& layer, int input) {
  int features = 0;
  if (layer.elastic_scale > 0) {
    // Half-width branches keep the layer's parameters close to the plain one.
    const int width = layer.bottleneck * layer.growth / 2;
    int low = input;
    if (layer.elastic_scale > 1) low = b.maxpool(layer.elastic_scale, layer.elastic_scale, input);
    low = bottleneck_then_3x3(b, low, width, layer.growth);
    if (layer.elastic_scale > 1) low = b.upsample(layer.elastic_scale);
    bottleneck_then_3x3(b, input, width, layer.growth);
    features = b.shortcut(low);
  } else {
    features = bottleneck_then_3x3(b, input, layer.bottleneck * layer.growth, layer.growth);
  }
  if (layer.se_reduction > 0) features = append_squeeze_excitation(b, features, layer.se_reduction);
  // New features first, as darknet's DenseNet cfgs concatenate ([route] -1,-3).
  return b.route({features, input});
}

}  // namespace cspnet
