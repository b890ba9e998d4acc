// Dispatch over the block kinds, and block sequences.
#include "cspnet/blocks.hpp"

namespace cspnet {

int append_block(ModelBuilder& b, const Block& block, int input) {
  return std::visit([&](const auto& kind) { return append_block(b, kind, input); }, block);
}

int append_blocks(ModelBuilder& b, const std::vector<Block>& blocks, int input) {
  for (const auto& block : blocks) input = append_block(b, block, input);
  return input;
}

std::vector<Block> repeat(const Block& block, int n) { return std::vector<Block>(static_cast<size_t>(n), block); }

}  // namespace cspnet
