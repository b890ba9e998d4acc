// libFuzzer target: COCO instances JSON -> parse_coco_instances, and what it
// accepts back through the writer and the reader (the round trip must
// succeed with the same counts). cspnet::Error is the expected outcome for
// bad input; anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cspnet/detection_data.hpp"
#include "cspnet/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  cspnet::CocoData coco;
  try {
    coco = cspnet::parse_coco_instances(text, "fuzz.json");
  } catch (const cspnet::Error&) {
    return 0;  // bad input, reported
  }
  if (coco.boxes.size() != coco.images.size() || coco.class_names.size() != coco.category_ids.size())
    __builtin_trap();
  const cspnet::CocoData back = cspnet::parse_coco_instances(cspnet::coco_instances_json(coco), "round.json");
  if (back.images.size() != coco.images.size() || back.class_names != coco.class_names) __builtin_trap();
  for (size_t i = 0; i < coco.boxes.size(); ++i)
    if (back.boxes[i].size() != coco.boxes[i].size()) __builtin_trap();
  return 0;
}
