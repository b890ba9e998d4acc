// [cost]: backward is the identity.
#include <gtest/gtest.h>

#include "layer_reference.hpp"

namespace {
namespace backward {

using namespace cspnet::tests::layer_gradients;

TEST(CostGradient, IsTheIdentity) {
  EXPECT_TRUE(check_layer_gradients(GradientCase{net(3, 4, 1, 1) + "[cost]\ntype=sse\n", 0, 2},
                                    [](const RefInputs& in, const RefParams&) { return in[0]; }));
}

}  // namespace backward
}  // namespace
