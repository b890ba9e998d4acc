// COCO ground truth / results JSON: round trip and errors that name the file
// and the entry.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <unistd.h>

#include "cspnet/coco_json.hpp"
#include "cspnet/error.hpp"

using namespace cspnet;
namespace fs = std::filesystem;

namespace {

std::string temp_file(const std::string& name, const std::string& text) {
  const fs::path p = fs::temp_directory_path() / ("cspnet_coco_json_" + std::to_string(::getpid()) + "_" + name);
  write_text_file(p.string(), text);
  return p.string();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const char* kGt = R"({"images": [{"id": 5}, {"id": 2}], "categories": [{"id": 9}, {"id": 3}],
  "annotations": [{"id": 1, "image_id": 5, "category_id": 9, "bbox": [1, 2, 30, 40], "area": 900, "iscrowd": 1}]})";

}  // namespace

TEST(CocoJson, GroundTruthAndResultsRoundTrip) {
  const std::vector<int64_t> ids = {3, 9};
  std::vector<CocoImage> images = {{2, {}, {}}, {5, {{{1.5, 2, 30, 40}, 1, true, 900}}, {{{1, 2, 3, 4}, 1, 0.25}}}};
  const std::string gt_path = temp_file("gt.json", coco_ground_truth_json(images, ids, {}));
  const std::string res_path = temp_file("res.json", coco_results_json(images, ids));
  CocoGroundTruth gt = read_coco_ground_truth(gt_path);
  read_coco_results(res_path, gt);
  EXPECT_EQ(gt.category_ids, ids);
  ASSERT_EQ(gt.images.size(), 2u);
  ASSERT_EQ(gt.images[1].truths.size(), 1u);
  EXPECT_EQ(gt.images[1].truths[0].box.x, 1.5);
  EXPECT_EQ(gt.images[1].truths[0].cls, 1);
  EXPECT_TRUE(gt.images[1].truths[0].crowd);
  EXPECT_EQ(gt.images[1].truths[0].area, 900);
  ASSERT_EQ(gt.images[1].detections.size(), 1u);
  EXPECT_EQ(gt.images[1].detections[0].score, 0.25);
  EXPECT_EQ(gt.images[1].detections[0].cls, 1);
}

TEST(CocoJson, CategoriesAreOrderedByIdLikePycocotools) {
  const auto gt = read_coco_ground_truth(temp_file("order.json", kGt));
  EXPECT_EQ(gt.category_ids, (std::vector<int64_t>{3, 9}));
  EXPECT_EQ(gt.images[0].truths.at(0).cls, 1);  // category 9 is the second
}

TEST(CocoJson, ErrorsNameTheFileAndTheEntry) {
  const std::string missing = (fs::temp_directory_path() / "cspnet_no_such_gt.json").string();
  EXPECT_NE(error_of([&] { read_coco_ground_truth(missing); }).find(missing), std::string::npos);
  const std::string broken = temp_file("broken.json", "{\"images\": [");
  EXPECT_NE(error_of([&] { read_coco_ground_truth(broken); }).find("not valid JSON"), std::string::npos);
  const std::string bad_box = temp_file(
      "badbox.json", R"({"images": [{"id": 1}], "categories": [{"id": 1}],
      "annotations": [{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3], "area": 1}]})");
  const std::string msg = error_of([&] { read_coco_ground_truth(bad_box); });
  EXPECT_NE(msg.find(bad_box + ": annotations[0]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bbox"), std::string::npos) << msg;
  const std::string unknown_cat = temp_file(
      "unknowncat.json", R"({"images": [{"id": 1}], "categories": [{"id": 1}],
      "annotations": [{"image_id": 1, "category_id": 4, "bbox": [1, 2, 3, 4], "area": 1}]})");
  EXPECT_NE(error_of([&] { read_coco_ground_truth(unknown_cat); }).find("category_id 4"), std::string::npos);
  CocoGroundTruth gt = read_coco_ground_truth(temp_file("gt2.json", kGt));
  const std::string stray = temp_file("stray.json", R"([{"image_id": 77, "category_id": 3, "bbox": [0,0,1,1], "score": 0.5}])");
  const std::string stray_msg = error_of([&] { read_coco_results(stray, gt); });
  EXPECT_NE(stray_msg.find(stray + ": [0]: image_id 77"), std::string::npos) << stray_msg;
  const std::string not_array = temp_file("obj.json", R"({"image_id": 2})");
  EXPECT_NE(error_of([&] { read_coco_results(not_array, gt); }).find("expected a JSON array"), std::string::npos);
}

TEST(CocoJson, ResultsOfUnknownCategoriesAreNotEvaluated) {
  CocoGroundTruth gt = read_coco_ground_truth(temp_file("gt3.json", kGt));
  read_coco_results(temp_file("unk.json", R"([{"image_id": 2, "category_id": 4, "bbox": [0,0,1,1], "score": 0.5}])"), gt);
  ASSERT_EQ(gt.images[1].detections.size(), 1u);
  EXPECT_EQ(gt.images[1].detections[0].cls, -1);
}
