// libFuzzer target: the line-oriented data files. Byte 0 picks the reader,
// the rest is its text (two files are split at the first NUL byte):
//   0  classification list + labels (ImageListDataSource: darknet's rule,
//      one class name per image path)        first part list, second labels
//   1  detection class names (read_class_names, `classes=` from the text's
//      first part length modulo 8: 0 = any count)
//   2  detection image list (read_image_list: paths resolved relative to the
//      list, every one must exist)
//   3  the label file path of each line (label_path_for_image)
// A cspnet::Error is the expected outcome for bad input; any other exception
// (std::filesystem_error included), a sanitizer report or a crash is a bug.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "cspnet/data_source.hpp"
#include "cspnet/detection_data.hpp"
#include "cspnet/error.hpp"
#include "fuzz_util.hpp"

namespace {

void classification_list(std::string_view text) {
  static fuzz::MemoryFile list("fuzz-list.txt");
  static fuzz::MemoryFile labels("fuzz-labels.txt");
  const auto [list_text, labels_text] = fuzz::split_at_nul(text);
  list.write(list_text);
  labels.write(labels_text);
  const cspnet::ImageListDataSource source(list.path(), labels.path(), 3, 8, 8);
  if (source.size() < 1 || source.classes() < 1) __builtin_trap();  // both are documented errors
  for (int64_t i = 0; i < source.size(); ++i)
    if (source.label(i) < 0 || source.label(i) >= source.classes()) __builtin_trap();
}

void class_names(std::string_view text) {
  static fuzz::MemoryFile file("fuzz.names");
  const int expected = int(text.size() % 8);
  const auto names = cspnet::read_class_names(file.write(text), expected);
  if (names.empty() || (expected > 0 && int(names.size()) != expected)) __builtin_trap();
}

void image_list(std::string_view text) {
  static fuzz::MemoryFile file("fuzz-images.txt");
  if (cspnet::read_image_list(file.write(text)).empty()) __builtin_trap();  // "no images" is an error
}

void label_paths(std::string_view text) {
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find('\n', start), text.size());
    const std::string label = cspnet::label_path_for_image(std::string(text.substr(start, end - start)));
    if (label.size() < 4 || label.compare(label.size() - 4, 4, ".txt") != 0) __builtin_trap();
    start = end + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view text = fuzz::as_text(data + 1, size - 1);
  try {
    switch (data[0] % 4) {
      case 0:
        classification_list(text);
        break;
      case 1:
        class_names(text);
        break;
      case 2:
        image_list(text);
        break;
      default:
        label_paths(text);
        break;
    }
  } catch (const cspnet::Error&) {
    // bad input, reported
  }
  return 0;
}
