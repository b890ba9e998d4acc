#include "demo_command.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli_parse.hpp"
#include "forward_timing.hpp"
#include "cspnet/analysis.hpp"
#include "cspnet/data_source.hpp"
#include "cspnet/distributed.hpp"
#include "cspnet/error.hpp"
#include "cspnet/executor.hpp"
#include "cspnet/file_output.hpp"
#include "cspnet/gradient_duplication.hpp"
#include "cspnet/progress.hpp"
#include "cspnet/trainer.hpp"
#include "cspnet/weights.hpp"
#include "cspnet/zoo.hpp"

namespace cspnet::cli {
namespace {

namespace fs = std::filesystem;

// One baseline and its CSP version, and how many epochs each trains.
struct DemoPair {
  std::string baseline, csp;
  int epochs;
};

struct ModelResult {
  std::string name;
  NetworkFigures figures;
  double train_images_per_second = 0, test_top1 = 0, inference_images_per_second = 0;
  double train_seconds = 0, mean_diversity = NAN;
  TimedModel trained;  // the run's cfg and final weights
};

std::vector<DemoPair> demo_pairs(bool quick, bool full) {
  if (quick) return {{"darknet-small", "cspdarknet-small", 1}};
  if (full)
    return {{"darknet-small", "cspdarknet-small", 20}, {"resnet-small", "cspresnet-small", 20},
            {"resnext-small", "cspresnext-small", 20}, {"densenet-small", "cspdensenet-small", 20},
            {"peleenet-small", "csppeleenet-small", 20}, {"mobilenetv2-small", "cspmobilenetv2-small", 20}};
  return {{"darknet-small", "cspdarknet-small", 3}, {"densenet-small", "cspdensenet-small", 2}};
}

// Batch-64 inference images/s of a baseline and its CSP version, timed
// side by side (round-robin, lowest of 5 medians of 5 runs each). Timed one
// after the other's training, minutes apart, one figure could be a third off
// on a shared machine.
void measure_inference(ModelResult& baseline, ModelResult& csp) {
  const std::vector<double> ms = round_robin_forward_ms({baseline.trained, csp.trained}, 5, 5);
  baseline.inference_images_per_second = baseline.trained.batch / (ms[0] / 1e3);
  csp.inference_images_per_second = csp.trained.batch / (ms[1] / 1e3);
}

std::string percent(double value, double base) {
  if (!std::isfinite(value) || !std::isfinite(base) || base == 0) return "";
  char text[32];
  std::snprintf(text, sizeof text, "%+.1f%%", 100 * (value - base) / base);
  return text;
}

ModelResult run_model(const std::string& name, int epochs, const std::string& out, const std::string& data,
                      uint64_t seed) {
  ModelResult r;
  r.name = name;
  Network net = zoo_network(name);
  AnalysisOptions analysis;
  analysis.training_batch = 64;
  r.figures = analyze(net, analysis);
  std::cout << "== " << name << ": training " << epochs << " epoch(s)" << std::endl;
  TrainOptions options;
  options.cfg = name;
  options.data = data;
  options.out_dir = out + "/" + name;
  options.epochs = epochs;
  options.seed = seed;
  options.exist_ok = true;
  options.log_seconds = 30;
  options.progress_line = stderr_is_terminal();
  const TrainSummary s = train(options, std::cout);
  r.train_images_per_second = s.images_per_second;
  r.test_top1 = s.test_top1;
  r.train_seconds = s.seconds;
  r.trained = {options.out_dir + "/" + name + ".cfg", s.weights_path, 64};
  // Gradient diversity on the trained weights, a few training batches.
  Network probe = Network::from_cfg_file(options.out_dir + "/" + name + ".cfg");
  load_weights(probe, s.weights_path);
  const NetConfig& c = probe.config();
  const auto source = make_data_source(data, true, c.channels, c.height, c.width);
  const GradientReport gradients = measure_gradient_duplication(probe, *source, 4, 32, seed);
  double sum = 0;
  int count = 0;
  for (const FanOutGradients& f : gradients.fan_outs)
    if (std::isfinite(f.diversity)) sum += f.diversity, ++count;
  if (count) r.mean_diversity = sum / count;
  return r;
}

std::string report_table(const std::vector<std::pair<ModelResult, ModelResult>>& pairs) {
  std::string text =
      "| model | params | BFLOPs | CIO (M) | train memory (MiB, b64) | train img/s | infer img/s | test top-1 | "
      "grad. diversity |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  char row[512];
  auto line = [&](const ModelResult& m, const ModelResult* base) {
    const NetworkFigures& f = m.figures;
    const auto change = [&](double v, double b) { return base ? " (" + percent(v, b) + ")" : std::string(); };
    std::snprintf(row, sizeof row, "| %s | %lld%s | %.4f%s | %.2f%s | %.1f%s | %.0f%s | %.0f%s | %.2f%% | %.3f |\n",
                  m.name.c_str(), (long long)f.total.parameters,
                  change(double(f.total.parameters), base ? double(base->figures.total.parameters) : 0).c_str(),
                  f.total.bflops, change(f.total.bflops, base ? base->figures.total.bflops : 0).c_str(),
                  double(f.total.cio) / 1e6, change(double(f.total.cio), base ? double(base->figures.total.cio) : 0).c_str(),
                  double(f.training_bytes) / 1048576.0,
                  change(double(f.training_bytes), base ? double(base->figures.training_bytes) : 0).c_str(),
                  m.train_images_per_second,
                  change(m.train_images_per_second, base ? base->train_images_per_second : 0).c_str(),
                  m.inference_images_per_second,
                  change(m.inference_images_per_second, base ? base->inference_images_per_second : 0).c_str(),
                  100 * m.test_top1, m.mean_diversity);
    text += row;
  };
  for (const auto& [baseline, csp] : pairs) {
    line(baseline, nullptr);
    line(csp, &baseline);
  }
  return text;
}

}  // namespace

void DemoCommand::add_to(CLI::App& app) {
  command_ = app.add_subcommand("demo", "baselines against their CSP versions, trained and measured side by side");
  command_->add_flag("--quick", quick_, "one pair, one epoch (about 2 minutes on 2 cores)");
  command_->add_flag("--full", full_, "every small pair of the zoo, 20 epochs each (hours)");
  command_->add_option("--epochs", epochs_, "epochs per model (overrides the preset)")->check(positive_number());
  command_->add_option("--data", data_, "as for train (default: Fashion-MNIST)");
  command_->add_option("--out", out_, "folder for the runs and report.md");
  command_->add_option("--seed", seed_, "seed of every run");
}

int DemoCommand::run() const {
  if (quick_ && full_) throw UsageError("demo: --quick and --full exclude each other");
  std::vector<std::pair<ModelResult, ModelResult>> results;
  const auto start = std::chrono::steady_clock::now();
  for (const DemoPair& pair : demo_pairs(quick_, full_)) {
    const int epochs = epochs_ > 0 ? epochs_ : pair.epochs;
    ModelResult baseline = run_model(pair.baseline, epochs, out_, data_, seed_);
    ModelResult csp = run_model(pair.csp, epochs, out_, data_, seed_);
    measure_inference(baseline, csp);
    results.emplace_back(std::move(baseline), std::move(csp));
  }
  if (world_rank() != 0) return 0;
  const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;
  const std::string table = report_table(results);
  std::string report = "# cspnet demo\n\nBaselines and their CSP versions from the zoo, trained from scratch on " +
                       data_ + " with the same recipe and seed (" + std::to_string(seed_) +
                       "); percentages are against the baseline above each CSP row. Gradient diversity: the mean over "
                       "fan-out tensors of sum ||g_i||^2 / ||sum g_i||^2 on the trained weights (1/n identical "
                       "contributions, 1 orthogonal).\n\n" +
                       table;
  char tail[128];
  std::snprintf(tail, sizeof tail, "\n%.1f minutes in total. Each run's log.csv and curves.png: %s/<model>/.\n", minutes,
                out_.c_str());
  report += tail;
  fs::create_directories(out_);
  // One bar chart per pair: the CSP model's totals relative to its baseline.
  std::string charts;
  for (const auto& [baseline, csp] : results) {
    const std::string chart = baseline.name + "-vs-" + csp.name + ".png";
    write_analysis_plot(out_ + "/" + chart, {baseline.figures, csp.figures});
    report += "\n![" + csp.name + " relative to " + baseline.name + "](" + chart + ")\n";
    charts += ", " + chart;
  }
  write_file_atomically(out_ + "/report.md", report);
  std::cout << "\n" << table << tail << "wrote " << out_ << "/report.md" << charts << "\n";
  return 0;
}

}  // namespace cspnet::cli
