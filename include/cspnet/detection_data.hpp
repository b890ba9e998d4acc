#pragma once
// Detection data: images with their objects' boxes, random access, for
// training (augmentation draws from it), evaluation and calc_anchors.
//
// Sources (make_detection_source):
//  - darknet's obj.data: `classes`, `train`, `valid`, `names` (list files of
//    image paths; each image's labels found by darknet's rule, see
//    darknet_label_path), as `darknet detector train obj.data` reads it;
//  - the embedded Fashion-MNIST scenes: generated, deterministic
//    (FashionMnistScenes), with exact boxes.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cspnet/boxes.hpp"
#include "cspnet/tensor.hpp"

namespace cspnet {

class DetectionSource {
 public:
  virtual ~DetectionSource() = default;
  virtual int64_t size() const = 0;
  const std::vector<std::string>& class_names() const { return class_names_; }
  // The objects of image `index`, relative to the image.
  virtual const std::vector<ObjectBox>& boxes(int64_t index) const = 0;
  // Image `index` at its own size: 1 x 3 x H x W RGB in [0, 1]. Thread-safe.
  virtual Tensor load(int64_t index) const = 0;
  // COCO's image id for results files (the 0-based index unless the data
  // carries ids).
  virtual int64_t image_id(int64_t index) const { return index; }
  virtual std::string image_name(int64_t index) const = 0;
  // One line for logs: what, where from, how many images and objects.
  virtual std::string describe() const = 0;

 protected:
  explicit DetectionSource(std::vector<std::string> class_names) : class_names_(std::move(class_names)) {}
  void check_index(int64_t index) const;

 private:
  std::vector<std::string> class_names_;
};

// darknet's obj.data keys.
struct ObjData {
  std::string path;
  int classes = 0;
  std::string train, valid, names, backup;
};
// Reads `key = value` lines (# comments); errors name path:line.
ObjData read_obj_data(const std::string& path);

// darknet's replace_image_to_label: /images/ -> /labels/ (the folder that
// names the split, as darknet's COCO and Ultralytics layouts have it),
// /JPEGImages/ -> /labels/, and the image extension (jpg, jpeg, png, bmp,
// ppm, tiff, any case) -> .txt; otherwise the label lies next to the image.
std::string darknet_label_path(const std::string& image_path);

// One label file: `class x_center y_center width height` lines, relative
// coordinates. Errors name path:line: a field count other than 5, a value
// that is not a number, a class outside 0..classes-1, a centre outside
// [0, 1] or a size outside (0, 1]. Blank lines are skipped.
std::vector<ObjectBox> read_darknet_labels(const std::string& path, int classes);

// The images of a darknet list file and their labels. A missing label file
// is a negative image (darknet's rule), counted.
class DarknetDetectionSource final : public DetectionSource {
 public:
  DarknetDetectionSource(const std::string& list_path, std::vector<std::string> class_names);
  int64_t size() const override { return int64_t(images_.size()); }
  const std::vector<ObjectBox>& boxes(int64_t index) const override;
  Tensor load(int64_t index) const override;
  std::string image_name(int64_t index) const override;
  std::string describe() const override;
  int64_t missing_labels() const { return missing_labels_; }

 private:
  std::string list_path_;
  std::vector<std::string> images_;
  BoxLists boxes_;
  int64_t missing_labels_ = 0, objects_ = 0;
};

// The embedded data set: scenes of 1-8 Fashion-MNIST items (the train split
// for training scenes, the test split for validation), each scaled to a
// side of 12 px up to half the canvas, tinted and blended onto a textured,
// coloured background, with the exact box of the item's visible pixels.
// Scene i is a pure function of (seed, split, i).
struct SceneOptions {
  int64_t count = 4000;
  int size = 128;  // square canvas side
  uint64_t seed = 1;
  std::string fashion_mnist_dir;  // empty: Debian's kFashionMnistDir
};
class FashionMnistScenes final : public DetectionSource {
 public:
  FashionMnistScenes(bool train, const SceneOptions& options);
  int64_t size() const override { return int64_t(layouts_.size()); }
  const std::vector<ObjectBox>& boxes(int64_t index) const override;
  Tensor load(int64_t index) const override;
  std::string image_name(int64_t index) const override;
  std::string describe() const override;

 private:
  struct Placed {
    int64_t item;             // Fashion-MNIST image index
    int x, y, side;           // top-left corner and side of the scaled item, pixels
    float tint[3];
  };
  struct Layout {
    std::vector<Placed> items;
    std::vector<ObjectBox> boxes;
    uint64_t background_key;
  };
  Layout make_layout(int64_t index) const;
  bool train_;
  SceneOptions options_;
  std::shared_ptr<const struct ImageDataset> items_;
  std::vector<Layout> layouts_;
};

// A data spec, for the training (`train` true) or validation split:
//   path/obj.data                            darknet (train= / valid= lists)
//   fashion-mnist-scenes[:N[,VAL[,SIZE]]]    the generated scenes (default
//                                            4000 training, 500 validation, 128 px)
std::unique_ptr<DetectionSource> make_detection_source(const std::string& spec, bool train);

// Writes a detection source in darknet's layout under `dir`:
// images/<split>/NNNNNN.png, labels/<split>/NNNNNN.txt, <split>.txt (the
// list), and COCO ground truth annotations/instances_<split>.json (category
// ids 1..classes, image ids the list positions).
void write_darknet_split(const DetectionSource& source, const std::string& dir, const std::string& split);

}  // namespace cspnet
