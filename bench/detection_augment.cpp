// Time per augmented detection sample (one thread): single-image and mosaic
// at the network sizes given, from 640 x 480 sources with 10 boxes each,
// jitter .3, hue .1, saturation and exposure 1.5.
// Usage: cspnet_bench_detection_augment [samples] [size...]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "cspnet/detection_augment.hpp"

int main(int argc, char** argv) {
  using namespace cspnet;
  const int samples = argc > 1 ? std::max(1, std::atoi(argv[1])) : 40;
  std::vector<int> sizes;
  for (int i = 2; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {416, 608};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> unit(0.f, 1.f);
  std::vector<AugmentInput> sources;
  for (int s = 0; s < 4; ++s) {
    AugmentInput input{Tensor(Shape{1, 3, 480, 640}), {}};
    for (float& v : input.image.values()) v = unit(rng);
    for (int b = 0; b < 10; ++b)
      input.boxes.push_back(ObjectBox{0.1f + 0.8f * unit(rng), 0.1f + 0.8f * unit(rng), 0.1f, 0.1f, b});
    sources.push_back(std::move(input));
  }
  DetectionAugmentOptions options;
  options.hue = 0.1f, options.saturation = 1.5f, options.exposure = 1.5f, options.yolo.jitter = 0.3f;
  for (const int size : sizes)
    for (const SampleKind kind : {SampleKind::single, SampleKind::mosaic}) {
      const std::span<const AugmentInput> used(sources.data(), size_t(sources_needed(kind)));
      const auto start = std::chrono::steady_clock::now();
      size_t boxes = 0;
      for (int i = 0; i < samples; ++i)
        boxes += augment_detection(used, kind, options, size, size, 3, uint64_t(i)).boxes.size();
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / samples;
      std::printf("%dx%d %-6s %6.1f ms/sample (%.1f boxes/sample)\n", size, size,
                  kind == SampleKind::single ? "single" : "mosaic", ms, double(boxes) / samples);
    }
  return 0;
}
