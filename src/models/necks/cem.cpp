// CEM, ThunderNet's context enhancement module (Qin et al. 2019), as a YOLO
// neck: 1x1 projections of C4 and of the upsampled C5 summed into one
// stride-16 map, gated by C5's global context; SAM optionally on top. The
// heads read that map at stride 16 and a strided 3x3 of it at stride 32.
#include "cspnet/necks.hpp"

namespace cspnet {

void append_cem(ModelBuilder& b, const Backbone& bb, const CemOptions& o, const HeadOptions& head) {
  b.note("CEM: context enhancement");
  const int c4 = b.conv(ConvSpec{.filters = o.width}, bb.level(1));
  b.conv(ConvSpec{.filters = o.width}, bb.level(0));
  b.upsample(2);
  int cem = b.shortcut(c4);
  if (o.global_context) {
    // ThunderNet broadcasts the pooled C5 and adds it; darknet has no
    // broadcast add, so the context gates the channels instead (as SE does).
    b.route({bb.level(0)});
    b.global_avgpool();
    b.conv(ConvSpec{.filters = o.width, .activation = "logistic", .batch_normalize = false});
    cem = b.scale_channels(cem);
  }
  if (o.sam) cem = append_sam(b, cem);
  append_yolo_output(b, cem, 2 * o.width, head_mask(0, head), head);
  b.conv(ConvSpec{.filters = 2 * o.width, .size = 3, .stride = 2}, cem);
  append_yolo_linear(b, b.last(), head_mask(1, head), head);
}

}  // namespace cspnet
