// COCO instances JSON: reading ground truth, writing it for pycocotools.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "cspnet/detection_data.hpp"
#include "cspnet/error.hpp"
#include "cspnet/file_input.hpp"
#include "io/file_output.hpp"

namespace cspnet {
namespace {

using nlohmann::json;

// COCO JSON files are large (instances_train2017: ~450 MB); allow 1 GiB.
constexpr uint64_t kMaxCocoBytes = uint64_t{1} << 30;

const json& field(const json& object, const char* key, const std::string& at) {
  if (!object.is_object()) throw Error(at + ": expected an object");
  const auto it = object.find(key);
  if (it == object.end()) throw Error(at + ": missing field '" + key + "'");
  return *it;
}

int64_t integer(const json& object, const char* key, const std::string& at) {
  const json& v = field(object, key, at);
  if (!v.is_number_integer()) throw Error(at + "." + key + ": expected an integer");
  return v.get<int64_t>();
}

double number(const json& value, const std::string& at) {
  if (!value.is_number()) throw Error(at + ": expected a number");
  const double v = value.get<double>();
  if (!std::isfinite(v)) throw Error(at + ": not finite");
  return v;
}

std::string text(const json& object, const char* key, const std::string& at) {
  const json& v = field(object, key, at);
  if (!v.is_string()) throw Error(at + "." + key + ": expected a string");
  return v.get<std::string>();
}

const json& array(const json& root, const char* key, const std::string& path) {
  const json& v = field(root, key, path);
  if (!v.is_array()) throw Error(path + ": '" + key + "' must be an array");
  return v;
}

void read_categories(const json& root, const std::string& path, CocoData& data,
                     std::unordered_map<int64_t, int>& class_of) {
  const json& categories = array(root, "categories", path);
  std::vector<std::pair<int64_t, std::string>> sorted;
  for (size_t i = 0; i < categories.size(); ++i) {
    const std::string at = path + ": categories[" + std::to_string(i) + "]";
    sorted.emplace_back(integer(categories[i], "id", at), text(categories[i], "name", at));
  }
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i > 0 && sorted[i].first == sorted[i - 1].first)
      throw Error(path + ": categories: duplicate id " + std::to_string(sorted[i].first));
    class_of[sorted[i].first] = static_cast<int>(i);
    data.category_ids.push_back(sorted[i].first);
    data.class_names.push_back(sorted[i].second);
  }
  if (sorted.empty()) throw Error(path + ": 'categories' is empty");
}

void read_images(const json& root, const std::string& path, CocoData& data,
                 std::unordered_map<int64_t, size_t>& index_of) {
  const json& images = array(root, "images", path);
  for (size_t i = 0; i < images.size(); ++i) {
    const std::string at = path + ": images[" + std::to_string(i) + "]";
    CocoImageInfo image;
    image.id = integer(images[i], "id", at);
    image.file_name = text(images[i], "file_name", at);
    const int64_t w = integer(images[i], "width", at), h = integer(images[i], "height", at);
    if (w <= 0 || h <= 0 || w > (1 << 20) || h > (1 << 20))
      throw Error(at + ": width and height must be in 1..1048576, got " + std::to_string(w) + "x" + std::to_string(h));
    image.width = static_cast<int>(w);
    image.height = static_cast<int>(h);
    if (!index_of.emplace(image.id, data.images.size()).second)
      throw Error(at + ": duplicate image id " + std::to_string(image.id));
    data.images.push_back(image);
  }
  data.boxes.resize(data.images.size());
}

