// Detection data sources: image files with truth lists (darknet, COCO) and
// the in-memory scenes generator; make_detection_source() picks by spec.
#include <charconv>
#include <filesystem>

#include "cspnet/cfg.hpp"
#include "cspnet/detection_data.hpp"
#include "cspnet/error.hpp"
#include "cspnet/image.hpp"
#include "cspnet/file_input.hpp"
#include "io/image_header.hpp"

namespace cspnet {
namespace {

namespace fs = std::filesystem;

struct ImageEntry {
  std::string path;
  std::vector<ObjectBox> boxes;
  int64_t id = 0;
};

// Image files and their truths (darknet list or COCO annotations).
class FileDetectionSource final : public DetectionSource {
 public:
  FileDetectionSource(std::vector<std::string> names, std::vector<ImageEntry> entries, std::string description,
                      int64_t missing, std::vector<int64_t> category_ids)
      : DetectionSource(std::move(names)), entries_(std::move(entries)), description_(std::move(description)),
        missing_(missing), category_ids_(std::move(category_ids)) {}
  int64_t size() const override { return static_cast<int64_t>(entries_.size()); }
  const std::vector<ObjectBox>& boxes(int64_t i) const override { return entry(i).boxes; }
  Tensor load(int64_t i) const override { return load_image_rgb(entry(i).path); }
  std::pair<int, int> image_size(int64_t i) const override {
    return read_image_size(entry(i).path);
  }
  int64_t image_id(int64_t i) const override { return entry(i).id; }
  std::string image_name(int64_t i) const override { return entry(i).path; }
  std::string describe() const override { return description_; }
  int64_t missing_labels() const override { return missing_; }
  std::vector<int64_t> category_ids() const override {
    return category_ids_.empty() ? DetectionSource::category_ids() : category_ids_;
  }

 private:
  const ImageEntry& entry(int64_t i) const {
    check_index(i);
    return entries_[static_cast<size_t>(i)];
  }
  std::vector<ImageEntry> entries_;
  std::string description_;
  int64_t missing_ = 0;
  std::vector<int64_t> category_ids_;
};

// Scenes generated on demand; boxes are placed once up front (no painting:
// cheap) so that boxes() can return a reference.
class SceneDetectionSource final : public DetectionSource {
 public:
  SceneDetectionSource(SceneGenerator generator, int64_t count, std::string description)
      : DetectionSource(generator.class_names()), generator_(std::move(generator)), description_(std::move(description)) {
    boxes_.reserve(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) boxes_.push_back(generator_.boxes(i));
  }
  int64_t size() const override { return static_cast<int64_t>(boxes_.size()); }
  const std::vector<ObjectBox>& boxes(int64_t i) const override {
    check_index(i);
    return boxes_[static_cast<size_t>(i)];
  }
  Tensor load(int64_t i) const override {
    check_index(i);
    return generator_.scene(i).image;
  }
  std::pair<int, int> image_size(int64_t) const override { return {generator_.options().size, generator_.options().size}; }
  std::string image_name(int64_t i) const override { return "scene " + std::to_string(i); }
  std::string describe() const override { return description_; }

