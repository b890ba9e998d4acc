// A network is built at the size it is asked for: shapes are inferred once,
// at that size, so a cfg whose layers only fit at another size than its own
// [net] width/height still loads there (ParseOptions::width/height/batch).
#include <gtest/gtest.h>

#include "cspnet/cspnet.hpp"
#include "test_helpers.hpp"

namespace cspnet {
namespace {

// A map, the same map down by 2 (rounding up) and up by 2 again, then a
// route of both: only even sizes line up.
constexpr const char* kEvenOnly = R"([net]
width=29
height=29
channels=3
[convolutional]
filters=4
size=1
[convolutional]
filters=4
size=3
stride=2
pad=1
[upsample]
stride=2
[route]
layers=-1,-3
)";

TEST(NetworkSize, CfgThatOnlyFitsAtAnotherSizeFailsAtItsOwn) {
  tests::expect_error_mentioning([] { Network::from_cfg(parse_cfg_text(kEvenOnly, "even.cfg")); },
                                 {"even.cfg:15", "must share width and height"});
}

TEST(NetworkSize, IsBuiltAtTheRequestedSizeAndBatchFromTheStart) {
  ParseOptions parse;
  parse.width = 32;
  parse.height = 24;
  parse.batch = 3;
  const Network net = Network::from_cfg(parse_cfg_text(kEvenOnly, "even.cfg"), parse);
  EXPECT_EQ(net.input_shape(), (Shape{3, 3, 24, 32}));
  EXPECT_EQ(net.layer(3).output_shape(), (Shape{3, 8, 24, 32}));
  EXPECT_EQ(net.config().width, 32);
}

}  // namespace
}  // namespace cspnet
