#include "zoo_commands.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <tuple>
#include <nlohmann/json.hpp>

#include "cli_parse.hpp"
#include "cspnet/error.hpp"
#include "cspnet/necks.hpp"
#include "cspnet/zoo.hpp"

namespace cspnet::cli {
namespace {

struct Counts {
  int64_t parameters = 0, conv_weights = 0;
  double bflops = 0;  // convolutions, darknet's definition
};

Counts count(const ZooModel& model, int size) {
  NetInput input = model.input;
  input.width = input.height = size;
  Network net = model.build(input).build();
  return Counts{net.parameter_count(), net.conv_weight_count(), net.conv_bflops()};
}

double percent(double ours, double paper) { return 100.0 * (ours / paper - 1.0); }

int print_zoo(const std::string& family, bool json) {
  nlohmann::json rows = nlohmann::json::array();
  if (!json)
    std::printf("%-24s %-26s %5s %11s %10s %8s | %9s %8s %7s %7s  %s\n", "model", "paper name", "size", "parameters",
                "conv wts M", "BFLOPs", "paper M", "paper BF", "dW%", "dBF%", "reproduces");
  bool any = false;
  for (const auto& model : zoo_models()) {
    if (!family.empty() && model.family != family) continue;
    any = true;
    // Measured at the paper's input size where it reports figures.
    const int size = model.paper ? model.paper->size : model.input.width;
    const Counts c = count(model, size);
    if (json) {
      nlohmann::json row = {{"name", model.name},
                            {"paper_name", model.paper_name},
                            {"family", model.family},
                            {"baseline", model.baseline},
                            {"size", size},
                            {"parameters", c.parameters},
                            {"conv_weights", c.conv_weights},
                            {"bflops", c.bflops},
                            {"official_cfg", model.official_cfg}};
      if (model.paper)
        row["paper"] = {{"conv_weights_m", model.paper->conv_weights_m},
                        {"bflops", model.paper->bflops},
                        {"size", model.paper->size}};
      rows.push_back(row);
      continue;
    }
    std::printf("%-24s %-26s %5d %11lld %10.3f %8.3f |", model.name.c_str(), model.paper_name.c_str(), size,
                (long long)c.parameters, c.conv_weights / 1e6, c.bflops);
    if (model.paper)
      std::printf(" %9.2f %8.3f %+7.1f %+7.1f", model.paper->conv_weights_m, model.paper->bflops,
                  percent(c.conv_weights / 1e6, model.paper->conv_weights_m), percent(c.bflops, model.paper->bflops));
    else
      std::printf(" %9s %8s %7s %7s", "-", "-", "", "");
    std::printf("  %s\n", model.official_cfg.c_str());
  }
  if (!any) throw UsageError("--family: no zoo model has family '" + family + "'");
  if (json) {
    std::cout << rows.dump(2) << "\n";
  } else {
    std::printf(
        "\nconv wts = convolution weights; BFLOPs = 2*K*K*Cin/groups*Cout*Hout*Wout/1e9 over convolutions.\n"
        "Models with a 'reproduces' cfg are identical to that cfg of the paper's release. docs/zoo.md\n"
        "explains every other architecture and each difference from the paper's figures.\n");
  }
  return 0;
}

// The detector zoo, at the paper's size where Table 2 has the row (320),
// else at the model's own input (416 for the PANet-SPP detectors).
int print_detectors(bool json) {
  nlohmann::json rows = nlohmann::json::array();
  if (!json)
    std::printf("%-26s %-30s %5s %11s %10s %8s %5s %8s | %8s %7s  %s\n", "detector", "paper name", "size", "parameters",
                "conv wts M", "BFLOPs", "heads", "neck MiB", "paper BF", "dBF%", "reproduces");
  for (const auto& model : detector_models()) {
    NetInput input = model.input;
    if (model.paper) input.width = input.height = model.paper->size;
    Network net = model.build(input).build();
    const int heads = static_cast<int>(net.output_layers().size());
    const int64_t neck_bytes = neck_map_bytes(model, net);
    if (json) {
      nlohmann::json row = {{"name", model.name},          {"paper_name", model.paper_name},
                            {"backbone", model.backbone},  {"size", input.width},
                            {"parameters", net.parameter_count()}, {"conv_weights", net.conv_weight_count()},
                            {"bflops", net.conv_bflops()}, {"heads", heads},
                            {"small", model.small},        {"official_cfg", model.official_cfg},
                            {"neck_map_bytes", neck_bytes}};
      if (model.paper) row["paper"] = {{"bflops", model.paper->bflops}, {"size", model.paper->size}};
      rows.push_back(row);
      continue;
    }
    std::printf("%-26s %-30s %5d %11lld %10.3f %8.3f %5d %8.2f |", model.name.c_str(), model.paper_name.c_str(),
                input.width, (long long)net.parameter_count(), net.conv_weight_count() / 1e6, net.conv_bflops(), heads,
                double(neck_bytes) / (1 << 20));
    if (model.paper)
      std::printf(" %8.3f %+7.1f", model.paper->bflops, percent(net.conv_bflops(), model.paper->bflops));
    else
      std::printf(" %8s %7s", "-", "");
    std::printf("  %s\n", model.official_cfg.c_str());
  }
  if (json)
    std::cout << rows.dump(2) << "\n";
  else
    std::printf(
        "\npaper BF = the paper's Table 2 (EFM ablation on CSPPeleeNet, 320x320). The paper gives no layers for\n"
        "CEM/GFM/EFM: docs/zoo.md (Detectors) gives our choices and why each row differs. Models with a\n"
        "'reproduces' cfg are identical to that cfg of the release. neck MiB: one image's feature maps computed\n"
        "after the backbone (fp32; concatenations counted once, in their inputs).\n");
  return 0;
}

int print_ablation(const std::string& family, bool json) {
  if (family != "peleenet") throw UsageError("--ablation: only 'peleenet' (the paper's Table 1) is available");
  nlohmann::json out = nlohmann::json::array();
  for (Split split : {Split::channel_slice, Split::convolution}) {
    const auto rows = peleenet_ablation(split);
    const double base = rows.front().bflops;
    if (!json)
      std::printf(
          "PeleeNet ablation at 224x224, split by %s:\n  %-28s %10s %8s %8s\n",
          split == Split::channel_slice ? "channel slice (paper Fig. 3)" : "two 1x1 convolutions (release cfgs)",
          "variant", "conv wts M", "BFLOPs", "vs base");
    for (const auto& r : rows) {
      if (json) {
        out.push_back({{"split", split_name(split)},
                       {"label", r.label},
                       {"gamma", r.gamma},
                       {"fusion", fusion_name(r.fusion)},
                       {"conv_weights", r.conv_weights},
                       {"bflops", r.bflops},
                       {"change_percent", percent(r.bflops, base)}});
        continue;
      }
      std::printf("  %-28s %10.3f %8.3f %+7.1f%%\n", r.label.c_str(), r.conv_weights / 1e6, r.bflops,
                  percent(r.bflops, base));
    }
    if (!json) std::printf("\n");
  }
  if (json)
    std::cout << out.dump(2) << "\n";
  else
    std::printf(
        "The paper (Table 1 text): fusion last cuts the computation by about 21%% at -0.1%% top-1;\n"
        "CSPPeleeNet (zoo: csppeleenet = the gamma=0.50 fusion_last row of the convolution split) cuts 13%%.\n");
  return 0;
}

}  // namespace

void ZooCommands::add_to(CLI::App& app) {
  zoo_ = app.add_subcommand("zoo", "list the model zoo: parameters, conv weights, BFLOPs beside the paper's");
  zoo_->add_flag("--json", json_, "machine-readable output");
  zoo_->add_option("--family", family_,
                   "only this family (darknet, reference, resnet, resnext, densenet, peleenet, "
                   "mobilenetv2, small)");
  zoo_->add_flag("--detectors", detectors_, "list the detector zoo (necks and heads on zoo backbones)");
  zoo_->add_option("--ablation", ablation_, "the paper's ablation for a family: peleenet (Table 1)");

  export_ = app.add_subcommand("export-cfg", "write a zoo model as a darknet .cfg");
  export_->add_option("name", name_, "zoo model or detector name (see cspnet zoo, cspnet zoo --detectors)")->required();
  export_->add_option("out", out_, "output .cfg")->required();
  export_->add_option("--size", size_, "input size WxH (default: the model's)");
  export_->add_option("--channels", channels_, "input channels (default: the model's)")->check(positive_number());
}

bool ZooCommands::selected() const { return (zoo_ && *zoo_) || (export_ && *export_); }

int ZooCommands::run() const {
  if (*zoo_) {
    if (detectors_) return print_detectors(json_);
    return ablation_.empty() ? print_zoo(family_, json_) : print_ablation(ablation_, json_);
  }
  if (is_detector_model(name_)) return export_detector();
  const ZooModel* found = nullptr;
  try {
    found = &zoo_model(name_);
  } catch (const Error& e) {
    throw UsageError(std::string(e.what()) + "; or a detector: see cspnet zoo --detectors");
  }
  const ZooModel& model = *found;
  NetInput input = model.input;
  if (!size_.empty()) {
    std::tie(input.width, input.height) = parse_size(size_);
  }
  if (channels_ > 0) input.channels = channels_;
  const ModelBuilder built = model.build(input);
  Network net = built.build();  // validates before anything is written
  write_cfg_file(built.cfg(), out_);
  std::printf("wrote %s: %s (%s), %d layers, %lld conv weights, %.3f BFLOPs at %dx%d\n", out_.c_str(),
              model.name.c_str(), model.paper_name.c_str(), net.size(), (long long)net.conv_weight_count(),
              net.conv_bflops(), input.width, input.height);
  return 0;
}

int ZooCommands::export_detector() const {
  const DetectorModel& model = detector_model(name_);
  NetInput input = model.input;
  if (!size_.empty()) std::tie(input.width, input.height) = parse_size(size_);
  if (channels_ > 0) input.channels = channels_;
  const ModelBuilder built = model.build(input);
  Network net = built.build();  // validates before anything is written
  write_cfg_file(built.cfg(), out_);
  std::printf("wrote %s: %s (%s), %d layers, %zu yolo heads, %lld conv weights, %.3f BFLOPs at %dx%d\n", out_.c_str(),
              model.name.c_str(), model.paper_name.c_str(), net.size(), net.output_layers().size(),
              (long long)net.conv_weight_count(), net.conv_bflops(), input.width, input.height);
  return 0;
}

}  // namespace cspnet::cli
