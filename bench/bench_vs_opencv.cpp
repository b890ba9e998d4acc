// Times cspnet and OpenCV DNN on the same darknet cfg, the same weights (our
// deterministic random ones, written to a temporary file) and the same input,
// alternating runs in one process so both see the same machine state.
// Usage: cspnet_bench_opencv model.cfg [size] [runs] [threads]
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cspnet/cspnet.hpp"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s model.cfg [size] [runs] [threads]\n", argv[0]);
    return 2;
  }
  const std::string cfg = argv[1];
  cspnet::Network net = cspnet::Network::from_cfg_file(cfg);
  const int size = argc > 2 ? std::stoi(argv[2]) : net.config().width;
  const int runs = argc > 3 ? std::stoi(argv[3]) : 20;
  const int threads = argc > 4 ? std::stoi(argv[4]) : cspnet::num_threads();
  cspnet::set_num_threads(threads);
  cv::setNumThreads(threads);
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);

  net.reshape(size, size, 1);
  cspnet::init_weights(net, 1);
  const std::string weights = (std::filesystem::temp_directory_path() / "cspnet_bench_opencv.weights").string();
  cspnet::save_weights(net, weights);
  cspnet::Executor executor(net);
  cspnet::Tensor input(net.input_shape(), 0.5f);

  cv::dnn::Net opencv = cv::dnn::readNetFromDarknet(cfg, weights);
  std::filesystem::remove(weights);
  opencv.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  const auto& s = net.input_shape();
  cv::Mat blob({1, int(s.c), int(s.h), int(s.w)}, CV_32F, input.data());
  const auto outputs = opencv.getUnconnectedOutLayersNames();

  std::vector<double> ours, theirs;
  for (int r = 0; r < runs + 3; ++r) {  // 3 warm-up runs
    auto t0 = std::chrono::steady_clock::now();
    executor.forward(input);
    double a = elapsed_ms(t0);
    t0 = std::chrono::steady_clock::now();
    opencv.setInput(blob);
    std::vector<cv::Mat> out;
    opencv.forward(out, outputs);
    double b = elapsed_ms(t0);
    if (r >= 3) {
      ours.push_back(a);
      theirs.push_back(b);
    }
  }
  std::printf("%s %dx%d batch 1, %d threads, %d runs: cspnet %.1f ms (min %.1f), OpenCV %s %.1f ms (min %.1f), "
              "OpenCV/cspnet = %.2fx\n",
              net.name().c_str(), size, size, threads, runs, median(ours), *std::min_element(ours.begin(), ours.end()),
              CV_VERSION, median(theirs), *std::min_element(theirs.begin(), theirs.end()), median(theirs) / median(ours));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "cspnet_bench_opencv: %s\n", e.what());
  return 1;
}