 private:
  SceneGenerator generator_;
  std::vector<std::vector<ObjectBox>> boxes_;
  std::string description_;
};

std::unique_ptr<DetectionSource> darknet_source(const std::string& data_path, bool train) {
  const ObjData data = read_obj_data(data_path);
  const std::string list_key = train ? data.train : (data.valid.empty() ? data.train : data.valid);
  const std::string list = resolve_relative(list_key, data_path);
  std::vector<std::string> names;
  if (data.names.empty()) {
    for (int c = 0; c < data.classes; ++c) names.push_back(std::to_string(c));
  } else {
    names = read_class_names(resolve_relative(data.names, data_path), data.classes);
  }
  std::vector<ImageEntry> entries;
  int64_t missing = 0;
  for (std::string& image : read_image_list(list)) {
    ImageEntry e;
    const std::string label = label_path_for_image(image);
    // A label the system cannot look up (too long a name, no permission) is
    // read anyway, so that the reader's error names it; only an absent one
    // makes a negative image.
    std::error_code error;
    if (fs::exists(label, error) || error) e.boxes = read_darknet_labels(label, data.classes);
    else ++missing;
    e.path = std::move(image);
    e.id = static_cast<int64_t>(entries.size());
    entries.push_back(std::move(e));
  }
  std::string description = "darknet " + std::string(train ? "train" : "valid") + " list " + list + ": " +
                            std::to_string(entries.size()) + " images, " + std::to_string(names.size()) + " classes";
  if (missing > 0) description += ", " + std::to_string(missing) + " without a label file (negative images)";
  return std::make_unique<FileDetectionSource>(std::move(names), std::move(entries), std::move(description), missing,
                                               std::vector<int64_t>{});
}

std::unique_ptr<DetectionSource> coco_source(const std::string& spec) {
  const auto comma = spec.find(',');
  const std::string json_path = spec.substr(0, comma);
  const std::string image_dir =
      comma == std::string::npos ? fs::path(json_path).parent_path().string() : spec.substr(comma + 1);
  CocoData coco = read_coco_instances(json_path);
  std::vector<ImageEntry> entries;
  for (size_t i = 0; i < coco.images.size(); ++i)
    entries.push_back(ImageEntry{(fs::path(image_dir) / coco.images[i].file_name).string(), std::move(coco.boxes[i]),
                                 coco.images[i].id});
  std::string description = "COCO " + json_path + " (images in " + image_dir + "): " + std::to_string(entries.size()) +
                            " images, " + std::to_string(coco.class_names.size()) + " classes";
  return std::make_unique<FileDetectionSource>(std::move(coco.class_names), std::move(entries), std::move(description),
                                               0, std::move(coco.category_ids));
}

}  // namespace

std::vector<int64_t> DetectionSource::category_ids() const {
  std::vector<int64_t> ids;
  for (int c = 0; c < classes(); ++c) ids.push_back(c + 1);
  return ids;
}

void DetectionSource::check_index(int64_t index) const {
  if (index < 0 || index >= size())
    throw Error("detection data: image index " + std::to_string(index) + " outside 0.." + std::to_string(size() - 1));
}

std::unique_ptr<DetectionSource> make_detection_source(const std::string& spec, bool train) {
  static const std::string kScenes = "fashion-mnist-scenes", kCoco = "coco:";
  // fashion-mnist-scenes[:TRAIN[,VAL[,SIZE]]]: generated in memory (a
  // ":DIR" that is not numbers is a folder written by write_scene_folder).
  const bool numbers = spec.size() > kScenes.size() + 1 && spec.rfind(kScenes + ":", 0) == 0 &&
                       spec.find_first_not_of("0123456789,", kScenes.size() + 1) == std::string::npos;
  if (spec == kScenes || numbers) {
    SceneOptions options;
    options.seed = options.seed * 2 + (train ? 0 : 1);  // as write_scene_folder() seeds each split
    int64_t counts[3] = {10000, 1000, options.size};
    if (numbers) {
      const std::vector<std::string> values = split_commas(spec.substr(kScenes.size() + 1));
      if (values.size() > 3) throw Error("--data " + spec + ": expected " + kScenes + "[:TRAIN[,VAL[,SIZE]]]");
      for (size_t k = 0; k < values.size(); ++k) {
        int64_t v = 0;
        const auto [ptr, ec] = std::from_chars(values[k].data(), values[k].data() + values[k].size(), v);
        const int64_t low = k == 2 ? 48 : 1, high = k == 2 ? 4096 : 10000000;
        if (ec != std::errc() || ptr != values[k].data() + values[k].size() || v < low || v > high)
          throw Error("--data " + spec + ": '" + values[k] + "' is not a number in " + std::to_string(low) + ".." +
                      std::to_string(high));
        counts[k] = v;
      }
    }
    options.size = int(counts[2]);
    const int64_t count = train ? counts[0] : counts[1];
    return std::make_unique<SceneDetectionSource>(
        SceneGenerator(load_fashion_mnist(kFashionMnistDir, train), options), count,
        "Fashion-MNIST scenes (" + std::string(train ? "train" : "val") + ", in memory): " + std::to_string(count) +
            " scenes of " + std::to_string(options.size) + " px");
  }
  if (spec.rfind(kScenes + ":", 0) == 0) return darknet_source((fs::path(spec.substr(kScenes.size() + 1)) / "obj.data").string(), train);
  if (spec.rfind(kCoco, 0) == 0) return coco_source(spec.substr(kCoco.size()));
  return darknet_source(spec, train);
}

}  // namespace cspnet