void read_annotations(const json& root, const std::string& path, CocoData& data,
                      const std::unordered_map<int64_t, int>& class_of,
                      const std::unordered_map<int64_t, size_t>& index_of) {
  if (!root.contains("annotations")) return;  // an image-info file (test-dev) has none
  const json& annotations = array(root, "annotations", path);
  for (size_t i = 0; i < annotations.size(); ++i) {
    const std::string at = path + ": annotations[" + std::to_string(i) + "]";
    const json& a = annotations[i];
    const int64_t image_id = integer(a, "image_id", at), category_id = integer(a, "category_id", at);
    const auto image = index_of.find(image_id);
    if (image == index_of.end()) throw Error(at + ": unknown image_id " + std::to_string(image_id));
    const auto cls = class_of.find(category_id);
    if (cls == class_of.end()) throw Error(at + ": unknown category_id " + std::to_string(category_id));
    const json& bbox = field(a, "bbox", at);
    if (!bbox.is_array() || bbox.size() != 4) throw Error(at + ".bbox: expected [x, y, width, height]");
    double b[4];
    for (int k = 0; k < 4; ++k) b[k] = number(bbox[k], at + ".bbox[" + std::to_string(k) + "]");
    if (b[2] < 0 || b[3] < 0) throw Error(at + ".bbox: negative width or height");
    const CocoImageInfo& im = data.images[image->second];
    ObjectBox box;
    box.x = static_cast<float>((b[0] + b[2] / 2) / im.width);
    box.y = static_cast<float>((b[1] + b[3] / 2) / im.height);
    box.w = static_cast<float>(b[2] / im.width);
    box.h = static_cast<float>(b[3] / im.height);
    if (!std::isfinite(box.x) || !std::isfinite(box.y) || !std::isfinite(box.w) || !std::isfinite(box.h))
      throw Error(at + ".bbox: beyond the float range relative to the image");  // found by fuzz_coco_json
    box.cls = cls->second;
    if (a.contains("iscrowd")) box.crowd = integer(a, "iscrowd", at) != 0;
    if (a.contains("area")) {
      box.area = static_cast<float>(number(a["area"], at + ".area"));
      if (!std::isfinite(box.area)) throw Error(at + ".area: beyond the float range");
    }
    data.boxes[image->second].push_back(box);
  }
}

}  // namespace

CocoData parse_coco_instances(const std::string& json_text, const std::string& path) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::parse_error& e) {
    throw Error(path + ": byte " + std::to_string(e.byte) + ": invalid JSON: " + e.what());
  } catch (const json::exception& e) {  // e.g. a number beyond double's range (found by fuzz_coco_json)
    throw Error(path + ": invalid JSON: " + e.what());
  }
  if (!root.is_object()) throw Error(path + ": expected a JSON object at the top level");
  CocoData data;
  std::unordered_map<int64_t, int> class_of;
  std::unordered_map<int64_t, size_t> index_of;
  read_categories(root, path, data, class_of);
  read_images(root, path, data, index_of);
  read_annotations(root, path, data, class_of, index_of);
  return data;
}

CocoData read_coco_instances(const std::string& path) {
  return parse_coco_instances(read_text_file(path, "COCO instances JSON", kMaxCocoBytes), path);
}

std::string coco_instances_json(const CocoData& data) {
  json images = json::array(), categories = json::array(), annotations = json::array();
  for (const CocoImageInfo& im : data.images)
    images.push_back({{"id", im.id}, {"file_name", im.file_name}, {"width", im.width}, {"height", im.height}});
  for (size_t c = 0; c < data.class_names.size(); ++c) {
    const int64_t id = c < data.category_ids.size() ? data.category_ids[c] : static_cast<int64_t>(c) + 1;
    categories.push_back({{"id", id}, {"name", data.class_names[c]}, {"supercategory", "object"}});
  }
  int64_t next_id = 1;
  for (size_t i = 0; i < data.images.size() && i < data.boxes.size(); ++i) {
    const CocoImageInfo& im = data.images[i];
    for (const ObjectBox& b : data.boxes[i]) {
      const double w = double(b.w) * im.width, h = double(b.h) * im.height;
      const double x = double(b.x) * im.width - w / 2, y = double(b.y) * im.height - h / 2;
      const auto c = static_cast<size_t>(b.cls);
      const int64_t category = c < data.category_ids.size() ? data.category_ids[c] : b.cls + 1;
      annotations.push_back({{"id", next_id++},
                             {"image_id", im.id},
                             {"category_id", category},
                             {"bbox", {x, y, w, h}},
                             {"area", b.area >= 0 ? double(b.area) : w * h},
                             {"iscrowd", b.crowd ? 1 : 0}});
    }
  }
  const json root = {{"images", images}, {"categories", categories}, {"annotations", annotations}};
  return root.dump();
}

void write_coco_instances(const std::string& path, const CocoData& data) {
  write_file_atomically(path, coco_instances_json(data));
}

}  // namespace cspnet
