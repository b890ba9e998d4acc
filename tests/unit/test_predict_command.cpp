// `cspnet predict` as a user runs it (a separate process on temporary
// files): a tiny [yolo] network with random weights gives thousands of
// candidate boxes, so --max-det, --iou, JSON against the text table, folder
// and @list inputs, annotated PNGs and the errors for bad inputs are checked
// on real output; a tiny classifier checks top-k on several images.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cspnet/boxes.hpp"
#include "cspnet/image.hpp"
#include "cspnet/tensor.hpp"

namespace fs = std::filesystem;

namespace {

// 64x64 -> 32x32 grid, 3 anchors, 2 classes: 3072 candidate boxes.
const char* kDetectorCfg = R"([net]
width=64
height=64
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=leaky

[convolutional]
filters=21
size=1
stride=1
pad=1
activation=linear

[yolo]
mask=0,1,2
anchors=10,14, 23,27, 37,58
classes=2
num=3
)";

// 16x16 -> 4 class scores.
const char* kClassifierCfg = R"([net]
width=16
height=16
channels=3

[convolutional]
filters=4
size=3
stride=1
pad=1
activation=leaky

[avgpool]

[softmax]
groups=1
)";

struct Result {
  int code = -1;
  std::string out, err;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string quote(const std::string& s) { return "'" + s + "'"; }
bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class PredictCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/cspnet-predict-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    captures_ = fs::temp_directory_path() / (dir_.filename().string() + "-io");
    fs::create_directory(captures_);
    detector_ = write("tiny-yolo.cfg", kDetectorCfg);
    classifier_ = write("tiny-classifier.cfg", kClassifierCfg);
    names_ = write("names.txt", "cat\ndog\n");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    fs::remove_all(captures_, ec);
  }

  std::string write(const std::string& name, const std::string& bytes) {
    const fs::path path = dir_ / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
    return path.string();
  }

  // A PNG of random pixels, width x height, under the work directory.
  std::string image(const std::string& name, int width, int height, uint32_t seed = 8) {
    cspnet::Tensor pixels(cspnet::Shape{1, 3, height, width});
    std::mt19937 random(seed);
    std::uniform_real_distribution<float> unit(0.f, 1.f);
    for (int64_t i = 0; i < pixels.size(); ++i) pixels.data()[i] = unit(random);
    const fs::path path = dir_ / name;
    fs::create_directories(path.parent_path());
    cspnet::save_png(path.string(), pixels);
    return path.string();
  }

  Result cli(const std::string& args) {
    const fs::path out = captures_ / "stdout.txt", err = captures_ / "stderr.txt";
    const std::string command = std::string("'") + CSPNET_CLI_PATH + "' " + args + " >'" + out.string() + "' 2>'" +
                                err.string() + "' </dev/null";
    const int status = std::system(command.c_str());
    Result r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    r.out = read_file(out);
    r.err = read_file(err);
    EXPECT_EQ(r.err.find("Sanitizer"), std::string::npos) << args << ":\n" << r.err;
    EXPECT_EQ(r.err.find("runtime error:"), std::string::npos) << args << ":\n" << r.err;
    return r;
  }

  // `predict` on the tiny detector (random weights, seed 6) with `args`.
  Result detect(const std::string& args) {
    return cli("predict " + quote(detector_) + " --seed 6 --names " + quote(names_) + " " + args);
  }

  // The JSON of a detector run; fails the test when it does not parse.
  nlohmann::json detect_json(const std::string& args) {
    Result r = detect(args + " --json");
    EXPECT_EQ(r.code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }

  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::recursive_directory_iterator(dir_)) names.push_back(entry.path().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  fs::path dir_, captures_;
  std::string detector_, classifier_, names_;
};

cspnet::ScoredBox normalised_box(const nlohmann::json& d) {
  const auto& b = d["box_cxcywh_norm"];
  return {b[0].get<float>(), b[1].get<float>(), b[2].get<float>(), b[3].get<float>(), d["class"].get<int>(),
          d["score"].get<float>()};
}

