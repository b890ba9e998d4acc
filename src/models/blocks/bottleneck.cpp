// ResNet (He et al., CVPR 2016) and ResNeXt (Xie et al., CVPR 2017)
// bottlenecks in the form of the paper's darknet cfgs.
#include "cspnet/blocks.hpp"

namespace cspnet {

int append_block(ModelBuilder& b, const Bottleneck& block, int input) {
  b.conv(ConvSpec{.filters = block.width}, input);
  b.conv(ConvSpec{.filters = block.width, .size = 3, .stride = block.stride, .groups = block.cardinality});
  int out = b.conv(ConvSpec{.filters = block.out, .activation = "linear"});
  if (block.se_reduction > 0) append_squeeze_excitation(b, out, block.se_reduction);
  return b.shortcut(input, b.activation());
}

}  // namespace cspnet
