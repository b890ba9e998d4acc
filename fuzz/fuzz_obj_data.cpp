// libFuzzer target: darknet's obj.data (read_obj_data) and the path rule
// its entries go through (resolve_relative: as written if it exists, else
// beside the obj.data file). A cspnet::Error is the expected outcome for bad
// input; any other exception (std::filesystem_error included), a sanitizer
// report or a crash is a bug. An accepted file must satisfy the documented
// contract: 1..100000 classes and a train= entry.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cspnet/detection_data.hpp"
#include "cspnet/error.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemoryFile file("obj.data");
  try {
    const cspnet::ObjData obj = cspnet::read_obj_data(file.write(fuzz::as_text(data, size)));
    if (obj.classes < 1 || obj.classes > 100000 || obj.train.empty() || obj.path != file.path()) __builtin_trap();
    for (const std::string* entry : {&obj.train, &obj.valid, &obj.names, &obj.backup, &obj.difficult})
      (void)cspnet::resolve_relative(*entry, obj.path);
  } catch (const cspnet::Error&) {
    // bad input, reported
  }
  return 0;
}
