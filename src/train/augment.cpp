#include "cspnet/augment.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numbers>
#include <vector>

#include "cspnet/error.hpp"
#include "train/data_random.hpp"

namespace cspnet {
namespace {

bool parse_bool(Options& net, const char* key, bool fallback) {
  const std::string value = net.get_string(key, fallback ? "1" : "0");
  if (value != "0" && value != "1") net.fail(key, "0 or 1");
  return value == "1";
}

float parse_float(Options& net, const char* key, float fallback, float low, float high, bool low_open,
                  const std::string& expected) {
  const float number = net.get_float(key, fallback);
  if (number > high || number < low || (low_open && number == low)) net.fail(key, expected);
  return number;
}

// darknet's rand_scale: uniform in [1, s] (or [s, 1] for s < 1), inverted
// with probability 1/2.
float random_scale(data_random::Stream& stream, float s) {
  const float scale = stream.uniform(1.f, s);
  return stream.below(2) ? scale : 1.f / scale;
}

// Sub-streams of an image key, one per transform.
enum StreamId : uint64_t { kAngle = 1, kTranslate, kFlip, kColour };

void rotate(float* chw, int channels, int height, int width, float degrees, std::vector<float>& scratch) {
  const float radians = degrees * std::numbers::pi_v<float> / 180.f;
  const float cos_a = std::cos(radians), sin_a = std::sin(radians);
  const float cx = 0.5f * float(width - 1), cy = 0.5f * float(height - 1);
  const int64_t plane = int64_t{height} * width;
  scratch.assign(chw, chw + plane * channels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      // Output pixel (x, y) samples the input rotated by -degrees about the centre.
      const float dx = float(x) - cx, dy = float(y) - cy;
      const float sx = cos_a * dx + sin_a * dy + cx, sy = -sin_a * dx + cos_a * dy + cy;
      const float fx0 = std::floor(sx), fy0 = std::floor(sy);
      const int x0 = int(fx0), y0 = int(fy0);
      const float ax = sx - fx0, ay = sy - fy0;
      const float weights[4] = {(1 - ax) * (1 - ay), ax * (1 - ay), (1 - ax) * ay, ax * ay};
      const int xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
      for (int k = 0; k < channels; ++k) {
        const float* in = scratch.data() + k * plane;
        float sum = 0.f;
        for (int t = 0; t < 4; ++t)
          if (xs[t] >= 0 && xs[t] < width && ys[t] >= 0 && ys[t] < height)
            sum += weights[t] * in[int64_t{ys[t]} * width + xs[t]];
        chw[k * plane + int64_t{y} * width + x] = sum;
      }
    }
}

// Translation (zero fill) and flip in one pass over a copy.
void shift_and_flip(float* chw, int channels, int height, int width, int shift_x, int shift_y, bool flip,
                    std::vector<float>& scratch) {
  const int64_t plane = int64_t{height} * width;
  scratch.assign(chw, chw + plane * channels);
  for (int k = 0; k < channels; ++k) {
    const float* in = scratch.data() + k * plane;
    float* out = chw + k * plane;
    for (int y = 0; y < height; ++y) {
      const int source_y = y - shift_y;
      float* row = out + int64_t{y} * width;
      if (source_y < 0 || source_y >= height) {
        std::fill(row, row + width, 0.f);
        continue;
      }
      const float* source_row = in + int64_t{source_y} * width;
      for (int x = 0; x < width; ++x) {
        const int unflipped_x = flip ? width - 1 - x : x;  // flip after the shift
        const int source_x = unflipped_x - shift_x;
        row[x] = source_x >= 0 && source_x < width ? source_row[source_x] : 0.f;
      }
    }
  }
}

// darknet's rgb_to_hsv / hsv_to_rgb, with hue in [0, 1).
void distort_rgb(float* chw, int64_t plane, float hue_shift, float saturation_scale, float exposure_scale) {
  float* red = chw;
  float* green = chw + plane;
  float* blue = chw + 2 * plane;
  for (int64_t i = 0; i < plane; ++i) {
    const float r = red[i], g = green[i], b = blue[i];
    const float max = std::max({r, g, b}), min = std::min({r, g, b});
    const float delta = max - min;
    float h = 0.f;
    float s = max > 0.f ? delta / max : 0.f;
    float v = max;
    if (delta > 0.f) {
      if (r == max) {
        h = (g - b) / delta;
      } else if (g == max) {
        h = 2.f + (b - r) / delta;
      } else {
        h = 4.f + (r - g) / delta;
      }
      if (h < 0.f) h += 6.f;
      h /= 6.f;
    }
    h += hue_shift;
    h -= std::floor(h);
    s = std::min(s * saturation_scale, 1.f);
    v *= exposure_scale;
    float out_r = v, out_g = v, out_b = v;
    if (s > 0.f) {
      const float sector = h * 6.f;
      const int index = std::min(int(std::floor(sector)), 5);
      const float f = sector - float(index);
      const float p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
      switch (index) {
        case 0:
          out_r = v, out_g = t, out_b = p;
          break;
        case 1:
          out_r = q, out_g = v, out_b = p;
          break;
        case 2:
          out_r = p, out_g = v, out_b = t;
          break;
        case 3:
          out_r = p, out_g = q, out_b = v;
          break;
        case 4:
          out_r = t, out_g = p, out_b = v;
          break;
        default:
          out_r = v, out_g = p, out_b = q;
          break;
      }
    }
    red[i] = std::clamp(out_r, 0.f, 1.f);
    green[i] = std::clamp(out_g, 0.f, 1.f);
    blue[i] = std::clamp(out_b, 0.f, 1.f);
  }
}

}  // namespace

AugmentOptions parse_augment_options(Options& net) {
  AugmentOptions options;
  options.translate = net.get_int("translate", 0);
  if (options.translate < 0 || options.translate > 4096) net.fail("translate", "a whole number of pixels in 0..4096");
  options.flip = parse_bool(net, "flip", true);
  options.angle = parse_float(net, "angle", 0.f, 0.f, 180.f, false, "degrees in 0..180");
  options.saturation = parse_float(net, "saturation", 1.f, 0.f, 1e3f, true, "a positive scale (1 = no change)");
  options.exposure = parse_float(net, "exposure", 1.f, 0.f, 1e3f, true, "a positive scale (1 = no change)");
  options.hue = parse_float(net, "hue", 0.f, 0.f, 1.f, false, "a fraction of the hue circle in 0..1");
  options.mixup = parse_bool(net, "mixup", false);
  options.cutmix = parse_bool(net, "cutmix", false);
  return options;
}

AugmentParams draw_augment_params(const AugmentOptions& options, uint64_t key) {
  using data_random::derive;
  using data_random::Stream;
  AugmentParams params;
  if (options.angle != 0.f) {
    Stream stream(derive(key, kAngle));
    params.angle_degrees = stream.uniform(-options.angle, options.angle);
  }
  if (options.translate > 0) {
    Stream stream(derive(key, kTranslate));
    params.shift_x = stream.symmetric(options.translate);
    params.shift_y = stream.symmetric(options.translate);
  }
  if (options.flip) params.flip = Stream(derive(key, kFlip)).below(2) == 1;
  if (options.hue != 0.f || options.saturation != 1.f || options.exposure != 1.f) {
    Stream stream(derive(key, kColour));
    params.hue_shift = stream.uniform(-options.hue, options.hue);
    params.saturation_scale = random_scale(stream, options.saturation);
    params.exposure_scale = random_scale(stream, options.exposure);
  }
  return params;
}

void apply_augment(const AugmentParams& params, float* chw, int channels, int height, int width) {
  std::vector<float> scratch;
  if (params.angle_degrees != 0.f) rotate(chw, channels, height, width, params.angle_degrees, scratch);
  if (params.shift_x != 0 || params.shift_y != 0 || params.flip)
    shift_and_flip(chw, channels, height, width, params.shift_x, params.shift_y, params.flip, scratch);
  const int64_t plane = int64_t{height} * width;
  if (channels == 3 && (params.hue_shift != 0.f || params.saturation_scale != 1.f || params.exposure_scale != 1.f)) {
    distort_rgb(chw, plane, params.hue_shift, params.saturation_scale, params.exposure_scale);
  } else if (channels == 1 && params.exposure_scale != 1.f) {
    for (int64_t i = 0; i < plane; ++i) chw[i] = std::min(chw[i] * params.exposure_scale, 1.f);
  }
}

}  // namespace cspnet
