#pragma once
// Grouped fp32 convolutions with 2, 4 or 8 channels per group (ResNeXt's
// cardinality-32 blocks in csresnext50) run by our own AVX-512 loop on the
// nChw16c tensors the planner keeps around them. oneDNN 2.6 has no blocked
// kernel for such groups: it stages them through nChw4c / nChw8c reorders
// around its jit kernel (a third of their time in csresnext50), or runs its
// reference kernel when forced to nChw16c.
#include <memory>

#include "backends/onednn/kernel.hpp"

namespace cspnet {

// The kernel, or null where the layer or its tensors do not fit it: fp32
// nChw16c input and output of equal channels, 2, 4 or 8 channels per group,
// no dilation, batch norm folded, a linear, relu or leaky activation, no
// residual sum, an AVX-512 CPU.
std::unique_ptr<Kernel> compile_small_group_convolution(const Layer& layer, const CompileContext& ctx);

}  // namespace cspnet
