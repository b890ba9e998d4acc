#include "layer_util.hpp"

namespace cspnet {

dnnl::memory::desc cropped_desc(const TensorView& view, int64_t h, int64_t w) {
  using dims = dnnl::memory::dims;
  return dnnl::memory::desc(dims{view.shape.n, view.shape.c, h, w}, dnnl::memory::data_type::f32,
                            dims{view.shape.n == 1 ? view.shape.c * view.plane() : view.image_stride,
                                 view.plane(), view.shape.w, 1});
}

void fill_uniform(std::vector<float>& values, float scale, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  for (auto& v : values) v = dist(rng);
}

}  // namespace cspnet
