// Whole networks against an independent implementation: OpenCV's DNN module
// reads the same darknet cfg and the .weights file we wrote, and runs the
// same random input. Every layer's output is compared, not only the last.
#include <gtest/gtest.h>

#include <filesystem>
#include <cstdio>
#include <map>
#include <ostream>
#include <set>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>

#include "cspnet/cspnet.hpp"
#include "cspnet/optimizer.hpp"
#include "cspnet/training.hpp"
#include "../unit/test_helpers.hpp"

namespace {

using namespace cspnet;

struct Case {
  const char* cfg;
  int size;  // 0: the cfg's own
};

// Readable test names in CTest's output instead of the bytes of a Case.
void PrintTo(const Case& c, std::ostream* os) { *os << c.cfg;
  if (c.size) *os << " at " << c.size << "x" << c.size; }

// Every official cfg OpenCV 4.6 can run. resnet50.cfg, resnext50.cfg and
// resnet10.cfg add tensors of different shapes in [shortcut] (the original
// darknet rule): OpenCV fails on them, so they are covered by the naive-reference tests of
// the shortcut layer instead (tests/unit/test_layer_reference.cpp).
const Case kCases[] = {
    {"csdarknet53.cfg", 0}, {"darknet53.cfg", 0},
    {"csresnext50.cfg", 0}, {"csresnet50.cfg", 0},
    {"darknet.cfg", 0},     {"csdarknet53-panet-spp.cfg", 416},
    {"csresnext50-panet-spp.cfg", 416},
};

// Layers compared per network: OpenCV 4.6 asserts when asked for many
// outputs of one forward pass (it reuses their memory), so we run one forward
// per compared layer over an even spread that always includes the last one.
constexpr int kComparedLayers = 10;

// OpenCV splits darknet layer i into pieces named "<kind>_i" (conv_i, bn_i),
// except that an activation piece carries the *next* index (leaky_{i+1}).
// The last piece created for layer i holds that layer's output.
std::map<int, std::string> opencv_layer_names(cv::dnn::Net& net) {
  static const std::set<std::string> kActivationPieces = {"leaky", "relu", "mish", "swish", "logistic",
                                                          "sigmoid", "tanh", "elu", "selu", "gelu"};
  std::map<int, std::string> names;
  int current = -1;
  for (const auto& name : net.getLayerNames()) {
    auto underscore = name.rfind('_');
    if (underscore == std::string::npos) continue;
    const std::string digits = name.substr(underscore + 1);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    if (!kActivationPieces.count(name.substr(0, underscore))) current = std::stoi(digits);
    if (current >= 0) names[current] = name;
  }
  return names;
}

double max_abs(const float* data, size_t count) {
  double m = 0;
  for (size_t i = 0; i < count; ++i) m = std::max(m, double(std::fabs(data[i])));
  return m;
}

class OpenCvOracle : public ::testing::TestWithParam<Case> {};

TEST_P(OpenCvOracle, IntermediateAndFinalOutputsMatchOpenCvDnn) {
  CSPNET_REQUIRE_SHARED_CFG();
  const Case& c = GetParam();
  const std::string cfg = tests::shared_cfg(c.cfg);
  Network net = Network::from_cfg_file(cfg);
  if (c.size) net.reshape(c.size, c.size, 1);
  init_weights(net, 42);
  const std::string weights = (std::filesystem::temp_directory_path() / (std::string(c.cfg) + ".oracle.weights")).string();
  save_weights(net, weights);

  ExecOptions options;
  options.reuse_memory = false;  // keep every layer's output for comparison
  Executor executor(net, options);
  Tensor input = tests::random_input(net.input_shape(), 7);
  executor.forward(input);

  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
  cv::dnn::Net reference = cv::dnn::readNetFromDarknet(cfg, weights);
  std::filesystem::remove(weights);
  reference.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  // Fusion makes OpenCV 4.6 run convolutions in place when asked for
  // intermediate outputs, which its own assertion rejects.
  reference.enableFusion(false);
  const Shape& s = net.input_shape();
  cv::Mat blob({int(s.n), int(s.c), int(s.h), int(s.w)}, CV_32F, input.data());
  reference.setInput(blob);
  auto names = opencv_layer_names(reference);
  std::vector<int> candidates;
  for (int i = 0; i < net.size(); ++i)
    // [yolo]: OpenCV emits decoded boxes, a different layout; its input conv is compared.
    // Residual fusion overwrites the conv before a shortcut and the shortcut's
    // `from` in place: their values are gone, the shortcut's output is compared.
    if (!cspnet::yolo_attrs(net.layer(i)) && names.count(i) && !executor.plan().overwritten[size_t(i)]) candidates.push_back(i);
  ASSERT_GT(names.size(), size_t(net.size()) / 2) << "too few OpenCV layers matched by name";
  ASSERT_GE(candidates.size(), size_t(kComparedLayers));
  std::vector<int> compared;
  for (int k = 1; k <= kComparedLayers; ++k)
    compared.push_back(candidates[(candidates.size() - 1) * size_t(k) / kComparedLayers]);
  std::vector<cv::Mat> outputs;
  for (int i : compared) outputs.push_back(reference.forward(names[i]).clone());

  double worst_ratio = 0;
  for (size_t k = 0; k < compared.size(); ++k) {
    const int i = compared[k];
    Tensor ours = executor.layer_output(i);
    const cv::Mat& theirs = outputs[k];
    ASSERT_EQ(size_t(ours.size()), theirs.total()) << c.cfg << " layer " << i << " (" << net.layer(i).type() << ")";
    const float* ref = theirs.ptr<float>();
    double scale = max_abs(ref, theirs.total()), worst = 0;
    for (int64_t j = 0; j < ours.size(); ++j) worst = std::max(worst, double(std::fabs(ours.data()[j] - ref[j])));
    ASSERT_GT(scale, 1e-6) << c.cfg << " layer " << i << ": OpenCV output is all zero, nothing compared";
    worst_ratio = std::max(worst_ratio, worst / scale);
    EXPECT_LE(worst, 5e-4 * scale) << c.cfg << " layer " << i << " (" << net.layer(i).type()
                                   << "): max |ours - opencv| = " << worst << ", max |opencv| = " << scale;
  }
  std::printf("%s: %zu layers compared, worst max|ours - opencv| / max|opencv| = %.2e\n", c.cfg,
              compared.size(), worst_ratio);
}

INSTANTIATE_TEST_SUITE_P(PaperRelease, OpenCvOracle, ::testing::ValuesIn(kCases), [](const auto& info) {
  std::string name = info.param.cfg;
  for (auto& ch : name)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
});

// What we train, darknet and OpenCV can read: a few SGD steps change the
// weights and the batch-norm running statistics of the project's small
// CSPDarknet; the .weights file we write (with `seen`) gives the same output
// in OpenCV DNN as in our inference engine.
TEST(TrainedWeights, OpenCvReadsWhatWeTrained) {
  const std::string cfg = std::string(CSPNET_TEST_CFG_DIR) + "/../../cfg/cspdarknet-small.cfg";
  Network net = Network::from_cfg_file(cfg);
  net.reshape(net.config().width, net.config().height, 16);
  init_weights(net, 3);
  const std::vector<TrainableParam> params = all_trainable_params(net);
  {
    TrainingExecutor trainer(net);
    Optimizer sgd(OptimizerConfig{});
    Tensor batch = tests::random_input(net.input_shape(), 11);
    std::vector<int> labels(16);
    std::vector<float> targets(16 * 10, 0.f);
    for (int n = 0; n < 16; ++n) {
      labels[size_t(n)] = n % 10;
      targets[size_t(n * 10 + n % 10)] = 1.f;
    }
    for (int step = 0; step < 3; ++step) {
      trainer.zero_gradients();
      trainer.forward(batch.data(), StepContext{true, uint64_t(step)});
      trainer.loss({targets, labels, {}}, 1.f / 16);
      trainer.backward();
      sgd.step(params, 0.05f);
    }
  }
  const std::string weights = (std::filesystem::temp_directory_path() / "trained.oracle.weights").string();
  WeightsHeader header;
  header.seen = 48;
  save_weights(net, weights, header);

  Network ours = Network::from_cfg_file(cfg);
  EXPECT_EQ(load_weights(ours, weights).seen, 48u);
  Network untrained = Network::from_cfg_file(cfg);
  init_weights(untrained, 3);
  // Training moved the weights and the running statistics (darknet order:
  // biases, scales, rolling_mean, rolling_variance, weights).
  for (size_t a = 0; a < 5; ++a)
    EXPECT_NE(*ours.layer(0).darknet_params()[a].values, *untrained.layer(0).darknet_params()[a].values) << a;
  Executor executor(ours);
  Tensor input = tests::random_input(ours.input_shape(), 5);
  Tensor out = executor.forward(input).back();

  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
  cv::dnn::Net reference = cv::dnn::readNetFromDarknet(cfg, weights);
  std::filesystem::remove(weights);
  reference.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  const Shape& s = ours.input_shape();
  reference.setInput(cv::Mat({int(s.n), int(s.c), int(s.h), int(s.w)}, CV_32F, input.data()));
  cv::Mat theirs = reference.forward();
  ASSERT_EQ(theirs.total(), size_t(out.size()));
  double worst = 0;
  for (int64_t j = 0; j < out.size(); ++j) worst = std::max(worst, double(std::fabs(out.data()[j] - theirs.ptr<float>()[j])));
  EXPECT_LE(worst, 1e-5) << "softmax outputs differ by " << worst;
}

}  // namespace
