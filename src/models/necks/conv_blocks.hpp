#pragma once
// Internal: the alternating 1x1 / 3x3 convolution blocks of YOLOv3's heads.
#include "cspnet/model_builder.hpp"

namespace cspnet::neck_detail {

// `count` convolutions alternating 1x1 (width) and 3x3 (2*width), starting
// and ending with a 1x1; the first reads `from`. Returns the last.
inline int alternating_convs(ModelBuilder& b, int from, int width, int count) {
  int at = from;
  for (int i = 0; i < count; ++i)
    at = b.conv(i % 2 == 0 ? ConvSpec{.filters = width} : ConvSpec{.filters = 2 * width, .size = 3}, at);
  return at;
}

// Resamples `from` (at stride `have`) to stride `want`: an [upsample], a
// [maxpool] of the ratio (no weights, no FLOPs in darknet's count), or itself.
inline int resample(ModelBuilder& b, int from, int have, int want) {
  if (have == want) return from;
  if (have > want) {
    if (from != b.last()) b.route({from});
    return b.upsample(have / want);
  }
  return b.maxpool(want / have, want / have, from);
}

}  // namespace cspnet::neck_detail
