// darknet's detection colour augmentation (image_data_augmentation): RGB to
// HSV, hue shifted, saturation and value scaled, back to RGB.
#include <algorithm>
#include <cmath>

#include "cspnet/detection_augment.hpp"
#include "cspnet/error.hpp"

namespace cspnet {
namespace {

struct Hsv {
  float h = 0, s = 0, v = 0;  // h in [0, 1) of the circle
};

Hsv to_hsv(float r, float g, float b) {
  const float max = std::max({r, g, b}), min = std::min({r, g, b}), delta = max - min;
  Hsv hsv{0.f, max > 0.f ? delta / max : 0.f, max};
  if (delta <= 0.f) return hsv;
  float sector = 0.f;
  if (r == max) {
    sector = (g - b) / delta;
  } else if (g == max) {
    sector = 2.f + (b - r) / delta;
  } else {
    sector = 4.f + (r - g) / delta;
  }
  hsv.h = sector / 6.f;
  hsv.h -= std::floor(hsv.h);
  return hsv;
}

void to_rgb(const Hsv& hsv, float& r, float& g, float& b) {
  const float v = hsv.v, s = hsv.s;
  const float sector = hsv.h * 6.f;
  const int index = std::min(static_cast<int>(std::floor(sector)), 5);
  const float f = sector - float(index);
  const float p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  const float table[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
  r = table[index][0], g = table[index][1], b = table[index][2];
}

}  // namespace

void distort_hsv(Tensor& image, float hue_shift, float saturation, float exposure) {
  const Shape& s = image.shape();
  if (s.n != 1 || (s.c != 1 && s.c != 3)) throw Error("distort_hsv: expected a 1 x (1 or 3) x H x W image, got " +
                                                      std::to_string(s.n) + "x" + s.str());
  if (hue_shift == 0.f && saturation == 1.f && exposure == 1.f) return;
  const int64_t plane = s.h * s.w;
  float* red = image.data();
  if (s.c == 1) {
    for (int64_t i = 0; i < plane; ++i) red[i] = std::min(red[i] * exposure, 1.f);
    return;
  }
  float* green = red + plane;
  float* blue = green + plane;
  // OpenCV's 8-bit hue runs 0..180; darknet adds 179 * dhue to it.
  const float turn = hue_shift * (179.f / 180.f);
  for (int64_t i = 0; i < plane; ++i) {
    Hsv hsv = to_hsv(red[i], green[i], blue[i]);
    hsv.h += turn;
    hsv.h -= std::floor(hsv.h);
    // 8-bit saturation: both channels stop at their maximum.
    hsv.s = std::min(hsv.s * saturation, 1.f);
    hsv.v = std::min(hsv.v * exposure, 1.f);
    to_rgb(hsv, red[i], green[i], blue[i]);
  }
}

}  // namespace cspnet
