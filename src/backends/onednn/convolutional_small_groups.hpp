#pragma once
// Grouped convolutions with 2, 4 or 8 channels per group (ResNeXt's
// cardinality-32 blocks in csresnext50), fp32 or bf16, run by our own
// AVX-512 loop on the tensors the planner keeps around them (nChw16c, or
// channels last in bf16 plans). oneDNN 2.6 has no nChw16c kernel for such
// groups: it stages fp32 ones through nChw4c / nChw8c reorders around its
// jit kernel (a third of their time in csresnext50), or runs its reference
// kernel when forced to nChw16c; its bf16 kernel for them runs at 40-90
// GFLOP/s.
#include <memory>

#include "backends/onednn/kernel.hpp"

namespace cspnet {

// The kernel, or null where the layer or its tensors do not fit it: fp32
// nChw16c float tensors, or in bf16 plans a bf16 input and a bf16 or float
// output (nChw16c or channels last); equal input and output channels, 2, 4
// or 8 per group; no dilation; batch norm folded; a linear activation or
// one oneDNN fuses as a relu with a slope in [0, 1] (relu, leaky); no
// residual sum; an AVX-512 CPU.
std::unique_ptr<Kernel> compile_small_group_convolution(const Layer& layer, const CompileContext& ctx);

}  // namespace cspnet
