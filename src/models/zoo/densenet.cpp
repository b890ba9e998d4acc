// DenseNet family: DenseNet-201 (and its ELASTIC form), their CSP versions,
// the paper's CSPDenseNet Ref. models, and a small pair for 28x28 inputs.
// The release has no cfg for any of them: docs/zoo.md gives each choice.
#include "zoo_families.hpp"

namespace cspnet::zoo_detail {
namespace {

struct DenseNetSpec {
  std::string name{};
  std::vector<int> depths{};  // dense layers per stage
  int growth = 32;
  int bottleneck = 4;  // DenseNet-BC: 1x1 to 4k before the 3x3
  bool elastic = false;
  bool csp = false;
  // CSP version: Fusion::csp is the recipe below (fusion last, the last stage
  // csp); fusion_first or fusion_last use that fusion in every stage, the
  // variants of the paper's Figure 6 with the same widths.
  Fusion fusion = Fusion::csp;
  int stem = 64;
  bool imagenet_stem = true;  // 7x7/2 + maxpool; small: one 3x3
  int classes = kImageNetClasses;
};

// DenseNet-BC: transitions halve the channels (compression 0.5) and are
// followed by a 2x2 maxpool (darknet has no strided average pool; the FLOPs
// of a pool are not counted anyway). The last stage has no transition.
//
// CSP version (the recipe of CSPPeleeNet, see peleenet.cpp): split by two 1x1
// convolutions into halves, fusion last with the block-path transition sized
// so that the stage keeps the baseline's output width, and the last stage
// fused once more after the concat (csp) so the classifier sees fused features.
ModelBuilder densenet(const DenseNetSpec& spec, const NetInput& input) {
  ModelBuilder b(spec.name, input, "leaky");
  if (spec.imagenet_stem) {
    b.conv(ConvSpec{.filters = spec.stem, .size = 7, .stride = 2});
    b.maxpool(2, 2);
  } else {
    b.conv(ConvSpec{.filters = spec.stem, .size = 3});
  }
  for (size_t s = 0; s < spec.depths.size(); ++s) {
    const bool last = s + 1 == spec.depths.size();
    const int in = b.channels(b.last());
    const int dense_out = in + spec.depths[s] * spec.growth;
    const int out = last ? dense_out : dense_out / 2;
    const DenseLayer layer{spec.growth, spec.bottleneck, 0, spec.elastic ? (last ? 1 : 2) : 0};
    CspStage stage;
    stage.blocks = repeat(layer, spec.depths[s]);
    stage.comment = "stage " + std::to_string(s + 1) + ": " + std::to_string(spec.depths[s]) + " dense layers";
    if (!spec.csp) {
      stage.fusion = Fusion::none;
      if (!last) stage.transition = ConvSpec{.filters = out};
    } else if (spec.fusion == Fusion::fusion_first) {
      // blocks -> concat -> transition to the baseline's width.
      stage.split = Split::convolution;
      stage.fusion = Fusion::fusion_first;
      stage.transition = ConvSpec{.filters = out};
    } else {
      stage.split = Split::convolution;
      stage.fusion = last && spec.fusion == Fusion::csp ? Fusion::csp : Fusion::fusion_last;
      stage.block_transition = ConvSpec{.filters = out - in / 2};
      stage.transition = ConvSpec{.filters = out};
    }
    append_csp_stage(b, b.last(), stage);
    if (!last) b.maxpool(2, 2);
  }
  append_classifier(b, spec.classes);
  return b;
}

// The paper's "Ref." models: Darknet Reference's layout (3x3 convolutions of
// 16, 32, 64 channels with 2x2 maxpools, then four stages at Darknet Ref.'s
// resolutions and widths 128..1024; the "b" models half as wide), each stage
// a CSP stage split by 1x1 convolutions. Used by the PeleeNet Ref. models too.
}  // namespace

ModelBuilder reference_csp_model(const std::string& name, const NetInput& input, const std::vector<int>& widths,
                                 const std::vector<Block>& blocks) {
  ModelBuilder b(name, input, "leaky");
  for (int filters : {16, 32, 64}) {
    b.conv(ConvSpec{.filters = filters, .size = 3});
    b.maxpool(2, 2);
  }
  for (size_t s = 0; s < widths.size(); ++s) {
    CspStage stage;
    stage.split = Split::convolution;
    stage.blocks = blocks;
    stage.transition = ConvSpec{.filters = widths[s]};
    stage.comment = "CSP stage " + std::to_string(s + 1);
    append_csp_stage(b, b.last(), stage);
    if (s + 1 < widths.size()) b.maxpool(2, 2);
  }
  append_classifier(b, kImageNetClasses);
  return b;
}

namespace {

ZooModel model(std::string name, std::string paper_name, std::string family, std::string baseline,
               std::optional<PaperFigures> paper, DenseNetSpec spec, NetInput input) {
  return family_model(std::move(name), std::move(paper_name), std::move(family), std::move(baseline), paper, "",
                      std::move(spec), std::move(input),
                      [](const DenseNetSpec& s, const NetInput& in) { return densenet(s, in); });
}

}  // namespace

void add_densenet_family(std::vector<ZooModel>& zoo) {
  const NetInput in = imagenet_input(256);
  const std::vector<int> k201 = {6, 12, 48, 32}, k201_elastic = {10, 20, 40, 30};
  zoo.push_back(model("densenet201", "DenseNet-201", "densenet", "", std::nullopt, DenseNetSpec{.depths = k201}, in));
  zoo.push_back(model("cspdensenet201", "CSPDenseNet-201", "densenet", "densenet201", std::nullopt,
                      DenseNetSpec{.depths = k201, .csp = true}, in));
  // The paper's Elastic figures are the ELASTIC paper's, at 224x224 (docs/zoo.md).
  const NetInput in224 = imagenet_input(224);
  zoo.push_back(model("densenet201-elastic", "DenseNet-201-Elastic", "densenet", "", PaperFigures{19.48, 8.77, 224},
                      DenseNetSpec{.depths = k201_elastic, .elastic = true}, in224));
  zoo.push_back(model("cspdensenet201-elastic", "CSPDenseNet-201-Elastic", "densenet", "densenet201-elastic",
                      PaperFigures{20.17, 7.13, 224},
                      DenseNetSpec{.depths = k201_elastic, .elastic = true, .csp = true}, in224));
  const std::vector<int> ref = {128, 256, 512, 1024}, ref_b = {64, 128, 256, 512};
  zoo.push_back(ZooModel{"cspdensenet_ref", "CSPDenseNet Ref.", "reference", "darknet_ref", in,
                         PaperFigures{3.48, 0.886, 256}, "", [ref](const NetInput& i) {
                           return reference_csp_model("cspdensenet_ref", i, ref, repeat(DenseLayer{32, 0, 0, 0}, 4));
                         }});
  zoo.push_back(ZooModel{"cspdensenetb_ref", "CSPDenseNetb Ref.", "reference", "darknet_ref", in,
                         PaperFigures{1.38, 0.631, 256}, "", [ref_b](const NetInput& i) {
                           return reference_csp_model("cspdensenetb_ref", i, ref_b, repeat(DenseLayer{16, 0, 0, 0}, 6));
                         }});
  DenseNetSpec small{.depths = {4, 4, 4}, .growth = 12, .stem = 24, .imagenet_stem = false, .classes = kSmallClasses};
  zoo.push_back(model("densenet-small", "DenseNet-BC (small)", "small", "", std::nullopt, small, small_input()));
  small.csp = true;
  zoo.push_back(
      model("cspdensenet-small", "CSPDenseNet (small)", "small", "densenet-small", std::nullopt, small, small_input()));
  // The fusion variants of Figure 6 at the same widths (for `cspnet gradients`).
  small.fusion = Fusion::fusion_first;
  zoo.push_back(model("cspdensenet-small-fusion-first", "CSPDenseNet (small, fusion first)", "small",
                      "densenet-small", std::nullopt, small, small_input()));
  small.fusion = Fusion::fusion_last;
  zoo.push_back(model("cspdensenet-small-fusion-last", "CSPDenseNet (small, fusion last)", "small", "densenet-small",
                      std::nullopt, small, small_input()));
}

}  // namespace cspnet::zoo_detail
