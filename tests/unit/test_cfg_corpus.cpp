// The project's own cfg corpus (tests/cfg): together its files use every
// layer kind the registry knows, parse under --strict, and run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>

#include "cspnet/cspnet.hpp"
#include "test_helpers.hpp"

namespace {

using namespace cspnet;

const char* kCorpus[] = {"csp_every_layer.cfg", "classifier_every_head.cfg", "original_shortcut.cfg"};

TEST(OwnCorpus, CoversEveryLayerKind) {
  std::set<std::string> used;
  for (const char* name : kCorpus)
    for (const auto& section : read_cfg_file(tests::test_cfg(name)).sections) used.insert(section.name);
  const std::set<std::string> aliases = {"conv", "max", "avg", "conn", "soft"};
  for (const auto& kind : layer_section_names())
    if (!aliases.count(kind)) {
      EXPECT_TRUE(used.count(kind)) << "no cfg in tests/cfg uses [" << kind << "]";
    }
}

TEST(OwnCorpus, ParsesStrictlyAndRunsToFiniteOutputs) {
  for (const char* name : kCorpus) {
    Network net = Network::from_cfg_file(tests::test_cfg(name), ParseOptions{true});
    init_weights(net, 11);
    Executor executor(net);
    for (const Tensor& out : executor.forward(tests::random_input(net.input_shape(), 3))) {
      ASSERT_GT(out.size(), 0) << name;
      for (float v : out.values()) ASSERT_TRUE(std::isfinite(v)) << name;
    }
  }
}

// Batch > 1 makes channel slices non-contiguous across images: every image of
// a batch must still equal the same image run alone.
TEST(OwnCorpus, EachImageOfABatchEqualsItsSingleImageRun) {
  for (const char* name : kCorpus) {
    Network net = Network::from_cfg_file(tests::test_cfg(name));
    init_weights(net, 13);
    const Shape one = net.input_shape();
    net.reshape(int(one.w), int(one.h), 3);
    Tensor batch = tests::random_input(net.input_shape(), 17);
    std::vector<Tensor> batched = Executor(net).forward(batch);
    net.reshape(int(one.w), int(one.h), 1);
    Executor single(net);
    for (int64_t n = 0; n < 3; ++n) {
      Tensor image(one);
      std::memcpy(image.data(), batch.data() + n * one.per_image(), size_t(one.per_image()) * sizeof(float));
      std::vector<Tensor> alone = single.forward(image);
      ASSERT_EQ(alone.size(), batched.size());
      for (size_t o = 0; o < alone.size(); ++o) {
        const int64_t per = alone[o].size();
        for (int64_t i = 0; i < per; ++i)
          ASSERT_NEAR(batched[o].data()[n * per + i], alone[o].data()[i], 1e-4f * (1 + std::fabs(alone[o].data()[i])))
              << name << " output " << o << " image " << n << " element " << i;
      }
    }
  }
}

}  // namespace
