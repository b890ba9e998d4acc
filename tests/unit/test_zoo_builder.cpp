// The builder API under the zoo: ModelBuilder, the CSP stage (split kinds,
// part ratio, fusion variants), each block kind, and the cfg writer.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cspnet/cspnet.hpp"

namespace {

using namespace cspnet;

NetInput input(int side, int channels) {
  NetInput in;
  in.width = in.height = side;
  in.channels = channels;
  return in;
}

std::vector<std::string> section_names(const ModelBuilder& b, int from) {
  std::vector<std::string> names;
  for (size_t s = static_cast<size_t>(from) + 2; s < b.cfg().sections.size(); ++s)  // section 0 is [net]
    names.push_back(b.cfg().sections[s].name);
  return names;
}

std::string value(const CfgSection& section, const std::string& key) {
  for (const auto& e : section.entries)
    if (e.key == key) return e.value;
  return "";
}

TEST(ModelBuilder, TracksChannelsAndReadsEarlierLayersThroughARoute) {
  ModelBuilder b("t", input(32, 3));
  int a = b.conv(ConvSpec{.filters = 16, .size = 3});
  int c = b.conv(ConvSpec{.filters = 8});
  EXPECT_EQ(b.channels(a), 16);
  EXPECT_EQ(b.channels(c), 8);
  int d = b.conv(ConvSpec{.filters = 4}, a);  // reads layer 0: a [route] -2 first
  EXPECT_EQ(d, 3);
  EXPECT_EQ(b.cfg().sections[3].name, "route");
  EXPECT_EQ(value(b.cfg().sections[3], "layers"), "-2");
  int cat = b.route({d, c, a});
  EXPECT_EQ(b.channels(cat), 4 + 8 + 16);
  EXPECT_EQ(value(b.cfg().sections.back(), "layers"), "-1,-3,-4");
  Network net = b.build();
  EXPECT_EQ(net.layer(cat).output_shape().c, 28);
}

TEST(ModelBuilder, DefaultActivationAndExplicitOnes) {
  ModelBuilder b("t", input(16, 3), "mish");
  b.conv(ConvSpec{.filters = 8});
  b.conv(ConvSpec{.filters = 8, .activation = "linear", .batch_normalize = false});
  EXPECT_EQ(value(b.cfg().sections[1], "activation"), "mish");
  EXPECT_EQ(value(b.cfg().sections[1], "batch_normalize"), "1");
  EXPECT_EQ(value(b.cfg().sections[2], "activation"), "linear");
  EXPECT_EQ(value(b.cfg().sections[2], "batch_normalize"), "");
}

TEST(ModelBuilder, ChannelSliceUsesAlignedRouteGroups) {
  ModelBuilder b("t", input(8, 3));
  int base = b.conv(ConvSpec{.filters = 64});
  // One aligned chunk: a single route-group view.
  int half = b.channel_slice(base, 32, 64);
  EXPECT_EQ(b.channels(half), 32);
  EXPECT_EQ(value(b.cfg().sections.back(), "groups"), "2");
  EXPECT_EQ(value(b.cfg().sections.back(), "group_id"), "1");
  // [16, 64) is no single chunk: [16,32) + [32,64), concatenated.
  const int before = b.last();
  int three_quarters = b.channel_slice(base, 16, 64);
  EXPECT_EQ(b.channels(three_quarters), 48);
  EXPECT_EQ(section_names(b, before), (std::vector<std::string>{"route", "route", "route"}));
  Network net = b.build();
  EXPECT_EQ(net.layer(three_quarters).output_shape().c, 48);
  EXPECT_THROW(b.channel_slice(base, 10, 80), Error);
}

TEST(ModelBuilder, RejectsBadGroupsAndReferences) {
  ModelBuilder b("t", input(8, 3));
  b.conv(ConvSpec{.filters = 6});
  EXPECT_THROW(b.conv(ConvSpec{.filters = 8, .groups = 4}), Error);
  EXPECT_THROW(b.route({5}), Error);
  EXPECT_THROW(b.route_group(0, 4, 0), Error);
  EXPECT_THROW(b.shortcut(3), Error);
}

// A 16-channel base and two dense layers (growth 4) on part 2.
CspStage dense_stage(Fusion fusion, Split split, double gamma) {
  CspStage stage;
  stage.fusion = fusion;
  stage.split = split;
  stage.gamma = gamma;
  stage.blocks = repeat(DenseLayer{4, 2, 0, 0}, 2);
  return stage;
}

struct StageCase {
  Fusion fusion;
  Split split;
  double gamma;
  std::vector<std::string> sections;  // after the base
  int out_channels;
};

TEST(CspStage, EveryFusionAndSplitProducesThePapersLayerOrder) {
  const std::vector<std::string> dense = {"convolutional", "convolutional", "route"};
  auto with = [](std::vector<std::string> head, const std::vector<std::string>& blocks, std::vector<std::string> tail) {
    for (int i = 0; i < 2; ++i) head.insert(head.end(), blocks.begin(), blocks.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  const std::vector<StageCase> cases = {
      // Part 2 (8 channels) grows to 8 + 2*4 = 16; part 1 keeps 8.
      {Fusion::csp, Split::channel_slice, 0.5,
       with({"route", "route"}, dense, {"convolutional", "route", "convolutional"}), 24},
      {Fusion::fusion_first, Split::channel_slice, 0.5, with({"route", "route"}, dense, {"route", "convolutional"}),
       24},
      {Fusion::fusion_last, Split::channel_slice, 0.5, with({"route", "route"}, dense, {"convolutional", "route"}), 24},
      {Fusion::csp, Split::convolution, 0.5,
       with({"convolutional", "route", "convolutional"}, dense, {"convolutional", "route", "convolutional"}), 24},
      {Fusion::none, Split::channel_slice, 0.5, with({}, dense, {}), 24},
  };
  for (const auto& c : cases) {
    ModelBuilder b("t", input(16, 3));
    int base = b.conv(ConvSpec{.filters = 16});
    int out = append_csp_stage(b, base, dense_stage(c.fusion, c.split, c.gamma));
    EXPECT_EQ(section_names(b, base), c.sections) << fusion_name(c.fusion) << " " << split_name(c.split);
    EXPECT_EQ(b.channels(out), c.out_channels) << fusion_name(c.fusion);
    Network net = b.build();
    EXPECT_EQ(net.layer(out).output_shape().c, c.out_channels);
  }
}

TEST(CspStage, ChannelSliceSendsGammaOfTheChannelsThroughTheBlocks) {
  // gamma 0.25 of 32: part 1 = [0, 24) is two aligned chunks (16 + 8) and
  // their concat, part 2 = [24, 32) one route-group view.
  for (double gamma : {0.25, 0.5, 0.75}) {
    ModelBuilder b("t", input(16, 3));
    int base = b.conv(ConvSpec{.filters = 32});
    CspStage stage = dense_stage(Fusion::fusion_first, Split::channel_slice, gamma);
    stage.blocks.clear();
    int out = append_csp_stage(b, base, stage);
    // No blocks: the concat is [part 2, part 1] = gamma*C + (1-gamma)*C.
    Network net = b.build();
    const Layer& concat = net.layer(out - 1);
    ASSERT_EQ(concat.inputs().size(), 2u);
    EXPECT_EQ(net.layer(concat.inputs()[0]).output_shape().c, int(32 * gamma)) << gamma;
    EXPECT_EQ(net.layer(concat.inputs()[1]).output_shape().c, int(32 * (1 - gamma))) << gamma;
  }
}

TEST(CspStage, ConvolutionSplitTakesExplicitPartConvolutions) {
  ModelBuilder b("t", input(16, 3));
  int base = b.conv(ConvSpec{.filters = 32});
  CspStage stage;
  stage.split = Split::convolution;
  stage.part1 = ConvSpec{.filters = 24, .activation = "linear"};
  stage.part2 = ConvSpec{.filters = 8};
  stage.blocks = {DarknetResidual{4, 8}};
  stage.block_transition = ConvSpec{.filters = 8};
  stage.transition = ConvSpec{.filters = 40};
  int out = append_csp_stage(b, base, stage);
  EXPECT_EQ(b.channels(out), 40);
  EXPECT_EQ(value(b.cfg().sections[2], "filters"), "24");
  EXPECT_EQ(value(b.cfg().sections[2], "activation"), "linear");
  b.build();
}

TEST(CspStage, RejectsPartRatiosThatAreNotWholeChannels) {
  ModelBuilder b("t", input(16, 3));
  int base = b.conv(ConvSpec{.filters = 10});
  EXPECT_THROW(append_csp_stage(b, base, dense_stage(Fusion::csp, Split::channel_slice, 0.25)), Error);
  EXPECT_THROW(append_csp_stage(b, base, dense_stage(Fusion::csp, Split::channel_slice, 1.0)), Error);
  EXPECT_THROW(parse_fusion("fusion_middle"), Error);
  EXPECT_EQ(parse_fusion("fusion_last"), Fusion::fusion_last);
}

struct BlockCase {
  const char* name;
  Block block;
  int in_channels;
  int out_channels;
  int stride;
  std::vector<std::string> sections;
};

TEST(Blocks, EveryKindAppendsItsLayersAndOutputWidth) {
  const std::vector<BlockCase> cases = {
      {"dense", DenseLayer{8, 4, 0, 0}, 16, 24, 1, {"convolutional", "convolutional", "route"}},
      {"dense-elastic",
       DenseLayer{8, 4, 0, 2},
       16,
       24,
       1,
       {"maxpool", "convolutional", "convolutional", "upsample", "route", "convolutional", "convolutional", "shortcut",
        "route"}},
      {"dense-se",
       DenseLayer{8, 4, 2, 0},
       16,
       24,
       1,
       {"convolutional", "convolutional", "avgpool", "convolutional", "convolutional", "scale_channels", "route"}},
      {"two-way",
       TwoWayDenseLayer{8, 2, 0},
       16,
       24,
       1,
       {"convolutional", "convolutional", "route", "convolutional", "convolutional", "convolutional", "route"}},
      {"resnet",
       Bottleneck{8, 32, 1, 2, 0},
       16,
       32,
       2,
       {"convolutional", "convolutional", "convolutional", "shortcut"}},
      {"resnext-se",
       Bottleneck{16, 32, 4, 1, 4},
       16,
       32,
       1,
       {"convolutional", "convolutional", "convolutional", "avgpool", "convolutional", "convolutional",
        "scale_channels", "shortcut"}},
      {"basic", BasicResidual{16, 1}, 16, 16, 1, {"convolutional", "convolutional", "shortcut"}},
      {"darknet", DarknetResidual{8, 16}, 16, 16, 1, {"convolutional", "convolutional", "shortcut"}},
      {"inverted",
       InvertedResidual{96, 16, 1, 1, 0},
       16,
       16,
       1,
       {"convolutional", "convolutional", "convolutional", "shortcut"}},
      {"inverted-strided", InvertedResidual{0, 24, 2, 2, 0}, 16, 24, 2, {"convolutional", "convolutional"}},
  };
  for (const auto& c : cases) {
    ModelBuilder b("t", input(16, 3), "swish");
    int in = b.conv(ConvSpec{.filters = c.in_channels});
    int out = append_block(b, c.block, in);
    EXPECT_EQ(section_names(b, in), c.sections) << c.name;
    EXPECT_EQ(b.channels(out), c.out_channels) << c.name;
    Network net = b.build();
    EXPECT_EQ(net.layer(out).output_shape(), (Shape{1, c.out_channels, 16 / c.stride, 16 / c.stride})) << c.name;
  }
}

TEST(Blocks, InvertedResidualIsDepthwiseWithLinearProjection) {
  ModelBuilder b("t", input(16, 3), "relu");
  int in = b.conv(ConvSpec{.filters = 16});
  append_block(b, InvertedResidual{32, 16, 1, 2, 0}, in);
  const auto& s = b.cfg().sections;
  EXPECT_EQ(value(s[3], "groups"), "32");
  EXPECT_EQ(value(s[3], "filters"), "64");  // depthwise multiplier 2
  EXPECT_EQ(value(s[4], "activation"), "linear");
}

TEST(CfgWriter, FormatThenParseGivesTheSameSectionsAndComments) {
  ModelBuilder b("t", input(16, 3));
  b.note("stem\nsecond line");
  b.conv(ConvSpec{.filters = 8, .size = 3});
  b.global_avgpool();
  const std::string text = format_cfg(b.cfg());
  EXPECT_NE(text.find("# stem\n# second line\n[convolutional]\n"), std::string::npos) << text;
  CfgFile parsed = parse_cfg_text(text, "t.cfg");
  ASSERT_EQ(parsed.sections.size(), b.cfg().sections.size());
  for (size_t s = 0; s < parsed.sections.size(); ++s) {
    EXPECT_EQ(parsed.sections[s].name, b.cfg().sections[s].name);
    ASSERT_EQ(parsed.sections[s].entries.size(), b.cfg().sections[s].entries.size());
  }
}

TEST(CfgWriter, WritesAtomicallyAndReportsUnwritablePaths) {
  ModelBuilder b("t", input(16, 3));
  b.conv(ConvSpec{.filters = 8});
  EXPECT_THROW(write_cfg_file(b.cfg(), "/nonexistent-dir/x.cfg"), Error);
  const std::string path = ::testing::TempDir() + "cspnet_cfg_writer_test.cfg";
  write_cfg_file(b.cfg(), path);
  Network net = Network::from_cfg_file(path, ParseOptions{true});
  EXPECT_EQ(net.size(), 1);
  std::remove(path.c_str());
}

}  // namespace
