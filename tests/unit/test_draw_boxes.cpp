// Drawing detections: outlines in the class colour at the box edges, a label
// bar with text, clipping, grey images.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cspnet/draw_boxes.hpp"
#include "test_helpers.hpp"

namespace {

using cspnet::ScoredBox;
using cspnet::Tensor;

bool has_colour(const Tensor& image, int x, int y, const std::array<float, 3>& colour) {
  for (int k = 0; k < 3; ++k)
    if (image.at(0, k, y, x) != colour[size_t(k)]) return false;
  return true;
}

TEST(DrawBoxes, OutlineLiesOnTheBoxEdgesInTheClassColour) {
  Tensor image(cspnet::Shape{1, 3, 100, 120}, 0.f);
  // Pixels 30..89 across, 40..79 down.
  const ScoredBox box{0.5f, 0.6f, 0.5f, 0.4f, 2, 0.87f};
  cspnet::draw_boxes(image, {box}, {"cat", "dog", "bird"});
  const auto colour = cspnet::class_colour(2);
  for (int x = 30; x <= 89; ++x) {
    EXPECT_TRUE(has_colour(image, x, 79, colour)) << x;  // bottom edge
  }
  for (int y = 40; y <= 79; ++y) {
    EXPECT_TRUE(has_colour(image, 30, y, colour)) << y;
    EXPECT_TRUE(has_colour(image, 89, y, colour)) << y;
  }
  // Inside and outside the outline stay untouched (the label sits above).
  EXPECT_TRUE(has_colour(image, 60, 60, {0, 0, 0}));
  EXPECT_TRUE(has_colour(image, 29, 60, {0, 0, 0}));
  EXPECT_TRUE(has_colour(image, 90, 60, {0, 0, 0}));
  EXPECT_TRUE(has_colour(image, 60, 81, {0, 0, 0}));
  // The label bar "BIRD 87%" above the box: its colour, and black text on it.
  const int bar_width = cspnet::text_width("bird 87%", 1) + 2;
  int text_pixels = 0, bar_pixels = 0;
  for (int y = 40 - cspnet::text_height(1) - 2; y < 40; ++y)
    for (int x = 30; x < 30 + bar_width; ++x) {
      text_pixels += has_colour(image, x, y, {0, 0, 0});
      bar_pixels += has_colour(image, x, y, colour);
    }
  EXPECT_GT(text_pixels, 40);
  EXPECT_GT(bar_pixels, text_pixels);
  EXPECT_TRUE(has_colour(image, 30 + bar_width + 1, 35, {0, 0, 0}));
}

TEST(DrawBoxes, TextDrawsGlyphPixels) {
  Tensor image(cspnet::Shape{1, 3, 20, 40}, 0.f);
  // '1' has 10 set pixels in the 5 x 7 font; at scale 2 each is 2 x 2.
  EXPECT_EQ(cspnet::draw_text(image, "1", 0, 0, {1.f, 1.f, 1.f}, 2), 10);
  int lit = 0;
  for (float v : image.values()) lit += v == 1.f;
  EXPECT_EQ(lit, 3 * 10 * 4);
  EXPECT_EQ(cspnet::text_width("ab", 1), 11);
  EXPECT_EQ(cspnet::text_height(3), 21);
  // Lower case draws as capitals; unknown characters as '?'.
  Tensor lower(cspnet::Shape{1, 1, 8, 8}, 0.f), upper(cspnet::Shape{1, 1, 8, 8}, 0.f);
  cspnet::draw_text(lower, "q", 0, 0, {1.f, 1.f, 1.f}, 1);
  cspnet::draw_text(upper, "Q", 0, 0, {1.f, 1.f, 1.f}, 1);
  EXPECT_EQ(lower.values(), upper.values());
  Tensor unknown(cspnet::Shape{1, 1, 8, 8}, 0.f), question(cspnet::Shape{1, 1, 8, 8}, 0.f);
  cspnet::draw_text(unknown, "~", 0, 0, {1.f, 1.f, 1.f}, 1);
  cspnet::draw_text(question, "?", 0, 0, {1.f, 1.f, 1.f}, 1);
  EXPECT_EQ(unknown.values(), question.values());
}

TEST(DrawBoxes, BoxesPastTheImageAreClippedAndGreyImagesWork) {
  Tensor grey(cspnet::Shape{1, 1, 50, 50}, 0.f);
  cspnet::draw_boxes(grey, {{0.f, 0.f, 3.f, 3.f, 7, 0.5f}, {0.5f, 0.5f, 0.2f, 0.2f, 1, -1.f}}, {});
  const auto colour = cspnet::class_colour(1);
  EXPECT_FLOAT_EQ(grey.at(0, 0, 30, 20), (colour[0] + colour[1] + colour[2]) / 3);
  Tensor rgba(cspnet::Shape{1, 4, 10, 10}, 0.25f);
  cspnet::draw_boxes(rgba, {{0.5f, 0.5f, 0.5f, 0.5f, 0, 1.f}}, {"x"});
  for (int64_t y = 0; y < 10; ++y)
    for (int64_t x = 0; x < 10; ++x) EXPECT_EQ(rgba.at(0, 3, y, x), 0.25f);  // alpha untouched
  Tensor bad(cspnet::Shape{1, 2, 10, 10});
  cspnet::tests::expect_error_mentioning([&] { cspnet::draw_boxes(bad, {}, {}); }, {"draw_boxes", "1, 3 or 4"});
}

TEST(DrawBoxes, NeighbouringClassesGetDistinctColours) {
  for (int cls = 0; cls < 20; ++cls) {
    const auto a = cspnet::class_colour(cls), b = cspnet::class_colour(cls + 1);
    float distance = 0;
    for (size_t k = 0; k < 3; ++k) distance += std::fabs(a[k] - b[k]);
    EXPECT_GT(distance, 0.3f) << cls;
  }
}

}  // namespace
