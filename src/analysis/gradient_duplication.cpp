#include "cspnet/gradient_duplication.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>

#include "cspnet/analysis.hpp"
#include "cspnet/batch_loader.hpp"
#include "cspnet/data_source.hpp"
#include "cspnet/error.hpp"
#include "cspnet/training.hpp"

namespace cspnet {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
  return sum;
}

// A running mean that skips undefined (NaN) samples.
struct Mean {
  double sum = 0;
  int count = 0;
  void add(double v) {
    if (std::isnan(v)) return;
    sum += v;
    ++count;
  }
  double value() const { return count ? sum / count : kNaN; }
};

// Per fan-out tensor: its readers, what it held after the previous reader's
// backward, and the contributions of this backward.
struct Probe {
  std::vector<int> readers;
  std::vector<double> before;
  bool started = false;  // a reader has written this backward (the first one overwrites)
  std::vector<std::vector<double>> contributions;
  Mean cosine, diversity;
};

}  // namespace

ContributionStats contribution_stats(const std::vector<std::vector<double>>& g) {
  ContributionStats stats;
  stats.contributions = int(g.size());
  if (g.empty()) return {0, kNaN, kNaN};
  std::vector<double> norms, total(g[0].size(), 0.0);
  for (const auto& v : g) {
    if (v.size() != total.size()) throw Error("contribution_stats: contributions of different lengths");
    norms.push_back(std::sqrt(dot(v, v)));
    for (size_t i = 0; i < v.size(); ++i) total[i] += v[i];
  }
  Mean cosine;
  for (size_t i = 0; i < g.size(); ++i)
    for (size_t j = i + 1; j < g.size(); ++j)
      if (norms[i] > 0 && norms[j] > 0) cosine.add(dot(g[i], g[j]) / (norms[i] * norms[j]));
  stats.mean_cosine = cosine.value();
  double squares = 0;
  for (double n : norms) squares += n * n;
  const double total_square = dot(total, total);
  stats.diversity = total_square > 0 ? squares / total_square : kNaN;
  return stats;
}

GradientReport measure_gradient_duplication(Network& net, const DataSource& data, int batches, int batch,
                                            uint64_t seed) {
  if (batches < 1 || batch < 1) throw Error("gradients: batches and batch must be positive");
  net.reshape(net.config().width, net.config().height, batch);
  TrainingOptions options;
  options.reuse_gradient_memory = false;  // every gradient readable between layers
  options.blocked_layout = false;
  TrainingExecutor executor(net, options);

  // Readers of every layer output (one per input slot), among the layers backward runs.
  std::map<int, Probe> probes;
  {
    std::vector<std::vector<int>> readers(size_t(net.size()));
    for (int i = 0; i < net.size(); ++i)
      for (int in : net.layer(i).inputs())
        if (in >= 0 && (readers[size_t(in)].empty() || readers[size_t(in)].back() != i))
          readers[size_t(in)].push_back(i);
    for (int t = 0; t < net.size(); ++t)
      if (readers[size_t(t)].size() >= 2 && !executor.gradient(t).empty()) probes[t].readers = readers[size_t(t)];
  }

  BatchLoaderOptions lo;
  lo.batch = batch;
  lo.classes = executor.classes();
  lo.seed = seed;
  lo.threads = 1;
  BatchLoader loader(std::shared_ptr<const DataSource>(&data, [](const DataSource*) {}), lo);
  for (int b = 0; b < batches; ++b) {
    Batch input = loader.next();
    executor.zero_gradients();
    executor.forward(input.images.data(), StepContext{true, seed + uint64_t(b)});
    executor.loss(Targets{input.targets, input.labels, {}}, 1.f / float(batch));
    for (auto& [t, probe] : probes) {
      probe.started = false;
      probe.contributions.clear();
    }
    executor.backward([&](int layer) {
      // A layer reading a tensor twice makes one contribution to it.
      std::vector<int> inputs = net.layer(layer).inputs();
      std::sort(inputs.begin(), inputs.end());
      inputs.erase(std::unique(inputs.begin(), inputs.end()), inputs.end());
      for (int in : inputs) {
        auto found = probes.find(in);
        if (found == probes.end()) continue;
        Probe& probe = found->second;
        const std::span<const float> now = executor.gradient(in);
        std::vector<double> contribution(now.size());
        for (size_t k = 0; k < now.size(); ++k)
          contribution[k] = double(now[k]) - (probe.started ? probe.before[k] : 0.0);
        probe.before.assign(now.begin(), now.end());
        probe.started = true;
        probe.contributions.push_back(std::move(contribution));
      }
    });
    for (auto& [t, probe] : probes) {
      const ContributionStats stats = contribution_stats(probe.contributions);
      probe.cosine.add(stats.mean_cosine);
      probe.diversity.add(stats.diversity);
    }
  }

  GradientReport report;
  report.network = net.name();
  report.batches = batches;
  report.batch = batch;
  for (const auto& [t, probe] : probes)
    report.fan_outs.push_back({t, probe.readers, probe.cosine.value(), probe.diversity.value(), probe.cosine.count});
  int index = 0;
  for (const auto& [first, last] : resolution_stages(net)) {
    const Shape& shape = net.layer(last).output_shape();
    StageGradients stage;
    stage.name = std::to_string(index++) + ": " + std::to_string(shape.w) + "x" + std::to_string(shape.h);
    stage.first_layer = first;
    stage.last_layer = last;
    Mean cosine, diversity;
    for (const FanOutGradients& f : report.fan_outs)
      if (f.layer >= first && f.layer <= last) {
        ++stage.fan_outs;
        cosine.add(f.mean_cosine);
        diversity.add(f.diversity);
      }
    stage.mean_cosine = cosine.value();
    stage.diversity = diversity.value();
    report.stages.push_back(stage);
  }
  return report;
}

}  // namespace cspnet
