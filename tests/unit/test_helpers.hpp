#pragma once
// Shared test helpers: locating cfg corpora, random inputs, checking errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <random>
#include <span>
#include <string>
#include <string_view>

#include "cspnet/cfg.hpp"
#include "cspnet/error.hpp"
#include "cspnet/tensor.hpp"

namespace cspnet::tests {

inline std::string shared_cfg(const std::string& name) { return std::string(CSPNET_SHARED_CFG_DIR) + "/" + name; }
inline std::string test_cfg(const std::string& name) { return std::string(CSPNET_TEST_CFG_DIR) + "/" + name; }
// A [net] section on line 1 with `keys` one a line from line 2, in map order,
// as a cfg file would hold them (for Options over [net] training keys).
inline CfgSection net_section(const std::map<std::string, std::string>& keys) {
  CfgSection section{"net", 1, {}, {}};
  for (const auto& [key, value] : keys)
    section.entries.push_back(CfgEntry{key, value, int(section.entries.size()) + 2, {}});
  return section;
}
inline bool have_shared_cfg() { return std::filesystem::exists(shared_cfg("csdarknet53.cfg")); }

// The largest |got - want| and the largest |want| (the scale to judge it by)
// over two arrays of equal length.
struct Deviation {
  double worst = 0, scale = 0;
};
inline Deviation deviation(std::span<const float> got, std::span<const float> want) {
  Deviation d;
  for (size_t k = 0; k < want.size(); ++k) {
    d.scale = std::max(d.scale, double(std::fabs(want[k])));
    d.worst = std::max(d.worst, double(std::fabs(got[k] - want[k])));
  }
  return d;
}

inline Tensor random_input(const Shape& shape, uint32_t seed) {
  Tensor t(shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  for (auto& v : t.values()) v = uniform(rng);
  return t;
}

// Runs `action` and expects a cspnet::Error whose message contains each of
// `fragments` (the file or key at fault, what was expected).
template <class Action>
void expect_error_mentioning(Action&& action, std::initializer_list<std::string_view> fragments) {
  try {
    action();
    ADD_FAILURE() << "expected a cspnet::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    for (std::string_view fragment : fragments)
      EXPECT_NE(message.find(fragment), std::string::npos) << "'" << fragment << "' not in: " << message;
  }
}

}  // namespace cspnet::tests

#define CSPNET_REQUIRE_SHARED_CFG()                                                                      \
  do {                                                                                                   \
    if (!cspnet::tests::have_shared_cfg())                                                             \
      GTEST_SKIP() << "../shared/cfg (the paper's official cfg files) is absent: " CSPNET_SHARED_CFG_DIR; \
  } while (0)
