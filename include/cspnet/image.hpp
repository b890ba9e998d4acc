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
// Writes image 0 of a 1 x C x H x W tensor (C = 1 grey, 3 RGB or 4 RGBA;
// values in [0,1], clamped, rounded to 8 bits) as a PNG file, atomically.
void save_png(const std::string& path, const Tensor& image);
// Writes a float32 C-order .npy file atomically.
void save_npy(const std::string& path, const Tensor& tensor);

}  // namespace cspnet
