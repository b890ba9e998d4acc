#pragma once
// darknet .weights: header (major, minor, revision, seen), then every layer's
// parameters in cfg order as little-endian float32.
#include <cstdint>
#include <string>

#include "cspnet/network.hpp"

namespace cspnet {

struct WeightsHeader {
  int32_t major = 0, minor = 2, revision = 5;
  uint64_t seen = 0;  // images seen in training
};

// Reads `path` into the network's parameters. The byte count must match the
// network exactly: a short or long file is an error naming the expected and
// actual sizes and the layer that ran short. Nothing is modified on error.
WeightsHeader load_weights(Network& net, const std::string& path);
// darknet's rule for a pretrained backbone: a file holding the parameters of
// the first N layers (darknet partial's output, or a classifier whose layers
// begin the detector) fills those layers and leaves the rest as they are.
// Returns N; a file that ends inside a layer, or is longer than the
// network's, is an error. `header` (optional) receives the file's header.
int load_weights_prefix(Network& net, const std::string& path, WeightsHeader* header = nullptr);
// Writes atomically (temporary file, fsync, rename): never a partial file.
// `layers` >= 0: only the first `layers` layers (darknet's partial).
void save_weights(Network& net, const std::string& path, const WeightsHeader& header = {}, int layers = -1);
// Deterministic random parameters for a given seed.
void init_weights(Network& net, uint64_t seed);
// Bytes a .weights file for this network holds for the given header version.
int64_t expected_weights_bytes(Network& net, const WeightsHeader& header);

}  // namespace cspnet
