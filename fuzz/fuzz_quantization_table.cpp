// libFuzzer target: the int8 quantization table (`cspnet quantize`'s text,
// read by --quantization): parse_quantization_table, and for a table it
// accepts, the written text must parse back to the same table. A
// cspnet::Error is the expected outcome for bad input; any other exception,
// a sanitizer report or a crash is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cspnet/error.hpp"
#include "cspnet/quantization.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cspnet::QuantizationTable table;
  try {
    table = cspnet::parse_quantization_table(std::string(fuzz::as_text(data, size)), "fuzz.q");
  } catch (const cspnet::Error&) {
    return 0;  // bad input, reported
  }
  if (cspnet::parse_quantization_table(cspnet::quantization_table_text(table), "again.q") != table) __builtin_trap();
  return 0;
}
