// Box and label drawing for detection output images.
#include "cspnet/draw_boxes.hpp"

#include <algorithm>
#include <cmath>

#include "cspnet/error.hpp"
#include "detect/bitmap_font.hpp"

namespace cspnet {
namespace {

using Colour = std::array<float, 3>;

void check_drawable(const Tensor& image) {
  const Shape& s = image.shape();
  if (s.n < 1 || (s.c != 1 && s.c != 3 && s.c != 4) || s.h < 1 || s.w < 1)
    throw Error("draw_boxes: expected a 1 x (1, 3 or 4) x H x W image, got " + std::to_string(s.n) + "x" + s.str());
}

// Paints [x0, x1) x [y0, y1), clipped to the image.
void fill(Tensor& image, int x0, int y0, int x1, int y1, const Colour& colour) {
  const Shape& s = image.shape();
  x0 = std::max(x0, 0), y0 = std::max(y0, 0);
  x1 = std::min<int>(x1, int(s.w)), y1 = std::min<int>(y1, int(s.h));
  const float grey = (colour[0] + colour[1] + colour[2]) / 3.f;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      if (s.c == 1) {
        image.at(0, 0, y, x) = grey;
        continue;
      }
      for (int k = 0; k < 3; ++k) image.at(0, k, y, x) = colour[size_t(k)];
    }
}

// The outline of [left, right] x [top, bottom] (inclusive), `width` pixels
// thick, drawn inwards.
void outline(Tensor& image, int left, int top, int right, int bottom, int width, const Colour& colour) {
  fill(image, left, top, right + 1, top + width, colour);
  fill(image, left, bottom - width + 1, right + 1, bottom + 1, colour);
  fill(image, left, top, left + width, bottom + 1, colour);
  fill(image, right - width + 1, top, right + 1, bottom + 1, colour);
}

std::string label_of(const ScoredBox& box, const std::vector<std::string>& names) {
  std::string label =
      box.cls >= 0 && size_t(box.cls) < names.size() ? names[size_t(box.cls)] : std::to_string(box.cls);
  if (box.score >= 0) {
    // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on " " + string.
    label.push_back(' ');
    label.append(std::to_string(std::lround(std::min(box.score, 1.f) * 100.f)));
    label.push_back('%');
  }
  return label;
}

}  // namespace

std::array<float, 3> class_colour(int cls) {
  // Hues a golden-ratio step apart: neighbouring ids get far-apart colours.
  const double hue = std::fmod(std::abs(double(cls)) * 0.6180339887498949, 1.0) * 6.0;
  const int sector = std::min(int(hue), 5);
  const float f = float(hue - sector), high = 1.f, low = 0.2f;
  const float rising = low + (high - low) * f, falling = high - (high - low) * f;
  switch (sector) {
    case 0:
      return {high, rising, low};
    case 1:
      return {falling, high, low};
    case 2:
      return {low, high, rising};
    case 3:
      return {low, falling, high};
    case 4:
      return {rising, low, high};
    default:
      return {high, low, falling};
  }
}

int text_width(const std::string& text, int scale) {
  return text.empty() ? 0 : (int(text.size()) * bitmap_font::kAdvance - 1) * scale;
}

int text_height(int scale) { return bitmap_font::kGlyphHeight * scale; }

int draw_text(Tensor& image, const std::string& text, int x, int y, std::array<float, 3> colour, int scale) {
  check_drawable(image);
  scale = std::max(scale, 1);
  for (size_t i = 0; i < text.size(); ++i) {
    const auto rows = bitmap_font::glyph(text[i]);
    const int origin = x + int(i) * bitmap_font::kAdvance * scale;
    for (int r = 0; r < bitmap_font::kGlyphHeight; ++r)
      for (int c = 0; c < bitmap_font::kGlyphWidth; ++c)
        if (rows[size_t(r)] & (1u << (bitmap_font::kGlyphWidth - 1 - c)))
          fill(image, origin + c * scale, y + r * scale, origin + (c + 1) * scale, y + (r + 1) * scale, colour);
  }
  return text_width(text, scale);
}

void draw_boxes(Tensor& image, const std::vector<ScoredBox>& boxes, const std::vector<std::string>& names) {
  check_drawable(image);
  const int width = int(image.shape().w), height = int(image.shape().h);
  // darknet's line width: 0.6% of the image height, at least one pixel.
  const int line = std::max(1, int(float(height) * 0.006f));
  const int scale = std::max(1, height / 300);
  for (const ScoredBox& box : boxes) {
    if (!std::isfinite(box.x) || !std::isfinite(box.y) || !std::isfinite(box.w) || !std::isfinite(box.h)) continue;
    // The first and the last pixel the box covers, clipped to the image.
    auto first = [](float v, int side) { return int(std::clamp(std::floor(v * float(side)), 0.f, float(side - 1))); };
    auto last = [](float v, int side) { return int(std::clamp(std::ceil(v * float(side)) - 1, 0.f, float(side - 1))); };
    const int left = first(box.x - box.w / 2, width), top = first(box.y - box.h / 2, height);
    const int right = std::max(left, last(box.x + box.w / 2, width));
    const int bottom = std::max(top, last(box.y + box.h / 2, height));
    const Colour colour = class_colour(box.cls);
    outline(image, left, top, right, bottom, line, colour);
    // The label sits on a bar of the class colour above the box, or just
    // inside it when the box touches the top edge.
    const std::string label = label_of(box, names);
    const int bar_h = text_height(scale) + 2 * scale, bar_w = text_width(label, scale) + 2 * scale;
    const int bar_top = top - bar_h >= 0 ? top - bar_h : top;
    fill(image, left, bar_top, left + bar_w, bar_top + bar_h, colour);
    draw_text(image, label, left + scale, bar_top + scale, Colour{0.f, 0.f, 0.f}, scale);
  }
}

}  // namespace cspnet
