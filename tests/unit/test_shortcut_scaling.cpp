// darknet's [shortcut] alpha/beta: out = alpha*out + beta*from only where
// `from` contributes; cells and channels it does not reach pass through.
#include <gtest/gtest.h>

#include "cspnet/cspnet.hpp"
#include "test_helpers.hpp"

namespace {

using namespace cspnet;

struct ShortcutRun {
  Tensor prev, from, out;
};

ShortcutRun run(const std::string& cfg, int prev, int from, int shortcut) {
  Network net = Network::from_cfg(parse_cfg_text(cfg, "scaling.cfg"));
  init_weights(net, 12);
  ExecOptions options;
  options.reuse_memory = false;
  options.fuse_residual = false;
  Executor executor(net, options);
  executor.forward(tests::random_input(net.input_shape(), 2));
  return ShortcutRun{executor.layer_output(prev), executor.layer_output(from), executor.layer_output(shortcut)};
}

TEST(ShortcutScaling, AlphaOnlyScalesChannelsThatReceiveASum) {
  // previous: 32 channels; from: 16 channels (both 6x6).
  ShortcutRun r = run("[net]\nwidth=6\nheight=6\nchannels=3\n[convolutional]\nfilters=16\nsize=1\nactivation=linear\n"
              "[convolutional]\nfilters=32\nsize=1\nactivation=linear\n"
              "[shortcut]\nfrom=-2\nalpha=0.5\nbeta=2\nactivation=linear\n",
              1, 0, 2);
  for (int64_t c = 0; c < 32; ++c)
    for (int64_t y = 0; y < 6; ++y)
      for (int64_t x = 0; x < 6; ++x) {
        float expected = c < 16 ? 0.5f * r.prev.at(0, c, y, x) + 2.f * r.from.at(0, c, y, x) : r.prev.at(0, c, y, x);
        ASSERT_NEAR(r.out.at(0, c, y, x), expected, 1e-5f) << c << "," << y << "," << x;
      }
}

TEST(ShortcutScaling, AlphaOnlyScalesTheSampledCells) {
  // previous: 8x8; from: 4x4 (original darknet: sample = 2, added at even cells).
  ShortcutRun r = run("[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilters=4\nsize=1\nstride=2\nactivation=linear\n"
              "[route]\nlayers=-1\n[upsample]\nstride=2\n[convolutional]\nfilters=4\nsize=1\nactivation=linear\n"
              "[shortcut]\nfrom=0\nalpha=0.5\nbeta=3\nactivation=linear\n",
              3, 0, 4);
  for (int64_t c = 0; c < 4; ++c)
    for (int64_t y = 0; y < 8; ++y)
      for (int64_t x = 0; x < 8; ++x) {
        const bool sampled = y % 2 == 0 && x % 2 == 0;
        float expected = sampled ? 0.5f * r.prev.at(0, c, y, x) + 3.f * r.from.at(0, c, y / 2, x / 2)
                                 : r.prev.at(0, c, y, x);
        ASSERT_NEAR(r.out.at(0, c, y, x), expected, 1e-5f) << c << "," << y << "," << x;
      }
}

}  // namespace
