// The oneDNN backend's registry: layer kind -> its kernels. A kind without
// a case here fails to compile (-Wswitch under -Werror), so a new layer
// kind cannot be forgotten.
#include "backends/onednn/kernel.hpp"
#include "cspnet/error.hpp"

namespace cspnet {

const LayerKernels& convolutional_kernels();
const LayerKernels& maxpool_kernels();
const LayerKernels& avgpool_kernels();
const LayerKernels& route_kernels();
const LayerKernels& shortcut_kernels();
const LayerKernels& upsample_kernels();
const LayerKernels& connected_kernels();
const LayerKernels& softmax_kernels();
const LayerKernels& dropout_kernels();
const LayerKernels& cost_kernels();
const LayerKernels& sam_kernels();
const LayerKernels& scale_channels_kernels();
const LayerKernels& yolo_kernels();

const LayerKernels& onednn_kernels(LayerKind kind) {
  switch (kind) {
    case LayerKind::convolutional: return convolutional_kernels();
    case LayerKind::maxpool: return maxpool_kernels();
    case LayerKind::avgpool: return avgpool_kernels();
    case LayerKind::route: return route_kernels();
    case LayerKind::shortcut: return shortcut_kernels();
    case LayerKind::upsample: return upsample_kernels();
    case LayerKind::connected: return connected_kernels();
    case LayerKind::softmax: return softmax_kernels();
    case LayerKind::dropout: return dropout_kernels();
    case LayerKind::cost: return cost_kernels();
    case LayerKind::sam: return sam_kernels();
    case LayerKind::scale_channels: return scale_channels_kernels();
    case LayerKind::yolo: return yolo_kernels();
  }
  throw Error("internal: no oneDNN kernels for layer kind " + std::to_string(static_cast<int>(kind)));
}

}  // namespace cspnet
