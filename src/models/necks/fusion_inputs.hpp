#pragma once
// Internal: one backbone level brought to a fused map's stride, Maxout-
// compressed first when asked (the paper's EFM: maxout before the concat).
#include "conv_blocks.hpp"
#include "cspnet/necks.hpp"

namespace cspnet::neck_detail {

// `have` and `want` are strides (any unit: only their ratio matters).
inline int fusion_input(ModelBuilder& b, int from, int have, int want, const FusionOptions& o) {
  int at = from;
  if (o.maxout) at = b.maxout(b.channels(from) / o.maxout_ratio, from);
  return resample(b, at, have, want);
}

// The coarsest level, optionally through a 1x1 and SPP first.
inline int top_level(ModelBuilder& b, const Backbone& bb, const FusionOptions& o) {
  if (!o.spp) return bb.level(0);
  b.conv(ConvSpec{.filters = 4 * o.width}, bb.level(0));
  return append_spp(b, b.last());
}

}  // namespace cspnet::neck_detail
