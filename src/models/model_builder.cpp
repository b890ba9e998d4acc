#include "cspnet/model_builder.hpp"

#include <numeric>

#include "cspnet/error.hpp"

namespace cspnet {

std::vector<std::pair<std::string, std::string>> imagenet_training_keys() {
  return {{"batch", "128"},       {"subdivisions", "4"}, {"min_crop", "128"}, {"max_crop", "448"},
          {"burn_in", "1000"},    {"learning_rate", "0.1"}, {"policy", "poly"}, {"power", "4"},
          {"max_batches", "800000"}, {"momentum", "0.9"}, {"decay", "0.0005"}, {"angle", "7"},
          {"hue", ".1"},          {"saturation", ".75"}, {"exposure", ".75"}, {"aspect", ".75"}};
}

ModelBuilder::ModelBuilder(std::string name, NetInput input, std::string activation)
    : activation_(std::move(activation)), input_channels_(input.channels) {
  if (input.width <= 0 || input.height <= 0 || input.channels <= 0)
    throw Error(name + ": input size and channels must be positive");
  cfg_.path = std::move(name);
  CfgSection net{"net", 0, {}, {}};
  for (auto& [key, value] : input.training) net.entries.push_back(CfgEntry{key, value, 0});
  net.entries.push_back(CfgEntry{"width", std::to_string(input.width), 0});
  net.entries.push_back(CfgEntry{"height", std::to_string(input.height), 0});
  net.entries.push_back(CfgEntry{"channels", std::to_string(input.channels), 0});
  cfg_.sections.push_back(std::move(net));
}

int ModelBuilder::channels(int layer) const {
  check_layer(layer, "channels of");
  return channels_[static_cast<size_t>(layer)];
}

void ModelBuilder::check_layer(int layer, const char* what) const {
  if (layer < 0 || layer > last())
    throw Error(cfg_.path + ": " + what + " layer " + std::to_string(layer) + ", but the model has layers 0.." +
                std::to_string(last()));
}

std::string ModelBuilder::relative(int layer) const { return std::to_string(layer - layers()); }

int ModelBuilder::add(std::string section, std::vector<std::pair<std::string, std::string>> entries,
                      int out_channels) {
  if (out_channels <= 0)
    throw Error(cfg_.path + ": layer " + std::to_string(layers()) + " [" + section + "] would have " +
                std::to_string(out_channels) + " channels");
  CfgSection s{std::move(section), 0, {}, std::move(pending_note_)};
  pending_note_.clear();
  for (auto& [key, value] : entries) s.entries.push_back(CfgEntry{std::move(key), std::move(value), 0});
  cfg_.sections.push_back(std::move(s));
  channels_.push_back(out_channels);
  return last();
}

int ModelBuilder::conv(const ConvSpec& spec) {
  const int in = channels_.empty() ? input_channels_ : channels_.back();
  const int filters = spec.filters > 0 ? spec.filters : in;
  if (spec.groups <= 0 || in % spec.groups != 0 || filters % spec.groups != 0)
    throw Error(cfg_.path + ": layer " + std::to_string(layers()) + ": groups=" + std::to_string(spec.groups) +
                " must divide the input channels " + std::to_string(in) + " and the filters " +
                std::to_string(filters));
  std::vector<std::pair<std::string, std::string>> e;
  if (spec.batch_normalize) e.emplace_back("batch_normalize", "1");
  e.emplace_back("filters", std::to_string(filters));
  e.emplace_back("size", std::to_string(spec.size));
  e.emplace_back("stride", std::to_string(spec.stride));
  e.emplace_back("pad", "1");
  if (spec.groups != 1) e.emplace_back("groups", std::to_string(spec.groups));
  e.emplace_back("activation", spec.activation.empty() ? activation_ : spec.activation);
  return add("convolutional", std::move(e), filters);
}

int ModelBuilder::conv(const ConvSpec& spec, int from) {
  if (from != last()) route({from});
  return conv(spec);
}

int ModelBuilder::maxpool(int size, int stride) {
  if (channels_.empty()) throw Error(cfg_.path + ": a model starts with a convolution");
  return add("maxpool", {{"size", std::to_string(size)}, {"stride", std::to_string(stride)}}, channels_.back());
}

int ModelBuilder::maxpool(int size, int stride, int from) {
  if (from != last()) route({from});
  return maxpool(size, stride);
}

int ModelBuilder::global_avgpool() { return add("avgpool", {}, channels(last())); }

int ModelBuilder::upsample(int stride) { return add("upsample", {{"stride", std::to_string(stride)}}, channels(last())); }

int ModelBuilder::route(const std::vector<int>& layers) {
  if (layers.empty()) throw Error(cfg_.path + ": a route needs at least one layer");
  std::string refs;
  int total = 0;
  for (int layer : layers) {
    check_layer(layer, "route to");
    if (!refs.empty()) refs += ',';
    refs += relative(layer);
    total += channels_[static_cast<size_t>(layer)];
  }
  return add("route", {{"layers", refs}}, total);
}

int ModelBuilder::route_group(int layer, int groups, int group_id) {
  check_layer(layer, "route to");
  const int c = channels(layer);
  if (groups <= 0 || c % groups != 0 || group_id < 0 || group_id >= groups)
    throw Error(cfg_.path + ": cannot take group " + std::to_string(group_id) + " of " + std::to_string(groups) +
                " from layer " + std::to_string(layer) + " with " + std::to_string(c) + " channels");
  return add("route",
             {{"layers", relative(layer)}, {"groups", std::to_string(groups)}, {"group_id", std::to_string(group_id)}},
             c / groups);
}

int ModelBuilder::channel_slice(int layer, int begin, int end) {
  const int c = channels(layer);
  if (begin < 0 || end > c || begin >= end)
    throw Error(cfg_.path + ": channel slice [" + std::to_string(begin) + ", " + std::to_string(end) +
                ") of layer " + std::to_string(layer) + " with " + std::to_string(c) + " channels");
  if (begin == 0 && end == c) return route({layer});
  // Darknet can only address equal, aligned chunks (groups/group_id): cover
  // the range greedily with the largest aligned chunk that fits, then concat.
  std::vector<int> pieces;
  for (int at = begin; at < end;) {
    int best = 0;
    for (int chunk = 1; chunk <= c; ++chunk)
      if (c % chunk == 0 && at % chunk == 0 && at + chunk <= end) best = chunk;
    if (best == 0) throw Error(cfg_.path + ": no aligned channel chunk at " + std::to_string(at));
    pieces.push_back(route_group(layer, c / best, at / best));
    at += best;
  }
  return pieces.size() == 1 ? pieces[0] : route(pieces);
}

int ModelBuilder::shortcut(int from, const std::string& activation) {
  check_layer(from, "shortcut from");
  return add("shortcut", {{"from", relative(from)}, {"activation", activation}}, channels(last()));
}

int ModelBuilder::scale_channels(int from) {
  check_layer(from, "scale_channels from");
  return add("scale_channels", {{"from", relative(from)}}, channels(from));
}

int ModelBuilder::softmax() { return add("softmax", {{"groups", "1"}}, channels(last())); }

Network ModelBuilder::build() const { return Network::from_cfg(cfg_, ParseOptions{true}); }

}  // namespace cspnet
