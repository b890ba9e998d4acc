// libFuzzer target: a training run's log.csv as --resume and the curve
// plotter read it (read_training_log), and what resume does with the rows
// (formats them again and rewrites the log: the rewritten text must read
// back to as many rows). A cspnet::Error is the expected outcome for bad
// input; any other exception, a sanitizer report or a crash is a bug.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cspnet/error.hpp"
#include "cspnet/training_log.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemoryFile file("log.csv");
  std::vector<cspnet::TrainingLogRow> rows;
  try {
    rows = cspnet::read_training_log(file.write(fuzz::as_text(data, size)));
  } catch (const cspnet::Error&) {
    return 0;  // bad input, reported
  }
  std::string text = std::string(cspnet::kTrainingLogHeader) + "\n";
  for (const cspnet::TrainingLogRow& row : rows) text += cspnet::format_training_log_row(row) + "\n";
  if (cspnet::read_training_log(file.write(text)).size() != rows.size()) __builtin_trap();
  return 0;
}
