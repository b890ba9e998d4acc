// [dropout] and [cost]: forward is the identity.
#include <gtest/gtest.h>

#include "layer_reference.hpp"

namespace {
namespace forward {

using namespace cspnet::tests::layer_reference;

TEST(LayerReference, DropoutAndCostMatchIdentityReference) {
  NetSpec spec{7, 5, 3, 2,
               {conv({.filters = 4, .size = 3, .act = Activation::leaky}), identity("dropout", "probability=0.3\n"),
                identity("cost", "type=sse\n"), conv({.filters = 5, .size = 3, .act = Activation::linear}),
                identity("dropout", "")}};
  Checked result = check_layers(spec, -2, 2);
  EXPECT_EQ(result.outputs[1].values(), result.outputs[0].values());
  EXPECT_EQ(result.outputs[2].values(), result.outputs[0].values());
  EXPECT_EQ(result.outputs[4].values(), result.outputs[3].values());
  // As the very first layer: a view of the network input itself.
  NetSpec first{6, 5, 2, 2, {identity("dropout", ""), conv({.filters = 3, .size = 3, .act = Activation::linear})}};
  Checked at_input = check_layers(first, -2, 2);
  EXPECT_EQ(at_input.outputs[0].values(), at_input.input.values());
}

}  // namespace forward

namespace backward {

using namespace cspnet::tests::layer_gradients;

// ---- dropout -------------------------------------------------------------------

// One dropout layer's training kernel on fixed buffers (input all ones
// unless set), driven directly: its mask depends on the step seed, which the
// finite-difference harness does not vary.
struct DropoutRun {
  cspnet::Network net;
  int layer;
  std::vector<float> x, y, dy, dx;
  bool accumulate = false;
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::unique_ptr<cspnet::TrainKernel> kernel;

  DropoutRun(const std::string& cfg, int layer_index, bool accumulate_grad = false)
      : net(cspnet::Network::from_cfg(cspnet::parse_cfg_text(cfg, "dropout.cfg"))), layer(layer_index),
        accumulate(accumulate_grad) {
    net.reshape(net.config().width, net.config().height, net.config().batch);
    const Shape shape = net.layer(layer).output_shape();
    const auto count = static_cast<size_t>(shape.count());
    x.assign(count, 1.f);
    y.assign(count, 0.f);
    dx.assign(count, 0.f);
    dy.resize(count);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> uniform(-1.f, 1.f);
    for (float& v : dy) v = uniform(rng);
    cspnet::TrainCompileContext ctx{engine,
                                    {cspnet::TrainTensor{x.data(), shape}},
                                    cspnet::TrainTensor{y.data(), shape},
                                    {cspnet::TrainTensor{dx.data(), shape}},
                                    {accumulate},
                                    cspnet::TrainTensor{dy.data(), shape}};
    kernel = cspnet::compile_training_kernel(net.layer(layer), ctx);
  }
  std::vector<float> forward(uint64_t seed, bool training = true) {
    kernel->forward(stream, cspnet::StepContext{training, seed});
    return y;
  }
  std::vector<float> backward() {
    kernel->backward(stream);
    return dx;
  }
};

const std::string kDropoutCfg = net(3, 8, 16, 16) + "[dropout]\nprobability=0.3\n\n[dropout]\nprobability=0.3\n";

TEST(DropoutTraining, KeepsWithProbabilityOneMinusPAndScalesTheKept) {
  DropoutRun run(kDropoutCfg, 0);
  const std::vector<float> y = run.forward(42);
  int64_t dropped = 0;
  double sum = 0;
  for (float v : y) {
    if (v == 0.f)
      ++dropped;
    else
      ASSERT_FLOAT_EQ(v, 1.f / 0.7f);
    sum += v;
  }
  // 6144 draws: the dropped fraction's standard deviation is about 0.006.
  EXPECT_NEAR(double(dropped) / double(y.size()), 0.3, 0.03);
  EXPECT_NEAR(sum / double(y.size()), 1.0, 0.05) << "kept values are scaled so that the mean is unchanged";
}

TEST(DropoutTraining, MaskDependsOnlyOnSeedAndLayer) {
  DropoutRun first(kDropoutCfg, 0), again(kDropoutCfg, 0), second_layer(kDropoutCfg, 1);
  const std::vector<float> a = first.forward(42);
  EXPECT_EQ(a, again.forward(42)) << "same seed, same mask";
  EXPECT_EQ(a, first.forward(42)) << "the kernel keeps no hidden generator state";
  EXPECT_NE(a, first.forward(43)) << "another step seed, another mask";
  EXPECT_NE(a, second_layer.forward(42)) << "another layer, another mask at the same step";
}

TEST(DropoutTraining, GradientIsTheMaskScaling) {
  for (bool accumulate : {false, true}) {
    DropoutRun run(kDropoutCfg, 0, accumulate);
    std::fill(run.dx.begin(), run.dx.end(), 0.5f);
    const std::vector<float> y = run.forward(9);  // x = 1, so y is the mask's factor
    const std::vector<float> dx = run.backward();
    for (size_t i = 0; i < dx.size(); ++i)
      ASSERT_FLOAT_EQ(dx[i], run.dy[i] * y[i] + (accumulate ? 0.5f : 0.f)) << i;
  }
}

TEST(DropoutTraining, IdentityOutsideTraining) {
  DropoutRun run(kDropoutCfg, 0);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  for (float& v : run.x) v = uniform(rng);
  EXPECT_EQ(run.forward(42, false), run.x);
  EXPECT_EQ(run.backward(), run.dy);
}

}  // namespace backward
}  // namespace
