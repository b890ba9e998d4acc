#pragma once
// ModelBuilder: writes a network as an in-memory darknet cfg, one layer at a
// time, and builds the engine's Network from it. The model zoo and the CSP
// stage builder emit every model through it, so a built model and its
// exported .cfg are one description parsed by one parser: they cannot drift.
#include <string>
#include <utility>
#include <vector>

#include "cspnet/cfg.hpp"
#include "cspnet/network.hpp"

namespace cspnet {

// One [convolutional] layer. Batch norm on by default, as in every backbone
// of the paper; the classifier turns it off.
struct ConvSpec {
  int filters = 0;  // 0: as many filters as the input has channels
  int size = 1;
  int stride = 1;
  int groups = 1;
  std::string activation{};  // empty: the builder's default (the model's activation)
  bool batch_normalize = true;
};

// The [net] section: input geometry plus the training keys darknet reads.
struct NetInput {
  int width = 256, height = 256, channels = 3;
  std::vector<std::pair<std::string, std::string>> training;  // written verbatim, in order
};

// Training keys of the paper's ImageNet cfgs (batch 128, poly schedule and
// darknet's classifier augmentation), for the big models' exported cfgs.
std::vector<std::pair<std::string, std::string>> imagenet_training_keys();

// One [yolo] layer: which anchors of the model's `anchors` (w,h pairs in
// input pixels) this head predicts, and the cfg's training keys (jitter,
// ignore_thresh, ...) written verbatim after the standard ones.
struct YoloSpec {
  std::vector<int> mask;
  std::vector<int> anchors;  // w0,h0, w1,h1, ...: num = anchors.size()/2
  int classes = 80;
  std::vector<std::pair<std::string, std::string>> training;
};

class ModelBuilder {
 public:
  ModelBuilder(std::string name, NetInput input, std::string activation = "leaky");

  // Activation of every layer that does not name its own: the model's one
  // choice (leaky, mish, swish, relu), so activation variants differ only here.
  const std::string& activation() const { return activation_; }
  void set_activation(std::string activation) { activation_ = std::move(activation); }

  // Each call appends one layer (two for conv/pool reading a layer that is not
  // the last: darknet layers read their predecessor, so a [route] comes first)
  // and returns the index of the layer that holds the result.
  int conv(const ConvSpec& spec);
  int conv(const ConvSpec& spec, int from);
  int maxpool(int size, int stride);
  int maxpool(int size, int stride, int from);
  int global_avgpool();
  int upsample(int stride);
  // Channel concatenation in the given order (one layer: a view of it).
  int route(const std::vector<int>& layers);
  // The group_id-th of `groups` equal channel chunks of `layer` (a view).
  int route_group(int layer, int groups, int group_id);
  // Channels [begin, end) of `layer`, as a single route-group view when the
  // range is one aligned chunk, else as a concat of aligned chunks.
  int channel_slice(int layer, int begin, int end);
  // Last layer + `from`, elementwise (darknet [shortcut]).
  int shortcut(int from, const std::string& activation = "linear");
  // Layer `from` scaled per channel by the last layer's 1x1 map ([scale_channels]).
  int scale_channels(int from);
  int softmax();
  // darknet's Maxout ([maxpool] maxpool_depth=1): output channel g is the max
  // over input channels g, g+N, g+2N, ... (N = out_channels).
  int maxout(int out_channels);
  int maxout(int out_channels, int from);
  // Spatial attention ([sam]): the last layer times layer `from`, elementwise.
  int sam(int from, const std::string& activation = "linear");
  // A [yolo] detection head reading the last layer, which must have
  // mask.size() * (classes + 5) channels.
  int yolo(const YoloSpec& spec);

  // Renames the model (a detector built on a backbone's builder).
  void rename(std::string name);
  // Drops every layer from `layers` on (a backbone's classifier, before a
  // neck is appended). References into the dropped layers cannot exist:
  // layers only read earlier ones.
  void truncate(int layers);

  // Attaches a comment to the next layer's section (exported as '# ' lines).
  void note(std::string text) { pending_note_ = std::move(text); }

  int last() const { return static_cast<int>(channels_.size()) - 1; }
  int layers() const { return static_cast<int>(channels_.size()); }
  int channels(int layer) const;
  const std::string& name() const { return cfg_.path; }
  const CfgFile& cfg() const { return cfg_; }

  // Parses the generated cfg strictly: an unused key would be a builder bug.
  Network build() const;

 private:
  int add(std::string section, std::vector<std::pair<std::string, std::string>> entries, int out_channels);
  std::string relative(int layer) const;  // darknet's relative reference from the next layer
  void check_layer(int layer, const char* what) const;

  CfgFile cfg_;
  std::string activation_;
  std::vector<int> channels_;  // output channels of each layer
  int input_channels_ = 0;
  std::string pending_note_;
};

}  // namespace cspnet
