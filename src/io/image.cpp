#include "cspnet/image.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "cspnet/error.hpp"
#include "cspnet/file_input.hpp"
#include "io/file_output.hpp"
#include "io/image_header.hpp"

#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE and size_t declared first
#include <jpeglib.h>

// stb decodes PNG and BMP only: JPEG goes to libjpeg-turbo, because Debian's
// stb_image 2.27 has undefined behaviour on corrupt JPEG data (Huffman
// tables of more than 256 codes, shifts by 32 in its entropy decoder) and
// its JPEG decoder is left out of the build so that no path can reach it.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
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

// Checked against the header before decoding allocates from it.
constexpr int64_t kMaxPixels = int64_t{1} << 28;

std::string read_image_bytes(const std::string& path) {
  std::string file;
  try {
    file = read_text_file(path, "image", kMaxImageFileBytes);
  } catch (const Error& e) {
    // "PATH: cannot open image: ..." -> "PATH: cannot decode image: cannot open image: ..."
    std::string reason = e.what();
    if (reason.rfind(path + ": ", 0) == 0) reason.erase(0, path.size() + 2);
    throw Error(path + ": cannot decode image: " + reason);
  }
  if (file.size() > size_t(INT_MAX))
    throw Error(path + ": cannot decode image: " + std::to_string(file.size()) + " bytes, more than the decoder takes");
  return file;
}

void check_pixel_count(const std::string& path, int64_t w, int64_t h) {
  if (w <= 0 || h <= 0 || w * h > kMaxPixels)
    throw Error(path + ": image header says " + std::to_string(w) + "x" + std::to_string(h) +
                ", outside the supported 1.." + std::to_string(kMaxPixels) + " pixels");
}

// A JPEG starts with the SOI marker; libjpeg accepts nothing else first.
bool is_jpeg(const std::string& file) {
  return file.size() >= 2 && static_cast<unsigned char>(file[0]) == 0xFF && static_cast<unsigned char>(file[1]) == 0xD8;
}

