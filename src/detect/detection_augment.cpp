// Detection augmentation: crop/zoom/flip/colour with the boxes moved alike,
// mosaic and mixup (see detection_augment.hpp for the rules).
#include "cspnet/detection_augment.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "cspnet/error.hpp"
#include "cspnet/image.hpp"
#include "detect/crop_window.hpp"
#include "train/data_random.hpp"

namespace cspnet {
namespace {

using data_random::derive;
using data_random::Stream;

// Sub-streams of a sample key; per-source streams add the source index.
enum StreamId : uint64_t { kBatchCoin = 1, kCutPoint = 2, kGeometry = 16, kColour = 32, kShuffle = 48 };

// darknet's rand_scale: uniform in [1, s], inverted with probability 1/2.
float random_scale(Stream& stream, float s) {
  const float scale = stream.uniform(1.f, s);
  return stream.below(2) ? scale : 1.f / scale;
}

// darknet's rand_precalc_random: `r` in [0, 1) mapped onto [low, high].
float between(float low, float high, float r) {
  if (high < low) std::swap(low, high);
  return low + r * (high - low);
}

int crop_width(const DetectionDraws& draws, int ow) { return ow - draws.left - draws.right; }
int crop_height(const DetectionDraws& draws, int oh) { return oh - draws.top - draws.bottom; }

// darknet truncates each offset to int after adding a float to it.
int add_truncated(int offset, float delta) { return static_cast<int>(static_cast<float>(offset) + delta); }

void draw_crop(const DetectionAugmentOptions& options, int ow, int oh, Stream& stream, DetectionDraws& draws) {
  const float jitter = options.yolo.jitter, resize = options.yolo.resize;
  const int dw = static_cast<int>(float(ow) * jitter), dh = static_cast<int>(float(oh) * jitter);
  const float resize_r1 = stream.uniform(), resize_r2 = stream.uniform();
  const float r1 = stream.uniform(), r2 = stream.uniform(), r3 = stream.uniform(), r4 = stream.uniform();
  draws.left = static_cast<int>(between(float(-dw), float(dw), r1));
  draws.right = static_cast<int>(between(float(-dw), float(dw), r2));
  draws.top = static_cast<int>(between(float(-dh), float(dh), r3));
  draws.bottom = static_cast<int>(between(float(-dh), float(dh), r4));
  // The zoom: negative offsets (a larger crop, i.e. zoom out) down to
  // side * (1 - resize) / 2 and, for resize > 1, positive ones (zoom in).
  const float down = resize > 1.f ? 1.f / resize : resize, up = resize < 1.f ? 1.f / resize : resize;
  const int min_rdw = static_cast<int>(float(ow) * (1.f - 1.f / down) / 2.f);
  const int min_rdh = static_cast<int>(float(oh) * (1.f - 1.f / down) / 2.f);
  const int max_rdw = resize < 1.f ? 0 : static_cast<int>(float(ow) * (1.f - 1.f / up) / 2.f);
  const int max_rdh = resize < 1.f ? 0 : static_cast<int>(float(oh) * (1.f - 1.f / up) / 2.f);
  draws.left = add_truncated(draws.left, between(float(min_rdw), float(max_rdw), resize_r1));
  draws.right = add_truncated(draws.right, between(float(min_rdw), float(max_rdw), resize_r2));
  draws.top = add_truncated(draws.top, between(float(min_rdh), float(max_rdh), resize_r1));
  draws.bottom = add_truncated(draws.bottom, between(float(min_rdh), float(max_rdh), resize_r2));
}

// letter_box: grow the crop along one side so that it has the network's
// aspect ratio and the image keeps its own.
void letter_box_crop(int ow, int oh, int net_w, int net_h, DetectionDraws& draws) {
  const float image_ratio = float(ow) / float(oh), net_ratio = float(net_w) / float(net_h);
  if (image_ratio / net_ratio > 1.f) {
    const float grow = (float(ow) / net_ratio - float(oh)) / 2.f;
    draws.top = add_truncated(draws.top, -grow);
    draws.bottom = add_truncated(draws.bottom, -grow);
  } else {
    const float grow = (float(oh) * net_ratio - float(ow)) / 2.f;
    draws.left = add_truncated(draws.left, -grow);
    draws.right = add_truncated(draws.right, -grow);
  }
}

// mosaic, half the time (darknet: "so that most of it was visible"): the
// crop offsets of the image's outer sides (away from the cut point) move to
// its inner sides, where the quadrant's shift skips any padding. `quadrant`
// 0..3 is top-left, top-right, bottom-left, bottom-right; a flipped image has
// its sides mirrored.
void push_to_corner(int quadrant, DetectionDraws& draws) {
  const bool slack_to_left = (quadrant == 1 || quadrant == 3) != draws.flip;
  if (slack_to_left) {
    draws.left += draws.right, draws.right = 0;
  } else {
    draws.right += draws.left, draws.left = 0;
  }
  if (quadrant >= 2) {
    draws.top += draws.bottom, draws.bottom = 0;
  } else {
    draws.bottom += draws.top, draws.top = 0;
  }
}

DetectionDraws draw_image(const DetectionAugmentOptions& options, int ow, int oh, int net_w, int net_h,
                          uint64_t key, int source, int mosaic_quadrant) {
  DetectionDraws draws;
  Stream geometry(derive(key, kGeometry + uint64_t(source)));
  draw_crop(options, ow, oh, geometry, draws);
  draws.flip = options.flip && geometry.below(2) == 1;
  if (options.letter_box) letter_box_crop(ow, oh, net_w, net_h, draws);
  if (mosaic_quadrant >= 0 && geometry.below(2) == 1) push_to_corner(mosaic_quadrant, draws);
  // Large jitter plus zoom could leave no pixels: keep at least one.
  if (crop_width(draws, ow) < 1) draws.right = ow - draws.left - 1;
  if (crop_height(draws, oh) < 1) draws.bottom = oh - draws.top - 1;
  if (options.hue != 0.f || options.saturation != 1.f || options.exposure != 1.f) {
    Stream colour(derive(key, kColour + uint64_t(source)));
    draws.hue = colour.uniform(-options.hue, options.hue);
    draws.saturation = random_scale(colour, options.saturation);
    draws.exposure = random_scale(colour, options.exposure);
  }
  return draws;
}

bool usable(const ObjectBox& box) {
  return std::isfinite(box.x) && std::isfinite(box.y) && std::isfinite(box.w) && std::isfinite(box.h) &&
         box.w > 0 && box.h > 0 && box.x + box.w / 2 >= 0 && box.y + box.h / 2 >= 0 && box.x - box.w / 2 <= 1 &&
         box.y - box.h / 2 <= 1;
}

ObjectBox from_edges(const ObjectBox& like, float left, float right, float top, float bottom) {
  ObjectBox box = like;
  box.x = (left + right) / 2, box.y = (top + bottom) / 2;
  box.w = right - left, box.h = bottom - top;
  box.area = -1;
  return box;
}

// darknet's fill_truth_detection: shuffle, keep the first max_boxes, move
// with the crop, mirror, clip, drop boxes under one network pixel.
std::vector<ObjectBox> move_boxes(std::vector<ObjectBox> boxes, const DetectionDraws& draws, int ow, int oh,
                                  int net_w, int net_h, int max_boxes, uint64_t shuffle_key) {
  Stream shuffle(shuffle_key);
  for (size_t i = boxes.size(); i > 1; --i) std::swap(boxes[i - 1], boxes[shuffle.below(i)]);
  if (boxes.size() > size_t(max_boxes)) boxes.resize(size_t(max_boxes));
  const float crop_w = float(crop_width(draws, ow)), crop_h = float(crop_height(draws, oh));
  std::vector<ObjectBox> moved;
  for (const ObjectBox& box : boxes) {
    if (!usable(box)) continue;
    auto to_crop_x = [&](float u) { return (std::clamp(u, 0.f, 1.f) * float(ow) - float(draws.left)) / crop_w; };
    auto to_crop_y = [&](float v) { return (std::clamp(v, 0.f, 1.f) * float(oh) - float(draws.top)) / crop_h; };
    float left = to_crop_x(box.x - box.w / 2), right = to_crop_x(box.x + box.w / 2);
    const float top = to_crop_y(box.y - box.h / 2), bottom = to_crop_y(box.y + box.h / 2);
    if (draws.flip) {
      const float mirrored_left = 1.f - right;
      right = 1.f - left;
      left = mirrored_left;
    }
    ObjectBox out = from_edges(box, std::clamp(left, 0.f, 1.f), std::clamp(right, 0.f, 1.f),
                               std::clamp(top, 0.f, 1.f), std::clamp(bottom, 0.f, 1.f));
    if (out.w < 1.f / float(net_w) || out.h < 1.f / float(net_h)) continue;
    moved.push_back(out);
  }
  return moved;
}

// One source with its draws and moved boxes, before any pixel is made.
struct Prepared {
  Tensor image;  // the source with the network's channel count
  DetectionDraws draws;
  std::vector<ObjectBox> boxes;
};

Prepared prepare(const AugmentInput& source, const DetectionAugmentOptions& options, int net_w, int net_h,
                 int channels, uint64_t key, int index, int mosaic_quadrant) {
  Prepared out;
  out.image = match_channels(source.image, channels);
  const int ow = int(out.image.shape().w), oh = int(out.image.shape().h);
  out.draws = draw_image(options, ow, oh, net_w, net_h, key, index, mosaic_quadrant);
  out.boxes = move_boxes(source.boxes, out.draws, ow, oh, net_w, net_h, options.yolo.max_boxes,
                         derive(key, kShuffle + uint64_t(index)));
  return out;
}

// One source fully augmented at network size.
AugmentedSample augment_source(const AugmentInput& source, const DetectionAugmentOptions& options, int net_w,
                               int net_h, int channels, uint64_t key, int index) {
  Prepared prepared = prepare(source, options, net_w, net_h, channels, key, index, -1);
  AugmentedSample out{crop_resize_flip(prepared.image, prepared.draws, net_w, net_h), std::move(prepared.boxes)};
  distort_hsv(out.image, prepared.draws.hue, prepared.draws.saturation, prepared.draws.exposure);
  return out;
}

void append_up_to(std::vector<ObjectBox>& boxes, const std::vector<ObjectBox>& more, int max_boxes) {
  for (const ObjectBox& box : more) {
    if (boxes.size() >= size_t(max_boxes)) return;
    boxes.push_back(box);
  }
}

AugmentedSample mixup_sample(std::span<const AugmentInput> sources, const DetectionAugmentOptions& options,
                             int net_w, int net_h, int channels, uint64_t key) {
  AugmentedSample first = augment_source(sources[0], options, net_w, net_h, channels, key, 0);
  const AugmentedSample second = augment_source(sources[1], options, net_w, net_h, channels, key, 1);
  for (int64_t i = 0; i < first.image.size(); ++i)
    first.image.data()[i] = 0.5f * first.image.data()[i] + 0.5f * second.image.data()[i];
  append_up_to(first.boxes, second.boxes, options.yolo.max_boxes);
  return first;
}

// One quadrant of a mosaic: where it lies in the output and which part of
// its own augmented image it shows.
struct Quadrant {
  int x = 0, y = 0, width = 0, height = 0;  // in the output
  int source_x = 0, source_y = 0;           // its top-left in the augmented image
};

// darknet's shifts: the quadrant shows the corner of its image that faces the
// cut point, moved inwards past the crop's padding (estimated, as darknet
// does, at original-image scale).
Quadrant place_quadrant(int quadrant, int cut_x, int cut_y, int net_w, int net_h, int ow, int oh,
                        DetectionDraws draws) {
  if (draws.flip) std::swap(draws.left, draws.right);
  // Padding in network pixels, limited to the quadrant (int64: no overflow).
  auto shift = [](int offset, int net_side, int image_side, int limit) {
    return int(std::min<int64_t>(limit, std::max<int64_t>(0, -int64_t{offset} * net_side / image_side)));
  };
  const int left_shift = shift(draws.left, net_w, ow, cut_x);
  const int right_shift = shift(draws.right, net_w, ow, net_w - cut_x);
  const int top_shift = shift(draws.top, net_h, oh, cut_y), bot_shift = shift(draws.bottom, net_h, oh, net_h - cut_y);
  const bool right = quadrant == 1 || quadrant == 3, bottom = quadrant >= 2;
  Quadrant q;
  q.x = right ? cut_x : 0;
  q.width = right ? net_w - cut_x : cut_x;
  q.source_x = right ? left_shift : net_w - cut_x - right_shift;
  q.y = bottom ? cut_y : 0;
  q.height = bottom ? net_h - cut_y : cut_y;
  q.source_y = bottom ? top_shift : net_h - cut_y - bot_shift;
  return q;
}

// The part of its image a quadrant shows, made (only that part), coloured
// and pasted into the mosaic.
void paste_quadrant(const Prepared& prepared, const Quadrant& q, int net_w, int net_h, Tensor& mosaic) {
  if (q.width < 1 || q.height < 1) return;
  Tensor part = crop_resize_flip_window(prepared.image, prepared.draws, net_w, net_h,
                                        OutputWindow{q.source_x, q.source_y, q.width, q.height});
  distort_hsv(part, prepared.draws.hue, prepared.draws.saturation, prepared.draws.exposure);
  for (int64_t k = 0; k < mosaic.shape().c; ++k)
    for (int y = 0; y < q.height; ++y)
      for (int x = 0; x < q.width; ++x) mosaic.at(0, k, q.y + y, q.x + x) = part.at(0, k, y, x);
}

// Boxes shifted with the quadrant and cut to it. darknet clips to the whole
// image unless mosaic_bound=1; we always clip to the quadrant, since the
// pixels past it show another image (with darknet's rounding a box could
// reach a few pixels into them).
void add_quadrant_boxes(const std::vector<ObjectBox>& boxes, const Quadrant& q, int net_w, int net_h, int max_boxes,
                        std::vector<ObjectBox>& out) {
  const float dx = float(q.x - q.source_x), dy = float(q.y - q.source_y);
  for (const ObjectBox& box : boxes) {
    if (out.size() >= size_t(max_boxes)) return;
    const float left = std::max((box.x - box.w / 2) * float(net_w) + dx, float(q.x));
    const float right = std::min((box.x + box.w / 2) * float(net_w) + dx, float(q.x + q.width));
    const float top = std::max((box.y - box.h / 2) * float(net_h) + dy, float(q.y));
    const float bottom = std::min((box.y + box.h / 2) * float(net_h) + dy, float(q.y + q.height));
    // darknet keeps a box wider and higher than one network pixel.
    if (right - left <= 1.f || bottom - top <= 1.f) continue;
    out.push_back(from_edges(box, left / float(net_w), right / float(net_w), top / float(net_h),
                             bottom / float(net_h)));
  }
}

AugmentedSample mosaic_sample(std::span<const AugmentInput> sources, const DetectionAugmentOptions& options,
                              int net_w, int net_h, int channels, uint64_t key) {
  Stream cut(derive(key, kCutPoint));
  // darknet's rand_int over [0.2, 0.8] of each side, whole pixels.
  const int low_x = int(float(net_w) * 0.2f), high_x = int(float(net_w) * 0.8f);
  const int low_y = int(float(net_h) * 0.2f), high_y = int(float(net_h) * 0.8f);
  const int cut_x = low_x + int(cut.below(uint64_t(high_x - low_x + 1)));
  const int cut_y = low_y + int(cut.below(uint64_t(high_y - low_y + 1)));
  AugmentedSample sample{Tensor(Shape{1, channels, net_h, net_w}), {}};
  for (int quadrant = 0; quadrant < 4; ++quadrant) {
    const AugmentInput& source = sources[size_t(quadrant)];
    const Prepared part = prepare(source, options, net_w, net_h, channels, key, quadrant, quadrant);
    const Quadrant q = place_quadrant(quadrant, cut_x, cut_y, net_w, net_h, int(source.image.shape().w),
                                      int(source.image.shape().h), part.draws);
    paste_quadrant(part, q, net_w, net_h, sample.image);
    add_quadrant_boxes(part.boxes, q, net_w, net_h, options.yolo.max_boxes, sample.boxes);
  }
  return sample;
}

void check_inputs(std::span<const AugmentInput> sources, SampleKind kind, int net_w, int net_h, int channels) {
  const std::string where = "detection augmentation: ";
  if (int(sources.size()) != sources_needed(kind))
    throw Error(where + "expected " + std::to_string(sources_needed(kind)) + " source images, got " +
                std::to_string(sources.size()));
  if (channels != 1 && channels != 3)
    throw Error(where + "expected 1 or 3 network channels, got " + std::to_string(channels));
  if (net_w < 1 || net_h < 1 || !Shape{1, channels, net_h, net_w}.within_limits())
    throw Error(where + "network size " + std::to_string(net_w) + "x" + std::to_string(net_h) + " is out of range");
  for (const AugmentInput& source : sources) {
    const Shape& s = source.image.shape();
    if (s.n != 1 || s.c != 3 || s.h < 1 || s.w < 1 || s.h > 65535 || s.w > 65535)
      throw Error(where + "expected a 1 x 3 x H x W RGB image, got " + std::to_string(s.n) + "x" + s.str());
  }
}

}  // namespace

int sources_needed(SampleKind kind) {
  switch (kind) {
    case SampleKind::mixup:
      return 2;
    case SampleKind::mosaic:
      return 4;
    default:
      return 1;
  }
}

SampleKind batch_sample_kind(const DetectionAugmentOptions& options, uint64_t batch_key) {
  if (!options.mosaic && !options.mixup) return SampleKind::single;
  // darknet: rand_bool() per load turns mixing off for about half the batches.
  if (Stream(derive(batch_key, kBatchCoin)).below(2) == 1) return SampleKind::single;
  return options.mosaic ? SampleKind::mosaic : SampleKind::mixup;
}

AugmentedSample augment_detection(std::span<const AugmentInput> sources, SampleKind kind,
                                  const DetectionAugmentOptions& options, int net_width, int net_height,
                                  int channels, uint64_t key) {
  check_inputs(sources, kind, net_width, net_height, channels);
  if (kind == SampleKind::mosaic) return mosaic_sample(sources, options, net_width, net_height, channels, key);
  if (kind == SampleKind::mixup) return mixup_sample(sources, options, net_width, net_height, channels, key);
  return augment_source(sources[0], options, net_width, net_height, channels, key, 0);
}

AugmentedSample evaluation_sample(const AugmentInput& source, bool letter_box, int net_width, int net_height,
                                  int channels) {
  check_inputs(std::span<const AugmentInput>(&source, 1), SampleKind::single, net_width, net_height, channels);
  const Tensor image = match_channels(source.image, channels);
  if (!letter_box) return AugmentedSample{resize_image(image, net_width, net_height), source.boxes};
  // letterbox_image's placement: the image scaled into new_w x new_h, centred.
  const int64_t ow = image.shape().w, oh = image.shape().h;
  int64_t new_w = net_width, new_h = net_height;
  if (double(net_width) / double(ow) < double(net_height) / double(oh)) {
    new_h = oh * net_width / ow;
  } else {
    new_w = ow * net_height / oh;
  }
  new_w = std::max<int64_t>(new_w, 1), new_h = std::max<int64_t>(new_h, 1);
  const float dx = float((net_width - new_w) / 2), dy = float((net_height - new_h) / 2);
  AugmentedSample sample{letterbox_image(image, net_width, net_height), {}};
  for (ObjectBox box : source.boxes) {
    box.x = (box.x * float(new_w) + dx) / float(net_width);
    box.y = (box.y * float(new_h) + dy) / float(net_height);
    box.w *= float(new_w) / float(net_width);
    box.h *= float(new_h) / float(net_height);
    sample.boxes.push_back(box);
  }
  return sample;
}

}  // namespace cspnet
