// PRN head (YOLOv3-tiny-PRN, Wang et al. 2019): each level is a 1x1 and a
// 3x3 joined by a partial residual [shortcut]; the finer level adds the
// upsampled coarser map to the backbone's map by a partial residual too
// (darknet's shortcut adds the channels both have, so widths may differ).
#include "cspnet/necks.hpp"

namespace cspnet {

namespace {

// 1x1 (width) of `from`, 3x3 (width), the two added: the level's features.
int prn_block(ModelBuilder& b, int from, int width) {
  const int squeeze = b.conv(ConvSpec{.filters = width}, from);
  b.conv(ConvSpec{.filters = width, .size = 3});
  return b.shortcut(squeeze, b.activation());
}

}  // namespace

void append_prn(ModelBuilder& b, const Backbone& bb, const PrnOptions& o, const HeadOptions& head) {
  b.note("PRN head: coarsest level");
  int level = prn_block(b, bb.level(0), o.width);
  append_yolo_linear(b, level, head_mask(o.levels - 1, head), head);
  for (int k = o.levels - 2; k >= 0; --k) {
    const int depth = o.levels - 1 - k;  // levels below the coarsest
    const int width = o.width >> depth;
    b.note("PRN head: level " + std::to_string(depth));
    b.conv(ConvSpec{.filters = width}, level);
    b.upsample(2);
    const int merged = b.shortcut(bb.level(depth), b.activation());
    level = prn_block(b, merged, width);
    append_yolo_linear(b, level, head_mask(k, head), head);
  }
}

}  // namespace cspnet
