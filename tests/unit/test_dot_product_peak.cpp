// The measured peaks `cspnet bench` holds a run against: one per dot-product
// instruction (fp32 FMA, bf16 vdpbf16ps, int8 vpdpbusd).
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "cspnet/peak.hpp"

namespace {

using cspnet::DotProduct;

constexpr DotProduct kAll[] = {DotProduct::fp32_fma, DotProduct::bf16_pairs, DotProduct::int8_quads};

TEST(DotProductPeak, Fp32FmaIsMeasuredOnEveryCpu) {
  EXPECT_TRUE(cspnet::has_dot_product(DotProduct::fp32_fma));
  const double gflops = cspnet::measure_fma_peak_gflops(1, 0.02);
  EXPECT_TRUE(std::isfinite(gflops));
  EXPECT_GT(gflops, 0.1);  // even the scalar fallback does more than 0.1 GFLOP/s
}

TEST(DotProductPeak, AnInstructionTheCpuHasMeasuresARateAndOneItLacksMeasuresZero) {
  for (DotProduct kind : kAll) {
    const double gops = cspnet::measure_dot_product_peak_gops(kind, 1, 0.02);
    SCOPED_TRACE(cspnet::dot_product_name(kind));
    EXPECT_TRUE(std::isfinite(gops));
    if (cspnet::has_dot_product(kind)) {
      EXPECT_GT(gops, 0.1);
    } else {
      EXPECT_EQ(gops, 0.0);
    }
  }
}

TEST(DotProductPeak, MoreThreadsDoNotMeasureLess) {
  // Each thread runs the same chains: two threads report the sum of both, so
  // at least one thread's rate unless the machine is far busier than its
  // cores (a quarter of it leaves room for a shared, noisy host).
  const double one = cspnet::measure_fma_peak_gflops(1, 0.05);
  const double two = cspnet::measure_fma_peak_gflops(2, 0.05);
  EXPECT_GT(two, 0.25 * one);
}

TEST(DotProductPeak, EachInstructionHasItsOwnName) {
  std::set<std::string> names;
  for (DotProduct kind : kAll) names.insert(cspnet::dot_product_name(kind));
  EXPECT_EQ(names.size(), std::size(kAll));
}

}  // namespace
