// Darknet family: Darknet-53 (YOLOv3's backbone) and CSPDarknet-53 exactly as
// the release's darknet53.cfg / csdarknet53.cfg, the Darknet Reference model
// (darknet.cfg), and a small pair for 28x28 inputs.
#include "zoo_families.hpp"

namespace cspnet::zoo_detail {
namespace {

struct DarknetStage {
  int width;  // output channels; the stage starts with a strided 3x3 to it
  int depth;  // residual blocks
};

// Darknet-53's layout; csp=true gives CSPDarknet-53's: each stage after its
// downsampling convolution is a CSP stage split by two 1x1 convolutions,
// blocks of half width. The first stage keeps the full width on both parts
// (csdarknet53.cfg does: half of 64 channels would leave its one block 32 wide).
ModelBuilder darknet(const std::string& name, const NetInput& input, int stem, const std::vector<DarknetStage>& stages,
                     bool csp, int classes) {
  ModelBuilder b(name, input, "leaky");
  b.conv(ConvSpec{.filters = stem, .size = 3});
  for (size_t s = 0; s < stages.size(); ++s) {
    const auto [width, depth] = stages[s];
    b.note("stage " + std::to_string(s + 1) + ": downsample to " + std::to_string(width) + " channels");
    int base = b.conv(ConvSpec{.filters = width, .size = 3, .stride = 2});
    if (!csp) {
      for (int i = 0; i < depth; ++i) append_block(b, DarknetResidual{width / 2, width}, b.last());
      continue;
    }
    CspStage stage;
    stage.split = Split::convolution;
    stage.comment = "CSP stage " + std::to_string(s + 1) + ": " + std::to_string(depth) + " x darknet residual";
    if (s == 0) {
      stage.part1 = stage.part2 = stage.block_transition = stage.transition = ConvSpec{.filters = width};
      stage.blocks = repeat(DarknetResidual{width / 2, width}, depth);
    } else {
      stage.blocks = repeat(DarknetResidual{width / 2, width / 2}, depth);
    }
    append_csp_stage(b, base, stage);
  }
  append_classifier(b, classes);
  return b;
}

const std::vector<DarknetStage> kDarknet53 = {{64, 1}, {128, 2}, {256, 8}, {512, 8}, {1024, 4}};
const std::vector<DarknetStage> kDarknetSmall = {{32, 1}, {64, 2}, {128, 2}};

// Darknet Reference (pjreddie's "darknet.cfg"): seven 3x3 convolutions
// doubling from 16 to 1024 channels, a 2x2 maxpool after each but the last.
ModelBuilder darknet_reference(const NetInput& input) {
  ModelBuilder b("darknet_ref", input, "leaky");
  for (int filters = 16; filters <= 1024; filters *= 2) {
    b.conv(ConvSpec{.filters = filters, .size = 3});
    if (filters < 1024) b.maxpool(2, 2);
  }
  append_classifier(b, kImageNetClasses);
  return b;
}

}  // namespace

void add_darknet_family(std::vector<ZooModel>& zoo) {
  zoo.push_back({"darknet53", "Darknet-53", "darknet", "", imagenet_input(256), PaperFigures{41.57, 18.57, 256},
                 "darknet53.cfg",
                 [](const NetInput& in) { return darknet("darknet53", in, 32, kDarknet53, false, kImageNetClasses); }});
  zoo.push_back({"cspdarknet53", "CSPDarknet-53", "darknet", "darknet53", imagenet_input(256),
                 PaperFigures{27.61, 13.07, 256}, "csdarknet53.cfg", [](const NetInput& in) {
                   return darknet("cspdarknet53", in, 32, kDarknet53, true, kImageNetClasses);
                 }});
  zoo.push_back({"darknet_ref", "Darknet Ref.", "reference", "", imagenet_input(256), PaperFigures{7.31, 0.96, 256},
                 "darknet.cfg", darknet_reference});
  zoo.push_back(
      {"darknet-small", "Darknet (small)", "small", "", small_input(), std::nullopt, "",
       [](const NetInput& in) { return darknet("darknet-small", in, 16, kDarknetSmall, false, kSmallClasses); }});
  zoo.push_back(
      {"cspdarknet-small", "CSPDarknet (small)", "small", "darknet-small", small_input(), std::nullopt, "",
       [](const NetInput& in) { return darknet("cspdarknet-small", in, 16, kDarknetSmall, true, kSmallClasses); }});
}

}  // namespace cspnet::zoo_detail
