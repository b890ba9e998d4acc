// `cspnet detector score GT.json RESULTS.json [--json]`.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cspnet/coco_json.hpp"

using namespace cspnet;
namespace fs = std::filesystem;

namespace {

struct CliRun {
  int code = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

CliRun score(const std::string& args) {
  const fs::path dir = fs::temp_directory_path() / ("cspnet_score_cli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string cmd = std::string("'") + CSPNET_CLI_PATH + "' detector score " + args + " >'" +
                          (dir / "out").string() + "' 2>'" + (dir / "err").string() + "' </dev/null";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir / "out"), slurp(dir / "err")};
}

std::vector<CocoImage> two_images() {
  return {{4, {{{10, 10, 50, 40}, 0, false, 2000}, {{200, 100, 20, 20}, 1, false, 400}},
           {{{12, 9, 50, 42}, 0, 0.9}, {{300, 300, 20, 20}, 1, 0.8}, {{201, 99, 19, 21}, 1, 0.7}}},
          {9, {{{0, 0, 120, 100}, 0, false, 12000}}, {{{5, 0, 110, 100}, 0, 0.6}}}};
}

}  // namespace

TEST(DetectorScoreCli, JsonStatsEqualTheLibrarysCocoEval) {
  const auto images = two_images();
  const std::vector<int64_t> ids = {1, 18};
  const fs::path dir = fs::temp_directory_path();
  const std::string gt = (dir / ("score_gt_" + std::to_string(::getpid()) + ".json")).string();
  const std::string res = (dir / ("score_res_" + std::to_string(::getpid()) + ".json")).string();
  write_text_file(gt, coco_ground_truth_json(images, ids, {}));
  write_text_file(res, coco_results_json(images, ids));
  const CliRun r = score("'" + gt + "' '" + res + "' --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const CocoEval want = coco_eval(images, 2);
  EXPECT_DOUBLE_EQ(j["AP"].get<double>(), want.stats[0]);
  EXPECT_DOUBLE_EQ(j["AR100"].get<double>(), want.stats[8]);
  EXPECT_DOUBLE_EQ(j["class_ap"]["18"].get<double>(), want.class_ap[1]);
  EXPECT_GT(want.stats[0], 0.1);  // the scene is mostly found: a non-trivial number
  const std::string plot = (dir / ("score_pr_" + std::to_string(::getpid()) + ".png")).string();
  const CliRun text = score("'" + gt + "' '" + res + "' --plot '" + plot + "'");
  EXPECT_TRUE(fs::exists(plot));
  EXPECT_NE(text.out.find("Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]"), std::string::npos)
      << text.out;
}

TEST(DetectorScoreCli, MissingResultsFileIsAnErrorNamingIt) {
  const auto images = two_images();
  const std::string gt = (fs::temp_directory_path() / ("score_gt2_" + std::to_string(::getpid()) + ".json")).string();
  write_text_file(gt, coco_ground_truth_json(images, {1, 18}, {}));
  const CliRun r = score("'" + gt + "' /nonexistent/results.json");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("/nonexistent/results.json"), std::string::npos) << r.err;
}
