// PeleeNet family: PeleeNet and CSPPeleeNet (with the paper's swish / mish /
// SE variants), the paper's Table 1 ablation, the CSPPeleeNet Ref. models and
// a small pair for 28x28 inputs. The release has no PeleeNet cfg:
// docs/zoo.md explains each choice.
#include <cstdio>

#include "zoo_families.hpp"

namespace cspnet::zoo_detail {
namespace {

struct PeleeSpec {
  std::string name{};
  std::string activation = "leaky";
  Fusion fusion = Fusion::none;  // none: the baseline
  Split split = Split::convolution;
  double gamma = 0.5;
  int se_reduction = 0;
  bool imagenet_stem = true;
  int stem = 32;
  std::vector<int> depths = {3, 4, 8, 6};
  std::vector<int> bottleneck_widths = {1, 2, 4, 4};
  int growth = 32;
  int classes = kImageNetClasses;
};

// PeleeNet's stem block: a strided 3x3, then a strided 1x1+3x3 branch beside
// a 2x2 maxpool, concatenated and fused by a 1x1 (stride 4 in all).
void pelee_stem(ModelBuilder& b, int width) {
  b.note("stem block");
  int first = b.conv(ConvSpec{.filters = width, .size = 3, .stride = 2});
  b.conv(ConvSpec{.filters = width / 2});
  int branch = b.conv(ConvSpec{.filters = width, .size = 3, .stride = 2});
  int pooled = b.maxpool(2, 2, first);
  b.route({branch, pooled});
  b.conv(ConvSpec{.filters = width});
}

// Stages of two-way dense layers, each closed by a 1x1 transition that keeps
// the channels, then a 2x2 maxpool (PeleeNet's average pool; darknet has no
// strided one and pooling FLOPs are not counted). CSP versions use one fusion
// in every stage; with fusion last, the last stage is fused once more after
// the concat (csp) so the classifier sees fused features, as every other
// variant and the baseline end with a transition.
ModelBuilder peleenet(const PeleeSpec& spec, const NetInput& input) {
  ModelBuilder b(spec.name, input, spec.activation);
  if (spec.imagenet_stem)
    pelee_stem(b, spec.stem);
  else
    b.conv(ConvSpec{.filters = spec.stem, .size = 3});
  for (size_t s = 0; s < spec.depths.size(); ++s) {
    const bool last = s + 1 == spec.depths.size();
    CspStage stage;
    stage.blocks = repeat(TwoWayDenseLayer{spec.growth, spec.bottleneck_widths[s], spec.se_reduction}, spec.depths[s]);
    stage.comment = "stage " + std::to_string(s + 1) + ": " + std::to_string(spec.depths[s]) + " two-way dense layers";
    stage.fusion = spec.fusion;
    stage.split = spec.split;
    stage.gamma = spec.gamma;
    if (spec.fusion == Fusion::none) stage.transition = ConvSpec{};
    if (spec.fusion == Fusion::fusion_last && last) stage.fusion = Fusion::csp;
    append_csp_stage(b, b.last(), stage);
    if (!last) b.maxpool(2, 2);
  }
  append_classifier(b, spec.classes);
  return b;
}

ZooModel model(std::string name, std::string paper_name, std::string family, std::string baseline,
               std::optional<PaperFigures> paper, PeleeSpec spec, NetInput input) {
  return family_model(std::move(name), std::move(paper_name), std::move(family), std::move(baseline), paper, "",
                      std::move(spec), std::move(input),
                      [](const PeleeSpec& s, const NetInput& in) { return peleenet(s, in); });
}

// CSPPeleeNet (paper Table 3): split by two 1x1 convolutions (as the
// release's CSP cfgs split), gamma 0.5, fusion last.
PeleeSpec csp_peleenet(std::string activation, int se_reduction) {
  return PeleeSpec{.activation = std::move(activation), .fusion = Fusion::fusion_last, .se_reduction = se_reduction};
}

// The paper's +0.02M for its SE variants is SE with reduction 2 on the 32
// new features of each of the 21 two-way dense layers.
constexpr int kPeleeSeReduction = 2;

}  // namespace

void add_peleenet_family(std::vector<ZooModel>& zoo) {
  const NetInput in = imagenet_input(224);
  const PaperFigures pelee{2.79, 1.017, 224}, csp{2.83, 0.888, 224};
  zoo.push_back(model("peleenet", "PeleeNet", "peleenet", "", pelee, PeleeSpec{}, in));
  zoo.push_back(model("csppeleenet", "CSPPeleeNet", "peleenet", "peleenet", csp, csp_peleenet("leaky", 0), in));
  zoo.push_back(model("peleenet-swish", "PeleeNet-swish", "peleenet", "", pelee, PeleeSpec{.activation = "swish"}, in));
  zoo.push_back(
      model("csppeleenet-swish", "CSPPeleeNet-swish", "peleenet", "peleenet-swish", csp, csp_peleenet("swish", 0), in));
  zoo.push_back(model("peleenet-mish", "PeleeNet-mish", "peleenet", "", pelee, PeleeSpec{.activation = "mish"}, in));
  zoo.push_back(
      model("csppeleenet-mish", "CSPPeleeNet-mish", "peleenet", "peleenet-mish", csp, csp_peleenet("mish", 0), in));
  zoo.push_back(model("peleenet-swish-se", "PeleeNet-swish-SE", "peleenet", "", PaperFigures{2.81, 1.017, 224},
                      PeleeSpec{.activation = "swish", .se_reduction = kPeleeSeReduction}, in));
  zoo.push_back(model("csppeleenet-swish-se", "CSPPeleeNet-swish-SE", "peleenet", "peleenet-swish-se",
                      PaperFigures{2.85, 0.888, 224}, csp_peleenet("swish", kPeleeSeReduction), in));

  const NetInput ref_in = imagenet_input(256);
  const std::vector<int> ref = {128, 256, 512, 1024}, ref_b = {64, 128, 256, 512};
  zoo.push_back(ZooModel{"csppeleenet_ref", "CSPPeleeNet Ref.", "reference", "darknet_ref", ref_in,
                         PaperFigures{4.10, 1.103, 256}, "", [ref](const NetInput& i) {
                           return reference_csp_model("csppeleenet_ref", i, ref, repeat(TwoWayDenseLayer{64, 4, 0}, 3));
                         }});
  zoo.push_back(
      ZooModel{"csppeleenetb_ref", "CSPPeleeNetb Ref.", "reference", "darknet_ref", ref_in,
               PaperFigures{2.01, 0.897, 256}, "", [ref_b](const NetInput& i) {
                 return reference_csp_model("csppeleenetb_ref", i, ref_b, repeat(TwoWayDenseLayer{64, 2, 0}, 3));
               }});

  PeleeSpec small{.imagenet_stem = false,
                  .stem = 16,
                  .depths = {2, 3, 4},
                  .bottleneck_widths = {1, 2, 4},
                  .growth = 16,
                  .classes = kSmallClasses};
  zoo.push_back(model("peleenet-small", "PeleeNet (small)", "small", "", std::nullopt, small, small_input()));
  small.fusion = Fusion::fusion_last;
  zoo.push_back(
      model("csppeleenet-small", "CSPPeleeNet (small)", "small", "peleenet-small", std::nullopt, small, small_input()));
}

ModelBuilder small_detection_peleenet(const NetInput& input) {
  return peleenet(PeleeSpec{.name = "csppeleenet-det-small",
                            .fusion = Fusion::fusion_last,
                            .stem = 16,
                            .depths = {2, 3, 4, 3},
                            .bottleneck_widths = {1, 2, 4, 4},
                            .growth = 16,
                            .classes = kSmallClasses},
                  input);
}

}  // namespace cspnet::zoo_detail

