// ResNet family: ResNet-10/50, ResNeXt-50 and their CSP versions. The
// baselines and CSPResNet-50 / CSPResNeXt-50 reproduce the release's cfgs
// (resnet10, resnet50, resnext50, csresnet50, csresnext50) layer for layer.
#include "zoo_families.hpp"

namespace cspnet::zoo_detail {
namespace {

struct ResStage {
  int width;  // bottleneck width (basic blocks: unused)
  int out;    // output channels of the baseline stage
  int depth;  // blocks in the baseline stage
};

struct ResNetSpec {
  std::string name{};
  std::vector<ResStage> stages{};
  bool basic_blocks = false;     // ResNet-10: two 3x3 per block instead of a bottleneck
  int cardinality = 1;           // ResNeXt: 32
  double csp_fusion_factor = 0;  // 0: the baseline; else the CSP stage's output = out * factor
  bool classifier_before_pool = false;
  int stem = 64;  // 7x7/2 + maxpool (ImageNet); small models: one 3x3, no pool
  bool imagenet_stem = true;
  int classes = kImageNetClasses;
  std::string activation = "leaky";
};

// The baseline: darknet's ResNets have no projection shortcuts (darknet's
// shortcut adds min(C) channels and subsamples a larger input).
void baseline_stages(ModelBuilder& b, const ResNetSpec& spec) {
  for (size_t s = 0; s < spec.stages.size(); ++s) {
    const ResStage& st = spec.stages[s];
    b.note("stage " + std::to_string(s + 1));
    for (int i = 0; i < st.depth; ++i) {
      const int stride = (s > 0 && i == 0) ? 2 : 1;
      if (spec.basic_blocks)
        append_block(b, BasicResidual{st.out, stride}, b.last());
      else
        append_block(b, Bottleneck{st.width, st.out, spec.cardinality, stride}, b.last());
    }
  }
}

// The CSP recipe of csresnet50.cfg / csresnext50.cfg. Stage 1 splits by 1x1
// convolutions into out/2 (part 1) and the first block's input width (part 2);
// later stages open with a strided 3x3 at the previous stage's output width
// (it takes the place of the baseline's strided first block), then split into
// two out/2 halves (linear in the middle stages, as the release has it). The
// blocks work at out/2 channels; the block-path transition keeps out/2; the
// fusing transition gives out * csp_fusion_factor (ResNet 1/2, ResNeXt 1).
// ResNet-10 has one block per stage: it keeps it (a stage with no block on
// its part 2 would not be a partial stage), at half width.
void csp_stages(ModelBuilder& b, const ResNetSpec& spec) {
  const std::string act = b.activation();
  for (size_t s = 0; s < spec.stages.size(); ++s) {
    const ResStage& st = spec.stages[s];
    const bool first = s == 0, last = s + 1 == spec.stages.size();
    const int half = st.out / 2;
    int base = b.last();
    if (!first) {
      b.note("stage " + std::to_string(s + 1) + ": downsample");
      base = b.conv(ConvSpec{
          .filters = b.channels(base), .size = 3, .stride = 2, .groups = spec.basic_blocks ? 1 : spec.cardinality});
    }
    const std::string part_act = (first || last) ? act : "linear";
    int blocks = st.depth;
    if (!first && !spec.basic_blocks) --blocks;
    CspStage stage;
    stage.split = Split::convolution;
    stage.part1 = ConvSpec{.filters = half, .activation = part_act};
    stage.part2 = ConvSpec{.filters = (first && !spec.basic_blocks) ? st.out / 4 : half, .activation = part_act};
    if (spec.basic_blocks)
      stage.blocks = repeat(BasicResidual{half, 1}, blocks);
    else
      stage.blocks = repeat(Bottleneck{st.width, half, spec.cardinality, 1}, blocks);
    stage.block_transition = ConvSpec{.filters = half};
    stage.transition = ConvSpec{.filters = static_cast<int>(st.out * spec.csp_fusion_factor)};
    stage.comment = "CSP stage " + std::to_string(s + 1) + ": " + std::to_string(blocks) + " blocks";
    append_csp_stage(b, base, stage);
  }
}

ModelBuilder resnet(const ResNetSpec& spec, const NetInput& input) {
  ModelBuilder b(spec.name, input, spec.activation);
  if (spec.imagenet_stem) {
    b.conv(ConvSpec{.filters = spec.stem, .size = 7, .stride = 2});
    b.maxpool(2, 2);
  } else {
    b.conv(ConvSpec{.filters = spec.stem, .size = 3});
  }
  if (spec.csp_fusion_factor > 0)
    csp_stages(b, spec);
  else
    baseline_stages(b, spec);
  append_classifier(b, spec.classes, spec.classifier_before_pool);
  return b;
}

const std::vector<ResStage> kResNet10 = {{64, 64, 1}, {128, 128, 1}, {256, 256, 1}, {512, 512, 1}};
const std::vector<ResStage> kResNet50 = {{64, 256, 3}, {128, 512, 4}, {256, 1024, 6}, {512, 2048, 3}};
const std::vector<ResStage> kResNeXt50 = {{128, 256, 3}, {256, 512, 4}, {512, 1024, 6}, {1024, 2048, 3}};
const std::vector<ResStage> kResNetSmall = {{16, 64, 2}, {32, 128, 3}, {64, 256, 3}};
const std::vector<ResStage> kResNeXtSmall = {{32, 64, 2}, {64, 128, 3}, {128, 256, 3}};

ResNetSpec small_spec(std::string name, const std::vector<ResStage>& stages, int cardinality, double fusion) {
  ResNetSpec spec{.name = std::move(name), .stages = stages, .cardinality = cardinality, .csp_fusion_factor = fusion};
  spec.stem = 16;
  spec.imagenet_stem = false;
  spec.classes = kSmallClasses;
  return spec;
}

ZooModel model(std::string name, std::string paper_name, std::string family, std::string baseline,
               std::optional<PaperFigures> paper, std::string official, ResNetSpec spec, NetInput input) {
  return family_model(std::move(name), std::move(paper_name), std::move(family), std::move(baseline), paper,
                      std::move(official), std::move(spec), std::move(input),
                      [](const ResNetSpec& s, const NetInput& in) { return resnet(s, in); });
}

}  // namespace

void add_resnet_family(std::vector<ZooModel>& zoo) {
  const NetInput in = imagenet_input(256);
  zoo.push_back(model("resnet10", "ResNet-10", "resnet", "", PaperFigures{5.24, 2.273, 256}, "resnet10.cfg",
                      ResNetSpec{.stages = kResNet10, .basic_blocks = true}, in));
  zoo.push_back(model("cspresnet10", "CSPResNet-10", "resnet", "resnet10", PaperFigures{2.73, 1.905, 256}, "",
                      ResNetSpec{.stages = kResNet10, .basic_blocks = true, .csp_fusion_factor = 0.5}, in));
  zoo.push_back(model("resnet50", "ResNet-50", "resnet", "", PaperFigures{22.73, 9.74, 256}, "resnet50.cfg",
                      ResNetSpec{.stages = kResNet50, .classifier_before_pool = true}, in));
  zoo.push_back(model("cspresnet50", "CSPResNet-50", "resnet", "resnet50", PaperFigures{21.57, 8.97, 256},
                      "csresnet50.cfg", ResNetSpec{.stages = kResNet50, .csp_fusion_factor = 0.5}, in));
  zoo.push_back(model("resnext50", "ResNeXt-50", "resnext", "", PaperFigures{22.19, 10.11, 256}, "resnext50.cfg",
                      ResNetSpec{.stages = kResNeXt50, .cardinality = 32}, in));
  zoo.push_back(model("cspresnext50", "CSPResNeXt-50", "resnext", "resnext50", PaperFigures{20.50, 7.93, 256},
                      "csresnext50.cfg", ResNetSpec{.stages = kResNeXt50, .cardinality = 32, .csp_fusion_factor = 1},
                      in));
  zoo.push_back(
      model("cspresnext50-mish", "CSPResNeXt-50 (Mish)", "resnext", "resnext50", PaperFigures{20.50, 7.93, 256}, "",
            ResNetSpec{.stages = kResNeXt50, .cardinality = 32, .csp_fusion_factor = 1, .activation = "mish"}, in));
  zoo.push_back(model("resnet-small", "ResNet (small)", "small", "", std::nullopt, "",
                      small_spec("", kResNetSmall, 1, 0), small_input()));
  zoo.push_back(model("cspresnet-small", "CSPResNet (small)", "small", "resnet-small", std::nullopt, "",
                      small_spec("", kResNetSmall, 1, 0.5), small_input()));
  zoo.push_back(model("resnext-small", "ResNeXt (small)", "small", "", std::nullopt, "",
                      small_spec("", kResNeXtSmall, 8, 0), small_input()));
  zoo.push_back(model("cspresnext-small", "CSPResNeXt (small)", "small", "resnext-small", std::nullopt, "",
                      small_spec("", kResNeXtSmall, 8, 1), small_input()));
}

}  // namespace cspnet::zoo_detail
