#include "train/gradient_buckets.hpp"

#include <algorithm>

namespace cspnet {

GradientBuckets::GradientBuckets(Network& net, size_t bucket_bytes) {
  Bucket bucket;
  size_t offset = 0;
  for (int i = net.size() - 1; i >= 0; --i) {
    for (const TrainableParam& p : net.layer(i).trainable_params()) {
      bucket.params.push_back(p);
      bucket.floats += p.grads->size();
    }
    if (bucket.floats > 0 && (bucket.floats * sizeof(float) >= bucket_bytes || i == 0)) {
      bucket.lowest_layer = i;
      bucket.offset = offset;
      offset += bucket.floats;
      buckets_.push_back(std::move(bucket));
      bucket = Bucket{};
    }
  }
  buffer_.resize(offset);
}

void GradientBuckets::start_next() {
  const Bucket& bucket = buckets_[started_++];
  float* at = buffer_.data() + bucket.offset;
  for (const TrainableParam& p : bucket.params) at = std::copy(p.grads->begin(), p.grads->end(), at);
  pending_.push_back(start_allreduce_sum(buffer_.data() + bucket.offset, bucket.floats));
}

void GradientBuckets::layer_done(int layer) {
  while (started_ < buckets_.size() && buckets_[started_].lowest_layer >= layer) start_next();
  // MPI progresses a nonblocking collective inside MPI calls: give it one.
  for (PendingSum& sum : pending_) sum.test();
}

void GradientBuckets::finish() {
  while (started_ < buckets_.size()) start_next();
  for (PendingSum& sum : pending_) sum.wait();
  pending_.clear();
  started_ = 0;
  for (const Bucket& bucket : buckets_) {
    const float* from = buffer_.data() + bucket.offset;
    for (const TrainableParam& p : bucket.params) {
      std::copy(from, from + p.grads->size(), p.grads->begin());
      from += p.grads->size();
    }
  }
}

}  // namespace cspnet
