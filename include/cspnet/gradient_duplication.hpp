#pragma once
// The paper's "duplicate gradient information", measured: at every tensor
// read by several layers (a dense block's shared inputs, the CSP split,
// route fan-outs), each reader's contribution g_i to the tensor's gradient
// during backward on real batches, and how alike they are:
//  - the mean pairwise cosine similarity of the g_i;
//  - gradient diversity sum_i ||g_i||^2 / ||sum_i g_i||^2: 1/n when the n
//    contributions are identical, 1 when they are orthogonal, above 1 when
//    they cancel.
// And for the weight updates (the paper's w'_k = f(w_k, g_0, ..., g_k-1)):
// at every layer with weights whose output reaches several layers, directly
// or through [route]s (which only move channels: a darknet dense block
// chains concatenations, so a dense layer's output reaches every later
// layer of its block that way), each such reader's contribution to its
// output gradient, and each contribution's share of its weight gradient
// (the layer's backward applied to that contribution alone; the shares add
// up to the weight gradient, which is linear in the output gradient). The
// shares' cosine and diversity say how much of a weight update is the same
// information arriving from several readers.
// CSPNet's claim is that its cross-stage split stops the same gradient from
// being copied into many layers' updates; these numbers show how far that
// holds on a given network.
#include <cstdint>
#include <string>
#include <vector>

#include "cspnet/network.hpp"

namespace cspnet {

class DataSource;

struct ContributionStats {
  int contributions = 0;
  double mean_cosine = 0;  // over pairs i < j; NaN with fewer than 2 non-zero contributions
  double diversity = 0;    // NaN when the contributions sum to zero
};

// The statistics of contributions g_1..g_n (equal lengths) in double precision.
ContributionStats contribution_stats(const std::vector<std::vector<double>>& contributions);

// One tensor with several readers: the output of `layer`.
struct FanOutGradients {
  int layer = 0;
  std::vector<int> readers;  // the layers reading it (a layer reading it twice counts once)
  double mean_cosine = 0;    // means over the batches where each is defined
  double diversity = 0;
  int batches = 0;
};

// A layer with weights whose output reaches several layers.
struct WeightUpdateShares {
  int layer = 0;
  std::vector<int> readers;  // the layers reading its output, directly or through routes
  double feature_mean_cosine = 0, feature_diversity = 0;  // of their output-gradient contributions
  double mean_cosine = 0, diversity = 0;                  // of their weight-gradient shares
  int batches = 0;
};

struct StageGradients {
  std::string name;  // as cspnet analyze names stages: "index: WxH"
  int first_layer = 0, last_layer = 0;
  int fan_outs = 0;  // tensors with several readers in the stage
  double mean_cosine = 0, diversity = 0;  // means over those tensors (NaN when none)
  int weighted_layers = 0;                // layers with weights and several readers in the stage
  double weight_mean_cosine = 0, weight_diversity = 0;  // means over those (NaN when none)
};

struct GradientReport {
  std::string network;
  int batches = 0, batch = 0;
  std::vector<FanOutGradients> fan_outs;
  std::vector<WeightUpdateShares> weight_updates;
  std::vector<StageGradients> stages;  // resolution_stages(net)
};

// Runs `batches` training-mode forward and backward passes (softmax
// cross-entropy at the network's loss layer, no weight update) on batches of
// `batch` images from `data` in a fixed order from `seed`, and records every
// fan-out tensor's contributions and every weight update's shares.
GradientReport measure_gradient_duplication(Network& net, const DataSource& data, int batches, int batch,
                                            uint64_t seed);

}  // namespace cspnet
