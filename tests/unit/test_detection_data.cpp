// Detection data: darknet's label path rule and label/obj.data readers
// (errors naming file:line), the Fashion-MNIST scenes (deterministic, boxes
// inside the canvas), and a scenes data set written by `detector scenes`
// read back through its obj.data with the same boxes.
#include "cspnet/detection_data.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cspnet/error.hpp"
#include "test_helpers.hpp"

namespace {

using namespace cspnet;
namespace fs = std::filesystem;
using cspnet::tests::expect_error_mentioning;

class DetectionData : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cspnet_detdata_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path.string();
  }
  fs::path dir_;
};

TEST(DarknetLabelPath, ImagesFolderBecomesLabelsAndTheExtensionTxt) {
  EXPECT_EQ(darknet_label_path("/data/coco/images/train2017/000001.jpg"), "/data/coco/labels/train2017/000001.txt");
  EXPECT_EQ(darknet_label_path("/data/voc/JPEGImages/x.JPEG"), "/data/voc/labels/x.txt");
  EXPECT_EQ(darknet_label_path("images/val/a.png"), "labels/val/a.txt");  // Ultralytics' relative layout
  EXPECT_EQ(darknet_label_path("/photos/cat.bmp"), "/photos/cat.txt");   // no images/ folder: beside the image
  // A data set inside a folder called images: only the last images/ is the split's.
  EXPECT_EQ(darknet_label_path("/home/images/set/images/a.jpg"), "/home/images/set/labels/a.txt");
}

TEST_F(DetectionData, LabelLinesParseAndEveryBadLineNamesItsFileAndLine) {
  const std::string good = write("good.txt", "0 0.5 0.5 0.2 0.4\n\n3 0.1 0.9 1 0.05\n");
  const auto boxes = read_darknet_labels(good, 4);
  ASSERT_EQ(boxes.size(), 2u);
  EXPECT_EQ(boxes[1].cls, 3);
  EXPECT_FLOAT_EQ(boxes[1].h, 0.05f);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"0 0.5 0.5 0.2\n", "4 fields, expected 5"},
      {"0 0.5 0.5 0.2 0.1 7\n", "6 fields"},
      {"x 0.5 0.5 0.2 0.1\n", "class 'x'"},
      {"4 0.5 0.5 0.2 0.1\n", "class id in 0..3"},
      {"-1 0.5 0.5 0.2 0.1\n", "class '-1'"},
      {"0 abc 0.5 0.2 0.1\n", "x_center 'abc' is not a number"},
      {"0 0.5 nan 0.2 0.1\n", "y_center 'nan' is not a number"},
      {"0 1.5 0.5 0.2 0.1\n", "outside [0, 1]"},
      {"0 0.5 0.5 0 0.1\n", "width 0 is outside (0, 1]"},
      {"0 0.5 0.5 0.2 1.01\n", "height 1.01 is outside (0, 1]"},
  };
  for (size_t k = 0; k < bad.size(); ++k) {
    const std::string path = write("bad" + std::to_string(k) + ".txt", "1 0.5 0.5 0.1 0.1\n" + bad[k].first);
    expect_error_mentioning([&] { read_darknet_labels(path, 4); }, {path + ":2", bad[k].second});
  }
}

TEST_F(DetectionData, ObjDataNeedsClassesAndTrainAndNamesMustMatchTheCount) {
  write("list.txt", "");
  expect_error_mentioning([&] { read_obj_data(write("a.data", "train = list.txt\n")); }, {"a.data", "classes"});
  expect_error_mentioning([&] { read_obj_data(write("b.data", "classes = 2\n")); }, {"b.data", "train ="});
  expect_error_mentioning([&] { read_obj_data(write("c.data", "classes = two\ntrain = list.txt\n")); },
                          {"c.data:1", "classes"});
  expect_error_mentioning([&] { read_obj_data(write("d.data", "classes = 2\nno equals sign\n")); },
                          {"d.data:2", "key = value"});
  write("names.txt", "a\nb\nc\n");
  const std::string data = write("e.data", "classes = 2\ntrain = list.txt\nnames = names.txt\n");
  expect_error_mentioning([&] { make_detection_source(data, true); }, {"names.txt", "3 names", "classes = 2"});
}

