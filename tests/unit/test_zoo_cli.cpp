// `cspnet zoo` and `cspnet export-cfg` as a process: exit codes, the table,
// the ablation, and an exported cfg that `cspnet info` reads back.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "cspnet/cspnet.hpp"

namespace fs = std::filesystem;

namespace {

struct CliRun {
  int code = -1;
  std::string out, err;
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class ZooCli : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/cspnet-zoo-cli-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  CliRun cli(const std::string& args) {
    const fs::path out = dir_ / "stdout.txt", err = dir_ / "stderr.txt";
    const std::string command = std::string("'") + CSPNET_CLI_PATH + "' " + args + " >'" + out.string() + "' 2>'" +
                                err.string() + "' </dev/null";
    const int status = std::system(command.c_str());
    CliRun r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    r.out = slurp(out);
    r.err = slurp(err);
    EXPECT_EQ(r.err.find("Sanitizer"), std::string::npos) << r.err;
    return r;
  }
  fs::path dir_;
};

TEST_F(ZooCli, ExportCfgWritesACfgThatInfoReadsBack) {
  const std::string cfg = (dir_ / "csppeleenet.cfg").string();
  CliRun r = cli("export-cfg csppeleenet '" + cfg + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("CSPPeleeNet"), std::string::npos);
  CliRun info = cli("info --strict --json '" + cfg + "'");
  ASSERT_EQ(info.code, 0) << info.err;
  auto j = nlohmann::json::parse(info.out);
  cspnet::Network net = cspnet::zoo_network("csppeleenet");
  EXPECT_EQ(j["conv_weights"].get<int64_t>(), net.conv_weight_count());
  EXPECT_NEAR(j["conv_bflops"].get<double>(), net.conv_bflops(), 1e-9);
}

TEST_F(ZooCli, ExportCfgTakesSizeAndChannels) {
  const std::string cfg = (dir_ / "small.cfg").string();
  CliRun r = cli("export-cfg cspdarknet-small '" + cfg + "' --size 32x32 --channels 3");
  ASSERT_EQ(r.code, 0) << r.err;
  cspnet::Network net = cspnet::Network::from_cfg_file(cfg);
  EXPECT_EQ(net.input_shape(), (cspnet::Shape{1, 3, 32, 32}));
}

TEST_F(ZooCli, UnknownModelOrBadSizeIsAUsageErrorAndWritesNothing) {
  const std::string cfg = (dir_ / "x.cfg").string();
  CliRun r = cli("export-cfg no-such-net '" + cfg + "'");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("cspdarknet53"), std::string::npos) << "the message lists the zoo: " << r.err;
  EXPECT_EQ(cli("export-cfg cspdarknet53 '" + cfg + "' --size 12").code, 2);
  EXPECT_FALSE(fs::exists(cfg));
  EXPECT_EQ(cli("zoo --ablation resnet").code, 2);
  EXPECT_EQ(cli("zoo --family nothing").code, 2);
}

TEST_F(ZooCli, UnwritableOutputExitsOne) {
  CliRun r = cli("export-cfg darknet_ref '" + (dir_ / "missing" / "x.cfg").string() + "'");
  EXPECT_EQ(r.code, 1);
  EXPECT_FALSE(fs::exists(dir_ / "missing"));
}

TEST_F(ZooCli, ZooTableListsThePapersFigures) {
  CliRun r = cli("zoo --family peleenet");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("csppeleenet"), std::string::npos);
  EXPECT_NE(r.out.find("0.888"), std::string::npos) << r.out;
  CliRun j = cli("zoo --json --family mobilenetv2");
  ASSERT_EQ(j.code, 0) << j.err;
  auto rows = nlohmann::json::parse(j.out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1]["name"], "cspmobilenetv2");
  EXPECT_EQ(rows[1]["paper"]["bflops"].get<double>(), 0.764);
}

TEST_F(ZooCli, AblationPrintsEveryVariantBesideTheBaseline) {
  CliRun r = cli("zoo --ablation peleenet");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* label : {"PeleeNet", "gamma=0.25 fusion_first", "gamma=0.50 fusion_last", "gamma=0.75 csp"})
    EXPECT_NE(r.out.find(label), std::string::npos) << label << "\n" << r.out;
  EXPECT_NE(r.out.find("-21.3%"), std::string::npos) << r.out;
}

TEST_F(ZooCli, DetectorsTableListsEveryDetectorBesideTable2) {
  CliRun j = cli("zoo --detectors --json");
  ASSERT_EQ(j.code, 0) << j.err;
  const auto rows = nlohmann::json::parse(j.out);
  ASSERT_EQ(rows.size(), cspnet::detector_models().size());
  int with_paper = 0;
  for (const auto& row : rows) {
    const auto& model = cspnet::detector_model(row["name"].get<std::string>());
    if (!row.contains("paper")) continue;
    ++with_paper;
    EXPECT_EQ(row["size"].get<int>(), 320) << model.name;
    EXPECT_NEAR(row["bflops"].get<double>() / row["paper"]["bflops"].get<double>(), 1.0, 0.05) << model.name;
  }
  EXPECT_EQ(with_paper, 8);  // Table 2's eight heads
  CliRun table = cli("zoo --detectors");
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("csdarknet53-panet-spp.cfg"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("5.068"), std::string::npos) << table.out;
}

TEST_F(ZooCli, ExportCfgWritesADetectorThatReparses) {
  const std::string cfg = (dir_ / "efm.cfg").string();
  CliRun r = cli("export-cfg csppeleenet-small-efm-sam '" + cfg + "' --size 128x128");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("3 yolo heads"), std::string::npos) << r.out;
  cspnet::Network net = cspnet::Network::from_cfg_file(cfg, cspnet::ParseOptions{true});
  EXPECT_EQ(net.input_shape(), (cspnet::Shape{1, 3, 128, 128}));
  EXPECT_EQ(net.output_layers().size(), 3u);
}

}  // namespace

TEST_F(ZooCli, AnalyzeComparesZooModelsStageByStage) {
  CliRun r = cli("analyze densenet-small cspdensenet-small --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 2u);
  cspnet::Network net = cspnet::zoo_network("cspdensenet-small");
  EXPECT_EQ(j[1]["name"], net.name());
  EXPECT_EQ(j[1]["total"]["parameters"].get<int64_t>(), net.parameter_count());
  EXPECT_NEAR(j[1]["total"]["bflops"].get<double>(), net.bflops(), 1e-12);
  CliRun table = cli("analyze densenet-small cspdensenet-small");
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("against densenet-small"), std::string::npos) << table.out;
  EXPECT_EQ(cli("analyze no-such-model").code, 2);
}
