// The training data pipeline: data sources (in memory, image folder, darknet
// list), augmentation, and the batch loader's determinism (seed, thread
// count, seek), label smoothing and mixing, and error reporting.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "cspnet/augment.hpp"
#include "cspnet/batch_loader.hpp"
#include "cspnet/data_source.hpp"
#include "cspnet/error.hpp"
#include "cspnet/image.hpp"
#include "test_helpers.hpp"

namespace fs = std::filesystem;
using namespace cspnet;

namespace {

// A temporary directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "cspnet_data_XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

// An RGB image whose pixel (k, y, x) is (k * 50 + y * 10 + x + seed) / 255.
Tensor pattern_image(int height, int width, int seed) {
  Tensor image(Shape{1, 3, height, width});
  for (int k = 0; k < 3; ++k)
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) image.at(0, k, y, x) = float(k * 50 + y * 10 + x + seed) / 255.f;
  return image;
}

void write_png(const std::string& path, const Tensor& image) {
  fs::create_directories(fs::path(path).parent_path());
  save_png(path, image);
}

// N grey images of H x W; image i is constant (i + 1) / (N + 1) except
// pixel (0, 0), and labels are i % classes.
std::shared_ptr<InMemoryDataSource> synthetic_source(int count, int classes, int height = 6, int width = 5) {
  ImageDataset data;
  data.images = Tensor(Shape{count, 1, height, width});
  for (int i = 0; i < count; ++i) {
    for (int p = 0; p < height * width; ++p)
      data.images.data()[i * height * width + p] = float(i + 1) / float(count + 1);
    data.images.at(i, 0, 0, 0) = 1.f;
    data.labels.push_back(i % classes);
  }
  data.classes = classes;
  for (int c = 0; c < classes; ++c) data.class_names.push_back("class" + std::to_string(c));
  return std::make_shared<InMemoryDataSource>(std::move(data), 1, height, width, "synthetic");
}

void expect_same_batch(const Batch& a, const Batch& b, const std::string& what) {
  EXPECT_EQ(a.epoch, b.epoch) << what;
  EXPECT_EQ(a.index, b.index) << what;
  EXPECT_EQ(a.images.shape(), b.images.shape()) << what;
  EXPECT_TRUE(a.images.values() == b.images.values()) << what << ": images differ";
  EXPECT_TRUE(a.targets == b.targets) << what << ": targets differ";
  EXPECT_TRUE(a.labels == b.labels) << what << ": labels differ";
}

BatchLoaderOptions augmenting_options(uint64_t seed, int threads) {
  BatchLoaderOptions options;
  options.batch = 8;
  options.seed = seed;
  options.threads = threads;
  options.augment.translate = 2;
  options.augment.flip = true;
  options.augment.angle = 10;
  options.augment.exposure = 1.5f;
  options.augment.mixup = true;
  options.augment.cutmix = true;
  options.label_smooth_eps = 0.1f;
  return options;
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

}  // namespace

// ---------------------------------------------------------------- loader determinism

TEST(BatchLoader, SameSeedGivesSameBatchesForAnyThreadCount) {
  auto source = synthetic_source(44, 4);
  BatchLoader inline_loader(source, augmenting_options(7, 0));
  BatchLoader one_worker(source, augmenting_options(7, 1));
  BatchLoader three_workers(source, augmenting_options(7, 3));
  ASSERT_EQ(inline_loader.batches_per_epoch(), 5);  // 44 / 8, the last 4 dropped
  for (int step = 0; step < 12; ++step) {           // across two epoch boundaries
    Batch expected = inline_loader.next();
    EXPECT_EQ(expected.epoch, step / 5);
    EXPECT_EQ(expected.index, step % 5);
    expect_same_batch(expected, one_worker.next(), "1 worker, step " + std::to_string(step));
    expect_same_batch(expected, three_workers.next(), "3 workers, step " + std::to_string(step));
  }
}

TEST(BatchLoader, DifferentSeedsGiveDifferentBatches) {
  auto source = synthetic_source(44, 4);
  BatchLoader a(source, augmenting_options(1, 1));
  BatchLoader b(source, augmenting_options(2, 1));
  Batch first = a.next(), second = b.next();
  EXPECT_FALSE(first.images.values() == second.images.values());
  EXPECT_FALSE(first.targets == second.targets);
}

