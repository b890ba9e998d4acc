// OpenCV DNN as a benchmark peer for `cspnet bench --compare opencv`. Built
// into the CLI only when OpenCV is installed (never into the library).
#include <algorithm>
#include <chrono>
#include <vector>

#include "bench.hpp"
#include "cspnet/error.hpp"

#ifdef CSPNET_WITH_OPENCV
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>
#endif

namespace cspnet::cli {

#ifdef CSPNET_WITH_OPENCV
bool opencv_peer_available() { return true; }

double time_opencv_ms(const std::string& cfg, const std::string& weights, const Tensor& input, int runs, int warmup) {
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
  cv::setNumThreads(num_threads());
  cv::dnn::Net net = cv::dnn::readNetFromDarknet(cfg, weights);
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  const Shape& s = input.shape();
  cv::Mat blob({int(s.n), int(s.c), int(s.h), int(s.w)}, CV_32F, const_cast<float*>(input.data()));
  const auto outputs = net.getUnconnectedOutLayersNames();
  std::vector<double> times;
  for (int r = 0; r < warmup + runs; ++r) {
    auto start = std::chrono::steady_clock::now();
    net.setInput(blob);
    std::vector<cv::Mat> out;
    net.forward(out, outputs);
    if (r >= warmup)
      times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}
#else
bool opencv_peer_available() { return false; }

double time_opencv_ms(const std::string&, const std::string&, const Tensor&, int, int) {
  throw Error("--compare opencv: this cspnet was built without OpenCV (install libopencv-dev and rebuild)");
}
#endif

}  // namespace cspnet::cli
