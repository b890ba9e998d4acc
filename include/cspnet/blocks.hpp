#pragma once
// The block kinds a stage repeats. A block appends its layers to a
// ModelBuilder, reading one layer, and returns the layer holding its output.
// Every convolution uses the model's activation (ModelBuilder::activation())
// except where the architecture prescribes a linear one.
#include <variant>
#include <vector>

#include "cspnet/model_builder.hpp"

namespace cspnet {

// Squeeze-and-excitation on `features` (the last layer): global average,
// 1x1 to channels/reduction, 1x1 back with a logistic gate, per-channel scale.
// Returns the scaled map.
int append_squeeze_excitation(ModelBuilder& b, int features, int reduction);

// DenseNet-BC dense layer: 1x1 to bottleneck*growth, 3x3 to growth, output
// = concat(new features, input). bottleneck 0 drops the 1x1 (plain DenseNet).
// elastic_scale > 0 gives the ELASTIC form (Wang et al., CVPR 2019, as in
// DenseNet-201-Elastic): two bottleneck branches of half the width, one at
// full resolution and one at 1/elastic_scale (maxpool down, upsample back;
// 1 in the last stage, whose map is too small to halve), summed.
struct DenseLayer {
  int growth = 32;
  int bottleneck = 4;
  int se_reduction = 0;   // 0: no SE on the new features
  int elastic_scale = 0;  // 0: the plain DenseNet-BC layer
};

// PeleeNet's two-way dense layer: two branches of growth/2 features each, a
// 3x3 one and a stacked 3x3+3x3 one (two receptive fields), both behind a 1x1
// bottleneck of PeleeNet's width; output = concat(input, branch 1, branch 2).
struct TwoWayDenseLayer {
  int growth = 32;
  int bottleneck_width = 1;  // PeleeNet's per-stage factor (1, 2, 4, 4)
  int se_reduction = 0;      // 0: no SE on the new features
};

// ResNet (cardinality 1) / ResNeXt bottleneck: 1x1 to width, 3x3 (grouped by
// the cardinality, strided), 1x1 to out with a linear activation, then the
// shortcut from the block's input with the model's activation. Darknet's
// shortcut adds min(C) channels and subsamples a larger input, so a block
// that changes width or stride needs no projection (the paper's cfgs have none).
struct Bottleneck {
  int width = 64;
  int out = 256;
  int cardinality = 1;
  int stride = 1;
  int se_reduction = 0;
};

// ResNet basic block (ResNet-10/18): 3x3 (strided), 3x3 linear, shortcut.
struct BasicResidual {
  int filters = 64;
  int stride = 1;
};

// Darknet-53 residual: 1x1 to hidden, 3x3 to out, linear shortcut.
struct DarknetResidual {
  int hidden = 32;
  int out = 64;
};

// MobileNetV2 inverted residual: 1x1 expansion (omitted when 0), 3x3
// depthwise conv (grouped by the expanded width, `depthwise_multiplier`
// filters per group), 1x1 linear projection; a shortcut when the stride is 1
// and the width is unchanged.
struct InvertedResidual {
  int expansion = 0;  // filters of the expansion conv; 0: no expansion conv
  int out = 16;
  int stride = 1;
  int depthwise_multiplier = 1;
  int se_reduction = 0;
};

using Block = std::variant<DenseLayer, TwoWayDenseLayer, Bottleneck, BasicResidual, DarknetResidual, InvertedResidual>;

int append_block(ModelBuilder& b, const DenseLayer& block, int input);
int append_block(ModelBuilder& b, const TwoWayDenseLayer& block, int input);
int append_block(ModelBuilder& b, const Bottleneck& block, int input);
int append_block(ModelBuilder& b, const BasicResidual& block, int input);
int append_block(ModelBuilder& b, const DarknetResidual& block, int input);
int append_block(ModelBuilder& b, const InvertedResidual& block, int input);
int append_block(ModelBuilder& b, const Block& block, int input);

// Appends the blocks one after another; returns the last output (`input`
// itself when there are none).
int append_blocks(ModelBuilder& b, const std::vector<Block>& blocks, int input);

// Repeats one block n times.
std::vector<Block> repeat(const Block& block, int n);

}  // namespace cspnet
