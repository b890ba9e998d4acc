// IDX data sets (MNIST / Fashion-MNIST), raw or gzip-compressed.
//
// Everything that can be checked from the headers is checked before the
// pixel buffer exists: magic numbers, dimension counts, sane sizes, equal
// counts, and that the declared data can fit in the file (exactly, for a raw
// file; within deflate's 1032:1 limit for a gzip file, whose ISIZE field is
// never trusted). The bytes are then decompressed by streaming gzread into a
// buffer of the declared size; short data, extra data and zlib errors are
// reported with the decompressed byte offset. Floats are made last.
#include <zlib.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "cspnet/dataset.hpp"
#include "cspnet/error.hpp"

namespace cspnet {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension
constexpr int64_t kMaxItems = std::numeric_limits<int32_t>::max();
constexpr int64_t kMaxSide = 65535;
constexpr int64_t kDeflateMaxRatio = 1032;  // deflate never expands more than ~1032:1

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

uint32_t big_endian(const unsigned char* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

// One IDX file opened through zlib (which reads raw files transparently).
class IdxFile {
 public:
  explicit IdxFile(const std::string& path) : path_(path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw Error(path + ": is a directory, expected an IDX file");
    {
      std::ifstream probe(path, std::ios::binary);
      if (!probe) throw Error(path + ": cannot open IDX file: " + std::strerror(errno));
      probe.seekg(0, std::ios::end);
      file_size_ = probe.tellg();
      if (file_size_ < 0) throw Error(path + ": cannot determine the file size (not a regular file?)");
      probe.seekg(0);
      unsigned char head[2] = {0, 0};
      probe.read(reinterpret_cast<char*>(head), 2);
      gzip_ = probe.gcount() == 2 && head[0] == 0x1f && head[1] == 0x8b;
    }
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) throw Error(path + ": cannot open IDX file: " + std::strerror(errno));
    gzbuffer(file_, 1 << 18);
  }
  ~IdxFile() {
    if (file_) gzclose(file_);
  }
  IdxFile(const IdxFile&) = delete;
  IdxFile& operator=(const IdxFile&) = delete;

  const std::string& path() const { return path_; }
  bool gzip() const { return gzip_; }
  int64_t file_size() const { return file_size_; }
  int64_t offset() const { return offset_; }
  // "bytes" or "decompressed bytes": offsets of a gzip file count decompressed data.
  std::string bytes_word() const { return gzip_ ? "decompressed bytes" : "bytes"; }

  // Reads up to n bytes; fewer only at the end of the data. zlib errors throw.
  int64_t read(void* dst, int64_t n) {
    auto* out = static_cast<unsigned char*>(dst);
    int64_t total = 0;
    while (total < n) {
      const unsigned chunk = unsigned(std::min<int64_t>(n - total, int64_t{1} << 30));
      const int got = gzread(file_, out + total, chunk);
      if (got < 0) zlib_failure();
      if (got == 0) {
        check_zlib();
        break;
      }
      total += got;
      offset_ += got;
    }
    return total;
  }

  // Reads exactly n bytes of `what`; a short file is an error stating the
  // expected and the actual size.
  void read_exact(void* dst, int64_t n, const std::string& what, int64_t expected_total) {
    const int64_t start = offset_;
    const int64_t got = read(dst, n);
    if (got < n)
      throw Error(path_ + ": truncated: expected " + std::to_string(n) + " bytes of " + what + " at offset " +
                  std::to_string(start) + ", but the data ends at offset " + std::to_string(start + got) +
                  "; expected " + std::to_string(expected_total) + " " + bytes_word() + " in all, got " +
                  std::to_string(start + got));
  }

  // The declared data has been read: nothing may follow it.
  void expect_end(int64_t expected_total) {
    unsigned char extra = 0;
    if (read(&extra, 1) != 0)
      throw Error(path_ + ": trailing data: more than the " + std::to_string(expected_total) + " " + bytes_word() +
                  " the header declares (extra data from offset " + std::to_string(expected_total) +
                  "; wrong header or garbage appended)");
  }

 private:
  void check_zlib() {
    int errnum = Z_OK;
    gzerror(file_, &errnum);
    if (errnum != Z_OK && errnum != Z_STREAM_END) zlib_failure();
  }
  [[noreturn]] void zlib_failure() {
    int errnum = Z_OK;
    const char* message = gzerror(file_, &errnum);
    std::string reason = errnum == Z_ERRNO ? std::string(std::strerror(errno)) : std::string(message ? message : "?");
    if (reason.rfind(path_ + ": ", 0) == 0) reason.erase(0, path_.size() + 2);  // gzerror prefixes the path
    throw Error(path_ + ": " + (gzip_ ? "corrupt or truncated gzip stream" : "read error") + " after " +
                std::to_string(offset_) + " " + bytes_word() + " (zlib: " + reason + ")");
  }

  std::string path_;
  gzFile file_ = nullptr;
  int64_t file_size_ = 0;
  int64_t offset_ = 0;
  bool gzip_ = false;
};

// Reads the header (`fields` big-endian 32-bit words, the magic first) and
// checks the magic number.
std::vector<uint32_t> read_header(IdxFile& file, int dims, uint32_t magic, const char* kind, const char* layout) {
  const int64_t header_bytes = 4 * (1 + dims);
  std::array<unsigned char, 16> raw{};
  const int64_t got = file.read(raw.data(), header_bytes);
  const std::string expected = "expected magic " + hex32(magic) + " (" + kind + ": unsigned bytes, " +
                               std::to_string(dims) + (dims == 1 ? " dimension" : " dimensions") + ": " + layout + ")";
  if (got == 0) throw Error(file.path() + ": empty file; " + expected);
  if (got < 4)
    throw Error(file.path() + ": " + std::to_string(got) + " " + file.bytes_word() +
                " is too short for an IDX header; " + expected);
  const uint32_t found = big_endian(raw.data());
  if (found != magic) {
    std::string what = file.path() + ": offset 0: magic " + hex32(found);
    if ((found & 0xFFFFFF00u) == 0x00000800u)
      what += " declares " + std::to_string(found & 0xFF) + " dimension(s); " + expected;
    else
      what += " is not an unsigned-byte IDX magic; " + expected;
    if (found == kImagesMagic) what += " — this looks like an IDX image file";
    if (found == kLabelsMagic) what += " — this looks like an IDX label file";
    if (raw[0] == 0x1f && raw[1] == 0x8b) what += " — a gzip file inside a gzip file?";
    throw Error(what);
  }
  if (got < header_bytes)
    throw Error(file.path() + ": truncated: the file ends inside the header at offset " + std::to_string(got) + " (" +
                std::to_string(header_bytes) + " bytes expected: magic, " + layout + ")");
  std::vector<uint32_t> words;
  for (int i = 1; i <= dims; ++i) words.push_back(big_endian(raw.data() + 4 * i));
  return words;
}

void check_dimension(const IdxFile& file, int index, uint32_t value, int64_t max, const char* name) {
  if (value == 0 || value > max)
    throw Error(file.path() + ": offset " + std::to_string(4 * (index + 1)) + ": header declares " +
                std::to_string(value) + " " + name + "; expected 1.." + std::to_string(max));
}

// Rejects a declared size the file cannot hold, before anything is allocated.
void check_declared_size(const IdxFile& file, int64_t declared_total, const std::string& what) {
  if (file.gzip()) {
    if (declared_total > file.file_size() * kDeflateMaxRatio)
      throw Error(file.path() + ": header declares " + what + " (" + std::to_string(declared_total) +
                  " bytes decompressed), more than a " + std::to_string(file.file_size()) +
                  "-byte gzip file can hold (deflate expands at most " + std::to_string(kDeflateMaxRatio) +
                  ":1): corrupt header");
  } else if (file.file_size() < declared_total) {
    throw Error(file.path() + ": truncated: header declares " + what + ", " + std::to_string(declared_total) +
                " bytes in all; expected " + std::to_string(declared_total) + " bytes, the file has " +
                std::to_string(file.file_size()));
  } else if (file.file_size() > declared_total) {
    throw Error(file.path() + ": trailing data: " + std::to_string(file.file_size() - declared_total) +
                " bytes after the " + std::to_string(declared_total) + " the header declares (" + what +
                "); wrong header or garbage appended");
  }
}

std::string find_file(const std::string& dir, const std::string& name, const char* what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const std::string& candidate : {name + ".gz", name}) {
    const fs::path path = fs::path(dir) / candidate;
    if (fs::exists(path, ec)) return path.string();
  }
  throw Error(dir + ": Fashion-MNIST " + what + " not found: expected " + name + ".gz (or uncompressed " + name +
              ") in this directory; on Debian: apt-get install dataset-fashion-mnist (installs " + kFashionMnistDir +
              ")");
}

}  // namespace

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

