#include "cspnet/data_source.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>

#include "cspnet/cfg.hpp"
#include "cspnet/error.hpp"
#include "cspnet/file_input.hpp"
#include "cspnet/image.hpp"

namespace cspnet {
namespace fs = std::filesystem;
namespace {

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool is_image_file(const fs::path& path) {
  // The formats image.cpp's stb build decodes.
  static const std::set<std::string> kExtensions = {".png", ".jpg", ".jpeg", ".bmp"};
  return kExtensions.count(lower(path.extension().string())) > 0;
}

bool is_hidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

std::string trim(const std::string& text) {
  const char* space = " \t\r\n\v\f";
  const auto first = text.find_first_not_of(space);
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(space) - first + 1);
}

// Non-blank, trimmed lines with their 1-based line numbers.
std::vector<std::pair<std::string, int>> read_lines(const std::string& path, const char* what) {
  std::istringstream in(read_text_file(path, what));
  std::vector<std::pair<std::string, int>> lines;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::string text = trim(line);
    if (!text.empty()) lines.emplace_back(std::move(text), number);
  }
  return lines;
}

// Stores a 1 x c x H x W image (already at the network's H x W) as
// `channels` planes: grey replicated to RGB, RGB averaged to grey.
void store_channels(const Tensor& image, int channels, float* out) {
  const Shape& s = image.shape();
  const int64_t plane = s.h * s.w;
  const float* in = image.data();
  if (s.c == channels) {
    std::copy(in, in + plane * channels, out);
  } else if (s.c == 1 && channels == 3) {
    for (int k = 0; k < 3; ++k) std::copy(in, in + plane, out + k * plane);
  } else if (s.c == 3 && channels == 1) {
    for (int64_t i = 0; i < plane; ++i) out[i] = (in[i] + in[plane + i] + in[2 * plane + i]) / 3.f;
  } else {
    throw Error("cannot adapt a " + std::to_string(s.c) + "-channel image to a " + std::to_string(channels) +
                "-channel network input");
  }
}

std::string count_text(int64_t images, int classes) {
  return std::to_string(images) + " images, " + std::to_string(classes) + " classes";
}

}  // namespace

DataSource::DataSource(std::vector<std::string> class_names, int channels, int height, int width)
    : class_names_(std::move(class_names)), shape_{1, channels, height, width} {
  if (channels != 1 && channels != 3)
    throw Error("data: the network input has " + std::to_string(channels) +
                " channels; image data sets feed 1 (grey) or 3 (RGB) channels");
  if (height <= 0 || width <= 0)
    throw Error("data: the network input size " + std::to_string(width) + "x" + std::to_string(height) +
                " must be positive");
  if (class_names_.empty()) throw Error("data: a data set needs at least one class");
}

void DataSource::check_index(int64_t index) const {
  if (index < 0 || index >= size())
    throw Error(describe() + ": image index " + std::to_string(index) + " is outside 0.." + std::to_string(size() - 1));
}

void load_image_file(const std::string& path, int channels, int height, int width, float* chw_out) {
  Tensor image = load_image_rgb(path);  // its errors name the file
  if (image.shape().h != height || image.shape().w != width) image = resize_image(image, width, height);
  store_channels(image, channels, chw_out);
}

// ---------------------------------------------------------------- in memory

InMemoryDataSource::InMemoryDataSource(ImageDataset data, int channels, int height, int width, std::string name)
    : DataSource(data.class_names, channels, height, width), data_(std::move(data)), name_(std::move(name)) {
  const Shape& s = data_.images.shape();
  if (s.c != 1 && s.c != 3)
    throw Error(name_ + ": images have " + std::to_string(s.c) + " channels; expected 1 (grey) or 3 (RGB)");
  if (s.n != data_.size())
    throw Error(name_ + ": " + std::to_string(s.n) + " images but " + std::to_string(data_.size()) + " labels");
  if (data_.size() == 0) throw Error(name_ + ": no images");
  if (static_cast<int>(data_.class_names.size()) != data_.classes)
    throw Error(name_ + ": " + std::to_string(data_.classes) + " classes but " +
                std::to_string(data_.class_names.size()) + " class names");
  for (int64_t i = 0; i < data_.size(); ++i)
    if (data_.labels[size_t(i)] < 0 || data_.labels[size_t(i)] >= data_.classes)
      throw Error(name_ + ": image " + std::to_string(i) + " has label " + std::to_string(data_.labels[size_t(i)]) +
                  "; expected 0.." + std::to_string(data_.classes - 1));
}

