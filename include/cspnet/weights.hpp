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
// Writes atomically (temporary file, fsync, rename): never a partial file.
void save_weights(Network& net, const std::string& path, const WeightsHeader& header = {});
// Deterministic random parameters for a given seed.
void init_weights(Network& net, uint64_t seed);
// Bytes a .weights file for this network holds for the given header version.
int64_t expected_weights_bytes(Network& net, const WeightsHeader& header);

}  // namespace cspnet
