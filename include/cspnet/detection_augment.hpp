#pragma once
// Training-time augmentation of detection samples, where the boxes move with
// the image (darknet's load_data_detection / image_data_augmentation /
// blend_truth_mosaic semantics), the evaluation-time resize with boxes
// mapped, and darknet's multi-scale schedule (`random` in [yolo]).
//
// One source image is augmented as:
//   1. a jittered crop: offsets left, right, top, bottom each uniform in
//      +-jitter * image side (truncated to whole pixels), plus the extra
//      `resize` zoom; the crop may reach past the image, where it shows the
//      image's mean colour. letter_box widens (or heightens) the crop so the
//      image keeps its aspect ratio in the network input;
//   2. a bilinear resize of the crop to the network size (pixel-centre
//      aligned, OpenCV's INTER_LINEAR, as darknet uses for training);
//   3. a horizontal flip with probability 1/2 (flip=1);
//   4. HSV: hue + uniform(-hue, hue) of the circle, saturation and value
//      times darknet's rand_scale (uniform in [1, s], inverted with
//      probability 1/2). Grey networks get only the exposure scale.
// Boxes are shuffled, cut to the first `max_boxes`, moved and scaled with the
// crop, mirrored with the flip, clipped to [0, 1], and dropped when under one
// network pixel wide or high.
//
// mosaic builds a sample from 4 images around a cut point uniform in
// [0.2, 0.8] of each side: quadrant q shows the corner of its own augmented
// image that faces the cut point (half the time with the crop offsets of the
// image's outer sides moved to its inner sides), and its boxes are cut to
// the part that shows. mixup blends two augmented images
// 50/50 and keeps the boxes of both. As in darknet, a batch uses mosaic or
// mixup only when a coin per batch says so (about half the batches).
//
// Every random draw is a pure function of the 64-bit key given (the loader
// derives it from seed, epoch and position), never of thread or timing.
#include <cstdint>
#include <span>
#include <vector>

#include "cspnet/boxes.hpp"
#include "cspnet/cfg.hpp"
#include "cspnet/tensor.hpp"

