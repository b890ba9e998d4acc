#pragma once
// The paper's measurements of a network, per stage: parameters, convolution
// weights, BFLOPs, CIO memory traffic, planned memory and measured time
// (`cspnet analyze`).
//
// CIO is HarDNet's measure of memory traffic, which the CSPNet paper uses:
// the sum over convolution layers of their input and output feature-map
// elements, per image, at the size the network is built for.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cspnet/network.hpp"

namespace cspnet {

struct StageFigures {
  std::string name;  // e.g. "3: 32x32" (the stage's index and output resolution)
  int first_layer = 0, last_layer = 0;
  int64_t parameters = 0;
  int64_t conv_weights = 0;
  double bflops = 0;    // darknet's per-image figure
  int64_t cio = 0;      // convolution input + output elements, per image
  double time_ms = 0;   // median inference time (batch 1); 0 when not measured
};

struct NetworkFigures {
  std::string name;
  int width = 0, height = 0;
  std::vector<StageFigures> stages;
  StageFigures total;                // the whole network
  int64_t inference_peak_bytes = 0;  // planned activation memory, batch 1
  int training_batch = 0;            // > 0: training memory was measured at this batch
  int64_t training_bytes = 0;        // training tensors (input, outputs, planned gradients)
};

struct AnalysisOptions {
  int runs = 0;            // timed forwards for the per-stage times (0: not timed)
  int training_batch = 0;  // > 0: plan training memory at this batch
};

// The network's stages: runs of consecutive layers whose outputs share one
// spatial resolution (a stage starts where the resolution changes), as
// [first, last] layer index pairs.
std::vector<std::pair<int, int>> resolution_stages(const Network& net);

// Measures `net` at its current input size (batch 1 for inference).
NetworkFigures analyze(Network& net, const AnalysisOptions& options = {});

// The networks' totals — parameters, BFLOPs, CIO, planned memory and, when
// measured, time — each as a percentage of the first network's.
struct RelativeTotals {
  std::vector<std::string> measures;       // the measures the first network has (time only when measured)
  std::vector<std::string> networks;       // names, in order
  std::vector<std::vector<double>> percent;  // [network][measure]
};
RelativeTotals relative_totals(const std::vector<NetworkFigures>& networks);

// Those percentages as a grouped bar chart (a group per measure, a bar per
// network, each labelled), PNG or SVG by `path`'s extension, written
// atomically. Throws cspnet::Error naming `path`.
void write_analysis_plot(const std::string& path, const std::vector<NetworkFigures>& networks);

}  // namespace cspnet
