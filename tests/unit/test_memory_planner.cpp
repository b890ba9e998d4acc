// The memory planner: liveness-based reuse, zero-copy concatenation, views.
#include <gtest/gtest.h>

#include "cspnet/cspnet.hpp"
#include "test_helpers.hpp"

namespace {

using namespace cspnet;

// A CSP stage: split by route groups (a view), blocks, concat (zero-copy).
const char* kCspStage = R"(
[net]
width=16
height=16
channels=3
[convolutional]
filters=8
size=3
stride=1
pad=1
activation=leaky
[route]
layers=-1
groups=2
group_id=1
[convolutional]
filters=4
size=3
pad=1
activation=leaky
[shortcut]
from=-2
activation=linear
[convolutional]
filters=6
size=1
activation=leaky
[route]
layers=-1,-5
[convolutional]
filters=8
size=1
activation=leaky
)";

Network stage() { return Network::from_cfg(parse_cfg_text(kCspStage, "stage.cfg")); }

TEST(MemoryPlanner, ConcatProducersWriteIntoTheirSlice) {
  Network net = stage();
  MemoryPlan plan = plan_memory(net, ExecOptions{});
  // Layer 5 concatenates layer 4 (6 channels) and layer 0 (8 channels).
  EXPECT_EQ(plan.root[4], plan.root[5]);
  EXPECT_EQ(plan.root[0], plan.root[5]);
  EXPECT_EQ(plan.root_channel[4], 0);
  EXPECT_EQ(plan.root_channel[0], 6);
  EXPECT_EQ(plan.zero_copy_inputs, 2);
  EXPECT_EQ(plan.copied_inputs, 0);
  init_weights(net, 3);
  Executor executor(net);
  EXPECT_EQ(executor.copy_kernels(), 0);  // no copy kernel runs for the concat
}

TEST(MemoryPlanner, RouteGroupIsAViewIntoItsSource) {
  Network net = stage();
  MemoryPlan plan = plan_memory(net, ExecOptions{});
  EXPECT_EQ(plan.root[1], plan.root[0]);
  EXPECT_EQ(plan.root_channel[1] - plan.root_channel[0], 4);  // second half of 8 channels
}

TEST(MemoryPlanner, ZeroCopyOffMeansACopyKernel) {
  Network net = stage();
  ExecOptions options;
  options.zero_copy_concat = false;
  init_weights(net, 3);
  Executor executor(net, options);
  EXPECT_EQ(executor.copy_kernels(), 1);
  EXPECT_EQ(executor.plan().zero_copy_inputs, 0);
}

TEST(MemoryPlanner, ZeroCopyAndCopyGiveTheSameOutput) {
  Network net = stage();
  init_weights(net, 5);
  Tensor input = tests::random_input(net.input_shape(), 9);
  ExecOptions copy;
  copy.zero_copy_concat = false;
  Tensor a = Executor(net).forward(input)[0];
  Tensor b = Executor(net, copy).forward(input)[0];
  ASSERT_EQ(a.size(), b.size());
  for (int64_t i = 0; i < a.size(); ++i) EXPECT_EQ(a.data()[i], b.data()[i]);
}

TEST(MemoryPlanner, BuffersWithDisjointLifetimesShareSlots) {
  // A straight chain: only two tensors are ever alive at once.
  std::string cfg = "[net]\nwidth=32\nheight=32\nchannels=4\n";
  for (int i = 0; i < 8; ++i) cfg += "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=relu\n";
  Network net = Network::from_cfg(parse_cfg_text(cfg, "chain.cfg"));
  MemoryPlan plan = plan_memory(net, ExecOptions{});
  EXPECT_LE(plan.slot_floats.size(), 3u);
  EXPECT_LT(plan.peak_bytes * 3, plan.naive_bytes);
  ExecOptions keep;
  keep.reuse_memory = false;
  EXPECT_GE(plan_memory(net, keep).peak_bytes, plan.naive_bytes);
}

