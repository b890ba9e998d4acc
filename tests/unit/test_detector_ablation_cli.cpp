// `cspnet detector ablation`: trains and measures every listed neck, writes
// the table as Markdown and JSON.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cspnet/network.hpp"
#include "cspnet/necks.hpp"

namespace fs = std::filesystem;

namespace {

int run_cli(const std::string& args, const fs::path& dir) {
  const std::string cmd = std::string("'") + CSPNET_CLI_PATH + "' " + args + " >'" + (dir / "out").string() +
                          "' 2>'" + (dir / "err").string() + "' </dev/null";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST(DetectorAblationCli, EveryListedNeckIsTrainedMeasuredAndTabulated) {
  const fs::path dir = fs::temp_directory_path() / ("cspnet_ablation_cli_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string out = (dir / "ablation").string();
  const int code = run_cli("--threads 2 detector ablation --only csppeleenet-small-prn csppeleenet-small-efm "
                           "--steps 2 --batch 2 --data fashion-mnist-scenes:8,4 --out '" + out + "'",
                           dir);
  ASSERT_EQ(code, 0) << slurp(dir / "err") << slurp(dir / "out");
  const nlohmann::json j = nlohmann::json::parse(slurp(out + "/ablation.json"));
  ASSERT_EQ(j["models"].size(), 2u);
  const char* names[] = {"csppeleenet-small-prn", "csppeleenet-small-efm"};
  for (size_t i = 0; i < 2; ++i) {
    const auto& m = j["models"][i];
    EXPECT_EQ(m["name"], names[i]);
    // The figures are those of the network the run folder holds.
    cspnet::Network net = cspnet::Network::from_cfg_file(out + "/" + names[i] + "/" + names[i] + ".cfg");
    EXPECT_EQ(m["parameters"].get<int64_t>(), net.parameter_count());
    EXPECT_NEAR(m["bflops"].get<double>(), net.bflops(), 1e-9);
    EXPECT_GT(m["inference_ms"].get<double>(), 0.0);
    EXPECT_GE(m["map50"].get<double>(), 0.0);
    EXPECT_LE(m["map50"].get<double>(), 1.0);
    // Table 2's figure of the full-size model with the same neck.
    const std::string full = i == 0 ? "csppeleenet-prn" : "csppeleenet-efm";
    EXPECT_DOUBLE_EQ(m["paper_bflops_320"].get<double>(), cspnet::detector_model(full).paper->bflops);
  }
  const std::string md = slurp(out + "/ablation.md");
  EXPECT_NE(md.find("| csppeleenet-small-efm | CSPPeleeNet (small)-EFM |"), std::string::npos) << md;
  EXPECT_NE(md.find("2 steps of batch 2"), std::string::npos) << md;
  fs::remove_all(dir);
}
