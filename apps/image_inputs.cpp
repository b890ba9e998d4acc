#include "image_inputs.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "cspnet/detection_data.hpp"
#include "cspnet/error.hpp"
#include "cspnet/file_input.hpp"

namespace cspnet::cli {
namespace {

namespace fs = std::filesystem;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return text;
}

std::vector<std::string> images_in_folder(const std::string& folder) {
  std::vector<std::string> images;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && has_image_extension(it->path().string())) images.push_back(it->path().string());
  if (ec) throw Error(folder + ": cannot list folder: " + ec.message());
  if (images.empty()) throw Error(folder + ": folder holds no png, jpg, jpeg or bmp image");
  std::sort(images.begin(), images.end());  // the same order on every file system
  return images;
}

// A missing image is reported before any image is processed, so a typo in
// the last path does not leave the outputs of the first ones behind.
void check_image_file(const std::string& path, const std::string& named_in) {
  try {
    open_regular_file(path, "image");
  } catch (const Error& e) {
    throw Error(named_in.empty() ? std::string(e.what()) : std::string(e.what()) + " (listed in " + named_in + ")");
  }
}

}  // namespace

bool has_image_extension(const std::string& path) {
  const std::string extension = lower(fs::path(path).extension().string());
  return extension == ".png" || extension == ".jpg" || extension == ".jpeg" || extension == ".bmp";
}

std::vector<std::string> expand_image_inputs(const std::vector<std::string>& arguments) {
  std::vector<std::string> images;
  for (const std::string& argument : arguments) {
    if (argument.size() > 1 && argument[0] == '@') {
      const std::string list = argument.substr(1);
      for (const std::string& path : read_image_list(list)) {
        check_image_file(path, list);
        images.push_back(path);
      }
    } else if (fs::is_directory(argument)) {
      for (std::string& path : images_in_folder(argument)) images.push_back(std::move(path));
    } else {
      check_image_file(argument, "");
      images.push_back(argument);
    }
  }
  return images;
}

}  // namespace cspnet::cli
