// EFM, the paper's exact fusion model (CSPNet 3.2, Fig. 6c). The paper gives
// no layer details; our reading of Fig. 6c (docs/zoo.md "Detectors"): the
// fused map at level s concatenates the backbone levels s-1 (finer) and s,
// each Maxout-compressed and brought to s by max pooling, and, top-down, the
// upsampled fused map of level s+1 (the coarsest has none); a 1x1
// compresses it. Prediction blocks then run fine to coarse, each also
// reading a strided 3x3 of the finer block (PAN's bottom-up path).
// Levels: k = 0 is the coarsest, k + 1 the next finer.
#include "fusion_inputs.hpp"

namespace cspnet {

using neck_detail::fusion_input;
using neck_detail::resample;

void append_efm(ModelBuilder& b, const Backbone& bb, const FusionOptions& o, const HeadOptions& head) {
  const int top = neck_detail::top_level(b, bb, o);
  auto level_layer = [&](int k) { return k == 0 ? top : bb.level(k); };
  // Strides in units of the coarsest level's: level k is at 1/2^k of it.
  auto scale = [](int k) { return 8 >> k; };
  int fused[3] = {0, 0, 0};
  for (int k = 0; k < 3; ++k) {  // top-down: coarse fused maps feed the finer ones
    b.note("EFM: fused map at level " + std::to_string(k));
    std::vector<int> parts;
    for (int j : {k + 1, k, k - 1}) {
      const bool coarser_via_top_down = j == k - 1 && k > 0 && !o.coarser_backbone_level;
      if (j >= 0 && bb.has_level(j) && !coarser_via_top_down)
        parts.push_back(fusion_input(b, level_layer(j), scale(j), scale(k), o));
    }
    if (k > 0) parts.push_back(resample(b, fused[k - 1], scale(k - 1), scale(k)));
    b.route(parts);
    fused[k] = b.conv(ConvSpec{.filters = o.width << (2 - k)});
    if (o.sam) fused[k] = append_sam(b, fused[k]);
  }
  int previous = -1;
  for (int k = 2; k >= 0; --k) {  // bottom-up: each prediction block reads the finer one
    const int width = o.width << (2 - k);
    int features = fused[k];
    if (previous >= 0) {
      b.note("EFM: bottom-up into level " + std::to_string(k));
      const int down = b.conv(ConvSpec{.filters = width, .size = 3, .stride = 2}, previous);
      features = b.route({down, fused[k]});
    }
    previous = b.conv(ConvSpec{.filters = 2 * width, .size = 3}, features);
    append_yolo_linear(b, previous, head_mask(2 - k, head), head);
  }
}

}  // namespace cspnet
