// YOLOv3's head (and FPN's, with a 1x1 on the lateral map), as yolov3(-spp).cfg
// and the release's csresnext50-fpn-spp.cfg: heads coarse to fine.
#include "conv_blocks.hpp"
#include "cspnet/necks.hpp"

namespace cspnet {

using neck_detail::alternating_convs;

void append_yolov3_neck(ModelBuilder& b, const Backbone& bb, const YoloV3Options& o, const HeadOptions& head) {
  const int w = o.width;
  b.note("YOLOv3 neck: coarsest level");
  int top = bb.level(0);
  if (o.spp) {
    top = alternating_convs(b, top, 4 * w, 3);
    top = append_spp(b, top);
    top = alternating_convs(b, top, 4 * w, 3);
  } else {
    top = alternating_convs(b, top, 4 * w, 5);
  }
  append_yolo_output(b, top, 8 * w, head_mask(2, head), head);
  int level = top;
  for (int k = 1; k >= 0; --k) {
    const int width = w << k;  // 256 at stride 16, 128 at stride 8
    b.note("YOLOv3 neck: level " + std::to_string(2 - k));
    b.conv(ConvSpec{.filters = width}, level);
    const int up = b.upsample(2);
    int lateral = bb.level(2 - k);
    if (o.fpn_lateral_conv) lateral = b.conv(ConvSpec{.filters = width}, lateral);
    b.route({up, lateral});
    level = alternating_convs(b, b.last(), width, 5);
    append_yolo_output(b, level, 2 * width, head_mask(k, head), head);
  }
}

}  // namespace cspnet
