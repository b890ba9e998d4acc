#pragma once
// Tensors that must share a memory layout, as union-find classes: the
// inference planner and the training executor both join the operands of
// `same`-rule layers and keep a class blocked (nChw16c) only when no member
// of it is marked plain.
#include <cstddef>
#include <numeric>
#include <vector>

namespace cspnet {

class LayoutClasses {
 public:
  explicit LayoutClasses(int tensors) : parent_(static_cast<size_t>(tensors)), plain_(parent_.size(), false) {
    std::iota(parent_.begin(), parent_.end(), 0);
  }
  void unite(int a, int b) { parent_[size_t(find(a))] = find(b); }
  void mark_plain(int tensor) { plain_[size_t(tensor)] = true; }
  // Per tensor: true when its class has no plain member.
  std::vector<bool> blocked() {
    std::vector<bool> class_plain(parent_.size(), false);
    for (size_t t = 0; t < parent_.size(); ++t)
      if (plain_[t]) class_plain[size_t(find(int(t)))] = true;
    std::vector<bool> result(parent_.size());
    for (size_t t = 0; t < parent_.size(); ++t) result[t] = !class_plain[size_t(find(int(t)))];
    return result;
  }

 private:
  int find(int t) {
    while (parent_[size_t(t)] != t) t = parent_[size_t(t)] = parent_[size_t(parent_[size_t(t)])];
    return t;
  }
  std::vector<int> parent_;
  std::vector<bool> plain_;
};

}  // namespace cspnet
