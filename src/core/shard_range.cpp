// The split of a list of items over the ranks, with or without MPI.
#include "cspnet/distributed.hpp"

namespace cspnet {

std::pair<int64_t, int64_t> shard_range(int64_t total, int shard, int shards) {
  // Boundaries at floor(total * k / shards): consecutive ranges tile
  // [0, total) and their sizes differ by at most one.
  return {total * shard / shards, total * (shard + 1) / shards};
}

}  // namespace cspnet
