// Detection necks and the detector zoo (issue 12): the release's PANet-SPP
// detectors rebuilt layer for layer, every detector exported and re-parsed,
// run forward, its heads at the right strides; the builder's new layers;
// Table 2's BFLOPs; the Maxout memory figure of EFM.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <set>

#include "cspnet/cspnet.hpp"
#include "graph_compare.hpp"
#include "test_helpers.hpp"

namespace {

using namespace cspnet;

std::vector<std::string> detector_names(bool official_only) {
  std::vector<std::string> names;
  for (const auto& m : detector_models())
    if (!official_only || !m.official_cfg.empty()) names.push_back(m.name);
  return names;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (auto& ch : name)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

// ---------------------------------------------------------------------------
// Acceptance 1: the release's detectors, built by the neck builders.

class NecksOfficialCfg : public ::testing::TestWithParam<std::string> {};

TEST_P(NecksOfficialCfg, BuilderGraphIsTheReleasedCfg) {
  CSPNET_REQUIRE_SHARED_CFG();
  const DetectorModel& model = detector_model(GetParam());
  const CfgFile official = read_cfg_file(tests::shared_cfg(model.official_cfg));
  const ModelBuilder ours = model.build(model.input);
  tests::expect_same_sections(official, ours.cfg(), model.name);
  Network theirs = Network::from_cfg(official);
  Network built = ours.build();
  tests::expect_same_graph(theirs, built, model.name);
}

INSTANTIATE_TEST_SUITE_P(Release, NecksOfficialCfg, ::testing::ValuesIn(detector_names(true)), test_name);

TEST(NecksOfficialCfg, BothReleasedDetectorCfgsAreCovered) {
  std::set<std::string> covered;
  for (const auto& m : detector_models())
    if (!m.official_cfg.empty()) covered.insert(m.official_cfg);
  EXPECT_EQ(covered, (std::set<std::string>{"csdarknet53-panet-spp.cfg", "csresnext50-panet-spp.cfg"}));
}

// The taps the release's cfgs route to (their comment: "38:52x52 65:26x26"
// for CSPResNeXt50; layers 54 and 85 in csdarknet53-panet-spp.cfg).
TEST(NecksBackbone, TapsAreTheLayersTheReleaseRoutesTo) {
  NetInput in416 = detector_model("cspresnext50-panet-spp").input;
  const Backbone resnext = detection_backbone("cspresnext50", in416);
  EXPECT_EQ(resnext.tap(8), 38);
  EXPECT_EQ(resnext.tap(16), 65);
  EXPECT_EQ(resnext.top_stride(), 32);
  EXPECT_EQ(resnext.level(0), resnext.builder.last());
  const Backbone darknet = detection_backbone("cspdarknet53", in416);
  EXPECT_EQ(darknet.tap(8), 54);
  EXPECT_EQ(darknet.tap(16), 85);
}

TEST(NecksBackbone, ClassifierIsDroppedAndMissingLevelsAreErrors) {
  NetInput in = zoo_model("csppeleenet").input;
  in.width = in.height = 320;
  const ModelBuilder full = zoo_model("csppeleenet").build(in);
  const Backbone bb = detection_backbone("csppeleenet", in);
  EXPECT_EQ(bb.builder.layers(), full.layers() - 3);
  for (const auto& s : bb.builder.cfg().sections) EXPECT_NE(s.name, "softmax");
  EXPECT_TRUE(bb.has(4));
  EXPECT_FALSE(bb.has(64));
  tests::expect_error_mentioning([&] { (void)bb.tap(64); }, {"stride 64"});
  // The Ref. models' last stage is at 1/64: their coarsest level.
  EXPECT_EQ(detection_backbone("csppeleenet_ref", in).top_stride(), 64);
}

// Any backbone of the zoo with any neck: every neck kind appended to every
// ImageNet backbone builds (shapes inferred strictly) with its heads at
// strides that halve from the backbone's coarsest level.
TEST(NecksAnyBackbone, EveryNeckOnEveryImageNetBackbone) {
  using Append = std::function<void(ModelBuilder&, const Backbone&)>;
  const HeadOptions head;
  HeadOptions two_heads = head;
  two_heads.anchors.resize(12);
  const std::vector<std::pair<std::string, Append>> necks = {
      {"yolov3", [&](auto& b, auto& bb) { append_yolov3_neck(b, bb, YoloV3Options{}, head); }},
      {"fpn-spp", [&](auto& b, auto& bb) { append_yolov3_neck(b, bb, YoloV3Options{true, true, 64}, head); }},
      {"panet-spp", [&](auto& b, auto& bb) { append_panet(b, bb, PanetOptions{.spp = true, .width = 64}, head); }},
      {"prn", [&](auto& b, auto& bb) { append_prn(b, bb, PrnOptions{.levels = 2, .width = 128}, two_heads); }},
      {"prn-3l", [&](auto& b, auto& bb) { append_prn(b, bb, PrnOptions{.levels = 3, .width = 128}, head); }},
      {"cem-sam", [&](auto& b, auto& bb) { append_cem(b, bb, CemOptions{.width = 64, .sam = true}, two_heads); }},
      {"gfm", [&](auto& b, auto& bb) { append_gfm(b, bb, FusionOptions{.exact = false, .width = 32}, head); }},
      {"efm-sam-spp",
       [&](auto& b, auto& bb) { append_efm(b, bb, FusionOptions{.sam = true, .spp = true, .width = 32}, head); }},
      {"efm-plain", [&](auto& b, auto& bb) { append_efm(b, bb, FusionOptions{.maxout = false, .width = 32}, head); }}};
  for (const auto& backbone : zoo_models()) {
    if (backbone.family == "small") continue;
    NetInput in = backbone.input;
    in.width = in.height = 256;
    const Backbone bb = detection_backbone(backbone.name, in);
    for (const auto& [neck, append] : necks) {
      ModelBuilder b = bb.builder;
      append(b, bb);
      const Network net = b.build();
      std::set<int64_t> sides;
      for (int layer : net.output_layers()) sides.insert(net.layer(layer).output_shape().w);
      EXPECT_EQ(sides.size(), net.output_layers().size()) << backbone.name << " + " << neck;
      EXPECT_EQ(*sides.begin(), 256 / bb.top_stride()) << backbone.name << " + " << neck;
      for (int64_t side : sides)
        EXPECT_TRUE(side == *sides.rbegin() || sides.count(2 * side)) << backbone.name << " + " << neck;
    }
  }
}

// ---------------------------------------------------------------------------
// The builder's detection layers.

TEST(NecksModelBuilder, MaxoutSamAndYoloLayers) {
  ModelBuilder b("t", NetInput{.width = 16, .height = 16, .channels = 3, .training = {}});
  const int conv = b.conv(ConvSpec{.filters = 16, .size = 3});
  const int maxout = b.maxout(4);
  EXPECT_EQ(b.channels(maxout), 4);
  tests::expect_error_mentioning([&] { b.maxout(8); }, {"maxout to 8", "from 4"});
  b.conv(ConvSpec{.filters = 16}, conv);
  tests::expect_error_mentioning([&] { b.sam(maxout); }, {"sam from layer", "4 channels"});
  b.sam(conv);
  tests::expect_error_mentioning([&] { b.yolo(YoloSpec{{0}, {10, 13}, 2, {}}); }, {"expected 7"});
  b.conv(ConvSpec{.filters = 7, .activation = "linear", .batch_normalize = false});
  b.yolo(YoloSpec{{0}, {10, 13}, 2, {{"jitter", ".3"}}});
  Network net = b.build();
  EXPECT_EQ(net.layer(maxout).output_shape(), (Shape{1, 4, 16, 16}));
  EXPECT_EQ(net.layer(net.size() - 1).type(), "yolo");
  EXPECT_EQ(net.output_layers(), (std::vector<int>{net.size() - 1}));
  b.truncate(2);
  EXPECT_EQ(b.layers(), 2);
  EXPECT_EQ(b.cfg().sections.size(), 3u);
  tests::expect_error_mentioning([&] { b.truncate(5); }, {"cannot keep 5"});
}

// ---------------------------------------------------------------------------
// Every detector: export-cfg re-parses (strictly) to the identical graph.

class DetectorZooExport : public ::testing::TestWithParam<std::string> {};

TEST_P(DetectorZooExport, ExportedCfgReparsesToTheIdenticalGraph) {
  const DetectorModel& model = detector_model(GetParam());
  const ModelBuilder built = model.build(model.input);
  const CfgFile reparsed = parse_cfg_text(format_cfg(built.cfg()), model.name + ".cfg");
  ASSERT_EQ(reparsed.sections.size(), built.cfg().sections.size());
  for (size_t s = 0; s < reparsed.sections.size(); ++s) {
    ASSERT_EQ(reparsed.sections[s].name, built.cfg().sections[s].name) << s;
    ASSERT_EQ(reparsed.sections[s].entries.size(), built.cfg().sections[s].entries.size()) << s;
    for (size_t e = 0; e < reparsed.sections[s].entries.size(); ++e) {
      EXPECT_EQ(reparsed.sections[s].entries[e].key, built.cfg().sections[s].entries[e].key) << s;
      EXPECT_EQ(reparsed.sections[s].entries[e].value, built.cfg().sections[s].entries[e].value) << s;
    }
  }
  Network a = built.build();
  Network b = Network::from_cfg(reparsed, ParseOptions{true});
  EXPECT_TRUE(b.warnings().empty());
  tests::expect_same_graph(a, b, model.name);
}

INSTANTIATE_TEST_SUITE_P(Zoo, DetectorZooExport, ::testing::ValuesIn(detector_names(false)), test_name);

// ---------------------------------------------------------------------------
// Every detector runs forward at a small size; its [yolo] outputs have
// mask*(classes+5) channels at strides that halve from the coarsest head.

class DetectorZooForward : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    saved_threads_ = num_threads();
    set_num_threads(1);
  }
  void TearDown() override { set_num_threads(saved_threads_); }
  int saved_threads_ = 0;
};

