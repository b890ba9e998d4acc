// libFuzzer target: the fuzz bytes as a .weights file for a fixed small
// network (conv with batch norm, grouped conv, maxpool, connected with batch
// norm). A cspnet::Error is the expected outcome for bad input; any other
// exception, a sanitizer report or a crash is a bug. Two contracts are
// checked as well: a failed load leaves every parameter untouched, and a
// successful one consumed exactly the file's size.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cspnet/cspnet.hpp"
#include "fuzz_util.hpp"

namespace {


cspnet::Network& network() {
  static cspnet::Network net = [] {
    cspnet::Network n = cspnet::Network::from_cfg(cspnet::parse_cfg_text(fuzz::kParameterNetCfg, "fuzz.cfg"));
    cspnet::init_weights(n, 1);
    return n;
  }();
  return net;
}

std::vector<float> snapshot(cspnet::Network& net) {
  std::vector<float> values;
  for (int i = 0; i < net.size(); ++i)
    for (const auto& blob : net.layer(i).darknet_params())
      values.insert(values.end(), blob.values->begin(), blob.values->end());
  return values;
}

// An in-memory file, reopened by load_weights through /proc/self/fd.
int memory_file() {
  static const int fd = memfd_create("fuzz.weights", 0);
  if (fd < 0) __builtin_trap();
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memory_file();
  if (ftruncate(fd, 0) != 0 || (size > 0 && pwrite(fd, data, size, 0) != ssize_t(size))) __builtin_trap();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);

  cspnet::Network& net = network();
  const std::vector<float> before = snapshot(net);
  try {
    const cspnet::WeightsHeader header = cspnet::load_weights(net, path);
    if (cspnet::expected_weights_bytes(net, header) != int64_t(size)) __builtin_trap();
  } catch (const cspnet::Error&) {
    const std::vector<float> after = snapshot(net);
    if (after.size() != before.size() || std::memcmp(after.data(), before.data(), after.size() * sizeof(float)) != 0)
      __builtin_trap();  // "nothing is modified on error"
  }
  return 0;
}
