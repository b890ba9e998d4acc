// A program using the installed library: a zoo model (or a cfg and its
// weights) classifies an image; prints the five best classes.
//   top5 ZOO_NAME|CFG [WEIGHTS] IMAGE
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include <cspnet/cspnet.hpp>

int main(int argc, char** argv) try {
  if (argc < 3) return std::fprintf(stderr, "usage: top5 ZOO_NAME|CFG [WEIGHTS] IMAGE\n"), 2;
  const std::string model = argv[1], image_path = argv[argc - 1];
  cspnet::Network net = std::filesystem::exists(model) ? cspnet::Network::from_cfg_file(model)
                                                       : cspnet::zoo_network(model);
  if (argc > 3) cspnet::load_weights(net, argv[2]);
  else cspnet::init_weights(net, 1);  // no weights: deterministic random ones
  const cspnet::Shape in = net.input_shape();
  cspnet::Tensor input = cspnet::match_channels(
      cspnet::resize_image(cspnet::load_image_rgb(image_path), int(in.w), int(in.h)), int(in.c));
  cspnet::Executor executor(net);
  const cspnet::Tensor scores = executor.forward(input).back();
  std::vector<int> order(size_t(scores.size()));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + std::min<long>(5, long(order.size())), order.end(),
                    [&](int a, int b) { return scores.data()[a] > scores.data()[b]; });
  std::printf("%s (cspnet %s): top-5 of %zu classes\n", model.c_str(), cspnet::version(), order.size());
  for (size_t i = 0; i < std::min<size_t>(5, order.size()); ++i)
    std::printf("  class %4d  %.4f\n", order[i], scores.data()[order[i]]);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "top5: %s\n", e.what());
  return 1;
}
