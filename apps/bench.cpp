#include "bench.hpp"


#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <cstdio>
#include <filesystem>
#include <cmath>
#include <numeric>
#include <random>

#include <nlohmann/json.hpp>

#include "cli_parse.hpp"
#include "cspnet/cspnet.hpp"
#include "cspnet/file_output.hpp"
#include "cspnet/optimizer.hpp"
#include "cspnet/progress.hpp"
#include "cspnet/training.hpp"

namespace cspnet::cli {
namespace {

struct Stats {
  double median = 0, min = 0, max = 0;
};

Stats summarise(std::vector<double> times) {
  std::sort(times.begin(), times.end());
  return Stats{times[times.size() / 2], times.front(), times.back()};
}

// A progress line on a terminal, nothing otherwise (the summary follows).
void show_progress(ProgressLine& progress, int done, int total, double elapsed_s) {
  const double rate = done / std::max(elapsed_s, 1e-9);
  char line[128];
  std::snprintf(line, sizeof line, "  run %d/%d  %.1f runs/s  ETA %.1f s", done, total, rate, (total - done) / rate);
  progress.update(line, done == total);
  if (done == total) progress.clear();
}

bool uses_winograd(const std::string& implementation) { return implementation.find("wino") != std::string::npos; }

void print_layer_table(const Network& net, const std::vector<double>& total_ms, int runs,
                       const std::vector<std::string>& implementations) {
  double sum = std::accumulate(total_ms.begin(), total_ms.end(), 0.0);
  std::printf("\n   layer   type             ms/run   share   GFLOP/s  output          kernel\n");
  for (int i = 0; i < net.size(); ++i) {
    double ms = total_ms[size_t(i)] / runs;
    double gflops = ms > 0 ? net.layer(i).bflops() / (ms / 1e3) * double(net.batch()) : 0;
    std::printf("%8d %-15s %8.3f %6.1f%% %9.1f  %-15s %s\n", i, std::string(net.layer(i).type()).c_str(), ms,
                100 * total_ms[size_t(i)] / std::max(sum, 1e-9), gflops, net.layer(i).output_shape().str().c_str(),
                implementations[size_t(i)].c_str());
  }
}

// A faster arithmetic (bf16, Winograd) against direct fp32 convolutions on
// random inputs: top-1 agreement of the (first) output and the largest error
// relative to the output's range. `a` is the benchmarked executor, built
// with `reduced`; the reference is compiled here.
void report_agreement(Network& net, Executor& a, const ExecOptions& reduced, int inputs, const char* label) {
  ExecOptions full = reduced;
  full.precision = Precision::fp32;
  full.winograd = false;
  full.profile_layers = false;
  Executor b(net, full);
  int agree = 0;
  double worst = 0;
  std::mt19937 rng(99);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  for (int k = 0; k < inputs; ++k) {
    Tensor input(net.input_shape());
    for (auto& v : input.values()) v = uniform(rng);
    Tensor x = a.forward(input)[0], y = b.forward(input)[0];
    const int64_t per = x.size() / x.shape().n;
    double scale = 0, err = 0;
    for (int64_t i = 0; i < x.size(); ++i) {
      scale = std::max(scale, double(std::fabs(y.data()[i])));
      err = std::max(err, double(std::fabs(x.data()[i] - y.data()[i])));
    }
    worst = std::max(worst, err / std::max(scale, 1e-30));
    for (int64_t n = 0; n < x.shape().n; ++n) {
      const float *px = x.data() + n * per, *py = y.data() + n * per;
      agree += std::max_element(px, px + per) - px == std::max_element(py, py + per) - py;
    }
  }
  const int total = inputs * int(net.batch());
  std::printf("  %s vs direct fp32 on %d random inputs: top-1 agreement %.1f%% (%d/%d), max |%s - fp32| / max |fp32| = "
              "%.2e\n",
              label, total, 100.0 * agree / total, agree, total, label, worst);
}

// Forward and backward ms of every layer in the last step, and the totals per
// layer type.
void print_train_layer_times(const Network& net, const TrainingExecutor& executor) {
  const auto& fwd = executor.forward_times_ms();
  const auto& bwd = executor.backward_times_ms();
  std::map<std::string, std::pair<double, double>> by_type;
  std::printf("\n   layer type            forward ms  backward ms\n");
  for (int i = 0; i < net.size(); ++i) {
    const std::string type(net.layer(i).type());
    std::printf("  %6d %-16s %10.3f %12.3f\n", i, type.c_str(), fwd[size_t(i)], bwd[size_t(i)]);
    by_type[type].first += fwd[size_t(i)];
    by_type[type].second += bwd[size_t(i)];
  }
  std::printf("\n  per type:\n");
  for (const auto& [type, t] : by_type) std::printf("  %-23s %10.3f %12.3f\n", type.c_str(), t.first, t.second);
}

// The classes of a detector's [yolo] heads (0: no [yolo] head). Heads that
// disagree are the cfg's problem; the targets use the smallest count, so
// every box is valid for every head.
int yolo_classes(const Network& net) {
  int classes = 0;
  for (int i = 0; i < net.size(); ++i)
    if (const YoloAttrs* a = yolo_attrs(net.layer(i))) classes = classes ? std::min(classes, a->classes) : a->classes;
  return classes;
}

// `per_image` random boxes per image, fixed by the seed: centres anywhere
// (boxes kept inside the image), sides from 3% to 60% of the image on a log
// scale (small objects are as common as large ones in COCO), random classes.
// Realistic enough that every head finds positives, several anchors match
// (iou_thresh) and some slots are ignored (ignore_thresh), as in real data.
BoxLists random_truths(int64_t images, int per_image, int classes, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(0.f, 1.f);
  auto side = [&] { return 0.03f * std::pow(20.f, unit(rng)); };  // 0.03 .. 0.6
  BoxLists truths(static_cast<size_t>(images));
  for (auto& list : truths)
    for (int k = 0; k < per_image; ++k) {
      ObjectBox box;
      box.w = side();
      box.h = side();
      box.x = box.w / 2 + unit(rng) * (1 - box.w);
      box.y = box.h / 2 + unit(rng) * (1 - box.h);
      box.cls = int(rng() % uint32_t(classes));
      list.push_back(box);
    }
  return truths;
}

// PREFIX.npy (the input batch) and PREFIX.json ({"boxes": per image
// [[x, y, w, h, class], ...]}): what a peer needs to train on the same batch.
void dump_batch(const std::string& prefix, const Shape& shape, const std::vector<float>& input,
                const BoxLists& truths) {
  Tensor tensor(shape);
  std::copy(input.begin(), input.end(), tensor.data());
  save_npy(prefix + ".npy", tensor);
  nlohmann::json boxes = nlohmann::json::array();
  for (const auto& list : truths) {
    nlohmann::json image = nlohmann::json::array();
    for (const ObjectBox& b : list) image.push_back({b.x, b.y, b.w, b.h, b.cls});
    boxes.push_back(image);
  }
  write_file_atomically(prefix + ".json", nlohmann::json{{"boxes", boxes}}.dump() + "\n");
}

// Full training steps on one random batch: zero_gradients, forward, the
// loss layers (softmax cross-entropy on random one-hot labels, or the [yolo]
// loss on random boxes), backward, SGD update (the step bench/train_peers.py
// and bench/train_detector_peers.py time in PyTorch).
int run_train_bench(Network& net, const BenchOptions& o) {
  TrainingOptions training;
  training.profile_layers = o.per_layer;
  training.winograd = o.exec.winograd;
  training.blocked_layout = o.exec.blocked_layout;
  TrainingExecutor executor(net, training);
  const std::vector<TrainableParam> params = all_trainable_params(net);
  int64_t param_floats = 0;
  for (const TrainableParam& p : params) param_floats += int64_t(p.values->size());
  Optimizer optimizer(OptimizerConfig{});  // SGD, momentum 0.9, decay 0.0005
  // Small, so that the runs stay finite (NaNs and denormals would skew the time).
  constexpr float kLearningRate = 1e-4f;

  const Shape in = net.input_shape();
  std::vector<float> input(size_t(in.count()));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  for (float& v : input) v = uniform(rng);
  const int classes = executor.classes();
  std::vector<int> labels(size_t(in.n));
  std::vector<float> targets(size_t(in.n) * size_t(classes), 0.f);
  for (size_t n = 0; n < labels.size(); ++n) {
    labels[n] = int(rng() % uint32_t(classes));
    targets[n * size_t(classes) + size_t(labels[n])] = 1.f;
  }

  const int detector_classes = yolo_classes(net);
  const BoxLists boxes = detector_classes > 0 ? random_truths(in.n, o.boxes_per_image, detector_classes, 11)
                                              : BoxLists(size_t(in.n));
  if (!o.dump_batch.empty()) dump_batch(o.dump_batch, in, input, boxes);
  double loss = 0, first_loss = 0;
  uint64_t step_number = 0;
  auto step = [&] {
    executor.zero_gradients();
    executor.forward(input.data(), StepContext{true, ++step_number});
    loss = executor.loss({targets, labels, boxes}, 1.f / float(in.n)).loss;
    executor.backward();
    optimizer.step(params, kLearningRate);
  };
  // At least one untimed step: its loss is at the starting weights, which a
  // peer training on the same batch and weights must reproduce.
  const int warmup = std::max(o.warmup, 1);
  step();
  first_loss = loss;
  for (int i = 1; i < warmup; ++i) step();
  std::vector<double> times;
  ProgressLine progress(stderr_is_terminal(), 1e30, std::cerr);  // nothing unless a terminal
  auto begin = std::chrono::steady_clock::now();
  for (int r = 0; r < o.runs; ++r) {
    auto start = std::chrono::steady_clock::now();
    step();
    auto end = std::chrono::steady_clock::now();
    times.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    show_progress(progress, r + 1, o.runs, std::chrono::duration<double>(end - begin).count());
  }
  Stats stats = summarise(times);
  std::printf("%s: training, %lldx%lld batch %lld, %d threads, fp32, SGD momentum, %d steps (+%d warm-up)\n",
              net.name().c_str(), (long long)in.w, (long long)in.h, (long long)in.n, num_threads(), o.runs, warmup);
  std::printf("  cspnet train step: median %.2f ms, min %.2f, max %.2f; %.1f images/s; last loss %.4f\n",
              stats.median, stats.min, stats.max, 1e3 * double(in.n) / stats.median, loss);
  if (detector_classes > 0)
    std::printf("  targets: %d random boxes per image; [yolo] loss (darknet's sum of squared deltas) at the "
                "starting weights %.9g\n",
                o.boxes_per_image, first_loss);
  else
    std::printf("  loss at the starting weights %.9g\n", first_loss);
  // Parameters, their gradients and the SGD velocity: 3 floats per parameter.
  const double param_mib = 3.0 * double(param_floats) * sizeof(float) / 1048576.0;
  std::printf("  memory: training tensors (input, layer outputs, gradients) %.2f MiB planned (%.2f MiB with a "
              "buffer each), parameters + gradients + momentum %.2f MiB\n",
              executor.memory_bytes() / 1048576.0, executor.unplanned_bytes() / 1048576.0, param_mib);
  const std::vector<bool>& blocked = executor.blocked_tensors();
  std::printf("  layouts: %d of %d tensors in nChw16c (--no-blocked: all plain NCHW)\n",
              int(std::count(blocked.begin(), blocked.end(), true)), int(blocked.size()));
  if (o.per_layer) print_train_layer_times(net, executor);
  return std::isfinite(loss) ? 0 : 1;
}

// The instruction a precision's convolutions multiply with.
DotProduct precision_instruction(Precision precision) {
  switch (precision) {
    case Precision::bf16: return DotProduct::bf16_pairs;
    case Precision::int8: return DotProduct::int8_quads;
    case Precision::fp32: break;
  }
  return DotProduct::fp32_fma;
}

struct Peaks {
  double fp32 = 0;       // GFLOP/s
  double precision = 0;  // G ops/s of the precision's own instruction; 0 when not measured
};

}  // namespace

int run_bench(Network& net, const BenchOptions& o) {
  if (!o.train && !o.dump_batch.empty()) throw UsageError("--dump-batch writes the batch of --train");
  const int threads = num_threads();
  std::string weights = o.weights;
  std::string temp_weights;
  if (weights.empty()) {
    init_weights(net, 1);
  } else {
    load_weights(net, weights);
  }
  if (o.train) {
    if (o.compare_opencv || o.precision != "fp32")
      throw UsageError("--train times fp32 training steps: --compare and --precision do not apply");
    return run_train_bench(net, o);
  }
  ExecOptions exec = o.exec;
  set_precision(exec, o.precision, o.quantization);
  exec.profile_layers = o.per_layer;
  Executor executor(net, exec);
  Tensor input(net.input_shape(), 0.5f);

  // The peaks are measured before and after the runs and the larger kept: a
  // neighbour's load on a shared machine lowers one of them. A bf16 or int8
  // plan is also held against its own dot-product instruction, where the CPU
  // has it (oneDNN emulates it with fp32 FMAs where it does not).
  const DotProduct instruction = precision_instruction(exec.precision);
  const bool own_peak = instruction != DotProduct::fp32_fma && has_dot_product(instruction);
  const auto measure_peaks = [&](Peaks previous) {
    return Peaks{std::max(previous.fp32, measure_fma_peak_gflops(threads)),
                 own_peak ? std::max(previous.precision, measure_dot_product_peak_gops(instruction, threads)) : 0.0};
  };
  Peaks peaks = measure_peaks({});
  for (int i = 0; i < o.warmup; ++i) executor.forward(input);
  std::vector<double> times;
  std::vector<double> layer_ms(size_t(net.size()), 0.0);
  ProgressLine progress(stderr_is_terminal(), 1e30, std::cerr);  // nothing unless a terminal
  auto begin = std::chrono::steady_clock::now();
  for (int r = 0; r < o.runs; ++r) {
    auto start = std::chrono::steady_clock::now();
    executor.forward(input);
    auto end = std::chrono::steady_clock::now();
    times.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    if (o.per_layer)
      for (size_t i = 0; i < layer_ms.size(); ++i) layer_ms[i] += executor.layer_times_ms()[i];
    show_progress(progress, r + 1, o.runs, std::chrono::duration<double>(end - begin).count());
  }
  Stats stats = summarise(times);
  peaks = measure_peaks(peaks);
  const double gflop = net.bflops() * double(net.batch());
  const double achieved = gflop / (stats.median / 1e3);
  const Shape in = net.input_shape();
  std::printf("%s: %lldx%lld batch %lld, %d threads, %s, %d runs (+%d warm-up)\n", net.name().c_str(), (long long)in.w,
              (long long)in.h, (long long)in.n, threads, precision_name(exec.precision), o.runs,
              o.warmup);
  std::printf("  cspnet: median %.2f ms, min %.2f, max %.2f; %.1f images/s; %.1f GFLOP/s = ", stats.median, stats.min,
              stats.max, 1e3 * double(in.n) / stats.median, achieved);
  if (own_peak)
    std::printf("%.0f%% of the measured %s peak %.1f G ops/s, ", 100 * achieved / peaks.precision,
                dot_product_name(instruction), peaks.precision);
  std::printf("%.0f%% of the measured fp32 FMA peak %.1f GFLOP/s (%.3f BFLOPs/image)\n", 100 * achieved / peaks.fp32,
              peaks.fp32, net.bflops());
  std::printf("  memory: activations %.2f MiB planned (%.2f MiB unplanned), oneDNN scratchpad %.2f MiB shared\n",
              executor.plan().peak_bytes / 1048576.0, executor.plan().naive_bytes / 1048576.0,
              executor.scratchpad_bytes() / 1048576.0);
  const std::vector<std::string> implementations = executor.layer_implementations();
  const auto winograd_layers = std::count_if(implementations.begin(), implementations.end(), uses_winograd);
  if (winograd_layers > 0)
    std::printf("  %d convolutions run as Winograd (--no-winograd: direct only); GFLOP/s counts their "
                "direct-convolution FLOPs, so it can pass the FMA peak\n",
                int(winograd_layers));
  if (o.per_layer) print_layer_table(net, layer_ms, o.runs, implementations);
  if (exec.precision != Precision::fp32)
    report_agreement(net, executor, exec, o.accuracy_inputs, precision_name(exec.precision));
  else if (winograd_layers > 0)
    report_agreement(net, executor, exec, o.accuracy_inputs, "Winograd");

  if (o.compare_opencv) {
    if (in.n != 1) throw UsageError("--compare opencv runs at batch 1 only");
    if (weights.empty()) {
      temp_weights = (std::filesystem::temp_directory_path() / ("cspnet-bench-" + std::to_string(getpid()) + ".weights")).string();
      save_weights(net, temp_weights);
      weights = temp_weights;
    }
    double theirs = 0;
    try {
      theirs = time_opencv_ms(o.cfg_path, weights, input, o.runs, o.warmup);
    } catch (...) {
      if (!temp_weights.empty()) std::filesystem::remove(temp_weights);
      throw;
    }
    if (!temp_weights.empty()) std::filesystem::remove(temp_weights);
    // Our median again, right after OpenCV's, so both see similar machine load.
    std::vector<double> again;
    for (int r = 0; r < o.runs; ++r) {
      auto start = std::chrono::steady_clock::now();
      executor.forward(input);
      again.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    double ours = std::min(stats.median, summarise(again).median);
    std::printf("  OpenCV DNN: median %.2f ms; OpenCV / cspnet = %.2fx\n", theirs, theirs / ours);
  }
  return 0;
}

}  // namespace cspnet::cli
