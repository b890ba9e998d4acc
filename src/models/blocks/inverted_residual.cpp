// MobileNetV2's inverted residual with a linear bottleneck (Sandler et al.,
// CVPR 2018).
#include "cspnet/blocks.hpp"

namespace cspnet {

int append_block(ModelBuilder& b, const InvertedResidual& block, int input) {
  int x = input;
  if (block.expansion > 0) x = b.conv(ConvSpec{.filters = block.expansion}, input);
  const int width = b.channels(x);
  b.conv(ConvSpec{.filters = width * block.depthwise_multiplier, .size = 3, .stride = block.stride, .groups = width},
         x);
  int out = b.conv(ConvSpec{.filters = block.out, .activation = "linear"});
  if (block.se_reduction > 0) out = append_squeeze_excitation(b, out, block.se_reduction);
  if (block.stride == 1 && b.channels(input) == block.out) return b.shortcut(input, "linear");
  return out;
}

}  // namespace cspnet