std::vector<cspnet::ScoredBox> boxes_of(const nlohmann::json& image) {
  std::vector<cspnet::ScoredBox> boxes;
  for (const auto& d : image["detections"]) boxes.push_back(normalised_box(d));
  return boxes;
}

// Greedy per-class NMS written out here, independent of the library's.
std::vector<cspnet::ScoredBox> reference_nms(const std::vector<cspnet::ScoredBox>& best_first, float iou) {
  std::vector<cspnet::ScoredBox> kept;
  for (const auto& b : best_first) {
    bool suppressed = false;
    for (const auto& k : kept) suppressed = suppressed || (k.cls == b.cls && cspnet::box_iou(k, b) > iou);
    if (!suppressed) kept.push_back(b);
  }
  return kept;
}

// ---- detector: --max-det, --iou ----

TEST_F(PredictCommand, MaxDetKeepsOnlyTheHighestScoringBoxes) {
  const std::string scene = image("scene.png", 80, 48);
  const auto all = boxes_of(detect_json(quote(scene) + " --threshold 0.2 --max-det 100000")["images"][0]);
  ASSERT_GT(all.size(), 10u);  // the seed gives more boxes than the cap, else the cap checks nothing
  for (size_t i = 1; i < all.size(); ++i) EXPECT_GE(all[i - 1].score, all[i].score) << i;

  const nlohmann::json capped = detect_json(quote(scene) + " --threshold 0.2 --max-det 7");
  const auto best = boxes_of(capped["images"][0]);
  ASSERT_EQ(best.size(), 7u);
  EXPECT_EQ(best, std::vector<cspnet::ScoredBox>(all.begin(), all.begin() + 7));
  EXPECT_EQ(capped["max_det"].get<int>(), 7);
}

TEST_F(PredictCommand, DefaultMaxDetIs300) {
  const std::string scene = image("scene.png", 80, 48);
  // --iou 1 keeps every candidate above 0.05: far more than 300.
  const nlohmann::json j = detect_json(quote(scene) + " --threshold 0.05 --iou 1");
  EXPECT_EQ(j["images"][0]["detections"].size(), 300u);
  EXPECT_EQ(j["max_det"].get<int>(), 300);
}

TEST_F(PredictCommand, IouSetsHowMuchOverlapSuppresses) {
  const std::string scene = image("scene.png", 80, 48);
  const std::string common = quote(scene) + " --threshold 0.2 --max-det 100000";
  // IoU never exceeds 1: --iou 1 suppresses nothing and lists every candidate.
  const auto candidates = boxes_of(detect_json(common + " --iou 1")["images"][0]);
  for (float iou : {0.0f, 0.3f, 0.7f}) {
    const auto kept = boxes_of(detect_json(common + " --iou " + std::to_string(iou))["images"][0]);
    const auto expected = reference_nms(candidates, iou);
    EXPECT_LT(expected.size(), candidates.size()) << "iou " << iou << ": the case suppresses nothing";
    EXPECT_EQ(kept, expected) << "iou " << iou;
  }
  // Lower IoU thresholds suppress more.
  EXPECT_LT(reference_nms(candidates, 0.0f).size(), reference_nms(candidates, 0.7f).size());
}

// ---- JSON against the text table ----

// Rows of the text table: name, score %, x1 y1 x2 y2.
struct TextRow {
  std::string name;
  double score = 0, x1 = 0, y1 = 0, x2 = 0, y2 = 0;
};

std::vector<TextRow> text_rows(const std::string& out) {
  std::vector<TextRow> rows;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    char name[64];
    TextRow row;
    if (std::sscanf(line.c_str(), " %63s %lf%% x1 %lf y1 %lf x2 %lf y2 %lf", name, &row.score, &row.x1, &row.y1,
                    &row.x2, &row.y2) == 6) {
      row.name = name;
      rows.push_back(row);
    }
  }
  return rows;
}

