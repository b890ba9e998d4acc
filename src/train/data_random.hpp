#pragma once
// Counter-based random numbers for the data pipeline: every draw is a pure
// function of a 64-bit key (seed, epoch, image position, ...), so batches do
// not depend on thread count or scheduling, and resuming needs no RNG state.
// Our own generator (splitmix64) rather than <random>'s distributions, whose
// output differs between standard libraries.
#include <cstdint>

#include "core/splitmix.hpp"

namespace cspnet::data_random {

// splitmix64: one step of its counter, then its finaliser.
inline uint64_t mix64(uint64_t x) { return splitmix64_finalise(x + kSplitmixIncrement); }

// A key for a sub-stream: hash of a parent key and a value.
inline uint64_t derive(uint64_t key, uint64_t value) { return mix64(key ^ mix64(value ^ 0x6a09e667f3bcc909ull)); }

class Stream {
 public:
  explicit Stream(uint64_t key) : state_(key) {}
  uint64_t next() {
    state_ += kSplitmixIncrement;
    return mix64(state_);
  }
  // Uniform in [0, 1) with 24 bits (exactly representable floats).
  float uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }
  float uniform(float low, float high) { return low + (high - low) * uniform(); }
  // Uniform integer in [0, n) for n >= 1 (the modulo bias is negligible for
  // the small n used here: n << 2^64).
  uint64_t below(uint64_t n) { return next() % n; }
  // Uniform integer in [-n, n].
  int symmetric(int n) { return static_cast<int>(below(2 * static_cast<uint64_t>(n) + 1)) - n; }

 private:
  uint64_t state_;
};

}  // namespace cspnet::data_random
