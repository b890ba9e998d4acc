#include "cspnet/image.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <memory>
#include <vector>

#include "cspnet/error.hpp"
#include "cspnet/file_input.hpp"
#include "io/file_output.hpp"
#include "io/image_header.hpp"

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_FAILURE_USERMSG
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop


namespace cspnet {

namespace {

// Image files are read whole (regular files only, so /dev/zero is refused by
// name) and decoded from memory; stb takes an int length.
constexpr uint64_t kMaxImageFileBytes = uint64_t{1} << 30;

std::string read_image_bytes(const std::string& path) {
  try {
    return read_text_file(path, "image", kMaxImageFileBytes);
  } catch (const Error& e) {
    // "PATH: cannot open image: ..." -> "PATH: cannot decode image: cannot open image: ..."
    std::string reason = e.what();
    if (reason.rfind(path + ": ", 0) == 0) reason.erase(0, path.size() + 2);
    throw Error(path + ": cannot decode image: " + reason);
  }
}

// stb_image 2.27 (Debian 12's) trusts the code counts of a JPEG Huffman
// table (DHT segment): more than 256 codes write past its fixed-size tables
// (upstream fixed it in 2.28). So every DHT stb could reach is checked
// before stb sees the file: the header's segments are walked as stb walks
// them (APPn/COM payloads skipped by length); from the first scan on, where
// stb's position depends on its entropy decoding, every 0xFF 0xC4 marker is
// checked (valid entropy-coded data never holds one: 0xFF is always followed
// by 0x00 or a restart marker there). Bytes past the end count as 0, as stb
// reads them.
class JpegHuffmanCheck {
 public:
  JpegHuffmanCheck(const unsigned char* bytes, size_t size) : p_(bytes), size_(size) {}

  // False when some table stb could read declares more than 256 codes.
  bool tables_fit() const {
    size_t pos = 0;
    const int soi = next_marker(pos);
    if (soi != 0xD8) return true;  // not a JPEG for stb either
    while (pos < size_) {
      const int marker = next_marker(pos);
      if (marker < 0) break;
      if (marker == 0xC4 && !segment_fits(pos)) return false;
      if (marker == 0xDA || marker == 0xC4) break;  // a scan (or a table stb walks by its contents)
      if (marker == 0xD8 || marker == 0xD9 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
      if (pos + 2 > size_ || length_at(pos) < 2) break;
      pos += length_at(pos);  // DQT, SOFn, DRI, APPn, COM: stb reads exactly the declared length
    }
    return every_marker_fits(pos);
  }

 private:
  int byte(size_t at) const { return at < size_ ? p_[at] : 0; }
  size_t length_at(size_t at) const { return size_t(byte(at)) << 8 | size_t(byte(at + 1)); }

  // stb's stbi__get_marker, with junk before a marker skipped: 0xFF, any
  // fill 0xFF bytes, then the marker; -1 at the end.
  int next_marker(size_t& pos) const {
    while (pos < size_ && p_[pos] != 0xFF) ++pos;
    while (pos < size_ && p_[pos] == 0xFF) ++pos;
    return pos < size_ ? p_[pos++] : -1;
  }

  // One DHT segment as stb's stbi__process_marker reads it: tables while
  // the declared length lasts, each 1 + 16 count bytes and sum(counts) values.
  bool segment_fits(size_t pos) const {
    int64_t left = int64_t(length_at(pos)) - 2;
    pos += 2;
    while (left > 0) {
      int64_t codes = 0;
      for (size_t i = 0; i < 16; ++i) codes += byte(pos + 1 + i);
      if (codes > 256) return false;
      pos += size_t(17 + codes);
      left -= 17 + codes;
    }
    return true;
  }

  bool every_marker_fits(size_t pos) const {
    while (pos < size_) {
      const int marker = next_marker(pos);
      if (marker == 0xC4 && !segment_fits(pos)) return false;
    }
    return true;
  }

  const unsigned char* p_;
  size_t size_;
};

// The file's bytes, checked for what stb cannot be trusted with.
std::string read_checked_image(const std::string& path) {
  std::string file = read_image_bytes(path);
  if (file.size() > size_t(INT_MAX))
    throw Error(path + ": cannot decode image: " + std::to_string(file.size()) + " bytes, more than the decoder takes");
  if (!JpegHuffmanCheck(reinterpret_cast<const unsigned char*>(file.data()), file.size()).tables_fit())
    throw Error(path + ": cannot decode image: corrupt JPEG: a Huffman table declares more than 256 codes");
  return file;
}

}  // namespace

std::pair<int, int> read_image_size(const std::string& path) {
  const std::string file = read_checked_image(path);
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(reinterpret_cast<const stbi_uc*>(file.data()), int(file.size()), &w, &h, &c))
    throw Error(path + ": cannot read the image header");
  return {w, h};
}

Tensor load_image_rgb(const std::string& path) {
  const std::string file = read_checked_image(path);
  const auto* bytes = reinterpret_cast<const stbi_uc*>(file.data());
  const int size = int(file.size());
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(bytes, size, &w, &h, &c))
    throw Error(path + ": cannot decode image: " + (stbi_failure_reason() ? stbi_failure_reason() : "unknown"));
  // Check the header's size before decoding allocates from it.
  constexpr int64_t kMaxPixels = int64_t{1} << 28;
  if (w <= 0 || h <= 0 || int64_t{w} * h > kMaxPixels)
    throw Error(path + ": image header says " + std::to_string(w) + "x" + std::to_string(h) +
                ", outside the supported 1.." + std::to_string(kMaxPixels) + " pixels");
  std::unique_ptr<unsigned char, decltype(&stbi_image_free)> pixels(
      stbi_load_from_memory(bytes, size, &w, &h, &c, 3), &stbi_image_free);
  if (!pixels)
    throw Error(path + ": cannot decode image: " + (stbi_failure_reason() ? stbi_failure_reason() : "unknown"));
  Tensor image(Shape{1, 3, h, w});
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < 3; ++k) image.at(0, k, y, x) = pixels.get()[(y * w + x) * 3 + k] / 255.f;
  return image;
}