ImageDataset load_idx_dataset(const std::string& images_path, const std::string& labels_path, int classes) {
  if (classes < 1 || classes > 256)
    throw Error(labels_path + ": classes = " + std::to_string(classes) +
                "; expected 1..256 (IDX labels are unsigned bytes)");
  IdxFile images(images_path);
  IdxFile labels(labels_path);

  const auto image_dims = read_header(images, 3, kImagesMagic, "IDX image file", "count, rows, columns");
  check_dimension(images, 0, image_dims[0], kMaxItems, "images");
  check_dimension(images, 1, image_dims[1], kMaxSide, "rows");
  check_dimension(images, 2, image_dims[2], kMaxSide, "columns");
  const int64_t count = image_dims[0], rows = image_dims[1], cols = image_dims[2];
  const int64_t pixel_bytes = count * rows * cols;  // < 2^31 * 2^32: fits int64
  const int64_t images_total = 16 + pixel_bytes;
  const std::string image_what =
      std::to_string(count) + " images of " + std::to_string(rows) + "x" + std::to_string(cols);
  check_declared_size(images, images_total, image_what);

  const auto label_dims = read_header(labels, 1, kLabelsMagic, "IDX label file", "count");
  check_dimension(labels, 0, label_dims[0], kMaxItems, "labels");
  const int64_t label_count = label_dims[0];
  const int64_t labels_total = 8 + label_count;
  check_declared_size(labels, labels_total, std::to_string(label_count) + " labels");
  if (label_count != count)
    throw Error(images_path + " declares " + std::to_string(count) + " images but " + labels_path + " declares " +
                std::to_string(label_count) + " labels; expected equal counts (mismatched files?)");

  // Labels first: small, and a bad label fails before the big buffer exists.
  std::vector<unsigned char> label_bytes(static_cast<size_t>(count));
  labels.read_exact(label_bytes.data(), count, std::to_string(count) + " labels", labels_total);
  labels.expect_end(labels_total);
  ImageDataset data;
  data.classes = classes;
  data.labels.resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int label = label_bytes[size_t(i)];
    if (label >= classes)
      throw Error(labels_path + ": label " + std::to_string(i) + " (offset " + std::to_string(8 + i) + ") is " +
                  std::to_string(label) + "; expected 0.." + std::to_string(classes - 1) + " (" +
                  std::to_string(classes) + " classes)");
    data.labels[size_t(i)] = label;
  }

  std::vector<unsigned char> pixels(static_cast<size_t>(pixel_bytes));
  images.read_exact(pixels.data(), pixel_bytes, "the pixels of " + image_what, images_total);
  images.expect_end(images_total);

  std::array<float, 256> scale{};
  for (int v = 0; v < 256; ++v) scale[size_t(v)] = float(v) / 255.0f;
  data.images = Tensor(Shape{count, 1, rows, cols});
  float* out = data.images.data();
  for (int64_t i = 0; i < pixel_bytes; ++i) out[i] = scale[pixels[size_t(i)]];
  for (int c = 0; c < classes; ++c) data.class_names.push_back(std::to_string(c));
  return data;
}

ImageDataset load_fashion_mnist(const std::string& dir, bool train) {
  const std::string prefix = train ? "train" : "t10k";
  const char* split = train ? "training" : "test";
  const std::string images = find_file(dir, prefix + "-images-idx3-ubyte", train ? "training images" : "test images");
  const std::string labels = find_file(dir, prefix + "-labels-idx1-ubyte", train ? "training labels" : "test labels");
  ImageDataset data = load_idx_dataset(images, labels, 10);
  const Shape& s = data.images.shape();
  if (s.h != 28 || s.w != 28)
    throw Error(images + ": " + std::to_string(s.h) + "x" + std::to_string(s.w) + " " + split +
                " images; expected Fashion-MNIST's 28x28");
  data.class_names = fashion_mnist_class_names();
  return data;
}

}  // namespace cspnet
