#pragma once
// The machine's measured fp32 FMA peak, for "% of peak" in benchmarks.

namespace cspnet {

// Runs independent FMA chains on `threads` threads for about `seconds` and
// returns the achieved GFLOP/s (2 flops per lane per FMA). Uses AVX-512 when
// the CPU has it, else AVX2+FMA, else a scalar loop.
double measure_fma_peak_gflops(int threads, double seconds = 0.3);

}  // namespace cspnet
