#pragma once
// Classification data for training and evaluation: a random-access source of
// (image, label) pairs, every image delivered at the network's input size.
//
// Three sources:
//  - InMemoryDataSource: an ImageDataset already in memory (Fashion-MNIST).
//  - ImageFolderDataSource: root/<class>/**/*.{png,jpg,jpeg,bmp}.
//  - ImageListDataSource: darknet's list file + labels file.
// Files are decoded lazily with stb inside load(), so that the loader's
// worker threads do the decoding in parallel.
//
// Resizing to the network input: a plain bilinear stretch to W x H
// (darknet's resize_image), no aspect-preserving crop or letterbox. Channel
// adaptation: a grey source for a 3-channel network is replicated into R, G
// and B; an RGB image for a 1-channel network becomes the mean of R, G, B.
// Networks with other channel counts are rejected.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cspnet/dataset.hpp"
#include "cspnet/tensor.hpp"

namespace cspnet {

class DataSource {
 public:
  virtual ~DataSource() = default;
  virtual int64_t size() const = 0;
  int classes() const { return static_cast<int>(class_names_.size()); }
  const std::vector<std::string>& class_names() const { return class_names_; }
  // 1 x C x H x W: what load() writes.
  const Shape& image_shape() const { return shape_; }
  // The label of image `index` without decoding it.
  virtual int label(int64_t index) const = 0;
  // Writes image `index` as C*H*W floats in [0,1] (CHW order) to `chw_out`
  // and its label to `*label`. Safe to call from several threads at once.
  // Errors (an unreadable or corrupt file, an index out of range) are
  // cspnet::Error naming the file or the index.
  virtual void load(int64_t index, float* chw_out, int* label) const = 0;
  // One line for logs: what, where from, how many images and classes.
  virtual std::string describe() const = 0;

 protected:
  // Checks the network input: channels 1 or 3, positive sides.
  DataSource(std::vector<std::string> class_names, int channels, int height, int width);
  void check_index(int64_t index) const;

 private:
  std::vector<std::string> class_names_;
  Shape shape_;
};

class InMemoryDataSource final : public DataSource {
 public:
  // `name` is used by describe() ("Fashion-MNIST train from DIR").
  InMemoryDataSource(ImageDataset data, int channels, int height, int width, std::string name);
  int64_t size() const override { return data_.size(); }
  int label(int64_t index) const override;
  void load(int64_t index, float* chw_out, int* label) const override;
  std::string describe() const override;

 private:
  ImageDataset data_;
  std::string name_;
};

// Images of a file-system data set: a path and its label.
struct LabelledFile {
  std::string path;
  int label = 0;
};

// A data set of image files listed with their labels (the folder and list
// sources): load() decodes the file with load_image_file().
class LabelledFilesDataSource : public DataSource {
 public:
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  int label(int64_t index) const override;
  void load(int64_t index, float* chw_out, int* label) const override;

 protected:
  using DataSource::DataSource;
  std::vector<LabelledFile> files_;  // filled by the derived constructor
};

class ImageFolderDataSource final : public LabelledFilesDataSource {
 public:
  // Classes are the sorted names of root's sub-folders (hidden ones skipped);
  // images are the files with a png/jpg/jpeg/bmp extension (any case) found
  // anywhere below a class folder, in sorted path order. With `class_names`
  // given (a test split that must use the training split's labels), every
  // sub-folder must be one of them; folders may be missing.
  // Errors: root missing or not a folder, no class folders, a class folder
  // without images, no images at all.
  explicit ImageFolderDataSource(const std::string& root, int channels, int height, int width,
                                 const std::vector<std::string>& class_names = {});
  std::string describe() const override;

 private:
  std::string root_;
};

class ImageListDataSource final : public LabelledFilesDataSource {
 public:
  // Darknet's classification list: `list_path` names one image per line,
  // `labels_path` one class name per line (label = line order). An image's
  // class is the one label whose name occurs in its path (darknet's rule);
  // no match or several matches is an error naming the list file and line.
  // Blank lines are skipped and surrounding whitespace ignored in both files;
  // relative image paths are used as written (relative to the working
  // directory, as darknet does). Duplicate or no labels, or no images, are
  // errors.
  ImageListDataSource(const std::string& list_path, const std::string& labels_path, int channels, int height,
                      int width);
  std::string describe() const override;

 private:
  std::string list_path_;
};

// Decodes an image file (png/jpg/bmp) to C x H x W floats in [0,1] as the
// sources above do (bilinear stretch, channel adaptation).
void load_image_file(const std::string& path, int channels, int height, int width, float* chw_out);

// A data source from a command-line spec, for the training (`train` true) or
// the test split, delivering channels x height x width images:
//   "fashion-mnist"          Debian's Fashion-MNIST in kFashionMnistDir
//                            (train: 60000 train-*, test: 10000 t10k-* images)
//   "fashion-mnist:DIR"      the same four IDX files from DIR
//   "list:TRAIN,LABELS"      darknet list + labels files; the one list serves
//                            both splits
//   "list:TRAIN,TEST,LABELS" separate training and test lists
//   DIR                      an image folder: with a train/ sub-folder, the
//                            splits are DIR/train and DIR/test (or DIR/val
//                            when there is no test/), and the test split uses
//                            the training split's classes; otherwise DIR's
//                            class folders serve both splits.
std::unique_ptr<DataSource> make_data_source(const std::string& spec, bool train, int channels, int height, int width);

}  // namespace cspnet
