#pragma once
// Graph identity for tests: two networks with the same layer sequence,
// edges, shapes and counts; two cfgs with the same sections once darknet's
// defaults are filled in and references made absolute.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "cspnet/cfg.hpp"
#include "cspnet/network.hpp"

namespace cspnet::tests {

// ---------------------------------------------------------------------------
// Graph identity: the same layer sequence, edges, shapes and counts, and the
// same semantics per section (a layer's activation is not visible in Layer).

inline void expect_same_graph(const Network& a, const Network& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what << ": layer count";
  EXPECT_EQ(a.input_shape(), b.input_shape()) << what;
  for (int i = 0; i < a.size(); ++i) {
    const Layer& x = a.layer(i);
    const Layer& y = b.layer(i);
    const std::string at = what + " layer " + std::to_string(i);
    ASSERT_EQ(x.type(), y.type()) << at;
    EXPECT_EQ(x.inputs(), y.inputs()) << at;
    EXPECT_EQ(x.output_shape(), y.output_shape()) << at;
    EXPECT_EQ(x.filters(), y.filters()) << at;
    EXPECT_EQ(x.geometry(), y.geometry()) << at;
    EXPECT_EQ(x.parameter_count(), y.parameter_count()) << at;
    EXPECT_EQ(x.conv_weight_count(), y.conv_weight_count()) << at;
    EXPECT_EQ(x.bflops(), y.bflops()) << at;
  }
  EXPECT_EQ(a.parameter_count(), b.parameter_count()) << what;
  EXPECT_EQ(a.conv_weight_count(), b.conv_weight_count()) << what;
  EXPECT_EQ(a.bflops(), b.bflops()) << what;
}

// A section's meaning with darknet's defaults filled in and layer references
// made absolute, so that '-2' and '5', or 'pad=1' and 'padding=0' on a 1x1,
// compare equal.
inline std::map<std::string, std::string> canonical(const CfgSection& section, int index) {
  std::map<std::string, std::string> kv;
  for (const auto& e : section.entries) {
    // Spaces inside a value carry no meaning ("10,13,  16,30" anchors).
    std::string value;
    for (char ch : e.value)
      if (ch != ' ' && ch != '\t') value += ch;
    kv.emplace(e.key, value);  // the first occurrence wins
  }
  for (const char* key : {"layers", "from"}) {
    auto it = kv.find(key);
    if (it == kv.end()) continue;
    std::string resolved;
    size_t start = 0;
    while (start <= it->second.size()) {
      size_t comma = it->second.find(',', start);
      if (comma == std::string::npos) comma = it->second.size();
      int ref = std::stoi(it->second.substr(start, comma - start));
      if (!resolved.empty()) resolved.push_back(',');
      resolved.append(std::to_string(ref < 0 ? index + ref : ref));
      start = comma + 1;
    }
    it->second = resolved;
  }
  if (section.name != "convolutional") return kv;
  auto get = [&](const std::string& key, const std::string& fallback) {
    auto it = kv.find(key);
    return it == kv.end() ? fallback : it->second;
  };
  const int size = std::stoi(get("size", "1"));
  const std::string stride = get("stride", "1");
  const int pad = std::stoi(get("pad", "0"));
  return {{"filters", get("filters", "1")},
          {"size", std::to_string(size)},
          {"stride_x", get("stride_x", stride)},
          {"stride_y", get("stride_y", stride)},
          {"padding", get("padding", std::to_string(pad ? size / 2 : 0))},
          {"groups", get("groups", "1")},
          {"dilation", get("dilation", "1")},
          {"batch_normalize", get("batch_normalize", "0")},
          {"activation", get("activation", "logistic")}};
}

inline void expect_same_sections(const CfgFile& a, const CfgFile& b, const std::string& what) {
  ASSERT_EQ(a.sections.size(), b.sections.size()) << what;
  for (size_t s = 1; s < a.sections.size(); ++s) {
    const std::string at = what + " layer " + std::to_string(s - 1);
    ASSERT_EQ(a.sections[s].name, b.sections[s].name) << at;
    EXPECT_EQ(canonical(a.sections[s], int(s) - 1), canonical(b.sections[s], int(s) - 1)) << at;
  }
}

}  // namespace cspnet::tests
