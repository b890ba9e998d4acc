#include "cspnet/weights.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <utility>
#include <vector>

#include "cspnet/error.hpp"
#include "io/file_output.hpp"

namespace cspnet {
namespace {

// darknet: an 8-byte `seen` from version 0.2 on, unless either number is
// 1000 or more (the old transposed-connected marker).
bool seen_is_64bit(const WeightsHeader& h) {
  return int64_t{h.major} * 10 + h.minor >= 2 && h.major < 1000 && h.minor < 1000;  // int64: no overflow
}
// darknet stores connected weights transposed when either version number is huge.
bool connected_transposed(const WeightsHeader& h) { return h.major > 1000 || h.minor > 1000; }
int64_t header_bytes(const WeightsHeader& h) { return 12 + (seen_is_64bit(h) ? 8 : 4); }

int64_t parameter_bytes(Network& net) {
  int64_t total = 0;
  for (int i = 0; i < net.size(); ++i)
    for (const auto& blob : net.layer(i).darknet_params()) total += int64_t(blob.values->size()) * 4;
  return total;
}

std::string layer_label(const Layer& layer) {
  return "layer " + std::to_string(layer.index()) + " (" + std::string(layer.type()) + ", " + layer.where() + ")";
}

// NaN/Inf anywhere, or a negative batch-norm variance (sqrt of a negative),
// would make every prediction nan: refused with the value's offset.
void check_values(const std::string& path, int64_t offset, const Layer& layer, const ParamBlob& blob,
                  const std::vector<float>& values) {
  const bool variance = std::string_view(blob.name) == "rolling_variance";
  for (size_t k = 0; k < values.size(); ++k) {
    const float v = values[k];
    if (std::isfinite(v) && !(variance && v < 0)) continue;
    char text[32];
    std::snprintf(text, sizeof text, "%g", double(v));
    throw Error(path + ": offset " + std::to_string(offset + int64_t(k) * 4) + ": " + layer_label(layer) + " " +
                blob.name + "[" + std::to_string(k) + "] is " + text + ", expected " +
                (variance ? "a finite variance >= 0" : "a finite number"));
  }
}

}  // namespace

int64_t expected_weights_bytes(Network& net, const WeightsHeader& header) {
  return header_bytes(header) + parameter_bytes(net);
}

namespace {

// Reads `path` into the first layers of `net`: all of them, or with
// `allow_prefix` as many whole layers as the file holds.
std::pair<WeightsHeader, int> read_weights(Network& net, const std::string& path, bool allow_prefix) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(path + ": is a directory, expected a darknet .weights file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open weights file");
  in.seekg(0, std::ios::end);
  const int64_t file_size = in.tellg();
  if (file_size < 0) throw Error(path + ": cannot determine the file size (not a regular file?)");
  in.seekg(0);
  WeightsHeader header;
  if (file_size < 12)
    throw Error(path + ": " + std::to_string(file_size) +
                " bytes is too short for a darknet weights header (12 bytes of major, minor, revision expected)");
  in.read(reinterpret_cast<char*>(&header.major), 4);
  in.read(reinterpret_cast<char*>(&header.minor), 4);
  in.read(reinterpret_cast<char*>(&header.revision), 4);
  if (header.major < 0 || header.minor < 0 || header.revision < 0)
    throw Error(path + ": offset 0: invalid header version " + std::to_string(header.major) + "." +
                std::to_string(header.minor) + "." + std::to_string(header.revision) +
                " (expected non-negative major, minor, revision)");
  const int64_t head = header_bytes(header);
  if (file_size < head)
    throw Error(path + ": offset 12: file ends inside the header (" + std::to_string(head) + " bytes expected, " +
                std::to_string(file_size) + " present)");
  if (seen_is_64bit(header)) {
    in.read(reinterpret_cast<char*>(&header.seen), 8);
  } else {
    uint32_t seen32 = 0;
    in.read(reinterpret_cast<char*>(&seen32), 4);
    header.seen = seen32;
  }
  const int64_t expected = head + parameter_bytes(net);
  const bool transposed = connected_transposed(header);

