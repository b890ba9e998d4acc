// The public headers name no kernel-library type: a program that includes
// every one of them, builds a zoo model and prints its counts compiles and
// links against libcspnet alone (oneDNN is a private dependency).
#include "cspnet/activation.hpp"
#include "cspnet/augment.hpp"
#include "cspnet/batch_loader.hpp"
#include "cspnet/blocks.hpp"
#include "cspnet/cfg.hpp"
#include "cspnet/checkpoint.hpp"
#include "cspnet/csp_stage.hpp"
#include "cspnet/cspnet.hpp"
#include "cspnet/data_source.hpp"
#include "cspnet/dataset.hpp"
#include "cspnet/detect.hpp"
#include "cspnet/error.hpp"
#include "cspnet/executor.hpp"
#include "cspnet/image.hpp"
#include "cspnet/layer.hpp"
#include "cspnet/layer_attrs.hpp"
#include "cspnet/lr_schedule.hpp"
#include "cspnet/model_builder.hpp"
#include "cspnet/network.hpp"
#include "cspnet/optimizer.hpp"
#include "cspnet/peak.hpp"
#include "cspnet/tensor.hpp"
#include "cspnet/trainer.hpp"
#include "cspnet/training.hpp"
#include "cspnet/training_log.hpp"
#include "cspnet/weights.hpp"
#include "cspnet/zoo.hpp"

#include <cstdio>

#if defined(ONEAPI_DNNL_DNNL_HPP) || defined(ONEAPI_DNNL_DNNL_H)
#error "a public cspnet header includes oneDNN"
#endif

int main() {
  try {
    const cspnet::ZooModel& model = cspnet::zoo_model("cspdarknet53");
    cspnet::Network net = model.build(model.input).build();
    std::printf("%s: %d layers, %lld parameters, %.3f BFLOPs\n", model.name.c_str(), net.size(),
                static_cast<long long>(net.parameter_count()), net.bflops());
    return 0;
  } catch (const cspnet::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