TEST(BatchLoader, SeekReproducesTheBatchOfThatEpochAndIndex) {
  auto source = synthetic_source(44, 4);
  BatchLoader loader(source, augmenting_options(5, 2));
  std::vector<Batch> straight;
  for (int step = 0; step < 9; ++step) straight.push_back(loader.next());
  loader.seek(1, 2);  // step 7
  expect_same_batch(straight[7], loader.next(), "after seek(1, 2)");
  expect_same_batch(straight[8], loader.next(), "the batch after it");
  loader.seek(0, 0);
  expect_same_batch(straight[0], loader.next(), "after seek(0, 0)");
  expect_same_batch(straight[3], loader.prepare(0, 3), "prepare(0, 3)");
  EXPECT_NE(error_of([&] { loader.seek(0, 5); }).find("outside 0..4"), std::string::npos);
}

TEST(BatchLoader, EachEpochVisitsEveryImageOnceInADifferentOrder) {
  auto source = synthetic_source(20, 4);
  BatchLoaderOptions options;
  options.batch = 6;
  options.drop_last = false;
  options.seed = 3;
  options.threads = 2;
  BatchLoader loader(source, options);
  ASSERT_EQ(loader.batches_per_epoch(), 4);
  std::vector<std::vector<float>> orders(2);
  for (int step = 0; step < 8; ++step) {
    Batch batch = loader.next();
    EXPECT_EQ(batch.rows(), batch.index == 3 ? 2 : 6);
    for (int r = 0; r < batch.rows(); ++r) orders[size_t(batch.epoch)].push_back(batch.images.at(r, 0, 1, 1));
  }
  EXPECT_NE(orders[0], orders[1]);
  for (auto& order : orders) {
    std::sort(order.begin(), order.end());
    for (int i = 0; i < 20; ++i) EXPECT_FLOAT_EQ(order[size_t(i)], float(i + 1) / 21.f);
  }
}

TEST(BatchLoader, WithoutShuffleDeliversTheSourceInOrder) {
  auto source = synthetic_source(10, 3);
  BatchLoaderOptions options;
  options.batch = 4;
  options.shuffle = false;
  options.drop_last = false;
  BatchLoader loader(source, options);
  int image = 0;
  for (int b = 0; b < 3; ++b) {
    Batch batch = loader.next();
    for (int r = 0; r < batch.rows(); ++r, ++image) {
      EXPECT_FLOAT_EQ(batch.images.at(r, 0, 2, 2), float(image + 1) / 11.f);
      EXPECT_EQ(batch.labels[size_t(r)], image % 3);
    }
  }
  EXPECT_EQ(image, 10);
  BatchLoaderStats stats = loader.stats();
  EXPECT_EQ(stats.batches, 3);
  EXPECT_EQ(stats.images, 10);
  EXPECT_GE(stats.wait_seconds, 0.0);
  EXPECT_NE(describe_data_wait(stats, 1.0).find("over 3 batches"), std::string::npos);
}

// ---------------------------------------------------------------- targets

TEST(BatchLoader, LabelSmoothingGivesOneMinusEpsPlusEpsOverClassesRows) {
  auto source = synthetic_source(16, 4);
  BatchLoaderOptions options;
  options.batch = 8;
  options.classes = 5;  // one spare network output
  options.label_smooth_eps = 0.1f;
  options.threads = 1;
  BatchLoader loader(source, options);
  Batch batch = loader.next();
  ASSERT_EQ(batch.targets.size(), 8u * 5u);
  for (int r = 0; r < 8; ++r) {
    float sum = 0;
    for (int c = 0; c < 5; ++c) {
      const float expected = c == batch.labels[size_t(r)] ? 0.9f + 0.02f : 0.02f;
      EXPECT_NEAR(batch.targets[size_t(r * 5 + c)], expected, 1e-6f) << "row " << r << " class " << c;
      sum += batch.targets[size_t(r * 5 + c)];
    }
    EXPECT_NEAR(sum, 1.f, 1e-6f);
  }
}