TEST_P(DetectorZooForward, RunsForwardAtASmallSize) {
  const DetectorModel& model = detector_model(GetParam());
  NetInput in = model.input;
  in.width = in.height = model.small ? 64 : 128;
  Network net = model.build(in).build();
  Executor executor(net);
  const std::vector<Tensor> out = executor.forward(tests::random_input(net.input_shape(), 5));
  const std::vector<int> heads = net.output_layers();
  ASSERT_EQ(out.size(), heads.size());
  ASSERT_GE(heads.size(), 2u) << model.name;
  std::set<int> strides;
  for (size_t h = 0; h < heads.size(); ++h) {
    const YoloAttrs* attrs = yolo_attrs(net.layer(heads[h]));
    ASSERT_NE(attrs, nullptr);
    const YoloAttrs& yolo = *attrs;
    EXPECT_EQ(out[h].shape().c, int64_t(yolo.mask.size()) * (yolo.classes + 5)) << model.name;
    EXPECT_EQ(yolo.classes, model.small ? 10 : 80) << model.name;
    ASSERT_GT(out[h].shape().w, 0);
    strides.insert(in.width / int(out[h].shape().w));
    for (float v : out[h].values()) ASSERT_TRUE(std::isfinite(v)) << model.name;
  }
  EXPECT_EQ(strides.size(), heads.size()) << model.name << ": one head per stride";
  for (int s : strides) EXPECT_TRUE(s == *strides.rbegin() || strides.count(2 * s)) << model.name << " stride " << s;
}

