// libFuzzer target: the [net] training keys and `--set` overrides, through
// every reader the trainers use. The input is cfg text (a [net] section
// and, optionally, a [yolo] one); the lines after a line "--set" are
// overrides `key=value` as `cspnet train --set` takes them (keys that are
// not training keys are refused there before anything reads them, so they
// are dropped here). Read, each from the [net] keys with the overrides in
// front (NetTrainingKeys): the learning-rate schedule (then rate_at over a
// run), the optimizer, classification and detection augmentation, and
// multi-scale sizes. A cspnet::Error is the expected outcome for bad input;
// any other exception, a sanitizer report or a crash is a bug.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cspnet/augment.hpp"
#include "cspnet/detection_augment.hpp"
#include "cspnet/error.hpp"
#include "cspnet/lr_schedule.hpp"
#include "cspnet/network.hpp"
#include "cspnet/optimizer.hpp"
#include "fuzz_util.hpp"
#include "train/net_training_keys.hpp"

namespace {

struct Input {
  std::string cfg;
  std::map<std::string, std::string> overrides;
};

Input split(std::string_view text) {
  Input input;
  const size_t marker = text.find("\n--set\n");
  input.cfg = std::string(text.substr(0, marker));
  if (marker == std::string_view::npos) return input;
  std::string_view rest = text.substr(marker + 7);
  while (!rest.empty()) {
    const size_t end = std::min(rest.find('\n'), rest.size());
    const std::string_view entry = rest.substr(0, end);
    const size_t eq = entry.find('=');
    // cspnet train's own checks: key=value with a training key.
    if (eq != std::string_view::npos && eq > 0 && cspnet::is_net_training_key(std::string(entry.substr(0, eq))))
      input.overrides[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
    rest.remove_prefix(std::min(end + 1, rest.size()));
  }
  return input;
}

template <class Read>
void read_keys(const cspnet::NetConfig& config, const std::vector<cspnet::CfgEntry>& overrides, Read read) {
  try {
    cspnet::NetTrainingKeys keys(config, overrides);
    read(keys.options());
  } catch (const cspnet::Error&) {
    // bad value, reported with its line or --set
  }
}

void schedule(cspnet::Options& net) {
  const cspnet::LrSchedule s = cspnet::parse_lr_schedule(net);
  for (uint64_t batch : {uint64_t{0}, uint64_t{1}, uint64_t{999}, uint64_t{1} << 20, uint64_t{1} << 40}) {
    const float rate = s.rate_at(batch);
    (void)rate;
  }
}

void multiscale(cspnet::Options& net, const cspnet::YoloAugmentKeys& yolo) {
  const cspnet::DetectionAugmentOptions options = cspnet::parse_detection_augment_options(net, yolo);
  cspnet::MultiScaleSchedule s;
  s.initial_width = s.initial_height = 64;
  s.resize_step = options.resize_step;
  s.random = options.yolo.random;
  s.max_batches = net.get_int64("max_batches", 1000);
  const cspnet::NetSize largest = cspnet::multiscale_max_size(s);
  for (int64_t iteration : {int64_t{0}, int64_t{10}, int64_t{20}, s.max_batches})
    (void)cspnet::multiscale_dynamic_batch(8, largest, cspnet::multiscale_size(s, iteration));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Input input = split(fuzz::as_text(data, size));
  cspnet::CfgFile cfg;
  try {
    cfg = cspnet::parse_cfg_text(input.cfg, "fuzz.cfg");
  } catch (const cspnet::Error&) {
    return 0;
  }
  if (cfg.sections.empty() || (cfg.sections[0].name != "net" && cfg.sections[0].name != "network")) return 0;
  cspnet::NetConfig config;
  config.section = cfg.sections[0];
  config.path = cfg.path;
  const auto overrides = cspnet::override_entries(input.overrides, "--set");

  cspnet::YoloAugmentKeys yolo;  // the last [yolo]'s, as the detector trainer takes them
  try {
    for (const cspnet::CfgSection& section : cfg.sections) {
      if (section.name != "yolo") continue;
      cspnet::Options options(section, cfg.path);
      yolo = cspnet::parse_yolo_augment_keys(options);
    }
  } catch (const cspnet::Error&) {
    return 0;  // the detector trainer stops here
  }
  read_keys(config, overrides, schedule);
  read_keys(config, overrides, [](cspnet::Options& net) { cspnet::parse_optimizer_config(net).validate("fuzz"); });
  read_keys(config, overrides, [](cspnet::Options& net) {
    const cspnet::AugmentOptions a = cspnet::parse_augment_options(net);
    std::vector<float> image(3 * 6 * 5, 0.5f);
    cspnet::apply_augment(cspnet::draw_augment_params(a, 12345), image.data(), 3, 6, 5);
  });
  read_keys(config, overrides, [&](cspnet::Options& net) { multiscale(net, yolo); });
  return 0;
}
