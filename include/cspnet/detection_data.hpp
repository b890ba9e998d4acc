#pragma once
// Detection data: darknet/YOLO label files and obj.data, COCO instances
// JSON, the Fashion-MNIST scenes generator, and one random-access source of
// (image, truth boxes) over all of them for the trainer and the evaluator.
//
// Path rule (list files, obj.data entries): a relative path is used as
// written (relative to the working directory, as darknet does); when no such
// file exists it is tried relative to the folder of the file naming it, so a
// generated folder works from any working directory.
//
// Label coordinates: darknet's (0,1] convention is enforced, not clipped:
// x, y must lie in [0,1] and w, h in (0,1]; anything else (negative, zero
// size, > 1, nan) is an Error naming file:line. A box whose extent crosses
// the image border is kept as written (augmentation clips boxes).
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cspnet/boxes.hpp"
#include "cspnet/dataset.hpp"
#include "cspnet/tensor.hpp"

namespace cspnet {

// ---- darknet format -------------------------------------------------------

// darknet's obj.data: `key = value` lines, '#' comments.
struct ObjData {
  std::string path;  // the obj.data file itself
  int classes = 0;
  std::string train, valid, names, backup, eval, difficult;  // as written
  std::map<std::string, std::string> keys;                   // every key read
};

// Errors: unreadable file, a line without '=', classes missing or not a
// positive integer, train= missing (all name path:line or the key).
ObjData read_obj_data(const std::string& path);

// `path` as written if it exists, else relative to the folder of `referrer`.
std::string resolve_relative(const std::string& path, const std::string& referrer);

// One class name per non-blank line; an Error when the count differs from
// `expected` (when > 0).
std::vector<std::string> read_class_names(const std::string& path, int expected);

// One image path per non-blank line (trimmed), resolved by resolve_relative.
// Errors: no images, a listed image that does not exist (path:line).
std::vector<std::string> read_image_list(const std::string& list_path);

// The label file of an image: `/JPEGImages/` -> `/labels/`, else the last
// `/images/` folder (or a leading `images/`) -> `labels/` (covers darknet's
// /images/train2017/ etc. and Ultralytics' layout); the extension (jpg, jpeg,
// png, bmp, ppm, tiff, tif in any case) becomes .txt. Otherwise the label
// sits next to the image.
std::string label_path_for_image(const std::string& image_path);

// `class cx cy w h` lines (blank lines skipped). `path` names the text in
// errors: "path:line: ..." for a wrong field count, a non-numeric field, a
// class id outside [0, classes), coordinates outside the ranges above.
std::vector<ObjectBox> parse_darknet_labels(const std::string& text, const std::string& path, int classes);
std::vector<ObjectBox> read_darknet_labels(const std::string& path, int classes);

// ---- COCO instances JSON --------------------------------------------------

struct CocoImageInfo {
  int64_t id = 0;
  std::string file_name;
  int width = 0, height = 0;
};

struct CocoData {
  std::vector<CocoImageInfo> images;              // file order
  std::vector<std::vector<ObjectBox>> boxes;  // per image, relative boxes
  std::vector<std::string> class_names;       // class index = sorted category id order
  std::vector<int64_t> category_ids;          // class index -> COCO category id
};

// Errors carry the path and a byte offset (JSON syntax) or the element
// ("annotations[3].bbox: ..."): missing or mistyped fields, duplicate or
// unknown image/category ids, non-positive image sizes, negative boxes.
CocoData parse_coco_instances(const std::string& text, const std::string& path);
CocoData read_coco_instances(const std::string& path);
// A ground-truth JSON pycocotools reads: images, categories, annotations
// (ids from 1, bbox in pixels, area = ObjectBox.area or the box's pixel area).
std::string coco_instances_json(const CocoData& data);
void write_coco_instances(const std::string& path, const CocoData& data);

// ---- Fashion-MNIST scenes -------------------------------------------------

struct SceneOptions {
  int size = 160;        // square canvas side in pixels (>= 48)
  uint64_t seed = 1;
  int max_items = 8;     // 1..max_items items per scene
  int min_item_px = 12;  // item side before trimming, pixels
};

struct Scene {
  Tensor image;                   // 1 x 3 x size x size, RGB in [0,1]
  std::vector<ObjectBox> boxes;   // exact: the tight box of the item's visible pixels
};

// Scenes of Fashion-MNIST items on coloured, textured backgrounds. Scene i
// is a pure function of (seed, i, the item set): no state, thread-safe.
// Items are scaled to a side between min_item_px and size/2, tinted, and
// blended with their own intensity as alpha (intensities below 1/16 are
// treated as transparent, so every pixel inside a box edge is visible).
// Boxes never overlap (a 1 pixel gap at least): the truth is exact.
class SceneGenerator {
 public:
  SceneGenerator(ImageDataset items, SceneOptions options);
  Scene scene(int64_t index) const;
  // scene(index).boxes without painting (several times faster).
  std::vector<ObjectBox> boxes(int64_t index) const;
  // The background scene(index) is painted on (for tests of exactness).
  Tensor background(int64_t index) const;
  const SceneOptions& options() const { return options_; }
  const std::vector<std::string>& class_names() const { return items_.class_names; }