// libjpeg reports a fatal error by calling error_exit, whose default ends the
// process. Ours keeps the message and longjmps back to guarded(), which
// returns false; the caller throws from a frame with no libjpeg state on it.
struct JpegErrors {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_error_exit(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);  // mgr is its first member
  errors->mgr.format_message(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

// Warnings (corrupt data libjpeg recovers from, e.g. a truncated scan filled
// with grey) are not printed: the image decodes, as it did with stb.
void jpeg_ignore_message(j_common_ptr, int) {}

// libjpeg's decompression state, destroyed on every path (jpeg_destroy frees
// all that libjpeg allocated, whatever state an error left it in). A member
// of JpegDecoder, so that it is destroyed when JpegDecoder's constructor
// throws, which skips JpegDecoder's own destructor.
struct JpegState {
  JpegState() {
    cinfo.err = jpeg_std_error(&errors.mgr);
    errors.mgr.error_exit = jpeg_error_exit;
    errors.mgr.emit_message = jpeg_ignore_message;
  }
  ~JpegState() { jpeg_destroy_decompress(&cinfo); }  // safe on a zeroed or half-created struct
  JpegState(const JpegState&) = delete;
  JpegState& operator=(const JpegState&) = delete;

  JpegErrors errors{};
  jpeg_decompress_struct cinfo{};
};

// One JPEG file: the header is read on construction.
class JpegDecoder {
 public:
  JpegDecoder(const std::string& path, const std::string& file) : path_(path) {
    guarded([&] {
      jpeg_create_decompress(&cinfo_);
      jpeg_mem_src(&cinfo_, reinterpret_cast<const unsigned char*>(file.data()),
                   static_cast<unsigned long>(file.size()));
      jpeg_read_header(&cinfo_, TRUE);
    });
  }

  int width() const { return int(cinfo_.image_width); }
  int height() const { return int(cinfo_.image_height); }

  // The pixels as RGB in [0,1], after the header's size passed the cap.
  Tensor decode() {
    const int64_t w = width(), h = height();
    // Grey and YCbCr (or RGB) come out as RGB from libjpeg; CMYK and YCCK
    // come out as Adobe's inverted CMYK, turned into RGB below as stb did.
    const bool cmyk = cinfo_.jpeg_color_space == JCS_CMYK || cinfo_.jpeg_color_space == JCS_YCCK;
    cinfo_.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    Tensor image(Shape{1, 3, h, w});
    std::vector<unsigned char> row(size_t(w) * (cmyk ? 4 : 3));
    float* r = image.data();
    float* g = r + h * w;
    float* b = g + h * w;
    unsigned char* row_data = row.data();
    guarded([&] {
      jpeg_start_decompress(&cinfo_);
      while (cinfo_.output_scanline < cinfo_.output_height) {
        const int64_t y = cinfo_.output_scanline;
        JSAMPROW rows[1] = {row_data};
        jpeg_read_scanlines(&cinfo_, rows, 1);
        const unsigned char* p = row_data;
        for (int64_t x = 0; x < w; ++x) {
          int red = p[0], green = p[1], blue = p[2];
          if (cmyk) {
            red = scale_by(red, p[3]), green = scale_by(green, p[3]), blue = scale_by(blue, p[3]);
            p += 4;
          } else {
            p += 3;
          }
          r[y * w + x] = float(red) / 255.f;
          g[y * w + x] = float(green) / 255.f;
          b[y * w + x] = float(blue) / 255.f;
        }
      }
    });
    return image;
  }

 private:
  // Runs libjpeg calls; a fatal libjpeg error lands back here and becomes an
  // Error naming the file. `step` must hold no objects with destructors: the
  // longjmp skips its frame and libjpeg's.
  template <typename Step>
  void guarded(const Step& step) {
    if (!run_guarded(step))
      throw Error(path_ + ": cannot decode image: corrupt JPEG: " + std::string(state_.errors.message));
  }
  template <typename Step>
  bool run_guarded(const Step& step) {
    if (setjmp(state_.errors.jump)) return false;
    step();
    return true;
  }

  // x * k / 255 rounded, as stb scaled inverted CMYK by K.
  static int scale_by(int x, int k) {
    const unsigned t = unsigned(x * k) + 128;
    return int((t + (t >> 8)) >> 8);
  }

  std::string path_;
  JpegState state_;
  jpeg_decompress_struct& cinfo_ = state_.cinfo;
};

// Two things Debian's stb_image 2.27 gets wrong in a PNG's compressed data
// chunks (IDAT), both found by fuzz_image, are dealt with before stb sees
// the file:
// - an empty IDAT is copied into the data buffer before that buffer is
//   allocated: memcpy to a null pointer (UBSan, stbi__getn under
//   stbi__parse_png_file). An empty IDAT adds nothing to the compressed
//   stream, so such chunks are dropped;
// - an IDAT's buffer grows to the chunk's declared length before stb checks
//   that the file holds that many bytes: an 80-byte file had it allocate
//   2 GiB. Such a file is refused (stb fails on it after allocating).
// The chunks are walked as stb's decoder walks them: after the 8-byte
// signature, length, type, data and CRC whatever the type, up to IEND. stb
// copies an IDAT before it reads the CRC, so a chunk cut short after its
// type counts too. stb's header read returns before copying any IDAT, so
// only decoding needs this.
void check_png_data_chunks(const std::string& path, std::string& file) {
  if (file.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) != 0) return;
  const auto byte = [&](size_t at) { return uint32_t(static_cast<unsigned char>(file[at])); };
  size_t pos = 8;
  while (file.size() - pos >= 8) {
    const uint32_t length = byte(pos) << 24 | byte(pos + 1) << 16 | byte(pos + 2) << 8 | byte(pos + 3);
    if (file.compare(pos + 4, 4, "IEND") == 0) return;
    const size_t left = file.size() - pos - 8;
    if (file.compare(pos + 4, 4, "IDAT") == 0) {
      if (length == 0) {
        file.erase(pos, 12);  // or what is left of it
        continue;
      }
      if (length > left)
        throw Error(path + ": cannot decode image: corrupt PNG: the IDAT chunk at byte " + std::to_string(pos) +
                    " declares " + std::to_string(length) + " bytes; the file holds " + std::to_string(left) +
                    " after it");
    }
    if (length > left) return;  // stb reads past the end: no chunk follows
    pos += 8 + size_t(length) + 4;
    if (pos > file.size()) return;
  }
}

// The PNG signature's first byte is not ASCII and starts no other format the
// library reads, so a file that starts with it is taken for a PNG.
bool is_png(const std::string& file) { return !file.empty() && static_cast<unsigned char>(file[0]) == 0x89; }

std::string hex_bytes(const std::string& bytes) {
  static const char digits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char b : bytes) {
    if (!out.empty()) out += ' ';
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

// A chunk type as text: printable ASCII as such, other bytes as \xNN.
std::string chunk_type_text(const std::string& type) {
  std::string out;
  for (unsigned char b : type)
    out += b > 0x20 && b < 0x7F ? std::string(1, char(b)) : "\\x" + hex_bytes(std::string(1, char(b)));
  return out;
}

// stb reports every malformed PNG header as "Image not of any known type, or
// corrupt" (stbi_info tries each decoder and, when none accepts the file,
// gives that rather than the PNG decoder's reason), so the signature and the
// IHDR chunk are checked here first, field by field, as the PNG
// specification defines them: IHDR first and 13 bytes long, width and height
// 1..2^31-1, a bit depth allowed for the colour type, compression and filter
// method 0, interlace method 0 or 1. The CRC is not checked (stb does not
// check CRCs either). Returns {width, height}.
std::pair<int64_t, int64_t> check_png_header(const std::string& path, const std::string& file) {
  static const std::string signature("\x89PNG\r\n\x1a\n", 8);
  const std::string corrupt = path + ": cannot decode image: corrupt PNG: ";
  if (file.size() < signature.size())
    throw Error(corrupt + "the file is " + hex_bytes(file) + " (" + std::to_string(file.size()) +
                " bytes), not the 8-byte PNG signature " + hex_bytes(signature));
  if (file.compare(0, 8, signature) != 0)
    throw Error(corrupt + "the file starts " + hex_bytes(file.substr(0, 8)) + ", not the PNG signature " +
                hex_bytes(signature));
  const auto byte = [&](size_t at) { return uint32_t(static_cast<unsigned char>(file[at])); };
  const auto be32 = [&](size_t at) { return byte(at) << 24 | byte(at + 1) << 16 | byte(at + 2) << 8 | byte(at + 3); };
  if (file.size() >= 16 && file.compare(12, 4, "IHDR") != 0)
    throw Error(corrupt + "the first chunk (byte 8) is '" + chunk_type_text(file.substr(12, 4)) + "', expected IHDR");
  if (file.size() >= 16 && be32(8) != 13)
    throw Error(corrupt + "IHDR length " + std::to_string(be32(8)) + " (byte 8) is not valid (expected 13)");
  if (file.size() < 33)
    throw Error(corrupt + "the file ends at byte " + std::to_string(file.size()) +
                "; expected the IHDR chunk at byte 8: 25 bytes (length, type, 13 data bytes, CRC)");
  const uint32_t width = be32(16), height = be32(20);
  for (const auto& [name, value, at] : {std::tuple{"width", width, 16}, std::tuple{"height", height, 20}})
    if (value == 0 || value > uint32_t(INT32_MAX))
      throw Error(corrupt + "IHDR " + name + " " + std::to_string(value) + " (byte " + std::to_string(at) +
                  ") is outside 1..2147483647");
  const uint32_t depth = byte(24), colour = byte(25);
  const char* depths = colour == 0 ? "1, 2, 4, 8 or 16"
                       : colour == 3 ? "1, 2, 4 or 8"
                       : colour == 2 || colour == 4 || colour == 6 ? "8 or 16"
                                                                   : nullptr;
  if (!depths)
    throw Error(corrupt + "IHDR colour type " + std::to_string(colour) +
                " (byte 25) is not a PNG colour type (expected 0, 2, 3, 4 or 6)");
  const bool depth_valid = depth == 8 || (depth == 16 && colour != 3) ||
                           ((depth == 1 || depth == 2 || depth == 4) && (colour == 0 || colour == 3));
  if (!depth_valid)
    throw Error(corrupt + "IHDR bit depth " + std::to_string(depth) + " (byte 24) is not valid for colour type " +
                std::to_string(colour) + " (expected " + depths + ")");
  if (byte(26) != 0)
    throw Error(corrupt + "IHDR compression method " + std::to_string(byte(26)) +
                " (byte 26) is not valid (expected 0)");
  if (byte(27) != 0)
    throw Error(corrupt + "IHDR filter method " + std::to_string(byte(27)) + " (byte 27) is not valid (expected 0)");
  if (byte(28) > 1)
    throw Error(corrupt + "IHDR interlace method " + std::to_string(byte(28)) +
                " (byte 28) is not valid (expected 0 or 1)");
  return {width, height};
}

// stb reads past the end of an uncompressed BMP as zeros: a file cut short
// decoded, its missing rows black. Refused when the pixel data the header
// implies (offset + padded rows) is not all there.
void check_bmp_pixel_data(const std::string& path, const std::string& file, int w, int h) {
  if (file.size() < 34 || file.compare(0, 2, "BM") != 0) return;
  const auto le = [&](size_t at, int bytes) {
    uint32_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(file[at + size_t(i)]);
    return v;
  };
  const uint32_t offset = le(10, 4), bpp = le(28, 2), compression = le(30, 4);
  if (compression != 0 || bpp == 0 || bpp > 32) return;  // RLE and bitfields: stb checks those itself
  const uint64_t row = (uint64_t(w) * bpp + 31) / 32 * 4;
  const uint64_t end = uint64_t(offset) + row * uint64_t(h);
  if (end > file.size())
    throw Error(path + ": cannot decode image: corrupt BMP: " + std::to_string(w) + "x" + std::to_string(h) + " at " +
                std::to_string(bpp) + " bits per pixel ends at byte " + std::to_string(end) + "; the file has " +
                std::to_string(file.size()));
}

// stb for PNG and BMP: its failure reason, or the header's size.
std::pair<int, int> stb_image_size(const std::string& path, const std::string& file) {
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(reinterpret_cast<const stbi_uc*>(file.data()), int(file.size()), &w, &h, &c))
    throw Error(path + ": cannot decode image: " + (stbi_failure_reason() ? stbi_failure_reason() : "unknown"));
  return {w, h};
}

}  // namespace

std::pair<int, int> read_image_size(const std::string& path) {
  const std::string file = read_image_bytes(path);
  if (is_jpeg(file)) {
    JpegDecoder jpeg(path, file);
    return {jpeg.width(), jpeg.height()};
  }
  if (is_png(file)) check_png_header(path, file);
  return stb_image_size(path, file);
}

Tensor load_image_rgb(const std::string& path) {
  std::string file = read_image_bytes(path);
  if (is_jpeg(file)) {
    JpegDecoder jpeg(path, file);
    check_pixel_count(path, jpeg.width(), jpeg.height());
    return jpeg.decode();
  }
  if (is_png(file)) {
    // The cap first: stb refuses large PNG headers with its generic message.
    const auto [png_w, png_h] = check_png_header(path, file);
    check_pixel_count(path, png_w, png_h);
  }
  auto [w, h] = stb_image_size(path, file);
  check_pixel_count(path, w, h);
  check_png_data_chunks(path, file);
  check_bmp_pixel_data(path, file, w, h);
  int c = 0;
  std::unique_ptr<unsigned char, decltype(&stbi_image_free)> pixels(
      stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(file.data()), int(file.size()), &w, &h, &c, 3),
      &stbi_image_free);
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