// Each image of the synthetic source is constant (but for pixel (0,0)) with a
// value that identifies it, and its own label; a mixed row must be the
// convex combination its target row says.
TEST(BatchLoader, MixupRowsAreConvexCombinationsMatchingTheirTargets) {
  auto source = synthetic_source(32, 32);
  BatchLoaderOptions options;
  options.batch = 16;
  options.augment.mixup = true;
  options.threads = 2;
  BatchLoader loader(source, options);
  for (int step = 0; step < 2; ++step) {
    Batch batch = loader.next();
    for (int r = 0; r < batch.rows(); ++r) {
      const float* row = batch.targets.data() + r * 32;
      float sum = 0, mixed = 0, weight_of_label = row[batch.labels[size_t(r)]];
      int nonzero = 0;
      for (int c = 0; c < 32; ++c) {
        sum += row[c];
        mixed += row[c] * float(c + 1) / 33.f;  // label c is image c's value
        nonzero += row[c] > 0;
      }
      EXPECT_NEAR(sum, 1.f, 1e-6f);
      EXPECT_LE(nonzero, 2);
      EXPECT_GE(weight_of_label, 0.5f - 1e-6f) << "the hard label is the dominant one";
      EXPECT_NEAR(batch.images.at(r, 0, 3, 2), mixed, 1e-5f) << "row " << r;
    }
  }
}

TEST(BatchLoader, CutmixPastesABoxAndMixesTargetsByItsArea) {
  auto source = synthetic_source(32, 32, 8, 8);
  BatchLoaderOptions options;
  options.batch = 16;
  options.augment.cutmix = true;
  options.threads = 1;
  BatchLoader loader(source, options);
  Batch batch = loader.next();
  int pasted_rows = 0;
  for (int r = 0; r < batch.rows(); ++r) {
    const float* row = batch.targets.data() + r * 32;
    std::map<float, int> pixels_by_value;  // pixel (0,0) excluded: it is 1 everywhere
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x)
        if (y || x) ++pixels_by_value[batch.images.at(r, 0, y, x)];
    float sum = 0;
    for (int c = 0; c < 32; ++c) sum += row[c];
    EXPECT_NEAR(sum, 1.f, 1e-6f);
    ASSERT_LE(pixels_by_value.size(), 2u);
    // Every pixel keeps a source value; their shares are the target weights
    // (within the one pixel (0,0) that may lie in the box).
    for (auto [value, count] : pixels_by_value) {
      const int label = int(std::lround(value * 33.f)) - 1;
      ASSERT_GE(label, 0);
      EXPECT_NEAR(row[label], float(count) / 64.f, 1.f / 64.f + 1e-6f) << "row " << r;
    }
    pasted_rows += pixels_by_value.size() == 2;
  }
  EXPECT_GT(pasted_rows, 0);
}

// ---------------------------------------------------------------- augmentation

TEST(Augment, FlipMirrorsEachRowAndTranslateShiftsWithZeroFill) {
  Tensor image = pattern_image(3, 4, 1);
  Tensor flipped = image;
  AugmentParams flip;
  flip.flip = true;
  apply_augment(flip, flipped.data(), 3, 3, 4);
  for (int k = 0; k < 3; ++k)
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 4; ++x) EXPECT_EQ(flipped.at(0, k, y, x), image.at(0, k, y, 3 - x));

  Tensor shifted = image;
  AugmentParams shift;
  shift.shift_x = 1;
  shift.shift_y = -1;
  apply_augment(shift, shifted.data(), 3, 3, 4);
  for (int k = 0; k < 3; ++k)
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 4; ++x) {
        const int sx = x - 1, sy = y + 1;
        const float expected = sx >= 0 && sy < 3 ? image.at(0, k, sy, sx) : 0.f;
        EXPECT_EQ(shifted.at(0, k, y, x), expected) << k << "," << y << "," << x;
      }
}

TEST(Augment, DrawsCoverTheirRangesAndDependOnlyOnTheKey) {
  AugmentOptions options;
  options.translate = 2;
  options.flip = true;
  options.angle = 15;
  std::set<int> shifts;
  int flips = 0;
  for (uint64_t key = 0; key < 400; ++key) {
    const AugmentParams params = draw_augment_params(options, key);
    shifts.insert(params.shift_x);
    shifts.insert(params.shift_y);
    flips += params.flip;
    EXPECT_LE(std::abs(params.angle_degrees), 15.f);
    EXPECT_EQ(params.saturation_scale, 1.f);
    const AugmentParams again = draw_augment_params(options, key);
    EXPECT_EQ(again.shift_x, params.shift_x);
    EXPECT_EQ(again.angle_degrees, params.angle_degrees);
  }
  EXPECT_EQ(shifts, (std::set<int>{-2, -1, 0, 1, 2}));
  EXPECT_GT(flips, 150);
  EXPECT_LT(flips, 250);
  // Turning flip off does not change the other draws.
  AugmentOptions no_flip = options;
  no_flip.flip = false;
  EXPECT_EQ(draw_augment_params(no_flip, 9).shift_x, draw_augment_params(options, 9).shift_x);
}

