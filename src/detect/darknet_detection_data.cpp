// darknet's detection data layout: obj.data, list files, label files found
// by the images/ -> labels/ rule.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "cspnet/cfg.hpp"
#include "cspnet/detection_data.hpp"
#include "cspnet/error.hpp"
#include "cspnet/file_input.hpp"
#include "cspnet/image.hpp"

namespace cspnet {
namespace {

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// Lines of a text file without comments, trimmed; (line number, text) of the non-empty ones.
std::vector<std::pair<int, std::string>> content_lines(const std::string& path, const std::string& what) {
  std::istringstream in(read_text_file(path, what));
  std::vector<std::pair<int, std::string>> lines;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    line = trim(line);
    if (!line.empty()) lines.emplace_back(number, line);
  }
  return lines;
}

bool parse_float(const std::string& text, float& value) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end && std::isfinite(value);
}

// A path in a list or obj.data: as written if it exists (darknet resolves
// against the working directory), else relative to the file naming it.
std::string resolve(const std::string& path, const std::string& relative_to) {
  namespace fs = std::filesystem;
  if (fs::path(path).is_absolute() || fs::exists(path)) return path;
  const fs::path beside = fs::path(relative_to).parent_path() / path;
  return fs::exists(beside) ? beside.string() : path;
}

std::vector<std::string> read_names(const std::string& path) {
  std::vector<std::string> names;
  for (auto& [number, line] : content_lines(path, "class names file")) names.push_back(line);
  return names;
}

}  // namespace

void DetectionSource::check_index(int64_t index) const {
  if (index < 0 || index >= size())
    throw Error(describe() + ": image " + std::to_string(index) + " is outside 0.." + std::to_string(size() - 1));
}

ObjData read_obj_data(const std::string& path) {
  ObjData data;
  data.path = path;
  bool have_classes = false;
  for (auto& [number, line] : content_lines(path, "obj.data file")) {
    if (line[0] == '#') continue;
    const std::string where = path + ":" + std::to_string(number);
    const auto eq = line.find('=');
    if (eq == std::string::npos) throw Error(where + ": expected key = value, got '" + line + "'");
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (key == "classes") {
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), data.classes);
      if (ec != std::errc() || ptr != value.data() + value.size() || data.classes <= 0 || data.classes > 100000)
        throw Error(where + ": classes: expected a number of classes in 1..100000, got '" + value + "'");
      have_classes = true;
    } else if (key == "train") {
      data.train = resolve(value, path);
    } else if (key == "valid") {
      data.valid = resolve(value, path);
    } else if (key == "names") {
      data.names = resolve(value, path);
    } else if (key == "backup") {
      data.backup = value;
    }  // eval, difficult, results, ...: darknet keys this reader does not need
  }
  if (!have_classes) throw Error(path + ": no 'classes =' line");
  if (data.train.empty()) throw Error(path + ": no 'train =' line (the list of training images)");
  return data;
}

std::string darknet_label_path(const std::string& image_path) {
  std::string path = image_path;
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"/images/", "/labels/"},
                                 std::pair<std::string, std::string>{"/JPEGImages/", "/labels/"}}) {
    // The last occurrence: a data set under a folder that is itself called "images" keeps it.
    if (const auto at = path.rfind(from); at != std::string::npos) {
      path.replace(at, from.size(), to);
      break;
    }
    if (path.rfind(from.substr(1), 0) == 0) {  // a relative path starting with images/
      path.replace(0, from.size() - 1, to.substr(1));
      break;
    }
  }
  const auto dot = path.find_last_of('.');
  const auto slash = path.find_last_of('/');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) {
    std::string extension = path.substr(dot + 1);
    std::transform(extension.begin(), extension.end(), extension.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const char* known : {"jpg", "jpeg", "png", "bmp", "ppm", "tiff", "tif"})
      if (extension == known) return path.substr(0, dot) + ".txt";
  }
  return path + ".txt";
}

