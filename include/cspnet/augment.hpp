#pragma once
// Training-time augmentation of classification images (C x H x W floats in
// [0,1]). Per image, in this order:
//   1. rotation by a uniform angle in [-angle, angle] degrees about the image
//      centre, bilinear, zero outside the source (darknet's `angle`);
//   2. translation by whole pixels, dx and dy uniform in [-translate,
//      translate], zero fill: padding by `translate` then a random crop;
//   3. horizontal flip with probability 1/2;
//   4. colour in HSV (darknet's random_distort_image): saturation and value
//      (`exposure`) each scaled by a factor drawn as darknet's rand_scale(s)
//      (uniform in [1, s], inverted with probability 1/2, so in [1/s, s]),
//      hue shifted by a uniform amount in [-hue, hue] of the hue circle, and
//      the result clamped to [0,1]. Grey (1-channel) images have no hue or
//      saturation; only `exposure` applies (it scales the grey value).
//      Other channel counts get no colour change.
// mixup and cutmix mix images of one batch; see batch_loader.hpp.
//
// Every random draw is a pure function of a 64-bit key (the batch loader
// derives it from the seed, the epoch and the image's position in the epoch),
// so augmentation never depends on thread count or timing.
#include <cstdint>
#include <string>

#include "cspnet/cfg.hpp"

namespace cspnet {

struct AugmentOptions {
  int translate = 0;       // maximum shift in pixels (0: none)
  bool flip = false;       // random horizontal flip
  float angle = 0.f;       // maximum rotation in degrees
  float saturation = 1.f;  // 1: none; s and 1/s give the same range
  float exposure = 1.f;    // 1: none; s and 1/s give the same range
  float hue = 0.f;         // maximum hue shift as a fraction of the circle
  bool mixup = false;      // mix whole images of a batch
  bool cutmix = false;     // paste a box from another image of the batch

  bool per_image() const {
    return translate > 0 || flip || angle != 0.f || saturation != 1.f || exposure != 1.f || hue != 0.f;
  }
};

// Reads darknet [net] keys: flip (0/1; absent = 1, darknet's default),
// angle (0..180), saturation and exposure (> 0), hue (0..1), mixup and cutmix
// (0/1), and our own translate (pixels, 0..4096). Absent keys are off except
// flip. A bad value is a cspnet::Error "file:line: [net] key 'k': expected
// ..., got '...'" (or "--set k: ..." for an override).
AugmentOptions parse_augment_options(Options& net);

// One image's random draws.
struct AugmentParams {
  float angle_degrees = 0.f;
  int shift_x = 0, shift_y = 0;  // output(x, y) = input(x - shift_x, y - shift_y)
  bool flip = false;
  float saturation_scale = 1.f, exposure_scale = 1.f;
  float hue_shift = 0.f;
};

// The draws for the image whose key is `key`. Each transform draws from its
// own sub-stream of the key, so enabling one does not change another's draws.
AugmentParams draw_augment_params(const AugmentOptions& options, uint64_t key);

// Applies `params` in place to one channels x height x width image.
void apply_augment(const AugmentParams& params, float* chw, int channels, int height, int width);

}  // namespace cspnet
