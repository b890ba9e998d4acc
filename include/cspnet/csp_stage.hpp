#pragma once
// The cross stage partial stage (CSPNet, Wang et al. 2020, Fig. 2-3, 5).
//
// The base layer x0 is split into x0' (part 1, crosses the stage untouched)
// and x0'' (part 2, goes through the stage's blocks). The fusion variant
// decides where transition layers sit:
//
//   csp          blocks(x0'') -> transition -> concat(., x0') -> transition
//   fusion_first blocks(x0'') -> concat(., x0') -> transition
//   fusion_last  blocks(x0'') -> transition -> concat(., x0')
//   none         the plain stage: blocks(x0) -> [transition]
//
// The split is either a channel slice (the paper's figures; darknet route
// groups, so the part-2 view costs no copy) or two 1x1 convolutions reading
// the base (the official csdarknet53/csresnet50/csresnext50 cfgs).
#include <optional>
#include <string>
#include <vector>

#include "cspnet/blocks.hpp"
#include "cspnet/model_builder.hpp"

namespace cspnet {

enum class Fusion { csp, fusion_first, fusion_last, none };
enum class Split { channel_slice, convolution };

const char* fusion_name(Fusion fusion);  // "csp", "fusion_first", "fusion_last", "none"
Fusion parse_fusion(const std::string& name);
const char* split_name(Split split);  // "channel_slice", "convolution"

struct CspStage {
  Fusion fusion = Fusion::csp;
  Split split = Split::channel_slice;
  // Part ratio: the fraction of the base layer's channels that goes through
  // the blocks (part 2). Channel slices need gamma*C to be a whole number.
  double gamma = 0.5;
  std::vector<Block> blocks;

  // Split::convolution: the two 1x1 convolutions reading the base. Unset:
  // 1x1 convolutions to (1-gamma)*C (part 1) and gamma*C (part 2) channels.
  std::optional<ConvSpec> part1;
  std::optional<ConvSpec> part2;
  // The blocks read the base itself instead of a part-2 convolution
  // (CSPMobileNet-v2, whose first block is the strided split of part 2).
  bool part2_is_base = false;
  // The transition on the block path (csp, fusion_last). Unset: a 1x1
  // convolution that keeps the channel count.
  std::optional<ConvSpec> block_transition;
  // The transition after the concat (csp, fusion_first), or the plain stage's
  // transition (none; unset: no transition). Unset otherwise: a 1x1
  // convolution that keeps the channel count.
  std::optional<ConvSpec> transition;
  std::string comment;  // written before the stage's first layer in exported cfgs
};

// Appends the stage reading `base`; returns the stage's output layer.
int append_csp_stage(ModelBuilder& b, int base, const CspStage& stage);

}  // namespace cspnet
