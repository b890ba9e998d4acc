#pragma once
// The machine's measured arithmetic peaks, for "% of peak" in benchmarks: one
// per dot-product instruction a precision's convolutions end in.

namespace cspnet {

enum class DotProduct {
  fp32_fma,    // vfmadd231ps: 2 ops per 32-bit lane (AVX2+FMA or scalar fallback)
  bf16_pairs,  // vdpbf16ps (AVX512_BF16): two bf16 products summed into fp32, 4 ops per lane
  int8_quads,  // vpdpbusd (AVX512_VNNI): four u8 x s8 products summed into s32, 8 ops per lane
};

const char* dot_product_name(DotProduct kind);  // "fp32 FMA", "bf16 vdpbf16ps", "int8 vpdpbusd"

// Whether this CPU has the instruction (fp32_fma: always, through a fallback).
bool has_dot_product(DotProduct kind);

// Runs independent chains of the instruction on `threads` threads for about
// `seconds` and returns the achieved G ops/s (multiplies and adds counted as
// above). 0 when the CPU lacks the instruction.
double measure_dot_product_peak_gops(DotProduct kind, int threads, double seconds = 0.3);

// The fp32 FMA peak in GFLOP/s.
inline double measure_fma_peak_gflops(int threads, double seconds = 0.3) {
  return measure_dot_product_peak_gops(DotProduct::fp32_fma, threads, seconds);
}

}  // namespace cspnet
