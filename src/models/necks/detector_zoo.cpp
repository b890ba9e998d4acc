// The detector zoo: Table 2's ablation heads on CSPPeleeNet at 320x320, the
// paper's Ref. detectors, the release's PANet-SPP detectors, and the same
// ablation heads on a small CSPPeleeNet for 10-class Fashion-MNIST scenes.
#include <algorithm>
#include <cmath>

#include "../zoo/zoo_families.hpp"
#include "cspnet/error.hpp"
#include "cspnet/necks.hpp"

namespace cspnet {

std::vector<std::pair<std::string, std::string>> detector_training_keys(int subdivisions) {
  return {{"batch", "64"},          {"subdivisions", std::to_string(subdivisions)},      {"momentum", "0.9"},     {"decay", "0.0005"},
          {"angle", "0"},           {"saturation", "1.5"},       {"exposure", "1.5"},     {"hue", ".1"},
          {"learning_rate", "0.001"}, {"burn_in", "1000"},       {"max_batches", "500500"}, {"policy", "steps"},
          {"steps", "400000,450000"}, {"scales", ".1,.1"}};
}

namespace {

// The heads of Table 2, one builder each; `classifier` makes the backbone.
enum class Neck { prn, prn_3l, cem, cem_sam, gfm, efm, efm_sam, efm_spp, panet_spp };

// YOLOv3-tiny's six anchors (at 416), for the two-head necks.
const std::vector<int> kTinyAnchors = {10, 14, 23, 27, 37, 58, 81, 82, 135, 169, 344, 319};

HeadOptions head_for(Neck neck, int classes, int size) {
  HeadOptions head;
  head.classes = classes;
  if (neck == Neck::prn || neck == Neck::cem || neck == Neck::cem_sam) head.anchors = kTinyAnchors;
  // Anchors are in input pixels; the defaults are for 416 (kept as they are
  // at 320, as the release keeps them across sizes), rescaled for the small
  // scenes.
  if (size < 320)
    for (int& a : head.anchors) a = std::max(1, static_cast<int>(std::lround(a * size / 416.0)));
  return head;
}

// Neck widths. The paper gives none for its CSPPeleeNet heads: each is the
// one width that brings the head's BFLOPs at 320x320 to Table 2's (within
// 5%, docs/zoo.md "Detectors"); the small models use a quarter of it.
struct NeckWidths {
  int prn, cem, gfm, efm;
};
constexpr NeckWidths kTable2Widths{640, 320, 104, 88};
constexpr NeckWidths kSmallWidths{160, 80, 26, 22};

void append_neck(ModelBuilder& b, const Backbone& bb, Neck neck, const HeadOptions& head, bool small) {
  const NeckWidths w = small ? kSmallWidths : kTable2Widths;
  switch (neck) {
    case Neck::prn:
      return append_prn(b, bb, PrnOptions{.levels = 2, .width = w.prn}, head);
    case Neck::prn_3l:
      return append_prn(b, bb, PrnOptions{.levels = 3, .width = w.prn}, head);
    case Neck::cem:
    case Neck::cem_sam:
      return append_cem(b, bb, CemOptions{.width = w.cem, .sam = neck == Neck::cem_sam}, head);
    case Neck::gfm:
      return append_gfm(b, bb, FusionOptions{.exact = false, .maxout = false, .width = w.gfm}, head);
    case Neck::efm:
    case Neck::efm_sam:
    case Neck::efm_spp:
      return append_efm(b, bb,
                        FusionOptions{.sam = neck == Neck::efm_sam, .spp = neck == Neck::efm_spp, .width = w.efm},
                        head);
    case Neck::panet_spp:
      return append_panet(b, bb, PanetOptions{}, head);
  }
}

using ClassifierFactory = std::function<ModelBuilder(const NetInput&)>;

DetectorModel detector(std::string name, std::string paper_name, std::string backbone, ClassifierFactory classifier,
                       Neck neck, NetInput input, int classes, bool small,
                       std::optional<DetectorPaperFigures> paper = std::nullopt, std::string official_cfg = "") {
  auto build = [name, classifier, neck, classes, small](const NetInput& in) {
    Backbone bb = detection_backbone(classifier(in));
    ModelBuilder b = std::move(bb.builder);
    b.rename(name);
    append_neck(b, bb, neck, head_for(neck, classes, std::min(in.width, in.height)), small);
    return b;
  };
  auto build_backbone = [classifier](const NetInput& in) { return detection_backbone(classifier(in)); };
  return DetectorModel{std::move(name), std::move(paper_name), std::move(backbone), std::move(input), paper,
                       std::move(official_cfg), small, build, build_backbone};
}

ClassifierFactory zoo_backbone(const std::string& name) {
  return [name](const NetInput& in) { return zoo_model(name).build(in); };
}

NetInput detector_input(int size, std::vector<std::pair<std::string, std::string>> training) {
  NetInput in;
  in.width = in.height = size;
  in.channels = 3;
  in.training = std::move(training);
  return in;
}

struct AblationRow {
  const char* suffix;
  const char* paper_suffix;
  Neck neck;
  double bflops;  // Table 2, at 320x320
};

// Table 2 (docs: ../shared/detection-notes.md 1.3).
const AblationRow kTable2[] = {
    {"prn", "PRN", Neck::prn, 3.590},           {"prn-3l", "PRN-3l", Neck::prn_3l, 4.586},
    {"cem", "CEM", Neck::cem, 4.049},           {"cem-sam", "CEM (SAM)", Neck::cem_sam, 4.165},
    {"gfm", "GFM", Neck::gfm, 4.605},           {"efm", "EFM", Neck::efm, 4.868},
    {"efm-sam", "EFM (SAM)", Neck::efm_sam, 5.068}, {"efm-spp", "EFM (SPP)", Neck::efm_spp, 4.863}};

std::vector<DetectorModel> all_detectors() {
  std::vector<DetectorModel> zoo;
  const NetInput in320 = detector_input(320, detector_training_keys());
  for (const auto& row : kTable2)
    zoo.push_back(detector(std::string("csppeleenet-") + row.suffix, std::string("CSPPeleeNet-") + row.paper_suffix,
                           "csppeleenet", zoo_backbone("csppeleenet"), row.neck, in320, 80, false,
                           DetectorPaperFigures{row.bflops, 320}));
  zoo.push_back(detector("cspdensenetb_ref-prn", "CSPDenseNetb Ref.-PRN", "cspdensenetb_ref",
                         zoo_backbone("cspdensenetb_ref"), Neck::prn, in320, 80, false));
  zoo.push_back(detector("csppeleenet_ref-prn-3l", "CSPPeleeNet Ref.-PRN (3l)", "csppeleenet_ref",
                         zoo_backbone("csppeleenet_ref"), Neck::prn_3l, in320, 80, false));
  zoo.push_back(detector("csppeleenet_ref-efm-sam", "CSPPeleeNet Ref.-EFM (SAM)", "csppeleenet_ref",
                         zoo_backbone("csppeleenet_ref"), Neck::efm_sam, in320, 80, false));

  zoo.push_back(detector("cspdarknet53-panet-spp", "CSPDarknet53-PANet-SPP", "cspdarknet53",
                         zoo_backbone("cspdarknet53"), Neck::panet_spp, detector_input(416, detector_training_keys(4)), 80, false,
                         std::nullopt, "csdarknet53-panet-spp.cfg"));
  zoo.push_back(detector("cspresnext50-panet-spp", "CSPResNeXt50-PANet-SPP", "cspresnext50",
                         zoo_backbone("cspresnext50"), Neck::panet_spp, detector_input(416, detector_training_keys()),
                         80, false, std::nullopt, "csresnext50-panet-spp.cfg"));
  zoo.push_back(detector("cspresnet50-panet-spp", "CSPResNet50-PANet-SPP", "cspresnet50", zoo_backbone("cspresnet50"),
                         Neck::panet_spp, detector_input(416, detector_training_keys()), 80, false));

  // Laptop-sized ablation: the same heads on a small CSPPeleeNet, 10 classes.
  const NetInput small = detector_input(160, {{"batch", "32"},
                                              {"subdivisions", "1"},
                                              {"momentum", "0.9"},
                                              {"decay", "0.0005"},
                                              {"learning_rate", "0.001"},
                                              {"burn_in", "200"},
                                              {"max_batches", "20000"},
                                              {"policy", "steps"},
                                              {"steps", "16000,18000"},
                                              {"scales", ".1,.1"}});
  for (const auto& row : kTable2)
    zoo.push_back(detector(std::string("csppeleenet-small-") + row.suffix,
                           std::string("CSPPeleeNet (small)-") + row.paper_suffix, "csppeleenet-det-small",
                           zoo_detail::small_detection_peleenet, row.neck, small, 10, true));
  return zoo;
}

}  // namespace

const std::vector<DetectorModel>& detector_models() {
  static const std::vector<DetectorModel> zoo = all_detectors();
  return zoo;
}

bool is_detector_model(const std::string& name) {
  const auto& zoo = detector_models();
  return std::any_of(zoo.begin(), zoo.end(), [&](const DetectorModel& m) { return m.name == name; });
}

int64_t neck_map_bytes(const DetectorModel& model, const Network& net) {
  NetInput input = model.input;
  input.width = net.config().width;
  input.height = net.config().height;
  const int first = model.build_backbone(input).builder.layers();
  if (first > net.size()) throw Error(model.name + ": the network has fewer layers than its backbone");
  int64_t elements = 0;
  for (int i = first; i < net.size(); ++i)
    if (net.layer(i).type() != "route") elements += net.layer(i).output_shape().per_image();
  return elements * int64_t(sizeof(float));
}

const DetectorModel& detector_model(const std::string& name) {
  const auto& zoo = detector_models();
  auto it = std::find_if(zoo.begin(), zoo.end(), [&](const DetectorModel& m) { return m.name == name; });
  if (it != zoo.end()) return *it;
  std::string names;
  for (const auto& m : zoo) names += (names.empty() ? "" : ", ") + m.name;
  throw Error("unknown detector model '" + name + "'; the detector zoo has: " + names);
}

}  // namespace cspnet