int InMemoryDataSource::label(int64_t index) const {
  check_index(index);
  return data_.labels[size_t(index)];
}

void InMemoryDataSource::load(int64_t index, float* chw_out, int* label) const {
  check_index(index);
  const Shape& s = data_.images.shape();
  const Shape& out = image_shape();
  const float* pixels = data_.images.data() + index * s.per_image();
  *label = data_.labels[size_t(index)];
  if (s.c == out.c && s.h == out.h && s.w == out.w) {
    std::copy(pixels, pixels + s.per_image(), chw_out);
    return;
  }
  Tensor image(Shape{1, s.c, s.h, s.w});
  std::copy(pixels, pixels + s.per_image(), image.data());
  if (s.h != out.h || s.w != out.w) image = resize_image(image, int(out.w), int(out.h));
  store_channels(image, int(out.c), chw_out);
}

std::string InMemoryDataSource::describe() const { return name_ + " (" + count_text(size(), classes()) + ")"; }

// ---------------------------------------------------------------- files

int LabelledFilesDataSource::label(int64_t index) const {
  check_index(index);
  return files_[size_t(index)].label;
}

void LabelledFilesDataSource::load(int64_t index, float* chw_out, int* label) const {
  check_index(index);
  const Shape& s = image_shape();
  const LabelledFile& file = files_[size_t(index)];
  load_image_file(file.path, int(s.c), int(s.h), int(s.w), chw_out);
  *label = file.label;
}

// ---------------------------------------------------------------- folder

