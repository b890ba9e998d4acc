#pragma once
// Data-parallel training across processes (MPI): which rank this process is,
// how many there are, and the sum of float arrays over all of them. Built
// with MPI (CMake found it: CSPNET_WITH_MPI) these go through MPI_COMM_WORLD;
// without, there is one rank, and a start under mpirun with several
// processes is an error saying so.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace cspnet {

// Initialises MPI for the process's lifetime (MPI_Init_thread / Finalize);
// construct one in main() before anything else. A no-op without MPI.
class DistributedSession {
 public:
  DistributedSession(int& argc, char**& argv);
  ~DistributedSession();
  DistributedSession(const DistributedSession&) = delete;
  DistributedSession& operator=(const DistributedSession&) = delete;
};

int world_rank();  // 0 without MPI
int world_size();  // 1 without MPI
bool built_with_mpi();
// Sums `values` elementwise over every rank, in place (every rank gets the
// sum). A no-op with one rank.
void allreduce_sum(float* values, size_t count);
void allreduce_sum(double* values, size_t count);
// A sum over the ranks started without waiting (MPI_Iallreduce), so that
// communication proceeds while the caller computes: `values` must stay
// untouched until wait() returns. Complete at once with one rank.
class PendingSum {
 public:
  PendingSum();
  PendingSum(PendingSum&&) noexcept;
  PendingSum& operator=(PendingSum&&) noexcept;
  ~PendingSum();  // waits (unless an exception is unwinding: then the job aborts anyway)
  bool test();    // lets MPI progress; true once the sum is complete
  void wait();

 private:
  friend PendingSum start_allreduce_sum(float* values, size_t count);
  struct Requests;
  std::unique_ptr<Requests> requests_;
};
PendingSum start_allreduce_sum(float* values, size_t count);

// Every rank's `bytes`, in rank order, on rank 0; an empty list on the
// others. One rank: {bytes}.
std::vector<std::vector<unsigned char>> gather_to_rank0(const std::vector<unsigned char>& bytes);
// Shard `shard` of `shards` of the items [0, total): a contiguous range
// [first, last), the shards' sizes differing by at most one.
std::pair<int64_t, int64_t> shard_range(int64_t total, int shard, int shards);
// "rank 1 of 4" (or "single process").
std::string describe_world();

}  // namespace cspnet
