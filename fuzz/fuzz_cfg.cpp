// libFuzzer target: darknet cfg text -> parse_cfg_text -> Network::from_cfg.
// A cspnet::Error is the expected outcome for bad input; any other exception,
// a sanitizer report or a crash is a bug. Accepted networks also go through
// the accounting and the memory planner (cheap, no parameters are touched).
#include <cstddef>
#include <cstdint>
#include <string>

#include "cspnet/cspnet.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (bool strict : {false, true}) {
    try {
      const cspnet::CfgFile cfg = cspnet::parse_cfg_text(text, "fuzz.cfg");
      cspnet::Network net = cspnet::Network::from_cfg(cfg, cspnet::ParseOptions{strict});
      volatile double sink = net.bflops() + net.conv_bflops();
      sink = sink + double(net.parameter_count() + net.conv_weight_count());
      for (int i = 0; i < net.size(); ++i) sink = sink + double(net.layer(i).geometry().size());
      sink = sink + double(net.output_layers().size());
      const cspnet::MemoryPlan plan = cspnet::plan_memory(net, cspnet::ExecOptions{});
      if (plan.peak_bytes <= 0 || plan.peak_bytes > plan.naive_bytes + 64 * int64_t(net.size() + 1))
        __builtin_trap();  // the planner must never need more than every tensor in its own buffer
      (void)sink;
    } catch (const cspnet::Error&) {
      // bad input, reported
    }
  }
  return 0;
}
