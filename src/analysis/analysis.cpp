#include "cspnet/analysis.hpp"

#include <algorithm>

#include "cspnet/executor.hpp"
#include "cspnet/training.hpp"

namespace cspnet {
namespace {

// Convolution input and output elements per image (CIO's terms).
int64_t conv_io(const Layer& layer) {
  if (layer.kind() != LayerKind::convolutional) return 0;
  return layer.input_shapes().at(0).per_image() + layer.output_shape().per_image();
}

void add_layer(StageFigures& stage, const Layer& layer) {
  stage.parameters += layer.parameter_count();
  stage.conv_weights += layer.conv_weight_count();
  stage.bflops += layer.bflops();
  stage.cio += conv_io(layer);
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

// Median over `runs` forwards of each stage's summed layer times.
void time_stages(Network& net, int runs, std::vector<StageFigures>& stages) {
  ExecOptions options;
  options.profile_layers = true;
  Executor executor(net, options);
  const Tensor input(net.input_shape());
  executor.forward(input);  // warm-up
  std::vector<std::vector<double>> per_stage(stages.size());
  for (int run = 0; run < runs; ++run) {
    executor.forward(input);
    const std::vector<double>& layer_ms = executor.layer_times_ms();
    for (size_t s = 0; s < stages.size(); ++s) {
      double sum = 0;
      for (int i = stages[s].first_layer; i <= stages[s].last_layer; ++i) sum += layer_ms[size_t(i)];
      per_stage[s].push_back(sum);
    }
  }
  for (size_t s = 0; s < stages.size(); ++s) stages[s].time_ms = median(per_stage[s]);
}

}  // namespace

std::vector<std::pair<int, int>> resolution_stages(const Network& net) {
  std::vector<std::pair<int, int>> stages;
  for (int i = 0; i < net.size(); ++i) {
    const Shape& out = net.layer(i).output_shape();
    const bool same = !stages.empty() && net.layer(stages.back().second).output_shape().h == out.h &&
                      net.layer(stages.back().second).output_shape().w == out.w;
    if (same)
      stages.back().second = i;
    else
      stages.emplace_back(i, i);
  }
  return stages;
}

NetworkFigures analyze(Network& net, const AnalysisOptions& options) {
  const int width = net.config().width, height = net.config().height;
  net.reshape(width, height, 1);
  NetworkFigures figures;
  figures.name = net.name();
  figures.width = width;
  figures.height = height;
  figures.total.name = "total";
  figures.total.first_layer = 0;
  figures.total.last_layer = net.size() - 1;
  for (const auto& [first, last] : resolution_stages(net)) {
    StageFigures stage;
    const Shape& out = net.layer(last).output_shape();
    stage.name = std::to_string(figures.stages.size() + 1) + ": " + std::to_string(out.w) + "x" + std::to_string(out.h);
    stage.first_layer = first;
    stage.last_layer = last;
    for (int i = first; i <= last; ++i) {
      add_layer(stage, net.layer(i));
      add_layer(figures.total, net.layer(i));
    }
    figures.stages.push_back(stage);
  }
  figures.inference_peak_bytes = plan_memory(net, ExecOptions{}).peak_bytes;
  if (options.runs > 0) {
    time_stages(net, options.runs, figures.stages);
    for (const StageFigures& stage : figures.stages) figures.total.time_ms += stage.time_ms;
  }
  if (options.training_batch > 0) {
    net.reshape(width, height, options.training_batch);
    figures.training_batch = options.training_batch;
    figures.training_bytes = TrainingExecutor(net).memory_bytes();
    net.reshape(width, height, 1);
  }
  return figures;
}

}  // namespace cspnet
