#pragma once
// splitmix64's finaliser: a bijective, well-mixing 64-bit hash. The basis of
// our counter-based random numbers (data pipeline, dropout masks, per-pass
// seeds), which are pure functions of a key and so independent of threads.
#include <cstdint>

namespace cspnet {

inline constexpr uint64_t kSplitmixIncrement = 0x9e3779b97f4a7c15ull;

inline uint64_t splitmix64_finalise(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace cspnet
