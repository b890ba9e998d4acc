// [connected]: forward against a naive reference.
#include <gtest/gtest.h>

#include "layer_reference.hpp"

namespace {

using namespace cspnet::tests::layer_reference;

TEST(LayerReference, ConnectedMatchesReferenceWithAndWithoutBatchNorm) {
  NetSpec spec{5, 4, 3, 3,
               {connected(7, false, Activation::leaky), connected(5, true, Activation::linear),
                connected(6, true, Activation::mish), connected(4, false, Activation::logistic)}};
  for (const ExecOptions& options : {ExecOptions{}, unoptimised()}) check_layers(spec, -2, 2, options);
  // Flattening order C*H*W of a convolution's output.
  NetSpec after_conv{6, 5, 2, 2,
                     {conv({.filters = 3, .size = 3, .stride_x = 2, .stride_y = 1, .act = Activation::leaky}),
                      connected(5, false, Activation::linear)}};
  check_layers(after_conv, -2, 2);
  // Strided inputs and outputs: reading a route-group view, writing into
  // slices of a concat (batch 2, so the slices are not dense).
  NetSpec strided{5, 4, 3, 2,
                  {
                      conv({.filters = 4, .size = 3, .act = Activation::leaky}),  // 0: 4x4x5
                      route({0}, 2, 1),                                           // 1: view, channels 2..3
                      connected(6, false, Activation::linear),                    // 2: reads the view
                      connected(3, true, Activation::leaky),                      // 3
                      route({0}),                                                 // 4: view of 0
                      avgpool(),                                                  // 5: 4x1x1
                      route({2, 3, 5}),                                           // 6: 13x1x1
                      softmax(1),                                                 // 7
                  }};
  for (const ExecOptions& options : {ExecOptions{}, unoptimised()}) check_layers(strided, -2, 2, options);
}

}  // namespace
