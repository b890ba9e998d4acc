// Detection data: darknet's label path rule and label/obj.data parsing,
// COCO instances JSON (reading, id mapping, writer round trip), the
// Fashion-MNIST scenes generator (determinism, exact boxes), a generated
// folder read back through every route, and the CLI verbs.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cspnet/detection_data.hpp"
#include "cspnet/error.hpp"

namespace fs = std::filesystem;
using namespace cspnet;

namespace {

bool have_fashion_mnist() { return fs::exists(fs::path(kFashionMnistDir) / "t10k-images-idx3-ubyte.gz") || fs::exists(fs::path(kFashionMnistDir) / "t10k-images-idx3-ubyte"); }

struct TempDir {
  fs::path path;
  TempDir() {
    char name[] = "/tmp/cspnet-detdata-XXXXXX";
    if (!mkdtemp(name)) throw std::runtime_error("mkdtemp");
    path = name;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    fs::create_directories((path / name).parent_path());
    std::ofstream(path / name, std::ios::binary) << text;
    return (path / name).string();
  }
};

SceneGenerator test_generator(SceneOptions options = {}) {
  return SceneGenerator(load_fashion_mnist(kFashionMnistDir, false), options);
}

}  // namespace

TEST(DetectionLabelPath, FollowsDarknetAndUltralyticsFolderSwaps) {
  EXPECT_EQ(label_path_for_image("/coco/images/train2017/0001.jpg"), "/coco/labels/train2017/0001.txt");
  EXPECT_EQ(label_path_for_image("/coco/images/val2014/x.JPEG"), "/coco/labels/val2014/x.txt");
  EXPECT_EQ(label_path_for_image("/voc/VOC2007/JPEGImages/000005.jpg"), "/voc/VOC2007/labels/000005.txt");
  EXPECT_EQ(label_path_for_image("data/images/train/a.PNG"), "data/labels/train/a.txt");
  EXPECT_EQ(label_path_for_image("images/val/a.bmp"), "labels/val/a.txt");
  EXPECT_EQ(label_path_for_image("/a/images/b/images/c.tiff"), "/a/images/b/labels/c.txt");  // the last folder
  EXPECT_EQ(label_path_for_image("pics/a.ppm"), "pics/a.txt");  // no images folder: beside the image
  EXPECT_EQ(label_path_for_image("pics/a.Tif"), "pics/a.txt");
  EXPECT_EQ(label_path_for_image("pics/a.gif"), "pics/a.gif.txt");  // not an image extension: appended
  EXPECT_EQ(label_path_for_image("my.images/a"), "my.images/a.txt");
}

TEST(DetectionLabels, ParsesClassAndRelativeBoxes) {
  const auto boxes = parse_darknet_labels("2 0.5 0.25 0.125 1\n\n  0   1e-1 0 0.5 0.75  \n", "l.txt", 3);
  ASSERT_EQ(boxes.size(), 2u);
  EXPECT_EQ(boxes[0], (ObjectBox{0.5f, 0.25f, 0.125f, 1.0f, 2, false, -1}));
  EXPECT_EQ(boxes[1], (ObjectBox{0.1f, 0.0f, 0.5f, 0.75f, 0, false, -1}));
  EXPECT_TRUE(parse_darknet_labels("", "empty.txt", 3).empty());  // a negative image
}

TEST(DetectionObjData, ReadsDarknetKeysAndComments) {
  TempDir dir;
  const auto path = dir.write("obj.data", "# a comment\nclasses= 2\n train = t.txt # trailing\nvalid=v.txt\n"
                                          "names=n.names\nbackup=backup/\neval=coco\ndifficult=d.txt\nextra=1\n");
  const ObjData d = read_obj_data(path);
  EXPECT_EQ(d.classes, 2);
  EXPECT_EQ(d.train, "t.txt");
  EXPECT_EQ(d.valid, "v.txt");
  EXPECT_EQ(d.names, "n.names");
  EXPECT_EQ(d.backup, "backup/");
  EXPECT_EQ(d.eval, "coco");
  EXPECT_EQ(d.difficult, "d.txt");
  EXPECT_EQ(d.keys.at("extra"), "1");
}

