// COCO ground truth / results JSON: round trip and errors that name the file
// and the entry.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>
#include <unistd.h>

#include "cspnet/coco_json.hpp"
#include "cspnet/error.hpp"
#include "malformed_table.hpp"

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

// Malformed ground truth and results files, each with the text it must give:
// the coco-eval-json table of docs/malformed-inputs.md. Results are read
// against kGt (images 5 and 2, categories 9 and 3).
TEST(CocoJson, MalformedTable) {
  const std::string head = R"({"categories":[{"id":1}],"images":[{"id":1}],"annotations":[)";
  const std::string box = R"("bbox":[0,0,1,1])";
  struct Case {
    const char* name;
    bool results;  // read_coco_results, else read_coco_ground_truth
    std::string text;
    std::string expect;  // after "<path>: "
  };
  // clang-format off
  const std::vector<Case> cases = {
      {"EmptyFile", false, "", "not valid JSON at byte 1: [json.exception.parse_error.101]"},
      {"Truncated", false, R"({"images": [)", "not valid JSON at byte 13"},
      {"NumberBeyondDouble", false, R"({"images":[1e999]})", "not valid JSON: [json.exception.out_of_range.406] number overflow"},
      {"TopLevelArray", false, "[]", "expected a COCO object with images, annotations, categories"},
      {"TopLevelString", false, R"("coco")", "expected a COCO object with images, annotations, categories"},
      {"NoCategories", false, R"({"images":[],"annotations":[]})", "missing \"categories\""},
      {"CategoriesNotArray", false, R"({"categories":{},"images":[],"annotations":[]})", "\"categories\" must be an array"},
      {"CategoryNotObject", false, R"({"categories":[1],"images":[],"annotations":[]})", "categories[0]: missing \"id\""},
      {"CategoryIdString", false, R"({"categories":[{"id":"1"}],"images":[],"annotations":[]})", "categories[0]: \"id\" must be an integer"},
      {"CategoryIdFractional", false, R"({"categories":[{"id":1.5}],"images":[],"annotations":[]})", "categories[0]: \"id\" must be an integer"},
      {"NoImages", false, R"({"categories":[],"annotations":[]})", "missing \"images\""},
      {"ImagesNotArray", false, R"({"categories":[],"images":7,"annotations":[]})", "\"images\" must be an array"},
      {"ImageWithoutId", false, R"({"categories":[],"images":[{"file_name":"a.jpg"}],"annotations":[]})", "images[0]: missing \"id\""},
      {"ImageIdString", false, R"({"categories":[],"images":[{"id":"a"}],"annotations":[]})", "images[0]: \"id\" must be an integer"},
      {"NoAnnotations", false, R"({"categories":[],"images":[]})", "missing \"annotations\""},
      {"AnnotationsNotArray", false, R"({"categories":[],"images":[],"annotations":{}})", "\"annotations\" must be an array"},
      {"AnnotationNotObject", false, head + "5]}", "annotations[0]: missing \"image_id\""},
      {"AnnotationWithoutCategory", false, head + R"({"image_id":1,)" + box + R"(,"area":1}]})", "annotations[0]: missing \"category_id\""},
      {"AnnotationImageIdString", false, head + R"({"image_id":"1","category_id":1,)" + box + R"(,"area":1}]})", "annotations[0]: \"image_id\" must be an integer"},
      {"UnknownImage", false, head + R"({"image_id":9,"category_id":1,)" + box + R"(,"area":1}]})", "annotations[0]: image_id 9 is not in \"images\""},
      {"UnknownCategory", false, head + R"({"image_id":1,"category_id":4,)" + box + R"(,"area":1}]})", "annotations[0]: category_id 4 is not in \"categories\""},
      {"BboxMissing", false, head + R"({"image_id":1,"category_id":1,"area":1}]})", "annotations[0]: missing \"bbox\""},
      {"BboxThreeNumbers", false, head + R"({"image_id":1,"category_id":1,"bbox":[0,0,1],"area":1}]})", "annotations[0]: \"bbox\" must be an array of 4 numbers"},
      {"BboxStringElement", false, head + R"({"image_id":1,"category_id":1,"bbox":[0,"0",1,1],"area":1}]})", "annotations[0]: \"bbox\" must be an array of 4 numbers"},
      {"BboxObject", false, head + R"({"image_id":1,"category_id":1,"bbox":{"x":0},"area":1}]})", "annotations[0]: \"bbox\" must be an array of 4 numbers"},
      {"AreaMissing", false, head + R"({"image_id":1,"category_id":1,)" + box + "}]}", "annotations[0]: missing \"area\""},
      {"AreaString", false, head + R"({"image_id":1,"category_id":1,)" + box + R"(,"area":"1"}]})", "annotations[0]: \"area\" must be a number"},
      {"ResultsNotArray", true, R"({"image_id": 2})", "expected a JSON array of {image_id, category_id, bbox, score}"},
      {"ResultsInvalidJson", true, "[{]", "not valid JSON at byte 3"},
      {"ResultsUnknownImage", true, R"([{"image_id":77,"category_id":3,"bbox":[0,0,1,1],"score":0.5}])", "[0]: image_id 77 is not in the ground truth"},
      {"ResultsCategoryIdString", true, R"([{"image_id":2,"category_id":"3","bbox":[0,0,1,1],"score":0.5}])", "[0]: \"category_id\" must be an integer"},
      {"ResultsWithoutScore", true, R"([{"image_id":2,"category_id":3,"bbox":[0,0,1,1]}])", "[0]: missing \"score\""},
      {"ResultsScoreString", true, R"([{"image_id":2,"category_id":3,"bbox":[0,0,1,1],"score":"high"}])", "[0]: \"score\" must be a number"},
      {"ResultsBboxNull", true, R"([{"image_id":2,"category_id":3,"bbox":null,"score":0.5}])", "[0]: \"bbox\" must be an array of 4 numbers"},
      {"BboxNegativeWidth", false, head + R"({"image_id":1,"category_id":1,"bbox":[0,0,-1,1],"area":1}]})", "annotations[0]: \"bbox\" width is -1; expected a width and height >= 0"},
      {"BboxNegativeHeight", false, head + R"({"image_id":1,"category_id":1,"bbox":[0,0,1,1],"area":1},{"image_id":1,"category_id":1,"bbox":[3,4,5,-2.5],"area":1}]})", "annotations[1]: \"bbox\" height is -2.5; expected a width and height >= 0"},
      {"AreaNegative", false, head + R"({"image_id":1,"category_id":1,)" + box + R"(,"area":-4}]})", "annotations[0]: \"area\" is -4; expected a number >= 0"},
      {"ImageIdTwice", false, R"({"categories":[],"images":[{"id":1},{"id":7},{"id":1}],"annotations":[]})", "images[2]: duplicate image id 1 (first at images[0])"},
      {"ResultsBboxNegativeWidth", true, R"([{"image_id":2,"category_id":3,"bbox":[0,0,-0.5,1],"score":0.5}])", "[0]: \"bbox\" width is -0.5; expected a width and height >= 0"},
      {"ResultsBboxNegativeHeight", true, R"([{"image_id":2,"category_id":3,"bbox":[0,0,1,1],"score":0.5},{"image_id":5,"category_id":9,"bbox":[1,1,2,-7],"score":0.5}])", "[1]: \"bbox\" height is -7; expected a width and height >= 0"},
  };
  // clang-format on
  EXPECT_GE(cases.size(), 30u);  // docs/reliability.md promises at least 30 per reader
  const std::string dir = (fs::temp_directory_path() / ("cspnet_coco_table_" + std::to_string(::getpid()))).string();
  fs::create_directories(dir);
  for (const auto& c : cases) {
    const std::string path = dir + "/" + c.name + ".json";
    write_text_file(path, c.text);
    const std::string message = error_of([&] {
      if (c.results) {
        CocoGroundTruth gt = read_coco_ground_truth(temp_file("table_gt.json", kGt));
        read_coco_results(path, gt);
      } else {
        read_coco_ground_truth(path);
      }
    });
    test::record_malformed_row("coco-eval-json", c.name, message, dir);
    EXPECT_NE(message.find(path + ": " + c.expect), std::string::npos) << c.name << ": " << message;
  }
  const std::string missing = dir + "/absent.json";
  std::string message = error_of([&] { read_coco_ground_truth(missing); });
  test::record_malformed_row("coco-eval-json", "MissingFile", message, dir);
  EXPECT_NE(message.find(missing + ": cannot open COCO JSON file: No such file or directory"), std::string::npos) << message;
  message = error_of([&] { read_coco_ground_truth(dir); });
  test::record_malformed_row("coco-eval-json", "Directory", message, dir);
  EXPECT_NE(message.find(dir + ": is a directory, not a regular file"), std::string::npos) << message;
  fs::remove_all(dir);
}