TEST(Augment, RotationBy180DegreesIsAPointReflection) {
  Tensor image = pattern_image(5, 4, 0);
  Tensor rotated = image;
  AugmentParams params;
  params.angle_degrees = 180.f;
  apply_augment(params, rotated.data(), 3, 5, 4);
  for (int k = 0; k < 3; ++k)
    for (int y = 0; y < 5; ++y)
      for (int x = 0; x < 4; ++x) EXPECT_NEAR(rotated.at(0, k, y, x), image.at(0, k, 4 - y, 3 - x), 1e-5f);
}

TEST(Augment, HueExposureAndSaturationActInHsv) {
  auto pixel = [](float r, float g, float b, AugmentParams params) {
    std::vector<float> rgb = {r, g, b};
    apply_augment(params, rgb.data(), 3, 1, 1);
    return rgb;
  };
  AugmentParams hue;
  hue.hue_shift = 1.f / 3.f;  // red -> green
  auto green = pixel(1.f, 0.f, 0.f, hue);
  EXPECT_NEAR(green[0], 0.f, 1e-5f);
  EXPECT_NEAR(green[1], 1.f, 1e-5f);
  EXPECT_NEAR(green[2], 0.f, 1e-5f);
  AugmentParams darker;
  darker.exposure_scale = 0.5f;
  auto dark = pixel(0.8f, 0.4f, 0.2f, darker);
  EXPECT_NEAR(dark[0], 0.4f, 1e-5f);
  EXPECT_NEAR(dark[1], 0.2f, 1e-5f);
  EXPECT_NEAR(dark[2], 0.1f, 1e-5f);
  AugmentParams grey;
  grey.saturation_scale = 0.f;
  auto flat = pixel(0.8f, 0.4f, 0.2f, grey);
  EXPECT_NEAR(flat[0], 0.8f, 1e-5f);
  EXPECT_NEAR(flat[1], 0.8f, 1e-5f);
  EXPECT_NEAR(flat[2], 0.8f, 1e-5f);
  // A grey image: exposure scales (and clamps) the value, hue does nothing.
  AugmentParams brighter;
  brighter.exposure_scale = 2.f;
  brighter.hue_shift = 0.3f;
  std::vector<float> values = {0.2f, 0.7f};
  apply_augment(brighter, values.data(), 1, 1, 2);
  EXPECT_NEAR(values[0], 0.4f, 1e-6f);
  EXPECT_EQ(values[1], 1.f);
}

AugmentOptions parse_augment(const std::map<std::string, std::string>& keys) {
  const cspnet::CfgSection section = cspnet::tests::net_section(keys);
  cspnet::Options net(section, "m.cfg");
  return parse_augment_options(net);
}

TEST(Augment, ParsesDarknetNetKeysWithDarknetDefaults) {
  AugmentOptions defaults = parse_augment({});
  EXPECT_TRUE(defaults.flip);  // darknet flips unless flip=0
  EXPECT_EQ(defaults.translate, 0);
  EXPECT_FALSE(defaults.mixup);
  AugmentOptions options = parse_augment({{"flip", "0"},
                                          {"angle", "7.5"},
                                          {"saturation", "1.5"},
                                          {"exposure", "1.5"},
                                          {"hue", ".1"},
                                          {"mixup", "1"},
                                          {"cutmix", "1"},
                                          {"translate", "3"},
                                          {"learning_rate", "0.1"}});
  EXPECT_FALSE(options.flip);
  EXPECT_EQ(options.angle, 7.5f);
  EXPECT_EQ(options.saturation, 1.5f);
  EXPECT_EQ(options.exposure, 1.5f);
  EXPECT_FLOAT_EQ(options.hue, 0.1f);
  EXPECT_TRUE(options.mixup && options.cutmix);
  EXPECT_EQ(options.translate, 3);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"flip", "2"},  {"angle", "abc"},    {"angle", "200"},     {"saturation", "0"}, {"exposure", "-1"},
      {"hue", "1.5"}, {"translate", "-1"}, {"translate", "2.5"}, {"mixup", "yes"}};
  for (const auto& [key, value] : bad) {
    // Init-captures: clang 14 (scripts/tsan.sh) cannot capture a structured binding.
    const std::string message = error_of([&k = key, &v = value] { parse_augment({{k, v}}); });
    // The one key sits on line 2 of the section net_section() builds.
    EXPECT_NE(message.find("m.cfg:2: [net] key '" + key + "': expected"), std::string::npos) << message;
    EXPECT_NE(message.find("got '" + value + "'"), std::string::npos) << message;
  }
}

