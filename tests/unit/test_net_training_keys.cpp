// [net] training keys are read through Options: a bad value in the cfg names
// its file:line, a bad override names --set, and an override wins.
#include <gtest/gtest.h>

#include <string>

#include "cspnet/cfg.hpp"
#include "cspnet/lr_schedule.hpp"
#include "cspnet/network.hpp"
#include "cspnet/optimizer.hpp"
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

}  // namespace