INSTANTIATE_TEST_SUITE_P(Zoo, DetectorZooForward, ::testing::ValuesIn(detector_names(false)), test_name);

// ---------------------------------------------------------------------------
// Acceptance 2: Table 2's BFLOPs (the paper's figures repeated here, so the
// registry cannot drift from them unnoticed), at 320x320, within 5%.

struct Table2Row {
  const char* name;
  double paper_bflops;
};
const Table2Row kTable2[] = {{"csppeleenet-prn", 3.590},     {"csppeleenet-prn-3l", 4.586},
                             {"csppeleenet-cem", 4.049},     {"csppeleenet-cem-sam", 4.165},
                             {"csppeleenet-gfm", 4.605},     {"csppeleenet-efm", 4.868},
                             {"csppeleenet-efm-sam", 5.068}, {"csppeleenet-efm-spp", 4.863}};

TEST(DetectorZooTable2, BflopsAt320AreWithinFivePercentOfThePaper) {
  for (const auto& row : kTable2) {
    const DetectorModel& model = detector_model(row.name);
    ASSERT_TRUE(model.paper.has_value()) << row.name;
    EXPECT_EQ(model.paper->bflops, row.paper_bflops) << row.name;
    EXPECT_EQ(model.paper->size, 320) << row.name;
    NetInput in = model.input;
    in.width = in.height = 320;
    const double ours = model.build(in).build().conv_bflops();
    std::printf("%-22s ours %.3f paper %.3f (%+.1f%%)\n", row.name, ours, row.paper_bflops,
                100 * (ours / row.paper_bflops - 1));
    EXPECT_NEAR(ours / row.paper_bflops, 1.0, 0.05) << row.name << ": " << ours;
  }
}

// ---------------------------------------------------------------------------
// Acceptance 4: the memory Maxout saves in EFM's pyramid (the paper: 75% on
// PeleeNet). The concatenated fused maps' size is checked against a count
// written from the layout (backbone levels s-1 and s at s, channels / 4
// with Maxout, plus the coarser fused map); the planned peak is reported.
// Levels count from the coarsest (k = 0); k + 1 is the next finer.

