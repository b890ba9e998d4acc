// [route]: forward against a naive reference, backward against finite differences.
#include <gtest/gtest.h>

#include "layer_reference.hpp"

namespace {
namespace forward {

using namespace cspnet::tests::layer_reference;

NetSpec route_network() {
  return NetSpec{9, 7, 3, 2,
                 {
                     conv({.filters = 4, .size = 3, .act = Activation::leaky}),        // 0
                     conv({.filters = 6, .size = 1, .pad = Pad::none}),                // 1
                     conv({.filters = 2, .size = 3, .act = Activation::tanh}),         // 2
                     route({-1, 0, -2}),                                               // 3: 2, 0, 1
                     route({1}, 2, 1),                                                 // 4: second half of 1
                     route({1, 0}, 2, 1),                                              // 5: several layers with groups
                     route({1}, 3, 2),                                                 // 6: last third of 1
                     conv({.filters = 3, .size = 3, .act = Activation::linear}),       // 7: reads a strided view
                     route({-5, -1}),                                                  // 8: 3, 7 (nested concat)
                     conv({.filters = 4, .size = 1, .pad = Pad::none}),                // 9: reads the concat
                     route({-6}),                                                      // 10: view of a view
                     maxpool({.size = 3, .stride_x = 2, .stride_y = 2}),               // 11: pools a view
                     route({4, 9}),                                                    // 12: a view and a conv
                     conv({.filters = 3, .size = 3, .act = Activation::leaky}),        // 13
                     route({-1, -1}),                                                  // 14: the same layer twice
                 }};
}

TEST(LayerReference, RouteMatchesReferenceConcatAndGroupChunks) {
  for (bool zero_copy : {true, false}) {
    ExecOptions options;
    options.zero_copy_concat = zero_copy;
    check_layers(route_network(), -2, 2, options);
  }
}

}  // namespace forward

namespace backward {

using namespace cspnet::tests::layer_gradients;

// Route: each input's group_id-th chunk of C/groups channels, concatenated.
Values route(const RefInputs& in, const std::vector<Shape>& shapes, int groups, int group_id) {
  Values out;
  const Shape& first = shapes[0];
  for (int64_t n = 0; n < first.n; ++n)
    for (size_t i = 0; i < in.size(); ++i) {
      const Shape& s = shapes[i];
      const int64_t chunk = s.c / groups, plane = s.h * s.w;
      auto begin = in[i].begin() + (n * s.c + chunk * group_id) * plane;
      out.insert(out.end(), begin, begin + chunk * plane);
    }
  return out;
}

// ---- route ---------------------------------------------------------------------

TEST(RouteGradient, ConcatenatesThreeInputs) {
  for (int batch : {1, 3}) {
    // Layers 0..2 have 3, 2 and 5 channels; the route reads 2, 0, 1.
    const std::string cfg = net(batch, 2, 4, 3) + conv(3) + conv(2) + conv(5) + "[route]\nlayers=-1,-3,-2\n";
    const std::vector<Shape> shapes{{batch, 5, 4, 3}, {batch, 3, 4, 3}, {batch, 2, 4, 3}};
    EXPECT_TRUE(check_layer_gradients(GradientCase{cfg, 3, 4}, [&](const RefInputs& in, const RefParams&) {
      return route(in, shapes, 1, 0);
    })) << "batch " << batch;
  }
}

TEST(RouteGradient, GroupSplitGivesZeroOutsideTheChunk) {
  for (int group_id : {0, 1}) {
    const std::string cfg = net(3, 2, 3, 4) + conv(6) + "[route]\nlayers=-1\ngroups=2\ngroup_id=" +
                            std::to_string(group_id) + "\n";
    const std::vector<Shape> shapes{{3, 6, 3, 4}};
    EXPECT_TRUE(check_layer_gradients(GradientCase{cfg, 1, 6}, [&](const RefInputs& in, const RefParams&) {
      return route(in, shapes, 2, group_id);
    })) << "group_id " << group_id;
  }
}

TEST(RouteGradient, GroupsOfSeveralInputs) {
  const std::string cfg = net(1, 2, 3, 4) + conv(6) + conv(4) + "[route]\nlayers=-2,-1\ngroups=2\ngroup_id=1\n";
  const std::vector<Shape> shapes{{1, 6, 3, 4}, {1, 4, 3, 4}};
  EXPECT_TRUE(check_layer_gradients(GradientCase{cfg, 2, 7}, [&](const RefInputs& in, const RefParams&) {
    return route(in, shapes, 2, 1);
  }));
}

TEST(RouteGradient, SameInputTwiceSumsBothGradients) {
  const std::string cfg = net(3, 2, 3, 3) + conv(4) + "[route]\nlayers=-1,-1\n";
  const std::vector<Shape> shapes{{3, 4, 3, 3}, {3, 4, 3, 3}};
  auto concat = [&](const RefInputs& in, const RefParams&) { return route(in, shapes, 1, 0); };
  EXPECT_TRUE(check_layer_gradients(GradientCase{cfg, 1, 8}, concat));
  EXPECT_TRUE(check_read_twice(cfg, 1, concat));
  const std::string grouped = net(1, 2, 3, 3) + conv(4) + "[route]\nlayers=-1,-1\ngroups=2\ngroup_id=1\n";
  const std::vector<Shape> grouped_shapes{{1, 4, 3, 3}, {1, 4, 3, 3}};
  auto split = [&](const RefInputs& in, const RefParams&) { return route(in, grouped_shapes, 2, 1); };
  EXPECT_TRUE(check_layer_gradients(GradientCase{grouped, 1, 9}, split));
  // The first slot writes zeros outside its chunk; the second must add.
  EXPECT_TRUE(check_read_twice(grouped, 1, split));
}

}  // namespace backward
}  // namespace