TEST_F(DetectionData, AListedImageThatDoesNotExistIsAnErrorNamingTheListLine) {
  write("list.txt", "images/a.png\n");
  const std::string data = write("obj.data", "classes = 1\ntrain = list.txt\n");
  expect_error_mentioning([&] { make_detection_source(data, true); }, {"list.txt:1", "images/a.png", "not found"});
}

TEST(FashionMnistScenes, AreAPureFunctionOfSeedAndIndexWithBoxesInsideTheCanvas) {
  SceneOptions options;
  options.count = 40;
  options.size = 96;
  const FashionMnistScenes a(true, options), b(true, options);
  options.seed = 2;
  const FashionMnistScenes other(true, options);
  int differ = 0, objects = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a.boxes(i), b.boxes(i));
    differ += a.boxes(i) != other.boxes(i);
    ASSERT_GE(a.boxes(i).size(), 1u);
    ASSERT_LE(a.boxes(i).size(), 8u);
    for (const ObjectBox& box : a.boxes(i)) {
      ++objects;
      EXPECT_GE(box.x - box.w / 2, -1e-6f);
      EXPECT_LE(box.x + box.w / 2, 1 + 1e-6f);
      EXPECT_GE(box.y - box.h / 2, -1e-6f);
      EXPECT_LE(box.y + box.h / 2, 1 + 1e-6f);
      EXPECT_GE(std::max(box.w, box.h) * 96, 3.f);  // at least a few pixels
      EXPECT_LE(std::max(box.w, box.h), 0.5f + 1e-6f);
      EXPECT_TRUE(box.cls >= 0 && box.cls < 10);
    }
  }
  EXPECT_GT(differ, 30);
  EXPECT_GT(objects, 80);
  EXPECT_EQ(a.load(7).values(), b.load(7).values());
  EXPECT_EQ(a.load(7).shape(), (Shape{1, 3, 96, 96}));
  // Validation scenes draw from the test split: other scenes.
  const FashionMnistScenes validation(false, SceneOptions{40, 96, 1, ""});
  EXPECT_NE(validation.boxes(0), a.boxes(0));
}

TEST_F(DetectionData, ScenesWrittenInDarknetLayoutReadBackWithTheSameBoxes) {
  SceneOptions options;
  options.count = 12;
  options.size = 64;
  const FashionMnistScenes scenes(false, options);
  write_darknet_split(scenes, dir_.string(), "val");
  write("obj.data", "classes = 10\ntrain = val.txt\n");
  ASSERT_TRUE(fs::exists(dir_ / "annotations" / "instances_val.json"));
  const auto read = make_detection_source((dir_ / "obj.data").string(), true);
  ASSERT_EQ(read->size(), scenes.size());
  for (int64_t i = 0; i < scenes.size(); ++i) {
    ASSERT_EQ(read->boxes(i).size(), scenes.boxes(i).size());
    for (size_t k = 0; k < scenes.boxes(i).size(); ++k) {
      EXPECT_EQ(read->boxes(i)[k].cls, scenes.boxes(i)[k].cls);
      EXPECT_NEAR(read->boxes(i)[k].x, scenes.boxes(i)[k].x, 1e-6);
      EXPECT_NEAR(read->boxes(i)[k].w, scenes.boxes(i)[k].w, 1e-6);
    }
    // PNG holds 8 bits: the pixels agree to rounding.
    const Tensor original = scenes.load(i), decoded = read->load(i);
    ASSERT_EQ(original.shape(), decoded.shape());
    for (int64_t p = 0; p < original.size(); p += 97) EXPECT_NEAR(original.data()[p], decoded.data()[p], 0.5 / 255 + 1e-6);
  }
}

}  // namespace
