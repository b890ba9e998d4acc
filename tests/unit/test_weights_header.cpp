// darknet's .weights header: `seen` is 8 bytes from version 0.2 on, 4 bytes
// before, and 4 bytes again when major or minor is 1000 or more.
#include <gtest/gtest.h>

#include "cspnet/cspnet.hpp"

namespace {

using namespace cspnet;

TEST(WeightsHeader, SeenWidthFollowsDarknetsVersionRule) {
  Network net = Network::from_cfg(
      parse_cfg_text("[net]\nwidth=4\nheight=4\nchannels=1\n[connected]\noutput=3\nactivation=linear\n", "h.cfg"));
  const int64_t params = (3 * 16 + 3) * 4;
  auto bytes = [&](int32_t major, int32_t minor) {
    WeightsHeader h;
    h.major = major;
    h.minor = minor;
    return expected_weights_bytes(net, h) - params;
  };
  EXPECT_EQ(bytes(0, 1), 16);
  EXPECT_EQ(bytes(0, 2), 20);
  EXPECT_EQ(bytes(1, 0), 20);
  EXPECT_EQ(bytes(0, 1000), 16);
  EXPECT_EQ(bytes(0, 1001), 16);
  EXPECT_EQ(bytes(1000, 0), 16);
}

}  // namespace
