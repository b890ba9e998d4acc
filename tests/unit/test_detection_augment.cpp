// Detection augmentation: the boxes must move with the image. Source images
// hold solid rectangles exactly at their boxes; after augmenting, every
// box's edges must match the edges of its rectangle in the output image (to
// a pixel), and every clearly visible rectangle must have a box.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cspnet/cfg.hpp"
#include "cspnet/detection_augment.hpp"
#include "cspnet/image.hpp"
#include "cspnet/network.hpp"
#include "detect/crop_window.hpp"
#include "train/net_training_keys.hpp"
#include "test_helpers.hpp"

namespace {

using cspnet::AugmentedSample;
using cspnet::AugmentInput;
using cspnet::DetectionAugmentOptions;
using cspnet::ObjectBox;
using cspnet::SampleKind;
using cspnet::Tensor;
using cspnet::tests::expect_error_mentioning;

struct PixelRect {
  int left, top, width, height;
};

// A black width x height RGB image with a solid rectangle per object in the
// primary colour of channel cls % 3, and the matching boxes.
AugmentInput painted(int width, int height, const std::vector<std::pair<PixelRect, int>>& objects) {
  AugmentInput input{Tensor(cspnet::Shape{1, 3, height, width}, 0.f), {}};
  for (const auto& [rect, cls] : objects) {
    for (int y = rect.top; y < rect.top + rect.height; ++y)
      for (int x = rect.left; x < rect.left + rect.width; ++x) input.image.at(0, cls % 3, y, x) = 1.f;
    ObjectBox box;
    box.x = (float(rect.left) + float(rect.width) / 2) / float(width);
    box.y = (float(rect.top) + float(rect.height) / 2) / float(height);
    box.w = float(rect.width) / float(width);
    box.h = float(rect.height) / float(height);
    box.cls = cls;
    input.boxes.push_back(box);
  }
  return input;
}

// Nine well separated rectangles of several sizes and aspect ratios, some at
// the image's edges (about 12% of the area, so the mean colour stays dark).
AugmentInput scene(int cls_offset = 0, int channel_class = -1) {
  std::vector<std::pair<PixelRect, int>> objects = {
      {{0, 0, 30, 24}, 0},     {{60, 8, 20, 40}, 1},    {{120, 0, 40, 16}, 2},
      {{10, 70, 16, 16}, 1},   {{70, 66, 36, 28}, 2},   {{150, 60, 50, 20}, 0},
      {{0, 130, 44, 30}, 2},   {{80, 124, 22, 36}, 0},  {{140, 120, 24, 24}, 1}};
  for (auto& object : objects) object.second = channel_class >= 0 ? channel_class : object.second + cls_offset;
  return painted(200, 160, objects);
}

// Whether output pixel (x, y) shows an object of class `cls`: its colour
// channel above `threshold` (by channel), or any channel above it when
// `by_brightness` (colour augmentation moves the hue).
struct Membership {
  float threshold = 0.5f;
  bool by_brightness = false;
  bool operator()(const Tensor& image, int x, int y, int cls) const {
    const auto& s = image.shape();
    if (x < 0 || y < 0 || x >= s.w || y >= s.h) return false;
    if (by_brightness || s.c == 1) {
      float v = 0.f;
      for (int64_t k = 0; k < s.c; ++k) v = std::max(v, image.at(0, k, y, x));
      return v > threshold;
    }
    return image.at(0, cls % 3, y, x) > threshold;
  }
};

// The box's edges, in output pixels, against the run of object pixels through
// its centre, along the row and the column.
void expect_box_on_its_rectangle(const Tensor& image, const ObjectBox& box, const Membership& member,
                                 const std::string& where) {
  const int width = int(image.shape().w), height = int(image.shape().h);
  const float left = (box.x - box.w / 2) * float(width), right = (box.x + box.w / 2) * float(width);
  const float top = (box.y - box.h / 2) * float(height), bottom = (box.y + box.h / 2) * float(height);
  const int cx = std::clamp(int(box.x * float(width)), 0, width - 1);
  const int cy = std::clamp(int(box.y * float(height)), 0, height - 1);
  ASSERT_TRUE(member(image, cx, cy, box.cls)) << where << ": no object pixel at the centre of box class " << box.cls
                                               << " at " << cx << "," << cy;
  int first_x = cx, last_x = cx, first_y = cy, last_y = cy;
  while (member(image, first_x - 1, cy, box.cls)) --first_x;
  while (member(image, last_x + 1, cy, box.cls)) ++last_x;
  while (member(image, cx, first_y - 1, box.cls)) --first_y;
  while (member(image, cx, last_y + 1, box.cls)) ++last_y;
  EXPECT_NEAR(float(first_x), left, 1.f) << where << ": left edge, box at " << cx << "," << cy;
  EXPECT_NEAR(float(last_x + 1), right, 1.f) << where << ": right edge, box at " << cx << "," << cy;
  EXPECT_NEAR(float(first_y), top, 1.f) << where << ": top edge, box at " << cx << "," << cy;
  EXPECT_NEAR(float(last_y + 1), bottom, 1.f) << where << ": bottom edge, box at " << cx << "," << cy;
}

// Every pixel well inside an object (its four neighbours are object pixels
// too) lies in a box of a class drawn in that channel: no visible object
// lost its box.
void expect_every_object_boxed(const Tensor& image, const std::vector<ObjectBox>& boxes, const Membership& member,
                               const std::vector<int>& classes, const std::string& where) {
  const int width = int(image.shape().w), height = int(image.shape().h);
  int missing = 0;
  for (int cls : classes)
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) {
        if (!member(image, x, y, cls) || !member(image, x - 1, y, cls) || !member(image, x + 1, y, cls) ||
            !member(image, x, y - 1, cls) || !member(image, x, y + 1, cls))
          continue;
        const bool boxed = std::any_of(boxes.begin(), boxes.end(), [&](const ObjectBox& b) {
          const bool same = member.by_brightness || image.shape().c == 1 || b.cls % 3 == cls % 3;
          return same && float(x) + 0.5f >= (b.x - b.w / 2) * float(width) - 1 &&
                 float(x) + 0.5f <= (b.x + b.w / 2) * float(width) + 1 &&
                 float(y) + 0.5f >= (b.y - b.h / 2) * float(height) - 1 &&
                 float(y) + 0.5f <= (b.y + b.h / 2) * float(height) + 1;
        });
        if (!boxed && ++missing <= 3) ADD_FAILURE() << where << ": object pixel " << x << "," << y << " has no box";
      }
}

