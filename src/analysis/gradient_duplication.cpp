#include "cspnet/gradient_duplication.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <span>
#include <string_view>
#include <variant>

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

bool is_route(const Layer& layer) { return std::holds_alternative<RouteAttrs>(layer.attrs()); }

bool has_weights(Layer& layer) {
  for (const TrainableParam& p : layer.trainable_params())
    if (std::string_view(p.name) == "weights") return true;
  return false;
}

// Where a route's input channels land in its output: per input slot, the
// input, its first channel taken, how many, and their first output channel.
struct RouteSlice {
  int input = 0;
  int64_t from = 0, count = 0, to = 0;
};

std::vector<RouteSlice> route_slices(const Network& net, int route) {
  const Layer& layer = net.layer(route);
  const auto& attrs = std::get<RouteAttrs>(layer.attrs());
  std::vector<RouteSlice> slices;
  int64_t to = 0;
  for (int in : layer.inputs()) {
    const int64_t count = net.layer(in).output_shape().c / attrs.groups;
    slices.push_back({in, count * attrs.group_id, count, to});
    to += count;
  }
  return slices;
}

// Adds a route's output-gradient share `from` (plain layout) into the share
// of the input that `slice` describes.
void add_route_slice(const std::vector<double>& from, const Shape& route, const Shape& input, const RouteSlice& slice,
                     std::vector<double>& into) {
  const int64_t plane = int64_t(route.h) * route.w;
  for (int64_t n = 0; n < route.n; ++n)
    for (int64_t c = 0; c < slice.count; ++c) {
      const double* source = from.data() + ((n * route.c + slice.to + c) * plane);
      double* target = into.data() + ((n * input.c + slice.from + c) * plane);
      for (int64_t k = 0; k < plane; ++k) target[k] += source[k];
    }
}

// Every layer's readers through routes, channel by channel (a route with
// groups passes on only some of its inputs' channels): a route's readers of
// a channel stand in for it. Only layers whose backward runs (up to `last`)
// count.
std::vector<std::vector<int>> readers_through_routes(const Network& net, int last) {
  std::vector<std::vector<int>> direct(size_t(net.size()));
  for (int i = 0; i <= last; ++i)
    for (int in : net.layer(i).inputs())
      if (in >= 0) direct[size_t(in)].push_back(i);
  std::vector<std::vector<std::vector<int>>> by_channel(size_t(net.size()));
  std::vector<std::vector<int>> through(size_t(net.size()));
  for (int t = net.size() - 1; t >= 0; --t) {
    auto& channels = by_channel[size_t(t)];
    channels.resize(size_t(net.layer(t).output_shape().c));
    for (int i : direct[size_t(t)]) {
      if (!is_route(net.layer(i))) {
        for (auto& readers : channels) readers.push_back(i);
        continue;
      }
      for (const RouteSlice& slice : route_slices(net, i))
        if (slice.input == t)
          for (int64_t c = 0; c < slice.count; ++c) {
            const auto& onward = by_channel[size_t(i)][size_t(slice.to + c)];
            channels[size_t(slice.from + c)].insert(channels[size_t(slice.from + c)].end(), onward.begin(), onward.end());
          }
    }
    for (auto& readers : channels) {
      std::sort(readers.begin(), readers.end());
      readers.erase(std::unique(readers.begin(), readers.end()), readers.end());
      through[size_t(t)].insert(through[size_t(t)].end(), readers.begin(), readers.end());
    }
    std::sort(through[size_t(t)].begin(), through[size_t(t)].end());
    through[size_t(t)].erase(std::unique(through[size_t(t)].begin(), through[size_t(t)].end()), through[size_t(t)].end());
  }
  return through;
}

// Per batch, the contributions to the output gradients of the layers with
// weights and several readers, kept apart by reader as backward runs: a
// non-route reader's contribution is what its backward adds; a route passes
// on its own contributions, each reader's channels to the tensor they came
// from. A route's are dropped once passed on, a weighted layer's once its
// statistics are taken.
class WeightUpdateProbe {
 public:
  WeightUpdateProbe(Network& net, TrainingExecutor& executor, int last) : net_(net), executor_(executor) {
    const auto readers = readers_through_routes(net, last);
    std::vector<bool> needed(size_t(net.size()), false);
    for (int t = 0; t <= last; ++t) {
      if (executor.gradient(t).empty()) continue;
      Layer& layer = net.layer(t);
      if (!is_route(layer) && readers[size_t(t)].size() >= 2 && has_weights(layer)) {
        needed[size_t(t)] = true;
        layers_[t].readers = readers[size_t(t)];
      }
      if (is_route(layer))
        for (int in : layer.inputs()) needed[size_t(t)] = needed[size_t(t)] || (in >= 0 && needed[size_t(in)]);
    }
    for (int t = 0; t < net.size(); ++t)
      if (needed[size_t(t)]) tracked_ids_.push_back(t);
  }

  void start_batch() {
    tracked_.clear();
    for (int t : tracked_ids_) tracked_[t].before.assign(executor_.gradient(t).size(), 0.f);
  }

