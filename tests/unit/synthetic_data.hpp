#pragma once
// A small synthetic IDX classification data set for training tests.
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace cspnet::tests {

// Four classes of texture that a small network with global pooling
// separates quickly: horizontal, vertical or diagonal stripes of random
// phase, or plain noise.
inline void write_texture_idx(const std::filesystem::path& dir, const std::string& prefix, int count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> noise(0, 80), phase(0, 3), label_of(0, 3);
  std::string images, labels;
  auto put32 = [](std::string& b, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(char((v >> shift) & 0xff));
  };
  put32(images, 0x803);
  put32(images, uint32_t(count));
  put32(images, 28);
  put32(images, 28);
  put32(labels, 0x801);
  put32(labels, uint32_t(count));
  for (int i = 0; i < count; ++i) {
    const int label = label_of(rng), p = phase(rng);
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) {
        const int coordinate = label == 0 ? y : label == 1 ? x : x + y;
        const bool stripe = label < 3 && (coordinate + p) % 4 < 2;
        images.push_back(char(stripe ? 150 + noise(rng) : noise(rng)));
      }
    labels.push_back(char(label));
  }
  std::ofstream(dir / (prefix + "-images-idx3-ubyte"), std::ios::binary) << images;
  std::ofstream(dir / (prefix + "-labels-idx1-ubyte"), std::ios::binary) << labels;
}


}  // namespace cspnet::tests
