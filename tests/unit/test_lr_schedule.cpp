// darknet's learning-rate policies at chosen batch indices, including the
// burn-in and steps boundaries; expected values worked out by hand.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "cspnet/cfg.hpp"
#include "cspnet/error.hpp"
#include "cspnet/lr_schedule.hpp"
#include "cspnet/network.hpp"
#include "test_helpers.hpp"

namespace {

using cspnet::LrPolicy;
using cspnet::LrSchedule;
using Keys = std::map<std::string, std::string>;
using cspnet::tests::expect_error_mentioning;

LrSchedule parse(const Keys& keys) {
  const cspnet::CfgSection section = cspnet::tests::net_section(keys);
  cspnet::Options net(section, "net.cfg");
  return cspnet::parse_lr_schedule(net);
}

// Relative tolerance: the schedule evaluates in double and rounds to float.
void expect_rate(const LrSchedule& s, uint64_t batch, double expected) {
  EXPECT_NEAR(s.rate_at(batch), expected, 1e-6 * std::max(1e-3, std::abs(expected))) << "batch " << batch;
}

TEST(LrSchedule, ConstantWithBurnInRampsWithPowerFour) {
  auto s = parse({{"learning_rate", "0.01"}, {"burn_in", "100"}});
  EXPECT_EQ(s.policy, LrPolicy::constant);
  EXPECT_EQ(s.rate_at(0), 0.f);
  expect_rate(s, 50, 0.01 * 0.0625);        // (1/2)^4
  expect_rate(s, 99, 0.01 * 0.96059601);    // 0.99^4
  expect_rate(s, 100, 0.01);                // burn-in over
  expect_rate(s, 1000000, 0.01);
}

TEST(LrSchedule, BurnInUsesTheConfiguredPower) {
  auto s = parse({{"learning_rate", "0.01"}, {"burn_in", "100"}, {"power", "2"}});
  expect_rate(s, 50, 0.01 * 0.25);
}

TEST(LrSchedule, StepScalesEveryStepBatches) {
  auto s = parse({{"policy", "step"}, {"learning_rate", "0.1"}, {"step", "1000"}, {"scale", "0.5"}});
  expect_rate(s, 0, 0.1);
  expect_rate(s, 999, 0.1);
  expect_rate(s, 1000, 0.05);
  expect_rate(s, 2500, 0.025);
}

TEST(LrSchedule, StepsApplyEachScaleFromItsStepOn) {
  // csdarknet53-panet-spp.cfg's schedule.
  auto s = parse({{"policy", "steps"}, {"learning_rate", "0.001"}, {"burn_in", "1000"}, {"steps", "400000,450000"},
                  {"scales", ".1,.1"}, {"max_batches", "500500"}});
  expect_rate(s, 500, 0.001 * 0.0625);
  expect_rate(s, 999, 0.001 * 0.996005996001);  // 0.999^4
  expect_rate(s, 1000, 0.001);
  expect_rate(s, 399999, 0.001);
  expect_rate(s, 400000, 0.0001);
  expect_rate(s, 449999, 0.0001);
  expect_rate(s, 450000, 0.00001);
  expect_rate(s, 500500, 0.00001);
}

TEST(LrSchedule, StepsAcceptDarknetsNegativeFirstStep) {
  // Old darknet cfgs: steps=-1,100 scales=10,.1 multiply by 10 from the start.
  auto s = parse({{"policy", "steps"}, {"learning_rate", "0.001"}, {"steps", "-1,100"}, {"scales", "10,.1"}});
  expect_rate(s, 0, 0.01);
  expect_rate(s, 99, 0.01);
  expect_rate(s, 100, 0.001);
}

TEST(LrSchedule, PolyDecaysToZeroAtMaxBatches) {
  // csdarknet53.cfg's schedule.
  auto s = parse({{"policy", "poly"}, {"learning_rate", "0.1"}, {"power", "4"}, {"max_batches", "800000"},
                  {"burn_in", "1000"}});
  expect_rate(s, 999, 0.1 * 0.996005996001);
  expect_rate(s, 1000, 0.1 * 0.99500936719);  // (1 - 1/800)^4
  expect_rate(s, 400000, 0.1 * 0.0625);
  expect_rate(s, 600000, 0.1 * 0.00390625);  // (1/4)^4
  EXPECT_EQ(s.rate_at(800000), 0.f);
  EXPECT_EQ(s.rate_at(900000), 0.f);  // darknet's formula would grow again here
}

TEST(LrSchedule, ExpAndSigmoid) {
  auto e = parse({{"policy", "exp"}, {"learning_rate", "0.1"}, {"gamma", "0.99"}});
  expect_rate(e, 0, 0.1);
  expect_rate(e, 1, 0.099);
  expect_rate(e, 100, 0.1 * 0.36603234127);
  auto s = parse({{"policy", "sigmoid"}, {"learning_rate", "0.1"}, {"gamma", "0.01"}, {"step", "500"}});
  expect_rate(s, 0, 0.1 / (1 + 0.006737946999));  // e^-5
  expect_rate(s, 500, 0.05);
  expect_rate(s, 1000, 0.1 / (1 + 148.4131591026));  // e^5
  EXPECT_EQ(parse({{"policy", "sig"}}).policy, LrPolicy::sigmoid);
}

TEST(LrSchedule, SgdrRestartsWithGrowingCycles) {
  // Cycle 0..10 (length 10), restart at 11 into 10..30 (length 20), then 30..70.
  auto s = parse({{"policy", "sgdr"}, {"learning_rate", "0.1"}, {"learning_rate_min", "0"}, {"sgdr_cycle", "10"},
                  {"sgdr_mult", "2"}});
  expect_rate(s, 0, 0.1);
  expect_rate(s, 5, 0.05);
  EXPECT_NEAR(s.rate_at(10), 0.0, 1e-9);
  expect_rate(s, 11, 0.05 * (1 + 0.98768834060));  // cos(pi/20)
  expect_rate(s, 20, 0.05);                        // half of the second cycle
  EXPECT_NEAR(s.rate_at(30), 0.0, 1e-9);
  expect_rate(s, 31, 0.05 * (1 + 0.99691733373));  // cos(pi/40)
  expect_rate(s, 50, 0.05);
}

TEST(LrSchedule, SgdrWithMultiplierOneRepeatsTheSameCycle) {
  auto s = parse({{"policy", "sgdr"}, {"learning_rate", "0.1"}, {"learning_rate_min", "0.01"}, {"sgdr_cycle", "10"},
                  {"sgdr_mult", "1"}});
  expect_rate(s, 10, 0.01);
  expect_rate(s, 11, 0.01 + 0.045 * (1 + 0.95105651630));  // cos(pi/10)
  expect_rate(s, 21, s.rate_at(11));
  expect_rate(s, 1000000001, s.rate_at(11));
}

TEST(LrSchedule, SgdrDefaultsFollowDarknet) {
  // learning_rate_min 1e-5 and a cycle of max_batches.
  auto s = parse({{"policy", "sgdr"}, {"learning_rate", "0.1"}, {"max_batches", "100"}});
  expect_rate(s, 100, 0.00001);
  expect_rate(s, 50, 0.00001 + 0.5 * (0.1 - 0.00001));
}

TEST(LrSchedule, CosineDecaysToZeroOverMaxBatches) {
  auto s = parse({{"policy", "cosine"}, {"learning_rate", "0.1"}, {"max_batches", "100"}, {"burn_in", "10"}});
  expect_rate(s, 5, 0.1 * 0.0625);
  expect_rate(s, 50, 0.05);
  EXPECT_NEAR(s.rate_at(100), 0.0, 1e-9);
}

TEST(LrSchedule, ProgrammaticSettingsAreValidated) {
  LrSchedule s;
  s.policy = LrPolicy::step;
  s.step = 0;
  EXPECT_THROW(s.validate("--lr-step"), cspnet::Error);
  s.step = 10;
  EXPECT_NO_THROW(s.validate("--lr-step"));
}

void expect_error(const Keys& keys, const std::string& key, const std::string& fragment) {
  SCOPED_TRACE(key);
  expect_error_mentioning([&] { parse(keys); }, {"net.cfg:", ": [net]", "'" + key + "'", fragment});
}

TEST(LrScheduleParse, BadValuesNameTheKeyAndWhatWasExpected) {
  expect_error({{"policy", "bogus"}}, "policy", "one of constant, step, steps");
  expect_error({{"policy", "bogus"}}, "policy", "got 'bogus'");
  expect_error({{"learning_rate", "-0.1"}}, "learning_rate", ">= 0");
  expect_error({{"learning_rate", "fast"}}, "learning_rate", "a finite number");
  expect_error({{"policy", "steps"}, {"steps", "100,200"}, {"scales", ".1"}}, "scales", "2 values");
  expect_error({{"policy", "steps"}, {"steps", "200,100"}, {"scales", ".1,.1"}}, "steps", "strictly increasing");
  expect_error({{"policy", "steps"}, {"steps", "100,100"}, {"scales", ".1,.1"}}, "steps", "strictly increasing");
  expect_error({{"policy", "steps"}, {"steps", "100,200"}}, "scales", "policy=steps");
  expect_error({{"policy", "steps"}, {"steps", "100,x"}, {"scales", ".1,.1"}}, "steps", "integers");
  expect_error({{"policy", "poly"}}, "max_batches", "positive");
  expect_error({{"policy", "step"}, {"step", "0"}}, "step", "positive");
  expect_error({{"policy", "exp"}, {"gamma", "0"}}, "gamma", "> 0");
  expect_error({{"policy", "sgdr"}}, "sgdr_cycle", "max_batches");
  expect_error({{"policy", "sgdr"}, {"max_batches", "10"}, {"sgdr_mult", "0"}}, "sgdr_mult", ">= 1");
  expect_error({{"burn_in", "-5"}}, "burn_in", ">= 0");
}

TEST(LrScheduleParse, ScheduleKeysInANetSectionAreNotReportedAsUnused) {
  const std::string cfg =
      "[net]\nwidth=8\nheight=8\nchannels=1\npolicy=sgdr\nsgdr_cycle=10\nsgdr_mult=2\nlearning_rate_min=0\n"
      "optimizer=adamw\nmax_batches=100\n\n[convolutional]\nfilters=2\nsize=1\nactivation=linear\n";
  auto net = cspnet::Network::from_cfg(cspnet::parse_cfg_text(cfg, "sgdr.cfg"));
  EXPECT_TRUE(net.warnings().empty()) << net.warnings().front();
  cspnet::Options keys(net.config().section, net.config().path);
  auto s = cspnet::parse_lr_schedule(keys);
  EXPECT_EQ(s.policy, LrPolicy::sgdr);
  EXPECT_EQ(s.sgdr_cycle, 10);
}

}  // namespace
