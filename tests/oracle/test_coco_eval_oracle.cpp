// COCO evaluation against pycocotools on random scenes with every edge case
// pycocotools has a rule for (tests/oracle/coco_eval_oracle.py runs it).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "cspnet/coco_json.hpp"
#include "cspnet/detection_metrics.hpp"

using namespace cspnet;
namespace fs = std::filesystem;

namespace {

const std::string kPython = std::string(CSPNET_REPO_DIR) + "/.venv/bin/python";

bool pycocotools_available(std::string& why) {
  std::error_code ec;  // a broken venv (e.g. a symlink loop) is "missing", not a crash
  if (!fs::exists(kPython, ec) || ec)
    return why = kPython + " not found or unreadable (scripts/install-deps.sh makes it)", false;
  if (std::system((kPython + " -c 'import pycocotools' 2>/dev/null").c_str()) != 0)
    return why = kPython + " cannot import pycocotools", false;
  return true;
}

struct SceneOptions {
  int images = 40, classes = 6;
  bool detections = true;
  bool crowded_image = true;
  bool tied_scores = true;
};

// Random scenes. Class classes-1 never has a truth (only detections), class
// classes-2 has truths and never a detection; image 0 has no truths, image 1
// no detections; some truths are crowds; sizes span small/medium/large.
std::vector<EvalImage> random_scenes(const SceneOptions& o, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  const int sizes[3][2] = {{640, 480}, {320, 320}, {1000, 800}};
  std::vector<EvalImage> images;
  for (int i = 0; i < o.images; ++i) {
    EvalImage im;
    im.id = 1000 + 7 * ((i * 13) % o.images);  // ids not in list order
    im.width = sizes[i % 3][0], im.height = sizes[i % 3][1];
    const int n = (o.crowded_image && i == 2) ? 130 : (i == 0 ? 0 : 1 + int(rng() % 8));
    for (int t = 0; t < n; ++t) {
      const float side = std::exp(std::log(6.0f) + u(rng) * std::log(60.0f)) / float(im.width);  // 6..360 px
      ObjectBox b{0.1f + 0.8f * u(rng), 0.1f + 0.8f * u(rng), side * (0.6f + 0.8f * u(rng)),
                  side * (0.6f + 0.8f * u(rng)), int(rng() % (o.classes - 1)), u(rng) < 0.06f, -1};
      if (u(rng) < 0.3f) b.area = b.w * b.h * im.width * im.height * (0.5f + 0.4f * u(rng));  // a segment's area
      im.truths.push_back(b);
    }
    if (o.detections && i != 1) {
      auto score = [&] { return o.tied_scores && u(rng) < 0.3f ? std::round(u(rng) * 10) / 10 : u(rng); };
      for (const auto& t : im.truths) {
        if (t.cls == o.classes - 2) continue;
        const int copies = u(rng) < 0.8f ? 1 + (u(rng) < 0.2f) + (t.crowd ? 2 : 0) : 0;  // found, duplicated
        for (int c = 0; c < copies; ++c) {
          const float j = 0.25f * u(rng);
          ScoredBox d{t.x + (u(rng) - 0.5f) * j * t.w, t.y + (u(rng) - 0.5f) * j * t.h, t.w * (1 + (u(rng) - 0.5f) * j),
                      t.h * (1 + (u(rng) - 0.5f) * j), u(rng) < 0.1f ? int(rng() % (o.classes - 2)) : t.cls, score()};
          if (t.crowd) d.w *= 0.4f, d.h *= 0.4f;  // parts of a crowd
          im.detections.push_back(d);
        }
      }
      const int false_positives = int(rng() % 4) + (i == 0 ? 3 : 0);
      for (int f = 0; f < false_positives; ++f) {
        const int cls = f == 0 ? o.classes - 1 : int(rng() % (o.classes - 2));
        im.detections.push_back({0.1f + 0.8f * u(rng), 0.1f + 0.8f * u(rng), 0.02f + 0.3f * u(rng),
                                 0.02f + 0.3f * u(rng), cls, score()});
      }
    }
    images.push_back(std::move(im));
  }
  return images;
}

struct Oracle {
  std::vector<double> stats, class_ap, precision;
};

Oracle run_pycocotools(const std::vector<EvalImage>& images, int classes, const std::string& name,
                       std::string& gt_path, std::string& res_path) {
  std::vector<CocoImage> coco;
  std::vector<std::array<int, 2>> sizes;
  for (const auto& im : images) coco.push_back(to_coco_image(im)), sizes.push_back({im.width, im.height});
  std::vector<int64_t> category_ids;
  for (int k = 0; k < classes; ++k) category_ids.push_back(3 * k + 1);  // ids are not class indices
  const fs::path dir = fs::temp_directory_path() / ("cspnet_coco_oracle_" + name + std::to_string(::getpid()));
  fs::create_directories(dir);
  gt_path = (dir / "gt.json").string(), res_path = (dir / "results.json").string();
  const std::string out_path = (dir / "out.json").string();
  write_text_file(gt_path, coco_ground_truth_json(coco, category_ids, sizes));
  write_text_file(res_path, coco_results_json(coco, category_ids));
  const std::string cmd = kPython + " " + CSPNET_ORACLE_DIR + "/coco_eval_oracle.py " + gt_path + " " + res_path +
                          " " + out_path;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(out_path);
  const auto j = nlohmann::json::parse(in);
  return {j["stats"].get<std::vector<double>>(), j["class_ap"].get<std::vector<double>>(),
          j["precision"].get<std::vector<double>>()};
}

void expect_matches_pycocotools(const std::vector<EvalImage>& images, int classes, const std::string& name) {
  std::string gt_path, res_path;
  const Oracle want = run_pycocotools(images, classes, name, gt_path, res_path);
  const CocoEval got = coco_eval(images, classes);
  // The same evaluation through the JSON files `detector score` reads.
  CocoGroundTruth gt = read_coco_ground_truth(gt_path);
  read_coco_results(res_path, gt);
  const CocoEval from_files = coco_eval(gt.images, int(gt.category_ids.size()));
  ASSERT_EQ(want.stats.size(), 12u);
  double worst = 0;
  for (int i = 0; i < 12; ++i) {
    EXPECT_NEAR(got.stats[i], want.stats[i], 1e-9) << name << " stat " << i;
    EXPECT_NEAR(from_files.stats[i], want.stats[i], 1e-9) << name << " stat " << i << " (from files)";
    worst = std::max(worst, std::abs(got.stats[i] - want.stats[i]));
  }
  ASSERT_EQ(want.class_ap.size(), size_t(classes));
  for (int k = 0; k < classes; ++k) EXPECT_NEAR(got.class_ap[k], want.class_ap[k], 1e-9) << name << " class " << k;
  ASSERT_EQ(want.precision.size(), got.precision.size());
  size_t differing = 0;
  for (size_t i = 0; i < got.precision.size(); ++i) differing += got.precision[i] != want.precision[i];
  EXPECT_EQ(differing, 0u) << name << ": precision entries that differ from pycocotools";
  std::printf("%s: AP %.6f AP50 %.6f AR100 %.6f, largest stat difference %.3g\n", name.c_str(), got.stats[0],
              got.stats[1], got.stats[8], worst);
}

}  // namespace

TEST(CocoEvalOracle, RandomScenesMatchPycocotools) {
  std::string why;
  if (!pycocotools_available(why)) GTEST_SKIP() << why;
  for (uint32_t seed : {1u, 2u, 3u}) {
    const auto images = random_scenes({}, seed);
    expect_matches_pycocotools(images, 6, "scenes" + std::to_string(seed));
  }
}

TEST(CocoEvalOracle, ScenesWithoutAnyDetectionMatchPycocotools) {
  std::string why;
  if (!pycocotools_available(why)) GTEST_SKIP() << why;
  SceneOptions o;
  o.detections = false;
  expect_matches_pycocotools(random_scenes(o, 4), 6, "nodets");
}

TEST(CocoEvalOracle, DistinctScoresAndFewClassesMatchPycocotools) {
  std::string why;
  if (!pycocotools_available(why)) GTEST_SKIP() << why;
  SceneOptions o;
  o.tied_scores = false, o.classes = 3, o.images = 25;
  expect_matches_pycocotools(random_scenes(o, 5), 3, "distinct");
}
