// Gradient buckets and shards in a single process: the bucket boundaries
// follow the layers from the last backwards, and a "sum" over one rank
// leaves every gradient as it was (the MPI runs: tests/distributed/).
#include <gtest/gtest.h>

#include <algorithm>

#include "cspnet/distributed.hpp"
#include "cspnet/network.hpp"
#include "cspnet/training.hpp"
#include "test_helpers.hpp"
#include "train/gradient_buckets.hpp"

namespace cspnet {
namespace {

TEST(GradientBuckets, SplitAtLayerBoundariesFromTheLastLayerAndKeepOneRanksGradients) {
  Network net = Network::from_cfg_file(tests::test_cfg("distributed_no_bn.cfg"));
  TrainingExecutor executor(net);  // sizes the gradient arrays
  float next = 1.f;
  for (const TrainableParam& p : all_trainable_params(net))
    for (float& g : *p.grads) g = next++;
  std::vector<std::vector<float>> before;
  for (const TrainableParam& p : all_trainable_params(net)) before.push_back(*p.grads);

  // Layers 0, 2 and 4 hold 80, 1168 and 250 floats: 800-byte buckets close
  // after layer 4 (1000 bytes), layer 2 and layer 0.
  GradientBuckets buckets(net, 800);
  EXPECT_EQ(buckets.count(), 3u);
  EXPECT_EQ(buckets.bytes(), (80u + 1168u + 250u) * sizeof(float));
  GradientBuckets one_bucket(net, size_t(25e6));
  EXPECT_EQ(one_bucket.count(), 1u);

  for (int layer = net.size() - 1; layer >= 0; --layer) buckets.layer_done(layer);
  buckets.finish();
  size_t i = 0;
  for (const TrainableParam& p : all_trainable_params(net)) EXPECT_EQ(*p.grads, before[i++]) << p.name;
}

TEST(ShardRange, ShardsTileTheItemsAndDifferInSizeByAtMostOne) {
  for (int64_t total : {0, 1, 5, 33, 1000})
    for (int shards : {1, 2, 3, 4, 7}) {
      int64_t expected_first = 0, smallest = total, largest = 0;
      for (int shard = 0; shard < shards; ++shard) {
        const auto [first, last] = shard_range(total, shard, shards);
        EXPECT_EQ(first, expected_first) << total << " items, shard " << shard << " of " << shards;
        expected_first = last;
        smallest = std::min(smallest, last - first);
        largest = std::max(largest, last - first);
      }
      EXPECT_EQ(expected_first, total);
      EXPECT_LE(largest - smallest, 1);
    }
}

}  // namespace
}  // namespace cspnet
