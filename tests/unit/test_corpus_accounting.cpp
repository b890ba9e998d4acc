// `cspnet info` accounting against darknet's own figures for the paper's
// official cfg files (measured with AlexeyAB darknet; see issue 2).
#include <gtest/gtest.h>

#include <ostream>

#include "cspnet/cspnet.hpp"
#include "test_helpers.hpp"

namespace {

using namespace cspnet;

struct Expected {
  const char* cfg;
  int size;                  // 0: the cfg's own size
  int64_t conv_weights;      // exact, or rounded to `weights_unit`
  int64_t parameters;        // 0: not published
  double total_bflops;       // < 0: not published
  double conv_bflops;        // < 0: not published
  int64_t weights_unit = 1;  // 10000 when the reference is given as e.g. 22.73M
};

void PrintTo(const Expected& e, std::ostream* os) { *os << e.cfg; }

const Expected kExpected[] = {
    {"csdarknet53.cfg", 0, 27605856, 27642184, 13.071, 13.067},
    {"darknet53.cfg", 0, 41573216, 41609928, 18.576, -1},
    {"csresnext50.cfg", 0, 20499136, 20557480, 7.933, 7.929},
    {"csresnet50.cfg", 0, 21566656, 21607848, 8.972, -1},
    {"csdarknet53-panet-spp.cfg", 512, 64296032, 64363101, 91.095, -1},
    {"csresnext50-panet-spp.cfg", 512, 56853440, 56942525, 71.344, -1},
    {"resnet50.cfg", 0, 22730000, 0, -1, 9.999, 10000},
    {"resnext50.cfg", 0, 22190000, 0, -1, 10.110, 10000},
    {"darknet.cfg", 0, 7310000, 0, -1, 0.965, 10000},
    {"resnet10.cfg", 0, 5240000, 0, -1, 2.272, 10000},
};

class CorpusAccounting : public ::testing::TestWithParam<Expected> {};

TEST_P(CorpusAccounting, MatchesDarknetsOwnFigures) {
  CSPNET_REQUIRE_SHARED_CFG();
  const Expected& e = GetParam();
  Network net = Network::from_cfg_file(tests::shared_cfg(e.cfg));
  if (e.size) net.reshape(e.size, e.size, 1);
  int64_t weights = net.conv_weight_count();
  if (e.weights_unit > 1) weights = (weights + e.weights_unit / 2) / e.weights_unit * e.weights_unit;
  EXPECT_EQ(weights, e.conv_weights) << e.cfg;
  if (e.parameters) {
    EXPECT_EQ(net.parameter_count(), e.parameters) << e.cfg;
  }
  if (e.total_bflops >= 0) {
    EXPECT_NEAR(net.bflops(), e.total_bflops, 0.0005) << e.cfg;
  }
  if (e.conv_bflops >= 0) {
    EXPECT_NEAR(net.conv_bflops(), e.conv_bflops, 0.0005) << e.cfg;
  }
}

INSTANTIATE_TEST_SUITE_P(PaperRelease, CorpusAccounting, ::testing::ValuesIn(kExpected),
                         [](const auto& info) {
                           std::string name = info.param.cfg;
                           for (auto& ch : name)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

TEST(CorpusAccounting, EveryOfficialCfgParsesWithoutWarnings) {
  CSPNET_REQUIRE_SHARED_CFG();
  for (const auto& entry : std::filesystem::directory_iterator(CSPNET_SHARED_CFG_DIR)) {
    if (entry.path().extension() != ".cfg") continue;
    Network net = Network::from_cfg_file(entry.path().string(), ParseOptions{true});
    EXPECT_TRUE(net.warnings().empty()) << entry.path();
  }
}

}  // namespace
