#pragma once
// One liveness allocator for every planner (inference activations, training
// gradients), after ggml-alloc's idea: buffers with known lifetimes share
// slots of one arena, each taking the best-fitting free slot.
#include <cstdint>
#include <span>
#include <vector>

namespace cspnet {

// A buffer alive from step `first` to step `last` (both included): no other
// buffer may share its slot during those steps.
struct LiveInterval {
  int first = 0, last = 0;
  int64_t floats = 0;
};

struct SlotAssignment {
  std::vector<int> slot;              // per interval
  std::vector<int64_t> slot_floats;   // per slot: size in floats (a multiple of 16: 64-byte alignment)
  std::vector<int64_t> slot_offset;   // per slot: offset in the arena, in floats
  int64_t arena_floats = 0;           // the sum of the slots
};

// Greedy in order of first step (ties in the given order): the
// best-fitting free slot, else the largest free one (grown), else a new one.
SlotAssignment assign_slots(std::span<const LiveInterval> intervals);

}  // namespace cspnet