TEST(DetectionCoco, MapsSortedCategoryIdsAndPixelBoxes) {
  const std::string json = R"({"images":[{"id":7,"file_name":"a.jpg","width":200,"height":100},
     {"id":3,"file_name":"b.jpg","width":10,"height":10}],
   "categories":[{"id":90,"name":"zebra"},{"id":4,"name":"cat"}],
   "annotations":[{"id":1,"image_id":7,"category_id":90,"bbox":[20,10,40,30],"area":555.5,"iscrowd":1},
                  {"id":2,"image_id":7,"category_id":4,"bbox":[0,0,200,100]}]})";
  const CocoData d = parse_coco_instances(json, "x.json");
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"cat", "zebra"}));
  EXPECT_EQ(d.category_ids, (std::vector<int64_t>{4, 90}));
  ASSERT_EQ(d.images.size(), 2u);
  EXPECT_EQ(d.images[0].id, 7);
  EXPECT_EQ(d.images[1].file_name, "b.jpg");
  ASSERT_EQ(d.boxes[0].size(), 2u);
  EXPECT_TRUE(d.boxes[1].empty());
  const ObjectBox& zebra = d.boxes[0][0];
  EXPECT_EQ(zebra.cls, 1);
  EXPECT_FLOAT_EQ(zebra.x, (20 + 20) / 200.0f);
  EXPECT_FLOAT_EQ(zebra.y, (10 + 15) / 100.0f);
  EXPECT_FLOAT_EQ(zebra.w, 40 / 200.0f);
  EXPECT_FLOAT_EQ(zebra.h, 30 / 100.0f);
  EXPECT_TRUE(zebra.crowd);
  EXPECT_FLOAT_EQ(zebra.area, 555.5f);
  EXPECT_EQ(d.boxes[0][1], (ObjectBox{0.5f, 0.5f, 1.0f, 1.0f, 0, false, -1}));
}

TEST(DetectionCoco, WriterRoundTripsThroughTheReader) {
  CocoData d;
  d.class_names = {"a", "b", "c"};
  d.category_ids = {1, 5, 9};
  d.images = {{11, "x.png", 64, 32}, {12, "y.png", 100, 100}};
  d.boxes = {{{0.5f, 0.5f, 0.25f, 0.5f, 2, false, -1}, {0.25f, 0.75f, 0.5f, 0.5f, 0, true, 12.0f}}, {}};
  const CocoData back = parse_coco_instances(coco_instances_json(d), "round.json");
  EXPECT_EQ(back.class_names, d.class_names);
  EXPECT_EQ(back.category_ids, d.category_ids);
  ASSERT_EQ(back.images.size(), 2u);
  EXPECT_EQ(back.images[1].id, 12);
  EXPECT_EQ(back.images[0].width, 64);
  ASSERT_EQ(back.boxes[0].size(), 2u);
  for (size_t k = 0; k < 2; ++k) {
    const ObjectBox &a = d.boxes[0][k], &b = back.boxes[0][k];
    EXPECT_NEAR(a.x, b.x, 1e-6);
    EXPECT_NEAR(a.y, b.y, 1e-6);
    EXPECT_NEAR(a.w, b.w, 1e-6);
    EXPECT_NEAR(a.h, b.h, 1e-6);
    EXPECT_EQ(a.cls, b.cls);
    EXPECT_EQ(a.crowd, b.crowd);
  }
  EXPECT_FLOAT_EQ(back.boxes[0][0].area, 0.25f * 64 * 0.5f * 32);  // written as the box's pixel area
  EXPECT_FLOAT_EQ(back.boxes[0][1].area, 12.0f);
}

TEST(DetectionScenes, AreAPureFunctionOfSeedAndIndex) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed in " << kFashionMnistDir;
  const SceneGenerator a = test_generator(), b = test_generator();
  SceneOptions other_seed;
  other_seed.seed = 2;
  const SceneGenerator c = test_generator(other_seed);
  for (int64_t i : {0, 1, 17, 999}) {
    const Scene x = a.scene(i), y = b.scene(i), z = c.scene(i);
    EXPECT_EQ(x.image.values(), y.image.values()) << i;
    EXPECT_EQ(x.boxes, y.boxes) << i;
    EXPECT_EQ(x.boxes, a.boxes(i)) << "boxes without painting, scene " << i;
    EXPECT_EQ(x.image.values(), a.scene(i).image.values()) << "regenerating scene " << i;
    EXPECT_NE(x.image.values(), z.image.values()) << "seed 2, scene " << i;
  }
  EXPECT_NE(a.scene(0).image.values(), a.scene(1).image.values());
}

