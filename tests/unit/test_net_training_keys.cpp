// [net] training keys are read through Options: a bad value in the cfg names
// its file:line, a bad override names --set, and an override wins.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "cspnet/cfg.hpp"
#include "cspnet/lr_schedule.hpp"
#include "cspnet/network.hpp"
#include "cspnet/optimizer.hpp"
#include "malformed_table.hpp"
#include "test_helpers.hpp"
#include "train/net_training_keys.hpp"

namespace {

using cspnet::tests::expect_error_mentioning;

// `extra` lands on line 5 of bad.cfg.
cspnet::Network net_with(const std::string& extra) {
  const std::string cfg = "[net]\nwidth=8\nheight=8\nchannels=1\n" + extra +
                          "\n\n[convolutional]\nfilters=2\nsize=1\nactivation=linear\n";
  return cspnet::Network::from_cfg(cspnet::parse_cfg_text(cfg, "bad.cfg"));
}

TEST(NetTrainingKeys, BadNumberInTheCfgNamesFileAndLine) {
  cspnet::Network net = net_with("learning_rate=abc");
  cspnet::NetTrainingKeys keys(net.config(), {});
  expect_error_mentioning([&] { cspnet::parse_lr_schedule(keys.options()); },
                          {"bad.cfg:5: [net] key 'learning_rate': expected a finite number, got 'abc'"});
}

TEST(NetTrainingKeys, BadListInTheCfgNamesFileAndLine) {
  cspnet::Network net = net_with("policy=steps\nscales=.1,.1\nsteps=100,x");
  cspnet::NetTrainingKeys keys(net.config(), {});
  expect_error_mentioning([&] { cspnet::parse_lr_schedule(keys.options()); },
                          {"bad.cfg:7: [net] key 'steps': expected a comma-separated list of integers, got '100,x'"});
}

TEST(NetTrainingKeys, EmptyValueInTheCfgNamesFileAndLine) {
  cspnet::Network net = net_with("momentum=");
  cspnet::NetTrainingKeys keys(net.config(), {});
  expect_error_mentioning([&] { cspnet::parse_optimizer_config(keys.options()); },
                          {"bad.cfg:5: [net] key 'momentum': expected a finite number, got ''"});
}

TEST(NetTrainingKeys, BadOverrideNamesSet) {
  cspnet::Network net = net_with("learning_rate=0.1");
  cspnet::NetTrainingKeys keys(net.config(), cspnet::override_entries({{"learning_rate", "abc"}}, "--set"));
  expect_error_mentioning([&] { cspnet::parse_lr_schedule(keys.options()); },
                          {"--set learning_rate: expected a finite number, got 'abc'"});
  cspnet::NetTrainingKeys list(net.config(), cspnet::override_entries({{"policy", "steps"}, {"scales", ".1"},
                                                                      {"steps", "100,x"}}, "--set"));
  expect_error_mentioning([&] { cspnet::parse_lr_schedule(list.options()); },
                          {"--set steps: expected a comma-separated list of integers, got '100,x'"});
}

TEST(NetTrainingKeys, OutOfRangeScheduleValuesNameTheirLineOrSet) {
  cspnet::Network net = net_with("policy=steps\nsteps=200,100\nscales=.1,.1");
  cspnet::NetTrainingKeys keys(net.config(), {});
  expect_error_mentioning([&] { cspnet::parse_lr_schedule(keys.options()); },
                          {"bad.cfg:6: [net] key 'steps': expected strictly increasing", "got 200 followed by 100"});
  cspnet::NetTrainingKeys set(net.config(), cspnet::override_entries({{"learning_rate", "-1"}}, "--set"));
  expect_error_mentioning([&] { cspnet::parse_lr_schedule(set.options()); },
                          {"--set learning_rate: expected a finite number >= 0, got -1"});
}

TEST(NetTrainingKeys, OverrideWinsOverTheCfg) {
  cspnet::Network net = net_with("learning_rate=0.1\nmomentum=0.5");
  cspnet::NetTrainingKeys keys(net.config(), cspnet::override_entries({{"learning_rate", "0.25"}}, "--set"));
  EXPECT_DOUBLE_EQ(cspnet::parse_lr_schedule(keys.options()).learning_rate, 0.25);
  EXPECT_FLOAT_EQ(cspnet::parse_optimizer_config(keys.options()).momentum, 0.5f);
}

TEST(NetTrainingKeys, TheKeyListLivesWithTraining) {
  EXPECT_TRUE(cspnet::is_net_training_key("learning_rate"));
  EXPECT_TRUE(cspnet::is_net_training_key("translate"));
  EXPECT_FALSE(cspnet::is_net_training_key("width"));
  EXPECT_FALSE(cspnet::is_net_training_key("learning_rat"));
}

// Bad [net] training keys and --set overrides, each with the text it must
// give: the training-keys table of docs/malformed-inputs.md. Each case is
// read as training reads it: the schedule, then the optimizer.
TEST(NetTrainingKeys, MalformedTable) {
  struct Case {
    const char* name;
    const char* extra;  // [net] lines from line 5 of bad.cfg
    std::map<std::string, std::string> set;  // --set overrides
    std::string expect;
  };
  // clang-format off
  const std::vector<Case> cases = {
      {"LearningRateText", "learning_rate=abc", {}, "bad.cfg:5: [net] key 'learning_rate': expected a finite number, got 'abc'"},
      {"LearningRateNegative", "learning_rate=-1", {}, "bad.cfg:5: [net] key 'learning_rate': expected a finite number >= 0, got -1"},
      {"LearningRateNan", "learning_rate=nan", {}, "bad.cfg:5: [net] key 'learning_rate': expected a finite number, got 'nan'"},
      {"LearningRateInfinite", "learning_rate=inf", {}, "bad.cfg:5: [net] key 'learning_rate': expected a finite number, got 'inf'"},
      {"LearningRateEmpty", "learning_rate=", {}, "bad.cfg:5: [net] key 'learning_rate': expected a finite number, got ''"},
      {"UnknownPolicy", "policy=linear", {}, "bad.cfg:5: [net] key 'policy': expected one of constant, step, steps, poly, exp, sigmoid, sgdr, cosine, got 'linear'"},
      {"StepsPolicyWithoutSteps", "policy=steps\nscales=.1", {}, "bad.cfg:1: [net] key 'steps': expected a comma-separated list of batch numbers (policy=steps)"},
      {"StepsPolicyWithoutScales", "policy=steps\nsteps=100", {}, "bad.cfg:1: [net] key 'scales': expected a comma-separated list of factors (policy=steps)"},
      {"StepsNotNumbers", "policy=steps\nsteps=100,x\nscales=.1,.1", {}, "bad.cfg:6: [net] key 'steps': expected a comma-separated list of integers, got '100,x'"},
      {"StepsDecreasing", "policy=steps\nsteps=200,100\nscales=.1,.1", {}, "bad.cfg:6: [net] key 'steps': expected strictly increasing batch numbers (policy=steps), got 200 followed by 100"},
      {"StepsAndScalesCountsDiffer", "policy=steps\nsteps=100,200\nscales=.1", {}, "bad.cfg:7: [net] key 'scales': expected 2 values, one per entry of steps (policy=steps), got 1"},
      {"ScalesNegative", "policy=steps\nsteps=100\nscales=-0.1", {}, "bad.cfg:7: [net] key 'scales': expected finite numbers >= 0 (policy=steps), got -0.1"},
      {"BurnInNegative", "burn_in=-5", {}, "bad.cfg:5: [net] key 'burn_in': expected an integer >= 0, got -5"},
      {"BurnInFractional", "burn_in=1.5", {}, "bad.cfg:5: [net] key 'burn_in': expected an integer, got '1.5'"},
      {"MaxBatchesNegative", "max_batches=-1", {}, "bad.cfg:5: [net] key 'max_batches': expected an integer >= 0, got -1"},
      {"MaxBatchesBeyondInt64", "max_batches=99999999999999999999", {}, "bad.cfg:5: [net] key 'max_batches': expected an integer, got '99999999999999999999'"},
      {"PowerText", "power=abc", {}, "bad.cfg:5: [net] key 'power': expected a finite number, got 'abc'"},
      {"StepPolicyStepZero", "policy=step\nstep=0", {}, "bad.cfg:6: [net] key 'step': expected a positive integer (policy=step), got 0"},
      {"StepPolicyScaleNegative", "policy=step\nscale=-1", {}, "bad.cfg:6: [net] key 'scale': expected a finite number >= 0 (policy=step), got -1"},
      {"ExpPolicyGammaText", "policy=exp\ngamma=abc", {}, "bad.cfg:6: [net] key 'gamma': expected a finite number, got 'abc'"},
      {"SgdrCycleZero", "policy=sgdr\nsgdr_cycle=0", {}, "bad.cfg:6: [net] key 'sgdr_cycle': expected a positive integer, or max_batches > 0 to default to (policy=sgdr), got neither"},
      {"SgdrMultZero", "policy=sgdr\nmax_batches=1000\nsgdr_mult=0", {}, "bad.cfg:7: [net] key 'sgdr_mult': expected an integer >= 1 (policy=sgdr), got 0"},
      {"CosineMinimumNegative", "policy=cosine\nmax_batches=1000\nlearning_rate_min=-1", {}, "bad.cfg:7: [net] key 'learning_rate_min': expected a number in [0, learning_rate=0.001] (policy=cosine), got -1"},
      {"MomentumOne", "momentum=1", {}, "bad.cfg:5: [net] key 'momentum': expected a number in [0, 1), got '1'"},
      {"MomentumNegative", "momentum=-0.1", {}, "bad.cfg:5: [net] key 'momentum': expected a number in [0, 1), got '-0.1'"},
      {"MomentumTwoDots", "momentum=0.9.1", {}, "bad.cfg:5: [net] key 'momentum': expected a finite number, got '0.9.1'"},
      {"DecayNegative", "decay=-0.0005", {}, "bad.cfg:5: [net] key 'decay': expected a number >= 0, got '-0.0005'"},
      {"UnknownOptimizer", "optimizer=adam", {}, "bad.cfg:5: [net] key 'optimizer': expected sgd or adamw, got 'adam'"},
      {"DarknetAdam", "adam=1", {}, "bad.cfg:5: [net] key 'adam': expected 0 (darknet's Adam couples L2 decay into the gradient; use optimizer=adamw), got '1'"},
      {"AdamWBeta1One", "optimizer=adamw\nB1=1", {}, "bad.cfg:6: [net] key 'B1': expected a number in [0, 1), got '1'"},
      {"AdamWBeta2Negative", "optimizer=adamw\nB2=-0.5", {}, "bad.cfg:6: [net] key 'B2': expected a number in [0, 1), got '-0.5'"},
      {"AdamWEpsilonZero", "optimizer=adamw\neps=0", {}, "bad.cfg:6: [net] key 'eps': expected a number > 0, got '0'"},
      {"NesterovTwo", "nesterov=2", {}, "bad.cfg:5: [net] key 'nesterov': expected 0 or 1, got '2'"},
      {"NesterovWithAdamW", "optimizer=adamw\nnesterov=1", {}, "bad.cfg:6: [net] key 'nesterov': expected 0 with optimizer=adamw (Nesterov momentum is an SGD option), got '1'"},
      {"SetLearningRateText", "learning_rate=0.1", {{"learning_rate", "abc"}}, "--set learning_rate: expected a finite number, got 'abc'"},
      {"SetMomentumTwo", "", {{"momentum", "2"}}, "--set momentum: expected a number in [0, 1), got '2'"},
      {"SetPolicyUnknown", "", {{"policy", "linear"}}, "--set policy: expected one of constant, step, steps, poly, exp, sigmoid, sgdr, cosine, got 'linear'"},
  };
  // clang-format on
  EXPECT_GE(cases.size(), 30u);  // docs/reliability.md promises at least 30 per reader
  for (const auto& c : cases) {
    std::string message = "(no error)";
    try {
      cspnet::Network net = net_with(c.extra);
      cspnet::NetTrainingKeys keys(net.config(), cspnet::override_entries(c.set, "--set"));
      cspnet::parse_lr_schedule(keys.options());
      cspnet::parse_optimizer_config(keys.options());
    } catch (const cspnet::Error& e) {
      message = e.what();
    }
    cspnet::test::record_malformed_row("training-keys", c.name, message);
    EXPECT_NE(message.find(c.expect), std::string::npos) << c.name << ": " << message;
  }
}

}  // namespace
