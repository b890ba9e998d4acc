// Bad detection data never crashes: a table of malformed label files,
// obj.data files, image lists, names files and COCO JSON, each with the
// message it must produce (naming the file and the line, element or byte
// offset, and what was expected); a few also through `cspnet detector data`,
// which must exit 1. docs/detection.md lists the same table.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cspnet/detection_data.hpp"
#include "cspnet/error.hpp"
#include "malformed_table.hpp"

namespace fs = std::filesystem;
using namespace cspnet;

namespace {

// Where the bad text goes.
enum class Kind {
  Label,    // parse_darknet_labels(text, "bad.txt", 3 classes)
  ObjData,  // obj.data = text (names3.txt, list.txt, img.png exist beside it)
  Names,    // names.txt = text, obj.data: classes=3 names=names.txt
  List,     // list.txt = text (img.png exists beside it)
  LabelOfImage,  // img.txt = text, the label of the one listed image
  Coco,     // parse_coco_instances(text, "bad.json")
};

struct BadData {
  const char* name;
  Kind kind;
  std::string text;
  std::vector<std::string> expect;  // substrings of the error message
};

const char* kGoodLine = "0 0.5 0.5 0.2 0.2\n";
const std::string kCocoHead = R"({"categories":[{"id":1,"name":"a"}],"images":[{"id":1,"file_name":"i.png","width":8,"height":8}],)";

// clang-format off
const std::vector<BadData> kBad = {
  // ---- darknet label files ----
  {"LabelFourFields", Kind::Label, "0 0.5 0.5 0.1\n", {"bad.txt:1: expected 5 fields 'class x y w h', got 4"}},
  {"LabelSixFields", Kind::Label, std::string(kGoodLine) + "1 0.5 0.5 0.1 0.1 0.9\n", {"bad.txt:2: expected 5 fields", "got 6"}},
  {"LabelClassNotANumber", Kind::Label, "cat 0.5 0.5 0.1 0.1\n", {"bad.txt:1: class id 'cat' is not an integer"}},
  {"LabelClassFractional", Kind::Label, "1.0 0.5 0.5 0.1 0.1\n", {"bad.txt:1: class id '1.0' is not an integer"}},
  {"LabelClassNegative", Kind::Label, "-1 0.5 0.5 0.1 0.1\n", {"bad.txt:1: class id -1 outside 0..2"}},
  {"LabelClassTooLarge", Kind::Label, std::string(kGoodLine) + "3 0.5 0.5 0.1 0.1\n", {"bad.txt:2: class id 3 outside 0..2"}},
  {"LabelXNotANumber", Kind::Label, "0 abc 0.5 0.1 0.1\n", {"bad.txt:1: x 'abc' is not a finite number"}},
  {"LabelWidthNan", Kind::Label, "0 0.5 0.5 nan 0.1\n", {"bad.txt:1: w 'nan' is not a finite number"}},
  {"LabelHeightInfinite", Kind::Label, "0 0.5 0.5 0.1 inf\n", {"bad.txt:1: h 'inf' is not a finite number"}},
  {"LabelTrailingJunk", Kind::Label, "0 0.5 0.5 0.1 0.1x\n", {"bad.txt:1: h '0.1x' is not a finite number"}},
  {"LabelXAboveOne", Kind::Label, "0 1.5 0.5 0.1 0.1\n", {"bad.txt:1: x = 1.5 outside [0,1]", "relative to the image"}},
  {"LabelYNegative", Kind::Label, "0 0.5 -0.01 0.1 0.1\n", {"bad.txt:1: y = -0.01 outside [0,1]"}},
  {"LabelZeroWidth", Kind::Label, "0 0.5 0.5 0 0.1\n", {"bad.txt:1: w = 0 outside (0,1]"}},
  {"LabelHeightAboveOne", Kind::Label, "0 0.5 0.5 0.1 1.01\n", {"bad.txt:1: h = 1.01 outside (0,1]"}},
  {"LabelPixelCoordinates", Kind::Label, "0 320 240 50 60\n", {"bad.txt:1: x = 320 outside [0,1]"}},
  {"LabelLineNumbersCountBlankLines", Kind::Label, "\n\n0 0.5 0.5\n", {"bad.txt:3: expected 5 fields"}},
  {"LabelOfListedImage", Kind::LabelOfImage, std::string(kGoodLine) + "7 0.5 0.5 0.1 0.1\n", {"img.txt:2: class id 7 outside 0..2"}},
  {"LabelOfListedImageBadHeight", Kind::LabelOfImage, "0 0.5 0.5 0.1 abc\n", {"img.txt:1: h 'abc' is not a finite number"}},
  {"LabelClassBeyondInt64", Kind::Label, "99999999999999999999 0.5 0.5 0.1 0.1\n", {"bad.txt:1: class id '99999999999999999999' is not an integer"}},
  {"LabelClassHex", Kind::Label, "0x1 0.5 0.5 0.1 0.1\n", {"bad.txt:1: class id '0x1' is not an integer"}},
  {"LabelClassBeyondInt32", Kind::Label, "2147483648 0.5 0.5 0.1 0.1\n", {"bad.txt:1: class id 2147483648 outside 0..2"}},
  {"LabelXInfinite", Kind::Label, "0 inf 0.5 0.1 0.1\n", {"bad.txt:1: x 'inf' is not a finite number"}},
  {"LabelYNan", Kind::Label, "0 0.5 nan 0.1 0.1\n", {"bad.txt:1: y 'nan' is not a finite number"}},
  {"LabelXBeyondFloat", Kind::Label, "0 1e39 0.5 0.1 0.1\n", {"bad.txt:1: x '1e39' is not a finite number"}},
  {"LabelXExponentAboveOne", Kind::Label, "0 1e1 0.5 0.1 0.1\n", {"bad.txt:1: x = 1e1 outside [0,1]"}},
  {"LabelNegativeWidth", Kind::Label, "0 0.5 0.5 -0.1 0.1\n", {"bad.txt:1: w = -0.1 outside (0,1]"}},
  {"LabelNegativeZeroWidth", Kind::Label, "0 0.5 0.5 -0 0.1\n", {"bad.txt:1: w = -0 outside (0,1]"}},
  {"LabelZeroHeight", Kind::Label, "0 0.5 0.5 0.1 0\n", {"bad.txt:1: h = 0 outside (0,1]"}},
  {"LabelWidthTwo", Kind::Label, "0 0.5 0.5 2 0.1\n", {"bad.txt:1: w = 2 outside (0,1]"}},
  {"LabelCommaSeparated", Kind::Label, "0,0.5,0.5,0.1,0.1\n", {"bad.txt:1: expected 5 fields 'class x y w h', got 1"}},
  {"LabelDecimalComma", Kind::Label, "0 0,5 0,5 0,1 0,1\n", {"bad.txt:1: x '0,5' is not a finite number"}},
  {"LabelTwoBoxesOnOneLine", Kind::Label, "0 0.5 0.5 0.1 0.1 1 0.5 0.5 0.1 0.1\n", {"bad.txt:1: expected 5 fields", "got 10"}},
  {"LabelBinaryGarbage", Kind::Label, std::string("\x01\x02\x03\n", 4), {"bad.txt:1: expected 5 fields", "got 1"}},
  // ---- obj.data ----
  {"ObjDataNoTrain", Kind::ObjData, "classes=3\nnames=names3.txt\n", {"obj.data: no 'train=' key"}},
  {"ObjDataNoClasses", Kind::ObjData, "train=list.txt\n", {"obj.data: no 'classes=' key"}},
  {"ObjDataClassesNotANumber", Kind::ObjData, "classes=three\ntrain=list.txt\n", {"obj.data:1: classes must be an integer in 1..100000, got 'three'"}},
  {"ObjDataClassesZero", Kind::ObjData, "train=list.txt\nclasses=0\n", {"obj.data:2: classes must be an integer"}},
  {"ObjDataLineWithoutEquals", Kind::ObjData, "classes=3\ntrain list.txt\n", {"obj.data:2: expected 'key = value', got 'train list.txt'"}},
  {"ObjDataEmptyKey", Kind::ObjData, "classes=3\n= list.txt\n", {"obj.data:2: empty key before '='"}},
  {"ObjDataTrainListMissing", Kind::ObjData, "classes=3\ntrain=nowhere.txt\n", {"nowhere.txt: cannot open image list"}},
  {"ObjDataNamesMissing", Kind::ObjData, "classes=3\ntrain=list.txt\nnames=nonames.txt\n", {"nonames.txt: cannot open class names file"}},
  {"ObjDataEmptyFile", Kind::ObjData, "", {"obj.data: no 'classes=' key"}},
  {"ObjDataOnlyComments", Kind::ObjData, "# classes=3\n  # train=list.txt\n", {"obj.data: no 'classes=' key"}},
  {"ObjDataClassesNegative", Kind::ObjData, "classes=-3\ntrain=list.txt\n", {"obj.data:1: classes must be an integer in 1..100000, got '-3'"}},
  {"ObjDataClassesTooLarge", Kind::ObjData, "classes=100001\ntrain=list.txt\n", {"obj.data:1: classes must be an integer in 1..100000, got '100001'"}},
  {"ObjDataClassesFractional", Kind::ObjData, "classes=2.5\ntrain=list.txt\n", {"obj.data:1: classes must be an integer in 1..100000, got '2.5'"}},
  {"ObjDataClassesBeyondInt64", Kind::ObjData, "classes=99999999999999999999\n", {"obj.data:1: classes must be an integer in 1..100000, got '99999999999999999999'"}},
  {"ObjDataClassesEmpty", Kind::ObjData, "classes=\ntrain=list.txt\n", {"obj.data:1: classes must be an integer in 1..100000, got ''"}},
  {"ObjDataTrainEmpty", Kind::ObjData, "classes=3\ntrain=\n", {"obj.data: no 'train=' key"}},
  {"ObjDataTrainIsDirectory", Kind::ObjData, "classes=3\ntrain=/\n", {"/: is a directory"}},
  {"ObjDataTrainIsDevice", Kind::ObjData, "classes=3\ntrain=/dev/zero\n", {"/dev/zero: not a regular file", "image list"}},
  {"ObjDataNamesIsDirectory", Kind::ObjData, "classes=3\ntrain=list.txt\nnames=/\n", {"/: is a directory"}},
  // ---- names files ----
  {"NamesTooFew", Kind::Names, "cat\ndog\n", {"names.txt: 2 class names, but classes=3"}},
  {"NamesTooMany", Kind::Names, "a\nb\nc\nd\n", {"names.txt: 4 class names, but classes=3"}},
  {"NamesEmpty", Kind::Names, "\n  \n", {"names.txt: 0 class names, but classes=3"}},
  {"NamesCommaSeparatedOnOneLine", Kind::Names, "cat,dog,bird\n", {"names.txt: 1 class names, but classes=3"}},
  {"NamesBlankLinesDoNotCount", Kind::Names, "cat\n\n   \ndog\n", {"names.txt: 2 class names, but classes=3"}},
  // ---- image lists ----
  {"ListImageMissing", Kind::List, "img.png\nmissing.png\n", {"list.txt:2: image 'missing.png' not found"}},
  {"ListEmpty", Kind::List, "\n\n", {"list.txt: no images listed"}},
  {"ListEntryIsDirectory", Kind::List, "/\n", {"list.txt:1: image '/' not found"}},
  {"ListEntryIsDevice", Kind::List, "img.png\n/dev/null\n", {"list.txt:2: image '/dev/null' not found"}},
  {"ListLineNumbersCountBlankLines", Kind::List, "img.png\n\n\nnope.png\n", {"list.txt:4: image 'nope.png' not found"}},
  // Names the system cannot look up (longer than NAME_MAX) are reported as
  // not found by file and line; a std::filesystem_error escaped before.
  {"ListImageNameTooLongForTheSystem", Kind::List, "img.png\n" + std::string(300, 'a') + ".png\n", {"list.txt:2: image 'aaa", "not found"}},
  {"ObjDataTrainNameTooLongForTheSystem", Kind::ObjData, "classes=3\ntrain=" + std::string(300, 'b') + ".txt\n", {"cannot open image list"}},
  // ---- COCO instances JSON ----
  {"CocoTruncated", Kind::Coco, R"({"images": [)", {"bad.json: byte 13: invalid JSON"}},
  {"CocoNumberOverflow", Kind::Coco, R"({"images":[1e999]})", {"bad.json: invalid JSON", "number overflow"}},
  {"CocoGarbage", Kind::Coco, "{]", {"bad.json: byte 2: invalid JSON"}},
  {"CocoTopLevelArray", Kind::Coco, "[]", {"bad.json: expected a JSON object at the top level"}},
  {"CocoNoCategories", Kind::Coco, R"({"images":[]})", {"bad.json: missing field 'categories'"}},
  {"CocoCategoriesNotArray", Kind::Coco, R"({"categories":{}})", {"bad.json: 'categories' must be an array"}},
  {"CocoCategoryWithoutName", Kind::Coco, R"({"categories":[{"id":1}],"images":[]})", {"bad.json: categories[0]: missing field 'name'"}},
  {"CocoDuplicateCategory", Kind::Coco, R"({"categories":[{"id":1,"name":"a"},{"id":1,"name":"b"}],"images":[]})", {"bad.json: categories: duplicate id 1"}},
  {"CocoNoImages", Kind::Coco, R"({"categories":[{"id":1,"name":"a"}]})", {"bad.json: missing field 'images'"}},
  {"CocoImageWithoutWidth", Kind::Coco, R"({"categories":[{"id":1,"name":"a"}],"images":[{"id":1,"file_name":"x","height":3}]})", {"bad.json: images[0]: missing field 'width'"}},
  {"CocoImageZeroHeight", Kind::Coco, R"({"categories":[{"id":1,"name":"a"}],"images":[{"id":1,"file_name":"x","width":3,"height":0}]})", {"bad.json: images[0]: width and height must be in 1..1048576, got 3x0"}},
  {"CocoImageIdString", Kind::Coco, R"({"categories":[{"id":1,"name":"a"}],"images":[{"id":"1","file_name":"x","width":3,"height":3}]})", {"bad.json: images[0].id: expected an integer"}},
  {"CocoDuplicateImageId", Kind::Coco, R"({"categories":[{"id":1,"name":"a"}],"images":[{"id":1,"file_name":"x","width":3,"height":3},{"id":1,"file_name":"y","width":3,"height":3}]})", {"bad.json: images[1]: duplicate image id 1"}},
  {"CocoAnnotationsNotArray", Kind::Coco, kCocoHead + R"("annotations":3})", {"bad.json: 'annotations' must be an array"}},
  {"CocoUnknownImage", Kind::Coco, kCocoHead + R"("annotations":[{"image_id":9,"category_id":1,"bbox":[0,0,1,1]}]})", {"bad.json: annotations[0]: unknown image_id 9"}},
  {"CocoUnknownCategory", Kind::Coco, kCocoHead + R"("annotations":[{"image_id":1,"category_id":2,"bbox":[0,0,1,1]}]})", {"bad.json: annotations[0]: unknown category_id 2"}},
  {"CocoBboxThreeNumbers", Kind::Coco, kCocoHead + R"("annotations":[{"image_id":1,"category_id":1,"bbox":[0,0,1]}]})", {"bad.json: annotations[0].bbox: expected [x, y, width, height]"}},
  {"CocoBboxString", Kind::Coco, kCocoHead + R"("annotations":[{"image_id":1,"category_id":1,"bbox":[0,"0",1,1]}]})", {"bad.json: annotations[0].bbox[1]: expected a number"}},
  {"CocoBboxNegativeWidth", Kind::Coco, kCocoHead + R"("annotations":[{"image_id":1,"category_id":1,"bbox":[0,0,-1,1]}]})", {"bad.json: annotations[0].bbox: negative width or height"}},
  {"CocoBboxBeyondFloat", Kind::Coco, kCocoHead + R"("annotations":[{"image_id":1,"category_id":1,"bbox":[0,0,1e300,1]}]})", {"bad.json: annotations[0].bbox: beyond the float range"}},
  {"CocoAreaBeyondFloat", Kind::Coco, kCocoHead + R"("annotations":[{"image_id":1,"category_id":1,"bbox":[0,0,1,1],"area":1e300}]})", {"bad.json: annotations[0].area: beyond the float range"}},
  {"CocoAnnotationWithoutBbox", Kind::Coco, kCocoHead + R"("annotations":[{"image_id":1,"category_id":1}]})", {"bad.json: annotations[0]: missing field 'bbox'"}},
  {"CocoEmptyText", Kind::Coco, "", {"bad.json: byte 1: invalid JSON"}},
  {"CocoCategoriesEmpty", Kind::Coco, R"({"categories":[],"images":[]})", {"bad.json: 'categories' is empty"}},
  {"CocoCategoryNotObject", Kind::Coco, R"({"categories":[1],"images":[]})", {"bad.json: categories[0]: expected an object"}},
  {"CocoCategoryIdString", Kind::Coco, R"({"categories":[{"id":"1","name":"a"}],"images":[]})", {"bad.json: categories[0].id: expected an integer"}},
  {"CocoCategoryNameNumber", Kind::Coco, R"({"categories":[{"id":1,"name":7}],"images":[]})", {"bad.json: categories[0].name: expected a string"}},
  {"CocoImagesNotArray", Kind::Coco, R"({"categories":[{"id":1,"name":"a"}],"images":{}})", {"bad.json: 'images' must be an array"}},
  {"CocoImageWithoutFileName", Kind::Coco, R"({"categories":[{"id":1,"name":"a"}],"images":[{"id":1,"width":3,"height":3}]})", {"bad.json: images[0]: missing field 'file_name'"}},
  {"CocoImageIdFractional", Kind::Coco, R"({"categories":[{"id":1,"name":"a"}],"images":[{"id":1.5,"file_name":"x","width":3,"height":3}]})", {"bad.json: images[0].id: expected an integer"}},
  {"CocoImageTooWide", Kind::Coco, R"({"categories":[{"id":1,"name":"a"}],"images":[{"id":1,"file_name":"x","width":1048577,"height":3}]})", {"bad.json: images[0]: width and height must be in 1..1048576, got 1048577x3"}},
  {"CocoImageNegativeWidth", Kind::Coco, R"({"categories":[{"id":1,"name":"a"}],"images":[{"id":1,"file_name":"x","width":-3,"height":3}]})", {"bad.json: images[0]: width and height must be in 1..1048576, got -3x3"}},
  {"CocoAnnotationNotObject", Kind::Coco, kCocoHead + R"("annotations":[5]})", {"bad.json: annotations[0]: expected an object"}},
  {"CocoAnnotationWithoutImageId", Kind::Coco, kCocoHead + R"("annotations":[{"category_id":1,"bbox":[0,0,1,1]}]})", {"bad.json: annotations[0]: missing field 'image_id'"}},
  {"CocoBboxNull", Kind::Coco, kCocoHead + R"("annotations":[{"image_id":1,"category_id":1,"bbox":[0,0,null,1]}]})", {"bad.json: annotations[0].bbox[2]: expected a number"}},
  {"CocoIscrowdString", Kind::Coco, kCocoHead + R"("annotations":[{"image_id":1,"category_id":1,"bbox":[0,0,1,1],"iscrowd":"1"}]})", {"bad.json: annotations[0].iscrowd: expected an integer"}},
  {"CocoAreaString", Kind::Coco, kCocoHead + R"("annotations":[{"image_id":1,"category_id":1,"bbox":[0,0,1,1],"area":"1"}]})", {"bad.json: annotations[0].area: expected a number"}},
};
// clang-format on

// The reader a case exercises, for docs/malformed-inputs.md: obj.data rows
// include its names file and image list, which it names and reads.
const char* reader_of(Kind kind) {
  switch (kind) {
    case Kind::Label:
    case Kind::LabelOfImage: return "darknet-labels";
    case Kind::ObjData:
    case Kind::Names:
    case Kind::List: return "obj-data";
    case Kind::Coco: return "coco-json";
  }
  return "other";
}

// A folder with a good names file, image and list, and the case's bad file.
class DetectionBadInput : public ::testing::TestWithParam<BadData> {
 protected:
  void SetUp() override {
    char name[] = "/tmp/cspnet-detbad-XXXXXX";
    ASSERT_NE(mkdtemp(name), nullptr);
    dir_ = name;
    write("names3.txt", "a\nb\nc\n");
    write("img.png", "not decoded by these checks");
    write("list.txt", "img.png\n");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string write(const std::string& file, const std::string& text) {
    std::ofstream(dir_ / file, std::ios::binary) << text;
    return (dir_ / file).string();
  }
  // Runs the case and returns the error message ("" when nothing was thrown).
  std::string error_of(const BadData& c) {
    try {
      switch (c.kind) {
        case Kind::Label: parse_darknet_labels(c.text, "bad.txt", 3); break;
        case Kind::Coco: parse_coco_instances(c.text, "bad.json"); break;
        case Kind::ObjData: make_detection_source(write("obj.data", c.text), true); break;
        case Kind::Names:
          write("names.txt", c.text);
          make_detection_source(write("obj.data", "classes=3\ntrain=list.txt\nnames=names.txt\n"), true);
          break;
        case Kind::List:
          write("list.txt", c.text);
          make_detection_source(write("obj.data", "classes=3\ntrain=list.txt\n"), true);
          break;
        case Kind::LabelOfImage:
          write("img.txt", c.text);
          make_detection_source(write("obj.data", "classes=3\ntrain=list.txt\n"), true);
          break;
      }
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  fs::path dir_;
};

}  // namespace

TEST_P(DetectionBadInput, ErrorNamesFileAndPlace) {
  const BadData& c = GetParam();
  const std::string message = error_of(c);
  ASSERT_FALSE(message.empty()) << c.name << ": no error";
  test::record_malformed_row(reader_of(c.kind), c.name, message, dir_.string());
  for (const std::string& part : c.expect) EXPECT_NE(message.find(part), std::string::npos) << c.name << ": " << message;
}

INSTANTIATE_TEST_SUITE_P(Table, DetectionBadInput, ::testing::ValuesIn(kBad),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(DetectionBadInputTable, HasAtLeastThirtyCasesPerReaderWithUniqueNames) {
  std::map<std::string, size_t> per_reader;
  std::set<std::string> names;
  for (const auto& c : kBad) {
    ++per_reader[reader_of(c.kind)];
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
  }
  // docs/reliability.md promises at least 30 malformed inputs per reader.
  for (const char* reader : {"darknet-labels", "obj-data", "coco-json"}) EXPECT_GE(per_reader[reader], 30u) << reader;
}

// Through the CLI: `cspnet detector data` exits 1 with the same messages.
class DetectionBadInputCli : public DetectionBadInput {
 protected:
  int cli(const std::string& args, std::string& err) {
    const fs::path err_path = dir_ / "stderr.txt";
    const std::string command = std::string("'") + CSPNET_CLI_PATH + "' " + args + " >/dev/null 2>'" +
                                err_path.string() + "' </dev/null";
    const int status = std::system(command.c_str());
    std::ifstream in(err_path);
    err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
};

TEST_F(DetectionBadInputCli, DataVerbExitsOneNamingTheFile) {
  std::string err;
  write("img.txt", "0 0.5 0.5 0.2 0.2\n5 0.5 0.5 0.1 0.1\n");
  EXPECT_EQ(cli("detector data '" + write("obj.data", "classes=3\ntrain=list.txt\n") + "'", err), 1);
  EXPECT_NE(err.find("img.txt:2: class id 5 outside 0..2"), std::string::npos) << err;

  EXPECT_EQ(cli("detector data '" + write("obj.data", "classes=3\nvalid=list.txt\n") + "'", err), 1);
  EXPECT_NE(err.find("obj.data: no 'train=' key"), std::string::npos) << err;

  EXPECT_EQ(cli("detector data 'coco:" + write("bad.json", "{\"images\": [") + "'", err), 1);
  EXPECT_NE(err.find("bad.json: byte 13: invalid JSON"), std::string::npos) << err;

  write("names.txt", "a\nb\n");
  EXPECT_EQ(cli("detector data '" + write("obj.data", "classes=3\ntrain=list.txt\nnames=names.txt\n") + "'", err), 1);
  EXPECT_NE(err.find("names.txt: 2 class names, but classes=3"), std::string::npos) << err;
}

TEST_F(DetectionBadInputCli, DataVerbReportsNegativeImages) {
  std::string err;
  // img.png has no label file: a negative image, counted, not an error.
  EXPECT_EQ(cli("detector data '" + write("obj.data", "classes=3\ntrain=list.txt\nnames=names3.txt\n") + "'", err), 0)
      << err;
}

TEST_F(DetectionBadInputCli, ScenesVerbRefusesAnExistingFolderAndBadSizes) {
  std::string err;
  EXPECT_EQ(cli("detector scenes --out '" + dir_.string() + "' --train 1 --val 1", err), 1);
  EXPECT_NE(err.find("already exists"), std::string::npos) << err;
  EXPECT_TRUE(fs::exists(dir_ / "list.txt"));  // untouched
  EXPECT_EQ(cli("detector scenes --out '" + (dir_ / "new").string() + "' --size 10", err), 2);
  EXPECT_FALSE(fs::exists(dir_ / "new"));
}
