#include "cspnet/training.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cspnet/error.hpp"

namespace cspnet {

int logits_layer(const Network& net) {
  int last = net.size() - 1;
  while (last > 0 && net.layer(last).type() == "cost") --last;
  const Layer& layer = net.layer(last);
  if (layer.is_plain_softmax() && layer.inputs().at(0) >= 0) return layer.inputs()[0];
  return last;
}

struct TrainingExecutor::Impl {
  Network& net;
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  Tensor input;
  std::vector<Tensor> outputs;  // per layer
  std::vector<Tensor> grads;    // per layer: dL/d(output)
  std::vector<std::unique_ptr<TrainKernel>> kernels;
  int logits = 0;
  int64_t classes = 0;
  std::vector<float> probabilities;  // batch x classes, from the last loss

  explicit Impl(Network& network) : net(network) {}

  TrainTensor tensor(Tensor& t) { return TrainTensor{t.data(), t.shape()}; }
  TrainTensor tensor_of(int layer) { return layer < 0 ? tensor(input) : tensor(outputs[size_t(layer)]); }

  void compile() {
    input = Tensor(net.input_shape());
    for (int i = 0; i < net.size(); ++i) {
      outputs.emplace_back(net.layer(i).output_shape());
      grads.emplace_back(net.layer(i).output_shape());
    }
    logits = logits_layer(net);
    classes = net.layer(logits).output_shape().per_image();

    // Backward runs layers logits, logits-1, ..., 0 and each layer's slots in
    // order: the first writer of a tensor's gradient overwrites, later ones add.
    std::vector<std::vector<bool>> accumulate(size_t(net.size()));
    std::vector<bool> written(size_t(net.size()), false);
    written[size_t(logits)] = true;  // the loss writes it
    for (int i = logits; i >= 0; --i)
      for (int in : net.layer(i).inputs()) {
        bool add = in >= 0 && written[size_t(in)];
        accumulate[size_t(i)].push_back(add);
        if (in >= 0) written[size_t(in)] = true;
      }

    for (int i = 0; i < net.size(); ++i) {
      Layer& layer = net.layer(i);
      TrainCompileContext ctx{engine, {}, tensor(outputs[size_t(i)]), {}, {}, tensor(grads[size_t(i)])};
      const bool runs_backward = i <= logits;
      for (size_t slot = 0; slot < layer.inputs().size(); ++slot) {
        int in = layer.inputs()[slot];
        ctx.inputs.push_back(tensor_of(in));
        TrainTensor grad = tensor_of(in);
        if (in < 0 || !runs_backward) grad.data = nullptr;
        else grad.data = grads[size_t(in)].data();
        ctx.input_grads.push_back(grad);
        ctx.accumulate_input_grad.push_back(runs_backward ? bool(accumulate[size_t(i)][slot]) : false);
      }
      try {
        kernels.push_back(layer.compile_training(ctx));
      } catch (const dnnl::error& e) {
        throw Error(layer.where() + ": oneDNN cannot train this layer: " + e.what());
      }
    }
  }
};

TrainingExecutor::TrainingExecutor(Network& net) : impl_(std::make_unique<Impl>(net)) { impl_->compile(); }
TrainingExecutor::~TrainingExecutor() = default;

void TrainingExecutor::forward(const float* input, const StepContext& step) {
  Impl& s = *impl_;
  std::memcpy(s.input.data(), input, size_t(s.input.size()) * sizeof(float));
  for (auto& kernel : s.kernels) kernel->forward(s.stream, step);
  s.stream.wait();
}

const Tensor& TrainingExecutor::output() const { return impl_->outputs.back(); }

int TrainingExecutor::classes() const { return static_cast<int>(impl_->classes); }

LossResult TrainingExecutor::softmax_cross_entropy(std::span<const float> targets, std::span<const int> labels,
                                                   float grad_scale) {
  Impl& s = *impl_;
  const int64_t batch = s.net.input_shape().n, k = s.classes;
  if (int64_t(targets.size()) != batch * k || int64_t(labels.size()) != batch)
    throw Error("softmax_cross_entropy: expected " + std::to_string(batch) + " x " + std::to_string(k) +
                " targets and " + std::to_string(batch) + " labels, got " + std::to_string(targets.size()) + " and " +
                std::to_string(labels.size()));
  const float* z = s.outputs[size_t(s.logits)].data();
  float* dz = s.grads[size_t(s.logits)].data();
  s.probabilities.resize(size_t(batch * k));
  double loss = 0;
  int64_t correct = 0;
  for (int64_t n = 0; n < batch; ++n) {
    const float* row = z + n * k;
    const float* t = targets.data() + n * k;
    float* p = s.probabilities.data() + n * k;
    const float largest = *std::max_element(row, row + k);
    double sum = 0;
    for (int64_t j = 0; j < k; ++j) sum += std::exp(double(row[j]) - largest);
    const double log_sum = std::log(sum) + largest;  // log sum exp(z)
    for (int64_t j = 0; j < k; ++j) {
      const double log_p = double(row[j]) - log_sum;
      p[j] = float(std::exp(log_p));
      if (t[j] != 0) loss -= double(t[j]) * log_p;
      dz[n * k + j] = (p[j] - t[j]) * grad_scale;
    }
    if (std::max_element(p, p + k) - p == labels[size_t(n)]) ++correct;
  }
  return LossResult{loss / double(batch), correct};
}

void TrainingExecutor::backward() {
  Impl& s = *impl_;
  for (int i = s.logits; i >= 0; --i) s.kernels[size_t(i)]->backward(s.stream);
  s.stream.wait();
}

void TrainingExecutor::zero_gradients() {
  for (int i = 0; i < impl_->net.size(); ++i)
    for (const TrainableParam& p : impl_->net.layer(i).trainable_params()) std::fill(p.grads->begin(), p.grads->end(), 0.f);
}

int64_t TrainingExecutor::memory_bytes() const {
  int64_t floats = impl_->input.size();
  for (size_t i = 0; i < impl_->outputs.size(); ++i) floats += impl_->outputs[i].size() + impl_->grads[i].size();
  return floats * int64_t(sizeof(float));
}

}  // namespace cspnet
