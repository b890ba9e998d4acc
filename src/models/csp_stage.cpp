// The cross stage partial stage: split, blocks on part 2, partial transition.
#include "cspnet/csp_stage.hpp"

#include <cmath>

#include "cspnet/error.hpp"

namespace cspnet {

const char* fusion_name(Fusion fusion) {
  switch (fusion) {
    case Fusion::csp:
      return "csp";
    case Fusion::fusion_first:
      return "fusion_first";
    case Fusion::fusion_last:
      return "fusion_last";
    case Fusion::none:
      return "none";
  }
  return "?";
}

Fusion parse_fusion(const std::string& name) {
  for (Fusion f : {Fusion::csp, Fusion::fusion_first, Fusion::fusion_last, Fusion::none})
    if (name == fusion_name(f)) return f;
  throw Error("unknown fusion '" + name + "', expected csp, fusion_first, fusion_last or none");
}

const char* split_name(Split split) { return split == Split::channel_slice ? "channel_slice" : "convolution"; }

namespace {

// gamma*C as a whole number of channels, or an error naming the stage.
int part2_channels(const ModelBuilder& b, int channels, double gamma) {
  if (!(gamma > 0 && gamma < 1))
    throw Error(b.name() + ": part ratio gamma must be in (0, 1), got " + std::to_string(gamma));
  const double exact = gamma * channels;
  const int rounded = static_cast<int>(std::lround(exact));
  if (std::fabs(exact - rounded) > 1e-9 || rounded <= 0 || rounded >= channels)
    throw Error(b.name() + ": part ratio gamma=" + std::to_string(gamma) + " of " + std::to_string(channels) +
                " channels is not a whole number of channels");
  return rounded;
}

}  // namespace

int append_csp_stage(ModelBuilder& b, int base, const CspStage& stage) {
  if (!stage.comment.empty()) b.note(stage.comment);
  if (stage.fusion == Fusion::none) {
    int out = append_blocks(b, stage.blocks, base);
    if (stage.transition) out = b.conv(*stage.transition, out);
    return out;
  }

  const int channels = b.channels(base);
  int part1 = 0, part2 = 0;
  if (stage.split == Split::channel_slice) {
    // Part 1 = the first (1-gamma)*C channels, part 2 = the rest: two views.
    const int c2 = part2_channels(b, channels, stage.gamma);
    part1 = b.channel_slice(base, 0, channels - c2);
    part2 = b.channel_slice(base, channels - c2, channels);
  } else {
    ConvSpec p1, p2;
    if (!stage.part1 || !stage.part2) {
      const int c2 = part2_channels(b, channels, stage.gamma);
      p1.filters = channels - c2;
      p2.filters = c2;
    }
    if (stage.part1) p1 = *stage.part1;
    if (stage.part2) p2 = *stage.part2;
    part1 = b.conv(p1, base);
    part2 = stage.part2_is_base ? base : b.conv(p2, base);
  }

  int path = append_blocks(b, stage.blocks, part2);
  if (stage.fusion == Fusion::csp || stage.fusion == Fusion::fusion_last)
    path = b.conv(stage.block_transition.value_or(ConvSpec{}), path);
  // Block path first, then part 1: the order of the official cfgs ([route] -1,-k).
  int out = b.route({path, part1});
  if (stage.fusion == Fusion::csp || stage.fusion == Fusion::fusion_first)
    out = b.conv(stage.transition.value_or(ConvSpec{}), out);
  return out;
}

}  // namespace cspnet
