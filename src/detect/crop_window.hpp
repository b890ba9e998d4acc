#pragma once
// crop_resize_flip for a window of the output only: a mosaic quadrant shows
// a part of its image, and only that part needs computing.
#include "cspnet/detection_augment.hpp"

namespace cspnet {

struct OutputWindow {
  int x = 0, y = 0, width = 0, height = 0;
};

// Pixels [x, x + width) x [y, y + height) of crop_resize_flip(source,
// draws, net_w, net_h), as a 1 x C x height x width tensor.
Tensor crop_resize_flip_window(const Tensor& source, const DetectionDraws& draws, int net_w, int net_h,
                               const OutputWindow& window);

}  // namespace cspnet
