// Whole-network training against an independent implementation: the float64
// PyTorch oracle (tests/oracle/torch_training_oracle.py) runs the same cfg,
// weights, batch and SGD settings. Compared: the loss of every step, every
// parameter gradient of step 1, the running statistics after step 1 and
// every darknet array after the last step, each to a relative error (against
// the largest |reference| of that array) of at most 1e-4.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "cspnet/cspnet.hpp"
#include "cspnet/optimizer.hpp"
#include "cspnet/training.hpp"

namespace {

using namespace cspnet;
namespace fs = std::filesystem;

constexpr double kTolerance = 1e-4;
constexpr int kSteps = 3;
constexpr float kLearningRate = 0.1f;  // large enough that 3 steps move the weights measurably
constexpr float kMomentum = 0.9f;
constexpr float kDecay = 0.0005f;
// The change of each array over the steps, (final - initial), is a sharper
// check of the updates than the arrays themselves, where a small update
// hides behind large weights (measured: within 3.3e-5).
constexpr double kUpdateTolerance = 1e-4;

std::string shell_quote(const std::string& s) {
  std::string quoted = "'";
  for (char c : s) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// Exit status of `command` (a shell line), -1 when it did not run.
int run_command(const std::string& command) {
  int status = std::system(command.c_str());
  return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A float32 .npy (format 1.0, little-endian, C order).
void write_npy_f32(const fs::path& path, const std::vector<int64_t>& shape, const float* data) {
  std::string dims;
  int64_t count = 1;
  for (int64_t d : shape) {
    dims += std::to_string(d) + ",";
    count *= d;
  }
  if (shape.size() > 1) dims.pop_back();  // (4,) but (4, 10)
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // magic (6) + version (2) + length (2) + header + '\n' padded to 64 bytes
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t length = uint16_t(header.size());
  const char length_bytes[2] = {char(length & 0xff), char(length >> 8)};
  out.write(length_bytes, 2);
  out << header;
  out.write(reinterpret_cast<const char*>(data), std::streamsize(count * int64_t(sizeof(float))));
  if (!out) throw Error(path.string() + ": cannot write");
}

// The oracle's float64 .npy files: "<f8", C order, version 1.0 or 2.0.
std::vector<double> read_npy_f64(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open");
  char magic[8];
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw Error(path.string() + ": not a .npy file (bad magic)");
  uint32_t header_length = 0;
  unsigned char bytes[4] = {0, 0, 0, 0};
  const int length_size = magic[6] == 1 ? 2 : 4;
  in.read(reinterpret_cast<char*>(bytes), length_size);
  for (int i = length_size - 1; i >= 0; --i) header_length = header_length << 8 | bytes[i];
  std::string header(header_length, '\0');
  in.read(header.data(), header_length);
  if (!in) throw Error(path.string() + ": truncated header");
  if (header.find("'descr': '<f8'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
    throw Error(path.string() + ": expected little-endian float64 in C order, header is " + header);
  const auto open = header.find("'shape': (");
  const auto close = header.find(')', open);
  if (open == std::string::npos || close == std::string::npos) throw Error(path.string() + ": no shape in " + header);
  int64_t count = 1;
  std::stringstream dims(header.substr(open + 10, close - open - 10));
  for (std::string dim; std::getline(dims, dim, ',');)
    if (dim.find_first_not_of(' ') != std::string::npos) count *= std::stoll(dim);
  std::vector<double> values(static_cast<size_t>(count));
  in.read(reinterpret_cast<char*>(values.data()), std::streamsize(count * int64_t(sizeof(double))));
  if (!in) throw Error(path.string() + ": expected " + std::to_string(count) + " float64 values after the header");
  return values;
}

// Largest |ours - reference| over max |reference|.
double relative_error(std::span<const float> ours, std::span<const double> reference) {
  double scale = 0, err = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    scale = std::max(scale, std::fabs(reference[i]));
    err = std::max(err, std::fabs(double(ours[i]) - reference[i]));
  }
  return err / std::max(scale, 1e-30);
}

class TorchTraining : public ::testing::Test {
 protected:
  void SetUp() override {
    python_ = CSPNET_TORCH_PYTHON;
    if (!fs::exists(python_)) GTEST_SKIP() << "SKIPPED: no python interpreter at " << python_;
    if (run_command(shell_quote(python_) + " -c 'import torch, numpy' >/dev/null 2>&1") != 0)
      GTEST_SKIP() << "SKIPPED: " << python_ << " cannot import torch and numpy (Debian: python3-torch)";
    dir_ = fs::temp_directory_path() / ("cspnet-torch-training-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty() && !HasFailure()) fs::remove_all(dir_);
  }

  // Checks one array and records its error for the summary. With `initial`
  // the comparison is of the change from it (both sides minus `initial`).
  void expect_close(const std::string& what, std::span<const float> ours, const fs::path& reference_file,
                    double tolerance = kTolerance, std::span<const float> initial = {}) {
    std::vector<double> reference = read_npy_f64(reference_file);
    std::vector<float> change;
    if (!initial.empty()) {
      ASSERT_EQ(initial.size(), reference.size()) << what;
      change.resize(ours.size());
      for (size_t i = 0; i < ours.size(); ++i) {
        change[i] = ours[i] - initial[i];
        reference[i] -= double(initial[i]);
      }
      ours = change;
    }
    ASSERT_EQ(ours.size(), reference.size()) << what << ": length differs from " << reference_file;
    const double err = relative_error(ours, reference);
    std::printf("  %-40s rel err %.2e\n", what.c_str(), err);
    EXPECT_LE(err, tolerance) << what << " vs " << reference_file;
    if (initial.empty() && err > worst_) {
      worst_ = err;
      worst_what_ = what;
    }
  }

  std::string python_;
  fs::path dir_;
  double worst_ = 0;
  std::string worst_what_;
};

std::string layer_label(const Network& net, int i) {
  return "layer " + std::to_string(i) + " " + std::string(net.layer(i).type());
}

TEST_F(TorchTraining, EveryLayerKindMatchesFloat64PyTorchOverThreeSgdSteps) {
  const std::string cfg = std::string(CSPNET_TEST_CFG_DIR) + "/train_every_layer.cfg";
  Network net = Network::from_cfg_file(cfg);
  net.reshape(net.config().width, net.config().height, net.config().batch);
  init_weights(net, 3);
  std::map<std::string, std::vector<float>> initial;  // "<layer>_<name>" -> values
  for (int i = 0; i < net.size(); ++i)
    for (const ParamBlob& blob : net.layer(i).darknet_params())
      initial[std::to_string(i) + "_" + blob.name] = *blob.values;
  const fs::path weights = dir_ / "net.weights";
  save_weights(net, weights.string());

  const Shape in = net.input_shape();
  std::vector<float> input(size_t(in.count()));
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  for (float& v : input) v = uniform(rng);
  TrainingExecutor executor(net);
  const int64_t classes = executor.classes();
  std::vector<int> labels(size_t(in.n));
  std::vector<float> targets(size_t(in.n * classes), 0.f);
  for (int64_t n = 0; n < in.n; ++n) {
    labels[size_t(n)] = int(rng() % uint32_t(classes));
    targets[size_t(n * classes + labels[size_t(n)])] = 1.f;
  }
  write_npy_f32(dir_ / "x.npy", {in.n, in.c, in.h, in.w}, input.data());
  write_npy_f32(dir_ / "t.npy", {in.n, classes}, targets.data());

  const fs::path out = dir_ / "oracle";
  char numbers[128];
  std::snprintf(numbers, sizeof numbers, " --lr %.9g --momentum %.9g --decay %.9g --steps %d", kLearningRate,
                kMomentum, kDecay, kSteps);
  const std::string command = shell_quote(python_) + " " + shell_quote(CSPNET_ORACLE_DIR "/torch_training_oracle.py") +
                              " " + shell_quote(cfg) + " " + shell_quote(weights.string()) + " " +
                              shell_quote((dir_ / "x.npy").string()) + " " + shell_quote((dir_ / "t.npy").string()) +
                              " " + shell_quote(out.string()) + numbers + " > " +
                              shell_quote((dir_ / "oracle.log").string()) + " 2>&1";
  ASSERT_EQ(run_command(command), 0) << command << "\n" << read_text(dir_ / "oracle.log");
  const auto losses = nlohmann::json::parse(read_text(out / "losses.json"))["losses"].get<std::vector<double>>();
  ASSERT_EQ(losses.size(), size_t(kSteps));

  const std::vector<TrainableParam> params = all_trainable_params(net);
  OptimizerConfig config;
  config.kind = OptimizerKind::sgd;
  config.momentum = kMomentum;
  config.decay = kDecay;
  Optimizer optimizer(config);

  for (int step = 1; step <= kSteps; ++step) {
    executor.zero_gradients();
    executor.forward(input.data(), StepContext{true, uint64_t(step)});
    const LossResult loss = executor.loss({targets, labels, {}}, 1.f / float(in.n));
    const double loss_err = std::fabs(loss.loss - losses[size_t(step - 1)]) / std::fabs(losses[size_t(step - 1)]);
    std::printf("step %d: loss %.9g, oracle %.9g, rel err %.2e\n", step, loss.loss, losses[size_t(step - 1)],
                loss_err);
    EXPECT_LE(loss_err, kTolerance) << "loss of step " << step;
    executor.backward();
    if (step == 1) {
      for (int i = 0; i < net.size(); ++i) {
        for (const TrainableParam& p : net.layer(i).trainable_params())
          expect_close(layer_label(net, i) + " d" + p.name, *p.grads,
                       out / "step1_grads" / ("layer_" + std::to_string(i) + "_" + p.name + ".npy"));
        for (const ParamBlob& blob : net.layer(i).darknet_params()) {
          const std::string name = blob.name;
          if (name == "rolling_mean" || name == "rolling_variance")
            expect_close(layer_label(net, i) + " " + name + " (step 1)", *blob.values,
                         out / "step1_running" / ("layer_" + std::to_string(i) + "_" + name + ".npy"));
        }
      }
    }
    optimizer.step(params, kLearningRate);
  }
  for (int i = 0; i < net.size(); ++i)
    for (const ParamBlob& blob : net.layer(i).darknet_params()) {
      const fs::path reference = out / "final" / ("layer_" + std::to_string(i) + "_" + blob.name + ".npy");
      expect_close(layer_label(net, i) + " " + blob.name + " (final)", *blob.values, reference);
      expect_close(layer_label(net, i) + " " + blob.name + " (change)", *blob.values, reference, kUpdateTolerance,
                   initial.at(std::to_string(i) + "_" + blob.name));
    }
  std::printf("worst: %s, rel err %.2e\n", worst_what_.c_str(), worst_);
}

}  // namespace