void expect_boxes_match_image(const AugmentedSample& sample, const Membership& member, const std::string& where) {
  for (const ObjectBox& box : sample.boxes) {
    EXPECT_GE(box.x - box.w / 2, -1e-6f) << where;
    EXPECT_LE(box.x + box.w / 2, 1 + 1e-6f) << where;
    EXPECT_GE(box.y - box.h / 2, -1e-6f) << where;
    EXPECT_LE(box.y + box.h / 2, 1 + 1e-6f) << where;
    expect_box_on_its_rectangle(sample.image, box, member, where);
  }
  expect_every_object_boxed(sample.image, sample.boxes, member, {0, 1, 2}, where);
}

DetectionAugmentOptions no_augmentation() {
  DetectionAugmentOptions options;
  options.flip = false;
  options.yolo.jitter = 0.f;
  return options;
}

AugmentedSample augment_one(const AugmentInput& input, const DetectionAugmentOptions& options, uint64_t key,
                            int net_w = 96, int net_h = 80, int channels = 3) {
  return cspnet::augment_detection(std::span<const AugmentInput>(&input, 1), SampleKind::single, options, net_w, net_h,
                                   channels, key);
}

void check_many_keys(const DetectionAugmentOptions& options, const Membership& member, const std::string& name,
                     int net_w = 96, int net_h = 80) {
  const AugmentInput input = scene();
  for (uint64_t key = 1; key <= 24; ++key) {
    const AugmentedSample sample = augment_one(input, options, key, net_w, net_h);
    ASSERT_EQ(sample.image.shape(), (cspnet::Shape{1, 3, net_h, net_w}));
    expect_boxes_match_image(sample, member, name + " key " + std::to_string(key));
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(DetectionAugment, WithoutOptionsTheImageIsResizedAndBoxesKept) {
  const AugmentInput input = scene();
  const AugmentedSample sample = augment_one(input, no_augmentation(), 7);
  ASSERT_EQ(sample.boxes.size(), input.boxes.size());
  std::multiset<std::tuple<int, float, float>> want, got;
  for (const ObjectBox& b : input.boxes) want.insert({b.cls, b.x, b.w});
  for (const ObjectBox& b : sample.boxes) got.insert({b.cls, b.x, b.w});
  for (auto w = want.begin(), g = got.begin(); w != want.end(); ++w, ++g) {
    EXPECT_EQ(std::get<0>(*w), std::get<0>(*g));
    EXPECT_NEAR(std::get<1>(*w), std::get<1>(*g), 1e-6f);
    EXPECT_NEAR(std::get<2>(*w), std::get<2>(*g), 1e-6f);
  }
  expect_boxes_match_image(sample, Membership{}, "plain resize");
}

TEST(DetectionAugment, JitterMovesBoxesWithTheCrop) {
  DetectionAugmentOptions options = no_augmentation();
  options.yolo.jitter = 0.3f;
  check_many_keys(options, Membership{}, "jitter");
}

TEST(DetectionAugment, ResizeZoomMovesBoxesWithTheCrop) {
  DetectionAugmentOptions options = no_augmentation();
  options.yolo.resize = 1.5f;
  check_many_keys(options, Membership{}, "resize 1.5");
  options.yolo.resize = 0.6f;
  check_many_keys(options, Membership{}, "resize 0.6");
}

TEST(DetectionAugment, LetterBoxKeepsTheAspectRatio) {
  DetectionAugmentOptions options = no_augmentation();
  options.letter_box = true;
  const AugmentInput input = scene();
  // 200 x 160 into 64 x 64: scale 0.32 on both axes, image centred vertically.
  const AugmentedSample sample = augment_one(input, options, 3, 64, 64);
  ASSERT_EQ(sample.boxes.size(), input.boxes.size());
  for (const ObjectBox& box : sample.boxes) {
    const auto source = std::find_if(input.boxes.begin(), input.boxes.end(), [&](const ObjectBox& b) {
      return std::fabs(b.x * 200 * 0.32f - box.x * 64) < 1 && b.cls == box.cls;
    });
    ASSERT_NE(source, input.boxes.end());
    EXPECT_NEAR(box.w * 64, source->w * 200 * 0.32f, 0.5f);
    EXPECT_NEAR(box.h * 64, source->h * 160 * 0.32f, 0.5f);
  }
  expect_boxes_match_image(sample, Membership{}, "letter_box");
  options.yolo.jitter = 0.3f;
  check_many_keys(options, Membership{}, "letter_box with jitter", 64, 64);
}

TEST(DetectionAugment, FlipMirrorsImageAndBoxesAboutHalfTheTime) {
  DetectionAugmentOptions options = no_augmentation();
  options.flip = true;
  const AugmentInput input = scene();
  const AugmentedSample plain = augment_one(input, no_augmentation(), 1);
  int flipped = 0;
  for (uint64_t key = 1; key <= 64; ++key) {
    const AugmentedSample sample = augment_one(input, options, key);
    if (sample.image.values() == plain.image.values()) continue;
    ++flipped;
    const auto& s = plain.image.shape();
    for (int64_t k = 0; k < s.c; ++k)
      for (int64_t y = 0; y < s.h; ++y)
        for (int64_t x = 0; x < s.w; ++x)
          ASSERT_EQ(sample.image.at(0, k, y, x), plain.image.at(0, k, y, s.w - 1 - x)) << "key " << key;
    std::multiset<std::pair<int, int>> mirrored, got;
    for (const ObjectBox& b : plain.boxes) mirrored.insert({b.cls, int(std::lround((1 - b.x) * 1e5f))});
    for (const ObjectBox& b : sample.boxes) got.insert({b.cls, int(std::lround(b.x * 1e5f))});
    EXPECT_EQ(got, mirrored) << "key " << key;
    expect_boxes_match_image(sample, Membership{}, "flip key " + std::to_string(key));
  }
  EXPECT_GE(flipped, 18);
  EXPECT_LE(flipped, 46);
}

TEST(DetectionAugment, ColourChangesPixelsButNotBoxes) {
  DetectionAugmentOptions colour = no_augmentation();
  colour.hue = 0.1f, colour.saturation = 1.5f, colour.exposure = 1.5f;
  const AugmentInput input = scene();
  int changed = 0;
  for (uint64_t key = 1; key <= 8; ++key) {
    const AugmentedSample plain = augment_one(input, no_augmentation(), key);
    const AugmentedSample coloured = augment_one(input, colour, key);
    EXPECT_EQ(coloured.boxes, plain.boxes) << "key " << key;
    changed += coloured.image.values() != plain.image.values();
    expect_boxes_match_image(coloured, Membership{0.3f, true}, "colour key " + std::to_string(key));
  }
  EXPECT_EQ(changed, 8);
}

TEST(DetectionAugment, AllSingleImageOptionsTogetherKeepBoxesOnObjects) {
  DetectionAugmentOptions options;
  options.flip = true;
  options.hue = 0.1f, options.saturation = 1.5f, options.exposure = 1.5f;
  options.yolo.jitter = 0.3f, options.yolo.resize = 1.5f;
  check_many_keys(options, Membership{0.3f, true}, "all options");
}

TEST(DetectionAugment, BoxesUnderOneNetworkPixelAreDropped) {
  // 256 px into 64: a 3 px wide object becomes 0.75 px (dropped), 5 px
  // becomes 1.25 px (kept); likewise in height.
  const AugmentInput input = painted(256, 256, {{{10, 10, 3, 40}, 0}, {{60, 10, 5, 40}, 1},
                                                  {{10, 100, 40, 3}, 2}, {{100, 100, 40, 5}, 0}});
  const AugmentedSample sample = augment_one(input, no_augmentation(), 1, 64, 64);
  ASSERT_EQ(sample.boxes.size(), 2u);
  for (const ObjectBox& box : sample.boxes) {
    EXPECT_GE(box.w * 64, 1.f);
    EXPECT_GE(box.h * 64, 1.f);
  }
}

TEST(DetectionAugment, AtMostMaxBoxesAreKeptFromTheShuffledList) {
  DetectionAugmentOptions options = no_augmentation();
  const AugmentInput input = scene();
  const AugmentedSample all = augment_one(input, options, 5);
  options.yolo.max_boxes = 3;
  const AugmentedSample three = augment_one(input, options, 5);
  ASSERT_EQ(all.boxes.size(), 9u);
  ASSERT_EQ(three.boxes.size(), 3u);
  EXPECT_TRUE(std::equal(three.boxes.begin(), three.boxes.end(), all.boxes.begin()));
  // The order is shuffled per key.
  const AugmentedSample other = augment_one(input, no_augmentation(), 6);
  EXPECT_NE(other.boxes, all.boxes);
}

TEST(DetectionAugment, GreyNetworkInputIsTheMeanOfRgb) {
  DetectionAugmentOptions options = no_augmentation();
  options.yolo.jitter = 0.3f, options.flip = true;
  const AugmentInput input = scene();
  const AugmentedSample rgb = augment_one(input, options, 11);
  const AugmentedSample grey = augment_one(input, options, 11, 96, 80, 1);
  ASSERT_EQ(grey.image.shape(), (cspnet::Shape{1, 1, 80, 96}));
  EXPECT_EQ(grey.boxes, rgb.boxes);
  for (int64_t y = 0; y < 80; ++y)
    for (int64_t x = 0; x < 96; ++x)
      ASSERT_NEAR(grey.image.at(0, 0, y, x),
                  (rgb.image.at(0, 0, y, x) + rgb.image.at(0, 1, y, x) + rgb.image.at(0, 2, y, x)) / 3, 1e-5f);
}

std::vector<AugmentInput> four_scenes() {
  // Source q draws every object in the channel of class q (0 red, 1 green,
  // 2 blue, 3 red again: quadrants 0 and 3 touch only at the cut point).
  return {scene(0, 0), scene(0, 1), scene(0, 2), scene(0, 3)};
}

AugmentedSample mosaic(const DetectionAugmentOptions& options, uint64_t key) {
  const std::vector<AugmentInput> sources = four_scenes();
  return cspnet::augment_detection(sources, SampleKind::mosaic, options, 128, 96, 3, key);
}

TEST(DetectionAugment, MosaicBoxesStayInTheirQuadrantAndEveryObjectIsBoxed) {
  DetectionAugmentOptions options = no_augmentation();
  options.mosaic = true, options.flip = true;
  options.yolo.jitter = 0.3f, options.yolo.resize = 1.5f;
  for (uint64_t key = 1; key <= 16; ++key) {
    const AugmentedSample sample = mosaic(options, key);
    const std::string where = "mosaic key " + std::to_string(key);
    // Quadrant q's boxes have class q: left ones end before right ones begin,
    // top ones before bottom ones.
    float edge[4][4];  // per class: min left, max right, min top, max bottom
    for (auto& e : edge) e[0] = e[2] = 2.f, e[1] = e[3] = -1.f;
    for (const ObjectBox& b : sample.boxes) {
      ASSERT_GE(b.cls, 0);
      ASSERT_LT(b.cls, 4);
      float* e = edge[b.cls];
      e[0] = std::min(e[0], b.x - b.w / 2), e[1] = std::max(e[1], b.x + b.w / 2);
      e[2] = std::min(e[2], b.y - b.h / 2), e[3] = std::max(e[3], b.y + b.h / 2);
    }
    const float eps = 1e-5f;
    EXPECT_LE(edge[0][1], edge[1][0] + eps) << where;
    EXPECT_LE(edge[2][1], edge[3][0] + eps) << where;
    EXPECT_LE(edge[0][3], edge[2][2] + eps) << where;
    EXPECT_LE(edge[1][3], edge[3][2] + eps) << where;
    for (const ObjectBox& box : sample.boxes) expect_box_on_its_rectangle(sample.image, box, Membership{}, where);
    expect_every_object_boxed(sample.image, sample.boxes, Membership{}, {0, 1, 2}, where);
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(DetectionAugment, MixupBlendsTwoImagesAndKeepsBothBoxLists) {
  DetectionAugmentOptions options = no_augmentation();
  options.mixup = true, options.flip = true;
  options.yolo.jitter = 0.2f;
  const std::vector<AugmentInput> sources = {scene(0, 0), scene(0, 1)};
  for (uint64_t key = 1; key <= 8; ++key) {
    const AugmentedSample sample = cspnet::augment_detection(sources, SampleKind::mixup, options, 96, 80, 3, key);
    const AugmentedSample first = augment_one(sources[0], options, key);
    int red = 0, green = 0;
    for (const ObjectBox& b : sample.boxes) (b.cls == 0 ? red : green) += 1;
    EXPECT_EQ(size_t(red), first.boxes.size()) << "key " << key;
    EXPECT_GT(green, 0) << "key " << key;
    EXPECT_EQ(sample.image.values().size(), first.image.values().size());
    // Red comes only from the first image, at half strength.
    for (size_t i = 0; i < size_t(96 * 80); ++i)
      ASSERT_NEAR(sample.image.values()[i], 0.5f * first.image.values()[i], 1e-6f);
    expect_boxes_match_image(sample, Membership{0.25f, false}, "mixup key " + std::to_string(key));
  }
}

TEST(DetectionAugment, SameKeyGivesIdenticalBytesAndOtherKeysDiffer) {
  DetectionAugmentOptions options;
  options.hue = 0.1f, options.saturation = 1.5f, options.exposure = 1.5f;
  options.yolo.jitter = 0.3f, options.yolo.resize = 1.5f, options.mosaic = true;
  const AugmentedSample a = mosaic(options, 42), b = mosaic(options, 42), c = mosaic(options, 43);
  ASSERT_EQ(a.image.values().size(), b.image.values().size());
  EXPECT_EQ(std::memcmp(a.image.data(), b.image.data(), a.image.values().size() * sizeof(float)), 0);
  EXPECT_EQ(a.boxes, b.boxes);
  EXPECT_NE(a.image.values(), c.image.values());
  EXPECT_NE(a.boxes, c.boxes);
}

TEST(DetectionAugment, AboutHalfTheBatchesMix) {
  DetectionAugmentOptions options;
  EXPECT_EQ(cspnet::batch_sample_kind(options, 1), SampleKind::single);
  options.mosaic = true;
  int mixed = 0;
  for (uint64_t batch = 0; batch < 400; ++batch) {
    const SampleKind kind = cspnet::batch_sample_kind(options, batch);
    EXPECT_NE(kind, SampleKind::mixup);
    mixed += kind == SampleKind::mosaic;
  }
  EXPECT_GT(mixed, 160);
  EXPECT_LT(mixed, 240);
  options.mixup = true;  // mosaic wins, as in darknet
  for (uint64_t batch = 0; batch < 50; ++batch) EXPECT_NE(cspnet::batch_sample_kind(options, batch), SampleKind::mixup);
  options.mosaic = false;
  int mixups = 0;
  for (uint64_t batch = 0; batch < 50; ++batch)
    mixups += cspnet::batch_sample_kind(options, batch) == SampleKind::mixup;
  EXPECT_GT(mixups, 10);
  EXPECT_EQ(cspnet::sources_needed(SampleKind::mosaic), 4);
  EXPECT_EQ(cspnet::sources_needed(SampleKind::mixup), 2);
  EXPECT_EQ(cspnet::sources_needed(SampleKind::single), 1);
}

TEST(DetectionAugment, WrongSourceCountOrShapeIsAnError) {
  const AugmentInput input = scene();
  const DetectionAugmentOptions options;
  const std::span<const AugmentInput> one(&input, 1);
  expect_error_mentioning([&] { cspnet::augment_detection(one, SampleKind::mosaic, options, 64, 64, 3, 1); },
                          {"expected 4 source images, got 1"});
  AugmentInput grey{Tensor(cspnet::Shape{1, 1, 8, 8}), {}};
  expect_error_mentioning([&] { augment_one(grey, options, 1); }, {"expected a 1 x 3 x H x W RGB image"});
  expect_error_mentioning([&] { augment_one(input, options, 1, 64, 64, 2); }, {"expected 1 or 3 network channels"});
  expect_error_mentioning([&] { augment_one(input, options, 1, 0, 64); }, {"network size 0x64"});
}

TEST(DetectionAugment, EvaluationResizeMapsBoxesLikeInference) {
  const AugmentInput input = scene();
  const AugmentedSample plain = cspnet::evaluation_sample(input, false, 96, 80, 3);
  EXPECT_EQ(plain.boxes, input.boxes);
  EXPECT_EQ(plain.image.values(), cspnet::resize_image(input.image, 96, 80).values());
  const AugmentedSample boxed = cspnet::evaluation_sample(input, true, 64, 64, 3);
  EXPECT_EQ(boxed.image.values(), cspnet::letterbox_image(input.image, 64, 64).values());
  ASSERT_EQ(boxed.boxes.size(), input.boxes.size());
  // The 0.5 grey canvas is brighter than half: judge objects at 0.75.
  for (const ObjectBox& box : boxed.boxes)
    expect_box_on_its_rectangle(boxed.image, box, Membership{0.75f}, "letterbox");
}

// Options from cfg text: [net] on line 1, [yolo] after it.
DetectionAugmentOptions parse(const std::string& net_keys, const std::string& yolo_keys = "") {
  const cspnet::CfgFile cfg = cspnet::parse_cfg_text("[net]\n" + net_keys + "\n[yolo]\n" + yolo_keys + "\n", "aug.cfg");
  cspnet::Options net(cfg.sections.at(0), cfg.path), yolo(cfg.sections.at(1), cfg.path);
  return cspnet::parse_detection_augment_options(net, cspnet::parse_yolo_augment_keys(yolo));
}

TEST(DetectionAugmentOptions, DefaultsAreDarknets) {
  const DetectionAugmentOptions options = parse("");
  EXPECT_TRUE(options.flip);
  EXPECT_FALSE(options.mosaic || options.mixup || options.letter_box || options.mosaic_bound);
  EXPECT_EQ(options.hue, 0.f);
  EXPECT_EQ(options.saturation, 1.f);
  EXPECT_EQ(options.exposure, 1.f);
  EXPECT_EQ(options.resize_step, 32);
  EXPECT_FLOAT_EQ(options.yolo.jitter, 0.2f);
  EXPECT_EQ(options.yolo.resize, 1.f);
  EXPECT_EQ(options.yolo.max_boxes, 200);
  EXPECT_EQ(options.yolo.random, 0.f);
}

TEST(DetectionAugmentOptions, ReadsNetAndYoloKeys) {
  const DetectionAugmentOptions options =
      parse("flip=0\nhue=.1\nsaturation=1.5\nexposure=1.4\nmosaic=1\nmosaic_bound=1\nmixup=1\nresize_step=64",
            "jitter=.3\nresize=1.5\nmax=90\nrandom=1");
  EXPECT_FALSE(options.flip);
  EXPECT_FLOAT_EQ(options.hue, 0.1f);
  EXPECT_FLOAT_EQ(options.saturation, 1.5f);
  EXPECT_FLOAT_EQ(options.exposure, 1.4f);
  EXPECT_TRUE(options.mosaic && options.mosaic_bound && options.mixup);
  EXPECT_EQ(options.resize_step, 64);
  EXPECT_FLOAT_EQ(options.yolo.jitter, 0.3f);
  EXPECT_FLOAT_EQ(options.yolo.resize, 1.5f);
  EXPECT_EQ(options.yolo.max_boxes, 90);
  EXPECT_EQ(options.yolo.random, 1.f);
}

TEST(DetectionAugmentOptions, ImpossibleOrUnsupportedKeysNameTheirLine) {
  expect_error_mentioning([] { parse("mosaic=1\nletter_box=1"); },
                          {"aug.cfg:3: [net] key 'letter_box'", "mosaic"});
  expect_error_mentioning([] { parse("cutmix=1"); }, {"aug.cfg:2: [net] key 'cutmix'", "detector"});
  expect_error_mentioning([] { parse("blur=1"); }, {"aug.cfg:2: [net] key 'blur'", "not implement"});
  expect_error_mentioning([] { parse("gaussian_noise=1"); }, {"aug.cfg:2: [net] key 'gaussian_noise'"});
  expect_error_mentioning([] { parse("hue=2"); }, {"aug.cfg:2: [net] key 'hue'", "got '2'"});
  expect_error_mentioning([] { parse("flip=yes"); }, {"aug.cfg:2: [net] key 'flip'", "0 or 1"});
  expect_error_mentioning([] { parse("resize_step=0"); }, {"aug.cfg:2: [net] key 'resize_step'"});
  expect_error_mentioning([] { parse("", "jitter=0.7"); }, {"aug.cfg:4: [yolo] key 'jitter'", "[0, 0.5)"});
  expect_error_mentioning([] { parse("", "max=0"); }, {"aug.cfg:4: [yolo] key 'max'"});
  expect_error_mentioning([] { parse("", "resize=-1"); }, {"aug.cfg:4: [yolo] key 'resize'"});
}


// Odd sizes, extreme options and degenerate boxes: never a crash, always a
// well-formed sample.
TEST(DetectionAugment, ExtremeInputsGiveWellFormedSamples) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> unit(0.f, 1.f);
  const std::pair<int, int> source_sizes[] = {{1, 1}, {2, 300}, {300, 3}, {17, 29}};
  const std::pair<int, int> net_sizes[] = {{1, 1}, {2, 7}, {32, 32}, {45, 13}};
  for (int round = 0; round < 120; ++round) {
    DetectionAugmentOptions options;
    options.flip = unit(rng) < 0.5f;
    options.letter_box = unit(rng) < 0.3f;
    options.hue = unit(rng), options.saturation = 0.2f + 4 * unit(rng), options.exposure = 0.2f + 4 * unit(rng);
    options.yolo.jitter = 0.499f * unit(rng), options.yolo.resize = 0.1f + 5 * unit(rng);
    options.yolo.max_boxes = 1 + int(unit(rng) * 5);
    const SampleKind kinds[] = {SampleKind::mosaic, SampleKind::mixup, SampleKind::single};
    const SampleKind kind = kinds[round % 3];
    std::vector<AugmentInput> sources;
    for (int s = 0; s < cspnet::sources_needed(kind); ++s) {
      const auto [w, h] = source_sizes[(round + s) % 4];
      AugmentInput input{cspnet::tests::random_input(cspnet::Shape{1, 3, h, w}, uint32_t(round * 7 + s)), {}};
      for (int b = 0; b < 6; ++b)
        input.boxes.push_back(ObjectBox{unit(rng) * 1.4f - 0.2f, unit(rng), unit(rng) * 1.2f, unit(rng) * 0.5f, b});
      input.boxes.push_back(ObjectBox{0.5f, 0.5f, 0.f, 0.f, 9});                // empty
      input.boxes.push_back(ObjectBox{std::nanf(""), 0.5f, 0.2f, 0.2f, 9});     // not a number
      input.boxes.push_back(ObjectBox{3.f, 0.5f, 0.2f, 0.2f, 9});               // outside
      sources.push_back(std::move(input));
    }
    const auto [net_w, net_h] = net_sizes[round % 4];
    const int channels = round % 5 == 0 ? 1 : 3;
    const AugmentedSample sample =
        cspnet::augment_detection(sources, kind, options, net_w, net_h, channels, uint64_t(round));
    ASSERT_EQ(sample.image.shape(), (cspnet::Shape{1, channels, net_h, net_w})) << round;
    for (float v : sample.image.values()) ASSERT_TRUE(v >= 0.f && v <= 1.f) << round;
    ASSERT_LE(sample.boxes.size(), size_t(options.yolo.max_boxes) * (kind == SampleKind::single ? 1 : 4)) << round;
    for (const ObjectBox& b : sample.boxes) {
      ASSERT_NE(b.cls, 9) << round;
      EXPECT_GE(b.x - b.w / 2, -1e-6f) << round;
      EXPECT_LE(b.x + b.w / 2, 1 + 1e-6f) << round;
      EXPECT_GE(b.y - b.h / 2, -1e-6f) << round;
      EXPECT_LE(b.y + b.h / 2, 1 + 1e-6f) << round;
      EXPECT_GE(b.w * float(net_w), 1.f - 1e-4f) << round;
      EXPECT_GE(b.h * float(net_h), 1.f - 1e-4f) << round;
    }
  }
}

TEST(DetectionAugment, BuildingBlocksRefuseBadShapes) {
  const Tensor image(cspnet::Shape{1, 3, 10, 10});
  expect_error_mentioning([&] { cspnet::crop_resize_flip(image, {6, 6, 0, 0}, 8, 8); },
                          {"crop_resize_flip", "cannot crop -2x10"});
  expect_error_mentioning([&] { cspnet::crop_resize_flip(image, {}, 0, 8); }, {"into 0x8"});
  Tensor two(cspnet::Shape{1, 2, 4, 4});
  expect_error_mentioning([&] { cspnet::distort_hsv(two, 0.1f, 1.f, 1.f); }, {"distort_hsv", "1 or 3"});
}


// A mosaic makes only the window of each image that its quadrant shows: the
// window must be exactly that part of the whole image, flipped or not.
TEST(DetectionAugment, CropWindowIsThePartOfTheWholeImage) {
  const Tensor source = cspnet::tests::random_input(cspnet::Shape{1, 3, 37, 53}, 9);
  for (const bool flip : {false, true}) {
    const cspnet::DetectionDraws draws{-7, 4, 3, -9, flip};
    const Tensor whole = cspnet::crop_resize_flip(source, draws, 40, 30);
    const cspnet::OutputWindow window{11, 5, 20, 17};
    const Tensor part = cspnet::crop_resize_flip_window(source, draws, 40, 30, window);
    ASSERT_EQ(part.shape(), (cspnet::Shape{1, 3, 17, 20}));
    for (int64_t k = 0; k < 3; ++k)
      for (int64_t y = 0; y < 17; ++y)
        for (int64_t x = 0; x < 20; ++x) ASSERT_EQ(part.at(0, k, y, x), whole.at(0, k, y + 5, x + 11)) << flip;
  }
  expect_error_mentioning(
      [&] { cspnet::crop_resize_flip_window(source, {}, 40, 30, cspnet::OutputWindow{30, 0, 20, 5}); },
      {"window is not inside the 40x30 output"});
}


// Through the trainer's NetTrainingKeys: --set overrides win and are named.
TEST(DetectionAugmentOptions, NetTrainingKeysOverridesWinAndAreNamed) {
  const std::string cfg = "[net]\nwidth=32\nheight=32\nchannels=3\nhue=.1\n\n[convolutional]\nfilters=2\nsize=1\n";
  const cspnet::Network net = cspnet::Network::from_cfg(cspnet::parse_cfg_text(cfg, "det.cfg"));
  cspnet::NetTrainingKeys keys(net.config(), cspnet::override_entries({{"hue", ".3"}, {"mosaic", "1"}}, "--set"));
  const DetectionAugmentOptions options = cspnet::parse_detection_augment_options(keys.options(), {});
  EXPECT_FLOAT_EQ(options.hue, 0.3f);
  EXPECT_TRUE(options.mosaic);
  cspnet::NetTrainingKeys bad(net.config(), cspnet::override_entries({{"saturation", "-2"}}, "--set"));
  expect_error_mentioning([&] { cspnet::parse_detection_augment_options(bad.options(), {}); },
                          {"--set saturation", "positive"});
}

}  // namespace
