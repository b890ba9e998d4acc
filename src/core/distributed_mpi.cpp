// Data parallelism through MPI (Open MPI from Debian).
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <exception>
#include <memory>
#include <vector>

#include "cspnet/distributed.hpp"
#include "cspnet/error.hpp"

namespace cspnet {
namespace {

bool initialised() {
  int flag = 0;
  MPI_Initialized(&flag);
  int finalised = 0;
  MPI_Finalized(&finalised);
  return flag && !finalised;
}

// MPI counts are int: a large array goes in chunks of at most INT_MAX / 2
// elements, `reduce(offset, chunk)` once per chunk in order. The one split
// for the blocking and the started sums.
template <class Reduce>
void for_each_chunk(size_t count, Reduce&& reduce) {
  for (size_t done = 0; done < count;) {
    const int chunk = int(std::min<size_t>(count - done, size_t(INT_MAX / 2)));
    reduce(done, chunk);
    done += size_t(chunk);
  }
}

template <class T>
void allreduce(T* values, size_t count, MPI_Datatype type) {
  if (world_size() == 1 || count == 0) return;
  for_each_chunk(count, [&](size_t offset, int chunk) {
    if (MPI_Allreduce(MPI_IN_PLACE, values + offset, chunk, type, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
      throw Error("MPI_Allreduce failed (" + describe_world() + ")");
  });
}

}  // namespace

DistributedSession::DistributedSession(int& argc, char**& argv) {
  // MPI only when a launcher started this process (mpirun sets these): a
  // plain run stays free of MPI's start-up cost and its never-freed memory.
  if (!std::getenv("OMPI_COMM_WORLD_SIZE") && !std::getenv("PMI_SIZE") && !std::getenv("PMIX_RANK")) return;
  int provided = 0;
  // Only the main thread calls MPI (the loader's workers never do).
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
}

DistributedSession::~DistributedSession() {
  if (!initialised()) return;
  // Leaving by an error while other ranks may wait in a collective: a
  // clean finalise would hang them; abort the whole job instead.
  if (std::uncaught_exceptions() > 0 && world_size() > 1) MPI_Abort(MPI_COMM_WORLD, 1);
  MPI_Finalize();
}

int world_rank() {
  if (!initialised()) return 0;
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int world_size() {
  if (!initialised()) return 1;
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

bool built_with_mpi() { return true; }

void allreduce_sum(float* values, size_t count) { allreduce(values, count, MPI_FLOAT); }
void allreduce_sum(double* values, size_t count) { allreduce(values, count, MPI_DOUBLE); }

// MPI counts are int: a large array is several requests.
struct PendingSum::Requests {
  std::vector<MPI_Request> pending;
};

PendingSum::PendingSum() = default;
PendingSum::PendingSum(PendingSum&&) noexcept = default;
PendingSum& PendingSum::operator=(PendingSum&& other) noexcept {
  if (this != &other) {
    if (std::uncaught_exceptions() == 0) wait();
    requests_ = std::move(other.requests_);
  }
  return *this;
}
PendingSum::~PendingSum() {
  if (std::uncaught_exceptions() > 0) return;
  try {
    wait();
  } catch (const Error&) {
    // MPI's default handler aborts the job on a failed wait before this.
  }
}

bool PendingSum::test() {
  if (!requests_ || requests_->pending.empty()) return true;
  int done = 0;
  if (MPI_Testall(int(requests_->pending.size()), requests_->pending.data(), &done, MPI_STATUSES_IGNORE) !=
      MPI_SUCCESS)
    throw Error("MPI_Testall failed (" + describe_world() + ")");
  if (done) requests_->pending.clear();
  return done != 0;
}

void PendingSum::wait() {
  if (!requests_ || requests_->pending.empty()) return;
  const int result = MPI_Waitall(int(requests_->pending.size()), requests_->pending.data(), MPI_STATUSES_IGNORE);
  requests_->pending.clear();
  if (result != MPI_SUCCESS) throw Error("MPI_Waitall failed (" + describe_world() + ")");
}

PendingSum start_allreduce_sum(float* values, size_t count) {
  PendingSum sum;
  if (world_size() == 1 || count == 0) return sum;
  sum.requests_ = std::make_unique<PendingSum::Requests>();
  for_each_chunk(count, [&](size_t offset, int chunk) {
    MPI_Request request;
    if (MPI_Iallreduce(MPI_IN_PLACE, values + offset, chunk, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &request) !=
        MPI_SUCCESS)
      throw Error("MPI_Iallreduce failed (" + describe_world() + ")");
    sum.requests_->pending.push_back(request);
  });
  return sum;
}

std::vector<std::vector<unsigned char>> gather_to_rank0(const std::vector<unsigned char>& bytes) {
  if (world_size() == 1) return {bytes};
  if (bytes.size() > size_t(INT_MAX)) throw Error("gather: " + std::to_string(bytes.size()) + " bytes is over MPI's limit");
  const int ranks = world_size(), rank = world_rank();
  int size = int(bytes.size());
  std::vector<int> sizes(rank == 0 ? size_t(ranks) : 0), offsets(sizes.size());
  if (MPI_Gather(&size, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
    throw Error("MPI_Gather failed (" + describe_world() + ")");
  int64_t total = 0;
  for (size_t r = 0; r < sizes.size(); ++r) {
    offsets[r] = int(total);
    total += sizes[r];
  }
  if (total > INT_MAX) throw Error("gather: " + std::to_string(total) + " bytes in all is over MPI's limit");
  std::vector<unsigned char> all(static_cast<size_t>(total));
  if (MPI_Gatherv(bytes.data(), size, MPI_BYTE, all.data(), sizes.data(), offsets.data(), MPI_BYTE, 0,
                  MPI_COMM_WORLD) != MPI_SUCCESS)
    throw Error("MPI_Gatherv failed (" + describe_world() + ")");
  std::vector<std::vector<unsigned char>> per_rank;
  for (size_t r = 0; r < sizes.size(); ++r)
    per_rank.emplace_back(all.begin() + offsets[r], all.begin() + offsets[r] + sizes[r]);
  return per_rank;
}

std::string describe_world() {
  if (world_size() == 1) return "single process";
  return "rank " + std::to_string(world_rank()) + " of " + std::to_string(world_size());
}

}  // namespace cspnet