TEST_F(PredictCommand, JsonParsesAndItsPixelBoxesEqualTheTextTable) {
  const std::string scene = image("scene.png", 80, 48);
  const std::string args = quote(scene) + " --threshold 0.3";
  Result text = detect(args);
  ASSERT_EQ(text.code, 0) << text.err;
  const nlohmann::json j = detect_json(args);
  ASSERT_EQ(j["task"], "detect");
  const nlohmann::json& im = j["images"][0];
  EXPECT_EQ(im["file"], scene);
  EXPECT_EQ(im["width"].get<int>(), 80);
  EXPECT_EQ(im["height"].get<int>(), 48);
  EXPECT_GT(im["time_ms"].get<double>(), 0.0);
  for (const char* stage : {"preprocess", "inference", "postprocess"}) EXPECT_GE(im["stages_ms"][stage].get<double>(), 0.0);

  const auto rows = text_rows(text.out);
  const auto& detections = im["detections"];
  ASSERT_GT(detections.size(), 0u);
  ASSERT_EQ(rows.size(), detections.size()) << text.out;
  EXPECT_TRUE(contains(text.out, scene + ": 80x48, " + std::to_string(rows.size()) + " detections")) << text.out;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& d = detections[i];
    const auto& xyxy = d["box_xyxy"];
    EXPECT_EQ(rows[i].name, d["name"].get<std::string>());
    EXPECT_TRUE(d["name"] == "cat" || d["name"] == "dog") << d;  // from --names
    EXPECT_NEAR(rows[i].score, 100 * d["score"].get<double>(), 0.051);
    EXPECT_NEAR(rows[i].x1, xyxy[0].get<double>(), 0.051);
    EXPECT_NEAR(rows[i].y1, xyxy[1].get<double>(), 0.051);
    EXPECT_NEAR(rows[i].x2, xyxy[2].get<double>(), 0.051);
    EXPECT_NEAR(rows[i].y2, xyxy[3].get<double>(), 0.051);
    // Pixels of the original image, clipped to it, from the normalised box.
    const auto b = normalised_box(d);
    EXPECT_NEAR(xyxy[0].get<double>(), std::clamp((b.x - b.w / 2) * 80.0, 0.0, 80.0), 1e-3);
    EXPECT_NEAR(xyxy[3].get<double>(), std::clamp((b.y + b.h / 2) * 48.0, 0.0, 48.0), 1e-3);
    for (int k : {0, 2}) EXPECT_TRUE(xyxy[k] >= 0.0 && xyxy[k] <= 80.0) << xyxy;
    for (int k : {1, 3}) EXPECT_TRUE(xyxy[k] >= 0.0 && xyxy[k] <= 48.0) << xyxy;
  }
  // Per-image stage times and the summary line.
  EXPECT_TRUE(contains(text.out, "(preprocess ")) << text.out;
  EXPECT_TRUE(contains(text.out, "inference ")) << text.out;
  EXPECT_TRUE(contains(text.out, "1 image, " + std::to_string(rows.size()) + " detections; per image")) << text.out;
}

// ---- inputs: folder and @list ----

std::vector<std::string> files_of(const nlohmann::json& j) {
  std::vector<std::string> files;
  for (const auto& im : j["images"]) files.push_back(fs::path(im["file"].get<std::string>()).filename().string());
  return files;
}

TEST_F(PredictCommand, FolderInputProcessesEveryImageInSortedOrder) {
  image("scenes/c.png", 40, 30);
  image("scenes/a.png", 50, 30);
  image("scenes/B.PNG", 60, 30);
  write("scenes/notes.txt", "not an image");
  image("scenes/deeper/z.png", 20, 20);  // folders are not searched recursively
  const nlohmann::json j = detect_json(quote((dir_ / "scenes").string()));
  EXPECT_EQ(files_of(j), (std::vector<std::string>{"B.PNG", "a.png", "c.png"}));
  EXPECT_EQ(j["images"][1]["width"].get<int>(), 50);
  EXPECT_EQ(j["summary"]["images"].get<int>(), 3);

  Result text = detect(quote((dir_ / "scenes").string()));
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_LT(text.out.find("B.PNG: 60x30"), text.out.find("a.png: 50x30")) << text.out;
  EXPECT_LT(text.out.find("a.png: 50x30"), text.out.find("c.png: 40x30")) << text.out;
  EXPECT_TRUE(contains(text.out, "3 images, ")) << text.out;
}