TEST(DetectionScenes, BoxesAreExactTightBoxesOfVisibleItems) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed in " << kFashionMnistDir;
  const SceneGenerator gen = test_generator();
  const int s = gen.options().size;
  int64_t total = 0, min_side = s, max_side = 0;
  for (int64_t i = 0; i < 60; ++i) {
    const Scene scene = gen.scene(i);
    const Tensor bg = gen.background(i);
    ASSERT_GE(scene.boxes.size(), 1u);
    ASSERT_LE(scene.boxes.size(), 8u);
    auto differs = [&](int y, int x) {
      for (int c = 0; c < 3; ++c)
        if (scene.image.at(0, c, y, x) != bg.at(0, c, y, x)) return true;
      return false;
    };
    std::vector<char> inside(static_cast<size_t>(s) * s, 0);
    for (const ObjectBox& b : scene.boxes) {
      ++total;
      // Back to pixel edges: exact multiples of 1/s by construction.
      const double x0 = (b.x - b.w / 2) * s, x1 = (b.x + b.w / 2) * s, y0 = (b.y - b.h / 2) * s, y1 = (b.y + b.h / 2) * s;
      const int l = int(std::lround(x0)), r = int(std::lround(x1)) - 1, t = int(std::lround(y0)), bo = int(std::lround(y1)) - 1;
      ASSERT_NEAR(x0, l, 1e-3);
      ASSERT_NEAR(y1, bo + 1, 1e-3);
      ASSERT_GE(l, 0);
      ASSERT_GE(t, 0);
      ASSERT_LT(r, s);
      ASSERT_LT(bo, s);
      ASSERT_GE(b.cls, 0);
      ASSERT_LT(b.cls, 10);
      min_side = std::min<int64_t>(min_side, std::max(r - l + 1, bo - t + 1));
      max_side = std::max<int64_t>(max_side, std::max(r - l + 1, bo - t + 1));
      bool left = false, right = false, top = false, bottom = false;
      for (int y = t; y <= bo; ++y) left |= differs(y, l), right |= differs(y, r);
      for (int x = l; x <= r; ++x) top |= differs(t, x), bottom |= differs(bo, x);
      EXPECT_TRUE(left && right && top && bottom) << "scene " << i << ": a box edge without item pixels";
      for (int y = t; y <= bo; ++y)
        for (int x = l; x <= r; ++x) inside[static_cast<size_t>(y) * s + x]++;
    }
    for (int y = 0; y < s; ++y)
      for (int x = 0; x < s; ++x) {
        ASSERT_LE(inside[static_cast<size_t>(y) * s + x], 1) << "boxes overlap in scene " << i;
        if (!inside[static_cast<size_t>(y) * s + x]) {
          ASSERT_FALSE(differs(y, x)) << "item pixel outside boxes, scene " << i;
        }
      }
  }
  EXPECT_GT(total, 60 * 2);             // on average more than two items per scene
  EXPECT_LE(min_side, 20);              // small items occur ...
  EXPECT_GE(max_side, s / 2 - 16);      // ... and large ones
}

TEST(DetectionScenes, GenerateThousandsPerSecond) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed in " << kFashionMnistDir;
  const SceneGenerator gen = test_generator();
  const int n = 400;
  const auto start = std::chrono::steady_clock::now();
  size_t boxes = 0;
  for (int i = 0; i < n; ++i) boxes += gen.scene(i).boxes.size();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto boxes_start = std::chrono::steady_clock::now();
  size_t boxes_only = 0;
  for (int i = 0; i < n; ++i) boxes_only += gen.boxes(i).size();
  const double boxes_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - boxes_start).count();
  EXPECT_EQ(boxes_only, boxes);
  std::cout << "[ scenes   ] " << n / seconds << " scenes/s (160 px, one thread), " << boxes << " boxes; boxes only: "
            << n / boxes_seconds << " scenes/s\n";
  EXPECT_GT(n / seconds, 300.0);  // loose: shared CI machines
}

