#include "analyze_commands.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <tuple>

#include "cli_parse.hpp"
#include "cspnet/analysis.hpp"
#include "cspnet/error.hpp"
#include "cspnet/zoo.hpp"

namespace cspnet::cli {
namespace {

double percent(double value, double base) { return base != 0 ? 100.0 * (value - base) / base : 0.0; }

nlohmann::json stage_json(const StageFigures& s) {
  return {{"name", s.name},           {"first_layer", s.first_layer}, {"last_layer", s.last_layer},
          {"parameters", s.parameters}, {"conv_weights", s.conv_weights}, {"bflops", s.bflops},
          {"cio", s.cio},             {"time_ms", s.time_ms}};
}

void print_network(const NetworkFigures& f) {
  std::printf("%s at %dx%d\n", f.name.c_str(), f.width, f.height);
  std::printf("  %-14s %7s %12s %11s %9s %10s %9s\n", "stage", "layers", "parameters", "conv wts M", "BFLOPs",
              "CIO M", "ms");
  auto row = [](const StageFigures& s) {
    const std::string layers = std::to_string(s.first_layer) + "-" + std::to_string(s.last_layer);
    std::printf("  %-14s %7s %12lld %11.3f %9.3f %10.3f %9.2f\n", s.name.c_str(), layers.c_str(),
                (long long)s.parameters, double(s.conv_weights) / 1e6, s.bflops, double(s.cio) / 1e6, s.time_ms);
  };
  for (const StageFigures& s : f.stages) row(s);
  row(f.total);
  std::printf("  planned activation memory (inference, batch 1): %.2f MiB\n", double(f.inference_peak_bytes) / (1 << 20));
  if (f.training_batch > 0)
    std::printf("  training memory at batch %d: %.2f MiB\n", f.training_batch, double(f.training_bytes) / (1 << 20));
}

void print_comparison(const std::vector<NetworkFigures>& all) {
  const NetworkFigures& base = all.front();
  std::printf("\nagainst %s:\n  %-24s %12s %9s %10s %11s %9s\n", base.name.c_str(), "network", "parameters",
              "BFLOPs", "CIO M", "memory MiB", "ms");
  for (const NetworkFigures& f : all) {
    std::printf("  %-24s %12lld %9.3f %10.3f %11.2f %9.2f\n", f.name.c_str(), (long long)f.total.parameters,
                f.total.bflops, double(f.total.cio) / 1e6, double(f.inference_peak_bytes) / (1 << 20),
                f.total.time_ms);
    if (&f == &base) continue;
    std::printf("  %-24s %+11.1f%% %+8.1f%% %+9.1f%% %+10.1f%% %+8.1f%%\n", "", percent(double(f.total.parameters), double(base.total.parameters)),
                percent(f.total.bflops, base.total.bflops), percent(double(f.total.cio), double(base.total.cio)),
                percent(double(f.inference_peak_bytes), double(base.inference_peak_bytes)),
                percent(f.total.time_ms, base.total.time_ms));
  }
}

}  // namespace

void AnalyzeCommand::add_to(CLI::App& app) {
  command_ = app.add_subcommand("analyze",
                                "per stage: parameters, conv weights, BFLOPs, CIO memory traffic, memory, time; "
                                "several networks side by side");
  command_->add_option("models", models_, "cfg files or zoo model names; the first is the baseline")->required();
  command_->add_option("--size", size_, "input size WxH (default: each model's)");
  command_->add_flag("--json", json_, "machine-readable output");
  command_->add_option("--plot", plot_, "also write the totals as a bar chart relative to the first model (.png or .svg)");
  command_->add_option("--runs", runs_, "timed forwards for per-stage times (0: not timed)")
      ->check(non_negative_number());
  command_->add_option("--train-batch", training_batch_, "also plan training memory at this batch")
      ->check(non_negative_number());
}

int AnalyzeCommand::run() const {
  int width = 0, height = 0;
  if (!size_.empty()) std::tie(width, height) = parse_size(size_);
  AnalysisOptions options;
  options.runs = runs_;
  options.training_batch = training_batch_;
  if (!plot_.empty() && std::filesystem::path(plot_).extension() != ".svg" &&
      std::filesystem::path(plot_).extension() != ".png")
    throw UsageError("--plot " + plot_ + ": expected a .png or .svg file name");
  std::vector<NetworkFigures> all;
  for (const std::string& model : models_) {
    Network net = load_cfg_or_zoo(model, width, height);
    all.push_back(analyze(net, options));
  }
  if (!plot_.empty()) write_analysis_plot(plot_, all);
  if (json_) {
    nlohmann::json out = nlohmann::json::array();
    for (const NetworkFigures& f : all) {
      nlohmann::json stages = nlohmann::json::array();
      for (const StageFigures& s : f.stages) stages.push_back(stage_json(s));
      out.push_back({{"name", f.name},
                     {"width", f.width},
                     {"height", f.height},
                     {"stages", stages},
                     {"total", stage_json(f.total)},
                     {"inference_peak_bytes", f.inference_peak_bytes},
                     {"training_batch", f.training_batch},
                     {"training_bytes", f.training_bytes}});
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (const NetworkFigures& f : all) {
    print_network(f);
    std::printf("\n");
  }
  std::printf("CIO: the sum over convolution layers of their input and output feature-map elements per image\n"
              "(HarDNet's memory-traffic measure, used by the CSPNet paper), at the sizes shown.\n");
  if (all.size() > 1) print_comparison(all);
  return 0;
}

}  // namespace cspnet::cli
