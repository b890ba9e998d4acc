// libFuzzer target: darknet cfg text -> parse_cfg_text -> Network::from_cfg.
// A cspnet::Error is the expected outcome for bad input; any other exception,
// a sanitizer report or a crash is a bug. Accepted networks also go through
// the accounting and the memory planner, and small ones are compiled
// (oneDNN kernels) and run once forward with random weights.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cspnet/cspnet.hpp"

namespace {

// Compiling and running is worth it only while an input costs milliseconds:
// bigger networks are refused before anything is allocated or compiled (the
// parser, shapes and planner above still see them).
constexpr int64_t kMaxForwardFloats = int64_t{1} << 16;
constexpr int kMaxForwardLayers = 48;
constexpr double kMaxForwardBflops = 0.005;

bool small_enough(const cspnet::Network& net) {
  if (net.size() > kMaxForwardLayers || net.bflops() > kMaxForwardBflops) return false;
  int64_t floats = net.input_shape().count() + net.parameter_count();
  for (int i = 0; i < net.size(); ++i) floats += net.layer(i).output_shape().count();
  return floats <= kMaxForwardFloats;
}

// One forward at the cfg's own size (batch 1): every output must have the
// shape the graph inferred.
void run_forward(cspnet::Network& net) {
  if (!small_enough(net)) return;
  cspnet::init_weights(net, 1);
  cspnet::Executor executor(net);
  cspnet::Tensor input(net.input_shape(), 0.5f);
  const std::vector<cspnet::Tensor> outputs = executor.forward(input);
  if (outputs.size() != net.output_layers().size()) __builtin_trap();
  for (size_t k = 0; k < outputs.size(); ++k)
    if (outputs[k].shape().count() != net.layer(net.output_layers()[k]).output_shape().count()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cspnet::set_num_threads(1);  // one input at a time; no thread pool to start per kernel
  return 0;
}

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
      if (!strict) run_forward(net);
    } catch (const cspnet::Error&) {
      // bad input, reported
    }
  }
  return 0;
}
