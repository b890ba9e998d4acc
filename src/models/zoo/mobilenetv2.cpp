// MobileNetV2 family: MobileNet-v2 and CSPMobileNet-v2 in the form of the
// paper's release (mobilenet-v2.cfg / csmobilenet-v2.cfg of the
// CrossStagePartialNetworks repository, which ../shared/cfg does not carry),
// and a small pair for 28x28 inputs.
#include "zoo_families.hpp"

namespace cspnet::zoo_detail {
namespace {

// One row of MobileNetV2's table: expansion t, output c, n blocks, first stride s.
struct InvertedStage {
  int t, c, n, s;
};

struct MobileNetSpec {
  std::string name{};
  int stem = 32;
  int stem_stride = 2;
  std::vector<InvertedStage> stages{};
  int last_conv = 1280;
  int classes = kImageNetClasses;
  bool csp = false;
};

// The release's MobileNet-v2 keeps the expansion conv even for t=1 and puts
// the stride-2 of the 14x14 level on the 96-channel group (not the 64 one).
const std::vector<InvertedStage> kMobileNetV2 = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 1},
                                                 {6, 96, 3, 2}, {6, 160, 3, 2}, {6, 320, 1, 1}};
const std::vector<InvertedStage> kMobileNetV2Small = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 2, 2}, {6, 64, 2, 2}};

struct FlatBlock {
  int t, in, out, stride;
};

std::vector<FlatBlock> flatten(const MobileNetSpec& spec) {
  std::vector<FlatBlock> blocks;
  int in = spec.stem;
  for (const auto& st : spec.stages)
    for (int i = 0; i < st.n; ++i) {
      blocks.push_back({st.t, in, st.c, i == 0 ? st.s : 1});
      in = st.c;
    }
  return blocks;
}

void baseline(ModelBuilder& b, const MobileNetSpec& spec) {
  for (const auto& blk : flatten(spec))
    append_block(b, InvertedResidual{blk.t * blk.in, blk.out, blk.stride, 1, 0}, b.last());
  b.conv(ConvSpec{.filters = spec.last_conv});
}

// CSPMobileNet-v2 (csmobilenet-v2.cfg): a CSP stage from each strided block
// to the next, fusion first. The base is the strided block's expansion width
// halved (the previous stage's transition makes it); part 1 is a strided
// depthwise 3x3 of the base; part 2 is the base itself, whose first block
// skips the expansion and doubles the channels in its strided grouped 3x3.
// The other blocks halve the expansion and double it in the grouped 3x3
// (depthwise multiplier 2). The leading stride-1 stage keeps MobileNetV2's
// blocks and takes half the stem's channels as part 1 (a grouped 3x3); the
// last transition is half of MobileNetV2's final 1x1.
void csp(ModelBuilder& b, const MobileNetSpec& spec) {
  const auto blocks = flatten(spec);
  size_t i = 0;
  for (int s = 0; i < blocks.size(); ++s) {
    CspStage stage;
    stage.fusion = Fusion::fusion_first;
    stage.split = Split::convolution;
    stage.part2_is_base = true;
    const int base_width = b.channels(b.last());
    if (blocks[i].stride == 1) {
      stage.part1 = ConvSpec{.filters = base_width / 2, .size = 3, .groups = base_width / 2};
      for (; i < blocks.size() && blocks[i].stride == 1; ++i)
        stage.blocks.push_back(InvertedResidual{blocks[i].t * blocks[i].in, blocks[i].out, 1, 1, 0});
    } else {
      stage.part1 = ConvSpec{.filters = base_width, .size = 3, .stride = 2, .groups = base_width};
      stage.blocks.push_back(InvertedResidual{0, blocks[i].out, blocks[i].stride, 2, 0});
      for (++i; i < blocks.size() && blocks[i].stride == 1; ++i)
        stage.blocks.push_back(InvertedResidual{blocks[i].t * blocks[i].in / 2, blocks[i].out, 1, 2, 0});
    }
    const int next = i < blocks.size() ? blocks[i].t * blocks[i].in / 2 : spec.last_conv / 2;
    stage.transition = ConvSpec{.filters = next};
    stage.comment = "CSP stage " + std::to_string(s + 1);
    append_csp_stage(b, b.last(), stage);
  }
}

ModelBuilder mobilenetv2(const MobileNetSpec& spec, const NetInput& input) {
  ModelBuilder b(spec.name, input, "relu");
  b.conv(ConvSpec{.filters = spec.stem, .size = 3, .stride = spec.stem_stride});
  if (spec.csp)
    csp(b, spec);
  else
    baseline(b, spec);
  append_classifier(b, spec.classes);
  return b;
}

ZooModel model(std::string name, std::string paper_name, std::string family, std::string baseline,
               std::optional<PaperFigures> paper, MobileNetSpec spec, NetInput input) {
  return family_model(std::move(name), std::move(paper_name), std::move(family), std::move(baseline), paper, "",
                      std::move(spec), std::move(input),
                      [](const MobileNetSpec& s, const NetInput& in) { return mobilenetv2(s, in); });
}

}  // namespace

void add_mobilenetv2_family(std::vector<ZooModel>& zoo) {
  const NetInput in = imagenet_input(224);
  zoo.push_back(model("mobilenetv2", "MobileNet-v2", "mobilenetv2", "", PaperFigures{3.47, 0.858, 224},
                      MobileNetSpec{.stages = kMobileNetV2}, in));
  zoo.push_back(model("cspmobilenetv2", "CSPMobileNet-v2", "mobilenetv2", "mobilenetv2", PaperFigures{2.51, 0.764, 224},
                      MobileNetSpec{.stages = kMobileNetV2, .csp = true}, in));
  MobileNetSpec small{
      .stem = 16, .stem_stride = 1, .stages = kMobileNetV2Small, .last_conv = 256, .classes = kSmallClasses};
  zoo.push_back(model("mobilenetv2-small", "MobileNet-v2 (small)", "small", "", std::nullopt, small, small_input()));
  small.csp = true;
  zoo.push_back(model("cspmobilenetv2-small", "CSPMobileNet-v2 (small)", "small", "mobilenetv2-small", std::nullopt,
                      small, small_input()));
}

}  // namespace cspnet::zoo_detail
