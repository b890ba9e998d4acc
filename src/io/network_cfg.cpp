// A network's darknet cfg, written from its public description (LayerAttrs
// and edges): what a parser reading the text back builds is the same graph.
#include <algorithm>
#include <cstdio>
#include <string>
#include <variant>

#include "cspnet/network.hpp"
#include "train/net_training_keys.hpp"

namespace cspnet {
namespace {

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

template <class T>
std::string list(const std::vector<T>& values) {
  std::string text;
  for (const T& v : values) {
    if (!text.empty()) text += ',';
    text += number(double(v));
  }
  return text;
}

// The section of one layer: its attributes as darknet keys. Every key is
// written (defaults too), so the text does not depend on darknet's defaults.
class SectionWriter {
 public:
  explicit SectionWriter(const Layer& layer) : layer_(layer) { section_.name = section_name(layer.kind()); }
  CfgSection take() { return std::move(section_); }

  void operator()(const ConvolutionalAttrs& a) {
    add("filters", a.filters);
    add("size", a.size);
    add("stride_x", a.stride_x);
    add("stride_y", a.stride_y);
    add("padding", a.padding);
    add("groups", a.groups);
    add("dilation", a.dilation);
    add("batch_normalize", a.batch_normalize);
    add("activation", activation_name(a.activation));
    if (a.share_index >= 0) add("share_index", a.share_index);
  }
  void operator()(const MaxpoolAttrs& a) {
    add("size", a.size);
    add("stride_x", a.stride_x);
    add("stride_y", a.stride_y);
    add("padding", a.padding);
    if (a.maxout) {
      add("maxpool_depth", 1);
      add("out_channels", a.out_channels);
    }
  }
  void operator()(const AvgpoolAttrs&) {}
  void operator()(const RouteAttrs& a) {
    add("layers", list(layer_.inputs()));
    add("groups", a.groups);
    add("group_id", a.group_id);
  }
  void operator()(const ShortcutAttrs& a) {
    add("from", list(std::vector<int>(layer_.inputs().begin() + 1, layer_.inputs().end())));
    add("activation", activation_name(a.activation));
    add("alpha", a.alpha);
    add("beta", a.beta);
  }
  void operator()(const UpsampleAttrs& a) {
    add("stride", a.downsample ? -a.stride : a.stride);
    add("scale", a.scale);
  }
  void operator()(const ConnectedAttrs& a) {
    add("output", a.outputs);
    add("batch_normalize", a.batch_normalize);
    add("activation", activation_name(a.activation));
  }
  void operator()(const SoftmaxAttrs& a) {
    add("groups", a.groups);
    add("temperature", a.temperature);
  }
  void operator()(const DropoutAttrs& a) { add("probability", a.probability); }
  void operator()(const CostAttrs& a) {
    add("type", a.type);
    add("scale", a.scale);
  }
  void operator()(const SamAttrs& a) {
    add("from", layer_.inputs().at(1));
    add("activation", activation_name(a.activation));
  }
  void operator()(const ScaleChannelsAttrs& a) {
    add("from", layer_.inputs().at(1));
    add("activation", activation_name(a.activation));
  }
  void operator()(const YoloAttrs& a) {
    add("mask", list(a.mask));
    add("anchors", list(a.anchors));
    add("classes", a.classes);
    add("num", a.num);
    add("scale_x_y", a.scale_x_y);
    add("new_coords", a.new_coords);
    write_training_keys(a);
  }

 private:
  // The [yolo] training keys that differ from darknet's defaults.
  void write_training_keys(const YoloAttrs& a) {
    static constexpr const char* kKinds[] = {"iou", "giou", "diou", "ciou"};
    static constexpr const char* kLosses[] = {"mse", "iou", "giou", "diou", "ciou"};
    static constexpr const char* kNms[] = {"default", "greedynms", "diounms", "cornersnms"};
    const YoloAttrs d;
    if (a.max_boxes != d.max_boxes) add("max", a.max_boxes);
    if (a.jitter != d.jitter) add("jitter", a.jitter);
    if (a.resize != d.resize) add("resize", a.resize);
    if (a.random != d.random) add("random", a.random);
    if (a.ignore_thresh != d.ignore_thresh) add("ignore_thresh", a.ignore_thresh);
    if (a.truth_thresh != d.truth_thresh) add("truth_thresh", a.truth_thresh);
    if (a.iou_thresh != d.iou_thresh) add("iou_thresh", a.iou_thresh);
    if (a.iou_thresh_kind != d.iou_thresh_kind) add("iou_thresh_kind", kKinds[int(a.iou_thresh_kind)]);
    if (a.iou_loss != d.iou_loss) add("iou_loss", kLosses[int(a.iou_loss)]);
    if (a.iou_normalizer != d.iou_normalizer) add("iou_normalizer", a.iou_normalizer);
    if (a.obj_normalizer != d.obj_normalizer) add("obj_normalizer", a.obj_normalizer);
    if (a.cls_normalizer != d.cls_normalizer) add("cls_normalizer", a.cls_normalizer);
    if (a.delta_normalizer != d.delta_normalizer) add("delta_normalizer", a.delta_normalizer);
    if (a.max_delta != d.max_delta) add("max_delta", a.max_delta);
    if (a.label_smooth_eps != d.label_smooth_eps) add("label_smooth_eps", a.label_smooth_eps);
    if (!a.counters_per_class.empty()) add("counters_per_class", list(a.counters_per_class));
    if (a.focal_loss) add("focal_loss", a.focal_loss);
    if (a.objectness_smooth) add("objectness_smooth", a.objectness_smooth);
    if (a.nms_kind != d.nms_kind) add("nms_kind", kNms[int(a.nms_kind)]);
    if (a.beta_nms != d.beta_nms) add("beta_nms", a.beta_nms);
  }

  void add(const std::string& key, const std::string& value) { section_.entries.push_back({key, value, 0, {}}); }
  void add(const std::string& key, const char* value) { add(key, std::string(value)); }
  void add(const std::string& key, int value) { add(key, std::to_string(value)); }
  void add(const std::string& key, bool value) { add(key, value ? 1 : 0); }
  void add(const std::string& key, float value) { add(key, number(value)); }

  const Layer& layer_;
  CfgSection section_;
};

CfgSection net_section(const Network& net) {
  const NetConfig& config = net.config();
  CfgSection section{"net", 0, {}, {}};
  auto add = [&](const std::string& key, const std::string& value) { section.entries.push_back({key, value, 0, {}}); };
  add("width", std::to_string(config.width));
  add("height", std::to_string(config.height));
  add("channels", std::to_string(config.channels));
  add("batch", std::to_string(config.batch));
  add("subdivisions", std::to_string(config.subdivisions));
  // The training keys as the cfg has them (the first of a repeated key: the
  // one that counts).
  std::vector<std::string> written;
  for (const CfgEntry& entry : config.section.entries)
    if (is_net_training_key(entry.key) && std::find(written.begin(), written.end(), entry.key) == written.end()) {
      add(entry.key, entry.value);
      written.push_back(entry.key);
    }
  return section;
}

}  // namespace

CfgFile network_cfg(const Network& net) {
  CfgFile cfg;
  cfg.path = net.name() + ".cfg";
  cfg.sections.push_back(net_section(net));
  for (int i = 0; i < net.size(); ++i) {
    SectionWriter writer(net.layer(i));
    std::visit(writer, net.layer(i).attrs());
    cfg.sections.push_back(writer.take());
  }
  return cfg;
}

}  // namespace cspnet