  // After layer `i`'s backward.
  void after_layer(int i) {
    const Layer& layer = net_.layer(i);
    std::vector<int> inputs = layer.inputs();
    std::sort(inputs.begin(), inputs.end());
    inputs.erase(std::unique(inputs.begin(), inputs.end()), inputs.end());
    if (is_route(layer)) {
      if (auto self = tracked_.find(i); self != tracked_.end()) {
        for (const RouteSlice& slice : route_slices(net_, i)) {
          auto target = tracked_.find(slice.input);
          if (target == tracked_.end()) continue;
          for (const auto& [reader, share] : self->second.by_reader) {
            std::vector<double>& into = target->second.by_reader[reader];
            into.resize(target->second.before.size(), 0.0);
            add_route_slice(share, layer.output_shape(), net_.layer(slice.input).output_shape(), slice, into);
          }
        }
        tracked_.erase(self);
      }
    } else {
      for (int in : inputs) {
        auto target = tracked_.find(in);
        if (target == tracked_.end()) continue;
        const std::span<const float> now = executor_.gradient(in);
        std::vector<double>& share = target->second.by_reader[i];
        share.resize(now.size(), 0.0);
        for (size_t k = 0; k < now.size(); ++k) share[k] += double(now[k]) - target->second.before[k];
      }
    }
    for (int in : inputs)
      if (auto target = tracked_.find(in); target != tracked_.end())
        target->second.before.assign(executor_.gradient(in).begin(), executor_.gradient(in).end());
    if (auto found = layers_.find(i); found != layers_.end()) take_statistics(i, found->second);
  }

  std::vector<WeightUpdateShares> results() const {
    std::vector<WeightUpdateShares> out;
    for (const auto& [layer, s] : layers_)
      out.push_back({layer, s.readers, s.feature_cosine.value(), s.feature_diversity.value(), s.cosine.value(),
                     s.diversity.value(), s.cosine.count});
    return out;
  }

 private:
  struct Tracked {
    std::vector<float> before;
    std::map<int, std::vector<double>> by_reader;
  };
  struct Statistics {
    std::vector<int> readers;
    Mean feature_cosine, feature_diversity, cosine, diversity;
  };

  void take_statistics(int layer, Statistics& s) {
    auto self = tracked_.find(layer);
    std::vector<std::vector<double>> contributions, shares;
    std::vector<float> contribution;
    for (const auto& [reader, g] : self->second.by_reader) {
      contributions.push_back(g);
      contribution.assign(g.begin(), g.end());
      const std::vector<float> share = executor_.parameter_gradient_for(layer, "weights", contribution);
      shares.emplace_back(share.begin(), share.end());
    }
    tracked_.erase(self);
    const ContributionStats features = contribution_stats(contributions), weights = contribution_stats(shares);
    s.feature_cosine.add(features.mean_cosine);
    s.feature_diversity.add(features.diversity);
    s.cosine.add(weights.mean_cosine);
    s.diversity.add(weights.diversity);
  }

  Network& net_;
  TrainingExecutor& executor_;
  std::vector<int> tracked_ids_;
  std::map<int, Tracked> tracked_;
  std::map<int, Statistics> layers_;
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

  // Backward runs from the last loss layer (or the logits the implicit loss seeds).
  int backward_from = -1;
  for (int i = 0; i < net.size(); ++i)
    if (!executor.gradient(i).empty()) backward_from = i;
  for (int loss : executor.loss_layer_indices()) backward_from = std::max(backward_from, loss);
  WeightUpdateProbe weight_updates(net, executor, backward_from);

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
    weight_updates.start_batch();
    executor.backward([&](int layer) {
      weight_updates.after_layer(layer);
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
  report.weight_updates = weight_updates.results();
  int index = 0;
  for (const auto& [first, last] : resolution_stages(net)) {
    const Shape& shape = net.layer(last).output_shape();
    StageGradients stage;
    stage.name = std::to_string(index++) + ": " + std::to_string(shape.w) + "x" + std::to_string(shape.h);
    stage.first_layer = first;
    stage.last_layer = last;
    // The means over the stage's items (fan-out tensors, weighted layers).
    // (Bounds copied: clang 14 cannot capture structured bindings.)
    auto stage_means = [&, from = first, to = last](const auto& items, int& count, double& mean_cosine,
                                                     double& mean_diversity) {
      Mean cosine, diversity;
      for (const auto& item : items)
        if (item.layer >= from && item.layer <= to) {
          ++count;
          cosine.add(item.mean_cosine);
          diversity.add(item.diversity);
        }
      mean_cosine = cosine.value();
      mean_diversity = diversity.value();
    };
    stage_means(report.fan_outs, stage.fan_outs, stage.mean_cosine, stage.diversity);
    stage_means(report.weight_updates, stage.weighted_layers, stage.weight_mean_cosine, stage.weight_diversity);
    report.stages.push_back(stage);
  }
  return report;
}

}  // namespace cspnet