namespace cspnet {

// The keys darknet reads from the last [yolo] layer for augmentation and
// multi-scale. Plain values: whoever parses [yolo] (YoloAttrs) can fill them.
struct YoloAugmentKeys {
  float jitter = 0.2f;  // crop offsets up to jitter * side, in [0, 0.5)
  float resize = 1.f;   // extra zoom: > 1 in and out by that factor, < 1 only out
  int max_boxes = 200;  // `max`: boxes kept per image
  float random = 0.f;   // multi-scale: 0 off, 1 darknet's 1.4, else the coefficient
};

// Reads jitter, resize, max and random from a [yolo] section (absent keys keep
// darknet's defaults); a bad value names the section's file:line.
YoloAugmentKeys parse_yolo_augment_keys(Options& yolo);

struct DetectionAugmentOptions {
  bool flip = true;
  float hue = 0.f;         // fraction of the hue circle, 0..1
  float saturation = 1.f;  // rand_scale range; 1: none
  float exposure = 1.f;    // rand_scale range; 1: none
  bool mosaic = false;
  bool mosaic_bound = false;  // clip boxes to the quadrant's exact pixel edges
  bool letter_box = false;
  bool mixup = false;  // mosaic wins when both are set (darknet)
  int resize_step = 32;
  YoloAugmentKeys yolo;
};

// Reads the [net] keys flip (default 1), hue, saturation, exposure, mosaic,
// mosaic_bound, letter_box, mixup, resize_step; takes the [yolo] keys as
// given. Errors ("file:line: [net] key 'k': expected ...") for bad values,
// blur or gaussian_noise other than 0 (not supported), cutmix=1 (darknet
// refuses it for detectors) and letter_box=1 with mosaic=1.
DetectionAugmentOptions parse_detection_augment_options(Options& net, const YoloAugmentKeys& yolo);

// A source: a 1 x 3 x H x W RGB image in [0, 1] at its own size, and its
// boxes relative to it.
struct AugmentInput {
  Tensor image;
  std::vector<ObjectBox> boxes;
};

// A network input: 1 x C x H x W (C = 1: grey as the mean of RGB, or 3) and
// its boxes relative to it (area reset to -1, i.e. w * h).
struct AugmentedSample {
  Tensor image;
  std::vector<ObjectBox> boxes;
};

enum class SampleKind { single, mixup, mosaic };

// How many sources a sample of `kind` takes: 1, 2 or 4.
int sources_needed(SampleKind kind);

// The kind of every sample of one batch: single unless mosaic or mixup is
// on and the batch's coin (a pure function of batch_key) says mix.
SampleKind batch_sample_kind(const DetectionAugmentOptions& options, uint64_t batch_key);

// One augmented sample from sources_needed(kind) sources at network size
// net_width x net_height with `channels` (1 or 3) channels. An Error when
// the count of sources or a size is wrong.
AugmentedSample augment_detection(std::span<const AugmentInput> sources, SampleKind kind,
                                  const DetectionAugmentOptions& options, int net_width, int net_height,
                                  int channels, uint64_t key);

// The building blocks of one source's transform, for previews and for the
// OpenCV oracle test (tests/oracle/test_opencv_augment_oracle.cpp).
// The crop is columns left .. width-right-1 and rows top .. height-bottom-1
// of the source; negative values reach past the image (darknet's pleft,
// pright, ptop, pbot).
struct DetectionDraws {
  int left = 0, right = 0, top = 0, bottom = 0;
  bool flip = false;
  float hue = 0.f, saturation = 1.f, exposure = 1.f;
  bool operator==(const DetectionDraws&) const = default;
};

// The crop (outside the image: the image's mean colour per channel),
// resized bilinearly with pixel centres aligned (OpenCV's INTER_LINEAR) to
// net_width x net_height, mirrored when draws.flip. Any channel count.
Tensor crop_resize_flip(const Tensor& image, const DetectionDraws& draws, int net_width, int net_height);

// darknet's HSV change on 8-bit OpenCV images, without the 8-bit
// quantisation: hue + hue_shift * 179/180 of the circle (wrapping both
// ways), saturation and value scaled and capped at 1, so a saturated colour
// keeps its hue. RGB images only; grey ones get value * exposure, capped.
void distort_hsv(Tensor& image, float hue_shift, float saturation, float exposure);

// Evaluation input: resize_image (or letterbox_image when letter_box) to
// the network size, as inference does, with the boxes mapped alike.
AugmentedSample evaluation_sample(const AugmentInput& source, bool letter_box, int net_width, int net_height,
                                  int channels);

// darknet's multi-scale (`random`): a new network size every 10 iterations,
// scale = rand_scale(coefficient) (1.4 for random=1), side =
// round(scale * initial / step + 1) * step, a shrink that rounds above the
// initial size goes back to the initial size, and at least `step`. The first
// block of 10 iterations and every block starting after max_batches - 100
// take the largest size. A pure function of (seed, iteration): resuming
// reproduces it.
struct MultiScaleSchedule {
  int initial_width = 0, initial_height = 0;
  int resize_step = 32;
  float random = 0.f;  // the [yolo] value: 0 off
  int64_t max_batches = 0;
  uint64_t seed = 0;
};

struct NetSize {
  int width = 0, height = 0;
  bool operator==(const NetSize&) const = default;
};

// The coefficient multi-scale uses: 1.4 for random=1, else random itself.
float multiscale_coefficient(float random);
// round(scale * initial / step + 1) * step, darknet's rounding.
int multiscale_side(float scale, int initial, int step);
// The largest size the schedule can give (the one to allocate for).
NetSize multiscale_max_size(const MultiScaleSchedule& schedule);
// The network size for 0-based `iteration` (the initial size when random=0).
NetSize multiscale_size(const MultiScaleSchedule& schedule, int64_t iteration);
// darknet's dynamic_minibatch=1: the batch for `size` so that memory stays
// about that of initial_batch at the largest size, initial_batch *
// max_area / area, times 0.8 when that is still above initial_batch.
int multiscale_dynamic_batch(int initial_batch, NetSize largest, NetSize size);

}  // namespace cspnet