// ---------------------------------------------------------------- sources

TEST(DataSource, InMemoryResizesAndReplicatesGreyForRgbNetworks) {
  auto source = synthetic_source(3, 2, 6, 5);
  std::vector<float> same(30);
  int label = -1;
  source->load(1, same.data(), &label);
  EXPECT_EQ(label, 1);
  EXPECT_EQ(same[0], 1.f);
  EXPECT_FLOAT_EQ(same[7], 0.5f);

  ImageDataset data;
  data.images = Tensor(Shape{1, 1, 2, 2});
  data.images.values() = {0.f, 1.f, 1.f, 0.f};
  data.labels = {0};
  data.classes = 1;
  data.class_names = {"only"};
  InMemoryDataSource rgb(std::move(data), 3, 3, 3, "tiny");
  std::vector<float> out(27);
  rgb.load(0, out.data(), &label);
  EXPECT_FLOAT_EQ(out[4], 0.5f);  // the centre of the bilinear 3x3
  for (int k = 1; k < 3; ++k)
    for (int p = 0; p < 9; ++p) EXPECT_EQ(out[size_t(k * 9 + p)], out[size_t(p)]);
  EXPECT_NE(error_of([&] { rgb.load(1, out.data(), &label); }).find("image index 1 is outside 0..0"),
            std::string::npos);
}

TEST(DataSource, InMemoryRejectsLabelsOutOfRange) {
  ImageDataset data;
  data.images = Tensor(Shape{2, 1, 2, 2});
  data.labels = {0, 3};
  data.classes = 2;
  data.class_names = {"a", "b"};
  EXPECT_NE(error_of([&] { InMemoryDataSource(std::move(data), 1, 2, 2, "bad"); }).find("image 1 has label 3"),
            std::string::npos);
  auto source = synthetic_source(8, 4);
  BatchLoaderOptions options;
  options.classes = 3;
  EXPECT_NE(
      error_of([&] { BatchLoader loader(source, options); }).find("the data has 4 classes but the targets have 3"),
      std::string::npos);
}

TEST(DataSource, ImageFolderUsesSortedClassFoldersAndDecodesLazily) {
  TempDir dir;
  write_png(dir / "b_cat/one.png", pattern_image(4, 6, 0));
  write_png(dir / "b_cat/nested/two.PNG", pattern_image(4, 6, 1));
  write_png(dir / "a_dog/three.png", pattern_image(4, 6, 2));
  write_text(dir / "a_dog/notes.txt", "not an image");
  write_png(dir / ".hidden/four.png", pattern_image(4, 6, 3));
  ImageFolderDataSource source(dir.path().string(), 3, 4, 6);
  EXPECT_EQ(source.class_names(), (std::vector<std::string>{"a_dog", "b_cat"}));
  ASSERT_EQ(source.size(), 3);
  EXPECT_EQ(source.label(0), 0);
  EXPECT_EQ(source.label(1), 1);
  EXPECT_EQ(source.label(2), 1);
  std::vector<float> out(3 * 4 * 6);
  int label = -1;
  source.load(2, out.data(), &label);  // b_cat/one.png (sorted after b_cat/nested/two.PNG)
  const Tensor expected = pattern_image(4, 6, 0);
  for (size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i], expected.data()[i], 0.5f / 255.f);

  ImageFolderDataSource grey(dir.path().string(), 1, 8, 12);
  std::vector<float> small(8 * 12);
  grey.load(0, small.data(), &label);
  EXPECT_EQ(label, 0);
  EXPECT_NEAR(small[0], (0.f + 50.f + 100.f + 6.f) / 3.f / 255.f, 1e-3f);  // pixel (0,0): mean of R, G, B
}

