#include "gradients_command.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli_parse.hpp"
#include "cspnet/data_source.hpp"
#include "cspnet/file_output.hpp"
#include "cspnet/gradient_duplication.hpp"
#include "cspnet/weights.hpp"

namespace cspnet::cli {

void GradientsCommand::add_to(CLI::App& app) {
  command_ = app.add_subcommand("gradients",
                                "duplicate gradient information: how alike the gradients of a tensor's readers are");
  command_->add_option("model", model_, "cfg file or zoo model name")->required();
  command_->add_option("--weights", weights_, "darknet .weights (default: random, seed --seed)");
  command_->add_option("--data", data_, "as for train (default: Fashion-MNIST)");
  command_->add_option("--batches", batches_, "backward passes to average over")->check(positive_number());
  command_->add_option("--batch", batch_, "images per pass")->check(positive_number());
  command_->add_option("--seed", seed_, "seed of the batch order (and of random weights)");
  command_->add_option("--csv", csv_, "also write the per-tensor figures as CSV");
  command_->add_flag("--json", json_, "machine-readable output");
}

int GradientsCommand::run() const {
  Network net = load_cfg_or_zoo(model_);
  if (weights_.empty()) init_weights(net, seed_);
  else load_weights(net, weights_);
  const NetConfig& c = net.config();
  const auto data = make_data_source(data_, true, c.channels, c.height, c.width);
  const GradientReport report = measure_gradient_duplication(net, *data, batches_, batch_, seed_);
  auto number = [](double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); };
  if (!csv_.empty()) {
    // fan-out: a tensor's direct readers' gradient contributions; writer-gradient and writer-weights: a
    // weighted layer's readers through routes, their contributions and their weight-gradient shares.
    std::string text = "kind,layer,readers,mean_cosine,diversity,batches\n";
    auto row = [&](const char* kind, int layer, const std::vector<int>& readers, double cosine, double diversity,
                   int batches) {
      std::string names;
      for (int r : readers) names += (names.empty() ? "" : " ") + std::to_string(r);
      char numbers[80];
      std::snprintf(numbers, sizeof numbers, "%.6g,%.6g,%d\n", cosine, diversity, batches);
      text += std::string(kind) + "," + std::to_string(layer) + "," + names + "," + numbers;
    };
    for (const FanOutGradients& f : report.fan_outs)
      row("fan-out", f.layer, f.readers, f.mean_cosine, f.diversity, f.batches);
    for (const WeightUpdateShares& w : report.weight_updates) {
      row("writer-gradient", w.layer, w.readers, w.feature_mean_cosine, w.feature_diversity, w.batches);
      row("writer-weights", w.layer, w.readers, w.mean_cosine, w.diversity, w.batches);
    }
    write_file_atomically(csv_, text);
  }
  if (json_) {
    nlohmann::json j = {{"network", report.network}, {"batches", report.batches}, {"batch", report.batch}};
    for (const StageGradients& s : report.stages)
      j["stages"].push_back({{"name", s.name}, {"first_layer", s.first_layer}, {"last_layer", s.last_layer},
                             {"fan_outs", s.fan_outs}, {"mean_cosine", number(s.mean_cosine)},
                             {"diversity", number(s.diversity)}, {"weighted_layers", s.weighted_layers},
                             {"weight_mean_cosine", number(s.weight_mean_cosine)},
                             {"weight_diversity", number(s.weight_diversity)}});
    for (const FanOutGradients& f : report.fan_outs)
      j["tensors"].push_back({{"layer", f.layer}, {"readers", f.readers}, {"mean_cosine", number(f.mean_cosine)},
                              {"diversity", number(f.diversity)}});
    for (const WeightUpdateShares& w : report.weight_updates)
      j["weight_updates"].push_back({{"layer", w.layer}, {"readers", w.readers},
                                     {"feature_mean_cosine", number(w.feature_mean_cosine)},
                                     {"feature_diversity", number(w.feature_diversity)},
                                     {"mean_cosine", number(w.mean_cosine)}, {"diversity", number(w.diversity)}});
    std::cout << j.dump(2) << '\n';
    return 0;
  }
  std::printf("%s: %d batches of %d images (%s)\n", report.network.c_str(), report.batches, report.batch,
              data->describe().c_str());
  std::printf("  %-12s %8s %9s %12s %10s %8s %13s %12s\n", "stage", "layers", "fan-outs", "mean cosine", "diversity",
              "weighted", "weight cosine", "weight div.");
  for (const StageGradients& s : report.stages)
    std::printf("  %-12s %3d..%-4d %9d %12.3f %10.3f %8d %13.3f %12.3f\n", s.name.c_str(), s.first_layer,
                s.last_layer, s.fan_outs, s.mean_cosine, s.diversity, s.weighted_layers, s.weight_mean_cosine,
                s.weight_diversity);
  std::printf(
      "diversity = sum ||g_i||^2 / ||sum g_i||^2 over a tensor's readers: 1/n identical, 1 orthogonal\n"
      "weighted: layers with weights read by several layers (directly or through routes); weight cosine and\n"
      "diversity: the same statistics of each reader's share of such a layer's weight gradient\n");
  return 0;
}

}  // namespace cspnet::cli
