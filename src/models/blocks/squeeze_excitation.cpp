// Squeeze-and-excitation (Hu et al., CVPR 2018) in darknet's form: [avgpool],
// two 1x1 convolutions, [scale_channels] back onto the feature map.
#include "cspnet/blocks.hpp"
#include "cspnet/error.hpp"

namespace cspnet {

int append_squeeze_excitation(ModelBuilder& b, int features, int reduction) {
  const int c = b.channels(features);
  if (reduction <= 0 || c % reduction != 0)
    throw Error(b.name() + ": SE reduction " + std::to_string(reduction) + " must divide " + std::to_string(c) +
                " channels");
  if (features != b.last()) b.route({features});
  const int source = b.last();
  b.global_avgpool();
  // No batch norm on 1x1 pooled vectors: a per-image vector has no spatial
  // statistics worth normalising (darknet's SE cfgs do the same).
  b.conv(ConvSpec{.filters = c / reduction, .batch_normalize = false});
  b.conv(ConvSpec{.filters = c, .activation = "logistic", .batch_normalize = false});
  return b.scale_channels(source);
}

}  // namespace cspnet
