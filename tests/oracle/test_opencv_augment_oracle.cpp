// Detection augmentation against OpenCV, which darknet's training path
// (image_data_augmentation) uses: the crop with mean-colour fill, cv::resize
// INTER_LINEAR and cv::flip, then cvtColor to HSV and back, done here with
// OpenCV in float exactly as darknet's steps describe.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "cspnet/detection_augment.hpp"

namespace {

using cspnet::DetectionDraws;
using cspnet::Tensor;

Tensor random_image(int width, int height, uint32_t seed) {
  Tensor image(cspnet::Shape{1, 3, height, width});
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  for (float& v : image.values()) v = uniform(rng);
  return image;
}

cv::Mat to_mat(const Tensor& image) {
  const int h = int(image.shape().h), w = int(image.shape().w);
  cv::Mat mat(h, w, CV_32FC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < 3; ++k) mat.at<cv::Vec3f>(y, x)[k] = image.at(0, k, y, x);
  return mat;
}

// darknet's image_data_augmentation geometry, written with OpenCV.
cv::Mat opencv_crop_resize_flip(const cv::Mat& image, const DetectionDraws& d, int net_w, int net_h) {
  const cv::Rect crop(d.left, d.top, image.cols - d.left - d.right, image.rows - d.top - d.bottom);
  const cv::Rect inside = crop & cv::Rect(0, 0, image.cols, image.rows);
  cv::Mat cropped(crop.size(), image.type(), cv::mean(image));
  if (inside.area() > 0)
    image(inside).copyTo(cropped(cv::Rect(inside.x - crop.x, inside.y - crop.y, inside.width, inside.height)));
  cv::Mat sized;
  cv::resize(cropped, sized, cv::Size(net_w, net_h), 0, 0, cv::INTER_LINEAR);
  if (d.flip) cv::flip(sized, sized, 1);
  return sized;
}

float worst_difference(const Tensor& ours, const cv::Mat& theirs) {
  float worst = 0.f;
  for (int y = 0; y < theirs.rows; ++y)
    for (int x = 0; x < theirs.cols; ++x)
      for (int k = 0; k < 3; ++k)
        worst = std::max(worst, std::fabs(ours.at(0, k, y, x) - theirs.at<cv::Vec3f>(y, x)[k]));
  return worst;
}

TEST(DetectionAugmentOracle, CropResizeFlipMatchesOpenCv) {
  const Tensor image = random_image(53, 37, 1);
  const cv::Mat mat = to_mat(image);
  // Crops inside, past every edge, shrinking and enlarging; both flips.
  const DetectionDraws cases[] = {
      {0, 0, 0, 0, false},     {5, 7, 3, 2, false},     {-9, -4, -6, -8, true}, {12, -10, -5, 9, false},
      {-20, 15, 10, -12, true}, {20, 20, 14, 14, false}, {-2, 3, 0, -1, true},
  };
  const std::pair<int, int> sizes[] = {{64, 48}, {32, 32}, {17, 23}, {106, 74}};
  for (const DetectionDraws& d : cases)
    for (const auto& [w, h] : sizes) {
      const Tensor ours = cspnet::crop_resize_flip(image, d, w, h);
      const float worst = worst_difference(ours, opencv_crop_resize_flip(mat, d, w, h));
      // float rounding only (OpenCV rounds its weights differently); a wrong
      // tap or fill would be off by about 0.1.
      EXPECT_LT(worst, 1e-5f) << "crop " << d.left << "," << d.right << "," << d.top << "," << d.bottom << " flip "
                              << d.flip << " to " << w << "x" << h;
    }
}

// darknet on 8-bit images: H (0..180) + 179 * dhue, S * dsat and V * dexp
// each saturating at their maximum. In float OpenCV H runs 0..360.
cv::Mat opencv_hsv(const cv::Mat& rgb, float dhue, float dsat, float dexp) {
  cv::Mat hsv;
  cv::cvtColor(rgb, hsv, cv::COLOR_RGB2HSV);
  for (int y = 0; y < hsv.rows; ++y)
    for (int x = 0; x < hsv.cols; ++x) {
      cv::Vec3f& p = hsv.at<cv::Vec3f>(y, x);
      p[0] = std::fmod(p[0] + 360.f * (179.f * dhue / 180.f) + 720.f, 360.f);
      p[1] = std::min(p[1] * dsat, 1.f);
      p[2] = std::min(p[2] * dexp, 1.f);
    }
  cv::Mat out;
  cv::cvtColor(hsv, out, cv::COLOR_HSV2RGB);
  return out;
}

TEST(DetectionAugmentOracle, HsvMatchesOpenCv) {
  const Tensor image = random_image(31, 19, 2);
  const cv::Mat mat = to_mat(image);
  const float cases[][3] = {{0.1f, 1.5f, 1.5f}, {-0.1f, 1.f / 1.5f, 1.f / 1.5f}, {0.45f, 1.f, 2.f}, {-0.3f, 3.f, 0.5f}};
  for (const auto& c : cases) {
    Tensor ours = image;
    cspnet::distort_hsv(ours, c[0], c[1], c[2]);
    EXPECT_LT(worst_difference(ours, opencv_hsv(mat, c[0], c[1], c[2])), 1e-4f)
        << "hue " << c[0] << " saturation " << c[1] << " exposure " << c[2];
  }
}

}  // namespace
