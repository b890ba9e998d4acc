#pragma once
// zlib's crc32 over any length: zlib takes 32-bit lengths, so large arrays
// are fed in chunks of at most 1 GiB (checkpoints, quantization tables).
#include <zlib.h>

#include <algorithm>
#include <cstddef>

namespace cspnet {

inline uLong crc32_update(uLong crc, const void* data, size_t n) {
  const auto* bytes = static_cast<const Bytef*>(data);
  while (n > 0) {
    const uInt chunk = uInt(std::min<size_t>(n, size_t{1} << 30));
    crc = crc32(crc, bytes, chunk);
    bytes += chunk;
    n -= chunk;
  }
  return crc;
}

}  // namespace cspnet
