#pragma once
// Classification data sets held in memory. The first reader: IDX files
// (MNIST / Fashion-MNIST), raw or gzip-compressed, fully validated before
// anything large is allocated; every error is a cspnet::Error naming the
// file, the byte offset (in the decompressed stream) and what was expected.
#include <string>
#include <vector>

#include "cspnet/tensor.hpp"

namespace cspnet {

struct ImageDataset {
  Tensor images;            // N x C x H x W floats in [0,1] (IDX: C = 1, pixel / 255)
  std::vector<int> labels;  // N labels, each in [0, classes)
  int classes = 0;
  std::vector<std::string> class_names;  // `classes` names ("0", "1", ... when the files carry none)
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

// Where Debian's dataset-fashion-mnist package installs the four files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// The ten Fashion-MNIST class names, in label order.
const std::vector<std::string>& fashion_mnist_class_names();

// Reads an IDX3 unsigned-byte image file (magic 0x00000803: count, rows,
// columns) and an IDX1 unsigned-byte label file (magic 0x00000801: count).
// Either may be gzip-compressed (detected from its first bytes) or raw.
// Checked: magic numbers and dimension counts, non-zero and sane dimensions,
// equal image and label counts, declared sizes against the actual
// (decompressed) data — short files and trailing bytes are errors — and every
// label < classes. Headers that cannot be true (more than 2^31-1 items, or more
// data than the file could hold) are rejected before any allocation.
ImageDataset load_idx_dataset(const std::string& images_path, const std::string& labels_path, int classes);

// Fashion-MNIST from `dir` with the standard file names
// ({train,t10k}-{images-idx3,labels-idx1}-ubyte, with ".gz" preferred, raw
// accepted): 60000 training or 10000 test images of 1x28x28, 10 classes, with
// fashion_mnist_class_names().
ImageDataset load_fashion_mnist(const std::string& dir, bool train);

}  // namespace cspnet
