#pragma once
// The images a command reads, from what its user typed: image files, folders
// (their png/jpg/jpeg/bmp files, sorted by name, not recursive) and list files
// written `@list.txt` (one path per line, as darknet's train.txt, read by
// read_image_list: blank lines skipped, a relative path from the current
// directory or else beside the list, as the detection data lists are read).
#include <string>
#include <vector>

namespace cspnet::cli {

// Every image path the arguments name, in order. An Error naming the
// argument when a file is missing or not a regular file, a folder holds no
// image or a list file lists none.
std::vector<std::string> expand_image_inputs(const std::vector<std::string>& arguments);

// Whether `path` ends in .png, .jpg, .jpeg or .bmp (any case).
bool has_image_extension(const std::string& path);

}  // namespace cspnet::cli
