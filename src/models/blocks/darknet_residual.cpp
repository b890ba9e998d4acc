// Darknet-53's residual block (Redmon & Farhadi, YOLOv3).
#include "cspnet/blocks.hpp"

namespace cspnet {

int append_block(ModelBuilder& b, const DarknetResidual& block, int input) {
  b.conv(ConvSpec{.filters = block.hidden}, input);
  b.conv(ConvSpec{.filters = block.out, .size = 3});
  return b.shortcut(input, "linear");
}

}  // namespace cspnet
