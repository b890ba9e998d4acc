// COCO ground truth and results JSON for evaluation (nlohmann_json).
#include "cspnet/coco_json.hpp"
#include "cspnet/file_input.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cspnet/error.hpp"

namespace cspnet {
namespace {

using nlohmann::json;

// read_text_file refuses directories and devices by name (an ifstream opened
// a directory and reported "not valid JSON at byte 1"); COCO files are large,
// so the cap is that of the instances reader. json::parse throws more than
// parse_error: a number beyond double's range escaped as out_of_range.
json read_json(const std::string& path) {
  const std::string text = read_text_file(path, "COCO JSON file", uint64_t{1} << 30);
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(path + ": not valid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  } catch (const json::exception& e) {
    throw Error(path + ": not valid JSON: " + e.what());
  }
}

json box_json(const PixelBox& b) { return json::array({b.x, b.y, b.w, b.h}); }

// Reads a [x, y, w, h] array of 4 numbers; a negative width or height has
// no meaning (its area, and so its IoU, would be negative).
PixelBox read_box(const json& v, const std::string& where) {
  if (!v.is_array() || v.size() != 4) throw Error(where + ": \"bbox\" must be an array of 4 numbers");
  for (const auto& x : v)
    if (!x.is_number()) throw Error(where + ": \"bbox\" must be an array of 4 numbers");
  for (size_t k : {size_t(2), size_t(3)})
    if (v[k].get<double>() < 0)
      throw Error(where + ": \"bbox\" " + (k == 2 ? "width" : "height") + " is " + v[k].dump() +
                  "; expected a width and height >= 0");
  return {v[0].get<double>(), v[1].get<double>(), v[2].get<double>(), v[3].get<double>()};
}

const json& field(const json& obj, const char* name, const std::string& where) {
  if (!obj.is_object() || !obj.contains(name)) throw Error(where + ": missing \"" + name + "\"");
  return obj[name];
}

int64_t integer(const json& obj, const char* name, const std::string& where) {
  const json& v = field(obj, name, where);
  if (!v.is_number_integer()) throw Error(where + ": \"" + name + "\" must be an integer");
  return v.get<int64_t>();
}

double number(const json& obj, const char* name, const std::string& where) {
  const json& v = field(obj, name, where);
  if (!v.is_number()) throw Error(where + ": \"" + name + "\" must be a number");
  return v.get<double>();
}

const json& array_field(const json& obj, const char* name, const std::string& path) {
  const json& v = field(obj, name, path);
  if (!v.is_array()) throw Error(path + ": \"" + name + "\" must be an array");
  return v;
}

}  // namespace

std::string coco_results_json(const std::vector<CocoImage>& images, const std::vector<int64_t>& category_ids) {
  json out = json::array();
  for (const auto& im : images)
    for (const auto& d : im.detections) {
      if (d.cls < 0 || size_t(d.cls) >= category_ids.size())
        throw Error("coco_results_json: class " + std::to_string(d.cls) + " has no category id");
      out.push_back({{"image_id", im.id}, {"category_id", category_ids[d.cls]}, {"bbox", box_json(d.box)},
                     {"score", d.score}});
    }
  return out.dump();
}

std::string coco_ground_truth_json(const std::vector<CocoImage>& images, const std::vector<int64_t>& category_ids,
                                   const std::vector<std::array<int, 2>>& image_sizes) {
  json imgs = json::array(), anns = json::array(), cats = json::array();
  int64_t next_id = 1;  // pycocotools treats annotation id 0 as "unmatched"
  for (size_t i = 0; i < images.size(); ++i) {
    const auto& im = images[i];
    const auto size = i < image_sizes.size() ? image_sizes[i] : std::array<int, 2>{0, 0};
    imgs.push_back({{"id", im.id}, {"width", size[0]}, {"height", size[1]}});
    for (const auto& t : im.truths)
      anns.push_back({{"id", next_id++}, {"image_id", im.id}, {"category_id", category_ids.at(t.cls)},
                      {"bbox", box_json(t.box)}, {"area", t.area}, {"iscrowd", t.crowd ? 1 : 0}});
  }
  for (int64_t c : category_ids) cats.push_back({{"id", c}, {"name", "class" + std::to_string(c)}});
  return json{{"images", imgs}, {"annotations", anns}, {"categories", cats}}.dump();
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw Error(path + ": cannot write");
}

CocoGroundTruth read_coco_ground_truth(const std::string& path) {
  const json doc = read_json(path);
  if (!doc.is_object()) throw Error(path + ": expected a COCO object with images, annotations, categories");
  CocoGroundTruth gt;
  const json& cats = array_field(doc, "categories", path);
  for (size_t i = 0; i < cats.size(); ++i)
    gt.category_ids.push_back(integer(cats[i], "id", path + ": categories[" + std::to_string(i) + "]"));
  std::sort(gt.category_ids.begin(), gt.category_ids.end());
  gt.category_ids.erase(std::unique(gt.category_ids.begin(), gt.category_ids.end()), gt.category_ids.end());
  std::map<int64_t, size_t> image_at;
  const json& imgs = array_field(doc, "images", path);
  for (size_t i = 0; i < imgs.size(); ++i) {
    const std::string where = path + ": images[" + std::to_string(i) + "]";
    const int64_t id = integer(imgs[i], "id", where);
    // Merging two entries of one id would pool their annotations silently.
    const auto [at, added] = image_at.emplace(id, i);
    if (!added)
      throw Error(where + ": duplicate image id " + std::to_string(id) + " (first at images[" +
                  std::to_string(at->second) + "])");
    gt.images.push_back({id, {}, {}});
  }
  const json& anns = array_field(doc, "annotations", path);
  for (size_t i = 0; i < anns.size(); ++i) {
    const std::string where = path + ": annotations[" + std::to_string(i) + "]";
    const int64_t image = integer(anns[i], "image_id", where), cat = integer(anns[i], "category_id", where);
    const auto im = image_at.find(image);
    if (im == image_at.end()) throw Error(where + ": image_id " + std::to_string(image) + " is not in \"images\"");
    const auto c = std::lower_bound(gt.category_ids.begin(), gt.category_ids.end(), cat);
    if (c == gt.category_ids.end() || *c != cat)
      throw Error(where + ": category_id " + std::to_string(cat) + " is not in \"categories\"");
    CocoTruth t;
    t.box = read_box(field(anns[i], "bbox", where), where);
    t.cls = int(c - gt.category_ids.begin());
    t.area = number(anns[i], "area", where);
    if (t.area < 0)  // it decides the small/medium/large range a truth counts in
      throw Error(where + ": \"area\" is " + anns[i]["area"].dump() + "; expected a number >= 0");
    t.crowd = anns[i].contains("iscrowd") && anns[i]["iscrowd"].is_number() && anns[i]["iscrowd"].get<double>() != 0;
    gt.images[im->second].truths.push_back(t);
  }
  return gt;
}

void read_coco_results(const std::string& path, CocoGroundTruth& gt) {
  const json doc = read_json(path);
  if (!doc.is_array()) throw Error(path + ": expected a JSON array of {image_id, category_id, bbox, score}");
  std::map<int64_t, size_t> image_at;
  for (size_t i = 0; i < gt.images.size(); ++i) image_at.emplace(gt.images[i].id, i);
  for (size_t i = 0; i < doc.size(); ++i) {
    const std::string where = path + ": [" + std::to_string(i) + "]";
    const int64_t image = integer(doc[i], "image_id", where), cat = integer(doc[i], "category_id", where);
    const auto im = image_at.find(image);
    if (im == image_at.end())
      throw Error(where + ": image_id " + std::to_string(image) + " is not in the ground truth");
    CocoDetection d;
    d.box = read_box(field(doc[i], "bbox", where), where);
    d.score = number(doc[i], "score", where);
    const auto c = std::lower_bound(gt.category_ids.begin(), gt.category_ids.end(), cat);
    d.cls = (c == gt.category_ids.end() || *c != cat) ? -1 : int(c - gt.category_ids.begin());
    gt.images[im->second].detections.push_back(d);
  }
}

std::string coco_eval_json(const CocoEval& eval, const std::vector<int64_t>& category_ids) {
  static const char* names[12] = {"AP", "AP50", "AP75", "APs", "APm", "APl",
                                  "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};
  json out, per_class = json::object();
  for (int i = 0; i < 12; ++i) out[names[i]] = eval.stats[i];
  for (size_t k = 0; k < eval.class_ap.size(); ++k)
    per_class[std::to_string(k < category_ids.size() ? category_ids[k] : int64_t(k))] = eval.class_ap[k];
  out["class_ap"] = per_class;
  return out.dump(2);
}

}  // namespace cspnet
