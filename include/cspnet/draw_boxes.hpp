#pragma once
// Drawing detections onto an image (detector test output, augmentation
// previews): a rectangle per box in its class's colour and a label with the
// class name and score in a small built-in bitmap font (no font files).
#include <array>
#include <string>
#include <vector>

#include "cspnet/boxes.hpp"
#include "cspnet/tensor.hpp"

namespace cspnet {

// A bright colour per class (RGB in [0,1]), distinct for neighbouring ids.
std::array<float, 3> class_colour(int cls);

// Draws `boxes` (relative centre/size) onto image 0 of a 1 x C x H x W
// tensor (C = 1 grey, 3 RGB or 4 RGBA; alpha untouched), clipped to it.
// Labels read "name 87%" (the class id when `names` has no entry; no score
// when it is < 0). Lower-case letters are drawn as capitals.
void draw_boxes(Tensor& image, const std::vector<ScoredBox>& boxes, const std::vector<std::string>& names);

// Writes `text` with its top-left corner at (x, y) in `colour`, each font
// pixel `scale` x `scale` image pixels; returns the width drawn in pixels.
int draw_text(Tensor& image, const std::string& text, int x, int y, std::array<float, 3> colour, int scale);

// Width and height in pixels of `text` at `scale`.
int text_width(const std::string& text, int scale);
int text_height(int scale);

}  // namespace cspnet
