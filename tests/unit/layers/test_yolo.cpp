// [yolo]: forward against a naive reference.
#include <gtest/gtest.h>

#include "layer_reference.hpp"

namespace {

using namespace cspnet::tests::layer_reference;

TEST(LayerReference, YoloMatchesReferenceActivationsAndScaleXY) {
  // Raw input straight into the head: every entry of every anchor is checked.
  check_layers(NetSpec{5, 3, 16, 2, {yolo({.mask = {1, 2}, .num = 3, .classes = 3, .scale_x_y = 1.1})}}, -4, 4);
  check_layers(NetSpec{5, 3, 16, 2, {yolo({.mask = {0, 1}, .num = 2, .classes = 3, .scale_x_y = 2.0,
                                           .new_coords = true})}},
               -4, 4);
  check_layers(NetSpec{4, 4, 7, 1, {yolo({.mask = {0}, .num = 1, .classes = 2})}}, -4, 4);
  // Behind a convolution, the usual layout.
  check_layers(NetSpec{6, 5, 3, 2, {conv({.filters = 3 * 9, .size = 1, .pad = Pad::none}),
                                    yolo({.mask = {3, 4, 5}, .num = 6, .classes = 4, .scale_x_y = 1.05})}},
               -2, 2);
}

}  // namespace
