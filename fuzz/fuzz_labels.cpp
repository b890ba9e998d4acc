// libFuzzer target: darknet label file text -> parse_darknet_labels. A
// cspnet::Error is the expected outcome for bad input; any other exception,
// a sanitizer report or a crash is a bug. Accepted boxes must satisfy the
// documented ranges.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cspnet/detection_data.hpp"
#include "cspnet/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    for (const cspnet::ObjectBox& b : cspnet::parse_darknet_labels(text, "fuzz.txt", 80)) {
      const bool ok = b.cls >= 0 && b.cls < 80 && b.x >= 0 && b.x <= 1 && b.y >= 0 && b.y <= 1 && b.w > 0 &&
                      b.w <= 1 && b.h > 0 && b.h <= 1;
      if (!ok) __builtin_trap();
    }
  } catch (const cspnet::Error&) {
    // bad input, reported
  }
  return 0;
}