namespace {

std::vector<std::string> class_folders(const std::string& root) {
  std::error_code ec;
  if (!fs::exists(root, ec)) throw Error(root + ": image folder not found");
  if (!fs::is_directory(root, ec)) throw Error(root + ": not a folder; expected root/<class>/<images>");
  std::vector<std::string> names;
  fs::directory_iterator it(root, ec);
  if (ec) throw Error(root + ": cannot list the folder: " + ec.message());
  for (const auto& entry : it)
    if (!is_hidden(entry.path()) && entry.is_directory(ec)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> images_below(const fs::path& folder) {
  std::vector<std::string> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(folder, ec), end;
  if (ec) throw Error(folder.string() + ": cannot list the folder: " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw Error(folder.string() + ": cannot list the folder: " + ec.message());
    if (is_hidden(it->path())) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (is_image_file(it->path()) && it->is_regular_file(ec)) files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

ImageFolderDataSource::ImageFolderDataSource(const std::string& root, int channels, int height, int width,
                                             const std::vector<std::string>& class_names)
    : LabelledFilesDataSource(
          [&] {
            if (!class_names.empty()) return class_names;
            auto names = class_folders(root);
            if (names.empty())
              throw Error(root + ": no class folders; expected root/<class>/<images> (one sub-folder per class)");
            return names;
          }(),
          channels, height, width),
      root_(root) {
  const auto& names = this->class_names();
  const auto folders = class_names.empty() ? names : class_folders(root);
  for (const std::string& folder : folders) {
    const auto found = std::find(names.begin(), names.end(), folder);
    if (found == names.end())
      throw Error(root + "/" + folder + ": class folder not among the training split's " +
                  std::to_string(names.size()) + " classes");
    const int label = static_cast<int>(found - names.begin());
    const auto files = images_below(fs::path(root) / folder);
    if (files.empty()) throw Error(root + "/" + folder + ": class folder without images (png, jpg, jpeg or bmp files)");
    for (const auto& path : files) files_.push_back({path, label});
  }
  if (files_.empty()) throw Error(root + ": no images (png, jpg, jpeg or bmp files in class folders)");
}

std::string ImageFolderDataSource::describe() const {
  return "image folder " + root_ + " (" + count_text(size(), classes()) + ")";
}

// ---------------------------------------------------------------- list

namespace {

std::vector<std::string> read_label_names(const std::string& labels_path) {
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (auto& [name, line] : read_lines(labels_path, "labels file (one class name per line)")) {
    if (!seen.insert(name).second)
      throw Error(labels_path + ":" + std::to_string(line) + ": class name '" + cfg_excerpt(name) + "' appears twice");
    names.push_back(name);
  }
  if (names.empty()) throw Error(labels_path + ": no class names; expected one class name per line");
  return names;
}

}  // namespace

ImageListDataSource::ImageListDataSource(const std::string& list_path, const std::string& labels_path, int channels,
                                         int height, int width)
    : LabelledFilesDataSource(read_label_names(labels_path), channels, height, width), list_path_(list_path) {
  const auto& names = class_names();
  for (auto& [path, line] : read_lines(list_path, "image list (one image path per line)")) {
    std::vector<int> matches;
    for (size_t k = 0; k < names.size(); ++k)
      if (path.find(names[k]) != std::string::npos) matches.push_back(static_cast<int>(k));
    if (matches.size() != 1) {
      std::string message = list_path + ":" + std::to_string(line) + ": '" + cfg_excerpt(path) + "' contains ";
      if (matches.empty()) {
        message += "none of the " + std::to_string(names.size()) + " class names of " + labels_path;
      } else {
        message += std::to_string(matches.size()) + " class names of " + labels_path + ":";
        for (int k : matches) message += " '" + cfg_excerpt(names[size_t(k)]) + "'";
      }
      throw Error(message + "; exactly one class name must occur in each image path (darknet's rule)");
    }
    files_.push_back({path, matches[0]});
  }
  if (files_.empty()) throw Error(list_path + ": no image paths; expected one image path per line");
}

std::string ImageListDataSource::describe() const {
  return "image list " + list_path_ + " (" + count_text(size(), classes()) + ")";
}

// ---------------------------------------------------------------- factory

namespace {

std::unique_ptr<DataSource> fashion_mnist_source(const std::string& dir, bool train, int channels, int height,
                                                 int width) {
  std::string name = std::string("Fashion-MNIST ") + (train ? "train" : "test") + " from " + dir;
  return std::make_unique<InMemoryDataSource>(load_fashion_mnist(dir, train), channels, height, width, std::move(name));
}

const char* kSpecHelp =
    "expected fashion-mnist, fashion-mnist:DIR, list:TRAIN.txt,LABELS.txt, list:TRAIN.txt,TEST.txt,LABELS.txt or "
    "an image folder";

}  // namespace

std::unique_ptr<DataSource> make_data_source(const std::string& spec, bool train, int channels, int height, int width) {
  if (spec == "fashion-mnist") return fashion_mnist_source(kFashionMnistDir, train, channels, height, width);
  const std::string fashion_prefix = "fashion-mnist:";
  if (spec.rfind(fashion_prefix, 0) == 0) {
    const std::string dir = spec.substr(fashion_prefix.size());
    if (dir.empty()) throw Error("data '" + spec + "': no directory after 'fashion-mnist:'");
    return fashion_mnist_source(dir, train, channels, height, width);
  }
  const std::string list_prefix = "list:";
  if (spec.rfind(list_prefix, 0) == 0) {
    const auto parts = split_commas(spec.substr(list_prefix.size()));
    const bool any_empty = std::any_of(parts.begin(), parts.end(), [](const auto& p) { return p.empty(); });
    if ((parts.size() != 2 && parts.size() != 3) || any_empty)
      throw Error("data '" + spec + "': expected list:TRAIN.txt,LABELS.txt or list:TRAIN.txt,TEST.txt,LABELS.txt");
    const std::string& list = parts.size() == 2 || train ? parts[0] : parts[1];
    return std::make_unique<ImageListDataSource>(list, parts.back(), channels, height, width);
  }
  std::error_code ec;
  if (spec.empty() || !fs::is_directory(spec, ec))
    throw Error("data '" + spec + "': not a folder nor a known data set; " + kSpecHelp);
  const fs::path root(spec);
  if (!fs::is_directory(root / "train", ec))
    return std::make_unique<ImageFolderDataSource>(spec, channels, height, width);
  const std::string train_dir = (root / "train").string();
  if (train) return std::make_unique<ImageFolderDataSource>(train_dir, channels, height, width);
  fs::path test_dir = root / "test";
  if (!fs::is_directory(test_dir, ec)) test_dir = root / "val";
  if (!fs::is_directory(test_dir, ec))
    throw Error(spec +
                ": has a train/ folder but neither test/ nor val/; expected DIR/train and DIR/test "
                "(or DIR/val), or class folders directly in DIR");
  // The test split is labelled with the training split's classes.
  const auto train_classes = class_folders(train_dir);
  if (train_classes.empty()) throw Error(train_dir + ": no class folders; expected train/<class>/<images>");
  return std::make_unique<ImageFolderDataSource>(test_dir.string(), channels, height, width, train_classes);
}

}  // namespace cspnet
