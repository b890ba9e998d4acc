#pragma once
// Data-parallel training: the gradient allreduce overlapped with backward,
// in buckets (as PyTorch's DistributedDataParallel does). The parameters are
// grouped from the last layer backwards into buckets of about a given size;
// a bucket's sum starts (MPI_Iallreduce) as soon as backward has finished
// every layer in it, while backward goes on with the layers below.
#include <cstddef>
#include <vector>

#include "cspnet/distributed.hpp"
#include "cspnet/layer.hpp"
#include "cspnet/network.hpp"

namespace cspnet {

class GradientBuckets {
 public:
  // `bucket_bytes` > 0. Holds pointers to the network's gradient arrays:
  // rebuild it when the network's layers are recompiled.
  GradientBuckets(Network& net, size_t bucket_bytes);

  // Backward of `layer` is done (layers finish from the last down): starts
  // every bucket whose layers are all done and lets started sums progress.
  void layer_done(int layer);
  // After backward: starts what is left, waits for every sum and writes
  // them into the gradient arrays; ready for the next step.
  void finish();

  size_t bytes() const { return buffer_.size() * sizeof(float); }
  size_t count() const { return buckets_.size(); }

 private:
  struct Bucket {
    int lowest_layer = 0;  // complete once backward has done this layer
    std::vector<TrainableParam> params;
    size_t offset = 0, floats = 0;  // its slice of buffer_
  };
  void start_next();

  std::vector<Bucket> buckets_;  // in start order: highest layers first
  std::vector<float> buffer_;
  std::vector<PendingSum> pending_;
  size_t started_ = 0;
};

}  // namespace cspnet