std::vector<ObjectBox> read_darknet_labels(const std::string& path, int classes) {
  std::vector<ObjectBox> boxes;
  for (auto& [number, line] : content_lines(path, "label file")) {
    const std::string where = path + ":" + std::to_string(number);
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string field; fields >> field;) f.push_back(field);
    if (f.size() != 5)
      throw Error(where + ": " + std::to_string(f.size()) + " fields, expected 5 (class x_center y_center width height)");
    int cls = -1;
    auto [ptr, ec] = std::from_chars(f[0].data(), f[0].data() + f[0].size(), cls);
    if (ec != std::errc() || ptr != f[0].data() + f[0].size() || cls < 0 || cls >= classes)
      throw Error(where + ": class '" + f[0] + "': expected a class id in 0.." + std::to_string(classes - 1));
    float v[4];
    const char* names[4] = {"x_center", "y_center", "width", "height"};
    for (int k = 0; k < 4; ++k) {
      if (!parse_float(f[size_t(k + 1)], v[k]))
        throw Error(where + ": " + names[k] + " '" + f[size_t(k + 1)] + "' is not a number");
      const bool ok = k < 2 ? v[k] >= 0 && v[k] <= 1 : v[k] > 0 && v[k] <= 1;
      if (!ok)
        throw Error(where + ": " + names[k] + " " + f[size_t(k + 1)] + " is outside " +
                    (k < 2 ? "[0, 1]" : "(0, 1]") + " (coordinates are relative to the image)");
    }
    boxes.push_back(ObjectBox{v[0], v[1], v[2], v[3], cls});
  }
  return boxes;
}

DarknetDetectionSource::DarknetDetectionSource(const std::string& list_path, std::vector<std::string> names)
    : DetectionSource(std::move(names)), list_path_(list_path) {
  const int classes = int(class_names().size());
  for (auto& [number, line] : content_lines(list_path, "image list")) {
    const std::string image = resolve(line, list_path);
    if (!std::filesystem::is_regular_file(image))
      throw Error(list_path + ":" + std::to_string(number) + ": image '" + line + "' not found");
    images_.push_back(image);
    const std::string label = darknet_label_path(image);
    if (!std::filesystem::exists(label)) {
      ++missing_labels_;  // darknet: a negative image
      boxes_.emplace_back();
      continue;
    }
    boxes_.push_back(read_darknet_labels(label, classes));
    objects_ += int64_t(boxes_.back().size());
  }
  if (images_.empty()) throw Error(list_path + ": no images listed");
}

const std::vector<ObjectBox>& DarknetDetectionSource::boxes(int64_t index) const {
  check_index(index);
  return boxes_[size_t(index)];
}

Tensor DarknetDetectionSource::load(int64_t index) const {
  check_index(index);
  return load_image_rgb(images_[size_t(index)]);
}

std::string DarknetDetectionSource::image_name(int64_t index) const {
  check_index(index);
  return images_[size_t(index)];
}

std::string DarknetDetectionSource::describe() const {
  std::string text = list_path_ + " (" + std::to_string(images_.size()) + " images, " + std::to_string(objects_) +
                     " objects, " + std::to_string(class_names().size()) + " classes";
  if (missing_labels_) text += ", " + std::to_string(missing_labels_) + " without a label file: negatives";
  return text + ")";
}

std::unique_ptr<DetectionSource> make_detection_source(const std::string& spec, bool train) {
  const std::string scenes = "fashion-mnist-scenes";
  if (spec.rfind(scenes, 0) == 0) {
    SceneOptions options;
    options.count = train ? 4000 : 500;
    if (spec.size() > scenes.size()) {
      if (spec[scenes.size()] != ':') throw Error("--data " + spec + ": expected " + scenes + "[:TRAIN[,VAL[,SIZE]]]");
      const std::vector<std::string> values = split_commas(spec.substr(scenes.size() + 1));
      auto number = [&](size_t k, int64_t low, int64_t high) {
        int64_t v = 0;
        const std::string& t = values[k];
        auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (ec != std::errc() || ptr != t.data() + t.size() || v < low || v > high)
          throw Error("--data " + spec + ": '" + t + "' is not a number in " + std::to_string(low) + ".." +
                      std::to_string(high));
        return v;
      };
      if (values.size() > 3) throw Error("--data " + spec + ": expected " + scenes + "[:TRAIN[,VAL[,SIZE]]]");
      if (train && !values.empty()) options.count = number(0, 1, 10000000);
      if (!train && values.size() > 1) options.count = number(1, 1, 10000000);
      if (values.size() > 2) options.size = int(number(2, 32, 4096));
    }
    return std::make_unique<FashionMnistScenes>(train, options);
  }
  const ObjData data = read_obj_data(spec);
  const std::string list = train ? data.train : (data.valid.empty() ? data.train : data.valid);
  std::vector<std::string> names;
  if (!data.names.empty()) {
    names = read_names(data.names);
    if (int(names.size()) != data.classes)
      throw Error(data.names + ": " + std::to_string(names.size()) + " names, but " + spec + " says classes = " +
                  std::to_string(data.classes));
  } else {
    for (int c = 0; c < data.classes; ++c) names.push_back(std::to_string(c));
  }
  return std::make_unique<DarknetDetectionSource>(list, std::move(names));
}

}  // namespace cspnet
