// libFuzzer target: the fuzz bytes as an ONNX model for `cspnet import`. A
// cspnet::Error is the expected outcome for bad input; any other exception,
// a sanitizer report or a crash is a bug. A model that imports must also
// write back as cfg text that parses into the same graph.
//
// Seeds are generated, not kept in git (binary): with
// CSPNET_ONNX_WRITE_SEEDS=DIR the target exports a small network with every
// common layer kind at several opsets into DIR and exits (fuzz-smoke.sh).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "cspnet/cspnet.hpp"
#include "cspnet/onnx_export.hpp"
#include "cspnet/onnx_import.hpp"

namespace {

const char* kSeedCfg = R"([net]
width=16
height=16
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
pad=1
activation=mish

[maxpool]
size=2
stride=2

[route]
layers=-1
groups=2
group_id=1

[convolutional]
filters=8
size=1
activation=swish

[shortcut]
from=-3
activation=leaky
alpha=0.5

[upsample]
stride=2

[convolutional]
filters=14
size=1
activation=linear

[yolo]
mask=0,1
anchors=2,3, 4,5
classes=2
num=2

[route]
layers=4

[avgpool]

[connected]
output=5
batch_normalize=1
activation=relu

[softmax]
groups=1
)";

void write_seeds(const std::string& dir) {
  cspnet::Network net = cspnet::Network::from_cfg(cspnet::parse_cfg_text(kSeedCfg, "seed.cfg"));
  cspnet::init_weights(net, 1);
  struct Seed {
    const char* name;
    int opset;
    bool dynamic, fold;
  };
  for (const Seed& s : {Seed{"opset11-dynamic", 11, true, false}, Seed{"opset17", 17, false, false},
                        Seed{"opset18-folded", 18, false, true}, Seed{"opset21", 21, true, false}}) {
    cspnet::OnnxExportOptions options;
    options.opset = s.opset;
    options.dynamic_batch = s.dynamic;
    options.fold_bn = s.fold;
    cspnet::export_onnx(net, dir + "/" + s.name + ".onnx", options);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("CSPNET_ONNX_WRITE_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    cspnet::OnnxImport imported =
        cspnet::import_onnx_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz.onnx");
    const cspnet::CfgFile cfg = cspnet::network_cfg(imported.network);
    const cspnet::Network again =
        cspnet::Network::from_cfg(cspnet::parse_cfg_text(cspnet::format_cfg(cfg), "again.cfg"));
    if (again.size() != imported.network.size()) __builtin_trap();
  } catch (const cspnet::Error&) {
  }
  return 0;
}
