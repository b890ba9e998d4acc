// Compiled with AVX-512/FMA enabled (see CMakeLists.txt); each path is only
// called after a runtime CPU check.
#include <immintrin.h>
#include <omp.h>

#include <chrono>

#include "cspnet/peak.hpp"

namespace cspnet {
namespace {

constexpr int kChains = 12;  // enough independent FMAs to cover latency x ports

__attribute__((target("avx512f"))) double fma_loop_avx512(long iterations) {
  __m512 acc[kChains];
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (auto& x : acc) x = _mm512_set1_ps(1.f);
  for (long i = 0; i < iterations; ++i)
    for (auto& x : acc) x = _mm512_fmadd_ps(x, a, b);
  __m512 sum = acc[0];
  for (int k = 1; k < kChains; ++k) sum = _mm512_add_ps(sum, acc[k]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  volatile float sink = lanes[0];  // keeps the chains alive
  (void)sink;
  return double(iterations) * kChains * 16 * 2;
}

__attribute__((target("avx2,fma"))) double fma_loop_avx2(long iterations) {
  __m256 acc[kChains];
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (auto& x : acc) x = _mm256_set1_ps(1.f);
  for (long i = 0; i < iterations; ++i)
    for (auto& x : acc) x = _mm256_fmadd_ps(x, a, b);
  volatile float sink = 0;
  for (auto& x : acc) {
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, x);
    sink = sink + lanes[0];
  }
  return double(iterations) * kChains * 8 * 2;
}

double fma_loop_scalar(long iterations) {
  float acc[kChains];
  for (auto& x : acc) x = 1.f;
  for (long i = 0; i < iterations; ++i)
    for (auto& x : acc) x = x * 0.999999f + 1e-7f;
  volatile float sink = acc[0];
  (void)sink;
  return double(iterations) * kChains * 2;
}

double fma_loop(long iterations) {
  if (__builtin_cpu_supports("avx512f")) return fma_loop_avx512(iterations);
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return fma_loop_avx2(iterations);
  return fma_loop_scalar(iterations);
}

}  // namespace

double measure_fma_peak_gflops(int threads, double seconds) {
  // Calibrate the iteration count on one thread, then run all threads.
  long iterations = 1 << 16;
  for (;;) {
    auto start = std::chrono::steady_clock::now();
    fma_loop(iterations);
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (elapsed > seconds / 4 || iterations > (1L << 34)) break;
    iterations *= 2;
  }
  double flops = 0;
  auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
  flops += fma_loop(iterations);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return flops / elapsed / 1e9;
}

}  // namespace cspnet