namespace cspnet {

ModelBuilder peleenet_variant(const NetInput& input, double gamma, Fusion fusion, Split split) {
  std::string name = "peleenet";
  if (fusion != Fusion::none) {
    char label[64];
    std::snprintf(label, sizeof label, "csppeleenet-%s-g%.2f-%s", split == Split::convolution ? "conv" : "slice", gamma,
                  fusion_name(fusion));
    name = label;
  }
  return zoo_detail::peleenet(zoo_detail::PeleeSpec{.name = name, .fusion = fusion, .split = split, .gamma = gamma},
                              input);
}

std::vector<AblationRow> peleenet_ablation(Split split) {
  const NetInput input = zoo_detail::imagenet_input(224);
  std::vector<AblationRow> rows;
  auto add = [&](const std::string& label, double gamma, Fusion fusion) {
    Network net = peleenet_variant(input, gamma, fusion, split).build();
    rows.push_back(AblationRow{label, gamma, fusion, split, net.conv_weight_count(), net.conv_bflops()});
  };
  add("PeleeNet", 0, Fusion::none);
  for (double gamma : {0.25, 0.5, 0.75})
    for (Fusion fusion : {Fusion::fusion_first, Fusion::fusion_last, Fusion::csp}) {
      char label[64];
      std::snprintf(label, sizeof label, "gamma=%.2f %s", gamma, fusion_name(fusion));
      add(label, gamma, fusion);
    }
  return rows;
}

}  // namespace cspnet
