// A detection source written in darknet's layout, with COCO ground truth.
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "cspnet/detection_data.hpp"
#include "cspnet/error.hpp"
#include "cspnet/file_output.hpp"
#include "cspnet/image.hpp"

namespace cspnet {

void write_darknet_split(const DetectionSource& source, const std::string& dir, const std::string& split) {
  namespace fs = std::filesystem;
  const fs::path root(dir);
  fs::create_directories(root / "images" / split);
  fs::create_directories(root / "labels" / split);
  fs::create_directories(root / "annotations");
  nlohmann::json coco = {{"images", nlohmann::json::array()}, {"annotations", nlohmann::json::array()},
                         {"categories", nlohmann::json::array()}};
  for (size_t c = 0; c < source.class_names().size(); ++c)
    coco["categories"].push_back({{"id", c + 1}, {"name", source.class_names()[c]}});
  std::string list;
  int64_t annotation_id = 1;
  for (int64_t i = 0; i < source.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "%06lld", (long long)i);
    const fs::path image_path = root / "images" / split / (std::string(name) + ".png");
    const Tensor image = source.load(i);
    save_png(image_path.string(), image);
    const double width = double(image.shape().w), height = double(image.shape().h);
    std::string labels;
    for (const ObjectBox& b : source.boxes(i)) {
      char line[128];
      std::snprintf(line, sizeof line, "%d %.6f %.6f %.6f %.6f\n", b.cls, b.x, b.y, b.w, b.h);
      labels += line;
      const double bw = double(b.w) * width, bh = double(b.h) * height;
      coco["annotations"].push_back({{"id", annotation_id++},
                                     {"image_id", i},
                                     {"category_id", b.cls + 1},
                                     {"bbox", {double(b.x) * width - bw / 2, double(b.y) * height - bh / 2, bw, bh}},
                                     {"area", bw * bh},
                                     {"iscrowd", 0}});
    }
    write_file_atomically((root / "labels" / split / (std::string(name) + ".txt")).string(), labels);
    coco["images"].push_back({{"id", i}, {"file_name", std::string(name) + ".png"}, {"width", width}, {"height", height}});
    // Relative to the data set's folder: it can move (readers resolve a
    // list's paths against the working directory, then the list's folder).
    list += "images/" + split + "/" + name + ".png\n";
  }
  write_file_atomically((root / (split + ".txt")).string(), list);
  write_file_atomically((root / "annotations" / ("instances_" + split + ".json")).string(), coco.dump());
}

}  // namespace cspnet
