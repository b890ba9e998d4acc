#pragma once
// An image file's size from its header, through the same checks as
// load_image_rgb (regular file, JPEG Huffman tables that stb can hold).
#include <string>
#include <utility>

namespace cspnet {

// {width, height}; an Error naming `path` when the header cannot be read.
std::pair<int, int> read_image_size(const std::string& path);

}  // namespace cspnet