struct PyramidMemory {
  int64_t concat_floats = 0;  // the fused maps' concatenations (every [route] of >1 map in the neck)
  int64_t peak_bytes = 0;     // the executor's planned peak for the whole detector
};

PyramidMemory efm_memory(bool maxout, int width) {
  NetInput in = zoo_model("csppeleenet").input;
  in.width = in.height = 320;
  const Backbone bb = detection_backbone("csppeleenet", in);
  const int backbone_layers = bb.builder.layers();
  ModelBuilder b = bb.builder;
  append_efm(b, bb, FusionOptions{.maxout = maxout, .width = width}, HeadOptions{});
  Network net = b.build();
  PyramidMemory m;
  for (int i = backbone_layers; i < net.size(); ++i)
    if (net.layer(i).type() == "route" && net.layer(i).inputs().size() > 1)
      m.concat_floats += net.layer(i).output_shape().count();
  m.peak_bytes = plan_memory(net, ExecOptions{}).peak_bytes;
  return m;
}

TEST(NecksEfmMaxout, CutsTheConcatenatedPyramidAsTheLayoutSays) {
  const int width = 88;  // the zoo's EFM
  NetInput in = zoo_model("csppeleenet").input;
  in.width = in.height = 320;
  const Backbone bb = detection_backbone("csppeleenet", in);
  const Network backbone = bb.builder.build();
  auto level_channels = [&](int k) { return int64_t(backbone.layer(bb.level(k)).output_shape().c); };
  int64_t want_plain = 0, want_maxout = 0;
  for (int k = 0; k < 3; ++k) {
    const int64_t side = 320 / (bb.top_stride() >> k);
    int64_t plain = 0, compressed = 0;
    for (int j : {k, k + 1})  // its own level and the next finer (level k + 1)
      if (bb.has_level(j)) {
        plain += level_channels(j);
        compressed += level_channels(j) / 4;
      }
    const int64_t top_down = k > 0 ? int64_t(width) << (3 - k) : 0;  // the coarser fused map
    want_plain += (plain + top_down) * side * side;
    want_maxout += (compressed + top_down) * side * side;
  }
  const PyramidMemory with = efm_memory(true, width), without = efm_memory(false, width);
  // The fused maps' concats, plus the bottom-up concats (equal in both).
  const int64_t bottom_up = with.concat_floats - want_maxout;
  EXPECT_EQ(without.concat_floats - want_plain, bottom_up);
  EXPECT_GE(bottom_up, 0);
  const double cut = 1.0 - double(want_maxout) / double(want_plain);
  std::printf(
      "EFM pyramid at 320x320: fused concats %.2f MB with Maxout, %.2f MB without (-%.1f%%; paper: -75%%); "
      "all neck concats %.2f vs %.2f MB; planned peak %.2f vs %.2f MB\n",
      4e-6 * double(want_maxout), 4e-6 * double(want_plain), 100 * cut, 4e-6 * double(with.concat_floats),
      4e-6 * double(without.concat_floats), 1e-6 * double(with.peak_bytes), 1e-6 * double(without.peak_bytes));
  EXPECT_GT(cut, 0.5);
  EXPECT_LT(cut, 0.75);  // the top-down map is not compressed
  EXPECT_LE(with.peak_bytes, without.peak_bytes);
}

TEST(DetectorZooNeckMemory, NeckMapsAreTheDetectorsNonRouteMapsMinusTheBackbones) {
  auto non_route_floats = [](const Network& net) {
    int64_t floats = 0;
    for (int i = 0; i < net.size(); ++i)
      if (net.layer(i).type() != "route") floats += net.layer(i).output_shape().per_image();
    return floats;
  };
  for (const char* name : {"csppeleenet-small-prn", "csppeleenet-small-efm", "csppeleenet-efm-sam"}) {
    SCOPED_TRACE(name);
    const DetectorModel& model = detector_model(name);
    const Network detector = model.build(model.input).build();
    const Network backbone = model.build_backbone(model.input).builder.build();
    ASSERT_LT(backbone.size(), detector.size());
    for (int i = 0; i < backbone.size(); ++i) {  // the backbone is the detector's first layers
      EXPECT_EQ(detector.layer(i).type(), backbone.layer(i).type()) << "layer " << i;
      EXPECT_EQ(detector.layer(i).output_shape(), backbone.layer(i).output_shape()) << "layer " << i;
    }
    const int64_t bytes = neck_map_bytes(model, detector);
    EXPECT_EQ(bytes, 4 * (non_route_floats(detector) - non_route_floats(backbone)));
    EXPECT_GT(bytes, 0);
  }
}

}  // namespace
