// network_cfg: a network written back as a darknet cfg from its public
// layer description re-parses into the same graph (kinds, attributes,
// edges, shapes, counts) — for the project's cfgs, every zoo model and the
// paper's release cfgs.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "cspnet/cspnet.hpp"
#include "test_helpers.hpp"
#include "train/net_training_keys.hpp"

namespace cspnet {
namespace {

// The [net] training keys, in order: what the trainer reads.
std::vector<std::pair<std::string, std::string>> training_keys(const Network& net) {
  std::vector<std::pair<std::string, std::string>> keys;
  for (const CfgEntry& entry : net.config().section.entries)
    if (is_net_training_key(entry.key)) keys.emplace_back(entry.key, entry.value);
  return keys;
}

void expect_round_trip(const Network& net) {
  SCOPED_TRACE(net.name());
  const std::string text = format_cfg(network_cfg(net));
  ParseOptions parse;
  parse.strict = true;  // every key written is read
  parse.width = net.config().width;
  parse.height = net.config().height;
  const Network back = Network::from_cfg(parse_cfg_text(text, net.name() + ".cfg"), parse);
  ASSERT_EQ(back.size(), net.size());
  for (int i = 0; i < net.size(); ++i) {
    SCOPED_TRACE("layer " + std::to_string(i));
    EXPECT_EQ(back.layer(i).kind(), net.layer(i).kind());
    EXPECT_TRUE(back.layer(i).attrs() == net.layer(i).attrs());
    EXPECT_EQ(back.layer(i).inputs(), net.layer(i).inputs());
    EXPECT_EQ(back.layer(i).output_shape(), net.layer(i).output_shape());
  }
  EXPECT_EQ(back.parameter_count(), net.parameter_count());
  EXPECT_EQ(back.bflops(), net.bflops());
  EXPECT_EQ(training_keys(back), training_keys(net));
}

TEST(NetworkCfg, ProjectCfgsRoundTrip) {
  for (const char* name : {"classifier_every_head.cfg", "csp_every_layer.cfg", "original_shortcut.cfg",
                           "train_every_layer.cfg"})
    expect_round_trip(Network::from_cfg_file(tests::test_cfg(name)));
}

TEST(NetworkCfg, ZooModelsRoundTrip) {
  for (const ZooModel& model : zoo_models()) expect_round_trip(model.build(model.input).build());
}

TEST(NetworkCfg, ReleaseCfgsRoundTrip) {
  if (!std::filesystem::is_directory(CSPNET_SHARED_CFG_DIR))
    GTEST_SKIP() << "../shared/cfg (the paper's official cfg files) is absent: " CSPNET_SHARED_CFG_DIR;
  for (const auto& entry : std::filesystem::directory_iterator(CSPNET_SHARED_CFG_DIR))
    if (entry.path().extension() == ".cfg") expect_round_trip(Network::from_cfg_file(entry.path().string()));
}

TEST(NetworkCfg, WritesEveryAttributeAndAbsoluteReferences) {
  const Network net = Network::from_cfg(parse_cfg_text(
      "[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=mish\n"
      "[route]\nlayers=-1,0\n[shortcut]\nfrom=-2\nalpha=0.5\n",
      "refs.cfg"));
  const std::string text = format_cfg(network_cfg(net));
  for (const char* line : {"[convolutional]\nfilters=4\nsize=3\nstride_x=1\nstride_y=1\npadding=1\ngroups=1\n"
                           "dilation=1\nbatch_normalize=0\nactivation=mish\n",
                           "[route]\nlayers=0,0\ngroups=1\ngroup_id=0\n", "[shortcut]\nfrom=0\nactivation=linear\nalpha=0.5\n"})
    EXPECT_NE(text.find(line), std::string::npos) << "missing:\n" << line << "in:\n" << text;
}

}  // namespace
}  // namespace cspnet
