// libFuzzer target: the IDX reader (load_idx_dataset, MNIST/Fashion-MNIST
// images + labels, each raw or gzip). One input is both files and the class
// count: byte 0 = classes - 1, bytes 1-2 = the label file's length L (little
// endian, clamped to what is there), then L bytes of label file, then the
// image file. A cspnet::Error is the expected outcome for bad input; any
// other exception, a sanitizer report or a crash is a bug. An accepted data
// set must satisfy the documented contract (counts, shapes, labels and
// pixels in range).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "cspnet/dataset.hpp"
#include "cspnet/error.hpp"
#include "fuzz_util.hpp"

namespace {

void check_contract(const cspnet::ImageDataset& d, int classes) {
  const cspnet::Shape& s = d.images.shape();
  if (d.classes != classes || int(d.class_names.size()) != classes || s.n != d.size() || s.c != 1 || s.h < 1 ||
      s.w < 1)
    __builtin_trap();
  for (int label : d.labels)
    if (label < 0 || label >= classes) __builtin_trap();
  const float* pixels = d.images.data();
  for (int64_t i = 0; i < s.count(); ++i)
    if (!(pixels[i] >= 0.f && pixels[i] <= 1.f)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemoryFile images("fuzz-images.idx");
  static fuzz::MemoryFile labels("fuzz-labels.idx");
  if (size < 3) return 0;
  const int classes = int(data[0]) + 1;
  const size_t label_bytes = std::min<size_t>(size_t(data[1]) | size_t(data[2]) << 8, size - 3);
  const std::string_view rest = fuzz::as_text(data + 3, size - 3);
  labels.write(rest.substr(0, label_bytes));
  images.write(rest.substr(label_bytes));
  try {
    check_contract(cspnet::load_idx_dataset(images.path(), labels.path(), classes), classes);
  } catch (const cspnet::Error&) {
    // bad input, reported
  }
  return 0;
}
