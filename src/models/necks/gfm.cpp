// GFM, global fusion (CSPNet Table 2): the three coarsest backbone levels
// brought to the middle one's stride and concatenated into one global map,
// which each head (three levels) reads beside its own level.
#include "fusion_inputs.hpp"

namespace cspnet {

using neck_detail::fusion_input;
using neck_detail::resample;

void append_gfm(ModelBuilder& b, const Backbone& bb, const FusionOptions& o, const HeadOptions& head) {
  const int top = neck_detail::top_level(b, bb, o);
  auto level_layer = [&](int k) { return k == 0 ? top : bb.level(k); };
  auto scale = [](int k) { return 4 >> k; };  // level k's stride, in units of the finest head's
  b.note("GFM: global map at level 1");
  std::vector<int> parts;
  for (int k : {2, 1, 0}) parts.push_back(fusion_input(b, level_layer(k), scale(k), scale(1), o));
  b.route(parts);
  const int global = b.conv(ConvSpec{.filters = 2 * o.width});
  for (int k = 2; k >= 0; --k) {
    const int width = o.width << (2 - k);
    b.note("GFM: head at level " + std::to_string(k));
    const int own = fusion_input(b, level_layer(k), scale(k), scale(k), o);
    const int context = resample(b, global, scale(1), scale(k));
    b.route({own, context});
    const int fused = b.conv(ConvSpec{.filters = width});
    const int features = o.sam ? append_sam(b, fused) : fused;
    append_yolo_output(b, features, 2 * width, head_mask(2 - k, head), head);
  }
}

void append_fusion_neck(ModelBuilder& b, const Backbone& bb, const FusionOptions& o, const HeadOptions& head) {
  if (o.exact)
    append_efm(b, bb, o, head);
  else
    append_gfm(b, bb, o, head);
}

}  // namespace cspnet
