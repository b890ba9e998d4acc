// One process: the build found no MPI.
#include <cstdlib>
#include <string>

#include "cspnet/distributed.hpp"
#include "cspnet/error.hpp"

namespace cspnet {

DistributedSession::DistributedSession(int&, char**&) {
  // Started by mpirun (Open MPI or a PMI launcher) with several processes:
  // each would train alone on the whole data and write the same files.
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* value = std::getenv(variable); value && std::atoi(value) > 1)
      throw Error(std::string("started as one of ") + value +
                  " MPI processes, but this cspnet was built without MPI (install libopenmpi-dev and rebuild)");
}
DistributedSession::~DistributedSession() = default;

int world_rank() { return 0; }
int world_size() { return 1; }
bool built_with_mpi() { return false; }
void allreduce_sum(float*, size_t) {}
void allreduce_sum(double*, size_t) {}
struct PendingSum::Requests {};
PendingSum::PendingSum() = default;
PendingSum::PendingSum(PendingSum&&) noexcept = default;
PendingSum& PendingSum::operator=(PendingSum&&) noexcept = default;
PendingSum::~PendingSum() = default;
bool PendingSum::test() { return true; }
void PendingSum::wait() {}
PendingSum start_allreduce_sum(float*, size_t) { return {}; }

std::vector<std::vector<unsigned char>> gather_to_rank0(const std::vector<unsigned char>& bytes) { return {bytes}; }
std::string describe_world() { return "single process"; }

}  // namespace cspnet
