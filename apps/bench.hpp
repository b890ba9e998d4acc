#pragma once
// `cspnet bench`: latency/throughput of a network, against the machine's
// FMA peak and optionally OpenCV DNN in the same process.
#include <string>

#include "cspnet/executor.hpp"
#include "cspnet/network.hpp"

namespace cspnet::cli {

struct BenchOptions {
  int runs = 20;
  int warmup = 3;
  bool per_layer = false;
  bool compare_opencv = false;
  bool train = false;  // time training steps instead of inference
  std::string cfg_path;
  std::string weights;  // empty: deterministic random weights
  ExecOptions exec;
  // --precision and --quantization, applied once the weights are loaded.
  std::string precision = "fp32", quantization;
  int accuracy_inputs = 50;  // bf16 or Winograd: random inputs compared against direct fp32
  int boxes_per_image = 8;   // --train on a detector: random truth boxes per image
  std::string dump_batch;    // --train: write the batch (PREFIX.npy, PREFIX.json) for a peer
};

int run_bench(Network& net, const BenchOptions& options);

// Median ms of OpenCV DNN on the same cfg/weights/input; throws if this
// build has no OpenCV peer.
double time_opencv_ms(const std::string& cfg, const std::string& weights, const Tensor& input, int runs,
                      int warmup);
bool opencv_peer_available();

}  // namespace cspnet::cli
