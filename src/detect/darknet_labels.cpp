// darknet's detection files: obj.data, names, list files, label files.
#include <charconv>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "cspnet/detection_data.hpp"
#include "cspnet/error.hpp"
#include "cspnet/file_input.hpp"

namespace cspnet {
namespace {

namespace fs = std::filesystem;

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string where(const std::string& path, size_t line_index) { return path + ":" + std::to_string(line_index + 1); }

bool parse_int(const std::string& s, long long& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool parse_float(const std::string& s, float& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && std::isfinite(out);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string resolve_relative(const std::string& path, const std::string& referrer) {
  // The non-throwing overloads: a path the system cannot even look up (a
  // name too long, a loop of links, no permission) counts as absent, and the
  // caller reports the entry by its file and line.
  std::error_code error;
  if (path.empty() || fs::path(path).is_absolute() || fs::exists(path, error)) return path;
  const fs::path beside = fs::path(referrer).parent_path() / path;
  return fs::exists(beside, error) ? beside.string() : path;
}

ObjData read_obj_data(const std::string& path) {
  const std::string text = read_text_file(path, "obj.data file");
  ObjData data;
  data.path = path;
  const auto lines = split_lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string line = trim(lines[i].substr(0, lines[i].find('#')));
    if (line.empty()) continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos)
      throw Error(where(path, i) + ": expected 'key = value', got '" + line + "'");
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (key.empty()) throw Error(where(path, i) + ": empty key before '='");
    data.keys[key] = value;
    if (key == "classes") {
      long long n = 0;
      if (!parse_int(value, n) || n <= 0 || n > 100000)
        throw Error(where(path, i) + ": classes must be an integer in 1..100000, got '" + value + "'");
      data.classes = static_cast<int>(n);
    } else if (key == "train") data.train = value;
    else if (key == "valid") data.valid = value;
    else if (key == "names") data.names = value;
    else if (key == "backup") data.backup = value;
    else if (key == "eval") data.eval = value;
    else if (key == "difficult") data.difficult = value;
  }
  if (data.classes == 0) throw Error(path + ": no 'classes=' key");
  if (data.train.empty()) throw Error(path + ": no 'train=' key (the training image list)");
  return data;
}

std::vector<std::string> read_class_names(const std::string& path, int expected) {
  std::vector<std::string> names;
  for (const std::string& line : split_lines(read_text_file(path, "class names file"))) {
    const std::string name = trim(line);
    if (!name.empty()) names.push_back(name);
  }
  if (expected > 0 && static_cast<int>(names.size()) != expected)
    throw Error(path + ": " + std::to_string(names.size()) + " class names, but classes=" + std::to_string(expected));
  if (names.empty()) throw Error(path + ": no class names");
  return names;
}

std::vector<std::string> read_image_list(const std::string& list_path) {
  std::vector<std::string> images;
  const auto lines = split_lines(read_text_file(list_path, "image list"));
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string entry = trim(lines[i]);
    if (entry.empty()) continue;
    const std::string resolved = resolve_relative(entry, list_path);
    std::error_code error;
    if (!fs::is_regular_file(resolved, error))
      throw Error(where(list_path, i) + ": image '" + entry + "' not found (nor next to the list)");
    images.push_back(resolved);
  }
  if (images.empty()) throw Error(list_path + ": no images listed");
  return images;
}

std::string label_path_for_image(const std::string& image_path) {
  std::string p = image_path;
  if (const auto at = p.find("/JPEGImages/"); at != std::string::npos) {
    p.replace(at, 12, "/labels/");
  } else if (const auto at2 = p.rfind("/images/"); at2 != std::string::npos) {
    p.replace(at2, 8, "/labels/");
  } else if (p.rfind("images/", 0) == 0) {
    p.replace(0, 7, "labels/");
  }
  const auto dot = p.rfind('.'), slash = p.rfind('/');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) {
    static const char* const kImageExtensions[] = {"jpg", "jpeg", "png", "bmp", "ppm", "tiff", "tif"};
    const std::string ext = lower(p.substr(dot + 1));
    for (const char* known : kImageExtensions)
      if (ext == known) return p.substr(0, dot) + ".txt";
  }
  return p + ".txt";
}

std::vector<ObjectBox> parse_darknet_labels(const std::string& text, const std::string& path, int classes) {
  std::vector<ObjectBox> boxes;
  const auto lines = split_lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::istringstream fields(lines[i]);
    std::vector<std::string> f;
    for (std::string field; fields >> field;) f.push_back(field);
    if (f.empty()) continue;
    if (f.size() != 5)
      throw Error(where(path, i) + ": expected 5 fields 'class x y w h', got " + std::to_string(f.size()));
    long long cls = 0;
    if (!parse_int(f[0], cls)) throw Error(where(path, i) + ": class id '" + f[0] + "' is not an integer");
    if (cls < 0 || cls >= classes)
      throw Error(where(path, i) + ": class id " + f[0] + " outside 0.." + std::to_string(classes - 1));
    float v[4];
    static const char* const kNames[] = {"x", "y", "w", "h"};
    for (int k = 0; k < 4; ++k) {
      if (!parse_float(f[k + 1], v[k]))
        throw Error(where(path, i) + ": " + kNames[k] + " '" + f[k + 1] + "' is not a finite number");
      const bool ok = k < 2 ? (v[k] >= 0 && v[k] <= 1) : (v[k] > 0 && v[k] <= 1);
      if (!ok)
        throw Error(where(path, i) + ": " + kNames[k] + " = " + f[k + 1] + " outside " + (k < 2 ? "[0,1]" : "(0,1]") +
                    " (coordinates are relative to the image)");
    }
    boxes.push_back(ObjectBox{v[0], v[1], v[2], v[3], static_cast<int>(cls), false, -1});
  }
  return boxes;
}

std::vector<ObjectBox> read_darknet_labels(const std::string& path, int classes) {
  return parse_darknet_labels(read_text_file(path, "label file"), path, classes);
}

}  // namespace cspnet