TEST_F(PredictCommand, ListFileAndSeveralArgumentsKeepTheirOrder) {
  const std::string a = image("a.png", 30, 20), b = image("b.png", 20, 30);
  // Absolute, and relative to the list's folder as darknet's lists are.
  const std::string list = write("list.txt", b + "\n\na.png\r\n");
  EXPECT_EQ(files_of(detect_json("@" + quote(list))), (std::vector<std::string>{"b.png", "a.png"}));
  EXPECT_EQ(files_of(detect_json(quote(b) + " " + quote(a) + " " + quote(b))),
            (std::vector<std::string>{"b.png", "a.png", "b.png"}));
}

// ---- annotated PNGs ----

TEST_F(PredictCommand, SaveImageWritesAnAnnotatedPngThatDiffersFromTheInput) {
  const std::string scene = image("scene.png", 80, 48);
  const std::string annotated = (dir_ / "annotated.png").string();
  Result r = detect(quote(scene) + " --threshold 0.3 --save-image " + quote(annotated));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "-> " + annotated)) << r.out;
  const cspnet::Tensor input = cspnet::load_image_rgb(scene), drawn = cspnet::load_image_rgb(annotated);
  ASSERT_EQ(drawn.shape(), input.shape());
  int64_t changed = 0;
  for (int64_t i = 0; i < input.size(); ++i) changed += input.data()[i] != drawn.data()[i];
  EXPECT_GT(changed, 100) << "boxes and labels change pixels";
}

TEST_F(PredictCommand, OutWritesOneAnnotatedPngPerImage) {
  image("scenes/a.png", 40, 30);
  image("scenes/b.png", 50, 40, 9);
  const fs::path out = dir_ / "annotated";
  Result r = detect(quote((dir_ / "scenes").string()) + " --threshold 0.3 --out " + quote(out.string()));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(cspnet::load_image_rgb((out / "a.png").string()).shape(), (cspnet::Shape{1, 3, 30, 40}));
  EXPECT_EQ(cspnet::load_image_rgb((out / "b.png").string()).shape(), (cspnet::Shape{1, 3, 40, 50}));
}

// ---- classifier ----

TEST_F(PredictCommand, ClassifierPrintsTopKPerImageInJson) {
  const std::string a = image("a.png", 21, 13), b = image("b.png", 16, 16, 3);
  Result r = cli("predict " + quote(classifier_) + " " + quote(a) + " " + quote(b) + " --top 3 --json --names " +
                 quote(names_));
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["task"], "classify");
  ASSERT_EQ(j["images"].size(), 2u);
  for (const auto& im : j["images"]) {
    const auto& top = im["top"];
    ASSERT_EQ(top.size(), 3u) << im;
    EXPECT_GE(top[0]["score"].get<double>(), top[1]["score"].get<double>());
    EXPECT_GE(top[1]["score"].get<double>(), top[2]["score"].get<double>());
    const int first = top[0]["class"].get<int>();
    EXPECT_EQ(top[0]["name"], first == 0 ? "cat" : first == 1 ? "dog" : "class " + std::to_string(first));
  }
  Result text = cli("predict " + quote(classifier_) + " " + quote(a) + " " + quote(b));
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_TRUE(contains(text.out, a + ": 21x13, ")) << text.out;
  EXPECT_TRUE(contains(text.out, "2 images; per image")) << text.out;
}

// ---- bad input: the file named, non-zero exit, nothing written ----

TEST_F(PredictCommand, MissingImageExitsOneNamingItAndWritesNothing) {
  const std::string scene = image("scene.png", 40, 30);
  const std::string missing = (dir_ / "none.png").string();
  const auto before = listing();
  Result r = detect(quote(scene) + " " + quote(missing) + " --out " + quote((dir_ / "out").string()));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "cspnet: error: " + missing + ": cannot open image")) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(listing(), before);
}

