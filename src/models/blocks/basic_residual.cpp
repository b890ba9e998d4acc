// ResNet basic block (two 3x3 convolutions), as in darknet's resnet10.cfg.
#include "cspnet/blocks.hpp"

namespace cspnet {

int append_block(ModelBuilder& b, const BasicResidual& block, int input) {
  b.conv(ConvSpec{.filters = block.filters, .size = 3, .stride = block.stride}, input);
  b.conv(ConvSpec{.filters = block.filters, .size = 3, .activation = "linear"});
  return b.shortcut(input, b.activation());
}

}  // namespace cspnet
