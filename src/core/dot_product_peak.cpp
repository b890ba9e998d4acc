// Each instruction's loop is compiled for its own ISA (target attributes) and
// only called after a runtime CPU check.
#include <immintrin.h>
#include <omp.h>

#include <chrono>
#include <cstdint>

#include "cspnet/peak.hpp"

namespace cspnet {
namespace {

constexpr int kChains = 12;  // enough independent chains to cover latency x ports

// GCC 12's AVX-512 headers start _mm512_set1_* and the reductions from a
// deliberately undefined vector, then warn about it.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

__attribute__((target("avx512f"))) double fma_loop_avx512(long iterations) {
  __m512 acc[kChains];
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (auto& x : acc) x = _mm512_set1_ps(1.f);
  for (long i = 0; i < iterations; ++i)
    for (auto& x : acc) x = _mm512_fmadd_ps(x, a, b);
  __m512 sum = acc[0];
  for (int k = 1; k < kChains; ++k) sum = _mm512_add_ps(sum, acc[k]);
  volatile float sink = _mm512_reduce_add_ps(sum);  // keeps the chains alive
  (void)sink;
  return double(iterations) * kChains * 16 * 2;
}

__attribute__((target("avx512f,avx512bf16"))) double bf16_loop_avx512(long iterations) {
  __m512 acc[kChains];
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(2e-3f));
  const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(3e-3f), _mm512_set1_ps(4e-3f));
  for (auto& x : acc) x = _mm512_set1_ps(1.f);
  for (long i = 0; i < iterations; ++i)
    for (auto& x : acc) x = _mm512_dpbf16_ps(x, a, b);
  __m512 sum = acc[0];
  for (int k = 1; k < kChains; ++k) sum = _mm512_add_ps(sum, acc[k]);
  volatile float sink = _mm512_reduce_add_ps(sum);
  (void)sink;
  return double(iterations) * kChains * 16 * 4;
}

__attribute__((target("avx512f,avx512vnni"))) double int8_loop_avx512(long iterations) {
  __m512i acc[kChains];
  // Each 32-bit lane adds 3*1 + 3*(-1) + 3*1 + 3*(-1) = 0: the sums never
  // overflow (the instruction's speed does not depend on the values).
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi16(-255);  // bytes 1, -1 (0xff01)
  for (auto& x : acc) x = _mm512_set1_epi32(1);
  for (long i = 0; i < iterations; ++i)
    for (auto& x : acc) x = _mm512_dpbusd_epi32(x, a, b);
  __m512i sum = acc[0];
  for (int k = 1; k < kChains; ++k) sum = _mm512_add_epi32(sum, acc[k]);
  alignas(64) int32_t lanes[16];
  _mm512_store_si512(lanes, sum);
  volatile int32_t sink = lanes[0];  // keeps the chains alive
  (void)sink;
  return double(iterations) * kChains * 16 * 8;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

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

using Loop = double (*)(long iterations);  // runs the chains, returns the ops done

Loop loop_for(DotProduct kind) {
  switch (kind) {
    case DotProduct::fp32_fma:
      if (__builtin_cpu_supports("avx512f")) return fma_loop_avx512;
      if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return fma_loop_avx2;
      return fma_loop_scalar;
    case DotProduct::bf16_pairs:
      if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16")) return bf16_loop_avx512;
      return nullptr;
    case DotProduct::int8_quads:
      if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vnni")) return int8_loop_avx512;
      return nullptr;
  }
  return nullptr;
}

}  // namespace

const char* dot_product_name(DotProduct kind) {
  switch (kind) {
    case DotProduct::fp32_fma: return "fp32 FMA";
    case DotProduct::bf16_pairs: return "bf16 vdpbf16ps";
    case DotProduct::int8_quads: return "int8 vpdpbusd";
  }
  return "?";
}

bool has_dot_product(DotProduct kind) { return loop_for(kind) != nullptr; }

double measure_dot_product_peak_gops(DotProduct kind, int threads, double seconds) {
  const Loop loop = loop_for(kind);
  if (loop == nullptr) return 0.0;
  // Calibrate the iteration count on one thread, then run all threads.
  long iterations = 1 << 16;
  for (;;) {
    auto start = std::chrono::steady_clock::now();
    loop(iterations);
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (elapsed > seconds / 4 || iterations > (1L << 34)) break;
    iterations *= 2;
  }
  double ops = 0;
  auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : ops)
  ops += loop(iterations);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return ops / elapsed / 1e9;
}

}  // namespace cspnet