TEST(DetectionSourceRoutes, GeneratedFolderReadsBackAsDarknetCocoAndInMemory) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed in " << kFashionMnistDir;
  TempDir tmp;
  const std::string dir = (tmp.path / "scenes").string();
  std::vector<std::string> progress;
  write_scene_folder(dir, 6, 5, SceneOptions{}, kFashionMnistDir, [&](const std::string& l) { progress.push_back(l); });
  for (const char* f : {"obj.data", "obj.names", "train.txt", "val.txt", "annotations/instances_val.json",
                        "annotations/instances_train.json", "images/val/000004.png", "labels/train/000005.txt"})
    EXPECT_TRUE(fs::exists(fs::path(dir) / f)) << f;
  EXPECT_FALSE(fs::exists(dir + ".tmp." + std::to_string(getpid())));
  EXPECT_THROW(write_scene_folder(dir, 1, 1, SceneOptions{}, kFashionMnistDir), Error);  // never over a folder

  const auto darknet = make_detection_source(dir + "/obj.data", false);
  const auto coco = make_detection_source("coco:" + dir + "/annotations/instances_val.json," + dir + "/images/val", false);
  const auto folder = make_detection_source("fashion-mnist-scenes:" + dir, false);
  // The in-memory source's validation split is the same generator (seed 1 -> split seed 3).
  SceneOptions val_options;
  val_options.seed = 3;
  const SceneGenerator memory = test_generator(val_options);
  ASSERT_EQ(darknet->size(), 5);
  ASSERT_EQ(coco->size(), 5);
  ASSERT_EQ(folder->size(), 5);
  EXPECT_EQ(make_detection_source(dir + "/obj.data", true)->size(), 6);
  EXPECT_EQ(darknet->class_names(), memory.class_names());
  EXPECT_EQ(coco->class_names(), memory.class_names());
  EXPECT_EQ(coco->category_ids(), darknet->category_ids());
  for (int64_t i = 0; i < 5; ++i) {
    const Scene scene = memory.scene(i);
    ASSERT_EQ(darknet->boxes(i).size(), scene.boxes.size());
    ASSERT_EQ(coco->boxes(i).size(), scene.boxes.size());
    EXPECT_EQ(coco->image_id(i), i);
    for (size_t k = 0; k < scene.boxes.size(); ++k) {
      for (const ObjectBox& b : {darknet->boxes(i)[k], coco->boxes(i)[k], folder->boxes(i)[k]}) {
        EXPECT_NEAR(b.x, scene.boxes[k].x, 1e-6);
        EXPECT_NEAR(b.y, scene.boxes[k].y, 1e-6);
        EXPECT_NEAR(b.w, scene.boxes[k].w, 1e-6);
        EXPECT_NEAR(b.h, scene.boxes[k].h, 1e-6);
        EXPECT_EQ(b.cls, scene.boxes[k].cls);
      }
    }
    EXPECT_EQ(darknet->image_size(i), (std::pair<int, int>{160, 160}));
    const Tensor png = darknet->load(i);
    ASSERT_EQ(png.shape(), scene.image.shape());
    float worst = 0;
    for (int64_t j = 0; j < png.size(); ++j) worst = std::max(worst, std::abs(png.data()[j] - scene.image.data()[j]));
    EXPECT_LE(worst, 0.5f / 255 + 1e-6f) << "PNG differs from the scene by more than rounding";
  }
  EXPECT_EQ(darknet->missing_labels(), 0);
  fs::remove(fs::path(dir) / "labels/val/000002.txt");
  const auto negatives = make_detection_source(dir + "/obj.data", false);
  EXPECT_EQ(negatives->missing_labels(), 1);
  EXPECT_TRUE(negatives->boxes(2).empty());
  EXPECT_NE(negatives->describe().find("1 without a label file"), std::string::npos) << negatives->describe();
}

TEST(DetectionSourceRoutes, CocoJsonIsReadByPycocotools) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed in " << kFashionMnistDir;
  const fs::path python = fs::path(CSPNET_SOURCE_DIR) / ".venv/bin/python";
  if (!fs::exists(python)) GTEST_SKIP() << "no " << python << " (scripts/install-deps.sh makes it)";
  if (std::system(("'" + python.string() + "' -c 'import pycocotools' 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "pycocotools not installed in " << python;
  TempDir tmp;
  const std::string dir = (tmp.path / "s").string();
  write_scene_folder(dir, 0, 7, SceneOptions{}, kFashionMnistDir);
  const auto source = make_detection_source(dir + "/obj.data", false);
  // pycocotools' own view: per image, the annotation count and the sum of bbox areas.
  const std::string out = (tmp.path / "coco.txt").string();
  const std::string script = "from pycocotools.coco import COCO\nimport sys\nc=COCO(sys.argv[1])\nf=open(sys.argv[2],'w')\n"
                             "for i in sorted(c.getImgIds()):\n a=c.loadAnns(c.getAnnIds(imgIds=[i]))\n"
                             " print(i, len(a), sum(x['bbox'][2]*x['bbox'][3] for x in a), len(c.getCatIds()), file=f)\n";
  const std::string script_path = tmp.write("read.py", script);
  ASSERT_EQ(std::system(("'" + python.string() + "' " + script_path + " " + dir + "/annotations/instances_val.json " +
                         out + " >/dev/null 2>&1").c_str()), 0);
  std::ifstream in(out);
  int64_t id = 0, count = 0, cats = 0, rows = 0;
  double area = 0;
  while (in >> id >> count >> area >> cats) {
    ASSERT_LT(id, source->size());
    EXPECT_EQ(cats, 10);
    EXPECT_EQ(count, static_cast<int64_t>(source->boxes(id).size()));
    double mine = 0;
    for (const ObjectBox& b : source->boxes(id)) mine += double(b.w) * 160 * double(b.h) * 160;
    EXPECT_NEAR(area, mine, 1e-2);
    ++rows;
  }
  EXPECT_EQ(rows, 7);
}
