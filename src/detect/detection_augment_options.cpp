// Reading the detection augmentation keys of [net] and the last [yolo].
#include "cspnet/detection_augment.hpp"

namespace cspnet {
namespace {

bool read_bool(Options& section, const char* key, bool fallback) {
  const std::string value = section.get_string(key, fallback ? "1" : "0");
  if (value != "0" && value != "1") section.fail(key, "0 or 1");
  return value == "1";
}

float read_float(Options& section, const char* key, float fallback, float low, float high, bool low_open,
                 bool high_open, const char* expected) {
  const float value = section.get_float(key, fallback);
  const bool below = low_open ? value <= low : value < low;
  const bool above = high_open ? value >= high : value > high;
  if (below || above) section.fail(key, expected);
  return value;
}

// blur and gaussian_noise change pixels but not boxes; we have neither yet,
// and silently training without them would not be the run the cfg asks for.
void refuse_unsupported(Options& net, const char* key) {
  if (net.get_int(key, 0) != 0) net.fail(key, "0 (cspnet does not implement this augmentation for detection)");
}

}  // namespace

YoloAugmentKeys parse_yolo_augment_keys(Options& yolo) {
  YoloAugmentKeys keys;
  // jitter >= 0.5 could leave a crop of no pixels.
  keys.jitter = read_float(yolo, "jitter", keys.jitter, 0.f, 0.5f, false, true, "a fraction in [0, 0.5)");
  keys.resize = read_float(yolo, "resize", keys.resize, 0.f, 100.f, true, false, "a zoom factor in (0, 100]");
  keys.max_boxes = yolo.get_int("max", keys.max_boxes);
  if (keys.max_boxes < 1 || keys.max_boxes > 100000) yolo.fail("max", "a box count in 1..100000");
  keys.random = read_float(yolo, "random", keys.random, 0.f, 10.f, false, false,
                           "0 (off), 1 (darknet's 1.4) or a scale coefficient up to 10");
  return keys;
}

DetectionAugmentOptions parse_detection_augment_options(Options& net, const YoloAugmentKeys& yolo) {
  DetectionAugmentOptions options;
  options.yolo = yolo;
  options.flip = read_bool(net, "flip", true);
  options.hue = read_float(net, "hue", 0.f, 0.f, 1.f, false, false, "a fraction of the hue circle in 0..1");
  options.saturation =
      read_float(net, "saturation", 1.f, 0.f, 1e3f, true, false, "a positive scale (1 = no change)");
  options.exposure = read_float(net, "exposure", 1.f, 0.f, 1e3f, true, false, "a positive scale (1 = no change)");
  options.mosaic = read_bool(net, "mosaic", false);
  options.mosaic_bound = read_bool(net, "mosaic_bound", false);
  options.letter_box = read_bool(net, "letter_box", false);
  options.mixup = read_bool(net, "mixup", false);
  options.resize_step = net.get_int("resize_step", 32);
  if (options.resize_step < 1 || options.resize_step > 4096) net.fail("resize_step", "pixels in 1..4096");
  if (read_bool(net, "cutmix", false)) net.fail("cutmix", "0 (darknet does not support cutmix for detectors)");
  if (options.letter_box && options.mosaic)
    net.fail("letter_box", "0 when mosaic=1 (darknet: letterbox and mosaic cannot be combined)");
  refuse_unsupported(net, "blur");
  refuse_unsupported(net, "gaussian_noise");
  return options;
}

}  // namespace cspnet
