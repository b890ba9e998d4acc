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
    std::string text = "layer,readers,mean_cosine,diversity,batches\n";
    for (const FanOutGradients& f : report.fan_outs) {
      std::string readers;
      for (int r : f.readers) readers += (readers.empty() ? "" : " ") + std::to_string(r);
      char line[160];
      std::snprintf(line, sizeof line, "%d,%s,%.6g,%.6g,%d\n", f.layer, readers.c_str(), f.mean_cosine, f.diversity,
                    f.batches);
      text += line;
    }
    write_file_atomically(csv_, text);
  }
  if (json_) {
    nlohmann::json j = {{"network", report.network}, {"batches", report.batches}, {"batch", report.batch}};
    for (const StageGradients& s : report.stages)
      j["stages"].push_back({{"name", s.name}, {"first_layer", s.first_layer}, {"last_layer", s.last_layer},
                             {"fan_outs", s.fan_outs}, {"mean_cosine", number(s.mean_cosine)},
                             {"diversity", number(s.diversity)}});
    for (const FanOutGradients& f : report.fan_outs)
      j["tensors"].push_back({{"layer", f.layer}, {"readers", f.readers}, {"mean_cosine", number(f.mean_cosine)},
                              {"diversity", number(f.diversity)}});
    std::cout << j.dump(2) << '\n';
    return 0;
  }
  std::printf("%s: %d batches of %d images (%s)\n", report.network.c_str(), report.batches, report.batch,
              data->describe().c_str());
  std::printf("  %-12s %8s %9s %12s %10s\n", "stage", "layers", "fan-outs", "mean cosine", "diversity");
  for (const StageGradients& s : report.stages)
    std::printf("  %-12s %3d..%-4d %9d %12.3f %10.3f\n", s.name.c_str(), s.first_layer, s.last_layer, s.fan_outs,
                s.mean_cosine, s.diversity);
  std::printf("diversity = sum ||g_i||^2 / ||sum g_i||^2 over a tensor's readers: 1/n identical, 1 orthogonal\n");
  return 0;
}

}  // namespace cspnet::cli
