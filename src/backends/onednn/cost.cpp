// [cost]: no inference kernel (a view); training passes values and
// gradients through.
#include "backends/onednn/kernel_util.hpp"
#include "backends/onednn/train_util.hpp"

namespace cspnet {
namespace {

class CostKernels final : public LayerKernels {
 public:
  // A view at inference: nothing runs.
  std::unique_ptr<Kernel> compile(const Layer&, const CompileContext&) const override { return nullptr; }

  std::unique_ptr<TrainKernel> compile_training(Layer&, const TrainCompileContext& ctx) const override {
    const TrainTensor in = ctx.inputs[0], out = ctx.output, dy = ctx.output_grad, dx = ctx.input_grads[0];
    const bool accumulate = ctx.accumulate_input_grad[0];
    return make_train_kernel(
        [in, out](dnnl::stream&, const StepContext&) { store_gradient(out.data, in.data, out.count(), false); },
        [dy, dx, accumulate](dnnl::stream&) {
          if (dx.data) store_gradient(dx.data, dy.data, dx.count(), accumulate);
        });
  }

};

}  // namespace

const LayerKernels& cost_kernels() {
  static const CostKernels kernels;
  return kernels;
}

}  // namespace cspnet