TEST(DataSource, ImageFolderErrorsNameTheFolder) {
  TempDir dir;
  EXPECT_NE(error_of([&] { ImageFolderDataSource(dir.path().string(), 3, 4, 4); }).find("no class folders"),
            std::string::npos);
  fs::create_directories(dir.path() / "empty_class");
  write_png(dir / "full/a.png", pattern_image(2, 2, 0));
  EXPECT_NE(error_of([&] {
              ImageFolderDataSource(dir.path().string(), 3, 4, 4);
            }).find("empty_class: class folder without images"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ImageFolderDataSource(dir / "missing", 3, 4, 4); }).find("missing: image folder not found"),
            std::string::npos);
}

TEST(DataSource, CorruptImageIsAnErrorNamingTheFileFromTheLoader) {
  TempDir dir;
  for (int i = 0; i < 4; ++i) write_png(dir / ("good/" + std::to_string(i) + ".png"), pattern_image(3, 3, i));
  write_text(dir / "good/z_broken.png", "\x89PNG\r\n\x1a\n this is not a png");
  ImageFolderDataSource source(dir.path().string(), 3, 3, 3);
  std::vector<float> out(27);
  int label = 0;
  EXPECT_NE(error_of([&] { source.load(4, out.data(), &label); }).find("z_broken.png: cannot decode image"),
            std::string::npos);
  BatchLoaderOptions options;
  options.batch = 5;
  options.threads = 2;
  auto shared = std::make_shared<ImageFolderDataSource>(dir.path().string(), 3, 3, 3);
  BatchLoader loader(shared, options);
  const std::string message = error_of([&] { loader.next(); });
  EXPECT_NE(message.find("z_broken.png"), std::string::npos) << message;
  EXPECT_NE(message.find("batch 0 of epoch 0"), std::string::npos) << message;
}

TEST(DataSource, ListFileLabelsAnImageByTheClassNameInItsPath) {
  TempDir dir;
  write_png(dir / "img/cat_1.png", pattern_image(2, 2, 0));
  write_png(dir / "img/dog_1.png", pattern_image(2, 2, 1));
  write_png(dir / "img/dog_2.png", pattern_image(2, 2, 2));
  write_text(dir / "labels.txt", "dog\n  cat \n\n");
  write_text(dir / "train.txt",
             dir / "img/cat_1.png" + "\n\n" + dir / "img/dog_1.png" + "\n" + dir / "img/dog_2.png" + "\n");
  ImageListDataSource source(dir / "train.txt", dir / "labels.txt", 3, 2, 2);
  EXPECT_EQ(source.class_names(), (std::vector<std::string>{"dog", "cat"}));
  ASSERT_EQ(source.size(), 3);
  EXPECT_EQ(source.label(0), 1);
  EXPECT_EQ(source.label(1), 0);
  std::vector<float> out(12);
  int label = -1;
  source.load(2, out.data(), &label);
  EXPECT_EQ(label, 0);
  EXPECT_NEAR(out[0], 2.f / 255.f, 1e-6f);

  write_text(dir / "ambiguous_labels.txt", "cat\nbobcat\n");
  write_text(dir / "ambiguous.txt", "img/cat_1.png\nimg/bobcat_1.png\n");
  const std::string ambiguous =
      error_of([&] { ImageListDataSource(dir / "ambiguous.txt", dir / "ambiguous_labels.txt", 3, 2, 2); });
  EXPECT_NE(ambiguous.find("ambiguous.txt:2: 'img/bobcat_1.png' contains 2 class names"), std::string::npos)
      << ambiguous;
  write_text(dir / "unlabelled.txt", "img/cat_1.png\n\nimg/cow.png\n");
  const std::string unlabelled =
      error_of([&] { ImageListDataSource(dir / "unlabelled.txt", dir / "labels.txt", 3, 2, 2); });
  EXPECT_NE(unlabelled.find("unlabelled.txt:3: 'img/cow.png' contains none of the 2 class names"), std::string::npos)
      << unlabelled;
  write_text(dir / "twice.txt", "cat\ndog\ncat\n");
  EXPECT_NE(error_of([&] {
              ImageListDataSource(dir / "train.txt", dir / "twice.txt", 3, 2, 2);
            }).find("twice.txt:3: class name 'cat' appears twice"),
            std::string::npos);
}

