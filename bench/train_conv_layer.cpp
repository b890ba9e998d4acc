// Forward + backward time of one [convolutional] training kernel (3x3,
// 64 -> 64 channels, 32x32, batch 64, batch norm + leaky by default) and its
// GFLOP/s, counting backward as twice the forward's FLOPs.
// Usage: cspnet_bench_train_conv [channels] [size] [batch] [repeats]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "backends/onednn/kernel.hpp"  // the kernels under test
#include "cspnet/cspnet.hpp"

int main(int argc, char** argv) {
  const int channels = argc > 1 ? std::atoi(argv[1]) : 64;
  const int size = argc > 2 ? std::atoi(argv[2]) : 32;
  const int batch = argc > 3 ? std::atoi(argv[3]) : 64;
  const int repeats = argc > 4 ? std::atoi(argv[4]) : 20;
  const std::string cfg = "[net]\nwidth=" + std::to_string(size) + "\nheight=" + std::to_string(size) +
                          "\nchannels=" + std::to_string(channels) +
                          "\n[convolutional]\nbatch_normalize=1\nfilters=" + std::to_string(channels) +
                          "\nsize=3\nstride=1\npad=1\nactivation=leaky\n";
  cspnet::Network net = cspnet::Network::from_cfg(cspnet::parse_cfg_text(cfg, "bench.cfg"));
  net.reshape(size, size, batch);
  cspnet::init_weights(net, 1);
  cspnet::Layer& layer = net.layer(0);
  const cspnet::Shape in = net.input_shape(), out = layer.output_shape();
  std::vector<float> input(size_t(in.count())), input_grad(input.size()), output(size_t(out.count())),
      output_grad(output.size());
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (float& v : input) v = dist(rng);
  for (float& v : output_grad) v = dist(rng);
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  auto kernel = cspnet::compile_training_kernel(layer, 
      {engine, {{input.data(), in}}, {output.data(), out}, {{input_grad.data(), in}}, {false}, {output_grad.data(), out}});
  auto step = [&] {
    kernel->forward(stream, {true, 1});
    kernel->backward(stream);
    stream.wait();
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up
  double best = 1e30, total = 0;
  for (int i = 0; i < repeats; ++i) {
    auto start = std::chrono::steady_clock::now();
    step();
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    best = std::min(best, ms);
    total += ms;
  }
  const double flops = 3 * 2.0 * double(channels) * channels * 9 * double(out.h) * out.w * batch;
  std::printf("conv 3x3 %d->%d %dx%d batch %d BN+leaky, %d threads: forward+backward best %.2f ms (mean %.2f ms), %.1f GFLOP/s\n",
              channels, channels, size, size, batch, cspnet::num_threads(), best, total / repeats, flops / best / 1e6);
}