TEST_F(PredictCommand, UndecodableImageInAFolderExitsOneBeforeAnyPngIsWritten) {
  image("scenes/a.png", 40, 30);
  const std::string broken = write("scenes/b.png", "\x89PNG not really");
  const auto before = listing();
  Result r = detect(quote((dir_ / "scenes").string()) + " --out " + quote((dir_ / "out").string()));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, broken + ": cannot decode image")) << r.err;
  EXPECT_EQ(listing(), before);

  const std::string annotated = (dir_ / "one.png").string();
  Result one = detect(quote(broken) + " --save-image " + quote(annotated));
  EXPECT_EQ(one.code, 1);
  EXPECT_TRUE(contains(one.err, broken)) << one.err;
  EXPECT_FALSE(fs::exists(annotated));
}

TEST_F(PredictCommand, EmptyFolderAndEmptyListExitOneNamingThem) {
  fs::create_directory(dir_ / "empty");
  write("empty/readme.txt", "no images here");
  Result folder = detect(quote((dir_ / "empty").string()));
  EXPECT_EQ(folder.code, 1);
  EXPECT_TRUE(contains(folder.err, (dir_ / "empty").string() + ": folder holds no png, jpg, jpeg or bmp image"))
      << folder.err;

  const std::string list = write("list.txt", "\n  \n");
  Result empty_list = detect("@" + quote(list));
  EXPECT_EQ(empty_list.code, 1);
  EXPECT_TRUE(contains(empty_list.err, list + ": no images listed")) << empty_list.err;

  Result listed = detect("@" + quote(write("list2.txt", "gone.png\n")));
  EXPECT_EQ(listed.code, 1);
  EXPECT_TRUE(contains(listed.err, (dir_ / "list2.txt").string() + ":1: image 'gone.png' not found")) << listed.err;

  // A folder where an image should be, listed: named with its list.
  fs::create_directory(dir_ / "folder.png");
  Result folder_listed = detect("@" + quote(write("list3.txt", (dir_ / "folder.png").string() + "\n")));
  EXPECT_EQ(folder_listed.code, 1);
  EXPECT_TRUE(contains(folder_listed.err, "folder.png")) << folder_listed.err;
}

TEST_F(PredictCommand, OutOfRangeOptionsAreUsageErrors) {
  const std::string scene = image("scene.png", 40, 30);
  for (const std::string bad : {"--iou 1.5", "--iou -0.1", "--iou abc", "--max-det 0", "--threshold 2"}) {
    Result r = detect(quote(scene) + " " + bad);
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_TRUE(contains(r.err, bad.substr(0, bad.find(' ')))) << bad << ": " << r.err;
  }
  Result iou = detect(quote(scene) + " --iou 1.5");
  EXPECT_TRUE(contains(iou.err, "expected a number in [0, 1], got '1.5'")) << iou.err;
}

TEST_F(PredictCommand, OutputOptionsThatCannotApplyAreUsageErrors) {
  const std::string a = image("a.png", 40, 30), b = image("b.png", 40, 30);
  const auto before = listing();
  const std::string png = quote((dir_ / "x.png").string());
  EXPECT_EQ(detect(quote(a) + " " + quote(b) + " --save-image " + png).code, 2);  // several images: --out
  EXPECT_EQ(detect(quote(a) + " --save-image " + quote((dir_ / "x.jpg").string())).code, 2);
  EXPECT_EQ(detect(quote(a) + " --save-image " + png + " --out " + quote((dir_ / "o").string())).code, 2);
  EXPECT_EQ(detect(quote(a) + " --out " + quote(dir_.string())).code, 2);  // would overwrite a.png
  Result classifier = cli("predict " + quote(classifier_) + " " + quote(a) + " --save-image " + png);
  EXPECT_EQ(classifier.code, 2);
  EXPECT_TRUE(contains(classifier.err, "not a detector")) << classifier.err;
  EXPECT_EQ(listing(), before);
}

}  // namespace