 private:
  Scene make(int64_t index, bool paint) const;
  ImageDataset items_;
  SceneOptions options_;
};

// Writes a darknet + COCO folder: images/{train,val}/NNNNNN.png,
// labels/{train,val}/NNNNNN.txt, train.txt, val.txt (paths relative to
// `dir`), obj.names, obj.data, annotations/instances_{train,val}.json.
// Training scenes use Fashion-MNIST's train split, validation the test split.
// Everything is written to `dir`.tmp.<pid> and renamed to `dir` at the end;
// `dir` must not exist. `progress` (may be empty) gets a line per 1000 images.
void write_scene_folder(const std::string& dir, int64_t train_count, int64_t val_count, const SceneOptions& options,
                        const std::string& fashion_mnist_dir,
                        const std::function<void(const std::string&)>& progress = {});

// ---- the data source ------------------------------------------------------

class DetectionSource {
 public:
  virtual ~DetectionSource() = default;
  virtual int64_t size() const = 0;
  const std::vector<std::string>& class_names() const { return class_names_; }
  int classes() const { return static_cast<int>(class_names_.size()); }
  // Truths of image i, relative to the image.
  virtual const std::vector<ObjectBox>& boxes(int64_t index) const = 0;
  // The original image, 1 x 3 x H x W RGB in [0,1]. Thread-safe.
  virtual Tensor load(int64_t index) const = 0;
  // Width, height without decoding.
  virtual std::pair<int, int> image_size(int64_t index) const = 0;
  // COCO's image id for COCO data, else the index.
  virtual int64_t image_id(int64_t index) const { return index; }
  virtual std::string image_name(int64_t index) const = 0;
  virtual std::string describe() const = 0;
  // Images without a label file (darknet: negative images).
  virtual int64_t missing_labels() const { return 0; }
  // COCO category id of each class (COCO data; else 1..classes, as the
  // scenes' JSON writes them).
  virtual std::vector<int64_t> category_ids() const;

 protected:
  explicit DetectionSource(std::vector<std::string> class_names) : class_names_(std::move(class_names)) {}
  void check_index(int64_t index) const;

 private:
  std::vector<std::string> class_names_;
};

// Specs:
//   PATH.data (any file that is not JSON)  darknet obj.data; train= or valid=
//   coco:INSTANCES.json[,IMAGE_DIR]        IMAGE_DIR defaults to the json's folder
//   fashion-mnist-scenes[:DIR]             generated in memory (train 10000 / val
//                                          1000 scenes, 160 px, seed 1), or a
//                                          folder written by write_scene_folder
std::unique_ptr<DetectionSource> make_detection_source(const std::string& spec, bool train);

}  // namespace cspnet
