#pragma once
// Image input with darknet's preprocessing, and .npy output.
#include <string>

#include "cspnet/tensor.hpp"

namespace cspnet {

// Decodes png/jpg/bmp into a 1x3xHxW tensor of RGB values in [0,1].
Tensor load_image_rgb(const std::string& path);
// Bilinear resize exactly as darknet's resize_image.
Tensor resize_image(const Tensor& image, int width, int height);
// darknet's letterbox: aspect-preserving resize centred on a 0.5 grey canvas.
Tensor letterbox_image(const Tensor& image, int width, int height);
// Adapts the channel count to the network input (grey <- mean of RGB).
Tensor match_channels(const Tensor& image, int channels);
// Writes a float32 C-order .npy file atomically.
void save_npy(const std::string& path, const Tensor& tensor);

}  // namespace cspnet
