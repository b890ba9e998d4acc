#pragma once
// Detection necks and heads (issue 12): builders that append darknet [yolo]
// detectors to any backbone of the zoo, through the one ModelBuilder, so a
// detector exports (cspnet export-cfg) as a darknet cfg that re-parses to
// the same graph. docs/zoo.md ("Detectors") explains every choice the paper
// leaves open (CEM, GFM, EFM) and the options that switch them.
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cspnet/model_builder.hpp"
#include "cspnet/network.hpp"

namespace cspnet {

// A zoo backbone without its classifier, and the layers the necks read:
// taps[k] is the last layer at stride 2^(k+1) (strides 2, 4, 8, 16, 32...).
// Necks count levels from the coarsest (level 0 = the backbone's last
// stride, 32 for most; 64 for the Ref. models, whose last stage is at 1/64).
struct Backbone {
  ModelBuilder builder;
  std::vector<int> taps;
  int tap(int stride) const;  // throws when the backbone has no level at `stride`
  bool has(int stride) const;
  int top_stride() const { return 1 << static_cast<int>(taps.size()); }
  int level(int k) const { return tap(top_stride() >> k); }  // k = 0: coarsest
  bool has_level(int k) const { return k >= 0 && (top_stride() >> k) >= 2 && has(top_stride() >> k); }
};
Backbone detection_backbone(const std::string& zoo_name, const NetInput& input);
// Any classifier model that ends with the zoo's three classifier layers.
Backbone detection_backbone(ModelBuilder classifier_model);

// What every head needs: classes, the anchors (w,h pairs in pixels of the
// training input) split over the heads by their masks, and [yolo] keys.
struct HeadOptions {
  int classes = 80;
  std::vector<int> anchors = {10, 13, 16, 30, 33, 23, 30, 61, 62, 45, 59, 119, 116, 90, 156, 198, 373, 326};
  std::vector<std::pair<std::string, std::string>> yolo_training = {
      {"jitter", ".3"}, {"ignore_thresh", ".7"}, {"truth_thresh", "1"}, {"random", "1"}};
  int anchors_per_head = 3;
};

// The prediction head: a 3x3 convolution (`width` filters), the linear 1x1
// to mask*(classes+5), the [yolo] layer. Returns the [yolo] layer.
int append_yolo_output(ModelBuilder& b, int from, int width, const std::vector<int>& mask, const HeadOptions& head);
// The linear 1x1 to mask*(classes+5) and the [yolo] layer (tiny heads).
int append_yolo_linear(ModelBuilder& b, int from, const std::vector<int>& mask, const HeadOptions& head);
// Mask of the head at `level` (0 = finest), anchors_per_head anchors each:
// anchors are sorted small to large, so the finest head takes the first ones.
std::vector<int> head_mask(int level, const HeadOptions& head);

// SPP (YOLOv3-SPP): stride-1 max pools of `sizes` over `from`, concatenated
// with it, largest pool first (as the release's cfgs). Returns the concat.
int append_spp(ModelBuilder& b, int from, const std::vector<int>& sizes = {5, 9, 13});
// SAM (YOLOv4's point-wise spatial attention): a logistic 1x1 convolution
// of `from` to its own channels, multiplied into `from`. Returns the [sam].
int append_sam(ModelBuilder& b, int from);

// YOLOv3 head (lateral concat) or FPN (a 1x1 on the lateral first); heads
// ordered coarse to fine, as yolov3.cfg. `width` is the finest level's.
struct YoloV3Options {
  bool fpn_lateral_conv = false;
  bool spp = false;
  int width = 128;
};
void append_yolov3_neck(ModelBuilder& b, const Backbone& bb, const YoloV3Options& o, const HeadOptions& head);

// PANet with SPP exactly as the release's *-panet-spp.cfg (strides 8/16/32,
// heads fine to coarse). `width` 128 is the release's.
struct PanetOptions {
  bool spp = true;
  int width = 128;
};
void append_panet(ModelBuilder& b, const Backbone& bb, const PanetOptions& o, const HeadOptions& head);

// PRN head (YOLOv3-tiny-PRN: partial residual [shortcut]s between channel
// counts that differ); two levels (16, 32) or three (PRN-3l: 8, 16, 32).
struct PrnOptions {
  int levels = 2;
  int width = 256;  // at stride 32; halves per finer level
};
void append_prn(ModelBuilder& b, const Backbone& bb, const PrnOptions& o, const HeadOptions& head);

// CEM (ThunderNet's context enhancement): 1x1 projections of C4, upsampled
// C5 and a global context of C5, summed into one stride-16 map; optional
// SAM on it. Heads at strides 16 and 32.
struct CemOptions {
  int width = 245;  // ThunderNet's CEM width
  bool sam = false;
  // The global branch: darknet has no broadcast add, so the pooled context
  // gates the map per channel ([scale_channels]) after the sum.
  bool global_context = true;
};
void append_cem(ModelBuilder& b, const Backbone& bb, const CemOptions& o, const HeadOptions& head);

// Pyramid fusion: GFM fuses every level into each output; EFM only the
// levels s-1, s, s+1 plus the coarser fused map (top-down) and the finer
// prediction (bottom-up). Maxout (4 to 1 channels per input, before the
// concat) is what the paper's EFM uses to cut the pyramid's memory.
struct FusionOptions {
  bool exact = true;    // EFM; false: GFM
  bool maxout = true;   // 4:1 channel Maxout on each input before the concat
  int maxout_ratio = 4;
  bool sam = false;     // SAM on each fused map
  bool spp = false;     // SPP on the coarsest level before fusion
  int width = 128;      // the fused maps' 1x1 compression at the finest head (x2 per coarser level)
  // EFM: also concatenate the coarser backbone level s+1 beside the top-down
  // fused map. Fig. 6c draws only the top-down arrow (default); the text's
  // "s-1, s, s+1" is met through it either way.
  bool coarser_backbone_level = false;
};
void append_fusion_neck(ModelBuilder& b, const Backbone& bb, const FusionOptions& o, const HeadOptions& head);
void append_efm(ModelBuilder& b, const Backbone& bb, const FusionOptions& o, const HeadOptions& head);
void append_gfm(ModelBuilder& b, const Backbone& bb, const FusionOptions& o, const HeadOptions& head);

// ---------------------------------------------------------------------------
// The detector zoo: the paper's detectors (Table 2's ablation on
// CSPPeleeNet, the Ref. detectors, the PANet-SPP detectors of the release)
// and small versions for 10-class Fashion-MNIST scenes.

struct DetectorPaperFigures {
  double bflops = 0;
  int size = 320;
};

struct DetectorModel {
  std::string name;        // e.g. "csppeleenet-efm-sam"
  std::string paper_name;  // e.g. "CSPPeleeNet-EFM (SAM)"
  std::string backbone;    // zoo backbone name
  NetInput input;
  std::optional<DetectorPaperFigures> paper;
  std::string official_cfg;  // the release cfg (../shared/cfg) it reproduces exactly; empty if none
  bool small = false;        // a laptop-sized ablation model (10 classes)
  std::function<ModelBuilder(const NetInput&)> build;
  std::function<Backbone(const NetInput&)> build_backbone;  // the first layers of build(input)
};

const std::vector<DetectorModel>& detector_models();
const DetectorModel& detector_model(const std::string& name);  // throws listing the names
bool is_detector_model(const std::string& name);

// Bytes (fp32) of one image's feature maps that the neck and heads compute:
// every layer of `net` (model built at any size) after the backbone's,
// except [route] (a concatenation's memory is its inputs', zero-copy; a
// one-input route is an alias). The planned peak of a whole small detector
// is set by the backbone's early maps; this is the neck's own footprint.
int64_t neck_map_bytes(const DetectorModel& model, const Network& net);

// darknet's detector [net] keys of the release's PANet-SPP cfgs.
std::vector<std::pair<std::string, std::string>> detector_training_keys(int subdivisions = 16);

}  // namespace cspnet
