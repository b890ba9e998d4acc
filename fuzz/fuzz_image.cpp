// libFuzzer target: the image decoding path every reader of image files
// takes (load_image_rgb: libjpeg-turbo for JPEG, stb for PNG and BMP, behind
// our header size check), then what the data sources do with the result (resize,
// letterbox, channel adaptation: load_image_file), and the header-only
// read detection sources use for image sizes. A cspnet::Error is the
// expected outcome for bad input; any other exception, a sanitizer report or
// a crash is a bug.
//
// Inputs whose header declares more than kMaxFuzzPixels are skipped: the
// library accepts up to 2^28 pixels (3 GiB of floats), which a fuzzer can
// neither afford per input nor needs to reach the decoders' branches.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cspnet/data_source.hpp"
#include "cspnet/error.hpp"
#include "cspnet/image.hpp"
#include "fuzz_util.hpp"
#include "io/image_header.hpp"

#include <cstdio>  // before jpeglib.h
#include <cstdlib>
#include <jpeglib.h>  // seeds only

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>  // seeds only
#pragma GCC diagnostic pop

namespace {

constexpr int64_t kMaxFuzzPixels = int64_t{1} << 18;

void append(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
}

// A JPEG written by libjpeg in `stored` colour space (from `input`), so
// that the seeds reach the CMYK/YCCK, grey and progressive decoding paths,
// which stb's writer cannot produce.
std::string libjpeg_seed(int w, int h, J_COLOR_SPACE input, int components, J_COLOR_SPACE stored, bool progressive) {
  std::vector<unsigned char> pixels(size_t(w * h * components));
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<unsigned char>(i * 53 % 241);
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr errors{};
  cinfo.err = jpeg_std_error(&errors);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = JDIMENSION(w);
  cinfo.image_height = JDIMENSION(h);
  cinfo.input_components = components;
  cinfo.in_color_space = input;
  jpeg_set_defaults(&cinfo);
  jpeg_set_colorspace(&cinfo, stored);
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = &pixels[size_t(cinfo.next_scanline) * size_t(w * components)];
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::string file(reinterpret_cast<const char*>(buffer), size);
  std::free(buffer);
  return file;
}

// Seeds from stb's writers, libjpeg and the library's own save_png: each
// format, grey, RGB, RGBA and CMYK, odd sizes.
void write_seeds(const std::string& dir) {
  const int w = 7, h = 5;
  for (int comp : {1, 3, 4}) {
    std::vector<unsigned char> pixels(size_t(w * h * comp));
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<unsigned char>(i * 37 % 251);
    const std::string suffix = std::to_string(comp) + "c";
    std::string png, bmp, jpg, jpg_low;
    stbi_write_png_to_func(append, &png, w, h, comp, pixels.data(), w * comp);
    stbi_write_bmp_to_func(append, &bmp, w, h, comp, pixels.data());
    stbi_write_jpg_to_func(append, &jpg, w, h, comp, pixels.data(), 90);
    stbi_write_jpg_to_func(append, &jpg_low, w, h, comp, pixels.data(), 10);
    fuzz::write_seed(dir, "stb-" + suffix + ".png", png);
    fuzz::write_seed(dir, "stb-" + suffix + ".bmp", bmp);
    fuzz::write_seed(dir, "stb-" + suffix + "-q90.jpg", jpg);
    fuzz::write_seed(dir, "stb-" + suffix + "-q10.jpg", jpg_low);
  }
  fuzz::write_seed(dir, "libjpeg-progressive.jpg", libjpeg_seed(w, h, JCS_RGB, 3, JCS_YCbCr, true));
  fuzz::write_seed(dir, "libjpeg-rgb.jpg", libjpeg_seed(w, h, JCS_RGB, 3, JCS_RGB, false));
  fuzz::write_seed(dir, "libjpeg-grey-progressive.jpg", libjpeg_seed(w, h, JCS_GRAYSCALE, 1, JCS_GRAYSCALE, true));
  fuzz::write_seed(dir, "libjpeg-cmyk.jpg", libjpeg_seed(w, h, JCS_CMYK, 4, JCS_CMYK, false));
  fuzz::write_seed(dir, "libjpeg-ycck.jpg", libjpeg_seed(w, h, JCS_CMYK, 4, JCS_YCCK, false));
  cspnet::Tensor image(cspnet::Shape{1, 3, 4, 9});
  for (int64_t i = 0; i < image.shape().count(); ++i) image.data()[i] = float(i % 11) / 10.f;
  cspnet::save_png(dir + "/save_png.png", image);
}

// Decoded pixels are exactly k/255; interpolated ones may round past the
// ends by an ulp or so.
void check_unit_range(const cspnet::Tensor& t, float slack = 0.f) {
  for (int64_t i = 0; i < t.shape().count(); ++i)
    if (!(t.data()[i] >= -slack && t.data()[i] <= 1.f + slack)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const std::string dir = fuzz::seed_dir(); !dir.empty()) write_seeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemoryFile file("fuzz.image");
  const std::string& path = file.write(fuzz::as_text(data, size));
  try {
    const auto [w, h] = cspnet::read_image_size(path);  // the header, through the library's checks
    if (int64_t{w} * h > kMaxFuzzPixels) return 0;
    const cspnet::Tensor image = cspnet::load_image_rgb(path);
    const cspnet::Shape& s = image.shape();
    if (s.n != 1 || s.c != 3 || s.h < 1 || s.w < 1) __builtin_trap();
    check_unit_range(image);
    check_unit_range(cspnet::letterbox_image(image, 9, 4), 1e-5f);
    check_unit_range(cspnet::match_channels(cspnet::resize_image(image, 3, 6), 1), 1e-5f);
    std::vector<float> chw(3 * 5 * 6);
    cspnet::load_image_file(path, 3, 5, 6, chw.data());  // the data sources' path
  } catch (const cspnet::Error&) {
    // bad input, reported
  }
  return 0;
}