  // Walk the layers first to find where a short file runs out, before
  // touching any parameter.
  int layers = net.size();
  if (allow_prefix && file_size < expected) {
    int64_t offset = head;
    for (layers = 0; layers < net.size() && offset < file_size; ++layers)
      for (const auto& blob : net.layer(layers).darknet_params()) offset += int64_t(blob.values->size()) * 4;
    if (offset != file_size)
      throw Error(path + ": " + std::to_string(file_size) + " bytes end inside " + layer_label(net.layer(layers - 1)) +
                  " (its parameters end at offset " + std::to_string(offset) +
                  "): not the weights of the first layers of " + net.name());
  } else if (file_size != expected) {
    if (file_size > expected)
      throw Error(path + ": " + std::to_string(file_size) + " bytes, but " + net.name() + " needs exactly " +
                  std::to_string(expected) + " (header " + std::to_string(head) +
                  " + parameters); the file has " + std::to_string(file_size - expected) +
                  " extra bytes (weights for a different cfg?)");
    int64_t offset = head;
    for (int i = 0; i < net.size(); ++i)
      for (const auto& blob : net.layer(i).darknet_params()) {
        int64_t bytes = int64_t(blob.values->size()) * 4;
        if (offset + bytes > file_size)
          throw Error(path + ": truncated at offset " + std::to_string(file_size) + ": " +
                      layer_label(net.layer(i)) + " needs " + std::to_string(bytes) + " bytes of " + blob.name +
                      " at offset " + std::to_string(offset) + "; the file is " + std::to_string(file_size) +
                      " bytes, " + std::to_string(expected) + " expected");
        offset += bytes;
      }
  }
  // Read everything first and only then replace the parameters, so that an
  // I/O error half-way leaves the network as it was.
  std::vector<std::vector<float>> loaded;
  std::vector<std::vector<float>*> targets;
  int64_t offset = head;
  for (int i = 0; i < layers; ++i)
    for (const auto& blob : net.layer(i).darknet_params()) {
      std::vector<float> values(blob.values->size());
      in.read(reinterpret_cast<char*>(values.data()), std::streamsize(values.size() * 4));
      if (!in) throw Error(path + ": read error in " + layer_label(net.layer(i)) + " " + blob.name);
      check_values(path, offset, net.layer(i), blob, values);
      offset += int64_t(values.size()) * 4;
      if (transposed && blob.rows > 0) {
        // Stored [inputs][outputs]; we keep [outputs][inputs].
        std::vector<float> stored = values;
        for (int64_t r = 0; r < blob.rows; ++r)
          for (int64_t c = 0; c < blob.cols; ++c)
            values[size_t(r * blob.cols + c)] = stored[size_t(c * blob.rows + r)];
      }
      loaded.push_back(std::move(values));
      targets.push_back(blob.values);
    }
  for (size_t k = 0; k < targets.size(); ++k) targets[k]->swap(loaded[k]);
  return {header, layers};
}

}  // namespace

WeightsHeader load_weights(Network& net, const std::string& path) { return read_weights(net, path, false).first; }

int load_weights_prefix(Network& net, const std::string& path, WeightsHeader* header) {
  auto [read_header, layers] = read_weights(net, path, true);
  if (header) *header = read_header;
  return layers;
}

void save_weights(Network& net, const std::string& path, const WeightsHeader& header, int layers) {
  if (layers < 0 || layers > net.size()) layers = net.size();
  AtomicFileWriter file(path);
  const WeightsHeader& h = header;
  file.write(&h.major, 4);
  file.write(&h.minor, 4);
  file.write(&h.revision, 4);
  if (seen_is_64bit(h)) {
    file.write(&h.seen, 8);
  } else {
    const uint32_t seen32 = uint32_t(h.seen);
    file.write(&seen32, 4);
  }
  for (int i = 0; i < layers; ++i)
    for (const auto& blob : net.layer(i).darknet_params()) {
      std::vector<float> values = *blob.values;
      if (connected_transposed(h) && blob.rows > 0)
        for (int64_t r = 0; r < blob.rows; ++r)
          for (int64_t c = 0; c < blob.cols; ++c) values[size_t(c * blob.rows + r)] = (*blob.values)[size_t(r * blob.cols + c)];
      file.write(values.data(), 4 * values.size());
    }
  file.commit();
}

void init_weights(Network& net, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int i = 0; i < net.size(); ++i) net.layer(i).init_parameters(rng);
}

}  // namespace cspnet
