// PeleeNet's two-way dense layer (Wang et al., NeurIPS 2018).
#include "cspnet/blocks.hpp"

namespace cspnet {

int append_block(ModelBuilder& b, const TwoWayDenseLayer& layer, int input) {
  const int half = layer.growth / 2;
  // PeleeNet's bottleneck width, rounded to a multiple of 4, and capped at
  // half the input channels (its reference code does both).
  int inter = half * layer.bottleneck_width / 4 * 4;
  const int in = b.channels(input);
  if (inter > in / 2) inter = in / 8 * 4;
  b.conv(ConvSpec{.filters = inter}, input);
  int branch1 = b.conv(ConvSpec{.filters = half, .size = 3});
  b.conv(ConvSpec{.filters = inter}, input);
  b.conv(ConvSpec{.filters = half, .size = 3});
  int branch2 = b.conv(ConvSpec{.filters = half, .size = 3});
  if (layer.se_reduction > 0) {
    int both = b.route({branch1, branch2});
    return b.route({input, append_squeeze_excitation(b, both, layer.se_reduction)});
  }
  return b.route({input, branch1, branch2});
}

}  // namespace cspnet
