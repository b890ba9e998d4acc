// PANet with SPP, layer for layer as the release's csdarknet53-panet-spp.cfg
// and csresnext50-panet-spp.cfg (docs: ../shared/detection-notes.md 2.2):
// SPP on the top level, a top-down path with 1x1 laterals, then a bottom-up
// path of strided 3x3s; heads fine to coarse.
#include "conv_blocks.hpp"
#include "cspnet/necks.hpp"

namespace cspnet {

using neck_detail::alternating_convs;

namespace {

// Top-down step: 1x1 + upsample of `coarse`, concat after a 1x1 of the
// backbone's `lateral`, five convolutions.
int top_down(ModelBuilder& b, int coarse, int lateral, int width) {
  b.note("PANet top-down to " + std::to_string(width) + " channels");
  b.conv(ConvSpec{.filters = width}, coarse);
  const int up = b.upsample(2);
  const int side = b.conv(ConvSpec{.filters = width}, lateral);
  b.route({side, up});
  return alternating_convs(b, b.last(), width, 5);
}

// Bottom-up step: strided 3x3 of `fine`, concat with the top-down map.
int bottom_up(ModelBuilder& b, int fine, int top_down_map, int width) {
  b.note("PANet bottom-up to " + std::to_string(width) + " channels");
  const int down = b.conv(ConvSpec{.filters = width, .size = 3, .stride = 2}, fine);
  b.route({down, top_down_map});
  return alternating_convs(b, b.last(), width, 5);
}

}  // namespace

void append_panet(ModelBuilder& b, const Backbone& bb, const PanetOptions& o, const HeadOptions& head) {
  const int w = o.width;
  b.note("neck: " + std::string(o.spp ? "SPP + " : "") + "PANet");
  int top = alternating_convs(b, bb.level(0), 4 * w, 3);
  if (o.spp) {
    append_spp(b, top);
    top = alternating_convs(b, b.last(), 4 * w, 3);
  }
  const int p4 = top_down(b, top, bb.level(1), 2 * w);
  const int p3 = top_down(b, p4, bb.level(2), w);
  append_yolo_output(b, p3, 2 * w, head_mask(0, head), head);
  const int n4 = bottom_up(b, p3, p4, 2 * w);
  append_yolo_output(b, n4, 4 * w, head_mask(1, head), head);
  const int n5 = bottom_up(b, n4, top, 4 * w);
  append_yolo_output(b, n5, 8 * w, head_mask(2, head), head);
}

}  // namespace cspnet
