// Data parallelism through MPI (Open MPI from Debian).
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <exception>

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

template <class T>
void allreduce(T* values, size_t count, MPI_Datatype type) {
  if (world_size() == 1 || count == 0) return;
  // MPI counts are int: large arrays go in chunks.
  for (size_t done = 0; done < count;) {
    const int chunk = int(std::min<size_t>(count - done, size_t(INT_MAX / 2)));
    if (MPI_Allreduce(MPI_IN_PLACE, values + done, chunk, type, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
      throw Error("MPI_Allreduce failed (" + describe_world() + ")");
    done += size_t(chunk);
  }
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

std::string describe_world() {
  if (world_size() == 1) return "single process";
  return "rank " + std::to_string(world_rank()) + " of " + std::to_string(world_size());
}

}  // namespace cspnet