Tensor resize_image(const Tensor& im, int width, int height) {
  const Shape& s = im.shape();
  if (width <= 0 || height <= 0) throw Error("resize_image: target size must be positive");
  Tensor part(Shape{1, s.c, s.h, width});
  Tensor out(Shape{1, s.c, height, width});
  float w_scale = width > 1 ? float(s.w - 1) / float(width - 1) : 0.f;
  float h_scale = height > 1 ? float(s.h - 1) / float(height - 1) : 0.f;
  for (int64_t k = 0; k < s.c; ++k)
    for (int64_t r = 0; r < s.h; ++r)
      for (int c = 0; c < width; ++c) {
        float val;
        if (c == width - 1 || s.w == 1) {
          val = im.at(0, k, r, s.w - 1);
        } else {
          float sx = float(c) * w_scale;
          int ix = int(sx);
          float dx = sx - float(ix);
          val = (1 - dx) * im.at(0, k, r, ix) + dx * im.at(0, k, r, ix + 1);
        }
        part.at(0, k, r, c) = val;
      }
  for (int64_t k = 0; k < s.c; ++k)
    for (int r = 0; r < height; ++r) {
      float sy = float(r) * h_scale;
      int iy = int(sy);
      float dy = sy - float(iy);
      for (int c = 0; c < width; ++c) out.at(0, k, r, c) = (1 - dy) * part.at(0, k, iy, c);
      if (r == height - 1 || s.h == 1) continue;
      for (int c = 0; c < width; ++c) out.at(0, k, r, c) += dy * part.at(0, k, iy + 1, c);
    }
  return out;
}

Tensor letterbox_image(const Tensor& im, int width, int height) {
  const Shape& s = im.shape();
  int new_w = width, new_h = height;
  if (double(width) / double(s.w) < double(height) / double(s.h)) {
    new_h = int(s.h * width / s.w);
  } else {
    new_w = int(s.w * height / s.h);
  }
  new_w = std::max(new_w, 1);
  new_h = std::max(new_h, 1);
  Tensor resized = resize_image(im, new_w, new_h);
  Tensor boxed(Shape{1, s.c, height, width}, 0.5f);
  int dx = (width - new_w) / 2, dy = (height - new_h) / 2;
  for (int64_t k = 0; k < s.c; ++k)
    for (int y = 0; y < new_h; ++y)
      for (int x = 0; x < new_w; ++x) boxed.at(0, k, y + dy, x + dx) = resized.at(0, k, y, x);
  return boxed;
}

Tensor match_channels(const Tensor& image, int channels) {
  const Shape& s = image.shape();
  if (s.c == channels) return image;
  if (channels == 1 && s.c == 3) {
    Tensor grey(Shape{s.n, 1, s.h, s.w});
    for (int64_t y = 0; y < s.h; ++y)
      for (int64_t x = 0; x < s.w; ++x)
        grey.at(0, 0, y, x) = (image.at(0, 0, y, x) + image.at(0, 1, y, x) + image.at(0, 2, y, x)) / 3.f;
    return grey;
  }
  throw Error("the network expects " + std::to_string(channels) + " input channels; an image has " +
              std::to_string(s.c) + " (only RGB and grey inputs are supported)");
}

void save_png(const std::string& path, const Tensor& image) {
  const Shape& s = image.shape();
  if (s.n < 1 || (s.c != 1 && s.c != 3 && s.c != 4) || s.h < 1 || s.w < 1 || s.h > 65535 || s.w > 65535)
    throw Error(path + ": cannot write a " + std::to_string(s.n) + "x" + s.str() +
                " tensor as PNG; expected 1 x (1, 3 or 4) x H x W with sides up to 65535");
  std::vector<unsigned char> pixels(static_cast<size_t>(s.per_image()));
  for (int64_t y = 0; y < s.h; ++y)
    for (int64_t x = 0; x < s.w; ++x)
      for (int64_t k = 0; k < s.c; ++k) {
        const float v = std::clamp(image.at(0, k, y, x), 0.f, 1.f);
        pixels[size_t((y * s.w + x) * s.c + k)] = static_cast<unsigned char>(std::lround(v * 255.f));
      }
  write_png_file(path, pixels.data(), int(s.w), int(s.h), int(s.c));
}

void save_npy(const std::string& path, const Tensor& tensor) {
  const Shape& s = tensor.shape();
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(s.n) + ", " +
                     std::to_string(s.c) + ", " + std::to_string(s.h) + ", " + std::to_string(s.w) + "), }";
  size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict.push_back('\n');
  AtomicFileWriter file(path);
  const char magic[] = "\x93NUMPY\x01\x00";
  const uint16_t header_len = uint16_t(dict.size());
  file.write(magic, 8);
  file.write(&header_len, 2);
  file.write(dict.data(), dict.size());
  file.write(tensor.data(), 4 * size_t(tensor.size()));
  file.commit();
}

}  // namespace cspnet