TEST(DataSource, SpecsSelectFoldersListsAndSplits) {
  TempDir dir;
  write_png(dir / "set/train/apple/1.png", pattern_image(2, 2, 0));
  write_png(dir / "set/train/berry/1.png", pattern_image(2, 2, 1));
  write_png(dir / "set/val/berry/2.png", pattern_image(2, 2, 2));
  auto train = make_data_source(dir / "set", true, 3, 2, 2);
  auto test = make_data_source(dir / "set", false, 3, 2, 2);
  EXPECT_EQ(train->size(), 2);
  ASSERT_EQ(test->size(), 1);
  EXPECT_EQ(test->class_names(), (std::vector<std::string>{"apple", "berry"}));
  EXPECT_EQ(test->label(0), 1);  // labelled with the training split's classes
  EXPECT_EQ(make_data_source(dir / "set/train", false, 3, 2, 2)->size(), 2);  // one folder for both

  write_text(dir / "labels.txt", "apple\nberry\n");
  write_text(dir / "train.txt", dir / "set/train/apple/1.png" + "\n" + dir / "set/train/berry/1.png" + "\n");
  write_text(dir / "test.txt", dir / "set/val/berry/2.png" + "\n");
  const std::string lists = "list:" + dir / "train.txt" + "," + dir / "test.txt" + "," + dir / "labels.txt";
  EXPECT_EQ(make_data_source(lists, true, 3, 2, 2)->size(), 2);
  EXPECT_EQ(make_data_source(lists, false, 3, 2, 2)->size(), 1);
  EXPECT_EQ(make_data_source("list:" + dir / "train.txt" + "," + dir / "labels.txt", false, 3, 2, 2)->size(), 2);
  EXPECT_NE(error_of([&] { make_data_source("list:only.txt", true, 3, 2, 2); }).find("expected list:"),
            std::string::npos);
  EXPECT_NE(error_of([&] { make_data_source(dir / "nowhere", true, 3, 2, 2); }).find("not a folder nor a known"),
            std::string::npos);
  EXPECT_NE(error_of([&] { make_data_source(dir / "set", true, 4, 2, 2); }).find("1 (grey) or 3 (RGB)"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              make_data_source("fashion-mnist:" + dir / "set", true, 1, 28, 28);
            }).find("Fashion-MNIST training images not found"),
            std::string::npos);
}

TEST(DataSource, FashionMnistFromDebianAtNetworkSizes) {
  if (!fs::exists(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz"))
    GTEST_SKIP() << kFashionMnistDir << " is absent (Debian package dataset-fashion-mnist)";
  auto native = make_data_source("fashion-mnist", false, 1, 28, 28);
  ASSERT_EQ(native->size(), 10000);
  EXPECT_EQ(native->classes(), 10);
  EXPECT_EQ(native->class_names()[9], "Ankle boot");
  const ImageDataset raw = load_fashion_mnist(kFashionMnistDir, false);
  std::vector<float> image(28 * 28);
  int label = -1;
  native->load(123, image.data(), &label);
  EXPECT_EQ(label, raw.labels[123]);
  EXPECT_TRUE(std::equal(image.begin(), image.end(), raw.images.data() + 123 * 28 * 28));

  auto rgb = make_data_source("fashion-mnist", false, 3, 32, 32);
  std::vector<float> big(3 * 32 * 32);
  rgb->load(123, big.data(), &label);
  EXPECT_EQ(label, raw.labels[123]);
  EXPECT_TRUE(std::equal(big.begin(), big.begin() + 1024, big.begin() + 1024));
  EXPECT_TRUE(std::equal(big.begin(), big.begin() + 1024, big.begin() + 2048));
  EXPECT_GT(*std::max_element(big.begin(), big.end()), 0.5f);

  BatchLoaderOptions options;
  options.batch = 64;
  options.threads = 2;
  options.augment.translate = 2;
  options.augment.flip = true;
  BatchLoader loader(std::shared_ptr<DataSource>(std::move(native)), options);
  EXPECT_EQ(loader.batches_per_epoch(), 156);
  Batch batch = loader.next();
  EXPECT_EQ(batch.images.shape(), (Shape{64, 1, 28, 28}));
}
