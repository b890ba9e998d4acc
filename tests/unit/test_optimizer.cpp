// Optimizer updates against sequences computed by hand from the update rules
// in optimizer.hpp (the same numbers come out of torch.optim.SGD / AdamW with
// per-group weight decay, in double precision).
#include <gtest/gtest.h>

#include <vector>

#include "cspnet/error.hpp"
#include "cspnet/optimizer.hpp"
#include "test_helpers.hpp"

namespace {

using cspnet::Optimizer;
using cspnet::OptimizerConfig;
using cspnet::OptimizerKind;
using cspnet::TrainableParam;
using cspnet::tests::expect_error_mentioning;

// A decaying "weights" array and a non-decaying "biases" array.
struct TwoParams {
  std::vector<float> w{1.0f, -2.0f}, gw{0.f, 0.f};
  std::vector<float> b{0.5f}, gb{0.f};
  std::vector<TrainableParam> params() { return {{"weights", &w, &gw, true}, {"biases", &b, &gb, false}}; }
};

struct Step {
  std::vector<float> gw, gb;
  float lr;
  std::vector<float> w_after, b_after;
};

// Gradients and learning rates shared by every sequence below.
const std::vector<std::vector<float>> kGw = {{0.2f, -0.4f}, {0.1f, 0.0f}, {0.0f, 0.0f}};
const std::vector<std::vector<float>> kGb = {{0.3f}, {-0.1f}, {0.0f}};
const std::vector<float> kLr = {0.1f, 0.05f, 0.1f};

void run_sequence(Optimizer& optimizer, const std::vector<std::vector<float>>& w_after,
                  const std::vector<std::vector<float>>& b_after, float tolerance) {
  TwoParams p;
  auto params = p.params();
  for (size_t t = 0; t < kLr.size(); ++t) {
    p.gw = kGw[t];
    p.gb = kGb[t];
    optimizer.step(params, kLr[t]);
    for (size_t i = 0; i < p.w.size(); ++i) EXPECT_NEAR(p.w[i], w_after[t][i], tolerance) << "step " << t + 1 << " w" << i;
    EXPECT_NEAR(p.b[0], b_after[t][0], tolerance) << "step " << t + 1 << " b";
    EXPECT_EQ(optimizer.steps_done(), t + 1);
  }
}

TEST(Optimizer, SgdMomentumAndDecayFollowDarknetsRuleOverSeveralSteps) {
  // v = 0.9 v + (g + 0.1 w) for weights, v = 0.9 v + g for biases; w -= lr v.
  // Step 1: v = (0.3, -0.6 | 0.3); w = (0.97, -1.94 | 0.47)
  // Step 2: v = (0.27+0.1+0.097, -0.54-0.194 | 0.27-0.1) = (0.467, -0.734 | 0.17)
  //         w = (0.97-0.02335, -1.94+0.0367 | 0.47-0.0085)
  // Step 3: v = (0.4203+0.094665, -0.6606-0.19033 | 0.153)
  OptimizerConfig config;
  config.momentum = 0.9f;
  config.decay = 0.1f;
  Optimizer sgd(config);
  run_sequence(sgd, {{0.97f, -1.94f}, {0.94665f, -1.9033f}, {0.8951535f, -1.818207f}},
               {{0.47f}, {0.4615f}, {0.4462f}}, 2e-6f);
  // The velocity after step 3 is the state.
  ASSERT_EQ(sgd.state().slots.size(), 2u);
  EXPECT_NEAR(sgd.state().slots[0][0], 0.514965f, 1e-6f);
  EXPECT_NEAR(sgd.state().slots[0][1], -0.85093f, 1e-6f);
  EXPECT_NEAR(sgd.state().slots[1][0], 0.153f, 1e-6f);
}

TEST(Optimizer, SgdDecaySkipsParametersWithoutDecay) {
  OptimizerConfig config;
  config.momentum = 0.f;
  config.decay = 0.5f;
  Optimizer sgd(config);
  std::vector<float> w{2.f}, gw{0.f}, b{2.f}, gb{0.f};
  std::vector<TrainableParam> params{{"weights", &w, &gw, true}, {"scales", &b, &gb, false}};
  sgd.step(params, 0.1f);
  EXPECT_FLOAT_EQ(w[0], 2.f - 0.1f * 0.5f * 2.f);  // decayed
  EXPECT_EQ(b[0], 2.f);                             // zero gradient, no decay: untouched
}

TEST(Optimizer, NesterovMatchesHandComputedValues) {
  // g' = g + 0.1 w; v = 0.9 v + g'; w -= lr (g' + 0.9 v).
  // Step 1: g' = 0.3, v = 0.3, w0 = 1 - 0.1 (0.3 + 0.27) = 0.943.
  // Step 2: g' = 0.1 + 0.0943 = 0.1943, v = 0.4643, w0 = 0.943 - 0.05 (0.1943 + 0.41787).
  OptimizerConfig config;
  config.momentum = 0.9f;
  config.decay = 0.1f;
  config.nesterov = true;
  Optimizer nesterov(config);
  run_sequence(nesterov, {{0.943f, -1.886f}, {0.9123915f, -1.843783f}, {0.8574477615f, -1.749734523f}},
               {{0.443f}, {0.44035f}, {0.42658f}}, 2e-6f);
}

TEST(Optimizer, AdamWMatchesHandComputedValues) {
  // Step 1 (w0, g = 0.2): w = 0.999 (decoupled 0.1*0.01), m = 0.02, s = 4e-5,
  // m^ = 0.2, s^ = 0.04, w -= 0.1 * 0.2 / (0.2 + 1e-8) -> 0.899.
  // The bias (no decay) moves by lr * sign(g) on the first step: 0.5 -> 0.4.
  OptimizerConfig config;
  config.kind = OptimizerKind::adamw;
  config.decay = 0.01f;
  Optimizer adamw(config);
  run_sequence(adamw, {{0.899000005f, -1.898000002f}, {0.851941526f, -1.863548091f}, {0.7790318338f, -1.809888848f}},
               {{0.4000000033f}, {0.3799890756f}, {0.3490520657f}}, 3e-6f);
  ASSERT_EQ(adamw.state().slots.size(), 2u);
  EXPECT_EQ(adamw.state().slots[0].size(), 4u);  // first then second moment
}

TEST(Optimizer, StateRoundTripContinuesIdentically) {
  OptimizerConfig config;
  config.kind = OptimizerKind::adamw;
  Optimizer straight(config), resumed(config);
  TwoParams a, b;
  auto pa = a.params(), pb = b.params();
  for (size_t t = 0; t < 3; ++t) {
    a.gw = b.gw = kGw[t];
    a.gb = b.gb = kGb[t];
    straight.step(pa, kLr[t]);
    if (t == 1) {
      Optimizer restored(config);
      restored.set_state(resumed.state(), pb);
      resumed = restored;
    }
    resumed.step(pb, kLr[t]);
  }
  EXPECT_EQ(a.w, b.w);
  EXPECT_EQ(a.b, b.b);
  EXPECT_EQ(straight.state().slots, resumed.state().slots);
  EXPECT_EQ(resumed.steps_done(), 3u);
}

TEST(Optimizer, SetStateRejectsMismatchesAndKeepsItsState) {
  Optimizer sgd(OptimizerConfig{});
  TwoParams p;
  auto params = p.params();
  sgd.step(params, 0.1f);
  const auto before = sgd.state();

  cspnet::OptimizerState wrong_kind = before;
  wrong_kind.kind = OptimizerKind::adamw;
  expect_error_mentioning([&] { sgd.set_state(wrong_kind, params); }, {"adamw"});
  cspnet::OptimizerState short_slot = before;
  short_slot.slots[0].pop_back();
  expect_error_mentioning([&] { sgd.set_state(short_slot, params); }, {"'weights'"});
  cspnet::OptimizerState missing = before;
  missing.slots.pop_back();
  EXPECT_THROW(sgd.set_state(missing, params), cspnet::Error);
  EXPECT_EQ(sgd.state().slots, before.slots);
  EXPECT_EQ(sgd.state().step, before.step);
}

TEST(Optimizer, StepRejectsADifferentParameterList) {
  Optimizer sgd(OptimizerConfig{});
  TwoParams p;
  auto params = p.params();
  sgd.step(params, 0.1f);
  std::vector<TrainableParam> fewer{params[0]};
  EXPECT_THROW(sgd.step(fewer, 0.1f), cspnet::Error);
  EXPECT_THROW(sgd.step(params, -1.f), cspnet::Error);
}

TEST(Optimizer, LargeArraysGiveTheSameResultAsSmallOnes) {
  // Above the parallel threshold every element still follows the scalar rule.
  OptimizerConfig config;
  config.decay = 0.01f;
  Optimizer big(config), small(config);
  const size_t n = 200000;
  std::vector<float> w(n), g(n);
  for (size_t i = 0; i < n; ++i) {
    w[i] = float(i % 97) * 0.01f - 0.3f;
    g[i] = float(i % 13) * 0.02f - 0.1f;
  }
  std::vector<float> w_big = w;
  std::vector<TrainableParam> params{{"weights", &w_big, &g, true}};
  big.step(params, 0.1f);
  big.step(params, 0.1f);
  for (size_t i = 0; i < n; i += 9973) {
    std::vector<float> one_w{w[i]}, one_g{g[i]};
    Optimizer single(config);
    std::vector<TrainableParam> one{{"weights", &one_w, &one_g, true}};
    single.step(one, 0.1f);
    single.step(one, 0.1f);
    EXPECT_EQ(one_w[0], w_big[i]) << i;
  }
}

cspnet::OptimizerConfig parse(const std::map<std::string, std::string>& keys) {
  const cspnet::CfgSection section = cspnet::tests::net_section(keys);
  cspnet::Options net(section, "net.cfg");
  return cspnet::parse_optimizer_config(net);
}

TEST(OptimizerConfigParse, ReadsDarknetKeysAndOurs) {
  auto c = parse({{"momentum", "0.8"}, {"decay", "0.0005"}, {"nesterov", "1"}});
  EXPECT_EQ(c.kind, OptimizerKind::sgd);
  EXPECT_FLOAT_EQ(c.momentum, 0.8f);
  EXPECT_FLOAT_EQ(c.decay, 0.0005f);
  EXPECT_TRUE(c.nesterov);
  auto a = parse({{"optimizer", "adamw"}, {"B1", "0.8"}, {"B2", "0.99"}, {"eps", "1e-6"}});
  EXPECT_EQ(a.kind, OptimizerKind::adamw);
  EXPECT_FLOAT_EQ(a.beta1, 0.8f);
  EXPECT_FLOAT_EQ(a.beta2, 0.99f);
  EXPECT_FLOAT_EQ(a.epsilon, 1e-6f);
  auto d = parse({});
  EXPECT_FLOAT_EQ(d.momentum, 0.9f);
  EXPECT_FLOAT_EQ(d.decay, 0.0001f);  // darknet's default
}

void expect_parse_error(const std::map<std::string, std::string>& keys, const std::string& key,
                        const std::string& fragment) {
  SCOPED_TRACE(key);
  expect_error_mentioning([&] { parse(keys); }, {"net.cfg:", ": [net]", "'" + key + "'", fragment});
}

TEST(OptimizerConfigParse, BadValuesNameTheKeyAndTheExpectation) {
  expect_parse_error({{"optimizer", "adam"}}, "optimizer", "sgd or adamw");
  expect_parse_error({{"momentum", "1.5"}}, "momentum", "[0, 1)");
  expect_parse_error({{"momentum", "fast"}}, "momentum", "a finite number");
  expect_parse_error({{"decay", "-0.1"}}, "decay", ">= 0");
  expect_parse_error({{"nesterov", "2"}}, "nesterov", "0 or 1");
  expect_parse_error({{"optimizer", "adamw"}, {"nesterov", "1"}}, "nesterov", "adamw");
  expect_parse_error({{"adam", "1"}}, "adam", "optimizer=adamw");
  expect_parse_error({{"eps", "0"}}, "eps", "> 0");
}

}  // namespace
