#include "quantize_command.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>

#include "cli_parse.hpp"
#include "cspnet/data_source.hpp"
#include "cspnet/detection_data.hpp"
#include "cspnet/detector.hpp"
#include "cspnet/error.hpp"
#include "cspnet/progress.hpp"
#include "cspnet/quantization.hpp"
#include "cspnet/weights.hpp"

namespace cspnet::cli {
namespace {

// Image i of `count` calibration images, spread evenly over a source of
// `size` images (so that every part of an ordered set is represented).
int64_t spread_index(int64_t i, int64_t count, int64_t size) { return i * size / count; }

// The source's description, once it is known to hold `count` images.
std::string describe_enough(int64_t size, int64_t count, const std::string& description) {
  if (size < count)
    throw UsageError("quantize: --calibration " + std::to_string(count) + " is more than the " +
                     std::to_string(size) + " images of " + description);
  return description;
}

// The calibration images as a function of their index: uniform noise, a
// classification source (the training split) or, for a detector, a
// detection source letterboxed or stretched as detector inference does.
std::function<Tensor(int64_t)> calibration_images(Network& net, const std::string& data, int64_t count,
                                                  uint64_t seed, std::string& described) {
  const Shape shape = net.input_shape();
  if (data == "random") {
    described = "uniform noise in [0, 1] (seed " + std::to_string(seed) + ")";
    return [shape, seed](int64_t i) {
      std::mt19937_64 rng(seed * 1000003u + uint64_t(i));
      std::uniform_real_distribution<float> uniform(0.f, 1.f);
      Tensor t(shape);
      for (float& v : t.values()) v = uniform(rng);
      return t;
    };
  }
  if (is_detector(net)) {
    std::shared_ptr<const DetectionSource> source =
        make_detection_source(data.empty() ? "fashion-mnist-scenes" : data, true);
    described = describe_enough(source->size(), count, source->describe());
    return [source, count, &net](int64_t i) {
      return detector_input(net, source->load(spread_index(i, count, source->size())));
    };
  }
  const NetConfig& c = net.config();
  std::shared_ptr<const DataSource> source =
      make_data_source(data.empty() ? "fashion-mnist" : data, true, c.channels, int(shape.h), int(shape.w));
  described = describe_enough(source->size(), count, source->describe());
  return [source, count, shape](int64_t i) {
    Tensor t(shape);
    int label = 0;
    source->load(spread_index(i, count, source->size()), t.data(), &label);
    return t;
  };
}

}  // namespace

void QuantizeCommand::add_to(CLI::App& app) {
  command_ = app.add_subcommand("quantize", "calibrate int8 inference: the table --precision int8 runs from");
  command_->add_option("model", model_, "darknet .cfg or a zoo model name")->required();
  command_->add_option("--weights", weights_, "darknet .weights (default: random, seed --seed, as bench uses)");
  command_->add_option("--data", data_,
                       "calibration images: as for train (classifiers; default fashion-mnist), a detection spec "
                       "(detectors; default fashion-mnist-scenes), or random");
  command_->add_option("--out", out_, "the table to write")->required();
  command_->add_option("--calibration", calibration_, "calibration images")->check(positive_number());
  command_->add_option("--method", method_, "percentile (of |x|, clips rare outliers) or minmax")
      ->check(CLI::IsMember({"percentile", "minmax"}));
  command_->add_option("--percentile", percentile_, "--method percentile: the percentile of |x| kept unclipped")
      ->check(number_in(50, 100));
  command_->add_option("--size", size_, "input size WxH (default: the cfg's)");
  command_->add_option("--seed", seed_, "seed of random weights and of --data random");
}

int QuantizeCommand::run() const {
  auto [width, height] = size_.empty() ? std::pair<int, int>{0, 0} : parse_size(size_);
  Network net = load_cfg_or_zoo(model_, width, height);
  if (weights_.empty())
    init_weights(net, seed_);
  else
    load_weights(net, weights_);
  std::string described;
  const auto images = calibration_images(net, data_, calibration_, seed_, described);
  CalibrationOptions options;
  options.method = method_ == "minmax" ? CalibrationMethod::minmax : CalibrationMethod::percentile;
  options.percentile = percentile_;
  std::printf("%s: calibrating on %d images of %s (%s)\n", net.name().c_str(), calibration_, described.c_str(),
              calibration_method_name(options).c_str());
  std::fflush(stdout);
  ProgressLine progress(stderr_is_terminal(), 10, std::cerr);
  const auto start = std::chrono::steady_clock::now();
  auto show = [&](int64_t done, int64_t total) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double rate = double(done) / std::max(elapsed, 1e-9);
    char line[128];
    std::snprintf(line, sizeof line, "  calibration pass %lld/%lld  %.1f images/s  ETA %.0f s", (long long)done,
                  (long long)total, rate, double(total - done) / rate);
    progress.update(line, done == total);
  };
  const QuantizationTable table = calibrate(net, calibration_, images, options, show);
  progress.clear();
  write_quantization_table(out_, table);
  int unsigned_inputs = 0;
  for (const QuantizedInput& q : table.inputs) unsigned_inputs += q.is_unsigned;
  std::printf("wrote %s: %zu convolutions (%d with uint8 inputs, %zu int8), weights crc32 %08x\n", out_.c_str(),
              table.inputs.size(), unsigned_inputs, table.inputs.size() - size_t(unsigned_inputs),
              table.parameters_crc32);
  return 0;
}

}  // namespace cspnet::cli
