// IDX data sets (MNIST / Fashion-MNIST): exact pixel scaling and labels from
// small raw and gzip files written here; a table of malformed files, each
// with the message it must produce (naming the file, the offset or sizes, and
// what was expected); and Debian's real Fashion-MNIST when it is installed.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "cspnet/dataset.hpp"
#include "cspnet/error.hpp"
#include "malformed_table.hpp"

namespace fs = std::filesystem;
using namespace cspnet;

namespace {

using Bytes = std::vector<unsigned char>;

void put32(Bytes& b, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<unsigned char>(v >> shift));
}

Bytes idx(uint32_t magic, std::vector<uint32_t> dims, const Bytes& data) {
  Bytes b;
  put32(b, magic);
  for (uint32_t d : dims) put32(b, d);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

// Three 2x4 images whose pixels cover 0 and 255; labels 2, 0, 1.
Bytes pixels() {
  Bytes p;
  for (int i = 0; i < 24; ++i) p.push_back(static_cast<unsigned char>(i == 23 ? 255 : i * 11));
  return p;
}
Bytes good_images() { return idx(0x803, {3, 2, 4}, pixels()); }
Bytes good_labels() { return idx(0x801, {3}, {2, 0, 1}); }

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
Bytes cut(Bytes a, size_t keep) {
  a.resize(keep);
  return a;
}

// In-memory gzip (deflate with a gzip wrapper).
Bytes gzip(const Bytes& data) {
  z_stream z{};
  if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw std::runtime_error("deflateInit2");
  Bytes out(deflateBound(&z, uLong(data.size())) + 64);
  z.next_in = const_cast<unsigned char*>(data.data());
  z.avail_in = uInt(data.size());
  z.next_out = out.data();
  z.avail_out = uInt(out.size());
  const int rc = deflate(&z, Z_FINISH);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate");
  out.resize(z.total_out);
  return out;
}

void write_raw(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// Through zlib's file interface, as gzip(1) would write it.
void write_gz(const fs::path& path, const Bytes& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "cspnet_dataset_XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

void expect_dataset(const ImageDataset& d) {
  ASSERT_EQ(d.images.shape(), (Shape{3, 1, 2, 4}));
  EXPECT_EQ(d.labels, (std::vector<int>{2, 0, 1}));
  EXPECT_EQ(d.classes, 3);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(d.size(), 3);
  const Bytes p = pixels();
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t w = 0; w < 4; ++w) {
        const unsigned char v = p[size_t((n * 2 + h) * 4 + w)];
        EXPECT_EQ(d.images.at(n, 0, h, w), float(v) / 255.0f) << n << "," << h << "," << w;
      }
  EXPECT_EQ(d.images.at(0, 0, 0, 0), 0.0f);
  EXPECT_EQ(d.images.at(2, 0, 1, 3), 1.0f);
}

}  // namespace

TEST(IdxDataset, RawFilesExactScalingAndLabels) {
  TempDir dir;
  write_raw(dir.path() / "images.idx", good_images());
  write_raw(dir.path() / "labels.idx", good_labels());
  expect_dataset(load_idx_dataset((dir.path() / "images.idx").string(), (dir.path() / "labels.idx").string(), 3));
}

TEST(IdxDataset, GzipFilesGiveTheSameData) {
  TempDir dir;
  write_gz(dir.path() / "images.idx.gz", good_images());
  write_gz(dir.path() / "labels.idx.gz", good_labels());
  write_raw(dir.path() / "labels.idx", good_labels());
  expect_dataset(
      load_idx_dataset((dir.path() / "images.idx.gz").string(), (dir.path() / "labels.idx.gz").string(), 3));
  // Mixed: gzip images, raw labels.
  expect_dataset(
      load_idx_dataset((dir.path() / "images.idx.gz").string(), (dir.path() / "labels.idx").string(), 3));
}

TEST(IdxDataset, LabelEqualToClassesMinusOneIsAccepted) {
  TempDir dir;
  write_raw(dir.path() / "images.idx", idx(0x803, {1, 1, 1}, {128}));
  write_raw(dir.path() / "labels.idx", idx(0x801, {1}, {255}));
  const auto d = load_idx_dataset((dir.path() / "images.idx").string(), (dir.path() / "labels.idx").string(), 256);
  EXPECT_EQ(d.labels, std::vector<int>{255});
  EXPECT_EQ(d.images.at(0, 0, 0, 0), 128.0f / 255.0f);
}

TEST(IdxDataset, BadClassCountMissingFileAndDirectory) {
  TempDir dir;
  write_raw(dir.path() / "images.idx", good_images());
  write_raw(dir.path() / "labels.idx", good_labels());
  const std::string images = (dir.path() / "images.idx").string(), labels = (dir.path() / "labels.idx").string();
  EXPECT_NE(error_of([&] { load_idx_dataset(images, labels, 0); }).find("labels.idx: classes = 0; expected 1..256"),
            std::string::npos);
  const std::string missing = error_of([&] { load_idx_dataset((dir.path() / "nope.idx").string(), labels, 3); });
  EXPECT_NE(missing.find("nope.idx: cannot open IDX file: No such file or directory"), std::string::npos) << missing;
  const std::string directory = error_of([&] { load_idx_dataset(dir.path().string(), labels, 3); });
  EXPECT_NE(directory.find(": is a directory, expected an IDX file"), std::string::npos) << directory;
  const std::string no_set = error_of([&] { load_fashion_mnist(dir.path().string(), true); });
  EXPECT_NE(no_set.find("Fashion-MNIST training images not found: expected train-images-idx3-ubyte.gz"),
            std::string::npos)
      << no_set;
  EXPECT_NE(no_set.find("apt-get install dataset-fashion-mnist"), std::string::npos) << no_set;
}

TEST(IdxDataset, FashionMnistLoaderAcceptsRawFilesAndNamesClasses) {
  TempDir dir;
  Bytes pix(2 * 28 * 28, 51);
  write_raw(dir.path() / "t10k-images-idx3-ubyte", idx(0x803, {2, 28, 28}, pix));
  write_gz(dir.path() / "t10k-labels-idx1-ubyte.gz", idx(0x801, {2}, {9, 0}));
  const auto d = load_fashion_mnist(dir.path().string(), false);
  EXPECT_EQ(d.images.shape(), (Shape{2, 1, 28, 28}));
  EXPECT_EQ(d.labels, (std::vector<int>{9, 0}));
  EXPECT_EQ(d.images.at(1, 0, 27, 27), 0.2f);
  ASSERT_EQ(d.class_names.size(), 10u);
  EXPECT_EQ(d.class_names[0], "T-shirt/top");
  EXPECT_EQ(d.class_names[9], "Ankle boot");
}

// ---- malformed files ----

namespace {

struct BadIdx {
  const char* name;
  Bytes images;  // file contents as written (already gzip-compressed where the name says .gz)
  Bytes labels;
  const char* images_name;
  const char* labels_name;
  int classes;
  std::vector<std::string> expect;  // substrings the error message must contain
};

void PrintTo(const BadIdx& c, std::ostream* os) { *os << c.name; }

Bytes corrupt_deflate(Bytes gz) {
  gz.at(10) = 0xFF;  // first deflate byte: final block of type 3 (reserved)
  return gz;
}

// clang-format off
const std::vector<BadIdx> kBadIdx = {
  {"WrongImagesMagic", idx(0x12345678, {3, 2, 4}, pixels()), good_labels(), "images.idx", "labels.idx", 3,
   {"images.idx: offset 0: magic 0x12345678 is not an unsigned-byte IDX magic; expected magic 0x00000803 (IDX image file: unsigned bytes, 3 dimensions: count, rows, columns)"}},
  {"LabelFileGivenAsImages", good_labels(), good_labels(), "images.idx", "labels.idx", 3,
   {"images.idx: offset 0: magic 0x00000801 declares 1 dimension(s); expected magic 0x00000803", "looks like an IDX label file"}},
  {"WrongImagesDimensionCount", idx(0x802, {3, 8}, pixels()), good_labels(), "images.idx", "labels.idx", 3,
   {"images.idx: offset 0: magic 0x00000802 declares 2 dimension(s); expected magic 0x00000803"}},
  {"WrongLabelsMagic", good_images(), idx(0x803, {3, 1, 1}, {0, 1, 2}), "images.idx", "labels.idx", 3,
   {"labels.idx: offset 0: magic 0x00000803 declares 3 dimension(s); expected magic 0x00000801 (IDX label file: unsigned bytes, 1 dimension: count)", "looks like an IDX image file"}},
  {"WrongLabelsDataType", good_images(), idx(0x0D01, {3}, {0, 1, 2}), "images.idx", "labels.idx", 3,
   {"labels.idx: offset 0: magic 0x00000D01 is not an unsigned-byte IDX magic; expected magic 0x00000801"}},
  {"TruncatedImagesRaw", cut(good_images(), 32), good_labels(), "images.idx", "labels.idx", 3,
   {"images.idx: truncated: header declares 3 images of 2x4, 40 bytes in all; expected 40 bytes, the file has 32"}},
  {"TruncatedImagesGzip", gzip(cut(good_images(), 33)), good_labels(), "images.idx.gz", "labels.idx", 3,
   {"images.idx.gz: truncated: expected 24 bytes of the pixels of 3 images of 2x4 at offset 16, but the data ends at offset 33; expected 40 decompressed bytes in all, got 33"}},
  {"TruncatedLabelsRaw", good_images(), cut(good_labels(), 10), "images.idx", "labels.idx", 3,
   {"labels.idx: truncated: header declares 3 labels, 11 bytes in all; expected 11 bytes, the file has 10"}},
  {"TruncatedLabelsGzip", good_images(), gzip(cut(good_labels(), 9)), "images.idx", "labels.idx.gz", 3,
   {"labels.idx.gz: truncated: expected 3 bytes of 3 labels at offset 8, but the data ends at offset 9; expected 11 decompressed bytes in all, got 9"}},
  {"TruncatedInsideHeader", cut(good_images(), 10), good_labels(), "images.idx", "labels.idx", 3,
   {"images.idx: truncated: the file ends inside the header at offset 10 (16 bytes expected: magic, count, rows, columns)"}},
  {"TooShortForMagic", Bytes{0, 0}, good_labels(), "images.idx", "labels.idx", 3,
   {"images.idx: 2 bytes is too short for an IDX header; expected magic 0x00000803"}},
  {"CountMismatch", good_images(), idx(0x801, {2}, {0, 1}), "images.idx", "labels.idx", 3,
   {"images.idx declares 3 images but ", "labels.idx declares 2 labels; expected equal counts"}},
  {"LabelOutOfRange", good_images(), idx(0x801, {3}, {2, 0, 7}), "images.idx", "labels.idx", 3,
   {"labels.idx: label 2 (offset 10) is 7; expected 0..2 (3 classes)"}},
  {"LabelOutOfRangeGzip", gzip(good_images()), gzip(idx(0x801, {3}, {3, 0, 1})), "images.idx.gz", "labels.idx.gz", 3,
   {"labels.idx.gz: label 0 (offset 8) is 3; expected 0..2 (3 classes)"}},
  {"CorruptGzipStream", corrupt_deflate(gzip(good_images())), good_labels(), "images.idx.gz", "labels.idx", 3,
   {"images.idx.gz: corrupt or truncated gzip stream after 0 decompressed bytes (zlib: invalid block type)"}},
  {"CutGzipStream", cut(gzip(good_images()), 20), good_labels(), "images.idx.gz", "labels.idx", 3,
   {"images.idx.gz: corrupt or truncated gzip stream after", "(zlib: unexpected end of file)"}},
  {"CorruptGzipChecksum", [] { Bytes g = gzip(good_images()); g[g.size() - 6] ^= 0x55; return g; }(), good_labels(),
   "images.idx.gz", "labels.idx", 3,
   {"images.idx.gz: corrupt or truncated gzip stream after ", "(zlib: incorrect data check)"}},
  {"EmptyImagesFile", Bytes{}, good_labels(), "images.idx", "labels.idx", 3,
   {"images.idx: empty file; expected magic 0x00000803 (IDX image file"}},
  {"EmptyLabelsFile", good_images(), Bytes{}, "images.idx", "labels.idx", 3,
   {"labels.idx: empty file; expected magic 0x00000801 (IDX label file"}},
  {"EmptyGzipFile", gzip(Bytes{}), good_labels(), "images.idx.gz", "labels.idx", 3,
   {"images.idx.gz: empty file; expected magic 0x00000803"}},
  {"Header2Pow31Images", idx(0x803, {0x80000000u, 28, 28}, {}), good_labels(), "images.idx", "labels.idx", 3,
   {"images.idx: offset 4: header declares 2147483648 images; expected 1..2147483647"}},
  {"HeaderMaxImagesRaw", idx(0x803, {0x7FFFFFFFu, 28, 28}, {}), good_labels(), "images.idx", "labels.idx", 3,
   {"images.idx: truncated: header declares 2147483647 images of 28x28, 1683627179264 bytes in all; expected 1683627179264 bytes, the file has 16"}},
  {"HeaderMaxImagesGzip", gzip(idx(0x803, {0x7FFFFFFFu, 28, 28}, pixels())), good_labels(), "images.idx.gz", "labels.idx", 3,
   {"images.idx.gz: header declares 2147483647 images of 28x28 (1683627179264 bytes decompressed), more than a ", "-byte gzip file can hold (deflate expands at most 1032:1): corrupt header"}},
  {"HeaderHugeLabelsGzip", good_images(), gzip(idx(0x801, {0x7FFFFFFFu}, {1, 2})), "images.idx", "labels.idx.gz", 3,
   {"labels.idx.gz: header declares 2147483647 labels (2147483655 bytes decompressed), more than a "}},
  {"ZeroImages", idx(0x803, {0, 2, 4}, {}), idx(0x801, {0}, {}), "images.idx", "labels.idx", 3,
   {"images.idx: offset 4: header declares 0 images; expected 1..2147483647"}},
  {"ZeroRows", idx(0x803, {3, 0, 4}, {}), good_labels(), "images.idx", "labels.idx", 3,
   {"images.idx: offset 8: header declares 0 rows; expected 1..65535"}},
  {"AbsurdColumns", idx(0x803, {1, 1, 100000}, {}), good_labels(), "images.idx", "labels.idx", 3,
   {"images.idx: offset 12: header declares 100000 columns; expected 1..65535"}},
  {"TrailingGarbageImagesRaw", concat(good_images(), {1, 2, 3, 4, 5}), good_labels(), "images.idx", "labels.idx", 3,
   {"images.idx: trailing data: 5 bytes after the 40 the header declares (3 images of 2x4); wrong header or garbage appended"}},
  {"TrailingGarbageImagesGzip", gzip(concat(good_images(), {9})), good_labels(), "images.idx.gz", "labels.idx", 3,
   {"images.idx.gz: trailing data: more than the 40 decompressed bytes the header declares (extra data from offset 40"}},
  {"TrailingGarbageLabelsRaw", good_images(), concat(good_labels(), {0}), "images.idx", "labels.idx", 3,
   {"labels.idx: trailing data: 1 bytes after the 11 the header declares (3 labels)"}},
  {"GzipInsideGzip", gzip(gzip(good_images())), good_labels(), "images.idx.gz", "labels.idx", 3,
   {"images.idx.gz: offset 0: magic 0x1F8B0800 is not an unsigned-byte IDX magic", "a gzip file inside a gzip file?"}},
  // IDX labels are bytes: a class count outside 1..256 is refused before any file is opened.
  {"ZeroClasses", good_images(), good_labels(), "images.idx", "labels.idx", 0,
   {"labels.idx: classes = 0; expected 1..256 (IDX labels are unsigned bytes)"}},
  {"MoreClassesThanAByteHolds", good_images(), good_labels(), "images.idx", "labels.idx", 257,
   {"labels.idx: classes = 257; expected 1..256 (IDX labels are unsigned bytes)"}},
};
// clang-format on

class MalformedIdx : public ::testing::TestWithParam<BadIdx> {};

}  // namespace

TEST_P(MalformedIdx, FailsWithFileNameAndExpectation) {
  const BadIdx& c = GetParam();
  TempDir dir;
  write_raw(dir.path() / c.images_name, c.images);
  write_raw(dir.path() / c.labels_name, c.labels);
  const std::string message = error_of([&] {
    load_idx_dataset((dir.path() / c.images_name).string(), (dir.path() / c.labels_name).string(), c.classes);
  });
  test::record_malformed_row("idx", c.name, message, dir.path().string());
  for (const auto& part : c.expect) EXPECT_NE(message.find(part), std::string::npos) << "expected: " << part
                                                                                     << "\n     got: " << message;
  // The full path of the file at fault leads the message.
  EXPECT_NE(message.find(dir.path().string() + "/"), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(Table, MalformedIdx, ::testing::ValuesIn(kBadIdx),
                         [](const auto& info) { return std::string(info.param.name); });

// docs/reliability.md promises at least 30 malformed inputs per reader.
TEST(MalformedIdxTable, HasEnoughCases) { EXPECT_GE(kBadIdx.size(), 30u); }

// ---- Debian's Fashion-MNIST ----

TEST(FashionMnist, RealDebianFiles) {
  if (!fs::exists(kFashionMnistDir))
    GTEST_SKIP() << kFashionMnistDir << " is absent (Debian package dataset-fashion-mnist not installed)";
  for (const bool train : {true, false}) {
    const auto start = std::chrono::steady_clock::now();
    const ImageDataset d = load_fashion_mnist(kFashionMnistDir, train);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const int64_t n = train ? 60000 : 10000;
    std::printf("[          ] Fashion-MNIST %s: %lld images in %.3f s\n", train ? "train" : "test", (long long)d.size(),
                seconds);
    ASSERT_EQ(d.images.shape(), (Shape{n, 1, 28, 28}));
    ASSERT_EQ(d.size(), n);
    EXPECT_EQ(d.classes, 10);
    EXPECT_EQ(d.class_names, fashion_mnist_class_names());
    std::vector<int64_t> per_class(10, 0);
    for (int label : d.labels) {
      ASSERT_GE(label, 0);
      ASSERT_LT(label, 10);
      ++per_class[size_t(label)];
    }
    for (int c = 0; c < 10; ++c) EXPECT_EQ(per_class[size_t(c)], n / 10) << "class " << c;
    const auto [lo, hi] = std::minmax_element(d.images.values().begin(), d.images.values().end());
    EXPECT_EQ(*lo, 0.0f);
    EXPECT_EQ(*hi, 1.0f);
  }
}
