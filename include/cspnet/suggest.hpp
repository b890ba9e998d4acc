#pragma once
// "Did you mean ...?" for misspelt names (cfg keys, commands).
#include <string>
#include <vector>

namespace cspnet {

// The candidate closest to `word` by edit distance (insertions, deletions,
// substitutions, adjacent swaps), if it is close enough to be a typo of it
// (at most 1 edit for words up to 4 letters, 2 up to 8, 3 beyond); else "".
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace cspnet
