#pragma once
// The model zoo: every backbone of the CSPNet paper next to its baseline,
// built by the same code (ModelBuilder + CspStage), plus small versions of
// each family for 28x28/32x32 inputs. docs/zoo.md lists them with the
// paper's figures and explains every architecture choice.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cspnet/csp_stage.hpp"
#include "cspnet/model_builder.hpp"
#include "cspnet/network.hpp"

namespace cspnet {

// Figures as the paper (Tables 1 and 3) and its release README print them.
struct PaperFigures {
  double conv_weights_m = 0;  // convolution weights, millions
  double bflops = 0;          // darknet BFLOPs
  int size = 256;             // the input side they are measured at
};

struct ZooModel {
  std::string name;        // the zoo's name, e.g. "cspdarknet53"
  std::string paper_name;  // as the paper names it, e.g. "CSPDarknet-53"
  std::string family;      // darknet, reference, resnet, resnext, densenet, peleenet, mobilenetv2, small
  std::string baseline;    // the zoo name of the model it is the CSP version of; empty for a baseline
  NetInput input;          // default input (and [net] training keys)
  std::optional<PaperFigures> paper;
  std::string official_cfg;  // the release cfg (in ../shared/cfg) it reproduces exactly; empty if none
  std::function<ModelBuilder(const NetInput&)> build;
};

const std::vector<ZooModel>& zoo_models();
// Throws cspnet::Error listing the zoo's names when `name` is not one.
const ZooModel& zoo_model(const std::string& name);

// The model's generated cfg, for its default input or a given one.
CfgFile zoo_cfg(const std::string& name);
CfgFile zoo_cfg(const std::string& name, const NetInput& input);
Network zoo_network(const std::string& name);

// PeleeNet ablation (paper Table 1): the baseline and every combination of
// part ratio (0.25, 0.5, 0.75) and fusion (fusion_first, fusion_last, csp),
// with either split, at 224x224.
struct AblationRow {
  std::string label;  // e.g. "gamma=0.50 fusion_last"
  double gamma = 0;   // 0 for the baseline
  Fusion fusion = Fusion::none;
  Split split = Split::channel_slice;
  int64_t conv_weights = 0;
  double bflops = 0;  // convolution BFLOPs
};
std::vector<AblationRow> peleenet_ablation(Split split);
// One PeleeNet ablation variant as a model (Fusion::none: the baseline).
ModelBuilder peleenet_variant(const NetInput& input, double gamma, Fusion fusion, Split split);

}  // namespace cspnet
