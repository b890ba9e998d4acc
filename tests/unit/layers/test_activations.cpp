// Activations: the definitions against their formulas, the float kernel against the double definition.
#include <gtest/gtest.h>

#include "layer_reference.hpp"

namespace {

using namespace cspnet::tests::layer_reference;

TEST(LayerReference, ActivationDefinitionsMatchTheirFormulas) {
  auto logistic = [](double x) { return 1 / (1 + std::exp(-x)); };
  auto softplus = [](double x) { return x > 20 ? x : std::log(1 + std::exp(x)); };
  for (double x : {-25.0, -7.0, -3.0, -2.0, -1.5, -1.0, -0.3, 0.0, 0.4, 1.0, 2.5, 6.0, 7.5, 21.0}) {
    SCOPED_TRACE("x = " + std::to_string(x));
    auto check = [x](Activation act, double expected) {
      double got = cspnet::activate(act, x);
      EXPECT_NEAR(got, expected, 1e-9 * std::max(1.0, std::abs(expected))) << cspnet::activation_name(act);
    };
    check(Activation::linear, x);
    check(Activation::logistic, logistic(x));
    check(Activation::relu, x > 0 ? x : 0);
    check(Activation::relu6, std::min(std::max(x, 0.0), 6.0));
    check(Activation::leaky, x > 0 ? x : 0.1 * x);
    check(Activation::tanh, (std::exp(x) - std::exp(-x)) / (std::exp(x) + std::exp(-x)));
    check(Activation::elu, x >= 0 ? x : std::exp(x) - 1);
    check(Activation::mish, x * std::tanh(softplus(x)));
    check(Activation::swish, x * logistic(x));
    check(Activation::hard_mish, x > 0 ? x : (x > -2 ? x * x / 2 + x : 0));
    check(Activation::gelu, 0.5 * x * (1 + std::tanh(0.797885 * x + 0.035677 * x * x * x)));
    // darknet writes SELU's constants to 4 decimals (1.0507f, 1.6732f); the
    // engine may use the exact ones, which agree to well inside 1e-4.
    double selu = x >= 0 ? 1.0507 * x : 1.0507 * 1.6732 * (std::exp(x) - 1);
    EXPECT_NEAR(cspnet::activate(Activation::selu, x), selu, 1e-4 * std::max(1.0, std::abs(selu)));
  }
  // A few values worked out by hand.
  EXPECT_DOUBLE_EQ(cspnet::activate(Activation::logistic, 0), 0.5);
  EXPECT_NEAR(cspnet::activate(Activation::logistic, 2), 0.8807970779778823, 1e-12);
  EXPECT_DOUBLE_EQ(cspnet::activate(Activation::leaky, -2), -0.2);
  EXPECT_DOUBLE_EQ(cspnet::activate(Activation::relu6, 7), 6);
  EXPECT_DOUBLE_EQ(cspnet::activate(Activation::relu6, 3.5), 3.5);
  EXPECT_DOUBLE_EQ(cspnet::activate(Activation::hard_mish, -1), -0.5);
  EXPECT_DOUBLE_EQ(cspnet::activate(Activation::hard_mish, -3), 0);
  EXPECT_NEAR(cspnet::activate(Activation::elu, -1), -0.6321205588285577, 1e-12);
  EXPECT_NEAR(cspnet::activate(Activation::selu, -1), -1.1113307378125625, 1e-4);
  EXPECT_NEAR(cspnet::activate(Activation::mish, 1), 0.8650983882673103, 1e-12);
  EXPECT_NEAR(cspnet::activate(Activation::mish, -1), -0.30340146137410895, 1e-12);
  EXPECT_DOUBLE_EQ(cspnet::activate(Activation::mish, 25), 25 * std::tanh(25.0));  // softplus cut-off above 20
  EXPECT_NEAR(cspnet::activate(Activation::swish, 1), 0.7310585786300049, 1e-12);
  EXPECT_NEAR(cspnet::activate(Activation::gelu, 1), 0.8411919989069876, 1e-12);
  EXPECT_NEAR(cspnet::activate(Activation::gelu, -2), -0.04540251771586101, 1e-12);
  for (Activation act : kAllActivations)
    EXPECT_EQ(cspnet::parse_activation(cspnet::activation_name(act), "test"), act) << cspnet::activation_name(act);
}

TEST(LayerReference, ActivateArrayFloatKernelMatchesDoubleDefinition) {
  std::vector<float> xs;
  for (int i = -400; i <= 400; ++i) xs.push_back(float(i) * 0.0625f);  // -25 .. 25
  for (Activation act : kAllActivations) {
    std::vector<float> ys = xs;
    cspnet::activate_array(act, ys.data(), int64_t(ys.size()));
    for (size_t i = 0; i < xs.size(); ++i) {
      double expected = cspnet::activate(act, xs[i]);
      EXPECT_NEAR(ys[i], expected, 1e-5 * std::max(1.0, std::abs(expected)))
          << cspnet::activation_name(act) << " at x = " << xs[i];
    }
  }
}

}  // namespace