TEST(MemoryPlanner, NoLiveTensorsShareMemory) {
  // Check every pair of tensors whose lifetimes overlap occupies disjoint bytes.
  CSPNET_REQUIRE_SHARED_CFG();
  for (const char* name : {"csdarknet53.cfg", "csresnext50-panet-spp.cfg"}) {
    Network net = Network::from_cfg_file(tests::shared_cfg(name));
    MemoryPlan plan = plan_memory(net, ExecOptions{});
    const int count = net.size() + 1;
    std::vector<int> first(static_cast<size_t>(count)), last(static_cast<size_t>(count));
    auto step = [&](int t) { return t == net.size() ? 0 : t + 1; };
    for (int t = 0; t < count; ++t) first[size_t(t)] = last[size_t(t)] = step(t);
    for (int i = 0; i < net.size(); ++i)
      for (int in : net.layer(i).inputs()) {
        int t = in < 0 ? net.size() : in;
        last[size_t(t)] = std::max(last[size_t(t)], i + 1);
      }
    for (int o : net.output_layers()) last[size_t(o)] = 1 << 30;
    auto writes_own_output = [&](int t) {
      return t == net.size() || (net.layer(t).output_kind() == OutputKind::compute && !plan.folded[size_t(t)]);
    };
    auto range = [&](int t) {
      const Shape& s = t == net.size() ? net.input_shape() : net.layer(t).output_shape();
      int root = plan.root[size_t(t)];
      int64_t begin = plan.slot_offset[size_t(plan.slot[size_t(root)])] + plan.root_channel[size_t(t)] * s.h * s.w;
      return std::pair<int64_t, int64_t>{begin, begin + s.count()};
    };
    for (int a = 0; a < count; ++a)
      for (int b = a + 1; b < count; ++b) {
        // Views and concats alias their sources by design: compare written tensors only.
        if (!writes_own_output(a) || !writes_own_output(b)) continue;
        // Residual fusion accumulates a conv into its shortcut's `from` in place, by design.
        if (plan.overwritten[size_t(a)] && plan.overwritten[size_t(b)] && plan.root[size_t(a)] == plan.root[size_t(b)])
          continue;
        bool overlap_in_time = first[size_t(a)] <= last[size_t(b)] && first[size_t(b)] <= last[size_t(a)];
        if (!overlap_in_time) continue;
        auto [a0, a1] = range(a);
        auto [b0, b1] = range(b);
        EXPECT_TRUE(a1 <= b0 || b1 <= a0) << name << ": tensors " << a << " and " << b << " overlap";
      }
  }
}

TEST(MemoryPlanner, PeakIsBelowTheNaiveSumForEveryCorpusNetwork) {
  CSPNET_REQUIRE_SHARED_CFG();
  for (const auto& entry : std::filesystem::directory_iterator(CSPNET_SHARED_CFG_DIR)) {
    if (entry.path().extension() != ".cfg") continue;
    Network net = Network::from_cfg_file(entry.path().string());
    MemoryPlan plan = plan_memory(net, ExecOptions{});
    EXPECT_LT(plan.peak_bytes, plan.naive_bytes) << entry.path();
  }
  Network net = Network::from_cfg_file(tests::shared_cfg("csdarknet53.cfg"));
  MemoryPlan plan = plan_memory(net, ExecOptions{});
  EXPECT_LT(plan.peak_bytes * 3, plan.naive_bytes) << "csdarknet53 at 256x256 batch 1";
}

// A convolution followed by a long chain of views (dropout, or single-input
// routes): every view resolves to the convolution's buffer. Root resolution
// was quadratic in the chain length (31 s for 200k layers); the test's CTest
// TIMEOUT (tests/unit_timeouts.cmake) catches a return of that.
void expect_chain_resolves_to_the_convolution(const std::string& view, int views) {
  std::string text = "[net]\nwidth=8\nheight=8\nchannels=1\n[convolutional]\nfilters=2\nsize=1\n";
  for (int i = 0; i < views; ++i) text += view;
  Network net = Network::from_cfg(parse_cfg_text(text, "chain.cfg"));
  MemoryPlan plan = plan_memory(net, ExecOptions{});
  ASSERT_EQ(plan.root.size(), size_t(views) + 2);
  for (int t = 0; t <= views; ++t) {
    ASSERT_EQ(plan.root[size_t(t)], 0) << "tensor " << t;
    ASSERT_EQ(plan.root_channel[size_t(t)], 0) << "tensor " << t;
  }
  EXPECT_EQ(plan.slot_floats.size(), 2u);  // the input and the convolution's buffer
}

TEST(MemoryPlanner, LongViewChainsPlanInLinearTime) {
  expect_chain_resolves_to_the_convolution("[dropout]\n", 200000);
  expect_chain_resolves_to_the_convolution("[route]\nlayers=-1\n", 200000);
}

}  // namespace
